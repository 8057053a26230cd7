//! Fault case 10: (FAULTS_FULL) a 1 GiB backlog at restart: startup memory stays bounded; the drain rate.

use std::time::{Duration, Instant};

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn f10_a_big_backlog_at_restart() {
    if !full() {
        eprintln!("skipped: FAULTS_FULL=1 runs the 1 GiB backlog");
        return;
    }
    let mib: u64 = std::env::var("FAULTS_BACKLOG_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let db = SqliteDb::new();
    let addr = free_addr();
    let sup = shipping_to(addr)
        .arg("--spool-max")
        .arg("8GiB")
        .arg("--max-output")
        .arg("8GiB")
        .start();
    // Lines of about 1 KiB; the log holds them as records of about 1.1 KiB.
    let n = mib * 1024 * 1024 / 1100;
    let id = "f10-big";
    sup.run_cmd(
        id,
        &format!(r#"line=$(printf '{{"type":"big","pad":"%0990d"}}' 0); yes "$line" | head -n {n}"#),
    )
    .await;
    sup.wait_finished(id, Duration::from_secs(1800)).await;
    let log_bytes = std::fs::metadata(sup.state_dir().join(format!("sessions/{id}.log")))
        .unwrap()
        .len();
    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let start = Instant::now();
    let live = liveness(&sup, &cp, start, "f10").await;
    let events = sup.session(id).await["lastSeq"].as_u64().unwrap() + 1;
    let mut rows = 0;
    // What did not drain within the hour is counted missing below.
    eventually(Duration::from_secs(3600), async || {
        rows = cp.rows(id).await;
        rows as u64 >= events
    })
    .await;
    let took = start.elapsed().as_secs_f64();
    let tally = Tally {
        emitted: n,
        local: events as usize,
        stored: rows as usize,
        db_rows: rows,
        missing: events.saturating_sub(rows as u64) as usize,
        dup: (rows as u64).saturating_sub(events) as usize,
        ..Default::default()
    };
    header();
    report(
        "10 backlog at restart",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "{:.0} MiB log, drained in {took:.0}s: {:.0} events/s, {:.1} MiB/s",
            log_bytes as f64 / 1048576.0,
            events as f64 / took,
            log_bytes as f64 / 1048576.0 / took
        ),
    );
}
