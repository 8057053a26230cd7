use expect_test::{Expect, expect};
use protocol::{Event, EventSource, FileEncoding};
use serde_json::value::RawValue;

use super::*;

fn piece(seq: i64, path: &str, last: bool, data: &str) -> StatePiece {
    StatePiece {
        session_id: "s-1".into(),
        seq,
        path: path.into(),
        encoding: FileEncoding::Utf8,
        sdk_session_id: "46a3fd50-0000-4000-8000-000000000000".into(),
        config_dir: "/w/homes/s-1/.claude".into(),
        last,
        data: data.into(),
        sealed: false,
    }
}

#[track_caller]
fn check(pieces: &[StatePiece], expect: Expect) {
    let shown = match assemble(pieces, None) {
        Ok(state) => state
            .files
            .iter()
            .map(|f| format!("{}={:?}", f.path, f.content))
            .collect::<Vec<_>>()
            .join(" "),
        Err(problem) => problem.to_string(),
    };
    expect.assert_eq(&shown);
}

#[test]
fn only_a_gap_free_state_ending_in_last_is_assembled() {
    check(
        &[
            piece(1, "t", false, "b"),
            piece(0, "t", false, "a"),
            piece(2, "x", true, "c"),
        ],
        expect![[r#"t="ab" x="c""#]],
    );
    check(&[piece(0, "t", true, "")], expect![[r#"t="""#]]);
    check(&[], expect!["incomplete: no pieces"]);
    check(
        &[piece(0, "t", false, "a"), piece(2, "t", true, "c")],
        expect!["incomplete: piece 1 is missing"],
    );
    check(
        &[piece(1, "t", true, "a")],
        expect!["incomplete: piece 0 is missing"],
    );
    check(
        &[piece(0, "t", false, "a"), piece(1, "t", false, "b")],
        expect!["incomplete: no piece with `last`"],
    );
    check(
        &[piece(0, "t", true, "a"), piece(1, "t", false, "b")],
        expect!["incomplete: `last` before the end"],
    );
    check(
        &[
            piece(0, "t", false, "a"),
            piece(1, "x", false, "b"),
            piece(2, "t", true, "c"),
        ],
        expect!["incomplete: the pieces of a file are not consecutive"],
    );
    let mut other = piece(1, "t", true, "b");
    other.sdk_session_id = "another".into();
    check(
        &[piece(0, "t", false, "a"), other],
        expect!["incomplete: pieces of different SDK sessions"],
    );
}

#[test]
fn a_state_over_the_bound_is_refused_with_its_size() {
    let half = "x".repeat(MAX_STATE_BYTES / 2 + 1);
    check(
        &[piece(0, "t", false, &half), piece(1, "t", true, &half)],
        expect!["the conversation state is 33554434 bytes, more than the 33554432 a job may carry"],
    );
}

fn event(seq: u64, kind: &str, data: &str) -> Event {
    Event {
        session_id: "s-1".parse().unwrap(),
        seq,
        ts: "2026-12-01T00:00:00.000Z".into(),
        source: EventSource::Agent,
        kind: kind.into(),
        data: RawValue::from_string(data.into()).unwrap(),
    }
}

#[test]
fn divert_leaves_a_marker_in_the_log_and_seals_the_piece() {
    let key = SecretsKey::from_bytes(&[7; 32]).unwrap();
    let mut events = vec![
        event(0, "assistant", r#"{"type":"assistant"}"#),
        event(
            1,
            STATE_EVENT,
            r#"{"type":"conversation.state","sdkSessionId":"46a3fd50-0000-4000-8000-000000000000","configDir":"/w/homes/s-1/.claude","seq":0,"path":"projects/d/t.jsonl","data":"secret-ish transcript","last":true}"#,
        ),
        event(2, STATE_EVENT, r#"{"type":"conversation.state","garbage":1}"#),
    ];
    let pieces = divert(&mut events, Some(&key));
    let log: Vec<&str> = events.iter().map(|e| e.data.get()).collect();
    expect![[r#"
        [
            "{\"type\":\"assistant\"}",
            "{\"bytes\":21,\"last\":true,\"path\":\"projects/d/t.jsonl\",\"seq\":0}",
            "{\"invalid\":true}",
        ]
    "#]]
    .assert_debug_eq(&log);
    assert_eq!(pieces.len(), 1);
    assert!(pieces[0].sealed && !pieces[0].data.contains("transcript"));
    let state = assemble(&pieces, Some(&key)).unwrap();
    assert_eq!(state.files[0].content, "secret-ish transcript");
    assert_eq!(assemble(&pieces, None), Err(StateProblem::Sealed));
    let other = SecretsKey::from_bytes(&[8; 32]).unwrap();
    assert_eq!(assemble(&pieces, Some(&other)), Err(StateProblem::Sealed));
}
