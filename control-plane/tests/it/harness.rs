//! The test harness itself.

use sqlx::Connection;

use crate::helpers::{Kind, TestDb, lines, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_test_database_is_dropped_when_the_test_ends() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let (admin, name) = db.admin.clone().expect("postgres");
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    app.stop().await;
    drop(db);
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect admin");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    conn.close().await.expect("close");
    assert_eq!(left, 0, "database {name} is still there");
}
