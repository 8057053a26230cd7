//! A recording stand-in of a provider's send API (Twilio Messages, Mailgun, SendGrid): an HTTP server on a
//! free loopback port that keeps every request it gets and answers each with the next scripted status
//! (then 200), so a test reads what the control plane sent and how it was told.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    /// By lowercase name; a repeated header keeps its last value.
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    /// The urlencoded form fields of the body, in order.
    pub(crate) fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }

    /// One form field's value (the first of that name).
    pub(crate) fn field(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

#[derive(Default)]
struct Shared {
    requests: Vec<Recorded>,
    script: Vec<u16>,
}

/// The stand-in, serving until the test's runtime ends.
#[derive(Clone)]
pub(crate) struct StandIn {
    pub(crate) addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl StandIn {
    /// Answers the requests in turn with `script`'s statuses, then 200; the body is always `{}` (enough
    /// for every provider's client: an id is read where there is one, not required).
    pub(crate) async fn start(script: &[u16]) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            requests: Vec::new(),
            script: script.iter().rev().copied().collect(),
        }));
        let state = shared.clone();
        let app = axum::Router::new().fallback(
            async move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let mut shared = state.lock().expect("not poisoned");
                shared.requests.push(Recorded {
                    method: method.to_string(),
                    path: uri.path_and_query().map_or("", |p| p.as_str()).to_owned(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect(),
                    body: body.to_vec(),
                });
                let status = shared.script.pop().unwrap_or(200);
                (
                    StatusCode::from_u16(status).expect("a status"),
                    [("content-type", "application/json")],
                    r#"{"id": "<stand-in@example.test>", "sid": "SMstandin"}"#,
                )
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, shared }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().expect("not poisoned").requests.clone()
    }
}
