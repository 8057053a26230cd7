//! The two backends behind one [`Store`]: pools, transactions, migrations, and the few statements whose
//! text differs per backend.
//!
//! **Boundary:** this is the only file that matches on which backend a store runs. Every other file of
//! `store/` writes its statements once, inside [`with_conn!`] or [`with_pool!`], which compile the body once
//! per backend; where the SQL must differ, it asks a [`Tx`] for the fragment (row locks, lists bound as
//! JSON) or calls the statement here (bulk insert).

use std::str::FromStr;
use std::time::Duration;

use protocol::Event;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use super::{Result, StoreError, copy, migrations};

/// How long a request waits for a database connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

/// The connections of a store. Private to the `store` module: only this file matches on it (through
/// [`with_pool!`] elsewhere).
#[derive(Debug, Clone)]
pub(super) enum Pools {
    Pg(PgPool),
    /// Reads on their own read-only pool; writes on exactly one connection (see the module doc of `store`).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
}

/// One write transaction, on either backend.
#[derive(Debug)]
pub(super) enum Tx {
    Pg(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

/// Runs `$body` with `$c` bound to the transaction's connection; the body is compiled once per backend.
macro_rules! with_conn {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::store::backend::Tx::Pg(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::backend::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(super) use with_conn;

/// Runs `$body` with `$p` bound to a pool for reads; the body is compiled once per backend.
macro_rules! with_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match $store.pools() {
            $crate::store::backend::Pools::Pg($p) => $body,
            $crate::store::backend::Pools::Sqlite { read: $p, .. } => $body,
        }
    };
}
pub(super) use with_pool;

impl Store {
    /// Connects to `url` (`postgres://…` or `sqlite://path`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::connect_lazy(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without running the migrations.
    pub async fn connect_lazy(url: &str) -> Result<Self> {
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // sqlx pings a connection when it is released and drops it if the ping fails; a ping before
                // every acquire too would add a round trip to every group commit. A connection that died while
                // idle fails its one query as unavailable (503, the sender retries) and is then dropped.
                .test_before_acquire(false)
                .connect_lazy_with(options);
            Pools::Pg(pool)
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a batch answered 200 survives a power loss, not only a crash of this process.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5));
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(0)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options.read_only(true));
            Pools::Sqlite { read, write }
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        Ok(Self { pools })
    }

    pub async fn migrate(&self) -> Result<()> {
        let files = match &self.pools {
            Pools::Pg(_) => migrations::POSTGRES,
            Pools::Sqlite { .. } => migrations::SQLITE,
        };
        let result = async {
            let migrator = migrations::migrator(files).await?;
            match &self.pools {
                Pools::Pg(pool) => migrator.run(pool).await,
                Pools::Sqlite { write, .. } => migrator.run(write).await,
            }
        }
        .await;
        result.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Database(sqlx::Error::Migrate(Box::new(other))),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Pg(_) => Backend::Postgres,
            Pools::Sqlite { .. } => Backend::Sqlite,
        }
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Pg(pool) => pool.close().await,
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }

    /// Answers whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, |p| sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// [`Tx::json_texts`] for a statement run on a pool.
    pub(super) fn json_texts_sql(&self, param: &str) -> String {
        match self.pools {
            Pools::Pg(_) => format!("SELECT json_array_elements_text({param}::json)"),
            Pools::Sqlite { .. } => format!("SELECT value FROM json_each({param})"),
        }
    }

    pub(super) fn pools(&self) -> &Pools {
        &self.pools
    }

    pub(super) async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Pg(pool) => Tx::Pg(pool.begin().await?),
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
        })
    }

    /// A read-only transaction: one snapshot for several statements (SQLite's read pool).
    pub(super) async fn begin_read(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Pg(pool) => Tx::Pg(pool.begin().await?),
            Pools::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
        })
    }

    /// Whether a group commit may insert before it locks the rows: on PostgreSQL several writers overlap;
    /// SQLite's one writer connection has nothing to overlap with.
    pub(super) fn inserts_before_locking(&self) -> bool {
        matches!(self.pools, Pools::Pg(_))
    }

    /// The pool that carries NOTIFY and LISTEN between replicas; `None` on SQLite (one replica).
    pub(super) fn doorbell_pool(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Pg(pool) => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }
}

