//! Child processes: the one reaper, spawning agents into their own sessions, signalling groups, the
//! per-session uids and ending every process of one.
//!
//! Invariant (ARCHITECTURE.md, "One reaper"): `Reaper::reap_all` is the only place in the program that
//! collects exit statuses. Nothing else calls `waitpid` or any std/tokio API that waits for a child, and
//! `Reaper::spawn` and `Reaper::fork` hold the registry lock across `fork`, so that a child that exits at
//! once cannot be reaped before its pid is registered.

mod reaper;
mod spawn;
mod sweep;
mod uids;

pub(crate) use reaper::{ExitStatus, Reaper};
pub(crate) use spawn::{RunAs, SpawnSpec, Spawned, signal_group, signal_name};
pub(crate) use sweep::{kill_uid, signal_uid, uids_in_use, until_gone};
pub(crate) use uids::{UidPool, UidRange, range_problem};
