//! An agent version's npm packages pinned: the specs of `packages.npm` resolved into a `package-lock.json`
//! by npm itself (`npm install --package-lock-only`), once, when the version is made.
//!
//! Every run of one version then installs the same tree (`npm ci` in the runtime). A PUT whose specs are the
//! current version's keeps its lockfile instead of resolving again: an unchanged body stays the same version,
//! even when the registry has published newer versions since.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use protocol::validate::{self, RequestError};
use protocol::{Agent, Packages};

/// How long one npm resolution may take before the PUT is refused.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(120);

pub use protocol::NpmRegistry;

/// Gives `definition` the lockfile of its `packages.npm`: the current version's when its specs are the same,
/// else one npm resolves now. A definition without packages is left as it is.
pub async fn pin(
    registry: &NpmRegistry,
    definition: &mut Agent,
    current: Option<&Agent>,
) -> Result<(), RequestError> {
    let Some(packages) = definition.packages.as_mut() else {
        return Ok(());
    };
    if let Some(lockfile) = reusable(&packages.npm, current) {
        packages.lockfile = Some(lockfile.to_owned());
        return Ok(());
    }
    packages.lockfile = Some(resolve(registry, &packages.npm).await?);
    Ok(())
}

/// The current version's lockfile, when it was pinned for exactly these specs.
pub fn reusable<'a>(npm: &[String], current: Option<&'a Agent>) -> Option<&'a str> {
    current
        .and_then(|c| c.packages.as_ref())
        .filter(|p| p.npm == npm)
        .and_then(|p| p.lockfile.as_deref())
}

/// A body's `packages` as stored: none for an empty list, and never the caller's lockfile (it is pinned here).
pub fn normalise(packages: Option<Packages>) -> Option<Packages> {
    packages.filter(|p| !p.is_empty()).map(|p| Packages {
        npm: p.npm,
        lockfile: None,
    })
}

/// Runs `npm install --package-lock-only` for `specs` in a directory of its own and answers the lockfile.
async fn resolve(registry: &NpmRegistry, specs: &[String]) -> Result<String, RequestError> {
    let manifest = validate::npm_manifest(specs)?;
    let dir = TempDir::create().map_err(|e| internal(format!("create a directory for npm: {e}")))?;
    let work = dir.path().join("pkg");
    let home = dir.path().join("home");
    for d in [&work, &home] {
        std::fs::create_dir(d).map_err(|e| internal(format!("create a directory for npm: {e}")))?;
    }
    std::fs::write(work.join("package.json"), manifest)
        .map_err(|e| internal(format!("write package.json for npm: {e}")))?;
    let started = Instant::now();
    let mut command = tokio::process::Command::new("npm");
    command
        .args([
            "install",
            "--package-lock-only",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ])
        .current_dir(&work)
        // Nothing of the control plane's own environment (its database URL, its keys) reaches npm.
        .env_clear()
        // The registry in the environment, not on argv: it may carry credentials, and every user can read
        // a process's command line.
        .env("npm_config_registry", registry.expose())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("npm_config_cache", home.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| internal(format!("run npm to pin packages.npm: {e}")))?;
    let output = match tokio::time::timeout(RESOLVE_TIMEOUT, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| internal(format!("run npm to pin packages.npm: {e}")))?,
        Err(_) => {
            return Err(RequestError::new(
                "packages.npm",
                format!(
                    "npm did not resolve the packages within {}s (registry {})",
                    RESOLVE_TIMEOUT.as_secs(),
                    registry.redacted()
                ),
            ));
        }
    };
    let elapsed_ms = started.elapsed().as_millis();
    if !output.status.success() {
        let error = validate::npm_error(
            &String::from_utf8_lossy(&output.stderr),
            registry.expose(),
            registry.redacted(),
        );
        tracing::info!(registry = %registry.redacted(), elapsed_ms, error = %error, "npm could not pin packages.npm");
        return Err(RequestError::new(
            "packages.npm",
            format!("npm could not resolve the packages: {error}"),
        ));
    }
    let lockfile = std::fs::read_to_string(work.join("package-lock.json"))
        .map_err(|e| internal(format!("read the lockfile npm wrote: {e}")))?;
    tracing::info!(registry = %registry.redacted(), elapsed_ms, packages = specs.len(), "packages.npm pinned");
    Ok(lockfile)
}

/// A refusal that is not the caller's: said without npm's details.
fn internal(message: String) -> RequestError {
    tracing::error!(error = %message, "pin packages.npm");
    RequestError::new("packages.npm", "the control plane could not run npm: see its log")
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "agentctl-npm-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_lockfile_is_kept_only_for_the_same_specs() {
        let current: Agent = serde_json::from_value(serde_json::json!({
            "packages": {"npm": ["is-number@7.0.0"], "lockfile": "{}"}
        }))
        .unwrap();
        assert_eq!(reusable(&["is-number@7.0.0".into()], Some(&current)), Some("{}"));
        assert_eq!(reusable(&["is-number@7.0.1".into()], Some(&current)), None);
        assert_eq!(reusable(&["is-number@7.0.0".into()], None), None);
    }
}
