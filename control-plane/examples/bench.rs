//! Benchmarks of `agentctl serve` (driven by `scripts/bench-cp.sh`, which starts the servers).
//!
//! - `ingest --url U --key K --database-url PG --senders N --events E --batch B`: N senders, one session each,
//!   at most `--in-flight` requests (default 2) in flight per session, as a supervisor ships a backlog
//!   (one more batch read and sent while the previous one commits), through the HTTP API; then a raw `COPY` of
//!   the same number of rows into the same table, in the same run. Prints both rates and their ratio.
//! - `follow --ingest-url B --follow-url A --key K --token T --rate R --seconds S`: ingests through replica B
//!   at R events/s and follows the session over SSE on replica A; prints the latency from "batch answered
//!   200 by B" to "event received from A" (p50, p99, max).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::Connection;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn need(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| panic!("missing {name}"))
}

fn data(seq: u64) -> String {
    // A typical assistant message of the SDK, ~450 bytes.
    json!({"type": "assistant", "message": {"id": "msg_01", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [{"type": "text",
        "text": format!("Step {seq}: reading the file and checking the tests before the next edit.")}],
        "stop_reason": null, "usage": {"input_tokens": 1200, "output_tokens": 20}},
        "parent_tool_use_id": null, "session_id": "9f0c2b1e-5a57-4b8e-9c61-0d3f1f0c2a11",
        "uuid": "0b7a2c4e-1f1d-4f65-8a3e-5f7d2b9c0e02"})
    .to_string()
}

fn ts() -> String {
    control_plane::time::rfc3339_ms(control_plane::time::now_ms())
}

fn batch(runtime: &str, sid: &str, from: u64, n: u64) -> Value {
    let events: Vec<Value> = (from..from + n)
        .map(|seq| {
            json!({"sessionId": sid, "seq": seq, "ts": ts(), "source": "agent", "type": "assistant",
                   "data": serde_json::from_str::<Value>(&data(seq)).expect("json")})
        })
        .collect();
    json!({"runtimeId": runtime, "events": events})
}

