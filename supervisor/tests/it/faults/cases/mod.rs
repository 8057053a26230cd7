//! One file per fault case; the numbers are the rows of the results table.

mod backlog;
mod control_plane_killed;
mod corrupted_log;
mod postgres;
mod sigterm;
mod slow_receiver;
mod spool_cap;
mod status_codes;
mod supervisor_killed;
