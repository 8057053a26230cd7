use super::*;

// Stripe publishes no vector; these are computed here. The secret is used as it is, `whsec_` included.
const ST_SECRET: &str = "whsec_test_secret";
const ST_TIME: u64 = 1_700_000_000;
const ST_BODY: &str = r#"{"id":"evt_1","object":"event"}"#;

fn st_sign(secret: &str, timestamp: u64, body: &str) -> String {
    ::hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp}.{body}").as_bytes(),
    ))
}

fn st_request(body: &str, header: &str) -> Request {
    Request::new(body).header("Stripe-Signature", header)
}

#[test]
fn stripe_accepts_any_v1_under_any_secret_within_the_tolerance() {
    let scheme = Verify::Stripe {
        secrets: secrets(&[ST_SECRET]),
        tolerance: DEFAULT_TOLERANCE,
    };
    let good = st_sign(ST_SECRET, ST_TIME, ST_BODY);
    let old = st_sign("whsec_old", ST_TIME, ST_BODY);
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={old},v1={good},v0=abc")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &Verify::Stripe {
            secrets: secrets(&["whsec_old", ST_SECRET]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={old}")),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(
            r#"{"id":"evt_2","object":"event"}"#,
            &format!("t={ST_TIME},v1={good}"),
        ),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    // A `v0` alone is the fake signature of a test event: not a signature at all.
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v0={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1={}", &good[..62])),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1=")),
        ST_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},v1=xyz")),
        ST_TIME,
        expect!["refused: header stripe-signature is not hex"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("v1={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &st_request(ST_BODY, &format!("t={ST_TIME},t={ST_TIME},v1={good}")),
        ST_TIME,
        expect!["refused: header stripe-signature is not t=<unix>,v1=<hex>[,v1=<hex>…]"],
    );
    check(
        &scheme,
        &Request::new(ST_BODY),
        ST_TIME,
        expect!["refused: missing header stripe-signature"],
    );
    let signed_at = |timestamp: u64| {
        st_request(
            ST_BODY,
            &format!("t={timestamp},v1={}", st_sign(ST_SECRET, timestamp, ST_BODY)),
        )
    };
    check(
        &scheme,
        &signed_at(ST_TIME - 300),
        ST_TIME,
        expect!["ok, provider id None"],
    );
    check(
        &scheme,
        &signed_at(ST_TIME - 301),
        ST_TIME,
        expect!["refused: timestamp 1699999699 is more than 300 s away from the server's clock"],
    );
    check(
        &scheme,
        &signed_at(ST_TIME + 301),
        ST_TIME,
        expect!["refused: timestamp 1700000301 is more than 300 s away from the server's clock"],
    );
    let short = Verify::Stripe {
        secrets: secrets(&[ST_SECRET]),
        tolerance: Duration::from_secs(10),
    };
    check(
        &short,
        &signed_at(ST_TIME - 11),
        ST_TIME,
        expect!["refused: timestamp 1699999989 is more than 10 s away from the server's clock"],
    );
}
