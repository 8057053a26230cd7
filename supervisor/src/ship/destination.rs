//! Where a session's events go: a base URL and the credential it takes.

use crate::secret::{Secret, SecretName};

/// A receiver of events: the configured control plane, or a request's `storage`.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    url: String,
    key: Option<Secret>,
}

// Equal by URL and key value, whatever the key is called: a request's `storage` naming the configured
// control plane with its key shares its shipper (one heartbeat, one request in flight) as before.
impl PartialEq for Destination {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url
            && self.key.as_ref().map(Secret::expose) == other.key.as_ref().map(Secret::expose)
    }
}

impl Eq for Destination {}

impl std::hash::Hash for Destination {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.url.hash(state);
        self.key.as_ref().map(Secret::expose).hash(state);
    }
}

impl Destination {
    /// The configured control plane (`--control-plane-url`, `--internal-api-key`), decided once at start-up.
    pub(crate) fn control_plane(url: Option<&str>, key: Option<&str>) -> Option<Self> {
        url.map(|url| Self {
            url: url.to_owned(),
            key: key.map(|k| Secret::new(SecretName::InternalApiKey, k)),
        })
    }

    /// A request's `storage`.
    pub(crate) fn storage(url: &str, key: Option<&str>) -> Self {
        Self {
            url: url.to_owned(),
            key: key.map(|k| Secret::new(SecretName::StorageApiKey, k)),
        }
    }

    /// `<url>/<path>` for a path like `api/internal/v1/events`.
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.url.trim_end_matches('/'))
    }

    pub(crate) fn key(&self) -> Option<&Secret> {
        self.key.as_ref()
    }

    /// The URL as logs may show it: without user and password, should it carry any.
    pub(crate) fn display(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string()
            }
            Ok(_) => self.url.clone(),
            Err(_) => "[an invalid URL]".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_naming_the_control_plane_is_the_same_destination() {
        let configured = Destination::control_plane(Some("http://cp:8080"), Some("key-0123456789"));
        assert_eq!(
            configured,
            Some(Destination::storage("http://cp:8080", Some("key-0123456789")))
        );
        assert_ne!(
            configured,
            Some(Destination::storage("http://cp:8080", Some("another-key-0123")))
        );
    }

    #[test]
    fn a_destination_shows_no_credentials() {
        let dest = Destination::storage("https://me:hunter2-pass@cp.example/x", Some("sk-storage-key"));
        assert_eq!(dest.display(), "https://cp.example/x");
        assert!(!format!("{dest:?}").contains("sk-storage-key"));
        assert_eq!(
            dest.endpoint("api/internal/v1/events"),
            "https://me:hunter2-pass@cp.example/x/api/internal/v1/events"
        );
    }
}
