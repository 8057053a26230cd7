//! Child processes: the one reaper, spawning agents into their own sessions, and signalling groups.
//!
//! Invariant (ARCHITECTURE.md, "One reaper"): `Reaper::reap_all` is the only place in the program that
//! collects exit statuses. Nothing else calls `waitpid` or any std/tokio API that waits for a child, and
//! `Reaper::spawn` holds the registry lock across `fork`/`exec` so that a child that exits at once cannot
//! be reaped before its pid is registered.

mod reaper;
mod spawn;

pub(crate) use reaper::{ExitStatus, Reaper};
pub(crate) use spawn::{RunAs, SpawnSpec, Spawned, signal_group, signal_name};
