//! Triggers (DESIGN §10): inbound requests that become sessions, and the answers that go back.
//!
//! - `verify`: the signature checks of an inbound request, over the raw body, before anything is parsed;
//!   `signature_fields`: the same for a multipart body that carries its signature as parts (Mailgun).
//! - `inbound`: a verified body normalised into the template context, its attachments and its thread.
//! - `template`: prompts and conversation keys rendered, sandboxed.
//! - `intake`: the hook's pure decisions (answers per provider, dedupe id, signed URL); `keys`: the
//!   conversation key candidates; `debounce`: a burst's prompt and files, and the task that flushes them.
//! - `definition`, `secrets`: a PUT checked, its write-only values named and sealed; `config`: a stored
//!   trigger as the hook needs it; `put`, `replay`: the shared paths of a PUT and of a replay (the JSON API
//!   and the UI).
//! - `reply`: an answer composed for its channel and sent; `replier`: the worker that sends each owed
//!   answer once its session succeeded, with retries; `sign`: `verify`'s mirror, for
//!   `agentctl triggers test`.

pub mod config;
pub mod debounce;
pub mod definition;
pub mod inbound;
pub mod intake;
pub mod keys;
pub mod put;
pub mod replay;
pub mod replier;
pub mod reply;
pub mod secrets;
pub mod sign;
pub mod signature_fields;
pub mod template;
pub mod verify;
