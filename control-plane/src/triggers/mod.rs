//! Triggers (DESIGN §10): inbound requests that become sessions. So far only `verify`, the check of an
//! inbound request's signature; routes, storage and parsing come later (issue 12).

pub mod inbound;
pub mod verify;
