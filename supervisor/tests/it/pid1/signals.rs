//! Signals a PID 1 must not die or stop from: hangup, user and job-control signals.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::support::*;

/// Sends the supervisor signals that would stop or kill a process with the default action, then
/// checks that it and its agents carry on.
async fn check_survives_unrelated_signals(mut sup: Sup) {
    sup.run_cmd("long", "echo ready; exec sleep 1000").await;
    wait_for_text(&sup, "long", "ready").await;
    for signal in [
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGTSTP,
    ] {
        sup.signal(signal);
    }
    // A stopped supervisor would not answer at all: bound the wait rather than hang.
    tokio::time::timeout(DEADLINE, still_serving(&sup))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the supervisor stopped answering; it is in state {:?}",
                state_of(sup.pid)
            )
        });
    let state = state_of(sup.pid).expect("the supervisor is alive");
    assert!(
        !matches!(state, 'T' | 't' | 'Z'),
        "the supervisor is in state {state}"
    );

    sup.signal(Signal::SIGTERM);
    let status = sup.wait_exit(Duration::from_secs(1) + DEADLINE);
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", sup.stderr());
}

/// Spawns and finishes a session, answers health, and still runs the long session.
async fn still_serving(sup: &Sup) {
    // A full session after the signals: it still spawns, reaps and logs.
    sup.run_cmd("after", "echo still here; exit 3").await;
    let after = sup.wait_finished("after", DEADLINE).await;
    assert_eq!(after["exitCode"], 3, "{after}");
    assert_eq!(agent_texts(&sup.events("after").await), ["still here"]);
    let (status, health) = sup.get("/health").await;
    assert_eq!((status, &health["status"]), (200, &"ok".into()), "{health}");
    assert_eq!(
        sup.session("long").await["status"],
        "running",
        "signals to the supervisor are not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_user_and_job_control_signals_do_not_stop_pid1() {
    check_survives_unrelated_signals(pid1_sup().start()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_user_and_job_control_signals_do_not_stop_it_outside_a_namespace() {
    require_root();
    let sup = Options::default().arg("--grace").arg("1s").start();
    let _cleanup = KillAgentsOnDrop(sup.workspace());
    check_survives_unrelated_signals(sup).await;
}
