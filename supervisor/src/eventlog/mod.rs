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

mod reader;
mod record;
mod recover;
mod writer;

pub use reader::{LogReader, ReadRecord};
pub use record::{EventSink, decode_record, record_seq};
pub use recover::{Scan, scan_and_repair};
pub use writer::{LogWriter, Progress};
