//! Events as the supervisor writes them: NDJSON answers and the local log on disk.

use std::path::Path;

use serde_json::Value;

pub(crate) fn parse_ndjson(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
        .collect()
}

/// Events of a session read straight from its local log file (valid records only).
pub(crate) fn events_on_disk(state_dir: &Path, id: &str) -> Vec<Value> {
    let data = std::fs::read(state_dir.join("sessions").join(format!("{id}.log"))).expect("read event log");
    data.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let tab = line
                .iter()
                .rposition(|b| *b == b'\t')
                .expect("a record has a checksum");
            serde_json::from_slice(&line[..tab]).expect("a record is JSON")
        })
        .collect()
}

/// Whether the session's local log holds `text` anywhere (false while the log does not exist yet).
pub(crate) fn log_contains(state_dir: &Path, id: &str, text: &str) -> bool {
    std::fs::read(state_dir.join("sessions").join(format!("{id}.log")))
        .is_ok_and(|data| data.windows(text.len()).any(|w| w == text.as_bytes()))
}

/// The texts of a session's `text` events (what the agent printed that was not JSON).
pub(crate) fn agent_texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["source"] == "agent" && e["type"] == "text")
        .map(|e| e["data"]["text"].as_str().unwrap().to_owned())
        .collect()
}
