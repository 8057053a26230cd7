//! Triggers (DESIGN §10): inbound requests that become sessions. `verify` checks an inbound request's
//! signature; `template` renders prompts; `config` is a stored trigger as the hook needs it; `secrets`
//! names and seals its write-only values.

pub mod config;
pub mod definition;
pub mod secrets;
pub mod template;
pub mod verify;
