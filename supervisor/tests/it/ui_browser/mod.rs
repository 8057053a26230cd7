//! The web UI (DESIGN §11, issue 13 "Prove it in a real browser") in a real browser: headless Chromium
//! from Debian's packages driven through chromedriver (`support::Browser`), on a real `agentctl serve` (in
//! this process) with a supervisor pulling from it. The pages are found by the ids and classes of the UI's
//! DOM contract; every test saves screenshots of the pages it passes through to `target/ui-screenshots/`.
//!
//! `sign_in`: the cookie, the CSRF check, sign-in and sign-out; `live`: a running session's transcript grows
//! without a reload and the page's cancel ends it; `hostile`: agent output with markup shows as text and runs
//! nothing; `long`: a session of 100,000 events pages; `agents`, `triggers`: an agent and a trigger made in the UI.

mod agents;
mod hostile;
mod live;
mod long;
mod sign_in;
mod triggers;

use std::time::Duration;

use crate::support::*;

/// A supervisor pulling from `cp` whose runner runs each agent's `CMD` with `sh`: agents whose output the
/// test writes itself, line by line and as slowly as it likes.
pub(super) fn shell_puller(cp: &ControlPlane, runtime_id: &str) -> Sup {
    shipping_to(cp.addr).runtime_id(runtime_id).start()
}

/// An HTTP client that follows no redirects, for what a browser hides (a 303 and its `Location`).
pub(super) fn plain_http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client")
}

/// How long a session may take to reach what a test waits for.
pub(super) const WAIT: Duration = Duration::from_secs(60);

/// A shell-runner command that prints `lines` (stream-json messages as the SDK prints them), one a line.
pub(super) fn printing(lines: &[serde_json::Value]) -> String {
    let quoted: Vec<String> = lines
        .iter()
        .map(|line| {
            let line = line.to_string();
            assert!(!line.contains('\''), "a line the shell would end early: {line}");
            format!("'{line}'")
        })
        .collect();
    format!("printf '%s\\n' {}", quoted.join(" "))
}

/// Defines agent `id` whose shell runner runs `cmd`.
pub(super) async fn shell_agent(cp: &ControlPlane, id: &str, cmd: &str) {
    cp.put_agent(id, &serde_json::json!({"id": id, "env": {"CMD": cmd}}))
        .await;
}

/// Waits until session `id` has `status` in the public API; answers the session.
pub(super) async fn api_status(cp: &ControlPlane, sup: &Sup, id: &str, status: &str) -> serde_json::Value {
    let mut session = serde_json::Value::Null;
    let reached = eventually(WAIT, async || {
        session = cp.session(id).await;
        session["status"] == status
    })
    .await;
    assert!(reached, "{id} is not {status}: {session}\n{}", sup.stderr());
    session
}
