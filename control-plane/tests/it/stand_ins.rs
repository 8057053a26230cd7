//! Local stand-ins of the providers' send APIs (Twilio Messages, Mailgun messages, SendGrid mail send, a
//! webhook receiver): an HTTP server on 127.0.0.1:0 per test that records every request and answers each
//! in turn as its script says, in the provider's documented answer shape. Once the script is used up it
//! keeps accepting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which API a stand-in speaks: it decides the shape of the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Twilio,
    Mailgun,
    Sendgrid,
    Webhook,
}

/// One scripted answer.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub status: u16,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

impl From<u16> for Step {
    fn from(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
        }
    }
}

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// By lowercase name; a repeated header keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The form fields, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// One form field's value.
    pub fn field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the stand-in received JSON")
    }
}

struct State {
    provider: Provider,
    script: Vec<Step>,
    received: Vec<Recorded>,
}

pub struct StandIn {
    /// The base URL: pass it as the provider's API URL (or as `reply.url`, with a path).
    pub url: url::Url,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub async fn start(provider: Provider, script: impl IntoIterator<Item = Step>) -> Self {
        let state = Arc::new(Mutex::new(State {
            provider,
            script: script.into_iter().collect(),
            received: Vec::new(),
        }));
        let shared = state.clone();
        let router =
            axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { answer(&state, method, uri, headers, body) }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port for the stand-in");
        let address = listener.local_addr().expect("the stand-in's address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve the stand-in");
        });
        Self {
            url: url::Url::parse(&format!("http://{address}/")).expect("a valid URL"),
            state,
            task,
        }
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Recorded> {
        self.state.lock().expect("stand-in state").received.clone()
    }
}

fn answer(state: &Mutex<State>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = state.lock().expect("stand-in state");
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    state.received.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    let n = state.received.len();
    let step = if state.script.is_empty() {
        Step::from(success(state.provider))
    } else {
        state.script.remove(0)
    };
    let status = StatusCode::from_u16(step.status).expect("scripted statuses are valid");
    let mut response = if status.is_success() {
        accepted(state.provider, status, n)
    } else {
        refused(state.provider, status)
    };
    if let Some(seconds) = step.retry_after {
        response.headers_mut().insert(
            "retry-after",
            seconds.to_string().parse().expect("a number is a header value"),
        );
    }
    response
}

/// The status each API answers a message it took with.
pub fn success(provider: Provider) -> u16 {
    match provider {
        Provider::Twilio => 201,
        Provider::Mailgun | Provider::Webhook => 200,
        Provider::Sendgrid => 202,
    }
}

/// The answer to the `n`th request when the message was taken: Twilio a Message resource, Mailgun its
/// queued notice, SendGrid nothing but its `X-Message-Id` header.
fn accepted(provider: Provider, status: StatusCode, n: usize) -> Response {
    match provider {
        Provider::Twilio => (
            status,
            axum::Json(json!({
                "sid": format!("SM{n:032}"),
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
            })),
        )
            .into_response(),
        Provider::Mailgun => (
            status,
            axum::Json(json!({
                "id": format!("<stand-in.{n}@mg.example.com>"),
                "message": "Queued. Thank you.",
            })),
        )
            .into_response(),
        Provider::Sendgrid => (status, [("x-message-id", format!("sg-{n}"))]).into_response(),
        Provider::Webhook => status.into_response(),
    }
}

/// A refusal in the provider's error shape.
fn refused(provider: Provider, status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("refused");
    let body = match provider {
        Provider::Twilio => json!({"code": 20003, "message": reason, "status": status.as_u16()}),
        Provider::Mailgun => json!({"message": reason}),
        Provider::Sendgrid => json!({"errors": [{"message": reason, "field": null}]}),
        Provider::Webhook => json!({"error": reason}),
    };
    (status, axum::Json(body)).into_response()
}
