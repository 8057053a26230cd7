//! Fault case 7: status codes: 429 and 503 with Retry-After, 500, 502, 504, then 413 on large batches and 400
//! on the batch that holds one chosen line; everything else forwarded to the real control plane.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

struct Stub {
    cp_url: String,
    client: reqwest::Client,
    /// Each error code of the cycle is served this many times, then the faults end.
    error_rounds: usize,
    errors_done: std::sync::Mutex<Option<Instant>>,
    next: AtomicUsize,
    served: std::sync::Mutex<BTreeMap<u16, usize>>,
    chosen: (String, u64),
}

fn gunzip_if(headers: &axum::http::HeaderMap, body: &[u8]) -> Vec<u8> {
    if headers
        .get(axum::http::header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a gzip body");
        out
    } else {
        body.to_vec()
    }
}

async fn stub_handler(
    axum::extract::State(stub): axum::extract::State<Arc<Stub>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let answer = |code: u16, retry_after: bool| {
        *stub.served.lock().unwrap().entry(code).or_default() += 1;
        let mut response = (
            axum::http::StatusCode::from_u16(code).unwrap(),
            format!("fault test: {code}"),
        )
            .into_response();
        if retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, "1".parse().unwrap());
        }
        response
    };
    if parts.uri.path().ends_with("/events") {
        const CYCLE: [(u16, bool); 5] = [(429, true), (503, true), (500, false), (502, false), (504, false)];
        let i = stub.next.fetch_add(1, Ordering::Relaxed);
        if i < stub.error_rounds * CYCLE.len() {
            let (code, retry_after) = CYCLE[i % CYCLE.len()];
            if i + 1 == stub.error_rounds * CYCLE.len() {
                *stub.errors_done.lock().unwrap() = Some(Instant::now());
            }
            return answer(code, retry_after);
        }
        let batch: Value = serde_json::from_slice(&gunzip_if(&parts.headers, &body)).unwrap();
        let events = batch["events"].as_array().unwrap();
        if events.len() > 300 {
            return answer(413, false);
        }
        if events
            .iter()
            .any(|e| line_n(e, &stub.chosen.0) == Some(stub.chosen.1))
        {
            return answer(400, false);
        }
    }
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    let forwarded = stub
        .client
        .request(parts.method, format!("{}{}", stub.cp_url, parts.uri))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match forwarded {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
                out.headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, ct.clone());
            }
            out
        }
        Err(_) => answer(502, false),
    }
}

/// The batches in `<state>/dead-letter/`.
fn dead_letters(state: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(state.join("dead-letter")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).expect("a dead letter is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn f07_status_codes() {
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(free_addr(), &db.url()).await;
    let stub = Arc::new(Stub {
        cp_url: cp.url(),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        error_rounds: if full() { 3 } else { 1 },
        errors_done: Default::default(),
        next: AtomicUsize::new(0),
        served: Default::default(),
        chosen: ("f7-0".to_owned(), 5000),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub_addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(stub_handler)
        .with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let sup = shipping_to(stub_addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        agents.push(start_agent(&sup, &format!("f7-{k}"), 8000, 200, "0.1").await);
    }
    let served_all = async || stub.errors_done.lock().unwrap().is_some();
    assert!(
        eventually(Duration::from_secs(120), served_all).await,
        "the error codes were not all served"
    );
    let fault_end = stub.errors_done.lock().unwrap().expect("the errors were served");
    let live = liveness(&sup, &cp, fault_end, "f7").await;
    wait_all_finished(&sup, &agents).await;

    let letters = dead_letters(&sup.state_dir());
    let mut excused: HashMap<String, Excused> = HashMap::new();
    for letter in &letters {
        for event in letter["events"].as_array().unwrap() {
            let id = event["sessionId"].as_str().unwrap().to_owned();
            let e = excused.entry(id.clone()).or_default();
            e.seqs.insert(event["seq"].as_u64().unwrap());
            if let Some(n) = line_n(event, &id) {
                e.lines.insert(n);
            }
        }
    }
    let tally = tally(&cp, &sup.state_dir(), &agents, &excused, true).await;
    let served = stub.served.lock().unwrap().clone();
    let dead = sup.metric("supervisor_delivery_dead_letters_total").await;
    header();
    report(
        "7 status codes",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("served {served:?}; dead letters {}", letters.len()),
    );
    for code in [429, 503, 500, 502, 504, 413, 400] {
        assert!(
            served.get(&code).is_some_and(|n| *n > 0),
            "{code} was never served: {served:?}"
        );
    }
    assert_eq!(served[&400], 1, "the rejected batch is not retried");
    assert_eq!(letters.len(), 1, "one batch in the dead-letter directory");
    assert!(
        excused["f7-0"].lines.contains(&5000),
        "the dead letter holds the chosen line"
    );
    assert_eq!(dead, Some(1), "supervisor_delivery_dead_letters_total");
}
