//! How the UI writes times, durations and costs: pure functions, table-tested.

/// How long ago `then_ms` was, seen at `now_ms`: `3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`.
pub fn ago(now_ms: i64, then_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86_400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// A duration: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// The SDK's cost estimate in dollars: four decimals below a dollar, two above.
pub fn cost(usd: f64) -> String {
    if usd < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// An RFC 3339 time as the UI shows it: `2026-12-01 12:00:05` (UTC, to the second).
pub fn timestamp(rfc3339: &str) -> String {
    let text = rfc3339.replacen('T', " ", 1);
    text.get(..19).map_or(text.clone(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_picks_the_largest_whole_unit() {
        let cases: &[(i64, &str)] = &[
            (0, "0 s ago"),
            (-5_000, "0 s ago"),
            (59_999, "59 s ago"),
            (60_000, "1 min ago"),
            (3_599_000, "59 min ago"),
            (3_600_000, "1 h ago"),
            (86_400_000 * 3 + 5, "3 d ago"),
        ];
        for (elapsed, want) in cases {
            assert_eq!(
                ago(1_000_000_000_000 + elapsed, 1_000_000_000_000),
                *want,
                "{elapsed}"
            );
        }
    }

    #[test]
    fn durations_read_at_a_glance() {
        let cases: &[(i64, &str)] = &[
            (-1, "0 ms"),
            (850, "850 ms"),
            (1_000, "1.0 s"),
            (12_345, "12.3 s"),
            (245_000, "4 min 05 s"),
            (7_380_000, "2 h 03 min"),
        ];
        for (ms, want) in cases {
            assert_eq!(duration(*ms), *want, "{ms}");
        }
    }

    #[test]
    fn costs_keep_small_amounts_visible() {
        let cases: &[(f64, &str)] = &[
            (0.0, "$0.0000"),
            (0.00421, "$0.0042"),
            (1.234, "$1.23"),
            (12.0, "$12.00"),
        ];
        for (usd, want) in cases {
            assert_eq!(cost(*usd), *want, "{usd}");
        }
    }

    #[test]
    fn timestamps_drop_the_milliseconds() {
        assert_eq!(timestamp("2026-12-01T12:00:05.123Z"), "2026-12-01 12:00:05");
        assert_eq!(timestamp("short"), "short");
    }
}
