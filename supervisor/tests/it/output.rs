//! Output handling: nothing lost below the limits, long lines cut and reported, memory bounded.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(60);

fn truncations(events: &[Value]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter(|e| e["type"] == "output.truncated")
        .map(|e| {
            (
                e["data"]["stream"].as_str().unwrap().to_owned(),
                e["data"]["droppedBytes"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A field of `/proc/<pid>/status` in KiB: `VmRSS` (resident now) or `VmHWM` (the peak since start, or since
/// the last `reset_peak`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

/// How much more memory a supervisor may hold while it handles a session's output than before it: a few
/// read buffers and one line of `--max-line` (1 MiB by default) with its event, and the allocator's slack
/// (2 to 3.6 MiB measured). A supervisor that held the 20 MB its agent printed would grow by at least the
/// 19.1 MiB it had to write into memory, far past this.
const GROWTH_BOUND_KIB: u64 = 8 * 1024;

/// The supervisor's resident memory once it has started and run one session (so that what a first session
/// costs, its tasks and buffers, is in it), with its peak reset to it: the growth of `VmHWM` over this is
/// what the next session's output costs.
async fn memory_baseline(sup: &Sup) -> u64 {
    sup.run_cmd("s-warm-up", "seq 1 1000").await;
    sup.wait_finished("s-warm-up", WAIT).await;
    // `5` resets the peak resident set (VmHWM) to the current one (proc(5), `clear_refs`).
    std::fs::write(format!("/proc/{}/clear_refs", sup.pid), "5").expect("reset the peak RSS (needs root)");
    status_kib(sup.pid, "VmRSS")
}

/// How much the supervisor's peak resident memory grew over `baseline`, in KiB.
fn growth_kib(sup: &Sup, baseline: u64) -> u64 {
    status_kib(sup.pid, "VmHWM").saturating_sub(baseline)
}

#[tokio::test]
async fn two_hundred_thousand_lines_arrive_in_order() {
    let sup = Options::default().start();
    sup.run_cmd("s-lines", "seq 1 200000").await;
    sup.wait_finished("s-lines", WAIT).await;
    let events = sup.events("s-lines").await;
    let texts = agent_texts(&events);
    assert_eq!(texts.len(), 200_000);
    assert!(
        texts.iter().enumerate().all(|(i, t)| *t == (i + 1).to_string()),
        "lines out of order or changed"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (0..events.len() as u64).collect::<Vec<_>>(),
        "seqs have no gap"
    );
}

#[tokio::test]
async fn output_without_newline_is_cut_at_max_line_and_reported() {
    let sup = Options::default().start();
    let baseline = memory_baseline(&sup).await;
    // 20 MB with no newline at all, against the default --max-line of 1 MiB.
    sup.run_cmd("s-nonl", "head -c 20000000 /dev/zero | tr '\\0' a")
        .await;
    sup.wait_finished("s-nonl", WAIT).await;
    let events = sup.events("s-nonl").await;
    let texts = agent_texts(&events);
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].len(), 1 << 20);
    assert!(texts[0].bytes().all(|b| b == b'a'));
    assert_eq!(
        truncations(&events),
        [("stdout".to_owned(), 20_000_000 - (1 << 20))]
    );
    // The supervisor kept at most about one line in memory, not the 20 MB.
    let growth = growth_kib(&sup, baseline);
    assert!(
        growth < GROWTH_BOUND_KIB,
        "peak RSS grew {growth} KiB over {baseline} KiB after start-up (bound {GROWTH_BOUND_KIB} KiB)"
    );
}

#[tokio::test]
async fn a_five_mib_line_is_cut_and_the_next_lines_are_kept() {
    let sup = Options::default().start();
    sup.run_cmd("s-long", "echo before; head -c 5242880 /dev/zero | tr '\\0' x; echo; echo after; printf 'last without newline'").await;
    sup.wait_finished("s-long", WAIT).await;
    let events = sup.events("s-long").await;
    let texts = agent_texts(&events);
    assert_eq!(texts.len(), 4);
    assert_eq!((texts[0].as_str(), texts[1].len()), ("before", 1 << 20));
    assert_eq!(&texts[2..], ["after", "last without newline"]);
    assert_eq!(truncations(&events), [("stdout".to_owned(), 4 << 20)]);
    // The truncation event follows the kept prefix.
    let cut = events
        .iter()
        .position(|e| e["data"]["text"].as_str().is_some_and(|t| t.len() == 1 << 20))
        .unwrap();
    assert_eq!(events[cut + 1]["type"], "output.truncated");
}

#[tokio::test]
async fn invalid_utf8_is_repaired_and_json_objects_become_typed_events() {
    let sup = Options::default().start();
    let cmd = r#"printf 'bad \377\376 bytes\n{"type":"assistant","n":1}\n{"type":"x","bad":"\377"}\n[1,2]\n{"no":"type"}\n'"#;
    sup.run_cmd("s-utf8", cmd).await;
    sup.wait_finished("s-utf8", WAIT).await;
    let events: Vec<Value> = sup
        .events("s-utf8")
        .await
        .into_iter()
        .filter(|e| e["source"] == "agent")
        .collect();
    let shapes: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["data"].to_string()))
        .collect();
    assert_eq!(
        shapes,
        [
            ("text".to_owned(), r#"{"text":"bad �� bytes"}"#.to_owned()),
            ("assistant".to_owned(), r#"{"n":1,"type":"assistant"}"#.to_owned()),
            (
                "text".to_owned(),
                r#"{"text":"{\"type\":\"x\",\"bad\":\"�\"}"}"#.to_owned()
            ),
            ("text".to_owned(), r#"{"text":"[1,2]"}"#.to_owned()),
            ("json".to_owned(), r#"{"no":"type"}"#.to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_stderr_flood_is_kept_whole_in_grouped_events() {
    let sup = Options::default().start();
    let baseline = memory_baseline(&sup).await;
    // 200,000 stderr lines of 99 bytes, and stdout lines interleaved.
    sup.run_cmd(
        "s-stderr",
        "head -c 19800000 /dev/zero | tr '\\0' e | fold -w 99 >&2; seq 1 1000",
    )
    .await;
    sup.wait_finished("s-stderr", WAIT).await;
    let events = sup.events("s-stderr").await;
    let lines: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "stderr")
        .flat_map(|e| {
            e["data"]["text"]
                .as_str()
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), 200_000);
    assert!(lines.iter().all(|l| l.len() == 99));
    assert_eq!(agent_texts(&events).len(), 1000);
    // Grouped as it streams: the 19.8 MB of stderr never sat in the supervisor's memory.
    let growth = growth_kib(&sup, baseline);
    assert!(
        growth < GROWTH_BOUND_KIB,
        "peak RSS grew {growth} KiB over {baseline} KiB after start-up (bound {GROWTH_BOUND_KIB} KiB)"
    );
}

#[tokio::test]
async fn output_past_max_output_is_dropped_and_counted() {
    let sup = Options::default().arg("--max-output").arg("100KiB").start();
    // 30,000 lines of 10 bytes (with newline): 300,000 bytes, of which 102,400 fit.
    sup.run_cmd("s-budget", "yes 123456789 | head -n 30000").await;
    let session = sup.wait_finished("s-budget", WAIT).await;
    assert_eq!(session["exitCode"], 0);
    let events = sup.events("s-budget").await;
    let kept = agent_texts(&events).len() as u64;
    assert_eq!(kept, 102_400 / 10);
    assert_eq!(truncations(&events), [("stdout".to_owned(), 300_000 - kept * 10)]);
}
