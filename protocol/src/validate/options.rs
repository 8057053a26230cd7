//! The prompt, the SDK options, the timeout and a `storage` destination.

use crate::AgentOptions;

use super::{RequestError, invalid};

/// Permission modes the SDK knows; anything else would only fail later, inside the agent.
pub const PERMISSION_MODES: &[&str] = &[
    "default",
    "acceptEdits",
    "bypassPermissions",
    "plan",
    "dontAsk",
    "auto",
];
pub const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

pub fn check_prompt(prompt: &str) -> Result<(), RequestError> {
    if prompt.trim().is_empty() {
        return Err(invalid("prompt", "must not be empty"));
    }
    Ok(())
}

/// Checks `timeoutSeconds` (1 to [`MAX_TIMEOUT_SECONDS`]); `None` stays `None` (the caller's default).
pub fn check_timeout(seconds: Option<u64>) -> Result<Option<u64>, RequestError> {
    match seconds {
        Some(0) => Err(invalid("timeoutSeconds", "must be at least 1")),
        Some(s) if s > MAX_TIMEOUT_SECONDS => Err(invalid(
            "timeoutSeconds",
            format!("must be at most {MAX_TIMEOUT_SECONDS}"),
        )),
        other => Ok(other),
    }
}

/// Checks the SDK options; a mistake is named `<prefix><field>` (`options.maxTurns` in `POST /execute`,
/// `maxTurns` in an agent definition, where the options are top-level fields).
pub fn check_options(options: &AgentOptions, prefix: &str) -> Result<(), RequestError> {
    let field = |name: &str| format!("{prefix}{name}");
    if options.max_turns == Some(0) {
        return Err(invalid(field("maxTurns"), "must be at least 1"));
    }
    if let Some(budget) = options.max_budget_usd
        && !(budget.is_finite() && budget > 0.0)
    {
        return Err(invalid(field("maxBudgetUsd"), "must be a positive number"));
    }
    if let Some(mode) = &options.permission_mode
        && !PERMISSION_MODES.contains(&mode.as_str())
    {
        return Err(invalid(
            field("permissionMode"),
            format!(
                "unknown mode {mode:?}: expected one of {}",
                PERMISSION_MODES.join(", ")
            ),
        ));
    }
    if options.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        return Err(invalid(field("model"), "must not be empty"));
    }
    for (name, server) in options.mcp_servers.iter().flatten() {
        if !server.is_object() {
            return Err(invalid(field(&format!("mcpServers.{name}")), "must be an object"));
        }
    }
    Ok(())
}

/// The storage URL is logged and the key goes into a header: a URL that carries credentials, or a key that
/// would break the header (and be retried forever), is refused here.
pub fn check_storage(api_url: &str, api_key: Option<&str>) -> Result<(), RequestError> {
    let Some(rest) = api_url
        .strip_prefix("http://")
        .or_else(|| api_url.strip_prefix("https://"))
    else {
        return Err(invalid("storage.apiUrl", "is not an http(s) URL".to_owned()));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid(
            "storage.apiUrl",
            "must not hold credentials (user:password@): give the key as storage.apiKey",
        ));
    }
    if api_url.chars().any(char::is_control) {
        return Err(invalid("storage.apiUrl", "must not contain control characters"));
    }
    if api_key.is_some_and(|key| key.chars().any(char::is_control)) {
        return Err(invalid(
            "storage.apiKey",
            "must not contain control characters (CR, LF, …)",
        ));
    }
    Ok(())
}
