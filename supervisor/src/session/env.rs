//! The agent's environment, built from scratch: a small base, `--agent-env` defaults, then the request's.

use std::collections::BTreeMap;
use std::path::Path;

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
const MAX_NAME_LEN: usize = 256;
/// Prefixes of refused names: the dynamic loader's and glibc's tunables.
const REFUSED_PREFIXES: &[&str] = &["LD_", "DYLD_", "GLIBC_TUNABLES"];

/// The placeholder key agents see in credential-proxy mode: the CLI wants one, the proxy replaces it
/// with the real key, which never enters an agent's environment.
pub(crate) const PLACEHOLDER_KEY: &str = "sk-ant-held-by-the-agent-supervisor";

/// The base `PATH` of every agent.
pub(crate) const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Checks an environment variable name: `[A-Za-z_][A-Za-z0-9_]*` and not one of the refused names.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a name of {} characters is longer than {MAX_NAME_LEN}",
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
pub(crate) fn check_value(name: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!("the value of {name} contains a NUL byte"));
    }
    Ok(())
}

/// The complete environment of one agent; later layers override earlier ones.
pub(crate) fn build(
    home: &Path,
    defaults: &[(String, String)],
    request: &BTreeMap<String, String>,
    anthropic_proxy: Option<&str>,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PATH".into(), BASE_PATH.into());
    env.insert("LANG".into(), "C.UTF-8".into());
    for (key, value) in defaults.iter().map(|(k, v)| (k, v)).chain(request) {
        env.insert(key.clone(), value.clone());
    }
    // Last, so no layer can move them: the private home and, in credential-proxy mode, an API endpoint
    // whose key the agent never holds are guarantees, not defaults.
    env.insert("HOME".into(), home.to_string_lossy().into_owned());
    if let Some(proxy) = anthropic_proxy {
        env.insert("ANTHROPIC_BASE_URL".into(), proxy.to_owned());
        env.insert("ANTHROPIC_API_KEY".into(), PLACEHOLDER_KEY.into());
        env.remove("ANTHROPIC_AUTH_TOKEN");
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("ANTHROPIC_API_KEY").is_ok());
        assert!(check_name("_x1").is_ok());
        assert!(check_name("1X").unwrap_err().contains("must match"));
        assert!(check_name("A-B").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("LD_PRELOAD").unwrap_err().contains("take over"));
        assert!(check_name("NODE_OPTIONS").is_err());
        assert!(check_name("HOME").is_err());
        for name in [
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PYTHONHOME",
            "PERL5OPT",
            "PERL5LIB",
            "NODE_EXTRA_CA_CERTS",
            "NODE_TLS_REJECT_UNAUTHORIZED",
        ] {
            assert!(check_name(name).unwrap_err().contains("take over"), "{name}");
        }
        assert!(check_name(&"A".repeat(5000)).unwrap_err().contains("longer than"));
        assert!(check_name(&"A".repeat(256)).is_ok());
    }

    #[test]
    fn request_overrides_defaults_but_not_home() {
        let defaults = vec![
            ("A".to_owned(), "default".to_owned()),
            ("B".to_owned(), "b".to_owned()),
        ];
        let request = BTreeMap::from([("A".to_owned(), "request".to_owned())]);
        let env: BTreeMap<_, _> = build(Path::new("/h"), &defaults, &request, None)
            .into_iter()
            .collect();
        assert_eq!(env["A"], "request");
        assert_eq!(env["B"], "b");
        assert_eq!(env["HOME"], "/h");
        assert_eq!(env["PATH"], BASE_PATH);
    }

    #[test]
    fn proxy_mode_replaces_the_key_whatever_the_request_says() {
        let request = BTreeMap::from([("ANTHROPIC_API_KEY".to_owned(), "sk-from-request".to_owned())]);
        let env: BTreeMap<_, _> = build(Path::new("/h"), &[], &request, Some("http://127.0.0.1:9"))
            .into_iter()
            .collect();
        assert_eq!(env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9");
        assert_eq!(env["ANTHROPIC_API_KEY"], PLACEHOLDER_KEY);
    }
}
