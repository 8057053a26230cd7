//! Triggers (DESIGN §10): inbound requests that become sessions. So far only `verify`, the check of an
//! inbound request's signature; routes, storage and parsing come later (issue 12).

pub mod debounce;
pub mod inbound;
pub mod intake;
pub mod keys;
pub mod verify;
