//! Whether a session's local log (and its directories) may go: a pure decision over what is known of it.
//!
//! A session is removed only when it is finished, every event of it was acknowledged by the destination it
//! ships to (or it ships nowhere), and it finished at least `--retain` ago. Everything else is kept, with
//! the reason, so nothing a destination has not confirmed is ever lost to retention.

use std::time::{Duration, SystemTime};

/// `--retain`: how long a finished, delivered session stays on disk; `Off` keeps everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retain {
    Off,
    For(Duration),
}

impl Retain {
    /// `off`, or a duration such as `24h`, `90m`, `0s` (removed as soon as it is acknowledged).
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        if value.trim() == "off" {
            return Ok(Self::Off);
        }
        humantime::parse_duration(value.trim())
            .map(Self::For)
            .map_err(|err| format!("{value:?}: {err} (expected a duration such as 24h, or off)"))
    }

    /// How often the sweep looks: a quarter of the retention, from 1 s to 1 min; `None` with `off`.
    pub(crate) fn sweep_interval(self) -> Option<Duration> {
        match self {
            Self::Off => None,
            Self::For(retain) => Some((retain / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))),
        }
    }
}

/// Where a session's events stand with its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// It ships nowhere (no control plane, no `storage`): nothing will ever acknowledge it, so its log is
    /// settled as soon as it is written, and kept only for `--retain`.
    NoDestination,
    /// Some event is not confirmed yet (or the destination is not reachable).
    Pending,
    /// The destination confirmed every event.
    Acknowledged,
    /// The destination refused the session for good: the local log is the only full copy, kept for an
    /// operator to look at.
    Refused,
}

/// What the sweep knows of one session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// `session.finished` is written and the log closed.
    pub(crate) finished: bool,
    /// When it finished (`None`: not known, e.g. an unreadable timestamp).
    pub(crate) finished_at: Option<SystemTime>,
    pub(crate) delivery: Delivery,
    /// Processes of its uid survived (the uid is withheld): its directories may still be in use.
    pub(crate) processes_left: bool,
    pub(crate) now: SystemTime,
    pub(crate) retain: Retain,
}

/// Why a session stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepReason {
    RetentionOff,
    Running,
    ProcessesLeft,
    Unacknowledged,
    Refused,
    Young,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep(KeepReason),
    Remove,
}

pub(crate) fn decide(facts: &Facts) -> Decision {
    use KeepReason as K;
    let Retain::For(retain) = facts.retain else {
        return Decision::Keep(K::RetentionOff);
    };
    if !facts.finished {
        return Decision::Keep(K::Running);
    }
    if facts.processes_left {
        return Decision::Keep(K::ProcessesLeft);
    }
    match facts.delivery {
        Delivery::Pending => return Decision::Keep(K::Unacknowledged),
        Delivery::Refused => return Decision::Keep(K::Refused),
        Delivery::Acknowledged | Delivery::NoDestination => {}
    }
    // A finish time in the future (the clock went back) counts as just now.
    let age = facts
        .finished_at
        .map(|at| facts.now.duration_since(at).unwrap_or(Duration::ZERO));
    match age {
        Some(age) if age >= retain => Decision::Remove,
        _ => Decision::Keep(K::Young),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn facts() -> Facts {
        let now = SystemTime::UNIX_EPOCH + 1000 * HOUR;
        Facts {
            finished: true,
            finished_at: Some(now - 25 * HOUR),
            delivery: Delivery::Acknowledged,
            processes_left: false,
            now,
            retain: Retain::For(24 * HOUR),
        }
    }

    #[track_caller]
    fn check(change: impl FnOnce(&mut Facts), expect: Expect) {
        let mut facts = facts();
        change(&mut facts);
        expect.assert_eq(&format!("{:?}", decide(&facts)));
    }

    #[test]
    fn a_session_is_removed_only_when_finished_acknowledged_and_old_enough() {
        check(|_| {}, expect!["Remove"]);
        check(|f| f.finished = false, expect!["Keep(Running)"]);
        check(
            |f| f.delivery = Delivery::Pending,
            expect!["Keep(Unacknowledged)"],
        );
        check(|f| f.delivery = Delivery::Refused, expect!["Keep(Refused)"]);
        check(|f| f.processes_left = true, expect!["Keep(ProcessesLeft)"]);
        check(|f| f.finished_at = Some(f.now - HOUR), expect!["Keep(Young)"]);
        check(|f| f.finished_at = Some(f.now - 24 * HOUR), expect!["Remove"]);
        check(|f| f.finished_at = None, expect!["Keep(Young)"]);
        check(|f| f.finished_at = Some(f.now + HOUR), expect!["Keep(Young)"]);
        check(|f| f.retain = Retain::Off, expect!["Keep(RetentionOff)"]);
        // Even an old, delivered session is kept with `off`; and a running one never goes, whatever else.
        check(
            |f| {
                f.retain = Retain::For(Duration::ZERO);
                f.finished = false;
            },
            expect!["Keep(Running)"],
        );
    }

    #[test]
    fn with_zero_retention_a_session_goes_as_soon_as_it_is_acknowledged() {
        let zero = |f: &mut Facts| {
            f.retain = Retain::For(Duration::ZERO);
            f.finished_at = Some(f.now);
        };
        check(zero, expect!["Remove"]);
        check(
            |f| {
                zero(f);
                f.delivery = Delivery::Pending;
            },
            expect!["Keep(Unacknowledged)"],
        );
    }

    #[test]
    fn a_session_without_destination_is_settled_when_written_and_kept_for_the_retention() {
        check(|f| f.delivery = Delivery::NoDestination, expect!["Remove"]);
        check(
            |f| {
                f.delivery = Delivery::NoDestination;
                f.finished_at = Some(f.now - HOUR);
            },
            expect!["Keep(Young)"],
        );
    }

    #[test]
    fn retention_parses_durations_and_off() {
        assert_eq!(Retain::parse("24h"), Ok(Retain::For(24 * HOUR)));
        assert_eq!(Retain::parse("0s"), Ok(Retain::For(Duration::ZERO)));
        assert_eq!(Retain::parse("off"), Ok(Retain::Off));
        let err = Retain::parse("soon").unwrap_err();
        assert!(err.contains("\"soon\"") && err.contains("24h"), "{err}");
    }

    #[test]
    fn the_sweep_runs_every_quarter_of_the_retention_within_a_second_and_a_minute() {
        let interval = |s| Retain::parse(s).unwrap().sweep_interval();
        assert_eq!(interval("0s"), Some(Duration::from_secs(1)));
        assert_eq!(interval("2m"), Some(Duration::from_secs(30)));
        assert_eq!(interval("24h"), Some(Duration::from_secs(60)));
        assert_eq!(interval("off"), None);
    }
}
