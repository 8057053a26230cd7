//! The HTTP surface: `POST /v1/messages`, `POST /v1/messages/count_tokens`, and Anthropic-style errors for
//! everything else.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::conversation::{self, Kind, MessagesRequest, Plan};
use crate::record::{self, Recorder};
use crate::reply::{self, AssistantMessage, Ids};
use crate::scenario::{self, Reply, Scenarios};

/// The real API's request size limit; the CLI's requests grow with the conversation.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const REQUEST_CLASS_HEADER: &str = "x-claude-code-request-class";

/// Everything a request handler reads. Nothing in it changes per conversation (see `conversation`).
#[derive(Debug)]
pub struct AppState {
    pub scenarios: Scenarios,
    pub recorder: Option<Recorder>,
    pub ids: Ids,
    /// Cancelled when the server shuts down, so scripted delays end instead of holding shutdown up.
    pub shutdown: CancellationToken,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages).fallback(not_found))
        .route(
            "/v1/messages/count_tokens",
            post(count_tokens).fallback(not_found),
        )
        // The CLI warms its connection up with `HEAD /api/hello`; answering it keeps the logs quiet.
        .route("/api/hello", any(hello))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An error in the Messages API's shape: `{"type":"error","error":{"type","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    fn scripted(error: &scenario::ApiError) -> Self {
        Self {
            // Validated to 400..=599 when the scenario was loaded.
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            kind: error.kind.clone(),
            message: error.message.clone(),
            retry_after: error.retry_after,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"type": "error", "error": {"type": self.kind, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request_too_large"
        } else {
            "invalid_request_error"
        };
        Self::new(status, kind, rejection.body_text())
    }
}

/// What one request handler received, kept together for the record file.
struct Received {
    record: Map<String, Value>,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn new(method: &Method, uri: &Uri, headers: HeaderMap, body: Bytes) -> Self {
        let record = record::entry(method.as_str(), uri.path(), uri.query(), &headers, &body);
        Self {
            record,
            headers,
            body,
        }
    }

    async fn write_record(&mut self, state: &AppState, outcome: Value) {
        let Some(recorder) = &state.recorder else { return };
        self.record.insert("fake".to_owned(), outcome);
        if let Err(err) = recorder
            .append(&Value::Object(std::mem::take(&mut self.record)))
            .await
        {
            tracing::error!(error = %err, "append request to the record file");
        }
    }
}

async fn messages(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let mut received = Received::new(&method, &uri, headers, body);
    let request = match MessagesRequest::parse(&received.body) {
        Ok(request) => request,
        Err(message) => {
            received.write_record(&state, json!({"error": message})).await;
            tracing::warn!(%message, "refused a malformed messages request");
            return ApiError::invalid_request(message).into_response();
        }
    };
    let request_class = received
        .headers
        .get(REQUEST_CLASS_HEADER)
        .and_then(|value| value.to_str().ok());
    let plan = match conversation::plan(&request, request_class, &state.scenarios) {
        Ok(plan) => plan,
        Err(err) => {
            received
                .write_record(&state, json!({"error": err.to_string()}))
                .await;
            tracing::warn!(error = %err, "refused a messages request");
            return ApiError::invalid_request(err.to_string()).into_response();
        }
    };
    received.write_record(&state, outcome(&plan)).await;
    tracing::info!(
        scenario = %plan.scenario,
        turn = ?plan.turn,
        auxiliary = plan.kind == Kind::Auxiliary,
        stream = request.stream,
        model = %request.model,
        "answering messages request"
    );

    if !plan.step.delay.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(plan.step.delay) => {}
            () = state.shutdown.cancelled() => {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", "fake-anthropic is shutting down")
                    .into_response();
            }
        }
    }

    let (text, tool_use) = match plan.step.reply {
        Reply::Error(error) => return ApiError::scripted(&error).into_response(),
        Reply::Message { text, tool_use } => (text, tool_use),
    };
    let message = AssistantMessage::new(
        &state.ids,
        &request.model,
        text,
        tool_use,
        plan.step.usage,
        received.body.len(),
    );
    if request.stream {
        let events = message.to_sse().into_iter().map(Ok::<_, Infallible>);
        // Each event is its own chunk, so a client sees a real stream rather than one block of bytes.
        let body = Body::from_stream(futures_util::stream::iter(events));
        (
            [
                (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response()
    } else {
        axum::Json(message.to_json()).into_response()
    }
}

/// What the server decided, written into the record line under `fake` to make test failures readable.
fn outcome(plan: &Plan) -> Value {
    let reply = match &plan.step.reply {
        Reply::Error(error) => json!({"error": error.status}),
        Reply::Message {
            tool_use: Some(tool), ..
        } => json!({"toolUse": tool.name}),
        Reply::Message { .. } => json!("text"),
    };
    json!({
        "scenario": plan.scenario,
        "turn": plan.turn,
        "auxiliary": plan.kind == Kind::Auxiliary,
        "reply": reply,
    })
}

async fn count_tokens(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let mut received = Received::new(&method, &uri, headers, body);
    if let Err(message) = MessagesRequest::parse(&received.body) {
        received.write_record(&state, json!({"error": message})).await;
        return ApiError::invalid_request(message).into_response();
    }
    let input_tokens = reply::estimate_tokens(received.body.len());
    received
        .write_record(&state, json!({"inputTokens": input_tokens}))
        .await;
    axum::Json(json!({"input_tokens": input_tokens})).into_response()
}

async fn hello(State(state): State<Arc<AppState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    Received::new(&method, &uri, headers, Bytes::new())
        .write_record(&state, Value::Null)
        .await;
    StatusCode::OK.into_response()
}

async fn not_found(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let message = format!("{method} {} is not served by fake-anthropic", uri.path());
    Received::new(&method, &uri, headers, body)
        .write_record(&state, json!({"error": 404}))
        .await;
    tracing::warn!(%method, path = uri.path(), "no such route");
    ApiError::new(StatusCode::NOT_FOUND, "not_found_error", message).into_response()
}
