use std::io::Write;

use protocol::{EventSource, SessionId};

/// Encodes events as log records into a buffer.
#[derive(Debug)]
pub(crate) struct EventSink<'a> {
    pub(crate) session_id: &'a SessionId,
    pub(crate) buf: &'a mut Vec<u8>,
}

impl EventSink<'_> {
    /// Appends one record whose `data` is `data_json`, which must be one valid JSON value.
    pub(crate) fn push_raw(&mut self, seq: u64, ts: &str, source: EventSource, kind: &str, data_json: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(b"{\"sessionId\":\"");
        // Session ids are `[A-Za-z0-9_-]`: nothing to escape.
        self.buf.extend_from_slice(self.session_id.as_str().as_bytes());
        write!(
            self.buf,
            "\",\"seq\":{seq},\"ts\":\"{ts}\",\"source\":\"{}\",\"type\":",
            source.as_str()
        )
        .expect("writing to a Vec cannot fail");
        serde_json::to_writer(&mut *self.buf, kind).expect("a str always serialises");
        self.buf.extend_from_slice(b",\"data\":");
        self.buf.extend_from_slice(data_json);
        self.buf.push(b'}');
        let crc = crc32fast::hash(&self.buf[start..]);
        writeln!(self.buf, "\t{crc:08x}").expect("writing to a Vec cannot fail");
    }
}

/// Checks one record line (without its `\n`) and returns the event JSON, or `None` when it is corrupt.
pub(crate) fn decode_record(line: &[u8]) -> Option<&[u8]> {
    let tab = memchr::memrchr(b'\t', line)?;
    let (json, crc) = (&line[..tab], &line[tab + 1..]);
    let crc = std::str::from_utf8(crc).ok().filter(|c| c.len() == 8)?;
    let expected = u32::from_str_radix(crc, 16).ok()?;
    (crc32fast::hash(json) == expected).then_some(json)
}

/// The seq of a decoded record, read from the fixed prefix the writer produces.
pub(crate) fn record_seq(json: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(json, b"\",\"seq\":")? + 8;
    let digits = json[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&json[at..at + digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_decode_to_the_wire_event() {
        let id = SessionId::parse("s-1").unwrap();
        let mut buf = Vec::new();
        let mut sink = EventSink {
            session_id: &id,
            buf: &mut buf,
        };
        sink.push_raw(
            41,
            "2026-11-25T12:00:00.123Z",
            EventSource::Agent,
            "assistant",
            br#"{"type":"assistant"}"#,
        );
        sink.push_raw(
            42,
            "2026-11-25T12:00:00.124Z",
            EventSource::Stderr,
            "stderr",
            &serde_json::to_vec(&serde_json::json!({"text": "tab\there"})).unwrap(),
        );
        let lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        let json = decode_record(lines[1]).expect("valid record");
        assert_eq!(record_seq(json), Some(42));
        let event: protocol::Event = serde_json::from_slice(json).unwrap();
        assert_eq!(
            (event.seq, event.kind.as_str(), event.data.get()),
            (42, "stderr", r#"{"text":"tab\there"}"#)
        );
        let event: protocol::Event = serde_json::from_slice(decode_record(lines[0]).unwrap()).unwrap();
        assert_eq!(event.source, EventSource::Agent);
    }

    #[test]
    fn flipped_or_torn_records_are_rejected() {
        let id = SessionId::parse("s-1").unwrap();
        let mut buf = Vec::new();
        EventSink {
            session_id: &id,
            buf: &mut buf,
        }
        .push_raw(0, "t", EventSource::Agent, "text", br#"{"text":"hello"}"#);
        let line = &buf[..buf.len() - 1];
        assert!(decode_record(line).is_some());
        let mut flipped = line.to_vec();
        flipped[30] ^= 0x01;
        assert!(decode_record(&flipped).is_none());
        assert!(decode_record(&line[..line.len() - 3]).is_none());
    }
}
