//! Fault cases 2 and 3: PostgreSQL restarted mid-ingest, and stalled by an exclusive lock on `events`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn f02_postgres_restarted_mid_ingest() {
    if admin_url().is_none() {
        return;
    }
    let cluster = Arc::new(PrivateCluster::start());
    let db = PgDb::create(&cluster.url);
    let cp = ControlPlane::start_on(free_addr(), &db.url).await;
    let sup = shipping_to(cp.addr).start();
    let rss = RssSampler::start(sup.pid);
    let modes: Vec<&str> = if full() {
        ["immediate", "fast"].repeat(5)
    } else {
        vec!["immediate", "fast"]
    };
    let mut agents = Vec::new();
    for k in 0..3 {
        let n = 1500 * (modes.len() as u64 * 3 + 4);
        agents.push(start_agent(&sup, &format!("f2-{k}"), n, 150, "0.1").await);
    }
    for mode in &modes {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let cluster = cluster.clone();
        let mode = mode.to_string();
        tokio::task::spawn_blocking(move || cluster.pg_sh(&["restart", &mode]))
            .await
            .unwrap();
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f2").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    header();
    report(
        "2 postgres restart",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("restarts: {}", modes.join(",")),
    );
    drop(sup);
    drop(cp);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn f03_postgres_stalled_by_a_table_lock() {
    let Some(admin) = admin_url() else {
        return;
    };
    let hold = if full() { 30 } else { 10 };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start_on(free_addr(), &db.url).await;
    let sup = shipping_to(cp.addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        agents.push(start_agent(&sup, &format!("f3-{k}"), 1000 * (hold + 6), 100, "0.1").await);
    }
    // The lock goes in while ingest is under way.
    let ingesting = async || {
        cp.try_events("f3-0")
            .await
            .is_some_and(|events| events.len() > 1000)
    };
    assert!(
        eventually(Duration::from_secs(60), ingesting).await,
        "the control plane stores f3-0's events"
    );
    let url = db.url.clone();
    let locked = tokio::task::spawn_blocking(move || {
        psql(
            &url,
            &format!("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;"),
        )
    });
    locked.await.unwrap();
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f3").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    let retries = sup.metric("supervisor_delivery_retries_total").await.unwrap_or(0);
    header();
    report(
        "3 postgres table lock",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("lock held {hold}s, {retries} retries"),
    );
    drop(sup);
    drop(cp);
    drop(db);
}
