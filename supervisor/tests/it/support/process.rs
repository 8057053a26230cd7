//! The processes of the host, as `/proc` shows them, and the root the tests need.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// Fails (never skips) when the test needs root: CI runs as root, and a skipped check proves nothing.
#[track_caller]
pub(crate) fn require_root() {
    assert!(
        is_root(),
        "this test needs root (PID namespaces, running agents as another user): run it as root"
    );
}

/// `(pid, ppid, state)` of every process on the host.
pub(crate) fn processes() -> Vec<(u32, u32, char)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses: fields start after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        out.push((pid, ppid, state));
    }
    out
}

/// The processes below `root` (not including it), with their states.
pub(crate) fn descendants(root: u32) -> Vec<(u32, char)> {
    let all = processes();
    let mut children: HashMap<u32, Vec<(u32, char)>> = HashMap::new();
    for (pid, ppid, state) in &all {
        children.entry(*ppid).or_default().push((*pid, *state));
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for (child, state) in children.get(&pid).into_iter().flatten() {
            out.push((*child, *state));
            stack.push(*child);
        }
    }
    out
}

/// The host pid of the process that `unshare --fork` started (PID 1 of the new namespace).
pub(crate) fn inner_pid(unshare: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "unshare did not start its child");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub(crate) fn sigkill(pid: u32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::SIGKILL);
}
