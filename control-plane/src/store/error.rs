//! What a store call can fail with, and how a database error is classified.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refuses connections: the caller should retry later (503).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A stored row does not parse: that one request fails (500), the server keeps serving.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database url {0:?}: expected postgres://… or sqlite://…")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(error)
        } else {
            Self::Database(error)
        }
    }
}

/// A unique violation or a deadlock: what an early insert meets when another transaction is storing the same
/// events (see `ingest::Mode::Early`).
pub(super) fn is_insert_race(error: &StoreError) -> bool {
    let (StoreError::Database(sqlx::Error::Database(db))
    | StoreError::Unavailable(sqlx::Error::Database(db))) = error
    else {
        return false;
    };
    matches!(db.code().as_deref(), Some("23505" | "40P01"))
}

fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 53: insufficient resources; 57P0x: shutdown, cannot connect now;
            // 40001/40P01: serialization failure or deadlock, worth a retry too.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED, 13 SQLITE_FULL, 10 SQLITE_IOERR (and extended codes).
            // 55000 and 3D000 come from a database that refuses connections or is gone; 28: rejected login.
            code.starts_with("08")
                || code.starts_with("28")
                || code == "55000"
                || code == "3D000"
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
                || matches!(code.parse::<i64>().map(|c| c & 0xff), Ok(5 | 6 | 10 | 13))
        }
        _ => false,
    }
}
