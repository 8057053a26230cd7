//! An event's time as the control plane stores it: the agent's own when it is close to the server's clock,
//! else the server's, with the agent's kept in `data.clientTime` (issue 10, finding 10).
//!
//! A runtime's clock may be off, and an agent's line may carry anything: a time in 2099 would sort a session
//! first forever, one in 1970 last. Times are clamped rather than refused so that no event is lost for it.

use serde_json::value::RawValue;

/// How far ahead of the server's clock an event's time is kept (clocks drift; a few minutes is normal).
pub const MAX_AHEAD_MS: i64 = 5 * 60 * 1000;
/// How far behind: a runtime may ship a backlog after a long outage, but not one older than a year.
pub const MAX_BEHIND_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// The key of `data` that keeps an event's own time when it was clamped.
pub const CLIENT_TIME_KEY: &str = "clientTime";

/// Whether an event stamped `ts_ms` keeps its time, given the server's clock.
pub fn keeps_its_time(ts_ms: i64, now_ms: i64) -> bool {
    ts_ms.saturating_sub(now_ms) <= MAX_AHEAD_MS && now_ms.saturating_sub(ts_ms) <= MAX_BEHIND_MS
}

/// `data` with the event's own time added as [`CLIENT_TIME_KEY`]. An object keeps its bytes and gets the
/// key appended (so it wins over a key of the same name the agent wrote); anything else is wrapped as
/// `{"clientTime":…,"data":…}`.
pub fn with_client_time(data: &RawValue, client_time: &str) -> Box<RawValue> {
    let time = serde_json::Value::from(client_time).to_string();
    let text = data.get().trim();
    let spliced = match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(inner) if inner.trim().is_empty() => format!("{{\"{CLIENT_TIME_KEY}\":{time}}}"),
        Some(_) => format!("{},\"{CLIENT_TIME_KEY}\":{time}}}", &text[..text.len() - 1]),
        None => format!("{{\"{CLIENT_TIME_KEY}\":{time},\"data\":{text}}}"),
    };
    RawValue::from_string(spliced).expect("valid JSON with a key added is valid JSON")
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[track_caller]
    fn check_kept(offset_ms: i64, expect: Expect) {
        expect.assert_eq(&keeps_its_time(NOW + offset_ms, NOW).to_string());
    }

    #[test]
    fn times_close_to_the_clock_are_kept() {
        check_kept(0, expect!["true"]);
        check_kept(MAX_AHEAD_MS, expect!["true"]);
        check_kept(MAX_AHEAD_MS + 1, expect!["false"]);
        check_kept(-MAX_BEHIND_MS, expect!["true"]);
        check_kept(-MAX_BEHIND_MS - 1, expect!["false"]);
        check_kept(-NOW, expect!["false"]);
        check_kept(i64::MAX - NOW, expect!["false"]);
        expect!["false"].assert_eq(&keeps_its_time(i64::MIN, NOW).to_string());
    }

    #[track_caller]
    fn check(data: &str, expect: Expect) {
        let data = RawValue::from_string(data.to_owned()).expect("test data is JSON");
        expect.assert_eq(with_client_time(&data, "2099-01-01T00:00:00Z").get());
    }

    #[test]
    fn the_agents_own_time_is_kept_in_data() {
        check(
            r#"{"text":"hi"}"#,
            expect![[r#"{"text":"hi","clientTime":"2099-01-01T00:00:00Z"}"#]],
        );
        check(
            r#" { "a" : 1 } "#,
            expect![[r#"{ "a" : 1 ,"clientTime":"2099-01-01T00:00:00Z"}"#]],
        );
        check("{}", expect![[r#"{"clientTime":"2099-01-01T00:00:00Z"}"#]]);
        check("{ }", expect![[r#"{"clientTime":"2099-01-01T00:00:00Z"}"#]]);
        check(
            r#"{"clientTime":"forged"}"#,
            expect![[r#"{"clientTime":"forged","clientTime":"2099-01-01T00:00:00Z"}"#]],
        );
        check(
            r#""text""#,
            expect![[r#"{"clientTime":"2099-01-01T00:00:00Z","data":"text"}"#]],
        );
        check(
            "[1,2]",
            expect![[r#"{"clientTime":"2099-01-01T00:00:00Z","data":[1,2]}"#]],
        );
        check(
            "null",
            expect![[r#"{"clientTime":"2099-01-01T00:00:00Z","data":null}"#]],
        );
    }
}
