//! `agentctl runtimes`: the runtimes the control plane has heard from.

use protocol::{RuntimeInfo, RuntimeState};

use super::table::{Cell, plain, table};
use super::{Style, duration};
use crate::time;

fn state_word(style: Style, state: RuntimeState) -> (String, String) {
    let word = match state {
        RuntimeState::Active => "active",
        RuntimeState::Draining => "draining",
        RuntimeState::Lost => "lost",
    };
    let painted = match state {
        RuntimeState::Active => style.green(word),
        RuntimeState::Draining => style.yellow(word),
        RuntimeState::Lost => style.red(word),
    };
    (word.to_owned(), painted)
}

fn labels(r: &RuntimeInfo) -> String {
    let pairs: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if pairs.is_empty() {
        "-".into()
    } else {
        pairs.join(",")
    }
}

/// `running/capacity`; `-` for a runtime without `--max-sessions`.
fn load(r: &RuntimeInfo) -> String {
    format!(
        "{}/{}",
        r.running,
        r.capacity.map_or_else(|| "-".into(), |c| c.to_string())
    )
}

/// For a terminal (heartbeat as an age) or for scripts (tab-separated, the exact time).
pub fn runtimes(list: &[RuntimeInfo], tty: bool, now_ms: i64, style: Style) -> String {
    let rows: Vec<Vec<Cell>> = list
        .iter()
        .map(|r| {
            let (word, painted) = state_word(style, r.state);
            let heartbeat = if tty {
                time::parse_rfc3339_ms(&r.last_heartbeat_at).map_or_else(
                    || r.last_heartbeat_at.clone(),
                    |t| format!("{} ago", duration((now_ms - t) / 1000 * 1000)),
                )
            } else {
                r.last_heartbeat_at.clone()
            };
            vec![
                Cell::text(&r.runtime_id),
                if tty {
                    Cell::painted(word, painted)
                } else {
                    Cell::text(&word)
                },
                Cell::text(&load(r)),
                Cell::text(&labels(r)),
                Cell::text(&heartbeat),
                Cell::text(&r.version),
            ]
        })
        .collect();
    if tty {
        table(
            &["ID", "STATE", "RUNNING", "LABELS", "HEARTBEAT", "VERSION"],
            &rows,
            style,
        )
    } else {
        plain(&rows)
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;
    use serde_json::json;

    use super::*;

    #[test]
    fn runtimes_show_state_load_labels_and_the_heartbeats_age() {
        let list: Vec<RuntimeInfo> = serde_json::from_value(json!([
            {"runtimeId": "rt-a", "version": "0.3.0", "labels": {"pool": "gpu", "zone": "a"}, "capacity": 4,
             "running": 1, "state": "active", "lastHeartbeatAt": "2026-01-01T00:00:08.000Z"},
            {"runtimeId": "rt-b", "version": "0.3.0", "labels": {}, "capacity": null,
             "running": 0, "state": "draining", "lastHeartbeatAt": "2026-01-01T00:00:05.000Z"},
            {"runtimeId": "rt-c", "version": "0.2.9", "labels": {}, "capacity": 2,
             "running": 2, "state": "lost", "lastHeartbeatAt": "2025-12-31T23:58:00.000Z"}
        ]))
        .expect("runtimes");
        let now = time::parse_rfc3339_ms("2026-01-01T00:00:10.000Z").expect("a time");
        let style = Style { color: false };
        expect![[r#"
            ID    STATE     RUNNING  LABELS           HEARTBEAT   VERSION
            rt-a  active    1/4      pool=gpu,zone=a  2s ago      0.3.0
            rt-b  draining  0/-      -                5s ago      0.3.0
            rt-c  lost      2/2      -                2m 10s ago  0.2.9
        "#]]
        .assert_eq(&runtimes(&list, true, now, style));
        expect![[r#"
            rt-a	active	1/4	pool=gpu,zone=a	2026-01-01T00:00:08.000Z	0.3.0
            rt-b	draining	0/-	-	2026-01-01T00:00:05.000Z	0.3.0
            rt-c	lost	2/2	-	2025-12-31T23:58:00.000Z	0.2.9
        "#]]
        .assert_eq(&runtimes(&list, false, now, style));
    }
}
