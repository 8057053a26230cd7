//! `agentctl triggers test ID --body FILE` as a child process against a real `agentctl serve`: the sample is
//! signed the way the trigger's provider signs (the secret from a file or the environment, never argv), the
//! hook verifies it, and a verified delivery appears; a wrong secret is refused and says so.

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::{Run, agentctl_with, command};
use crate::helpers::TestDb;
use crate::hooks::{AUTH_TOKEN, WHSEC};
use crate::on_both_backends;
use crate::replier::Serve;

const MAILGUN_SIGNING_KEY: &str = "mg-signing-key-5e4d3c2b1a";
/// A P-256 key pair made with openssl (the one of `triggers/sign/tests.rs`): test-only.
const SG_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfo1mkn0Fbn5BxOis
9po0NuKbn4zw/iEbR34g3vob6umhRANCAARcTNO/gV5OdLIZJVnNC4YFOBgcC0Cm
abd2Rny0WW1XibfJht22D0pJ30Ik/Tz5ibwnqpIFULpThQgEYWhWYY5Q
-----END PRIVATE KEY-----
";
const SG_PUBLIC: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXEzTv4FeTnSyGSVZzQuGBTgYHAtApmm3dkZ8tFltV4m3yYbdtg9KSd9CJP08+Ym8J6qSBVC6U4UIBGFoVmGOUA==";

on_both_backends!(
    each_provider_s_sample_is_signed_as_it_would_sign_and_becomes_a_verified_delivery,
    a_wrong_or_missing_secret_is_refused_and_named_without_the_secret,
);

/// Runs `agentctl triggers test` against `serve` with `file` as the body, the secret in `secret_file` or
/// the environment.
async fn test_cmd(serve: &Serve, id: &str, body: &Path, secret: Secret<'_>) -> Run {
    let body = body.to_str().expect("a UTF-8 path");
    let mut args = vec!["triggers", "test", id, "--body", body];
    let mut cmd = match secret {
        Secret::File(path) => {
            args.extend(["--secret-file", path.to_str().expect("a UTF-8 path")]);
            command(&serve.base, &args)
        }
        Secret::Env(value) => {
            let mut cmd = command(&serve.base, &args);
            cmd.env("AGENTCTL_TRIGGER_SECRET", value);
            cmd
        }
        Secret::None => command(&serve.base, &args),
    };
    if !matches!(secret, Secret::Env(_)) {
        cmd.env_remove("AGENTCTL_TRIGGER_SECRET");
    }
    agentctl_with(cmd).await
}

