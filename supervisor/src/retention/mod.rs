//! Retention (`--retain`): a finished session's local log and directories are removed once every event of
//! it was acknowledged by its destination and it finished at least `--retain` ago; nothing unacknowledged
//! is ever removed.
//!
//! `decide` is the pure decision over a session's facts; `ledger` remembers the removed ids on disk;
//! `sweep` is the task that applies the decision.

pub(crate) mod decide;
pub(crate) mod ledger;
pub(crate) mod sweep;

pub(crate) use decide::Retain;
