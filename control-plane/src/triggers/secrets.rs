//! A trigger's write-only values at rest: its `verify.secrets` (by index) and `reply.credentials` (by
//! name), sealed with the server's secrets key under the owner `trigger:<id>`, so a value copied from an
//! agent's row, or from another trigger's, does not open.

/// The owner a trigger's values are sealed for (an agent id never holds `:`, so never collides).
pub fn owner(trigger_id: &str) -> String {
    format!("trigger:{trigger_id}")
}

/// The stored name of `verify.secrets[index]`.
pub fn verify_secret(index: usize) -> String {
    format!("{VERIFY_PREFIX}{index}")
}

/// The stored name of `reply.credentials.<name>`.
pub fn credential(name: &str) -> String {
    format!("{CREDENTIAL_PREFIX}{name}")
}

pub const VERIFY_PREFIX: &str = "verify.secrets.";
pub const CREDENTIAL_PREFIX: &str = "reply.credentials.";