/// Posts until 200, retrying 503 and connection errors (as a supervisor would).
async fn post(http: &reqwest::Client, url: &str, key: &str, body: &[u8]) -> u32 {
    let mut retries = 0;
    loop {
        let sent = http
            .post(format!("{url}/api/internal/v1/events"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return retries,
            Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {}
            Ok(r) => panic!(
                "ingest answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(_) => {}
        }
        retries += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn ingest(args: &[String]) {
    let url = need(args, "--url");
    let key = need(args, "--key");
    let database_url = need(args, "--database-url");
    let senders: u64 = need(args, "--senders").parse().expect("--senders");
    let total: u64 = need(args, "--events").parse().expect("--events");
    let batch_size: u64 = arg(args, "--batch").map_or(200, |b| b.parse().expect("--batch"));
    let in_flight: usize = arg(args, "--in-flight").map_or(2, |n| n.parse().expect("--in-flight"));
    // `--no-copy`: only the HTTP run (the PostgreSQL restart case measures retries, not rates).
    let with_copy = !args.iter().any(|a| a == "--no-copy");
    let per_sender = total / senders;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    // Bodies are built before the clock starts: the benchmark measures the server.
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
    for s in 0..senders {
        let sid = format!("b-{}-{s}", &run[..12]);
        let mut mine = Vec::new();
        let mut from = 0;
        while from < per_sender {
            let n = batch_size.min(per_sender - from);
            mine.push(serde_json::to_vec(&batch(&format!("rt-{s}"), &sid, from, n)).expect("json"));
            from += n;
        }
        bodies.push(mine);
    }
    let body_bytes: usize = bodies.iter().flatten().map(Vec::len).sum();
    let copy_before = if with_copy {
        let mut conn = sqlx::PgConnection::connect(&database_url).await.expect("connect");
        copy_rows(&mut conn, &format!("c-{}", &run[..12]), senders, per_sender).await
    } else {
        0.0
    };

    let started = Instant::now();
    let mut tasks = Vec::new();
    for mine in bodies {
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            futures_util::stream::iter(mine)
                .map(|body| {
                    let (http, url, key) = (http.clone(), url.clone(), key.clone());
                    async move { post(&http, &url, &key, &body).await }
                })
                .buffered(in_flight)
                .fold(0, |sum, retries| async move { sum + retries })
                .await
        }));
    }
    let mut retries = 0;
    for t in tasks {
        retries += t.await.expect("sender");
    }
    let http_secs = started.elapsed().as_secs_f64();
    let sent = per_sender * senders;
    let http_rate = sent as f64 / http_secs;

    // The same rows, raw COPY into the same table, once before and once after the HTTP run: the machine's
    // load drifts, and the mean of the two brackets the moment the HTTP run was measured.
    let mut conn = connect_retrying(&database_url).await;
    let copy_after = if with_copy {
        copy_rows(&mut conn, &format!("d-{}", &run[..12]), senders, per_sender).await
    } else {
        0.0
    };
    let copy_rate = (copy_before + copy_after) / 2.0;

    // Verify: every event stored once.
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE session_id LIKE $1")
        .bind(format!("b-{}-%", &run[..12]))
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(stored as u64, sent, "every event stored exactly once");
    if !with_copy {
        println!(
            "ingest senders={senders} in-flight={in_flight} batch={batch_size} events={sent}: http {http_rate:.0} ev/s \
             ({http_secs:.2} s, {retries} retries); every event stored once"
        );
        return;
    }
    println!(
        "ingest senders={senders} in-flight={in_flight} batch={batch_size} ({:.0} KiB) events={sent}: http {http_rate:.0} ev/s ({http_secs:.2} s, {retries} retries) \
         | copy {copy_before:.0} and {copy_after:.0} rows/s | ratio {:.2}",
        body_bytes as f64 / (sent.div_ceil(batch_size) as f64) / 1024.0,
        http_rate / copy_rate
    );
}

/// Connects, waiting out a database that is (re)starting.
async fn connect_retrying(url: &str) -> sqlx::PgConnection {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match sqlx::PgConnection::connect(url).await {
            Ok(conn) => return conn,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

/// COPYs `senders × per_sender` rows like the benchmark's events into `events`; answers rows per second.
async fn copy_rows(conn: &mut sqlx::PgConnection, prefix: &str, senders: u64, per_sender: u64) -> f64 {
    let mut text = String::new();
    for s in 0..senders {
        let sid = format!("{prefix}-{s}");
        for seq in 0..per_sender {
            let d = data(seq).replace('\\', "\\\\");
            text.push_str(&format!("{sid}\t{seq}\t{}\tagent\tassistant\t{d}\n", ts()));
        }
    }
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY events (session_id, seq, ts, source, type, data) FROM STDIN")
        .await
        .expect("copy");
    copy.send(text.into_bytes()).await.expect("send copy");
    let rows = copy.finish().await.expect("finish copy");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(rows, senders * per_sender);
    rows as f64 / secs
}

async fn follow(args: &[String]) {
    let ingest_url = need(args, "--ingest-url");
    let follow_url = need(args, "--follow-url");
    let key = need(args, "--key");
    let token = need(args, "--token");
    let rate: u64 = need(args, "--rate").parse().expect("--rate");
    let seconds: u64 = need(args, "--seconds").parse().expect("--seconds");
    let sid = format!("f-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let http = reqwest::Client::new();
    // The session exists before the follower connects.
    let first = serde_json::to_vec(&batch("rt-f", &sid, 0, 1)).expect("json");
    post(&http, &ingest_url, &key, &first).await;

    let accepted: Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Arc::default();
    let total = rate * seconds;
    let follower = {
        let (http, url, token, sid) = (http.clone(), follow_url.clone(), token.clone(), sid.clone());
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let response = http
                .get(format!("{url}/api/v1/sessions/{sid}/events"))
                .bearer_auth(token)
                .header("accept", "text/event-stream")
                .header("last-event-id", "0")
                .send()
                .await
                .expect("follow");
            assert!(response.status().is_success());
            let mut stream = response.bytes_stream();
            let mut buffer = Vec::new();
            let mut seen: HashMap<u64, Instant> = HashMap::new();
            let mut expected = 1;
            while let Some(chunk) = stream.next().await {
                let now = Instant::now();
                buffer.extend_from_slice(&chunk.expect("chunk"));
                while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=pos).collect();
                    if let Some(id) = line.strip_prefix(b"id: ") {
                        let seq: u64 = String::from_utf8_lossy(id).trim().parse().expect("seq");
                        assert_eq!(seq, expected, "the follower sees every seq once, in order");
                        expected += 1;
                        seen.insert(seq, now);
                    }
                }
                if expected > total {
                    break;
                }
            }
            let accepted = accepted.lock().expect("lock");
            let mut latencies: Vec<f64> = seen
                .iter()
                .filter_map(|(seq, at)| {
                    accepted
                        .get(seq)
                        .map(|a| at.saturating_duration_since(*a).as_secs_f64() * 1000.0)
                })
                .collect();
            latencies.sort_by(|a, b| a.total_cmp(b));
            latencies
        })
    };
    // Batches every 20 ms to reach the rate.
    let tick = Duration::from_millis(20);
    let per_tick = (rate * tick.as_millis() as u64 / 1000).max(1);
    let mut interval = tokio::time::interval(tick);
    let mut next = 1;
    let started = Instant::now();
    while next <= total {
        interval.tick().await;
        let n = per_tick.min(total - next + 1);
        let body = serde_json::to_vec(&batch("rt-f", &sid, next, n)).expect("json");
        post(&http, &ingest_url, &key, &body).await;
        let now = Instant::now();
        let mut accepted = accepted.lock().expect("lock");
        for seq in next..next + n {
            accepted.insert(seq, now);
        }
        next += n;
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    let latencies = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("follower finishes")
        .expect("follower");
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "follow across replicas: {total} events at {achieved:.0} ev/s: latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("ingest") => ingest(&args).await,
        Some("follow") => follow(&args).await,
        _ => {
            eprintln!("usage: bench ingest|follow …");
            std::process::exit(2);
        }
    }
}
