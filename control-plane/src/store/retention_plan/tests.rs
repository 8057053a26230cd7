use super::*;

const CUTOFF: i64 = 1_000;

fn old(status: &str) -> Candidate {
    Candidate {
        id: 10,
        session_id: "s".into(),
        status: status.into(),
        finished_ms: Some(CUTOFF - 1),
        conversation_id: None,
        events: 3,
        pending_reply: false,
    }
}

#[test]
fn only_final_old_sessions_owing_nothing_below_their_conversations_floor_go() {
    let in_conversation = |id: i64| Candidate {
        id,
        conversation_id: Some("c".into()),
        ..old("succeeded")
    };
    type Case = (&'static str, Candidate, Option<i64>, Result<(), Keep>);
    let cases: &[Case] = &[
        ("succeeded, old", old("succeeded"), None, Ok(())),
        ("failed", old("failed"), None, Ok(())),
        ("cancelled", old("cancelled"), None, Ok(())),
        ("timed out", old("timed_out"), None, Ok(())),
        ("lost by its supervisor", old("lost"), None, Ok(())),
        ("queued", old("queued"), None, Err(Keep::NotFinal)),
        ("pending", old("pending"), None, Err(Keep::NotFinal)),
        ("running", old("running"), None, Err(Keep::NotFinal)),
        ("an unknown status", old("paused"), None, Err(Keep::NotFinal)),
        (
            "finished at the cutoff",
            Candidate {
                finished_ms: Some(CUTOFF),
                ..old("succeeded")
            },
            None,
            Err(Keep::Young),
        ),
        (
            "a finish time that does not parse",
            Candidate {
                finished_ms: None,
                ..old("succeeded")
            },
            None,
            Err(Keep::Young),
        ),
        (
            "a reply still pending",
            Candidate {
                pending_reply: true,
                ..old("succeeded")
            },
            None,
            Err(Keep::PendingReply),
        ),
        ("below the floor", in_conversation(10), Some(11), Ok(())),
        (
            "at the floor",
            in_conversation(10),
            Some(10),
            Err(Keep::Conversation),
        ),
        (
            "above the floor",
            in_conversation(12),
            Some(10),
            Err(Keep::Conversation),
        ),
        (
            "a conversation not looked at",
            in_conversation(10),
            None,
            Err(Keep::Conversation),
        ),
    ];
    for (name, candidate, floor, want) in cases {
        assert_eq!(decide(candidate, CUTOFF, *floor), *want, "{name}");
    }
}

#[test]
fn a_conversation_keeps_its_newest_session_and_the_state_its_next_turn_reads() {
    let facts = |newest, oldest_unfinished, states: &[(i64, bool)]| ConversationFacts {
        newest,
        oldest_unfinished,
        states: states.to_vec(),
        idle: false,
    };
    let idle = |f: ConversationFacts| ConversationFacts { idle: true, ..f };
    let cases: &[(&str, ConversationFacts, i64)] = &[
        ("no state: only the newest", facts(9, None, &[]), 9),
        (
            "idle: it goes whole",
            idle(facts(9, None, &[(9, true)])),
            i64::MAX,
        ),
        (
            "idle, no state: it goes whole",
            idle(facts(9, None, &[])),
            i64::MAX,
        ),
        (
            "a session not finished makes it live, whatever the clock says",
            idle(facts(9, Some(9), &[(5, true)])),
            5,
        ),
        (
            "the newest has the state",
            facts(9, None, &[(9, true), (5, true)]),
            9,
        ),
        (
            "an earlier one has it",
            facts(9, None, &[(5, true), (3, true)]),
            5,
        ),
        (
            "an incomplete latest state falls back to the one before",
            facts(9, None, &[(7, false), (5, true)]),
            5,
        ),
        ("no complete state at all", facts(9, None, &[(7, false)]), 9),
        (
            "a queued turn reads the state before it, not a later one",
            facts(9, Some(6), &[(8, true), (5, true)]),
            5,
        ),
        (
            "a queued turn with no complete state before it",
            facts(9, Some(4), &[(8, true)]),
            9,
        ),
    ];
    for (name, f, want) in cases {
        assert_eq!(conversation_floor(f), *want, "{name}");
    }
}

#[test]
fn completeness_is_judged_as_assemble_judges_it() {
    let p = |seq: i64, path: &str, last: bool| PieceShape {
        seq,
        path: path.into(),
        sdk_session_id: "sdk".into(),
        config_dir: "/c".into(),
        last,
    };
    let other_sdk = PieceShape {
        sdk_session_id: "other".into(),
        ..p(1, "a", true)
    };
    let cases: Vec<(&str, Vec<PieceShape>, bool)> = vec![
        ("one piece", vec![p(0, "a", true)], true),
        ("in any order", vec![p(1, "b", true), p(0, "a", false)], true),
        ("none", vec![], false),
        ("no last", vec![p(0, "a", false)], false),
        ("a gap", vec![p(0, "a", false), p(2, "a", true)], false),
        ("not from 0", vec![p(1, "a", true)], false),
        (
            "last before the end",
            vec![p(0, "a", true), p(1, "a", true)],
            false,
        ),
        ("two SDK sessions", vec![p(0, "a", false), other_sdk], false),
        (
            "a file's pieces apart",
            vec![p(0, "a", false), p(1, "b", false), p(2, "a", true)],
            false,
        ),
    ];
    for (name, pieces, want) in cases {
        assert_eq!(complete(&pieces), want, "{name}");
        // The same pieces through `assemble` (unsealed, so no key is needed).
        let stored: Vec<crate::conversation::StatePiece> = pieces
            .iter()
            .map(|s| crate::conversation::StatePiece {
                session_id: "s".into(),
                seq: s.seq,
                path: s.path.clone(),
                encoding: protocol::FileEncoding::Utf8,
                sdk_session_id: s.sdk_session_id.clone(),
                config_dir: s.config_dir.clone(),
                last: s.last,
                data: "x".into(),
                sealed: false,
            })
            .collect();
        assert_eq!(
            crate::conversation::assemble(&stored, None).is_ok(),
            want,
            "{name}: assemble agrees"
        );
    }
}

#[test]
fn deletions_are_cut_into_bounded_transactions() {
    let s = |list: &[(&str, u64)]| -> Vec<(String, u64)> {
        list.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()
    };
    let d = |ids: &[&str]| Step::Delete(ids.iter().map(|i| (*i).to_owned()).collect());
    let t = |id: &str| Step::Trim(id.to_owned());
    type Case = (&'static str, Vec<(String, u64)>, Vec<Step>);
    let cases: Vec<Case> = vec![
        ("nothing", s(&[]), vec![]),
        (
            "all fit",
            s(&[("a", 1), ("b", 2), ("c", 3)]),
            vec![d(&["a", "b", "c"])],
        ),
        (
            "at most 2 sessions",
            s(&[("a", 1), ("b", 1), ("c", 1)]),
            vec![d(&["a", "b"]), d(&["c"])],
        ),
        (
            "at most 10 events",
            s(&[("a", 6), ("b", 4), ("c", 1)]),
            vec![d(&["a", "b"]), d(&["c"])],
        ),
        (
            "over 10 events",
            s(&[("a", 6), ("b", 5)]),
            vec![d(&["a"]), d(&["b"])],
        ),
        (
            "one too large is trimmed",
            s(&[("a", 2), ("big", 11), ("b", 3)]),
            vec![t("big"), d(&["a", "b"])],
        ),
        ("no events", s(&[("a", 0), ("b", 0)]), vec![d(&["a", "b"])]),
    ];
    for (name, sessions, want) in cases {
        let max_sessions = if name == "at most 2 sessions" { 2 } else { 500 };
        assert_eq!(steps(&sessions, max_sessions, 10), want, "{name}");
    }
}
