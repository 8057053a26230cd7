//! The text format of PostgreSQL's `COPY … FROM STDIN`, written straight from the events (no re-encoding).

use protocol::Event;

/// Appends `event` as one row: tab-separated columns, newline-terminated, with backslash, tab, newline and
/// carriage return escaped (JSON text may hold the last three as whitespace).
pub(super) fn row(out: &mut Vec<u8>, event: &Event) {
    text(out, event.session_id.as_str());
    out.push(b'\t');
    out.extend_from_slice(event.seq.to_string().as_bytes());
    out.push(b'\t');
    text(out, &event.ts);
    out.push(b'\t');
    text(out, event.source.as_str());
    out.push(b'\t');
    text(out, &event.kind);
    out.push(b'\t');
    text(out, event.data.get());
    out.push(b'\n');
}

fn text(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // JSON text holds carriage returns only as (rare) whitespace: without one, memchr3 finds the rest fast.
    let has_cr = memchr::memchr(b'\r', bytes).is_some();
    let mut start = 0;
    while start < bytes.len() {
        let next = if has_cr {
            bytes[start..]
                .iter()
                .position(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        } else {
            memchr::memchr3(b'\\', b'\t', b'\n', &bytes[start..])
        };
        let Some(offset) = next else { break };
        let at = start + offset;
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(match bytes[at] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            _ => b"\\r",
        });
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    #[track_caller]
    fn check(input: &str, expect: Expect) {
        let mut out = Vec::new();
        super::text(&mut out, input);
        expect.assert_eq(&String::from_utf8(out).expect("UTF-8 in, UTF-8 out"));
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        check("", expect![""]);
        check("plain ünï", expect!["plain ünï"]);
        check(r#"{"a":"x\ny"}"#, expect![[r#"{"a":"x\\ny"}"#]]);
        check("{\t\"a\":1,\n}\\", expect![[r#"{\t"a":1,\n}\\"#]]);
        // With a carriage return the slow path runs: same rules.
        check("\r\n\t\\x", expect![[r#"\r\n\t\\x"#]]);
    }
}
