//! A relay between a supervisor and its control plane that passes every request through, except that it
//! never hands the supervisor a claim answer holding jobs: the control plane has given the jobs to that
//! runtime, which never learns of them. That is a supervisor that dies after its claim and before the
//! start, made exact: the test kills it once the relay has swallowed a job.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

struct Shared {
    upstream: String,
    client: reqwest::Client,
    /// The jobs of the claim answers kept from the supervisor.
    swallowed: Mutex<Vec<Value>>,
}

pub(crate) struct ClaimSwallower {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl ClaimSwallower {
    pub(crate) async fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            swallowed: Mutex::default(),
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
}

impl Drop for ClaimSwallower {
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
    if uri.path() == "/api/internal/v1/claim" {
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
