//! Everything decided once before serving: logging, the API token, the runner, the agents' user.
//!
//! The config layer: it reads `Config` and produces values; it names no state and no behaviour.

use std::fs;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::unistd::{Uid, User};

use crate::config::{Config, LogFormat};
use crate::process::RunAs;
use crate::secret::{Secret, SecretName};

/// The agent command, resolved once at startup.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// As configured, for `session.started`.
    pub(crate) display: String,
}

pub(crate) fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Colour codes only for a person at a terminal, and never when `NO_COLOR` is set to anything
/// (no-color.org): a log file or a pipe into a collector gets plain text.
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The API token: `--token-file`, else `SUPERVISOR_TOKEN`, else generated and written to
/// `<state-dir>/token` (mode 0600). `None` with `--no-auth`.
pub(crate) fn token(config: &Config) -> anyhow::Result<Option<Secret>> {
    if config.no_auth {
        tracing::warn!("authentication is OFF (--no-auth): anyone who reaches the port can run agents");
        return Ok(None);
    }
    if let Some(path) = &config.token_file {
        let value =
            fs::read_to_string(path).with_context(|| format!("read token file {}", path.display()))?;
        let value = value.trim().to_owned();
        if value.is_empty() {
            bail!("token file {} is empty", path.display());
        }
        return Ok(Some(Secret::new(SecretName::SupervisorToken, value)));
    }
    if let Some(value) = config.token.as_ref().filter(|t| !t.trim().is_empty()) {
        return Ok(Some(Secret::new(SecretName::SupervisorToken, value.trim())));
    }
    let path = config.state_dir.join("token");
    let value = crate::random::hex(32);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("write generated token to {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    tracing::info!(token = %value, path = %path.display(), "generated API token (shown once; also in the file)");
    Ok(Some(Secret::new(SecretName::SupervisorToken, value)))
}

/// Splits `--runner` like a shell and resolves the program on `PATH` now, so that a request's `PATH`
/// cannot choose which binary runs.
pub(crate) fn runner(spec: &str) -> anyhow::Result<Runner> {
    let words = shlex::split(spec).with_context(|| format!("--runner {spec:?}: unbalanced quotes"))?;
    let Some((program, args)) = words.split_first() else {
        bail!("--runner is empty")
    };
    let program = if program.contains('/') {
        PathBuf::from(program)
    } else {
        match find_on_path(program) {
            Some(path) => path,
            None => {
                // Not fatal: the supervisor stays up and each session reports the spawn error.
                tracing::warn!(program = %program, "runner program not found on PATH");
                PathBuf::from(program)
            }
        }
    };
    Ok(Runner {
        program,
        args: args.to_vec(),
        display: spec.to_owned(),
    })
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The user agents run as. Root runs them as `--run-as` (never as root); anyone else runs them as itself.
pub(crate) fn run_as(name: &str) -> anyhow::Result<Option<RunAs>> {
    if !Uid::effective().is_root() {
        tracing::info!("not running as root: agents run as the supervisor's own user");
        return Ok(None);
    }
    let user = User::from_name(name)
        .with_context(|| format!("look up --run-as user {name:?}"))?
        .with_context(|| format!("--run-as user {name:?} does not exist"))?;
    if user.uid.is_root() {
        bail!("--run-as {name:?} is root: agents never run as root");
    }
    Ok(Some(RunAs {
        uid: user.uid,
        gid: user.gid,
    }))
}

pub(crate) fn runtime_id(config: &Config) -> String {
    config.runtime_id.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "runtime".to_owned())
    })
}

/// Creates the state directory (0700) and the workspace.
pub(crate) fn prepare_dirs(config: &Config) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(config.state_dir.join("sessions"))
        .with_context(|| format!("create state dir {}", config.state_dir.display()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&config.workspace)
        .with_context(|| format!("create workspace {}", config.workspace.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::use_colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(use_colour(true, None));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None), "a file or a pipe gets plain text");
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}
