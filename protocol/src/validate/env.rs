//! Environment variable names and values a caller may give an agent.

use super::{RequestError, invalid};

/// Names a caller may not set: each would let it take over the runner process or break the supervisor's
/// guarantees (a private `HOME`), rather than merely configure the agent.
const REFUSED: &[&str] = &[
    "HOME",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REPL_EXTERNAL_MODULE",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "GCONV_PATH",
    "HOSTALIASES",
    "RESOLV_HOST_CONF",
    "LOCALDOMAIN",
    "MALLOC_CONF",
    // Code the interpreters in the image load at start-up, and the TLS trust of the runner's node.
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
];
/// Longest name accepted: far above any real variable, far below what would bloat every agent's environment.
pub const MAX_ENV_NAME_LEN: usize = 256;
/// Prefixes of refused names: the dynamic loader's and glibc's tunables.
const REFUSED_PREFIXES: &[&str] = &["LD_", "DYLD_", "GLIBC_TUNABLES"];

/// Checks an environment variable name: `[A-Za-z_][A-Za-z0-9_]*` and not one of the refused names.
pub fn check_env_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_ENV_NAME_LEN {
        return Err(format!(
            "a name of {} characters is longer than {MAX_ENV_NAME_LEN}",
            name.len()
        ));
    }
    let mut bytes = name.bytes();
    let valid = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!(
            "invalid name {name:?}: must match [A-Za-z_][A-Za-z0-9_]*"
        ));
    }
    if REFUSED.contains(&name) || REFUSED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Err(format!(
            "{name} may not be set: it would let the caller take over the agent process"
        ));
    }
    Ok(())
}

/// Checks a value: it reaches `execve`, where a NUL byte would cut it.
pub fn check_env_value(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("the value of {name} contains a NUL byte"));
    }
    Ok(())
}

/// Checks every name and value of `env`; a mistake is named `<field>.<NAME>` (`env.LD_PRELOAD`).
pub fn check_env<'a>(
    field: &str,
    env: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), RequestError> {
    for (name, value) in env {
        check_env_name(name).map_err(|m| invalid(format!("{field}.{name}"), m))?;
        check_env_value(name, value).map_err(|m| invalid(format!("{field}.{name}"), m))?;
    }
    Ok(())
}
