use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::{EventSource, SessionId};
use serde::Serialize;
use tokio::sync::watch;

use super::EventSink;

/// Encoding buffer kept between commits.
const KEEP_CAPACITY: usize = 2 << 20;

/// What readers may see of a log: bytes up to `committed_len` are whole records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) committed_len: u64,
    pub(crate) last_seq: Option<u64>,
    /// No record will ever be appended again.
    pub(crate) finished: bool,
}

/// The one writer of a session's log. Callers serialise access (it lives behind the session's mutex).
#[derive(Debug)]
pub(crate) struct LogWriter {
    session_id: SessionId,
    path: PathBuf,
    /// Shared so that the periodic sync runs outside the session's lock (`sync_target`).
    file: Arc<File>,
    next_seq: u64,
    /// Encoded records not yet written.
    pending: Vec<u8>,
    pending_last_seq: Option<u64>,
    pending_records: u64,
    progress: watch::Sender<Progress>,
    synced_len: u64,
}

impl LogWriter {
    /// Creates the log of a new session; an existing file is an error (seqs are never reused).
    pub(crate) fn create(path: &Path, session_id: SessionId) -> io::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            session_id,
            path: path.to_owned(),
            file: Arc::new(file),
            next_seq: 0,
            pending: Vec::with_capacity(4096),
            pending_last_seq: None,
            pending_records: 0,
            progress: watch::Sender::new(Progress::default()),
            synced_len: 0,
        })
    }

    /// Reopens the log of an earlier incarnation to append after its last whole record (see `Scan`).
    pub(crate) fn reopen(
        path: &Path,
        session_id: SessionId,
        valid_len: u64,
        last_seq: Option<u64>,
    ) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).open(path)?;
        let progress = Progress {
            committed_len: valid_len,
            last_seq,
            finished: false,
        };
        Ok(Self {
            session_id,
            path: path.to_owned(),
            file: Arc::new(file),
            next_seq: last_seq.map_or(0, |s| s + 1),
            pending: Vec::with_capacity(4096),
            pending_last_seq: None,
            pending_records: 0,
            progress: watch::Sender::new(progress),
            synced_len: valid_len,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    pub(crate) fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Encodes one event with the next seq; it reaches the file at the next `commit`.
    pub(crate) fn push_raw(&mut self, ts: &str, source: EventSource, kind: &str, data_json: &[u8]) -> u64 {
        let seq = self.next_seq;
        EventSink {
            session_id: &self.session_id,
            buf: &mut self.pending,
        }
        .push_raw(seq, ts, source, kind, data_json);
        self.next_seq += 1;
        self.pending_last_seq = Some(seq);
        self.pending_records += 1;
        seq
    }

    pub(crate) fn push_value(
        &mut self,
        ts: &str,
        source: EventSource,
        kind: &str,
        data: &impl Serialize,
    ) -> u64 {
        let data = serde_json::to_vec(data).expect("event data always serialises");
        self.push_raw(ts, source, kind, &data)
    }

    /// Writes every pending record with one `write` and publishes them to readers; returns how many.
    ///
    /// On failure (a full disk) the file is cut back to its last whole record and the records stay
    /// pending, so a later commit writes them whole and seq order is kept.
    pub(crate) fn commit(&mut self) -> io::Result<u64> {
        if self.pending.is_empty() {
            return Ok(0);
        }
        let committed = self.progress.borrow().committed_len;
        if let Err(err) = (&*self.file).write_all(&self.pending) {
            // Best effort: if even this fails, the torn record is found by its checksum when read.
            let _ = self.file.set_len(committed);
            return Err(err);
        }
        let written = self.pending.len() as u64;
        self.pending.clear();
        // A long line can grow the buffer to `--max-line`; do not keep that much per idle session. The
        // records of one read of output (up to ~1 MiB) stay: freeing and regrowing them for every read
        // cost more CPU in page faults than all the parsing (seen with perf at 200k lines/s).
        if self.pending.capacity() > KEEP_CAPACITY {
            self.pending.shrink_to(KEEP_CAPACITY / 4);
        }
        let last_seq = self.pending_last_seq;
        self.progress.send_modify(|p| {
            p.committed_len = committed + written;
            p.last_seq = last_seq;
        });
        Ok(std::mem::take(&mut self.pending_records))
    }

    /// Flushes written records to stable storage when anything was written since the last sync.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        let committed = self.progress.borrow().committed_len;
        if committed != self.synced_len {
            self.file.sync_data()?;
            self.synced_len = committed;
        }
        Ok(())
    }

    /// The file and how much of it is written, for a sync that must not hold the session's lock.
    pub(crate) fn sync_target(&self) -> (Arc<File>, u64) {
        (self.file.clone(), self.progress.borrow().committed_len)
    }

    /// Commits, syncs and tells readers that the log is complete.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        let result = self.commit().and_then(|_| self.sync());
        self.progress.send_modify(|p| p.finished = true);
        result
    }
}
