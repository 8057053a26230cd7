//! Realistic provider payloads (`fixtures/`, written for these tests) through `normalise`, their context
//! as expect-test snapshots, each malformed variant, and tables for the pure decisions.
//!
//! A fixture file is `Content-Type: …`, an empty line, then the body; multipart bodies are written with
//! `\n` and sent with `\r\n`, as providers do.

mod keys;
mod loop_guard;
mod mailgun;
mod paths;
mod quote;
mod sendgrid;
mod twilio;
mod webhook;

use std::fmt::Write as _;

use axum::http::HeaderMap;
use expect_test::Expect;

use super::{Invalid, Kind, Limits, Normalised, Request, normalise};

/// A request body with its content type.
#[derive(Debug, Clone)]
struct Payload {
    content_type: String,
    body: Vec<u8>,
}

impl Payload {
    fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type: content_type.to_owned(),
            body: body.into(),
        }
    }

    /// A fixture as a provider would post it.
    fn fixture(text: &str) -> Self {
        let (head, body) = text
            .split_once("\n\n")
            .expect("a fixture has a Content-Type line and a body");
        let content_type = head
            .strip_prefix("Content-Type: ")
            .expect("a fixture starts with its Content-Type");
        let body = if content_type.starts_with("multipart/") {
            body.replace('\n', "\r\n")
        } else {
            body.trim_end_matches('\n').to_owned()
        };
        Self::new(content_type, body)
    }

    /// The same payload with one piece of its body replaced (the piece must be there, or the test proves nothing).
    fn replace(&self, from: &str, to: &str) -> Self {
        let body = String::from_utf8(self.body.clone()).expect("fixtures are UTF-8");
        assert!(body.contains(from), "the fixture holds {from:?}");
        Self::new(&self.content_type, body.replacen(from, to, 1))
    }

    /// As `replace`, with bytes that need not be UTF-8.
    fn replace_bytes(&self, from: &str, to: &[u8]) -> Self {
        let at = memchr::memmem::find(&self.body, from.as_bytes()).expect("the fixture holds the piece");
        let body = [&self.body[..at], to, &self.body[at + from.len()..]].concat();
        Self::new(&self.content_type, body)
    }
}

fn run(kind: Kind, payload: &Payload, limits: &Limits) -> Result<Normalised, Invalid> {
    let headers = HeaderMap::new();
    let request = Request {
        body: &payload.body,
        content_type: Some(&payload.content_type),
        headers: &headers,
        query: "",
    };
    run_request(kind, &request, limits)
}

/// `normalise` on a runtime of its own: it is async only to read multipart bodies.
fn run_request(kind: Kind, request: &Request<'_>, limits: &Limits) -> Result<Normalised, Invalid> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds")
        .block_on(normalise(kind, request, limits))
}

/// Everything a normalised request carries, as text for a snapshot.
fn render(result: Result<Normalised, Invalid>) -> String {
    let normalised = match result {
        Ok(normalised) => normalised,
        Err(Invalid(reason)) => return format!("invalid: {reason}"),
    };
    let mut out = String::new();
    writeln!(out, "provider_id: {:?}", normalised.provider_id).unwrap();
    writeln!(out, "auto_submitted: {}", normalised.auto_submitted).unwrap();
    writeln!(out, "keys: {:?}", normalised.thread.default_keys()).unwrap();
    writeln!(out, "thread: {:#?}", normalised.thread).unwrap();
    for attachment in &normalised.attachments {
        writeln!(
            out,
            "attachment: {} ({:?}, {}, {} bytes, starts {:?})",
            attachment.path,
            attachment.filename,
            attachment.content_type,
            attachment.data.len(),
            String::from_utf8_lossy(&attachment.data[..attachment.data.len().min(12)]),
        )
        .unwrap();
    }
    writeln!(out, "context: {:#}", normalised.context).unwrap();
    out
}

#[track_caller]
fn check(kind: Kind, payload: &Payload, expect: Expect) {
    expect.assert_eq(&render(run(kind, payload, &Limits::default())));
}

/// Only the error (or `ok`), for the malformed variants.
#[track_caller]
fn check_invalid(kind: Kind, payload: &Payload, limits: &Limits, expect: Expect) {
    let actual = match run(kind, payload, limits) {
        Ok(_) => "ok".to_owned(),
        Err(Invalid(reason)) => reason,
    };
    expect.assert_eq(&actual);
}
