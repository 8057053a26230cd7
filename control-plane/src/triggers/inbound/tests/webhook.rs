use axum::http::{HeaderMap, HeaderValue};
use expect_test::{Expect, expect};

use super::super::{Kind, Limits, Request};
use super::{render, run_request};

#[track_caller]
fn check(body: &str, query: &str, expect: Expect) {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    headers.append("X-Tag", HeaderValue::from_static("a"));
    headers.append("x-tag", HeaderValue::from_static("b"));
    let request = Request {
        body: body.as_bytes(),
        content_type: Some("application/json"),
        headers: &headers,
        query,
    };
    let result = run_request(Kind::Webhook, &request, &Limits::default());
    expect.assert_eq(&render(result));
}

#[test]
fn a_json_webhook_keeps_its_body_as_json_with_headers_and_query() {
    check(
        r#"{"action":"opened","issue":{"number":12}}"#,
        "source=github&tag=a&tag=b%20c",
        expect![[r#"
            provider_id: None
            auto_submitted: false
            keys: []
            thread: None
            context: {
              "body": {
                "action": "opened",
                "issue": {
                  "number": 12
                }
              },
              "headers": {
                "content-type": "application/json",
                "x-tag": "a, b"
              },
              "query": {
                "source": "github",
                "tag": "a, b c"
              }
            }
        "#]],
    );
}

#[test]
fn a_body_that_is_not_json_is_kept_as_text() {
    check(
        "plain words, not { json",
        "",
        expect![[r#"
        provider_id: None
        auto_submitted: false
        keys: []
        thread: None
        context: {
          "body": "plain words, not { json",
          "headers": {
            "content-type": "application/json",
            "x-tag": "a, b"
          },
          "query": {}
        }
    "#]],
    );
}

#[test]
fn a_stripe_event_gives_its_id_and_other_ids_do_not() {
    check(
        r#"{"id":"evt_1Nq","object":"event","type":"invoice.paid"}"#,
        "",
        expect![[r#"
        provider_id: Some("evt_1Nq")
        auto_submitted: false
        keys: []
        thread: None
        context: {
          "body": {
            "id": "evt_1Nq",
            "object": "event",
            "type": "invoice.paid"
          },
          "headers": {
            "content-type": "application/json",
            "x-tag": "a, b"
          },
          "query": {}
        }
    "#]],
    );
    check(
        r#"{"id":"not-stripe","object":"charge"}"#,
        "",
        expect![[r#"
        provider_id: None
        auto_submitted: false
        keys: []
        thread: None
        context: {
          "body": {
            "id": "not-stripe",
            "object": "charge"
          },
          "headers": {
            "content-type": "application/json",
            "x-tag": "a, b"
          },
          "query": {}
        }
    "#]],
    );
    check(
        r#"{"id":42,"object":"event"}"#,
        "",
        expect![[r#"
        provider_id: None
        auto_submitted: false
        keys: []
        thread: None
        context: {
          "body": {
            "id": 42,
            "object": "event"
          },
          "headers": {
            "content-type": "application/json",
            "x-tag": "a, b"
          },
          "query": {}
        }
    "#]],
    );
}

#[test]
fn a_body_that_is_not_utf8_is_kept_as_lossy_text() {
    let headers = HeaderMap::new();
    let request = Request {
        body: b"caf\xe9",
        content_type: None,
        headers: &headers,
        query: "",
    };
    let normalised =
        run_request(Kind::Webhook, &request, &Limits::default()).expect("a webhook body is never invalid");
    expect![[r#""caf�""#]].assert_eq(&normalised.context["body"].to_string());
}
