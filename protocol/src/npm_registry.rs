//! `--npm-registry` of `agentctl serve` and of the supervisor (issue 15): the registry npm resolves and
//! installs from. It may carry credentials (`https://user:token@host/`), which only npm is ever given.

use std::sync::Arc;

/// An http(s) registry URL; `Debug` and [`NpmRegistry::redacted`] show it without its userinfo. Shared, so
/// the flags structs that hold it stay small.
#[derive(Clone)]
pub struct NpmRegistry(Arc<Urls>);

struct Urls {
    url: String,
    redacted: String,
}

impl NpmRegistry {
    pub const DEFAULT: &str = "https://registry.npmjs.org/";

    /// Parses the flag's value: an http or https URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".to_owned());
        }
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(Self(Arc::new(Urls {
            url: url.to_string(),
            redacted: shown.to_string(),
        })))
    }

    /// The URL as npm is given it.
    pub fn expose(&self) -> &str {
        &self.0.url
    }

    /// The URL without its userinfo: what logs, events and answers may show.
    pub fn redacted(&self) -> &str {
        &self.0.redacted
    }
}

impl Default for NpmRegistry {
    fn default() -> Self {
        Self::parse(Self::DEFAULT).expect("the default registry is a URL")
    }
}

impl std::fmt::Debug for NpmRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NpmRegistry").field(&self.0.redacted).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_of_the_registry_are_never_shown() {
        let r = NpmRegistry::parse("https://me:t0ken@npm.example/repo/").unwrap();
        assert_eq!(r.redacted(), "https://npm.example/repo/");
        assert_eq!(format!("{r:?}"), "NpmRegistry(\"https://npm.example/repo/\")");
        assert_eq!(r.expose(), "https://me:t0ken@npm.example/repo/");
        assert_eq!(NpmRegistry::default().expose(), NpmRegistry::DEFAULT);
        for bad in ["file:///x", "ftp://npm.example/", "registry"] {
            assert!(NpmRegistry::parse(bad).is_err(), "{bad}");
        }
    }
}
