//! Triggers (DESIGN §10): inbound requests that become sessions, and the answers that go back.
//!
//! - `verify`: the signature checks of an inbound request, over the raw body, before anything is parsed.
//! - `inbound`: a verified body normalised into the template context, its attachments and its thread.
//! - `reply`: an answer composed for its channel and sent; `sign`: `verify`'s mirror, for
//!   `agentctl triggers test`.

pub mod inbound;
pub mod reply;
pub mod sign;
pub mod verify;
