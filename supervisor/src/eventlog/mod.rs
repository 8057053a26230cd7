//! The durable local event log: one append-only file per session.
//!
//! Record format, one per line: `<event JSON>\t<crc32 of the JSON, 8 lowercase hex digits>\n`. The JSON is
//! exactly the wire `protocol::Event`, so serving it needs no re-encoding; the checksum finds torn and
//! corrupted records after a crash or a bad disk. Serialised JSON never contains a raw tab or newline,
//! which is what makes both usable as separators.
//!
//! Invariants: seq numbers in a file start at 0 and increase by one per record; a record is appended
//! with one `write` per batch and is visible to readers only once the whole batch is written
//! (`Progress::committed_len`).
//!
//! Layout: `record` encodes and decodes one record, `writer` appends, `reader` streams (and follows),
//! `scan` reads a log back at start-up (and cuts a torn tail), `sync` is the once-a-second fsync loop.

mod reader;
mod record;
mod scan;
mod sync;
mod writer;

pub(crate) use reader::{LogReader, ReadRecord};
pub(crate) use record::{EventSink, decode_record, record_seq};
pub(crate) use scan::scan_and_repair;
pub(crate) use sync::sync_logs;
pub(crate) use writer::{LogWriter, Progress};

/// The timestamp format of events and sessions: RFC 3339, UTC, milliseconds.
pub(crate) fn now_ts() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