impl Tx {
    pub(super) async fn commit(self) -> Result<()> {
        match self {
            Tx::Pg(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    /// What follows a `SELECT` to lock its rows until the end of the transaction: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, whose single writer connection needs no row lock.
    pub(super) fn row_lock(&self) -> &'static str {
        match self {
            Tx::Pg(_) => " FOR UPDATE",
            Tx::Sqlite(_) => "",
        }
    }

    /// What follows a `SELECT` to hold its rows against change, not against each other: `FOR SHARE` on
    /// PostgreSQL (queuers of one agent run side by side, a PUT or DELETE of it waits for them and they for
    /// it); nothing on SQLite.
    pub(super) fn share_lock(&self) -> &'static str {
        match self {
            Tx::Pg(_) => " FOR SHARE",
            Tx::Sqlite(_) => "",
        }
    }

    /// Serialises the transactions that name the same `scope` until they end (a transaction-scoped advisory
    /// lock on PostgreSQL, keyed by a 64-bit hash of the name: a collision only serialises more). Nothing
    /// on SQLite, whose one writer connection runs transactions one at a time.
    pub(super) async fn serialise(&mut self, scope: &str) -> Result<()> {
        if let Tx::Pg(t) = self {
            // Selected as a count: sqlx describes every result column, and `void` is not a type it knows.
            sqlx::query("SELECT count(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) l")
                .bind(scope)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// What follows a claim's `SELECT` on `table`: `FOR UPDATE OF table SKIP LOCKED` on PostgreSQL, so
    /// concurrent claimers skip each other's rows; nothing on SQLite, whose one writer runs claims in turn.
    pub(super) fn skip_locked(&self, table: &str) -> String {
        match self {
            Tx::Pg(_) => format!(" FOR UPDATE OF {table} SKIP LOCKED"),
            Tx::Sqlite(_) => String::new(),
        }
    }

    /// A condition: the JSON object in column `selector` is a subset of the JSON object bound as `labels`.
    pub(super) fn selector_matches(&self, selector: &str, labels: &str) -> String {
        match self {
            Tx::Pg(_) => format!("{selector}::jsonb <@ {labels}::jsonb"),
            Tx::Sqlite(_) => format!(
                "NOT EXISTS (SELECT 1 FROM json_each({selector}) k WHERE NOT EXISTS                  (SELECT 1 FROM json_each({labels}) l WHERE l.key = k.key AND l.value = k.value))"
            ),
        }
    }

    /// A subquery over the text elements of the JSON array bound as `param` (see [`json_list`]): the same
    /// statement text whatever the list's length.
    pub(super) fn json_texts(&self, param: &str) -> String {
        match self {
            Tx::Pg(_) => format!("SELECT json_array_elements_text({param}::json)"),
            Tx::Sqlite(_) => format!("SELECT value FROM json_each({param})"),
        }
    }

    /// Like [`Tx::json_texts`], for a list of integers.
    pub(super) fn json_ints(&self, param: &str) -> String {
        match self {
            Tx::Pg(_) => format!("SELECT json_array_elements_text({param}::json)::int8"),
            Tx::Sqlite(_) => format!("SELECT value FROM json_each({param})"),
        }
    }

    /// Inserts the events: a `COPY` on PostgreSQL (what a raw `COPY` costs per row), multi-row `INSERT`s on
    /// SQLite. Answers the number of rows written.
    pub(super) async fn insert_events(&mut self, events: &[&Event]) -> Result<u64> {
        match self {
            Tx::Pg(t) => {
                let mut rows = Vec::with_capacity(events.iter().map(|e| e.data.get().len() + 96).sum());
                for e in events {
                    copy::row(&mut rows, e);
                }
                let mut copy = t
                    .copy_in_raw("COPY events (session_id, seq, ts, source, type, data) FROM STDIN")
                    .await?;
                if let Err(error) = copy.send(rows).await {
                    // `finish` or `abort` must end a COPY, or the connection is unusable afterwards.
                    let _ = copy.abort(error.to_string()).await;
                    return Err(error.into());
                }
                Ok(copy.finish().await?)
            }
            Tx::Sqlite(t) => {
                let mut written = 0;
                // SQLite allows 32,766 bound parameters per statement: 6 per row.
                for chunk in events.chunks(5_000) {
                    let mut builder = sqlx::QueryBuilder::<Sqlite>::new(
                        "INSERT INTO events (session_id, seq, ts, source, type, data) ",
                    );
                    builder.push_values(chunk, |mut b, e| {
                        b.push_bind(e.session_id.as_str())
                            .push_bind(e.seq as i64)
                            .push_bind(e.ts.as_str())
                            .push_bind(e.source.as_str())
                            .push_bind(e.kind.as_str())
                            .push_bind(e.data.get());
                    });
                    written += builder.build().execute(&mut **t).await?.rows_affected();
                }
                Ok(written)
            }
        }
    }
}

/// A list bound as one JSON array parameter, for [`Tx::json_texts`] and [`Tx::json_ints`].
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}
