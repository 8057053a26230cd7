//! `--npm-registry`: the registry `npm ci` fetches from; it may carry credentials, never shown.

/// An http(s) registry URL.
#[derive(Clone)]
pub(crate) struct NpmRegistry {
    url: String,
    redacted: String,
}

impl NpmRegistry {
    pub(crate) const DEFAULT: &str = "https://registry.npmjs.org/";

    /// Parses the flag's value.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".to_owned());
        }
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        Ok(Self {
            url: url.to_string(),
            redacted: shown.to_string(),
        })
    }

    /// The URL as npm is given it.
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// The URL without its userinfo: what logs and events may show.
    pub(crate) fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl std::fmt::Debug for NpmRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NpmRegistry").field(&self.redacted).finish()
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
        assert!(NpmRegistry::parse("file:///x").is_err());
        assert!(NpmRegistry::parse("registry").is_err());
    }
}