#[derive(Clone, Copy)]
enum Secret<'a> {
    File(&'a Path),
    Env(&'a str),
    None,
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// The newest delivery of `trigger` as `status|verified|error`.
async fn newest(serve: &Serve, trigger: &str) -> String {
    let d: Value = serve.deliveries(trigger).await.remove(0);
    format!(
        "{}|{}|{}",
        d["status"].as_str().unwrap_or("-"),
        d["verified"],
        d["error"].as_str().unwrap_or("-")
    )
}

fn definition(kind: &str, verify: Value, prompt: &str) -> Value {
    json!({"agentId": "support-bot", "kind": kind, "verify": verify, "prompt": prompt})
}

async fn each_provider_s_sample_is_signed_as_it_would_sign_and_becomes_a_verified_delivery(db: TestDb) {
    let unused = url::Url::parse("http://127.0.0.1:9/").expect("a URL");
    let serve = Serve::start(&db, &unused).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let webhook = definition(
        "webhook",
        json!({"scheme": "standard-webhooks", "secrets": [WHSEC]}),
        "order {{ body.n }}",
    );
    serve.with_trigger("orders", webhook).await;
    let body = write(dir.path(), "event.json", r#"{"n": 7}"#);
    let secret = write(dir.path(), "whsec", &format!("{WHSEC}\n"));
    let run = test_cmd(&serve, "orders", &body, Secret::File(&secret)).await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "202 Accepted", "{run:?}");
    assert!(lines[1].starts_with("delivery: "), "{run:?}");
    assert!(lines[2].starts_with("session:  "), "{run:?}");
    assert_eq!(lines[3], "status:   queued", "{run:?}");
    assert_eq!(newest(&serve, "orders").await, "queued|true|-");

    let sms = definition(
        "sms",
        json!({"scheme": "twilio", "secrets": [AUTH_TOKEN]}),
        "{{ sms.body }}",
    );
    serve.with_trigger("sms", sms).await;
    let form = "MessageSid=SM0042&AccountSid=AC1&From=%2B15550001111&To=%2B15559990000&Body=hello&NumMedia=0";
    let body = write(dir.path(), "sms.form", form);
    let run = test_cmd(&serve, "sms", &body, Secret::Env(AUTH_TOKEN)).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.starts_with("200 OK\ntext/xml"),
        "Twilio's TwiML: {run:?}"
    );
    assert_eq!(newest(&serve, "sms").await, "queued|true|-");

    let mail = definition(
        "email",
        json!({"scheme": "mailgun", "secrets": [MAILGUN_SIGNING_KEY]}),
        "{{ email.subject }}",
    );
    serve.with_trigger("mail", mail).await;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("recipient", "support@inbound.example.com")
        .append_pair("sender", "alice@example.com")
        .append_pair("from", "Alice <alice@example.com>")
        .append_pair("subject", "Invoice 1042")
        .append_pair("body-plain", "Where is it?")
        .append_pair("Message-Id", "<t1@example.com>")
        .finish();
    let body = write(dir.path(), "mail.form", &form);
    let secret = write(dir.path(), "mailgun", MAILGUN_SIGNING_KEY);
    let run = test_cmd(&serve, "mail", &body, Secret::File(&secret)).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.starts_with("200 OK\ndelivery: "), "{run:?}");
    assert_eq!(newest(&serve, "mail").await, "queued|true|-");

    // SendGrid's Inbound Parse posts multipart; the file is passed through, signed with the private key.
    let parse = definition(
        "email",
        json!({"scheme": "sendgrid", "secrets": [SG_PUBLIC]}),
        "{{ email.subject }}",
    );
    serve.with_trigger("parse", parse).await;
    let part = |name: &str, value: &str| {
        format!("--sgB0und\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let multipart = [
        part("from", "Alice <alice@example.com>"),
        part("to", "support@parse.example.com"),
        part("subject", "Receipt"),
        part("text", "Attached."),
        part(
            "headers",
            "Message-ID: <sg1@example.com>\nFrom: Alice <alice@example.com>\n",
        ),
        part(
            "envelope",
            r#"{"to":["support@parse.example.com"],"from":"alice@example.com"}"#,
        ),
        "--sgB0und--\r\n".to_owned(),
    ]
    .concat();
    let body = write(dir.path(), "parse.multipart", &multipart);
    let key = write(dir.path(), "sendgrid.pem", SG_PRIVATE);
    let run = test_cmd(&serve, "parse", &body, Secret::File(&key)).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(newest(&serve, "parse").await, "queued|true|-");
    for run_output in [&run.stdout, &run.stderr] {
        assert!(!run_output.contains("PRIVATE KEY"), "{run:?}");
    }
}

async fn a_wrong_or_missing_secret_is_refused_and_named_without_the_secret(db: TestDb) {
    let unused = url::Url::parse("http://127.0.0.1:9/").expect("a URL");
    let serve = Serve::start(&db, &unused).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let webhook = definition(
        "webhook",
        json!({"scheme": "standard-webhooks", "secrets": [WHSEC]}),
        "order {{ body.n }}",
    );
    serve.with_trigger("orders", webhook).await;
    let body = write(dir.path(), "event.json", r#"{"n": 7}"#);
    let wrong = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let run = test_cmd(&serve, "orders", &body, Secret::Env(wrong)).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("401 Unauthorized\nerror:    "), "{run:?}");
    assert!(
        !run.stdout.contains(wrong) && !run.stderr.contains(wrong),
        "{run:?}"
    );
    assert_eq!(
        newest(&serve, "orders")
            .await
            .split('|')
            .take(2)
            .collect::<Vec<_>>(),
        ["refused", "false"]
    );

    let run = test_cmd(&serve, "orders", &body, Secret::None).await;
    assert_eq!(run.code, 2, "a usage error: {run:?}");
    assert!(run.stderr.contains("AGENTCTL_TRIGGER_SECRET"), "{run:?}");
    assert_eq!(serve.deliveries("orders").await.len(), 1, "nothing was sent");
}
