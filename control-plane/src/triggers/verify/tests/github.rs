use super::*;

// GitHub: the example of "Validating webhook deliveries" (docs.github.com).
const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &str = "Hello, World!";
const GH_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn gh_request(body: &str, signature: &str) -> Request {
    Request::new(body)
        .header("X-Hub-Signature-256", signature)
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
}

#[test]
fn github_accepts_the_published_example_and_refuses_what_is_wrong() {
    let scheme = Verify::Github {
        secrets: secrets(&[GH_SECRET]),
    };
    check(
        &scheme,
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    check(
        &Verify::Github {
            secrets: secrets(&["old", GH_SECRET]),
        },
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    let computed = format!(
        "sha256={}",
        ::hex::encode(hmac_sha256(b"old", GH_BODY.as_bytes()))
    );
    check(
        &Verify::Github {
            secrets: secrets(&[GH_SECRET, "old"]),
        },
        &gh_request(GH_BODY, &computed),
        0,
        expect![[r#"ok, provider id Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")"#]],
    );
    check(
        &Verify::Github {
            secrets: secrets(&["wrong"]),
        },
        &gh_request(GH_BODY, GH_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request("Hello, World?", GH_SIGNATURE),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, &GH_SIGNATURE[..GH_SIGNATURE.len() - 2]),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, "sha256="),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, "sha256=zz"),
        0,
        expect!["refused: header x-hub-signature-256 is not hex"],
    );
    check(
        &scheme,
        &gh_request(GH_BODY, &GH_SIGNATURE[7..]),
        0,
        expect!["refused: header x-hub-signature-256 is not sha256=<hex>"],
    );
    check(
        &scheme,
        &Request::new(GH_BODY),
        0,
        expect!["refused: missing header x-hub-signature-256"],
    );
    check(
        &scheme,
        &Request::new(GH_BODY).header("x-hub-signature-256", GH_SIGNATURE),
        0,
        expect!["ok, provider id None"],
    );
}
