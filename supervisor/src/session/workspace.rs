//! A session's directories and the skills and files of its request, written with path safety.
//!
//! Paths are checked twice: lexically when the request is parsed (`protocol::validate::check_relative_path`:
//! no absolute path, no `..`, no NUL, bounded lengths), and structurally when written: every component is
//! opened relative to its parent with `O_NOFOLLOW`, so a symlink already in the workspace cannot lead outside.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::fchown;

use crate::process::RunAs;

/// The directories of one session.
#[derive(Debug, Clone)]
pub(crate) struct SessionDirs {
    /// The agent's working directory: `<workspace>/sessions/<id>`.
    pub(crate) cwd: PathBuf,
    /// Its private, writable home: `<workspace>/homes/<id>`.
    pub(crate) home: PathBuf,
}

/// Why a session's files could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteFilesError {
    /// The caller's fault: the path leads through a symlink.
    #[error("{field}: {path:?} leaves the workspace through a symlink")]
    Escape { field: String, path: String },
    /// The caller's fault: one path needs a directory where another put a file, or the reverse.
    #[error("{field}: {path:?} conflicts with another file or directory of the request")]
    Conflict { field: String, path: String },
    /// A directory of this session id is already there (left by an earlier incarnation): it is never
    /// reused, since whatever is in it was not written by this request.
    #[error("the workspace of session {session} already exists")]
    Exists { session: String },
    #[error("write {path}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl SessionDirs {
    pub(crate) fn new(workspace: &Path, session_id: &str) -> Self {
        Self {
            cwd: workspace.join("sessions").join(session_id),
            home: workspace.join("homes").join(session_id),
        }
    }

    /// Creates both directories fresh (0700, owned by the supervisor until `hand_over`): a directory
    /// already there is refused, never reused, so nothing planted in it can be written through.
    pub(crate) fn create(&self, session_id: &str) -> Result<(), WriteFilesError> {
        for dir in [&self.cwd, &self.home] {
            let io_err = |source| WriteFilesError::Io {
                path: dir.display().to_string(),
                source,
            };
            let parent = dir.parent().expect("session dirs have a parent");
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(io_err)?;
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(err) => {
                    // Only what this call created is removed; a directory already there is left alone.
                    if dir == &self.home {
                        let _ = fs::remove_dir(&self.cwd);
                    }
                    return Err(if err.kind() == io::ErrorKind::AlreadyExists {
                        WriteFilesError::Exists {
                            session: session_id.to_owned(),
                        }
                    } else {
                        io_err(err)
                    });
                }
            }
        }
        Ok(())
    }

    /// Gives both directories to the agent's user, once everything of the request is written: until then
    /// no agent can enter them.
    pub(crate) fn hand_over(&self, run_as: Option<RunAs>) -> Result<(), WriteFilesError> {
        for dir in [&self.cwd, &self.home] {
            let io_err = |source: io::Error| WriteFilesError::Io {
                path: dir.display().to_string(),
                source,
            };
            let fd = open_dir_nofollow(dir).map_err(|e| io_err(e.into()))?;
            chown(&fd, run_as).map_err(|e| io_err(e.into()))?;
        }
        Ok(())
    }

    /// Takes both directories back from the session's uid once none of its processes is left: the uid goes
    /// to another session later, which must not enter what this one left (root, the owner now, still can).
    /// The parents belong to the supervisor, so the paths cannot have been swapped for symlinks.
    pub(crate) fn seal(&self) -> Result<(), Errno> {
        for dir in [&self.cwd, &self.home] {
            match open_dir_nofollow(dir) {
                Ok(fd) => fchown(
                    fd.as_fd(),
                    Some(nix::unistd::Uid::effective()),
                    Some(nix::unistd::Gid::effective()),
                )?,
                Err(Errno::ENOENT) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Removes both directories and what is in them: a request that failed leaves nothing behind.
    /// `remove_dir_all` does not follow symlinks.
    pub(crate) fn remove(&self) {
        for dir in [&self.cwd, &self.home] {
            match fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => tracing::warn!(dir = %dir.display(), error = %err, "remove session directory"),
            }
        }
    }

    /// Writes `content` at `components` below the working directory, creating directories on the way.
    /// Every file and directory is created here (`O_EXCL`), never opened when it exists, and chowned through
    /// the descriptor that created it.
    pub(crate) fn write_file(
        &self,
        field: &str,
        components: &[&str],
        content: &[u8],
        run_as: Option<RunAs>,
    ) -> Result<(), WriteFilesError> {
        let display = components.join("/");
        let escape = || WriteFilesError::Escape {
            field: field.to_owned(),
            path: display.clone(),
        };
        let conflict = || WriteFilesError::Conflict {
            field: field.to_owned(),
            path: display.clone(),
        };
        let io_err = |source: io::Error| WriteFilesError::Io {
            path: display.clone(),
            source,
        };
        let (name, dirs) = components.split_last().expect("checked paths have a component");
        let mut dir = open_dir_nofollow(&self.cwd).map_err(|e| io_err(e.into()))?;
        for component in dirs {
            match mkdirat(dir.as_fd(), *component, Mode::from_bits_truncate(0o755)) {
                Ok(()) => {
                    let created = open_at_nofollow(&dir, component, OFlag::O_DIRECTORY)
                        .map_err(|e| io_err(e.into()))?;
                    chown(&created, run_as).map_err(|e| io_err(e.into()))?;
                    dir = created;
                }
                Err(Errno::EEXIST) => {
                    // Made by an earlier file of this request (and chowned then).
                    dir = open_at_nofollow(&dir, component, OFlag::O_DIRECTORY).map_err(|err| match err {
                        Errno::ELOOP => escape(),
                        // A symlink (refused by O_NOFOLLOW) or a file: the kernel says ENOTDIR to both.
                        Errno::ENOTDIR if is_symlink_at(&dir, component) => escape(),
                        Errno::ENOTDIR => conflict(),
                        other => io_err(other.into()),
                    })?;
                }
                Err(err) => return Err(io_err(err.into())),
            }
        }
        // Scripts keep working when run directly.
        let mode = if content.starts_with(b"#!") { 0o755 } else { 0o644 };
        let fd = openat(
            dir.as_fd(),
            *name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(|err| match err {
            Errno::ELOOP => escape(),
            Errno::EEXIST if is_symlink_at(&dir, name) => escape(),
            Errno::EEXIST | Errno::EISDIR => conflict(),
            other => io_err(other.into()),
        })?;
        chown(&fd, run_as).map_err(|e| io_err(e.into()))?;
        let mut file = fs::File::from(fd);
        file.write_all(content).map_err(io_err)?;
        Ok(())
    }
}

fn is_symlink_at(dir: &OwnedFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

fn open_dir_nofollow(path: &Path) -> Result<OwnedFd, Errno> {
    nix::fcntl::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn open_at_nofollow(dir: &OwnedFd, name: &str, extra: OFlag) -> Result<OwnedFd, Errno> {
    openat(
        dir.as_fd(),
        name,
        extra | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::empty(),
    )
}

fn chown(fd: &OwnedFd, run_as: Option<RunAs>) -> Result<(), Errno> {
    match run_as {
        Some(user) => fchown(fd.as_fd(), Some(user.uid), Some(user.gid)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_directory_is_created_fresh_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = SessionDirs::new(tmp.path(), "s1");
        dirs.create("s1").unwrap();
        let err = dirs.create("s1").unwrap_err();
        assert!(matches!(err, WriteFilesError::Exists { .. }), "{err}");
        dirs.write_file("files[0].path", &["a", "b.txt"], b"x", None)
            .unwrap();
        let err = dirs
            .write_file("files[1].path", &["a", "b.txt"], b"y", None)
            .unwrap_err();
        assert!(
            matches!(err, WriteFilesError::Conflict { .. }),
            "an existing file is never opened: {err}"
        );
        let err = dirs
            .write_file("files[2].path", &["a", "b.txt", "c"], b"y", None)
            .unwrap_err();
        assert!(
            matches!(err, WriteFilesError::Conflict { .. }),
            "a file is not a directory: {err}"
        );
        dirs.remove();
        assert!(!dirs.cwd.exists() && !dirs.home.exists());
    }

    #[test]
    fn writing_through_a_symlink_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let dirs = SessionDirs::new(tmp.path(), "s1");
        dirs.create("s1").unwrap();
        std::os::unix::fs::symlink(outside.path(), dirs.cwd.join("out")).unwrap();
        let err = dirs
            .write_file("files[0].path", &["out", "x"], b"data", None)
            .unwrap_err();
        assert!(matches!(err, WriteFilesError::Escape { .. }), "{err}");
        std::os::unix::fs::symlink("/etc/hostname", dirs.cwd.join("link")).unwrap();
        let err = dirs
            .write_file("files[1].path", &["link"], b"data", None)
            .unwrap_err();
        assert!(matches!(err, WriteFilesError::Escape { .. }), "{err}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);

        dirs.write_file("files[2].path", &["a", "b", "c.txt"], b"hello", None)
            .unwrap();
        assert_eq!(std::fs::read(dirs.cwd.join("a/b/c.txt")).unwrap(), b"hello");
    }
}
