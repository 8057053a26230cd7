//! Everything decided once before serving: logging, the API token, the runner, the agents' user.
//!
//! The config layer: it reads `Config` and produces values; it names no state and no behaviour.

use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::unistd::{Uid, User};

use crate::config::{Config, LogFormat};
use crate::process::{RunAs, UidPool, UidRange, range_problem};
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
    if let Some(value) = existing_token(&path)? {
        tracing::info!(path = %path.display(), "using the API token kept in the state dir");
        return Ok(Some(Secret::new(SecretName::SupervisorToken, value)));
    }
    let value = crate::random::hex(32);
    write_private(&path, value.as_bytes())
        .with_context(|| format!("write generated token to {}", path.display()))?;
    tracing::info!(token = %value, path = %path.display(), "generated API token (shown once; also in the file)");
    Ok(Some(Secret::new(SecretName::SupervisorToken, value)))
}

/// A secret from its environment variable (`env_value`, as clap read it) or from `file` (`file_flag`), never
/// both. A file loses one trailing newline; an empty one is refused, and one that other users can read is
/// warned about (it is used: refusing it would only move the secret somewhere worse).
pub(crate) fn secret(
    name: SecretName,
    env_value: Option<&str>,
    file: Option<&Path>,
    file_flag: &str,
) -> anyhow::Result<Option<Secret>> {
    let Some(path) = file else {
        return Ok(env_value.filter(|v| !v.is_empty()).map(|v| Secret::new(name, v)));
    };
    if env_value.is_some() {
        return Err(Refused(format!(
            "{} and {file_flag} are both set: give the secret one way",
            name.as_str()
        ))
        .into());
    }
    let file = fs::File::open(path).with_context(|| format!("open {file_flag} {}", path.display()))?;
    let mode = file.metadata()?.mode();
    if mode & 0o044 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o7777), "{file_flag}: the file can be read by other users: chmod 600 it");
    }
    let mut value = String::new();
    std::io::Read::take(&file, 64 << 10)
        .read_to_string(&mut value)
        .with_context(|| format!("read {file_flag} {}", path.display()))?;
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value);
    if value.is_empty() {
        return Err(Refused(format!("{file_flag} {} is empty", path.display())).into());
    }
    Ok(Some(Secret::new(name, value)))
}

/// The token a previous start generated, when `path` is still a valid token file: a regular file (not a
/// symlink) of our own, readable by nobody else, holding a token. Anything else is replaced.
fn existing_token(path: &Path) -> anyhow::Result<Option<String>> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "token file is not a plain file; replacing it");
            return Ok(None);
        }
    };
    let meta = file.metadata()?;
    if !(meta.is_file() && meta.uid() == Uid::effective().as_raw() && meta.mode() & 0o077 == 0) {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.mode() & 0o7777), "token file is not a private file of ours; replacing it");
        return Ok(None);
    }
    let mut value = String::new();
    std::io::Read::take(&file, 4096)
        .read_to_string(&mut value)
        .with_context(|| format!("read token file {}", path.display()))?;
    let value = value.trim();
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// Writes `content` to `path` (mode 0600) through a temp file created `O_EXCL|O_NOFOLLOW` and renamed over
/// it: whatever was at `path` (a symlink included) is replaced, never written through.
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = path.with_file_name(format!(".{name}.{}", crate::random::hex(8)));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&temp)?;
    let written = file
        .write_all(content)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Splits `--runner` like a shell and resolves the program on `PATH` now, so that a request's `PATH`
