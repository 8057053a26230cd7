//! The migrations of both backends, embedded in the binary.
//!
//! Listed by hand instead of with `sqlx::migrate!`: that macro is all that needed sqlx's proc-macro crate,
//! which builds a second, host copy of sqlx's drivers, rustls and SQLite's C sources, about a fifth of a
//! cold build. A migration is resolved exactly as `migrate!` and sqlx's directory source resolve it
//! (version and description from the file name, the SHA-384 checksum of the text), so databases migrated
//! by earlier builds validate unchanged. A test checks that every file of `migrations/` is listed here.

use std::borrow::Cow;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// One backend's migrations: (file name, SQL), in version order. Append-only.
pub(super) type Files = &'static [(&'static str, &'static str)];

pub(super) const POSTGRES: Files = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_generated_credentials.sql",
        include_str!("../../../migrations/postgres/0002_generated_credentials.sql"),
    ),
    (
        "0003_agents_and_queue.sql",
        include_str!("../../../migrations/postgres/0003_agents_and_queue.sql"),
    ),
    (
        "0004_runtime_labels.sql",
        include_str!("../../../migrations/postgres/0004_runtime_labels.sql"),
    ),
    (
        "0005_conversation_state.sql",
        include_str!("../../../migrations/postgres/0005_conversation_state.sql"),
    ),
    (
        "0006_triggers.sql",
        include_str!("../../../migrations/postgres/0006_triggers.sql"),
    ),
    (
        "0007_ui_sessions.sql",
        include_str!("../../../migrations/postgres/0007_ui_sessions.sql"),
    ),
    (
        "0008_ui_indexes.sql",
        include_str!("../../../migrations/postgres/0008_ui_indexes.sql"),
    ),
    (
        "0009_retention.sql",
        include_str!("../../../migrations/postgres/0009_retention.sql"),
    ),
];

pub(super) const SQLITE: Files = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_generated_credentials.sql",
        include_str!("../../../migrations/sqlite/0002_generated_credentials.sql"),
    ),
    (
        "0003_agents_and_queue.sql",
        include_str!("../../../migrations/sqlite/0003_agents_and_queue.sql"),
    ),
    (
        "0004_runtime_labels.sql",
        include_str!("../../../migrations/sqlite/0004_runtime_labels.sql"),
    ),
    (
        "0005_conversation_state.sql",
        include_str!("../../../migrations/sqlite/0005_conversation_state.sql"),
    ),
    (
        "0006_triggers.sql",
        include_str!("../../../migrations/sqlite/0006_triggers.sql"),
    ),
    (
        "0007_ui_sessions.sql",
        include_str!("../../../migrations/sqlite/0007_ui_sessions.sql"),
    ),
    (
        "0008_ui_indexes.sql",
        include_str!("../../../migrations/sqlite/0008_ui_indexes.sql"),
    ),
    (
        "0009_retention.sql",
        include_str!("../../../migrations/sqlite/0009_retention.sql"),
    ),
];

/// The migrator of one backend's files.
pub(super) async fn migrator(files: Files) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(files)).await
}

#[derive(Debug)]
struct Embedded(Files);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> futures_util::future::BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { self.0.iter().map(|&(name, sql)| migration(name, sql)).collect() })
    }
}

/// `0002_generated_credentials.sql` → version 2, description "generated credentials", as sqlx names it.
fn migration(name: &str, sql: &'static str) -> Result<Migration, BoxDynError> {
    let stem = name
        .strip_suffix(".sql")
        .ok_or_else(|| format!("migration {name}: not a .sql file"))?;
    let (version, description) = stem
        .split_once('_')
        .ok_or_else(|| format!("migration {name}: no `<version>_<description>`"))?;
    let version: i64 = version
        .parse()
        .map_err(|e| format!("migration {name}: version {version:?}: {e}"))?;
    Ok(Migration::new(
        version,
        Cow::Owned(description.replace('_', " ")),
        MigrationType::Simple,
        Cow::Borrowed(sql),
        sql.starts_with("-- no-transaction"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_lists_the_folder(folder: &str, files: Files) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(folder);
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("read the migrations folder")
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            listed, on_disk,
            "every file of migrations/{folder} is listed, in order"
        );
        for (name, sql) in files {
            let text = std::fs::read_to_string(dir.join(name)).expect("read a migration");
            assert_eq!(*sql, text, "{name} is embedded as it is on disk");
        }
    }

    #[test]
    fn every_migration_file_is_embedded() {
        check_lists_the_folder("postgres", POSTGRES);
        check_lists_the_folder("sqlite", SQLITE);
    }

    #[test]
    fn a_migration_is_named_as_sqlx_names_it() {
        let m = migration("0002_generated_credentials.sql", "select 1").expect("a valid name");
        assert_eq!((m.version, &*m.description), (2, "generated credentials"));
        assert!(!m.no_tx);
        assert!(migration("0003.sql", "").is_err());
        assert!(migration("x_y.sql", "").is_err());
        assert!(migration("0003_y.txt", "").is_err());
    }
}
