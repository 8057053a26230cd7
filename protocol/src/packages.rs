//! Packages an agent needs installed before it starts (issue 15; ARCHITECTURE.md "Changes to DESIGN").

use serde::{Deserialize, Serialize};

/// `packages` of an agent definition and of a job.
///
/// In an agent definition's body only `npm` counts: `lockfile` is read-only there (accepted, so what `GET`
/// answered can be put back, and ignored); the control plane pins it from `npm` when it makes the version
/// and answers it. In a job (`POST /execute` and a claimed session) the lockfile is required whenever `npm`
/// is not empty: a runtime installs exactly that tree (`npm ci`), it never resolves one itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Packages {
    /// npm package specs: `name`, `name@version`, `name@range` or `name@tag`; scoped names too.
    #[serde(default)]
    pub npm: Vec<String>,
    /// The `package-lock.json` that `npm install --package-lock-only` wrote for `npm`, as text.
    #[serde(default)]
    pub lockfile: Option<String>,
}

impl Packages {
    /// Whether there is nothing to install.
    pub fn is_empty(&self) -> bool {
        self.npm.is_empty()
    }
}
