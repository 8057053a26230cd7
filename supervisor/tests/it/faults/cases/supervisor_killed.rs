//! Fault case 4: the supervisor killed -9 and restarted on the same state dir, again and again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn f04_supervisor_killed_and_restarted_again_and_again() {
    let rounds = if full() { 100 } else { 6 };
    let mut rng = Rng::new();
    let db = SqliteDb::new();
    let addr = free_addr();
    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let mut sup = shipping_to(addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for round in 0..rounds {
        for k in 0..2 {
            let mut agent = start_agent(&sup, &format!("f4-{round}-{k}"), 1_000_000, 200, "0.05").await;
            agent.complete = false;
            agents.push(agent);
        }
        tokio::time::sleep(rng.millis(300, 2000)).await;
        sup = sup.kill_and_restart();
        rss.follow(sup.pid);
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f4").await;
    let last = start_agent(&sup, "f4-last", 3000, 500, "0.05").await;
    sup.wait_finished(&last.id, Duration::from_secs(60)).await;
    agents.push(last);
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    // Sessions cut by a kill end `lost`, locally and on the control plane.
    let mut not_lost = Vec::new();
    for agent in agents.iter().filter(|a| !a.complete) {
        let session = cp.session(&agent.id).await;
        if session["status"] != "lost" {
            not_lost.push(format!("{}: {session}", agent.id));
        }
    }
    header();
    report(
        "4 supervisor kill -9 x",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("{rounds} restarts"),
    );
    assert!(
        not_lost.is_empty(),
        "sessions cut by a kill must end lost: {not_lost:?}"
    );
}
