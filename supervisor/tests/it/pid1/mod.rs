//! PID 1 duties, black-box (reference/pid1.md §7–8): the real binary as PID 1 of a fresh PID namespace
//! (or as a plain subreaper), real agent processes run as `nobody`, and observations made from outside:
//! `/proc` of the host, exit statuses, session records, event logs on disk and files the agents wrote.
//!
//! By duty: `reaping` (orphans, exact exit statuses, spawn failures, health under a reap storm),
//! `inheritance` (what an agent starts with: signals, fds, ids, environment, stdin), `shutdown` (SIGTERM and
//! SIGINT, escalation, escapees, the subreaper outside a namespace) and `signals` (the ones it must ignore).

mod inheritance;
mod reaping;
mod shutdown;
mod signals;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// Generous: the machine is shared and loaded; these bound liveness, never speed.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

pub(crate) fn pid1_sup() -> Options {
    Options::default().pid1().arg("--grace").arg("1s")
}

/// Waits until the agent printed `text` as a line of its own.
pub(crate) async fn wait_for_text(sup: &Sup, id: &str, text: &str) {
    let mut texts = Vec::new();
    let printed = eventually(DEADLINE, async || {
        texts = agent_texts(&sup.events(id).await);
        texts.iter().any(|t| t == text)
    })
    .await;
    assert!(
        printed,
        "session {id} did not print {text:?}; it printed {texts:?}"
    );
}

/// The data of the session's `session.finished` event, which must be its last event.
#[track_caller]
pub(crate) fn finished(events: &[Value]) -> &Value {
    let last = events.last().expect("a finished session has events");
    assert_eq!(
        last["type"], "session.finished",
        "the last event is session.finished: {events:#?}"
    );
    &last["data"]
}

/// A counter of `GET /metrics`, which must be there.
pub(crate) async fn metric(sup: &Sup, name: &str) -> u64 {
    sup.metric(name)
        .await
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Waits until nothing at all is left below `pid`: every process exited and was reaped. An unreaped
/// zombie stays below its parent forever, so this fails on any zombie (the message counts them).
pub(crate) async fn assert_everything_reaped(pid: u32, timeout: Duration) {
    if !eventually(timeout, async || descendants(pid).is_empty()).await {
        let left = descendants(pid);
        let zombies = left.iter().filter(|(_, state)| *state == 'Z').count();
        panic!(
            "{} processes below pid {pid} after {timeout:?}, {zombies} of them zombies: {left:?}",
            left.len()
        );
    }
}

pub(crate) fn session_dir(sup: &Sup, id: &str) -> PathBuf {
    sup.workspace().join("sessions").join(id)
}

pub(crate) async fn wait_for_file(path: &Path) {
    assert!(
        eventually(DEADLINE, async || path.exists()).await,
        "{} was never written",
        path.display()
    );
}

/// `(pid, pgrp, session)` of a process, from `/proc/<pid>/stat`.
pub(crate) fn stat_ids(stat: &str) -> (u32, u32, u32) {
    let pid = stat.split_whitespace().next().expect("stat starts with the pid");
    let rest = &stat[stat.rfind(')').expect("stat has a comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    (
        pid.parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap(),
    )
}

pub(crate) fn ppid_of(pid: u32) -> Option<u32> {
    processes()
        .into_iter()
        .find(|(p, _, _)| *p == pid)
        .map(|(_, ppid, _)| ppid)
}

pub(crate) fn state_of(pid: u32) -> Option<char> {
    processes()
        .into_iter()
        .find(|(p, _, _)| *p == pid)
        .map(|(_, _, state)| state)
}

/// Outside a PID namespace nothing ends the agents of a supervisor that died, or was killed when its
/// test failed: on drop, this SIGKILLs every process working in the supervisor's workspace.
pub(crate) struct KillAgentsOnDrop(PathBuf);

impl Drop for KillAgentsOnDrop {
    fn drop(&mut self) {
        for (pid, _, _) in processes() {
            let in_workspace =
                std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&self.0));
            if in_workspace {
                sigkill(pid);
            }
        }
    }
}

/// A process started by the test itself, killed and waited for on drop.
pub(crate) struct Sentinel(std::process::Child);

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a session that should exit 0 and returns its record and what it printed.
pub(crate) async fn output_of(sup: &Sup, id: &str) -> (Value, Vec<String>) {
    let session = sup.wait_finished(id, DEADLINE).await;
    assert_eq!(session["exitCode"], 0, "{session}");
    (session, agent_texts(&sup.events(id).await))
}
