//! Triggers (DESIGN §10): inbound requests that become sessions. `verify` checks an inbound request's
//! signature; `template` renders prompts; `config` is a stored trigger as the hook needs it; `secrets`
//! names and seals its write-only values.

pub mod config;
pub mod debounce;
pub mod definition;
pub mod inbound;
pub mod intake;
pub mod keys;
pub mod secrets;
pub mod template;
pub mod verify;
