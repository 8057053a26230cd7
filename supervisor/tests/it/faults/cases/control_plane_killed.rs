//! Fault case 1: the control plane killed again and again while agents write.

use std::collections::HashMap;
use std::time::Instant;

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn f01_control_plane_killed_again_and_again() {
    let (kills, agents_n, every, pause) = if full() {
        (40, 60_000, 50, "0.25")
    } else {
        (6, 12_000, 100, "0.1")
    };
    let mut rng = Rng::new();
    let db = SqliteDb::new();
    let addr = free_addr();
    let mut cp = ControlPlane::start_on(addr, &db.url()).await;
    let sup = shipping_to(addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..3 {
        agents.push(start_agent(&sup, &format!("f1-{k}"), agents_n, every, pause).await);
    }
    for _ in 0..kills {
        let up = if full() {
            rng.millis(1000, 10_000)
        } else {
            rng.millis(500, 2500)
        };
        tokio::time::sleep(up).await;
        cp.kill();
        tokio::time::sleep(rng.millis(100, 2000)).await;
        cp = ControlPlane::start_on(addr, &db.url()).await;
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f1").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    header();
    report(
        "1 control plane kill x",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("{kills} kills"),
    );
}
