//! Live follow (SSE): resume after Last-Event-ID, order under out-of-order ingest, across replicas; and the
//! database going away under the API.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Kind, TOKEN, TestApp, TestDb, eventually, lines, spawn_app, sup};

crate::on_both_backends!(
    sse_resumes_after_last_event_id_with_no_gap_and_no_repeat,
    a_follower_never_skips_a_seq_when_batches_arrive_out_of_order,
    a_follow_of_a_finished_session_sends_everything_then_end,
    a_follow_waits_at_a_gap_below_session_finished_for_the_late_batch,
);

/// A minimal SSE reader: `(id, event, data)` per message.
pub struct Sse {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

impl Sse {
    pub async fn open(app: &TestApp, sid: &str, last_event_id: Option<u64>) -> Self {
        let mut request = app
            .http
            .get(app.url(&format!("/api/v1/sessions/{sid}/events")))
            .bearer_auth(TOKEN)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("open sse");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: Vec::new(),
        }
    }

    /// The next message, or `None` when the stream ended; panics after 10 s of silence.
    pub async fn next(&mut self) -> Option<Message> {
        let mut id = None;
        let mut event = String::new();
        let mut data = String::new();
        loop {
            while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                let line = String::from_utf8(line).expect("utf-8");
                let line = line.trim_end_matches('\n');
                if line.is_empty() {
                    if !data.is_empty() {
                        return Some(Message {
                            id,
                            event,
                            data: serde_json::from_str(&data).expect("data is JSON"),
                        });
                    }
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an SSE message within 10 s");
            match chunk {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }

    /// Reads events until one with `seq`; returns their seqs.
    pub async fn until_seq(&mut self, seq: u64) -> Vec<u64> {
        let mut seen = Vec::new();
        while let Some(message) = self.next().await {
            assert_ne!(message.event, "end", "ended before seq {seq}; saw {seen:?}");
            let got = message.data["seq"].as_u64().expect("seq");
            assert_eq!(message.id.as_deref(), Some(got.to_string().as_str()));
            assert_eq!(message.event, message.data["type"].as_str().expect("type"));
            seen.push(got);
            if got == seq {
                return seen;
            }
        }
        panic!("stream closed before seq {seq}; saw {seen:?}");
    }

    /// Reads to `end`; returns the seqs seen and the session of `end`.
    pub async fn until_end(&mut self) -> (Vec<u64>, Value) {
        let mut seen = Vec::new();
        while let Some(message) = self.next().await {
            if message.event == "end" {
                return (seen, message.data);
            }
            seen.push(message.data["seq"].as_u64().expect("seq"));
        }
        panic!("stream closed without end; saw {seen:?}");
    }
}

fn finished(sid: &str, seq: u64) -> Value {
    sup(
        sid,
        seq,
        "session.finished",
        json!({"status": "succeeded", "exitCode": 0, "signal": null, "durationMs": 10,
        "numTurns": 1, "totalCostUsd": 0.01, "error": null, "stderrTail": null}),
    )
}

async fn sse_resumes_after_last_event_id_with_no_gap_and_no_repeat(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 50)).await;
    let mut sse = Sse::open(&app, "s-1", None).await;
    assert_eq!(sse.until_seq(19).await, (0..20).collect::<Vec<_>>());
    drop(sse);
    let mut sse = Sse::open(&app, "s-1", Some(19)).await;
    assert_eq!(sse.until_seq(49).await, (20..50).collect::<Vec<_>>());
    // Live: events ingested while following arrive, then `end`.
    let writer = async {
        for start in (50..100).step_by(10) {
            app.ingest("rt-1", &lines("s-1", start, 10)).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        app.ingest("rt-1", &[finished("s-1", 100)]).await;
    };
    let ((seen, end), ()) = tokio::join!(sse.until_end(), writer);
    assert_eq!(seen, (50..=100).collect::<Vec<_>>());
    assert_eq!(end["status"], "succeeded");
    assert_eq!(end["lastSeq"], 100);
    assert!(sse.next().await.is_none(), "the stream closes after end");
    app.stop().await;
}

async fn a_follower_never_skips_a_seq_when_batches_arrive_out_of_order(db: TestDb) {
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 1)).await;
    let mut sse = Sse::open(&app, "s-1", None).await;
    assert_eq!(sse.until_seq(0).await, [0]);
    app.ingest("rt-1", &lines("s-1", 5, 5)).await;
    app.ingest("rt-1", &lines("s-1", 1, 4)).await;
    app.ingest("rt-1", &[finished("s-1", 10)]).await;
    let (seen, _) = sse.until_end().await;
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    app.stop().await;
}

