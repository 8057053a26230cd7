//! The web UI (DESIGN §11, issue 13 "Prove it in a real browser") in a real browser: headless Chromium
//! from Debian's packages driven through chromedriver (`support::Browser`), on a real `agentctl serve` (in
//! this process) with a supervisor pulling from it. The pages are found by the ids and classes of the UI's
//! DOM contract; every test saves screenshots of the pages it passes through to `target/ui-screenshots/`.
//!
//! `sign_in`: the cookie, the CSRF check, sign-in and sign-out.

mod sign_in;

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
