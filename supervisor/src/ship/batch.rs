//! Reading sessions' logs into batches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use protocol::SessionId;

use super::{BATCH_MAX_BYTES, BATCH_MAX_EVENTS};
use crate::eventlog::{LogReader, ReadRecord};
use crate::session::entry::SessionEntry;

/// A session whose events are being shipped.
#[derive(Debug)]
pub(super) struct Tracked {
    entry: Arc<SessionEntry>,
    reader: Option<LogReader>,
    /// The highest seq the destination confirmed.
    acked: Option<u64>,
    cursor_path: PathBuf,
}

#[derive(Debug)]
struct Item {
    session_id: SessionId,
    seq: u64,
    json: Vec<u8>,
    /// Where its record ends in the log.
    end: u64,
}

/// Events on their way, in log order per session.
#[derive(Debug)]
pub(super) struct Batch {
    items: Vec<Item>,
}

impl Tracked {
    pub(super) fn new(entry: Arc<SessionEntry>, acked: Option<u64>) -> Self {
        let cursor_path = super::cursor::cursor_path(&entry.log_path);
        if acked.is_none() {
            super::cursor::mark(&cursor_path);
        }
        entry.shipping.store(true, std::sync::atomic::Ordering::Relaxed);
        Self {
            entry,
            reader: None,
            acked,
            cursor_path,
        }
    }

    pub(super) fn session_id(&self) -> &SessionId {
        &self.entry.id
    }

    /// The shipper's cursor.
    pub(super) fn cursor(&self) -> super::cursor::Cursor {
        super::cursor::Cursor::of(self.acked)
    }

    /// Finished and everything delivered.
    pub(super) fn is_done(&self) -> bool {
        let progress = *self.entry.progress.borrow();
        progress.finished
            && progress
                .last_seq
                .is_none_or(|last| self.acked.is_some_and(|a| a >= last))
    }

    /// Records that the destination refused the session for good: nothing more of it is shipped, now or
    /// after a restart, and its log no longer counts as a backlog.
    pub(super) fn reject(&mut self) {
        self.entry
            .shipping
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.acked = Some(super::cursor::REJECTED);
        super::cursor::write(&self.cursor_path, super::cursor::REJECTED);
    }

    /// Records that the destination has every event up to `seq` (whose record ends at `end`), durably
    /// for the next start.
    pub(super) fn acked(&mut self, seq: u64, end: u64) {
        if self.acked.is_some_and(|a| a >= seq) {
            return;
        }
        self.entry
            .delivered_end
            .fetch_max(end, std::sync::atomic::Ordering::Relaxed);
        self.acked = Some(seq);
        super::cursor::write(&self.cursor_path, seq);
    }
}

/// The next batch from the tracked sessions' logs, or `None` when nothing is waiting.
pub(super) async fn assemble(tracked: &mut [Tracked]) -> Option<Batch> {
    let mut items = Vec::new();
    let mut bytes = 0;
    'sessions: for t in tracked.iter_mut() {
        if t.reader.is_none() {
            match LogReader::open(&t.entry.log_path, t.entry.progress.clone()).await {
                Ok(reader) => t.reader = Some(reader),
                Err(err) => {
                    tracing::error!(session_id = %t.entry.id, error = %err, "open event log for delivery");
                    continue;
                }
            }
        }
        let reader = t.reader.as_mut().expect("opened above");
        while items.len() < BATCH_MAX_EVENTS && bytes < BATCH_MAX_BYTES {
            match reader.next(false).await {
                Ok(Some(ReadRecord::Event { seq, json, end })) => {
                    if t.acked.is_some_and(|acked| seq <= acked) {
                        // Delivered by an earlier incarnation.
                        t.entry
                            .delivered_end
                            .fetch_max(end, std::sync::atomic::Ordering::Relaxed);
                        continue;
                    }
                    bytes += json.len() + 1;
                    items.push(Item {
                        session_id: t.entry.id.clone(),
                        seq,
                        json,
                        end,
                    });
                }
                Ok(Some(ReadRecord::Corrupt)) => {
                    tracing::warn!(session_id = %t.entry.id, "skipped a corrupt record while shipping");
                }
                Ok(None) => continue 'sessions,
                Err(err) => {
                    tracing::error!(session_id = %t.entry.id, error = %err, "read event log for delivery");
                    continue 'sessions;
                }
            }
        }
        break;
    }
    (!items.is_empty()).then_some(Batch { items })
}

impl Batch {
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Closed by a size limit rather than by running out of events.
    pub(super) fn is_full(&self) -> bool {
        self.items.len() >= BATCH_MAX_EVENTS
            || self.items.iter().map(|i| i.json.len() + 1).sum::<usize>() >= BATCH_MAX_BYTES
    }

    /// `{"runtimeId": …, "events": [<records as they are in the log>]}`: no event is re-encoded.
    pub(super) fn body(&self, runtime_id: &str) -> Vec<u8> {
        let size: usize = self.items.iter().map(|i| i.json.len() + 1).sum();
        let mut body = Vec::with_capacity(size + runtime_id.len() + 32);
        body.extend_from_slice(b"{\"runtimeId\":");
        serde_json::to_writer(&mut body, runtime_id).expect("a str always serialises");
        body.extend_from_slice(b",\"events\":[");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&item.json);
        }
        body.extend_from_slice(b"]}");
        body
    }

    pub(super) fn split(mut self) -> (Batch, Batch) {
        let second = self.items.split_off(self.items.len() / 2);
        (self, Batch { items: second })
    }

    /// Per session, the last seq in this batch and where its record ends.
    pub(super) fn last_seqs(&self) -> BTreeMap<SessionId, (u64, u64)> {
        let mut last = BTreeMap::new();
        for item in &self.items {
            last.insert(item.session_id.clone(), (item.seq, item.end));
        }
        last
    }

    /// Whether an event of type `kind` is in the batch.
    pub(super) fn has_kind(&self, kind: &str) -> bool {
        let needle = format!("\"type\":\"{kind}\",\"data\":");
        self.items
            .iter()
            .any(|item| memchr::memmem::find(&item.json, needle.as_bytes()).is_some())
    }

    /// Per session, the first and last seq in this batch.
    pub(super) fn seq_ranges(&self) -> BTreeMap<SessionId, (u64, u64)> {
        let mut ranges: BTreeMap<SessionId, (u64, u64)> = BTreeMap::new();
        for item in &self.items {
            ranges
                .entry(item.session_id.clone())
                .and_modify(|r| r.1 = item.seq)
                .or_insert((item.seq, item.seq));
        }
        ranges
    }

    /// A file-name-safe label of the batch's first event.
    pub(super) fn first_label(&self) -> String {
        self.items
            .first()
            .map(|i| format!("{}-{}", i.session_id, i.seq))
            .unwrap_or_default()
    }
}
