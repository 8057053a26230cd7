//! Fault case 5: the state dir on a small tmpfs, the control plane down until the spool cap: the agent
//! blocks, nothing is dropped, all drains afterwards.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::faults::fixtures::*;
use crate::faults::oracle::*;
use crate::support::*;

/// Unmounts (lazily) when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn f05_spool_cap_on_a_small_tmpfs() {
    require_root();
    let db = SqliteDb::new();
    let addr = free_addr();
    let sup = shipping_to(addr).arg("--spool-max").arg("4MiB").start();
    // The harness chooses the state dir: mount the tmpfs over it, then restart on it.
    let state = sup.state_dir();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m,mode=700", "tmpfs"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a tmpfs on {}", state.display());
    let _mount = Mount(state.clone());
    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let n = 40_000;
    let agents = vec![start_agent(&sup, "f5-0", n, 1_000_000, "0").await];
    let log = state.join("sessions/f5-0.log");
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let paused = async || {
        sup.logged(
            "spool full: pausing the agent's output until events are delivered",
            "f5-0",
        )
    };
    assert!(
        eventually(Duration::from_secs(60), paused).await,
        "the supervisor paused the agent's output"
    );
    // Growth that did not happen takes a while to show: watch the log for a second.
    let blocked_at = size();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(size(), blocked_at, "the log grew while the spool was full");
    assert_eq!(
        sup.session("f5-0").await["status"],
        "running",
        "the agent is blocked, not dead"
    );

    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f5").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &state, &agents, &HashMap::new(), true).await;
    header();
    report(
        "5 spool cap on 16M tmpfs",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "blocked at {:.1} MiB, final log {:.1} MiB",
            blocked_at as f64 / 1048576.0,
            size() as f64 / 1048576.0
        ),
    );
    // No `result` message: `failed` is its normal end; what matters is that it ran to its end.
    assert_ne!(sup.session("f5-0").await["status"], "lost");
    drop(sup);
}
