//! Signing in and out in a real browser: a page without a cookie goes to the sign-in form and comes back
//! after, the cookie is one the page's scripts cannot read nor other sites send, and a form without its
//! CSRF token changes nothing.

use crate::support::*;

use super::{plain_http, shell_puller};

#[tokio::test]
async fn a_browser_signs_in_with_a_strict_http_only_cookie_and_a_form_without_its_csrf_token_is_refused() {
    let cp = ControlPlane::start().await;
    let _sup = shell_puller(&cp, "rt-browser-sign-in");

    // What the browser follows without showing: 303 to the sign-in form, which comes back to the page after.
    let answer = plain_http()
        .get(format!("{}/runtimes", cp.url()))
        .send()
        .await
        .expect("the control plane answers");
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/sign-in?next=%2Fruntimes")
    );

    let browser = Browser::open(&cp.url()).await;
    browser.goto("/runtimes").await;
    assert_eq!(browser.path().await, "/sign-in?next=%2Fruntimes");
    browser.screenshot("sign-in").await;
    browser.sign_in("/runtimes").await;
    browser
        .wait_until("the pulling runtime in #runtimes", async |b| {
            b.text("#runtimes table tbody tr td code").await.as_deref() == Some("rt-browser-sign-in")
        })
        .await;
    browser.screenshot("runtimes").await;

    // The session cookie: HttpOnly (not in `document.cookie`) and SameSite=Strict.
    let cookies = browser.client().get_all_cookies().await.expect("the cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "agentctl_session")
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(session.http_only(), Some(true), "{session:?}");
    assert_eq!(
        format!("{:?}", session.same_site()),
        "Some(Strict)",
        "{session:?}"
    );
    let script_sees = browser.js("return document.cookie", vec![]).await;
    assert!(
        !script_sees
            .as_str()
            .unwrap_or_default()
            .contains("agentctl_session"),
        "document.cookie: {script_sees}"
    );

    // The sign-out form without its CSRF token: refused (403), and the browser is still signed in.
    browser
        .js(
            "document.querySelector('form.sign-out input[name=csrf]').remove()",
            vec![],
        )
        .await;
    browser.click("form.sign-out button").await;
    browser
        .wait_until("the answer to the sign-out without its token", async |b| {
            b.path().await == "/sign-out"
        })
        .await;
    let status = browser
        .js(
            "return performance.getEntriesByType('navigation')[0].responseStatus",
            vec![],
        )
        .await;
    assert_eq!(status, 403, "{:?}", browser.text("main").await);
    assert!(
        browser.text("main").await.unwrap_or_default().contains("CSRF"),
        "{:?}",
        browser.text("main").await
    );
    browser.goto("/runtimes").await;
    assert_eq!(browser.path().await, "/runtimes", "signed out by a refused form");

    // Signing out with the form as it is: the cookie no longer opens a page.
    browser.click("form.sign-out button").await;
    browser
        .wait_until("the sign-out's answer", async |b| b.path().await != "/runtimes")
        .await;
    browser.goto("/runtimes").await;
    assert_eq!(browser.path().await, "/sign-in?next=%2Fruntimes");

    browser.close(&["status of 403"]).await;
}
