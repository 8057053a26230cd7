//! One `npm ci` of a pinned lockfile, as the unprivileged `--run-as` user, through the one reaper.
//!
//! It runs in `<root>/.tmp-<hash>/pkg` with a private `HOME` and npm cache beside it (`.tmp-<hash>/home`),
//! both the npm user's; nothing of the supervisor's environment reaches it. Once npm exits 0 the directory is
//! taken back (`tree::seal`) and renamed into place; on any failure it is removed.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt;

use super::{INSTALL_TIMEOUT, NpmCache, tree};
use crate::process::{ExitStatus, Reaper, RunAs, SpawnSpec, signal_group, signal_name};

/// npm's `PATH`: where the image has npm and node (the agents' base `PATH`, without a dependency on it).
const NPM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Most bytes of npm's output kept, per stream.
const MAX_OUTPUT: usize = 256 * 1024;

/// Why a job's packages could not be installed: what the session's `error` says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    #[error("packages.lockfile is missing: a runtime installs only a pinned tree")]
    NoLockfile,
    #[error("{0}")]
    Invalid(String),
    #[error("npm ci failed ({status}): {error}")]
    Npm { status: String, error: String },
    #[error("npm ci did not finish within {}s", INSTALL_TIMEOUT.as_secs())]
    TimedOut,
    #[error("npm ci could not be started: {0}")]
    Spawn(io::Error),
    #[error("prepare the npm install in {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Installs `lockfile` (with its `manifest`) as `<root>/<hash>`, holding `held` (the lockfile's install lock)
/// until the tree is sealed and in place.
pub(super) async fn install(
    cache: &NpmCache,
    reaper: &Reaper,
    hash: &str,
    manifest: &str,
    lockfile: &str,
    held: tokio::sync::OwnedMutexGuard<()>,
) -> Result<(), InstallError> {
    let tmp = cache.root.join(format!(".tmp-{hash}"));
    let paths = Paths {
        pkg: tmp.join("pkg"),
        home: tmp.join("home"),
        tmp,
    };
    // Kept here until the tree is handed to the task that moves it into place, so a failed install is
    // cleaned up before the next one may start.
    let mut held = Some(held);
    let result = run(cache, reaper, &paths, hash, manifest, lockfile, &mut held).await;
    if result.is_err() {
        let tmp = paths.tmp.clone();
        let _ = tokio::task::spawn_blocking(move || remove(&tmp)).await;
    }
    drop(held);
    result
}

struct Paths {
    tmp: PathBuf,
    pkg: PathBuf,
    home: PathBuf,
}

