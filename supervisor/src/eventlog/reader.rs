use std::io;
use std::path::Path;

use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use super::{Progress, decode_record, record_seq};

/// One record read back from a log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadRecord {
    /// The event JSON (without the checksum) and the file offset just past its record.
    Event { seq: u64, json: Vec<u8>, end: u64 },
    /// A record that failed its checksum; skipped and counted.
    Corrupt,
}

/// Streams a session's log from the start, optionally following it while it grows.
///
/// Only bytes below `Progress::committed_len` are read, so a reader never sees half a batch.
#[derive(Debug)]
pub(crate) struct LogReader {
    file: tokio::fs::File,
    progress: watch::Receiver<Progress>,
    offset: u64,
    buf: Vec<u8>,
    start: usize,
}

const READ_CHUNK: usize = 64 * 1024;

impl LogReader {
    pub(crate) async fn open(path: &Path, progress: watch::Receiver<Progress>) -> io::Result<Self> {
        let file = tokio::fs::File::open(path).await?;
        Ok(Self {
            file,
            progress,
            offset: 0,
            buf: Vec::new(),
            start: 0,
        })
    }

    /// The next record; `None` at the end of the committed log, or, when `follow`, once the log is
    /// finished and fully read.
    pub(crate) async fn next(&mut self, follow: bool) -> io::Result<Option<ReadRecord>> {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf[self.start..]) {
                let line = &self.buf[self.start..self.start + nl];
                self.start += nl + 1;
                // `offset` is where the buffered bytes end in the file.
                let end = self.offset - (self.buf.len() - self.start) as u64;
                return Ok(Some(match decode_record(line) {
                    Some(json) => match record_seq(json) {
                        Some(seq) => ReadRecord::Event {
                            seq,
                            json: json.to_vec(),
                            end,
                        },
                        None => ReadRecord::Corrupt,
                    },
                    None => ReadRecord::Corrupt,
                }));
            }
            let progress = *self.progress.borrow_and_update();
            if self.offset < progress.committed_len {
                self.fill(progress.committed_len).await?;
                continue;
            }
            if !follow || progress.finished {
                return Ok(None);
            }
            if self.progress.changed().await.is_err() {
                // The writer is gone without finishing (shutdown): nothing more will come.
                return Ok(None);
            }
        }
    }

    async fn fill(&mut self, committed_len: u64) -> io::Result<()> {
        self.buf.drain(..self.start);
        self.start = 0;
        let want = usize::try_from(committed_len - self.offset)
            .unwrap_or(usize::MAX)
            .min(READ_CHUNK);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let n = self.file.read(&mut self.buf[old..]).await?;
        self.buf.truncate(old + n);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "event log shorter than committed",
            ));
        }
        self.offset += n as u64;
        Ok(())
    }
}
