//! Secret values of the supervisor's own, in a wrapper that never prints its value.
//!
//! The value layer: this module imports nothing of the crate. A `Secret` is read with `expose()` only where
//! the value is sent (a header, the proxy's upstream request) or matched (redaction, the token check).

/// Which secret a value is: the label redaction writes (`[redacted:NAME]`) and logs may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SecretName {
    /// The bearer token of this supervisor's API.
    SupervisorToken,
    /// The configured control plane's credential.
    InternalApiKey,
    /// The Anthropic key the credential proxy holds.
    AnthropicApiKey,
    /// A request's `storage.apiKey`.
    StorageApiKey,
}

impl SecretName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SupervisorToken => "SUPERVISOR_TOKEN",
            Self::InternalApiKey => "INTERNAL_API_KEY",
            Self::AnthropicApiKey => "ANTHROPIC_API_KEY",
            Self::StorageApiKey => "STORAGE_API_KEY",
        }
    }
}

/// A named secret value. `Debug` shows the name only; the value is reached through `expose`.
#[derive(Clone)]
pub(crate) struct Secret {
    name: SecretName,
    value: String,
}

impl Secret {
    pub(crate) fn new(name: SecretName, value: impl Into<String>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }

    pub(crate) fn name(&self) -> SecretName {
        self.name
    }

    /// The value itself: for the one place that sends or compares it, never for a log line.
    pub(crate) fn expose(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({}, [hidden])", self.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_its_name_but_never_its_value() {
        let secret = Secret::new(SecretName::InternalApiKey, "key-0123456789");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("key-0123456789"), "{printed}");
        assert!(printed.contains("INTERNAL_API_KEY"), "{printed}");
        assert_eq!(secret.expose(), "key-0123456789");
    }
}
