//! An installed tree taken back from the npm user and made read-only for everyone else.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::{Gid, Uid, fchown};

/// Takes `tmp` back first (the supervisor's, 0700: the npm user can no longer enter it), then gives every
/// entry of `pkg` to the supervisor's user: directories 0755, files 0644 (0755 when npm made them
/// executable, like the scripts `.bin` links to); symlinks stay as they are and are never followed.
///
/// A hard link, or anything but a file, directory or symlink, is refused: npm makes none, and changing the
/// mode of a hard link would change a file elsewhere.
pub(super) fn seal(tmp: &Path, pkg: &Path) -> io::Result<()> {
    let fd = open(
        tmp,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    fchown(&fd, Some(Uid::effective()), Some(Gid::effective()))?;
    fchmod(&fd, Mode::from_bits_truncate(0o700))?;
    let meta = fs::symlink_metadata(pkg)?;
    if !meta.is_dir() {
        return Err(io::Error::other("the install directory is not a directory"));
    }
    walk(pkg)
}

fn walk(dir: &Path) -> io::Result<()> {
    own(dir, 0o755)?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // `DirEntry::metadata` does not follow symlinks.
        let meta = entry.metadata()?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            std::os::unix::fs::lchown(
                &path,
                Some(Uid::effective().as_raw()),
                Some(Gid::effective().as_raw()),
            )?;
        } else if kind.is_dir() {
            walk(&path)?;
        } else if kind.is_file() && meta.nlink() == 1 {
            own(&path, if meta.mode() & 0o111 != 0 { 0o755 } else { 0o644 })?;
        } else {
            return Err(io::Error::other(format!(
                "{} is not a plain file, directory or symlink",
                path.display()
            )));
        }
    }
    Ok(())
}

fn own(path: &Path, mode: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(
        path,
        Some(Uid::effective().as_raw()),
        Some(Gid::effective().as_raw()),
    )?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
