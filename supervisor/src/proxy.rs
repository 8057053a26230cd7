//! Credential-proxy mode: the supervisor holds the Anthropic API key, and agents get a loopback
//! `ANTHROPIC_BASE_URL` that adds it to each request, so the key never enters an agent's environment.
//!
//! The proxy listens on 127.0.0.1 only and forwards every request (method, path, query, headers, body) to
//! the upstream API, replacing the credential headers with the key; answers, streamed ones included, are
//! passed back as they arrive. An agent can spend the key through it, but cannot read it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::http::deadline::bound_body;
use crate::http::server::{Limits, serve};
use crate::secret::Secret;

#[derive(Debug)]
struct Upstream {
    base: String,
    key: Secret,
    client: reqwest::Client,
}

/// Headers that are not forwarded: hop-by-hop ones, and the credentials the proxy replaces.
const DROPPED: [HeaderName; 6] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
];

/// Binds the proxy on loopback and serves it until `stop`, with the main server's bounds (a connection cap,
/// a header-read timeout, a body-read deadline): agents are its clients, and one must not hold the others'
/// way to the API. Returns its address.
pub(crate) async fn start(
    upstream: &str,
    key: Secret,
    limits: Limits,
    body_read_timeout: Duration,
    stop: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    use anyhow::Context;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind the credential proxy")?;
    let addr = listener.local_addr()?;
    let upstream = Arc::new(Upstream {
        base: upstream.trim_end_matches('/').to_owned(),
        key,
        client: reqwest::Client::builder()
            .build()
            .context("build the proxy's HTTP client")?,
    });
    let app = axum::Router::new().fallback(forward).with_state(upstream).layer(
        axum::middleware::from_fn_with_state(body_read_timeout, bound_body),
    );
    tokio::spawn(serve(listener, app, limits, stop));
    Ok(addr)
}

async fn forward(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", upstream.base);
    let mut outgoing = upstream.client.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !DROPPED.contains(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    outgoing = outgoing.header("x-api-key", upstream.key.expose());
    // Request bodies are small (one turn's messages); answers are streamed.
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(body) => body,
        Err(err) => return (StatusCode::BAD_REQUEST, format!("read request body: {err}")).into_response(),
    };
    match outgoing.body(body).send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if !DROPPED.contains(name) {
                    response = response.header(name, value);
                }
            }
            response
                .body(Body::from_stream(answer.bytes_stream()))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(err) => {
            tracing::warn!(url = %url, error = %err, "credential proxy: upstream request failed");
            let body = serde_json::json!({"type": "error", "error": {"type": "api_error", "message": "the agent supervisor could not reach the Anthropic API"}});
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}
