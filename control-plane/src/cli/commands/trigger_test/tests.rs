use expect_test::{Expect, expect};
use reqwest::StatusCode;
use serde_json::json;

use super::*;

fn trigger(kind: &str) -> Trigger {
    serde_json::from_value(json!({
        "agentId": "bot", "kind": kind, "verify": {"scheme": "none"}, "prompt": "x",
    }))
    .expect("a trigger")
}

#[track_caller]
fn check_content_type(given: Option<&str>, kind: &str, body: &str, expect: Expect) {
    expect.assert_eq(&content_type(given, &trigger(kind), body.as_bytes()));
}

#[test]
fn the_content_type_is_the_flag_s_else_multipart_by_its_boundary_else_the_provider_s() {
    check_content_type(None, "webhook", "{}", expect!["application/json"]);
    check_content_type(
        None,
        "sms",
        "From=%2B1",
        expect!["application/x-www-form-urlencoded"],
    );
    check_content_type(
        None,
        "email",
        "recipient=a",
        expect!["application/x-www-form-urlencoded"],
    );
    check_content_type(
        None,
        "email",
        "--xYzZY\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@x\r\n--xYzZY--\r\n",
        expect!["multipart/form-data; boundary=xYzZY"],
    );
    check_content_type(
        None,
        "webhook",
        "-- not a boundary\n",
        expect!["application/json"],
    );
    check_content_type(None, "webhook", "--\n", expect!["application/json"]);
    check_content_type(Some("text/plain"), "webhook", "{}", expect!["text/plain"]);
}

fn mailgun_fields() -> Signed {
    Signed {
        headers: Vec::new(),
        fields: vec![
            ("timestamp".to_owned(), "1700000000".to_owned()),
            ("token".to_owned(), "t1".to_owned()),
        ],
    }
}

#[track_caller]
fn check_body(content_type: &str, body: &str, signed: &Signed, expect: Expect) {
    let got = match signed_body(content_type, body.as_bytes(), signed) {
        // CR shown as ␍: multipart lines end in CRLF.
        Ok(bytes) => String::from_utf8(bytes).expect("text").replace('\r', "␍"),
        Err(why) => format!("error: {why}"),
    };
    expect.assert_eq(&got);
}

#[test]
fn signature_fields_join_a_form_or_go_before_the_closing_boundary_and_nothing_else() {
    let form = "application/x-www-form-urlencoded";
    check_body(form, "a=1", &Signed::default(), expect!["a=1"]);
    check_body("application/json", "{}", &Signed::default(), expect!["{}"]);
    check_body(
        form,
        "a=1",
        &mailgun_fields(),
        expect!["a=1&timestamp=1700000000&token=t1"],
    );
    check_body(
        form,
        "",
        &mailgun_fields(),
        expect!["timestamp=1700000000&token=t1"],
    );
    check_body(
        "multipart/form-data; boundary=\"b1\"",
        "--b1\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@x\r\n--b1--\r\n",
        &mailgun_fields(),
        expect![[r#"
            --b1␍
            Content-Disposition: form-data; name="to"␍
            ␍
            a@x␍
            --b1␍
            Content-Disposition: form-data; name="timestamp"␍
            ␍
            1700000000␍
            --b1␍
            Content-Disposition: form-data; name="token"␍
            ␍
            t1␍
            --b1--␍
        "#]],
    );
    check_body(
        "multipart/form-data; boundary=b1",
        "--b1\r\n",
        &mailgun_fields(),
        expect!["error: the multipart body has no closing --b1--"],
    );
    check_body(
        "multipart/form-data",
        "--b1--",
        &mailgun_fields(),
        expect!["error: the multipart content type has no boundary"],
    );
    check_body(
        "application/json",
        "{}",
        &mailgun_fields(),
        expect![
            "error: the signature goes into form fields: the body must be a form or multipart, not application/json"
        ],
    );
}

#[track_caller]
fn check_render(status: u16, content_type: &str, body: &str, expect: Expect) {
    let answer = HookAnswer {
        status: StatusCode::from_u16(status).expect("a status"),
        content_type: content_type.to_owned(),
        body: body.to_owned(),
    };
    expect.assert_eq(&render(&answer));
}

#[test]
fn the_answer_shows_its_status_delivery_and_session_or_its_error() {
    check_render(
        202,
        "application/json",
        r#"{"deliveryId":"d1","sessionId":"s1","status":"queued"}"#,
        expect![[r#"
            202 Accepted
            delivery: d1
            session:  s1
            status:   queued
        "#]],
    );
    check_render(
        200,
        "application/json",
        r#"{"deliveryId":"d1","sessionId":null,"status":"duplicate"}"#,
        expect![[r#"
            200 OK
            delivery: d1
            session:  -
            status:   duplicate
        "#]],
    );
    check_render(
        401,
        "application/json",
        r#"{"error":{"code":"signature_refused","message":"no signature matches\u001b[2J"}}"#,
        expect![[r#"
            401 Unauthorized
            error:    no signature matches\u{1b}[2J
        "#]],
    );
    check_render(
        200,
        "text/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>\n",
        expect![[r#"
            200 OK
            text/xml: <?xml version="1.0" encoding="UTF-8"?><Response/>
        "#]],
    );
    check_render(
        404,
        "",
        "",
        expect![[r#"
        404 Not Found
    "#]],
    );
}
