//! Agents' npm packages (issue 15): pinned by the real npm against the real registry when a version is made,
//! refused with npm's own words when npm cannot resolve them, and carried into the claimed job.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::agents::put;
use crate::helpers::{TestDb, spawn_app};
use crate::on_both_backends;

fn with_packages(npm: Value) -> Value {
    json!({"description": "Counts", "packages": {"npm": npm}, "runtimeSelector": {"pool": "default"}})
}

fn lockfile(answer: &Value) -> Value {
    let text = answer["packages"]["lockfile"]
        .as_str()
        .unwrap_or_else(|| panic!("a lockfile: {answer}"));
    serde_json::from_str(text).expect("the lockfile is JSON")
}

async fn a_version_pins_its_packages_and_an_unchanged_body_keeps_it(db: TestDb) {
    let app = spawn_app(&db).await;
    let started = std::time::Instant::now();
    let (status, first) = put(&app, "counter", &with_packages(json!(["is-number@7.0.0"]))).await;
    println!("PUT with is-number@7.0.0 (npm resolves): {:?}", started.elapsed());
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let pinned = lockfile(&first);
    assert_eq!(
        pinned["packages"]["node_modules/is-number"]["version"], "7.0.0",
        "{pinned}"
    );
    assert_eq!(first["packages"]["npm"], json!(["is-number@7.0.0"]));

    // The same body, and GET's answer put back (its lockfile is read-only): the same version.
    let (status, again) = put(&app, "counter", &with_packages(json!(["is-number@7.0.0"]))).await;
    assert_eq!(
        (status, &again["version"]),
        (StatusCode::OK, &json!(1)),
        "{again}"
    );
    let (_, mut shown) = app.get("/api/v1/agents/counter").await;
    let (status, again) = put(&app, "counter", &shown).await;
    assert_eq!(
        (status, &again["version"]),
        (StatusCode::OK, &json!(1)),
        "{again}"
    );
    // A lockfile in a body is not the caller's to set.
    shown["packages"]["lockfile"] = json!("{\"forged\": true}");
    let (status, again) = put(&app, "counter", &shown).await;
    assert_eq!(
        (status, &again["version"]),
        (StatusCode::OK, &json!(1)),
        "{again}"
    );
    assert_eq!(lockfile(&again), pinned);

    // Other specs: a new version with a new lockfile.
    let (status, second) = put(&app, "counter", &with_packages(json!(["is-number@^6.0.0"]))).await;
    assert_eq!(
        (status, &second["version"]),
        (StatusCode::OK, &json!(2)),
        "{second}"
    );
    assert_eq!(
        lockfile(&second)["packages"]["node_modules/is-number"]["version"],
        "6.0.0"
    );

    // The claimed job carries the specs and the version's lockfile.
    let (status, queued) = app
        .post_public("/api/v1/agents/counter/sessions", &json!({"prompt": "count"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let (status, claimed) = app
        .post_internal(
            "/api/internal/v1/claim",
            &json!({"runtimeId": "r1", "labels": {"pool": "default"}, "free": 1, "waitSeconds": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    let job = &claimed["jobs"][0];
    assert_eq!(job["packages"]["npm"], json!(["is-number@^6.0.0"]), "{job}");
    assert_eq!(lockfile(job), lockfile(&second));
    app.stop().await;
}

async fn packages_npm_cannot_resolve_or_bad_specs_are_refused_naming_the_field(db: TestDb) {
    let app = spawn_app(&db).await;
    let (status, answer) = put(
        &app,
        "counter",
        &with_packages(json!(["definitely-not-a-package-zz9@1.0.0"])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    println!("unknown package: {message}");
    assert!(
        message.starts_with("packages.npm: npm could not resolve"),
        "{message}"
    );
    assert!(
        message.contains("E404") && message.contains("definitely-not-a-package-zz9"),
        "{message}"
    );
    assert!(!message.contains("complete log"), "no path of ours: {message}");

    let (status, answer) = put(&app, "counter", &with_packages(json!(["is-number@99.99.99"]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(message.contains("ETARGET"), "no such version: {message}");

    for (i, bad) in ["../x", "git+ssh://git@github.com/a/b.git", "a b"]
        .iter()
        .enumerate()
    {
        let mut npm: Vec<Value> = ["is-number@7.0.0", "left-pad@1.3.0"][..i]
            .iter()
            .map(|s| json!(s))
            .collect();
        npm.push(json!(bad));
        let (status, answer) = put(&app, "counter", &with_packages(json!(npm))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.starts_with(&format!("packages.npm[{i}]: ")), "{message}");
    }
    let (status, _) = app.get("/api/v1/agents/counter").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing refused was stored");
    app.stop().await;
}

on_both_backends!(
    a_version_pins_its_packages_and_an_unchanged_body_keeps_it,
    packages_npm_cannot_resolve_or_bad_specs_are_refused_naming_the_field,
);
