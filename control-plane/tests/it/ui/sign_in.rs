//! Signing in and out of the web UI, CSRF, the security headers, assets and `--no-ui`; on both backends.

use reqwest::StatusCode;

use super::browser::Browser;
use crate::helpers::{KEY, Options, TestDb, spawn_app, spawn_app_with_options};

crate::on_both_backends!(
    a_page_without_a_cookie_answers_303_to_sign_in_and_comes_back_after,
    the_session_cookie_is_http_only_and_same_site_strict_and_sign_out_ends_it,
    a_wrong_token_or_an_internal_key_is_refused_without_being_repeated,
    a_form_without_its_csrf_token_is_refused_and_changes_nothing,
    pages_carry_a_strict_content_security_policy_and_assets_are_embedded,
    no_ui_serves_only_the_apis,
);

async fn a_page_without_a_cookie_answers_303_to_sign_in_and_comes_back_after(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/runtimes?x=1").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/sign-in?next=%2Fruntimes%3Fx%3D1"));
    // htmx follows redirects itself: it is told where to go instead.
    let fragment = browser.get_htmx("/runtimes").await;
    assert_eq!(fragment.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        fragment.headers.get("hx-redirect").and_then(|v| v.to_str().ok()),
        Some("/sign-in?next=%2Fruntimes")
    );
    let form = browser.get("/sign-in?next=%2Fruntimes%3Fx%3D1").await;
    let form_token = form.input("form_token").expect("form token");
    assert_eq!(form.input("next").as_deref(), Some("/runtimes?x=1"));
    let signed = browser
        .post(
            "/sign-in",
            &[
                ("token", crate::helpers::TOKEN),
                ("form_token", &form_token),
                ("next", "/runtimes?x=1"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location(), Some("/runtimes?x=1"));
    let page = browser.get("/runtimes").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Runtimes</h1>"), "{}", page.body);
    // A `next` that leaves the site is not followed.
    let mut other = Browser::new(&app);
    let form = other.get("/sign-in?next=//evil.example/").await;
    assert_eq!(form.input("next").as_deref(), Some("/"));
    app.stop().await;
}

async fn the_session_cookie_is_http_only_and_same_site_strict_and_sign_out_ends_it(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::new(&app);
    let page = browser.sign_in(crate::helpers::TOKEN).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page.set_cookie("agentctl_session").expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    let value = cookie
        .split(';')
        .next()
        .expect("present")
        .split_once('=')
        .expect("present")
        .1;
    assert!(value.len() >= 64, "a long random value: {value}");
    // The database keeps its digest, not the value.
    let stored = db.fetch_strings("SELECT id_digest FROM ui_sessions").await;
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], value);
    let page = browser.get("/runtimes").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.input("csrf").expect("the sign-out form's CSRF token");
    assert!(
        !page.body.contains(value),
        "the cookie's value is never in a page"
    );
    let out = browser.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(out.location(), Some("/sign-in"));
    assert!(
        out.set_cookie("agentctl_session")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is removed"
    );
    assert!(
        db.fetch_strings("SELECT id_digest FROM ui_sessions")
            .await
            .is_empty()
    );
    // The old cookie, presented again, signs nobody in.
    let mut replay = Browser::new(&app);
    replay.cookies.push(("agentctl_session".into(), value.to_owned()));
    assert_eq!(replay.get("/runtimes").await.status, StatusCode::SEE_OTHER);
    app.stop().await;
}

async fn a_wrong_token_or_an_internal_key_is_refused_without_being_repeated(db: TestDb) {
    let app = spawn_app(&db).await;
    for (token, says) in [
        ("not-a-token-of-this-server", "not an API token of this server"),
        (KEY, "not an API token of this server"),
        ("", "Enter an API token"),
    ] {
        let mut browser = Browser::new(&app);
        let page = browser.sign_in(token).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(page.body.contains(says), "{token:?}: {}", page.body);
        if !token.is_empty() {
            assert!(
                !page.body.contains(token),
                "the token is not repeated: {}",
                page.body
            );
        }
        assert!(page.set_cookie("agentctl_session").is_none());
    }
    // The sign-in form itself is CSRF-checked: posted without the token of its page, it is refused.
    let mut browser = Browser::new(&app);
    let page = browser
        .post(
            "/sign-in",
            &[("token", crate::helpers::TOKEN), ("form_token", "forged")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.set_cookie("agentctl_session").is_none());
    assert!(
        db.fetch_strings("SELECT id_digest FROM ui_sessions")
            .await
            .is_empty()
    );
    app.stop().await;
}

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    browser.get("/runtimes").await;
    for fields in [
        vec![],
        vec![("csrf", "0".repeat(64))],
        vec![("csrf", String::new())],
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = browser.post("/sign-out", &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?}: {}", page.body);
        assert!(page.body.contains("CSRF token"), "{}", page.body);
    }
    // Still signed in: the refused sign-outs did nothing.
    assert_eq!(browser.get("/runtimes").await.status, StatusCode::OK);
    assert_eq!(
        db.fetch_strings("SELECT id_digest FROM ui_sessions").await.len(),
        1
    );
    // With the page's token, the same form is accepted.
    let page = browser.submit("/sign-out", &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        db.fetch_strings("SELECT id_digest FROM ui_sessions")
            .await
            .is_empty()
    );
    app.stop().await;
}

async fn pages_carry_a_strict_content_security_policy_and_assets_are_embedded(db: TestDb) {
    let app = spawn_app(&db).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/runtimes").await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("present")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "no unsafe-inline or unsafe-eval: {csp}");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(!page.body.contains("<script>"), "no inline script in a page");
    for (asset, kind) in [
        ("/assets/htmx-2.0.11.min.js", "text/javascript"),
        ("/assets/htmx-ext-sse-2.2.4.min.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/assets/app.js", "text/javascript"),
    ] {
        let got = browser.get(asset).await;
        assert_eq!(got.status, StatusCode::OK, "{asset}");
        assert!(
            got.headers["content-type"]
                .to_str()
                .expect("present")
                .starts_with(kind),
            "{asset}"
        );
        assert!(page.body.contains(asset), "the layout links {asset}");
        let etag = got.headers["etag"].to_str().expect("present").to_owned();
        let again = app
            .http
            .get(app.url(asset))
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("present");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asset}");
    }
    assert_eq!(
        browser.get("/assets/nothing.js").await.status,
        StatusCode::NOT_FOUND
    );
    // An unknown path: the HTML error page to a browser, the API's JSON error to everyone else.
    let page = app
        .http
        .get(app.url("/no-such-page"))
        .header("accept", "text/html,*/*;q=0.8")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/html")
    );
    let api = app
        .http
        .get(app.url("/no-such-page"))
        .send()
        .await
        .expect("request");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.expect("the API's JSON error");
    assert_eq!(body["error"]["code"], "not_found");
    app.stop().await;
}

async fn no_ui_serves_only_the_apis(db: TestDb) {
    let app = spawn_app_with_options(
        &db,
        Options {
            ui: false,
            ..Options::default()
        },
    )
    .await;
    let mut browser = Browser::new(&app);
    for path in ["/", "/sign-in", "/runtimes", "/assets/app.css"] {
        assert_eq!(browser.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(browser.get("/health").await.status, StatusCode::OK);
    app.stop().await;
}
