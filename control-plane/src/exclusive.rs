//! One `agentctl serve` per SQLite file.
//!
//! SQLite takes one writer at a time, and the ingest path relies on being that one writer (a single write
//! connection, so no transaction ever meets `SQLITE_BUSY`). A second server on the same file would start and
//! then answer `database is locked` 503s; instead it is refused at start-up. The lock is an exclusive
//! `flock` on `<file>.lock` beside the database, held while the server runs and released by the kernel when
//! the process ends however it ends. A separate file, because closing any descriptor of the database file
//! itself would drop SQLite's own POSIX locks of this process.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;

/// Held while the server runs; the lock is released when it is dropped.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// Takes the lock of the SQLite database at `url`; `None` for PostgreSQL and in-memory databases.
pub fn lock_database(url: &str) -> anyhow::Result<Option<ServeLock>> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url).context("parse the SQLite URL")?;
    let database = options.get_filename();
    if database.as_os_str().is_empty() || database == Path::new(":memory:") {
        return Ok(None);
    }
    let path = lock_path(database);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(TryLockError::WouldBlock) => bail!(
            "another agentctl serve is using the database {} (it holds {}): stop it first, or give this one \
             its own --database-url",
            database.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("lock {}", path.display())),
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
