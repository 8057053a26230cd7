//! One `agentctl serve` per SQLite file: a second one is refused at start-up, naming the file.

use crate::helpers::{Kind, TestDb, spawn_app, try_spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_sqlite_file_is_refused_and_a_later_one_starts() {
    let db = TestDb::new(Kind::Sqlite).await.expect("sqlite");
    let first = spawn_app(&db).await;
    let refused = try_spawn_app(&db)
        .await
        .expect_err("a second server on the same file");
    let message = format!("{refused:#}");
    assert!(
        message.contains("another agentctl serve is using the database") && message.contains("agentctl.db"),
        "{message}"
    );
    // The first one is unharmed.
    assert_eq!(first.get("/health").await.0, 200);
    first.stop().await;
    // Once it has stopped, the file is free again.
    let next = spawn_app(&db).await;
    assert_eq!(next.get("/health").await.0, 200);
    next.stop().await;
}
