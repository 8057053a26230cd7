//! A plain webhook: the body (JSON when it parses), the request's headers and its query.

use serde_json::{Value, json};

use super::{Normalised, Request, Thread, headers};

pub(crate) fn normalise(request: &Request<'_>) -> Normalised {
    let body = serde_json::from_slice::<Value>(request.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(request.body).into_owned()));
    let query = form_urlencoded::parse(request.query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()));
    let provider_id = stripe_event_id(&body);
    let context = json!({
        "body": body,
        "headers": headers::http_object(request.headers),
        "query": headers::object(query),
    });
    Normalised {
        provider_id,
        context,
        attachments: Vec::new(),
        thread: Thread::None,
        auto_submitted: false,
    }
}

/// A Stripe event (`"object": "event"`) carries its id in the body, where no header has it.
fn stripe_event_id(body: &Value) -> Option<String> {
    if body.get("object")?.as_str()? != "event" {
        return None;
    }
    body.get("id")?.as_str().map(str::to_owned)
}
