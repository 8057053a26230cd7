//! The agent's environment, built from scratch: a small base, `--agent-env` defaults, then the request's.

use std::collections::BTreeMap;
use std::path::Path;

/// The placeholder key agents see in credential-proxy mode: the CLI wants one, the proxy replaces it
/// with the real key, which never enters an agent's environment.
pub(crate) const PLACEHOLDER_KEY: &str = "sk-ant-held-by-the-agent-supervisor";

/// The base `PATH` of every agent.
pub(crate) const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The checks of names and values live in `protocol::validate`, shared with the control plane's agents.
pub(crate) use protocol::validate::check_env_name as check_name;

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