async fn a_follow_waits_at_a_gap_below_session_finished_for_the_late_batch(db: TestDb) {
    // With two batches in flight, a supervisor's last batch (holding `session.finished`) can commit before
    // the one before it: the follower must not take the session's end as the end of its events.
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 3)).await;
    let mut sse = Sse::open(&app, "s-1", None).await;
    assert_eq!(sse.until_seq(2).await, [0, 1, 2]);
    let mut last = lines("s-1", 6, 2);
    last.push(finished("s-1", 8));
    app.ingest("rt-1", &last).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.ingest("rt-1", &lines("s-1", 3, 3)).await;
    let (seen, end) = sse.until_end().await;
    assert_eq!(seen, (3..=8).collect::<Vec<_>>());
    assert_eq!(end["status"], "succeeded");
    app.stop().await;
}

async fn a_follow_of_a_finished_session_sends_everything_then_end(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut events = lines("s-1", 0, 1500);
    events.push(finished("s-1", 1500));
    app.ingest("rt-1", &events).await;
    let (seen, end) = Sse::open(&app, "s-1", None).await.until_end().await;
    assert_eq!(seen, (0..=1500).collect::<Vec<_>>());
    assert_eq!(end["status"], "succeeded");
    let (seen, _) = Sse::open(&app, "s-1", Some(1500)).await.until_end().await;
    assert!(seen.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_follower_on_one_replica_sees_events_ingested_through_another() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let a = spawn_app(&db).await;
    let b = spawn_app(&db).await;
    b.ingest("rt-1", &lines("s-1", 0, 1)).await;
    let mut sse = Sse::open(&a, "s-1", None).await;
    assert_eq!(sse.until_seq(0).await, [0]);
    for seq in 1..20 {
        let started = std::time::Instant::now();
        b.ingest("rt-1", &lines("s-1", seq, 1)).await;
        assert_eq!(sse.until_seq(seq).await, [seq]);
        // Not a performance assertion (that is scripts/bench-cp.sh): the poll fallback alone takes 2 s, so
        // this fails if the doorbell does not work at all.
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "seq {seq} took {:?}",
            started.elapsed()
        );
    }
    b.ingest("rt-1", &[finished("s-1", 20)]).await;
    let (seen, _) = sse.until_end().await;
    assert_eq!(seen, [20]);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_down_answers_503_with_retry_after_and_recovers() {
    let Some(db) = TestDb::new(Kind::Postgres).await else {
        return;
    };
    let app = spawn_app(&db).await;
    app.ingest("rt-1", &lines("s-1", 0, 5)).await;
    db.break_database().await;
    let body = json!({"runtimeId": "rt-1", "events": lines("s-1", 5, 5)});
    let response = app
        .http
        .post(app.url("/api/internal/v1/events"))
        .bearer_auth(crate::helpers::KEY)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["code"], "database_unavailable");
    let (status, _) = app.get("/api/v1/sessions/s-1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    db.mend_database().await;
    // The pool reconnects by itself; the retried batch is stored once.
    eventually(Duration::from_secs(15), || async {
        let (status, body) = app.ingest("rt-1", &lines("s-1", 5, 5)).await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    let (_, body) = app.ingest("rt-1", &lines("s-1", 0, 10)).await;
    assert_eq!(body["acked"]["s-1"], 9);
    assert_eq!(app.all_events("s-1").await.len(), 10);
    app.stop().await;
}