/// cannot choose which binary runs. A program that is not there (or not executable) refuses start.
pub(crate) fn runner(spec: &str) -> anyhow::Result<Runner> {
    let words = shlex::split(spec).with_context(|| format!("--runner {spec:?}: unbalanced quotes"))?;
    let Some((program, args)) = words.split_first() else {
        bail!("--runner is empty")
    };
    // A runner that cannot run would fail every session: refuse to start instead of serving 500s.
    let program = if program.contains('/') {
        let path = PathBuf::from(program);
        if !is_executable(&path) {
            return Err(Refused(format!("--runner {spec:?}: {program} is not an executable file")).into());
        }
        path
    } else {
        find_on_path(program).ok_or_else(|| {
            Refused(format!(
                "--runner {spec:?}: {program} is not an executable file on PATH"
            ))
        })?
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

/// The pool of per-session uids: `--uid-range` when agents are dropped to another user (root), `None` with
/// `--uid-range off` or when not root. A range that cannot give every running session a uid of its own is
/// refused.
pub(crate) fn uid_pool(config: &Config, run_as: Option<RunAs>) -> anyhow::Result<Option<UidPool>> {
    let Some(user) = run_as else {
        return Ok(None);
    };
    if config.uid_range == UidRange::Off {
        tracing::warn!(run_as = %config.run_as, "--uid-range off: every agent runs as one user, so sessions can read, write and signal each other");
        return Ok(None);
    }
    if let Some(problem) = range_problem(config.uid_range, config.max_sessions, user.uid.as_raw()) {
        return Err(Refused(problem).into());
    }
    Ok(Some(UidPool::new(config.uid_range)))
}

pub(crate) fn runtime_id(config: &Config) -> String {
    config.runtime_id.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "runtime".to_owned())
    })
}

/// Creates the state directory (0700) and the workspace. A state directory someone else can write is
/// refused: whoever can write it can swap the token or a log for a symlink that root then writes through.
pub(crate) fn prepare_dirs(config: &Config) -> anyhow::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(config.state_dir.join("sessions"))
        .with_context(|| format!("create state dir {}", config.state_dir.display()))?;
    for dir in [config.state_dir.clone(), config.state_dir.join("sessions")] {
        let meta = fs::metadata(&dir).with_context(|| format!("inspect {}", dir.display()))?;
        if let Some(problem) = unsafe_dir(meta.is_dir(), meta.uid(), meta.mode(), Uid::effective().as_raw()) {
            return Err(Refused(format!(
                "--state-dir: {} {problem} (mode {:o}): make it a directory of the supervisor's user that \
                 only it can write (chmod 700), or choose another",
                dir.display(),
                meta.mode() & 0o7777
            ))
            .into());
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&config.workspace)
        .with_context(|| format!("create workspace {}", config.workspace.display()))?;
    Ok(())
}

/// Why a state directory is not safe to use, if it is not.
fn unsafe_dir(is_dir: bool, owner: u32, mode: u32, us: u32) -> Option<&'static str> {
    if !is_dir {
        Some("is not a directory")
    } else if owner != us {
        Some("belongs to another user")
    } else if mode & 0o022 != 0 {
        Some("can be written by others")
    } else {
        None
    }
}

/// A start-up the configuration refuses (exit 2, like a bad flag): the message says what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub(crate) String);

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use expect_test::{Expect, expect};

    use super::{unsafe_dir, use_colour};

    #[track_caller]
    fn check(is_dir: bool, owner: u32, mode: u32, expect: Expect) {
        expect.assert_eq(&format!("{:?}", unsafe_dir(is_dir, owner, mode, 0)));
    }

    #[test]
    fn a_state_dir_is_safe_only_when_no_one_else_can_write_it() {
        check(true, 0, 0o40700, expect![["None"]]);
        check(true, 0, 0o40755, expect![["None"]]);
        check(true, 0, 0o40777, expect![[r#"Some("can be written by others")"#]]);
        check(true, 0, 0o41777, expect![[r#"Some("can be written by others")"#]]);
        check(true, 0, 0o40770, expect![[r#"Some("can be written by others")"#]]);
        check(
            true,
            1000,
            0o40700,
            expect![[r#"Some("belongs to another user")"#]],
        );
        check(false, 0, 0o100600, expect![[r#"Some("is not a directory")"#]]);
    }

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
