//! Splits a byte stream into lines, cutting lines longer than the limit.

/// What the splitter found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// A whole line, without its `\n` (or the last bytes before EOF, which had none).
    Line(&'a [u8]),
    /// The first `max_line` bytes of a longer line; the rest is dropped and reported by `Dropped`.
    Cut(&'a [u8]),
    /// The end of a cut line: how many bytes of it were dropped.
    Dropped(u64),
}

/// A line splitter with bounded memory: it keeps at most `max_line` bytes of an unfinished line.
#[derive(Debug)]
pub(crate) struct Lines {
    max_line: usize,
    partial: Vec<u8>,
    /// Bytes dropped so far of the line being cut, while one is.
    dropping: Option<u64>,
}

impl Lines {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            max_line: max_line.max(1),
            partial: Vec::new(),
            dropping: None,
        }
    }

    /// Feeds the next chunk of the stream.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        while !chunk.is_empty() {
            let newline = memchr::memchr(b'\n', chunk);
            if let Some(dropped) = self.dropping.as_mut() {
                match newline {
                    Some(at) => {
                        out(Piece::Dropped(*dropped + at as u64));
                        self.dropping = None;
                        chunk = &chunk[at + 1..];
                    }
                    None => {
                        *dropped += chunk.len() as u64;
                        return;
                    }
                }
                continue;
            }
            let line_end = newline.unwrap_or(chunk.len());
            let room = self.max_line - self.partial.len();
            if line_end > room {
                // The line is longer than the limit: emit its first `max_line` bytes and drop the rest.
                self.partial.extend_from_slice(&chunk[..room]);
                out(Piece::Cut(&self.partial));
                self.partial.clear();
                self.dropping = Some(0);
                chunk = &chunk[room..];
                continue;
            }
            match newline {
                Some(at) if self.partial.is_empty() => out(Piece::Line(&chunk[..at])),
                Some(at) => {
                    self.partial.extend_from_slice(&chunk[..at]);
                    out(Piece::Line(&self.partial));
                    self.partial.clear();
                }
                None => {
                    self.partial.extend_from_slice(chunk);
                    return;
                }
            }
            chunk = &chunk[line_end + 1..];
        }
        // A long line can grow the buffer to `max_line`; do not keep that much per idle session.
        if self.partial.is_empty() && self.partial.capacity() > 64 * 1024 {
            self.partial = Vec::new();
        }
    }

    /// The stream ended: a last line without `\n` is still a line.
    pub(crate) fn finish(&mut self, out: &mut impl FnMut(Piece<'_>)) {
        if let Some(dropped) = self.dropping.take() {
            out(Piece::Dropped(dropped));
        } else if !self.partial.is_empty() {
            out(Piece::Line(&self.partial));
        }
        self.partial = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max_line: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::new(max_line);
        let mut got = Vec::new();
        let mut push = |piece: Piece<'_>| {
            got.push(match piece {
                Piece::Line(l) => format!("line {}", String::from_utf8_lossy(l)),
                Piece::Cut(l) => format!("cut {}", String::from_utf8_lossy(l)),
                Piece::Dropped(n) => format!("dropped {n}"),
            })
        };
        for chunk in chunks {
            lines.feed(chunk, &mut push);
        }
        lines.finish(&mut push);
        got
    }

    #[test]
    fn splits_across_chunks_and_keeps_the_last_line_without_newline() {
        assert_eq!(
            split(100, &[b"a\nb", b"c\n", b"\nlast"]),
            ["line a", "line bc", "line ", "line last"]
        );
    }

    #[test]
    fn cuts_long_lines_and_counts_what_was_dropped() {
        assert_eq!(
            split(4, &[b"abcdefgh\nok\n"]),
            ["cut abcd", "dropped 4", "line ok"]
        );
        assert_eq!(
            split(4, &[b"ab", b"cdef", b"gh", b"ij\nxy"]),
            ["cut abcd", "dropped 6", "line xy"]
        );
        assert_eq!(split(4, &[b"abcd\n"]), ["line abcd"]);
        assert_eq!(split(4, &[b"abcdefg"]), ["cut abcd", "dropped 3"]);
    }
}
