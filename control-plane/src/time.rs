//! Wall-clock helpers: the store keeps times as RFC 3339 text (as the events carry them) and epoch
//! milliseconds (for comparisons such as heartbeat deadlines).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `2026-11-25T12:00:00.123Z`.
pub fn rfc3339_ms(epoch_ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(epoch_ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Milliseconds since the epoch of an RFC 3339 time in UTC, if it is one.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}
