//! A relay between a supervisor and its real control plane: it passes every request through and records
//! each claim the supervisor sends, with when it arrived (what a test of the pull loop checks that the
//! control plane does not show).
//!
//! Made to swallow claimed jobs, it never hands the supervisor a claim answer holding jobs: the control
//! plane has given the jobs to that runtime, which never learns of them. That is a supervisor that dies
//! after its claim and before the start, made exact: the test kills it once the relay has swallowed a job.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

const CLAIM: &str = "/api/internal/v1/claim";

struct Shared {
    upstream: String,
    client: reqwest::Client,
    /// Keep every claim answer holding jobs from the supervisor.
    swallow: bool,
    /// The jobs of the claim answers kept from the supervisor.
    swallowed: Mutex<Vec<Value>>,
    /// Every claim request, with when it arrived.
    claims: Mutex<Vec<(Instant, Value)>>,
}

pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Passes everything through to `upstream`, recording the claims.
    pub(crate) async fn start(upstream: &str) -> Self {
        Self::serve(upstream, false).await
    }

    /// Like `start`, keeping every claim answer that holds jobs from the supervisor.
    pub(crate) async fn swallowing_jobs(upstream: &str) -> Self {
        Self::serve(upstream, true).await
    }

    async fn serve(upstream: &str, swallow: bool) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            swallow,
            swallowed: Mutex::default(),
            claims: Mutex::default(),
        });
        let app = axum::Router::new().fallback(relay).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, shared, server }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The jobs kept from the supervisor so far.
    pub(crate) fn swallowed(&self) -> Vec<Value> {
        self.shared.swallowed.lock().unwrap().clone()
    }

    /// Every claim request the supervisor sent so far, with when it arrived.
    pub(crate) fn claims(&self) -> Vec<(Instant, Value)> {
        self.shared.claims.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn relay(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if uri.path() == CLAIM {
        let claim = serde_json::from_slice(&body).unwrap_or(Value::Null);
        shared.claims.lock().unwrap().push((Instant::now(), claim));
    }
    let mut request = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    for name in ["authorization", "content-type", "content-encoding"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer.headers().get("content-type").cloned();
    let bytes = answer.bytes().await.unwrap_or_default();
    if shared.swallow && uri.path() == CLAIM {
        let jobs = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["jobs"].as_array().cloned())
            .unwrap_or_default();
        if !jobs.is_empty() {
            shared.swallowed.lock().unwrap().extend(jobs);
            // The answer never arrives: the supervisor waits until the test kills it.
            std::future::pending::<()>().await;
        }
    }
    let mut response = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert("content-type", content_type);
    }
    response
}
