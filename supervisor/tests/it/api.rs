//! Bad input on every route: the documented status, a message naming what was wrong, and a supervisor
//! that stays healthy.

use serde_json::{Value, json};

use crate::support::*;

/// The answer is the error `code` with `status`, and its message says `message_has` (which must say
/// something: every string contains the empty one).
#[track_caller]
fn check_error(answer: &(u16, Value), status: u16, code: &str, message_has: &str) {
    assert!(
        !message_has.is_empty(),
        "name the message text the error must have"
    );
    let (got_status, body) = answer;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_has),
        "message {message:?} should mention {message_has:?}"
    );
}

async fn post_raw(sup: &Sup, path: &str, body: &'static str) -> (u16, Value) {
    let response = sup.client.post(sup.url(path)).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn execute_refuses_bad_bodies_naming_the_field() {
    let sup = Options::default().arg("--max-body").arg("64KiB").start();
    check_error(
        &post_raw(&sup, "/execute", "{not json").await,
        400,
        "invalid_request",
        "body is not valid JSON: key must be a string",
    );
    check_error(
        &post_raw(&sup, "/execute", "").await,
        400,
        "invalid_request",
        "body is not valid JSON: EOF while parsing",
    );
    check_error(
        &post_raw(&sup, "/execute", "[1]").await,
        400,
        "invalid_request",
        "body must be a JSON object",
    );
    let cases = [
        (json!({"prompt": "p"}), "missing field `agentId`"),
        (json!({"agentId": "a"}), "missing field `prompt`"),
        (json!({"agentId": "a", "prompt": ""}), "prompt: must not be empty"),
        (
            json!({"agentId": 7, "prompt": "p"}),
            "agentId: invalid type: integer `7`",
        ),
        (
            json!({"agentId": "a b", "prompt": "p"}),
            "agentId: invalid agentId",
        ),
        (
            json!({"agentId": "a", "sessionId": "../x", "prompt": "p"}),
            "sessionId: invalid sessionId",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "colour": 1}),
            "unknown field `colour`",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "options": {"maxTurns": "3"}}),
            "options.maxTurns: invalid type",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "options": {"maxTurns": 0}}),
            "options.maxTurns: must be at least 1",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "timeoutSeconds": -1}),
            "timeoutSeconds: invalid value",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "env": {"LD_PRELOAD": "/x.so"}}),
            "env.LD_PRELOAD",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "env": {"NODE_OPTIONS": "--require x"}}),
            "env.NODE_OPTIONS",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "env": {"1BAD": "x"}}),
            "env.1BAD: invalid name",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "env": {"A": 1}}),
            "env.A: invalid type",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "env": {"A": "x\u{0}y"}}),
            "env.A: the value of A contains a NUL byte",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "files": [{"path": "../etc/x", "content": ""}]}),
            "files[0].path",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "files": [{"path": "/etc/x", "content": ""}]}),
            "is absolute",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "files": [{"path": "a\u{0}b", "content": ""}]}),
            "NUL",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "files": [{"path": "x".repeat(300), "content": ""}]}),
            "longer than 255",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "files": [{"path": "a", "content": "", "encoding": "hex"}]}),
            "files[0].encoding: unknown variant `hex`",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "skills": [{"name": "../s", "files": {"SKILL.md": ""}}]}),
            "skills[0].name",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "skills": [{"name": "s", "files": {"../SKILL.md": ""}}]}),
            "skills[0].files",
        ),
        (
            json!({"agentId": "a", "prompt": "p", "storage": {"type": "postgresql", "apiUrl": "ftp://x"}}),
            "storage.apiUrl",
        ),
    ];
    for (body, message) in cases {
        let answer = sup.post("/execute", &body).await;
        check_error(&answer, 400, "invalid_request", message);
    }
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"path": format!("f{i}"), "content": ""}))
        .collect();
    check_error(
        &sup.post("/execute", &json!({"agentId": "a", "prompt": "p", "files": many}))
            .await,
        400,
        "invalid_request",
        "more than 1000",
    );
    let big = "x".repeat(100 * 1024);
    check_error(
        &sup.post("/execute", &json!({"agentId": "a", "prompt": big}))
            .await,
        413,
        "body_too_large",
        "length limit exceeded",
    );
    // Nothing of that started a session, and the supervisor is healthy.
    let (_, sessions) = sup.get("/sessions").await;
    assert_eq!(sessions["sessions"], json!([]));
    assert_eq!(sup.get("/health").await.0, 200);
}