async fn run(
    cache: &NpmCache,
    reaper: &Reaper,
    paths: &Paths,
    hash: &str,
    manifest: &str,
    lockfile: &str,
    held: &mut Option<tokio::sync::OwnedMutexGuard<()>>,
) -> Result<(), InstallError> {
    let (root, tmp, pkg, home) = (
        cache.root.clone(),
        paths.tmp.clone(),
        paths.pkg.clone(),
        paths.home.clone(),
    );
    let (manifest, lockfile, run_as) = (manifest.to_owned(), lockfile.to_owned(), cache.run_as);
    tokio::task::spawn_blocking(move || prepare(&root, &tmp, &pkg, &home, &manifest, &lockfile, run_as))
        .await
        .expect("preparing an install does not panic")?;

    let spec = SpawnSpec {
        program: PathBuf::from("npm"),
        args: [
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--no-update-notifier",
        ]
        .map(str::to_owned)
        .to_vec(),
        // The registry goes in the environment, not on argv: it may carry credentials, and every user
        // can read a process's command line (`/proc/<pid>/cmdline`), its environment only its own uid.
        env: vec![
            ("npm_config_registry".into(), cache.registry.expose().to_owned()),
            ("HOME".into(), paths.home.to_string_lossy().into_owned()),
            ("LANG".into(), "C.UTF-8".into()),
            ("PATH".into(), NPM_PATH.into()),
            (
                "npm_config_cache".into(),
                paths.home.join(".npm").to_string_lossy().into_owned(),
            ),
        ],
        cwd: paths.pkg.clone(),
        run_as: cache.run_as,
    };
    let reaper_for_spawn = reaper.clone();
    let spawned = tokio::task::spawn_blocking(move || spec.spawn(&reaper_for_spawn))
        .await
        .expect("spawn does not panic")
        .map_err(InstallError::Spawn)?;
    // npm and whatever it started: killed if this future is dropped (the session was cancelled) or at the end.
    let group = KillGroup(spawned.pid);
    drop(spawned.stdin);
    let stdout = tokio::spawn(read_all(spawned.stdout));
    let stderr = tokio::spawn(read_all(spawned.stderr));
    let mut exit = spawned.exit;
    let status = match tokio::time::timeout(INSTALL_TIMEOUT, &mut exit).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = signal_group(group.0, Signal::SIGKILL);
            let _ = exit.await;
            return Err(InstallError::TimedOut);
        }
    };
    drop(group);
    let stderr = stderr.await.unwrap_or_default();
    let stdout = stdout.await.unwrap_or_default();
    match status {
        Some(ExitStatus::Exited(0)) => {}
        other => {
            let status = match other {
                Some(ExitStatus::Exited(code)) => format!("exit code {code}"),
                Some(ExitStatus::Signaled { signal, .. }) => signal_name(signal),
                None => "no exit status".to_owned(),
            };
            let text = if stderr.trim().is_empty() {
                &stdout
            } else {
                &stderr
            };
            let registry = &cache.registry;
            let error = protocol::validate::npm_error(text, registry.expose(), registry.redacted());
            return Err(InstallError::Npm { status, error });
        }
    }
    let (root, tmp, pkg, home, hash) = (
        cache.root.clone(),
        paths.tmp.clone(),
        paths.pkg.clone(),
        paths.home.clone(),
        hash.to_owned(),
    );
    let held = held.take();
    tokio::task::spawn_blocking(move || {
        // Held until the tree is in place, even when the session that started it is gone.
        let _held = held;
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| InstallError::Io { path, source }
        };
        tree::seal(&tmp, &pkg).map_err(io(&pkg))?;
        remove(&home);
        let target = root.join(&hash);
        fs::rename(&pkg, &target).map_err(io(&target))?;
        remove(&tmp);
        Ok(())
    })
    .await
    .expect("moving an install into place does not panic")
}

/// A fresh `<tmp>` (whatever an interrupted install left is removed first) with the manifest and lockfile
/// in `pkg`, and `pkg` and `home` given to the npm user.
fn prepare(
    root: &Path,
    tmp: &Path,
    pkg: &Path,
    home: &Path,
    manifest: &str,
    lockfile: &str,
    run_as: Option<RunAs>,
) -> Result<(), InstallError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| InstallError::Io { path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(root)
        .map_err(io(root))?;
    remove(tmp);
    fs::DirBuilder::new().mode(0o755).create(tmp).map_err(io(tmp))?;
    for dir in [pkg, home] {
        fs::DirBuilder::new().mode(0o700).create(dir).map_err(io(dir))?;
    }
    let files = [
        (pkg.join("package.json"), manifest),
        (pkg.join("package-lock.json"), lockfile),
    ];
    for (path, content) in &files {
        fs::write(path, content).map_err(io(path))?;
    }
    if let Some(user) = run_as {
        let owner = (Some(user.uid.as_raw()), Some(user.gid.as_raw()));
        for path in [pkg, home, &files[0].0, &files[1].0] {
            std::os::unix::fs::lchown(path, owner.0, owner.1).map_err(io(path))?;
        }
    }
    Ok(())
}

fn remove(path: &Path) {
    match fs::remove_dir_all(path) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!(path = %path.display(), error = %err, "remove an npm install directory"),
    }
}

/// Reads a pipe to its end, keeping the first [`MAX_OUTPUT`] bytes.
async fn read_all(fd: OwnedFd) -> String {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Kills npm's process group when dropped: nothing of an install outlives it.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = signal_group(self.0, Signal::SIGKILL);
    }
}
