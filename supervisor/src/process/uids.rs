//! The uids agents run as: one per running session, taken from `--uid-range` and given back only once no
//! process of it is left (`sweep`), so no two sessions ever share a uid and nothing of an earlier session
//! can still run as the uid a new one gets.
//!
//! The value layer: pure data, no system calls.

use std::collections::VecDeque;
use std::fmt;

/// `--uid-range`: the uids agents run as (`START-END`, both included), or `off`: every agent runs as
/// the `--run-as` user, as before per-session uids (no isolation between sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UidRange {
    Range { start: u32, end: u32 },
    Off,
}

impl UidRange {
    /// Parses `20000-20999` or `off`.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        if value == "off" {
            return Ok(Self::Off);
        }
        let (start, end) = value
            .split_once('-')
            .ok_or_else(|| format!("expected START-END (e.g. 20000-20999) or off, got {value:?}"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{s:?} in {value:?} is not a uid"))
        };
        let (start, end) = (number(start)?, number(end)?);
        if start == 0 {
            return Err(format!("{value:?} contains uid 0: agents never run as root"));
        }
        // u32::MAX is (uid_t)-1, "no change" to setresuid.
        if end == u32::MAX {
            return Err(format!("{value:?} contains uid {end}, which is no uid"));
        }
        if start > end {
            return Err(format!("{value:?} is empty: START is above END"));
        }
        Ok(Self::Range { start, end })
    }

    /// How many uids it holds (0 for `off`).
    pub(crate) fn len(self) -> u64 {
        match self {
            Self::Range { start, end } => u64::from(end - start) + 1,
            Self::Off => 0,
        }
    }

    pub(crate) fn contains(self, uid: u32) -> bool {
        matches!(self, Self::Range { start, end } if (start..=end).contains(&uid))
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range { start, end } => write!(f, "{start}-{end}"),
            Self::Off => f.write_str("off"),
        }
    }
}

/// Why a `--uid-range` cannot serve this configuration, if it cannot.
pub(crate) fn range_problem(range: UidRange, max_sessions: usize, run_as_uid: u32) -> Option<String> {
    let UidRange::Range { .. } = range else {
        return None;
    };
    if range.len() < max_sessions as u64 {
        return Some(format!(
            "--uid-range {range} holds {} uids, fewer than --max-sessions {max_sessions}: every running \
             session needs a uid of its own; widen the range or lower --max-sessions",
            range.len()
        ));
    }
    if range.contains(run_as_uid) {
        return Some(format!(
            "--uid-range {range} contains the uid of the --run-as user ({run_as_uid}): sessions would \
             share a uid with whatever that user runs; choose a range of unused uids"
        ));
    }
    None
}

/// The free uids. Taken in the order they were given back, so a uid just swept is the last to be reused.
#[derive(Debug, Default)]
pub(crate) struct UidPool {
    free: VecDeque<u32>,
}

impl UidPool {
    pub(crate) fn new(range: UidRange) -> Self {
        let free = match range {
            UidRange::Range { start, end } => (start..=end).collect(),
            UidRange::Off => VecDeque::new(),
        };
        Self { free }
    }

    pub(crate) fn take(&mut self) -> Option<u32> {
        self.free.pop_front()
    }

    /// Gives back a uid that no process has any more.
    pub(crate) fn give_back(&mut self, uid: u32) {
        debug_assert!(!self.free.contains(&uid), "uid {uid} given back twice");
        self.free.push_back(uid);
    }

    /// Never hands out `uid` (one still in use by processes that could not be ended).
    pub(crate) fn withhold(&mut self, uid: u32) {
        self.free.retain(|free| *free != uid);
    }

    pub(crate) fn free(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(value: &str, max_sessions: usize, expect: Expect) {
        let shown = match UidRange::parse(value) {
            Ok(range) => match range_problem(range, max_sessions, 1000) {
                Some(problem) => format!("refused: {problem}"),
                None => format!("ok: {range} ({} uids)", range.len()),
            },
            Err(err) => format!("invalid: {err}"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn a_uid_range_must_hold_a_uid_per_session_and_no_uid_in_use() {
        check("20000-20999", 16, expect![["ok: 20000-20999 (1000 uids)"]]);
        check("20000-20015", 16, expect![["ok: 20000-20015 (16 uids)"]]);
        check(
            "20000-20014",
            16,
            expect![[
                "refused: --uid-range 20000-20014 holds 15 uids, fewer than --max-sessions 16: every running session needs a uid of its own; widen the range or lower --max-sessions"
            ]],
        );
        check("off", 16, expect![["ok: off (0 uids)"]]);
        check(
            "900-1100",
            16,
            expect![[
                "refused: --uid-range 900-1100 contains the uid of the --run-as user (1000): sessions would share a uid with whatever that user runs; choose a range of unused uids"
            ]],
        );
        check(
            "0-100",
            1,
            expect![[r#"invalid: "0-100" contains uid 0: agents never run as root"#]],
        );
        check(
            "5-4",
            1,
            expect![[r#"invalid: "5-4" is empty: START is above END"#]],
        );
        check(
            "20000",
            1,
            expect![[r#"invalid: expected START-END (e.g. 20000-20999) or off, got "20000""#]],
        );
        check("a-b", 1, expect![[r#"invalid: "a" in "a-b" is not a uid"#]]);
    }

    #[test]
    fn a_uid_given_back_is_the_last_to_be_taken_again() {
        let mut pool = UidPool::new(UidRange::parse("10-12").unwrap());
        assert_eq!((pool.take(), pool.take()), (Some(10), Some(11)));
        pool.give_back(10);
        assert_eq!(
            (pool.take(), pool.take(), pool.take()),
            (Some(12), Some(10), None)
        );
    }
}
