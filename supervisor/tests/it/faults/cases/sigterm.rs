//! Fault case 9: SIGTERM with an unshipped backlog and a live control plane.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::faults::fixtures::*;
use crate::faults::oracle::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn f09_sigterm_delivers_the_backlog_before_exit() {
    let db = SqliteDb::new();
    let addr = free_addr();
    let mut sup = shipping_to(addr).arg("--grace").arg("2s").start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        let id = format!("f9-{k}");
        sup.run_cmd(
            &id,
            &format!("{}; exec sleep 100", agent_cmd(&id, 15_000, 1_000_000, "0")),
        )
        .await;
        agents.push(Agent {
            id,
            n: 15_000,
            complete: true,
        });
    }
    // The backlog builds up while the control plane is down.
    for agent in &agents {
        let last = format!("\"n\":{},", agent.n);
        let logged_all = async || log_contains(&sup.state_dir(), &agent.id, &last);
        assert!(
            eventually(Duration::from_secs(60), logged_all).await,
            "{} logged its last line",
            agent.id
        );
    }
    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let term = Instant::now();
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sup.wait_exit(Duration::from_secs(60)).success());
    let exit_after = term.elapsed();
    // Delivered before the exit: no waiting.
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), false).await;
    header();
    report(
        "9 SIGTERM with backlog",
        &tally,
        None,
        rss.peak_kib(),
        &format!("exit {:.1}s after SIGTERM", exit_after.as_secs_f64()),
    );
    for agent in &agents {
        let (local, _) = local_log(&sup.state_dir(), &agent.id);
        assert_eq!(local.last().unwrap()["type"], "session.finished");
    }
}
