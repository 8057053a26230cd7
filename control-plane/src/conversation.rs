//! Conversation state (DESIGN.md §9, ARCHITECTURE.md "Conversations"): the bundled CLI's session files
//! that the runner prints after each turn as `conversation.state` lines, and that the next turn's job
//! carries back as `conversation`.
//!
//! At ingest each such event is diverted: its `data` becomes a small marker in the event log (which stays
//! gap-free), and the piece itself goes to the session's state rows, sealed with the secrets key when the
//! server has one (a transcript holds whatever tools printed). At claim time the pieces of the latest
//! earlier session with a complete state are joined into the job's `conversation`.

use std::collections::BTreeMap;

use protocol::{ConversationState, Event, FileEncoding, FileSpec};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::secrets::SecretsKey;

/// The event type of a state piece.
pub const STATE_EVENT: &str = "conversation.state";
/// Most bytes of file content one job carries back; a larger state fails the session (a job the runner
/// could not restore, or one no runtime accepts, would be worse).
pub const MAX_STATE_BYTES: usize = 32 * 1024 * 1024;

/// One `conversation.state` line as the runner prints it (agent-runner/conversation.mjs `stateLines`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    sdk_session_id: String,
    config_dir: String,
    seq: u32,
    path: String,
    #[serde(default)]
    encoding: Option<FileEncoding>,
    data: String,
    #[serde(default)]
    last: bool,
}

/// A piece as stored: `data` sealed (base64 of nonce, ciphertext, tag) when `sealed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePiece {
    pub session_id: String,
    pub seq: i64,
    pub path: String,
    pub encoding: FileEncoding,
    pub sdk_session_id: String,
    pub config_dir: String,
    pub last: bool,
    pub data: String,
    pub sealed: bool,
}

/// The associated data of a sealed piece: a piece moved to another session or seq does not open.
fn sealed_name(seq: i64) -> String {
    format!("conversation.state/{seq}")
}

/// Takes the state pieces out of `events`: each `conversation.state` event of the agent keeps its place
/// (and seq) with `{path, seq, last, bytes}` as its data; a line that is not a state piece becomes
/// `{"invalid": true}` so no unparsed transcript lands in the log either.
pub fn divert(events: &mut [Event], key: Option<&SecretsKey>) -> Vec<StatePiece> {
    let mut pieces = Vec::new();
    for event in events.iter_mut() {
        if event.kind != STATE_EVENT || event.source != protocol::EventSource::Agent {
            continue;
        }
        let marker = match serde_json::from_str::<Line>(event.data.get()) {
            Ok(line) => {
                let seq = i64::from(line.seq);
                let marker = serde_json::json!({"path": line.path, "seq": seq, "last": line.last,
                    "bytes": line.data.len()});
                let session_id = event.session_id.to_string();
                let (data, sealed) = match key {
                    Some(key) => (key.seal(&session_id, &sealed_name(seq), &line.data), true),
                    None => (line.data, false),
                };
                pieces.push(StatePiece {
                    session_id,
                    seq,
                    path: line.path,
                    encoding: line.encoding.unwrap_or_default(),
                    sdk_session_id: line.sdk_session_id,
                    config_dir: line.config_dir,
                    last: line.last,
                    data,
                    sealed,
                });
                marker
            }
            Err(_) => serde_json::json!({"invalid": true}),
        };
        event.data = RawValue::from_string(marker.to_string()).expect("a JSON value serialises");
    }
    pieces
}

/// Why a session's stored pieces make no usable state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProblem {
    #[error("incomplete: {0}")]
    Incomplete(String),
    #[error("the conversation state is {0} bytes, more than the {MAX_STATE_BYTES} a job may carry")]
    TooLarge(usize),
    #[error("a piece does not open with this server's secrets key")]
    Sealed,
}

/// Joins one session's pieces (any order) into the `conversation` of the next job: complete only with
/// seqs 0..=N without a gap, `last` on N alone, and one `sdkSessionId`/`configDir` throughout.
pub fn assemble(pieces: &[StatePiece], key: Option<&SecretsKey>) -> Result<ConversationState, StateProblem> {
    let incomplete = |why: &str| Err(StateProblem::Incomplete(why.to_owned()));
    let by_seq: BTreeMap<i64, &StatePiece> = pieces.iter().map(|p| (p.seq, p)).collect();
    let Some(first) = by_seq.values().next() else {
        return incomplete("no pieces");
    };
    let mut files: Vec<FileSpec> = Vec::new();
    let mut bytes = 0usize;
    for (i, (seq, piece)) in by_seq.iter().enumerate() {
        if *seq != i as i64 {
            return incomplete(&format!("piece {i} is missing"));
        }
        if piece.last != (i == by_seq.len() - 1) {
            return incomplete(if piece.last {
                "`last` before the end"
            } else {
                "no piece with `last`"
            });
        }
        if piece.sdk_session_id != first.sdk_session_id || piece.config_dir != first.config_dir {
            return incomplete("pieces of different SDK sessions");
        }
        let data = match (piece.sealed, key) {
            (false, _) => piece.data.clone(),
            (true, Some(key)) => key
                .open(&piece.session_id, &sealed_name(piece.seq), &piece.data)
                .map_err(|_| StateProblem::Sealed)?,
            (true, None) => return Err(StateProblem::Sealed),
        };
        bytes += data.len();
        if bytes > MAX_STATE_BYTES {
            return Err(StateProblem::TooLarge(bytes));
        }
        match files.last_mut() {
            // Pieces of one file are consecutive.
            Some(file) if file.path == piece.path => file.content.push_str(&data),
            _ => {
                if files.iter().any(|f| f.path == piece.path) {
                    return incomplete("the pieces of a file are not consecutive");
                }
                files.push(FileSpec {
                    path: piece.path.clone(),
                    content: data,
                    encoding: piece.encoding,
                })
            }
        }
    }
    Ok(ConversationState {
        sdk_session_id: first.sdk_session_id.clone(),
        config_dir: first.config_dir.clone(),
        files,
    })
}

mod latest;

pub use latest::{LatestError, latest};

#[cfg(test)]
mod tests;
