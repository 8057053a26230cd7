//! Ingest keeps flowing while `--retention` deletes 100,000 events: a sender ingests small batches of a
//! live session throughout the deletion; the deletion's time and the sender's latencies are printed (no
//! timed assertion), and every event it sent is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TestDb;
use crate::on_both_backends;
use crate::retention::{HOUR_MS, counter, event, ingest_all, serve, session, until_deleted};

async fn ingest_flows_while_old_events_are_deleted(db: TestDb) {
    let now = control_plane::time::now_ms();
    let seeder = serve(&db, None).await;
    let mut events = Vec::new();
    for i in 0..100 {
        events.extend(session(&format!("old-{i}"), 998, now - 2 * HOUR_MS, true));
    }
    assert_eq!(events.len(), 100_000);
    ingest_all(&seeder, &events).await;
    seeder.stop().await;

    let started = Instant::now();
    let app = serve(&db, Some(Duration::from_secs(3_600))).await;
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        let app_url = app.url("/api/internal/v1/events");
        let http = app.http.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            let stop = Instant::now() + Duration::from_secs(120);
            while Instant::now() < stop {
                let batch: Vec<_> = (seq..seq + 50)
                    .map(|s| event("live", s, "agent", "text", serde_json::json!({"text": "x"}), now))
                    .collect();
                let sent = Instant::now();
                let response = http
                    .post(&app_url)
                    .bearer_auth(crate::helpers::KEY)
                    .json(&serde_json::json!({"runtimeId": "rt-a", "events": batch}))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(response.status(), StatusCode::OK);
                latencies.push(sent.elapsed());
                seq += 50;
                if done.load(Ordering::Relaxed) {
                    break;
                }
            }
            (seq, latencies)
        })
    };
    until_deleted(&app, 100).await;
    let deletion = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let (sent, mut latencies) = sender.await.expect("sender");
    assert_eq!(
        counter(&app, "agentctl_retention_deleted_events_total").await,
        100_000
    );
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "retention ({}): 100,000 events of 100 sessions deleted in {deletion:?} (from the server's start); \
         meanwhile {} batches of 50 ingested, latency p50 {:?} p99 {:?} max {:?}",
        if db.admin.is_some() { "postgres" } else { "sqlite" },
        latencies.len(),
        pick(0.5),
        pick(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    let stored = db
        .fetch_strings("SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE session_id = 'live'")
        .await;
    assert_eq!(stored, vec![sent.to_string()], "every ingested event is stored");
    app.stop().await;
}

on_both_backends!(ingest_flows_while_old_events_are_deleted);
