//! Fault case 8: the local log corrupted before a restart.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use serde_json::Value;

use crate::faults::fixtures::*;
use crate::faults::oracle::*;
use crate::support::*;

/// The offset of the start of the record holding line `n` of `id`.
fn record_offset(data: &[u8], id: &str, n: u64) -> usize {
    let needle = format!("\\\"sid\\\":\\\"{id}\\\",\\\"n\\\":{n},");
    let plain = format!("\"sid\":\"{id}\",\"n\":{n},");
    let text = String::from_utf8_lossy(data);
    let at = text
        .find(&plain)
        .or_else(|| text.find(&needle))
        .unwrap_or_else(|| panic!("line {n} of {id} in its log"));
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

#[tokio::test(flavor = "multi_thread")]
async fn f08_corrupted_local_log() {
    let db = SqliteDb::new();
    let addr = free_addr();
    let sup = shipping_to(addr).start();
    let mut agents = Vec::new();
    for id in ["f8-flip", "f8-trunc", "f8-gone", "f8-intact"] {
        agents.push(start_agent(&sup, id, 3000, 1000, "0").await);
    }
    wait_all_finished(&sup, &agents).await;
    let sessions = sup.state_dir().join("sessions");
    // Flipped bytes in the middle: one record fails its checksum.
    let path = sessions.join("f8-flip.log");
    let mut data = std::fs::read(&path).unwrap();
    let at = record_offset(&data, "f8-flip", 1500);
    let pad = at + memchr_find(&data[at..], PAD.as_bytes()).unwrap();
    data[pad] = b'A';
    data[pad + 1] = b'B';
    std::fs::write(&path, &data).unwrap();
    // A truncated last record: the tail is torn in the middle of line 3000 (`session.finished` is gone).
    let path = sessions.join("f8-trunc.log");
    let data = std::fs::read(&path).unwrap();
    let at = record_offset(&data, "f8-trunc", 3000);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((at + 40) as u64)
        .unwrap();
    // A deleted log.
    std::fs::remove_file(sessions.join("f8-gone.log")).unwrap();

    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let cp = ControlPlane::start_on(addr, &db.url()).await;
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f8").await;
    let startup = sup
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "recovered earlier sessions")
        .expect("the recovery summary");
    let excused = HashMap::from([
        (
            "f8-flip".to_owned(),
            Excused {
                lines: BTreeSet::from([1500]),
                ..Default::default()
            },
        ),
        (
            "f8-trunc".to_owned(),
            Excused {
                lines: BTreeSet::from([3000]),
                ..Default::default()
            },
        ),
    ]);
    let checked: Vec<Agent> = agents.iter().filter(|a| a.id != "f8-gone").cloned().collect();
    let tally = tally(&cp, &sup.state_dir(), &checked, &excused, true).await;
    header();
    report(
        "8 corrupted local log",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "corrupt_records {} torn_bytes {}",
            startup["corrupt_records"], startup["torn_bytes"]
        ),
    );
    assert_eq!(startup["corrupt_records"], 1, "{startup}");
    assert!(startup["torn_bytes"].as_u64().unwrap() > 0, "{startup}");
    assert_eq!(cp.session("f8-trunc").await["status"], "lost");
    assert_ne!(cp.session("f8-flip").await["status"], "lost");
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