#[tokio::test]
async fn a_workspace_already_there_is_refused_so_its_symlink_cannot_lead_files_outside() {
    require_root();
    let sup = Options::default().start();
    let outside = tempfile::tempdir().unwrap();
    let cwd = sup.workspace().join("sessions").join("s-link");
    std::fs::create_dir_all(&cwd).unwrap();
    std::os::unix::fs::symlink(outside.path(), cwd.join("out")).unwrap();
    let body = json!({"agentId": "a", "sessionId": "s-link", "prompt": "p",
                      "files": [{"path": "out/evil.txt", "content": "x"}]});
    check_error(
        &sup.post("/execute", &body).await,
        409,
        "conflict",
        "the workspace of session s-link already exists",
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing was written outside"
    );
    // The refused request registered nothing.
    check_error(&sup.get("/sessions/s-link").await, 404, "not_found", "s-link");
}

#[tokio::test]
async fn session_routes_refuse_bad_ids_and_unknown_sessions() {
    let sup = Options::default().start();
    check_error(&sup.get("/sessions/nope").await, 404, "not_found", "session nope");
    check_error(
        &sup.get("/sessions/bad.id").await,
        400,
        "invalid_request",
        "invalid sessionId",
    );
    check_error(
        &sup.get("/sessions/nope/events").await,
        404,
        "not_found",
        "session nope",
    );
    check_error(
        &sup.post("/sessions/nope/cancel", &json!({})).await,
        404,
        "not_found",
        "session nope",
    );
    sup.run_cmd("s-ok", "true").await;
    sup.wait_finished("s-ok", std::time::Duration::from_secs(10))
        .await;
    check_error(
        &sup.get("/sessions/s-ok/events?after=abc").await,
        400,
        "invalid_request",
        "after",
    );
    check_error(
        &sup.get("/sessions/s-ok/events?colour=1").await,
        400,
        "invalid_request",
        "colour",
    );
    check_error(
        &sup.get("/no/such/route").await,
        404,
        "not_found",
        "no such route",
    );
    assert_eq!(sup.get("/health").await.0, 200);
}

#[tokio::test]
async fn every_route_but_health_needs_the_token() {
    let sup = Options::default().with_auth().start();
    let client = &sup.client;
    for (method, path) in [
        ("POST", "/execute"),
        ("GET", "/sessions"),
        ("GET", "/sessions/x"),
        ("GET", "/sessions/x/events"),
        ("POST", "/sessions/x/cancel"),
        ("GET", "/metrics"),
    ] {
        let request = |token: Option<&str>| {
            let r = client.request(method.parse().unwrap(), sup.url(path));
            match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            }
        };
        for token in [None, Some("wrong-token"), Some("test-token-012345678")] {
            let response = request(token).send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    let health = client.get(sup.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(sup.get("/metrics").await.0, 200);
    assert_eq!(sup.get("/sessions").await.0, 200);
}

#[tokio::test]
async fn a_generated_token_is_written_to_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    // No --no-auth and no SUPERVISOR_TOKEN: the supervisor generates one.
    let sup = Sup::start_raw(Options::default());
    let path = sup.state_dir().join("token");
    let token = std::fs::read_to_string(&path).unwrap();
    assert_eq!(token.len(), 64);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let response = sup
        .client
        .get(sup.url("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = sup.client.get(sup.url("/sessions")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn healthcheck_subcommand_reports_the_health_route() {
    let sup = Options::default().start();
    let ok = std::process::Command::new(BIN)
        .args(["healthcheck", "--listen", &sup.addr.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = std::process::Command::new(BIN)
        .args(["healthcheck", "--listen", &unused.to_string()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unhealthy: connect to"));
}
