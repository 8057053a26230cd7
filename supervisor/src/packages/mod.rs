//! Packages a job needs before its agent starts (issue 15): npm packages installed with `npm ci` from the
//! lockfile the control plane pinned, into a cache shared by every session of that lockfile.
//!
//! Layout: `<workspace>/packages/npm/<sha256 of the lockfile>/node_modules`, root-owned (the supervisor's
//! user), directories 0755 and files 0644 (0755 where npm made them executable), so agents, which run as
//! other uids, can read and run it and change nothing. Not under `--state-dir`: that is 0700, and agents
//! must reach the tree.
//!
//! - `protocol::NpmRegistry`: `--npm-registry`, shown without its credentials.
//! - `install`: one `npm ci` run, as the unprivileged `--run-as` user, through the one reaper.
//! - `tree`: an installed tree made the supervisor's and read-only for everyone else.
//! - `env`: what an agent's environment gains: `NODE_PATH` and the tree's `.bin` first on `PATH`.
//!
//! One install per lockfile at a time: sessions of the same version wait for the one install and share its
//! tree. The tree appears by one `rename` once complete, so a tree that is there is whole; a failed install
//! leaves nothing, and the next session tries again.

mod env;
mod install;
mod tree;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::Packages;
use sha2::{Digest, Sha256};

pub(crate) use env::agent_env;
pub(crate) use install::InstallError;
pub(crate) use protocol::NpmRegistry;

use crate::process::{Reaper, RunAs};

/// How long one `npm ci` may run before it is killed and the session fails.
pub(crate) const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// The npm cache of this supervisor.
#[derive(Debug)]
pub(crate) struct NpmCache {
    root: PathBuf,
    registry: NpmRegistry,
    /// Who runs npm: the `--run-as` user when the supervisor is root, else the supervisor's own user.
    run_as: Option<RunAs>,
    /// One lock per lockfile hash, held across its install.
    installs: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// An installed tree, ready for an agent.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// `<root>/<hash>/node_modules`.
    pub(crate) node_modules: PathBuf,
    pub(crate) lockfile_sha256: String,
    /// Whether the tree was there already (no npm run).
    pub(crate) cached: bool,
    /// How long this session waited for it (its install, or another session's, or nothing).
    pub(crate) elapsed: Duration,
}

impl NpmCache {
    pub(crate) fn new(workspace: &Path, registry: NpmRegistry, run_as: Option<RunAs>) -> Self {
        Self {
            root: workspace.join("packages").join("npm"),
            registry,
            run_as,
            installs: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn registry(&self) -> &NpmRegistry {
        &self.registry
    }

    /// The tree of `packages`' lockfile: the cached one, or installed now.
    pub(crate) async fn ensure(
        &self,
        reaper: &Reaper,
        packages: &Packages,
    ) -> Result<Installed, InstallError> {
        let started = Instant::now();
        let lockfile = packages.lockfile.as_deref().ok_or(InstallError::NoLockfile)?;
        let hash = sha256_hex(lockfile.as_bytes());
        let lock = self
            .installs
            .lock()
            .expect("the install locks are never poisoned")
            .entry(hash.clone())
            .or_default()
            .clone();
        // Owned: the install hands it to the task that seals and renames the tree, so a session cancelled
        // meanwhile cannot let the next install start in the directory being renamed into the cache.
        let held = lock.lock_owned().await;
        let dir = self.root.join(&hash);
        let node_modules = dir.join("node_modules");
        let cached = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir());
        if !cached {
            let manifest = protocol::validate::npm_manifest(&packages.npm)
                .map_err(|e| InstallError::Invalid(e.to_string()))?;
            install::install(self, reaper, &hash, &manifest, lockfile, held).await?;
        }
        Ok(Installed {
            node_modules,
            lockfile_sha256: hash,
            cached,
            elapsed: started.elapsed(),
        })
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
