use expect_test::{Expect, expect};
use protocol::{ReplyKind, TriggerKind, VerifyScheme};
use serde_json::{Value, json};

use super::*;

/// A valid email trigger, patched by `patch` (a `null` removes the field).
fn body(patch: Value) -> Value {
    let mut body = json!({
        "agentId": "support-bot", "kind": "email",
        "verify": {"scheme": "mailgun", "secrets": ["key-1"]},
        "prompt": "Mail from {{ email.from }}:\n{{ email.text }}",
        "reply": {"kind": "mailgun", "from": "Support <support@example.com>", "credentials": {"apiKey": "mg-key"}},
    });
    merge(&mut body, patch);
    body
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

#[track_caller]
fn check_body(patch: Value, expect: Expect) {
    let trigger: Trigger = match serde_json::from_value(body(patch)) {
        Ok(t) => t,
        Err(e) => return expect.assert_eq(&format!("does not parse: {e}")),
    };
    let got = match super::check("support-mail", trigger) {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    expect.assert_eq(&got);
}

#[test]
fn a_definition_is_refused_naming_the_field() {
    check_body(json!({}), expect!["ok"]);
    check_body(
        json!({"id": "other"}),
        expect![[r#"id: TriggerId("other") is not the trigger of the path, TriggerId("support-mail")"#]],
    );
    check_body(
        json!({"kind": "sms"}),
        expect!["verify.scheme: mailgun does not sign sms triggers"],
    );
    check_body(
        json!({"verify": {"scheme": "none"}}),
        expect!["verify.secrets: scheme none takes no secrets: choose a scheme that checks them"],
    );
    check_body(
        json!({"verify": {"scheme": "twilio"}}),
        expect!["verify.scheme: twilio does not sign email triggers"],
    );
    check_body(
        json!({"verify": {"secrets": (0..11).map(|i| format!("k{i}")).collect::<Vec<_>>()}}),
        expect!["verify.secrets: at most 10 (got 11)"],
    );
    check_body(
        json!({"verify": {"secrets": [""]}}),
        expect!["verify.secrets[0]: is 1 to 4096 bytes"],
    );
    check_body(
        json!({"verify": {"header": "X-Sig"}}),
        expect!["verify.header: is for hmac-sha256 only, not mailgun"],
    );
    check_body(
        json!({"verify": {"toleranceSeconds": 0}}),
        expect!["verify.toleranceSeconds: is 1 to 86400 (got 0)"],
    );
    check_body(
        json!({"verify": {"toleranceSeconds": 86401}}),
        expect!["verify.toleranceSeconds: is 1 to 86400 (got 86401)"],
    );
    check_body(
        json!({"verify": {"scheme": "hmac-sha256", "encoding": "hex"}}),
        expect!["verify.header: hmac-sha256 needs the header of the signature"],
    );
    check_body(
        json!({"verify": {"scheme": "hmac-sha256", "header": "X Sig", "encoding": "hex"}}),
        expect![[r#"verify.header: "X Sig" is not a header name"#]],
    );
    check_body(
        json!({"verify": {"scheme": "hmac-sha256", "header": "X-Sig"}}),
        expect!["verify.encoding: hmac-sha256 needs hex or base64"],
    );
    check_body(
        json!({"verify": {"scheme": "hmac-sha256", "header": "X-Sig", "encoding": "hex", "toleranceSeconds": 60}}),
        expect!["verify.toleranceSeconds: hmac-sha256 signs no timestamp"],
    );
    check_body(
        json!({"verify": {"scheme": "sendgrid", "secrets": ["not-a-key"]}}),
        expect!["verify.secrets[0]: is not a base64 DER P-256 public key (SendGrid's verification key)"],
    );
    check_body(
        json!({"kind": "webhook", "verify": {"scheme": "standard-webhooks", "secrets": ["whsec_!!"]}, "reply": null}),
        expect!["verify.secrets[0]: is not a Standard Webhooks key (whsec_ and base64)"],
    );
    check_body(
        json!({"prompt": "one\ntwo\n{{ email.from }"}),
        expect!["prompt: line 3: syntax error: unexpected `}`, expected end of variable block"],
    );
    check_body(
        json!({"prompt": "  "}),
        expect!["prompt: is empty: write a template for the prompt"],
    );
    check_body(
        json!({"conversation": "{% if %}"}),
        expect!["conversation: line 1: syntax error: unexpected end of block"],
    );
    check_body(
        json!({"debounceSeconds": 3601}),
        expect!["debounceSeconds: is at most 3600 (got 3601)"],
    );
    check_body(
        json!({"reply": {"kind": "twilio"}}),
        expect!["reply.kind: twilio cannot answer email triggers"],
    );
    check_body(
        json!({"reply": {"from": null}}),
        expect!["reply.from: mailgun needs the address to send from"],
    );
    check_body(
        json!({"reply": {"from": "support at example"}}),
        expect![[
            r#"reply.from: "support at example" is not an address (name@example.com or Name <name@example.com>)"#
        ]],
    );
    check_body(
        json!({"reply": {"url": "https://example.com"}}),
        expect!["reply.url: is for webhook replies, not mailgun"],
    );
    check_body(
        json!({"reply": {"credentials": {"authToken": "x"}}}),
        expect!["reply.credentials.authToken: mailgun takes apiKey"],
    );
    check_body(
        json!({"reply": {"kind": "webhook", "from": null, "credentials": {"apiKey": null, "secret": "whsec_c2VjcmV0"}}}),
        expect!["reply.url: a webhook reply needs the url to post to"],
    );
    check_body(
        json!({"reply": {"kind": "webhook", "from": null, "url": "ftp://example.com", "credentials": {"apiKey": null, "secret": "whsec_c2VjcmV0"}}}),
        expect![[r#"reply.url: "ftp://example.com" is not an http or https URL"#]],
    );
    check_body(
        json!({"reply": {"kind": "webhook", "from": null, "url": "https://example.com/a", "credentials": {"apiKey": null, "secret": "plain"}}}),
        expect!["reply.credentials.secret: is not a Standard Webhooks key (whsec_ and base64)"],
    );
    check_body(
        json!({"reply": {"kind": "webhook", "from": null, "url": "https://example.com/a", "credentials": {"apiKey": null, "secret": "whsec_c2VjcmV0"}}}),
        expect!["ok"],
    );
    check_body(
        json!({"agentId": "bad id"}),
        expect!["does not parse: invalid agentId: must match [A-Za-z0-9._-]{1,128}"],
    );
}

#[test]
fn each_kind_takes_its_schemes_and_replies() {
    let kinds = [TriggerKind::Webhook, TriggerKind::Email, TriggerKind::Sms];
    let schemes = [
        VerifyScheme::StandardWebhooks,
        VerifyScheme::Github,
        VerifyScheme::Stripe,
        VerifyScheme::HmacSha256,
        VerifyScheme::Twilio,
        VerifyScheme::Mailgun,
        VerifyScheme::Sendgrid,
        VerifyScheme::None,
    ];
    let replies = [
        ReplyKind::Twilio,
        ReplyKind::Mailgun,
        ReplyKind::Sendgrid,
        ReplyKind::Webhook,
    ];
    let mut table = String::new();
    for kind in kinds {
        let fits: Vec<&str> = schemes
            .iter()
            .filter(|s| scheme_fits(kind, **s))
            .map(|s| scheme_name(*s))
            .collect();
        let answers: Vec<&str> = replies
            .iter()
            .filter(|r| reply_fits(kind, **r))
            .map(|r| reply_name(*r))
            .collect();
        table.push_str(&format!(
            "{kind}: verify {} | reply {}\n",
            fits.join(" "),
            answers.join(" ")
        ));
    }
    expect![[r#"
        webhook: verify standard-webhooks github stripe hmac-sha256 sendgrid none | reply webhook
        email: verify hmac-sha256 mailgun sendgrid none | reply mailgun sendgrid webhook
        sms: verify hmac-sha256 twilio none | reply twilio webhook
    "#]]
    .assert_eq(&table);
}

#[test]
fn addresses_and_numbers_are_checked_enough_to_catch_a_typo() {
    let got: Vec<String> = [
        "a@example.com",
        "Support <support@example.com>",
        "a@b",
        "@example.com",
        "a b@example.com",
        "a@@example.com",
        "Support <support@example.com",
    ]
    .iter()
    .map(|a| format!("{a}: {}", is_address(a)))
    .chain(
        ["+15550001111", "15550001111", "+1555"]
            .iter()
            .map(|n| format!("{n}: {}", is_phone_number(n))),
    )
    .collect();
    expect![[r#"
        a@example.com: true
        Support <support@example.com>: true
        a@b: false
        @example.com: false
        a b@example.com: false
        a@@example.com: false
        Support <support@example.com: false
        +15550001111: true
        15550001111: false
        +1555: false"#]]
    .assert_eq(&got.join("\n"));
}

/// What a PUT seals, the hook opens: plan → row → `config`, then a GitHub delivery signed by the test with
/// the secret verifies, and one signed with another does not.
#[test]
fn what_a_put_seals_the_hook_opens() {
    use hmac::{Hmac, Mac};

    use crate::triggers::config::config;
    use crate::triggers::verify::{Inbound, verify};

    let key = SecretsKey::from_bytes(&[5; 32]).expect("32 bytes");
    let body = json!({
        "agentId": "support-bot", "kind": "webhook", "verify": {"scheme": "github", "secrets": ["s3cret"]},
        "prompt": "{{ body }}",
        "reply": {"kind": "webhook", "url": "https://example.com/a", "credentials": {"secret": "whsec_c2VjcmV0"}},
    });
    let (id, definition) =
        super::check("gh", serde_json::from_value(body).expect("a trigger")).expect("valid");
    let plan = plan(&id, &definition, None, Some(&key), "2026-01-01T00:00:00Z").expect("plan");
    assert!(!plan.definition.contains("s3cret"), "{}", plan.definition);
    let row = TriggerRow {
        trigger_id: "gh".into(),
        agent_id: plan.agent_id,
        definition: plan.definition,
        secrets: plan.secrets,
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
    };
    let config = config(&row, Some(&key)).expect("opens");
    assert_eq!(config.reply_credentials["secret"], "whsec_c2VjcmV0");
    let sign = |secret: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(b"{\"zen\":\"hi\"}");
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let check = |signature: String| {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-hub-signature-256", signature.parse().expect("a header value"));
        let request = Inbound {
            body: b"{\"zen\":\"hi\"}",
            headers: &headers,
            url: "https://cp.example.com/hooks/gh",
        };
        verify(&config.verify, &request, std::time::SystemTime::now()).is_ok()
    };
    assert!(check(sign(b"s3cret")));
    assert!(!check(sign(b"other")));
}
