//! Reading a log back at startup: find where its whole records end, repair a torn tail, count corruption.

use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{decode_record, record_seq};

/// What a log holds, found by streaming it once (never loading it whole).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Bytes of whole lines; anything after was a torn write and has been cut off.
    pub(crate) valid_len: u64,
    pub(crate) records: u64,
    /// Lines that failed their checksum (left in place; readers skip them).
    pub(crate) corrupt: u64,
    pub(crate) torn_bytes: u64,
    pub(crate) last_seq: Option<u64>,
    /// The data of `session.started` and of the last `session.finished`, if present.
    pub(crate) started: Option<Box<RawValue>>,
    pub(crate) finished: Option<Box<RawValue>>,
    pub(crate) first_ts: Option<String>,
    pub(crate) last_ts: Option<String>,
}

#[derive(Deserialize)]
struct Head<'a> {
    ts: String,
    /// A `Cow`: a type with an escape in it (a control character) cannot be borrowed, and is no less intact.
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    data: Box<RawValue>,
}

/// Scans `path` and cuts off a torn last line.
pub(crate) fn scan_and_repair(path: &Path) -> io::Result<Scan> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut reader = BufReader::with_capacity(256 * 1024, &file);
    let mut scan = Scan::default();
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // The last write was cut short (a crash mid-write): drop the partial record.
            scan.torn_bytes = n as u64;
            break;
        }
        offset += n as u64;
        scan.valid_len = offset;
        let Some(json) = decode_record(&line[..n - 1]) else {
            scan.corrupt += 1;
            continue;
        };
        let (Some(seq), Ok(head)) = (record_seq(json), serde_json::from_slice::<Head<'_>>(json)) else {
            scan.corrupt += 1;
            continue;
        };
        scan.records += 1;
        scan.last_seq = Some(scan.last_seq.map_or(seq, |last| last.max(seq)));
        if scan.first_ts.is_none() {
            scan.first_ts = Some(head.ts.clone());
        }
        match head.kind.as_ref() {
            "session.started" if seq == 0 || scan.started.is_none() => scan.started = Some(head.data),
            "session.finished" => scan.finished = Some(head.data),
            _ => {}
        }
        scan.last_ts = Some(head.ts);
    }
    if scan.torn_bytes > 0 {
        file.set_len(scan.valid_len)?;
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use protocol::{EventSource, SessionId};

    use super::*;
    use crate::eventlog::EventSink;

    #[test]
    fn a_torn_tail_is_cut_and_corrupt_records_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let id = SessionId::parse("s").unwrap();
        let mut buf = Vec::new();
        let mut sink = EventSink {
            session_id: &id,
            buf: &mut buf,
        };
        sink.push_raw(
            0,
            "t0",
            EventSource::Supervisor,
            "session.started",
            br#"{"pid":1}"#,
        );
        sink.push_raw(1, "t1", EventSource::Agent, "text", br#"{"text":"a"}"#);
        sink.push_raw(2, "t2", EventSource::Agent, "text", br#"{"text":"b"}"#);
        let whole = buf.len() as u64;
        let second = buf.iter().position(|b| *b == b'\n').unwrap() + 20;
        buf[second] ^= 0x20; // flip a bit inside record 1
        buf.extend_from_slice(b"{\"sessionId\":\"s\",\"seq\":3,\"ts"); // torn write
        std::fs::File::create(&path).unwrap().write_all(&buf).unwrap();

        let scan = scan_and_repair(&path).unwrap();
        assert_eq!((scan.records, scan.corrupt, scan.last_seq), (2, 1, Some(2)));
        assert_eq!(scan.valid_len, whole);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert_eq!(scan.started.unwrap().get(), r#"{"pid":1}"#);
        assert!(scan.finished.is_none());
    }

    #[test]
    fn an_intact_record_with_control_characters_in_its_type_is_not_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let id = SessionId::parse("s").unwrap();
        let mut buf = Vec::new();
        let mut sink = EventSink {
            session_id: &id,
            buf: &mut buf,
        };
        sink.push_raw(0, "t0", EventSource::Agent, "bell\u{7}\n", b"{}");
        sink.push_raw(
            1,
            "t1",
            EventSource::Supervisor,
            "session.finished",
            br#"{"status":"failed"}"#,
        );
        std::fs::File::create(&path).unwrap().write_all(&buf).unwrap();
        let scan = scan_and_repair(&path).unwrap();
        assert_eq!((scan.records, scan.corrupt, scan.last_seq), (2, 0, Some(1)));
        assert!(scan.finished.is_some());
    }
}
