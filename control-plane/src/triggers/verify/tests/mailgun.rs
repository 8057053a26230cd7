use super::*;

// Mailgun publishes no vector; these are computed here.
const MG_KEY: &str = "key-mailgun-signing";
const MG_TIME: u64 = 1_700_000_000;
const MG_TOKEN: &str = "c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d";

fn mg_sign(key: &str, timestamp: &str, token: &str) -> String {
    ::hex::encode(hmac_sha256(
        key.as_bytes(),
        format!("{timestamp}{token}").as_bytes(),
    ))
}

#[test]
fn mailgun_accepts_its_fields_signed_by_any_key_within_the_tolerance() {
    let time = MG_TIME.to_string();
    let good = mg_sign(MG_KEY, &time, MG_TOKEN);
    let scheme = Verify::Mailgun {
        secrets: secrets(&[MG_KEY]),
        tolerance: DEFAULT_TOLERANCE,
    };
    let body = |timestamp: &str, signature: &str| {
        Request::new(form(&[
            ("sender", "bob@example.com"),
            ("timestamp", timestamp),
            ("token", MG_TOKEN),
            ("signature", signature),
        ]))
    };
    check(
        &scheme,
        &body(&time, &good),
        MG_TIME,
        expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]],
    );
    check(
        &Verify::Mailgun {
            secrets: secrets(&["old", MG_KEY]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &body(&time, &good),
        MG_TIME,
        expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]],
    );
    check(
        &Verify::Mailgun {
            secrets: secrets(&["old"]),
            tolerance: DEFAULT_TOLERANCE,
        },
        &body(&time, &good),
        MG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &body(&time, &good[..62]),
        MG_TIME,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &scheme,
        &body(
            &(MG_TIME + 301).to_string(),
            &mg_sign(MG_KEY, &(MG_TIME + 301).to_string(), MG_TOKEN),
        ),
        MG_TIME,
        expect!["refused: timestamp 1700000301 is more than 300 s away from the server's clock"],
    );
    check(
        &scheme,
        &body(&time, "not hex"),
        MG_TIME,
        expect!["refused: field signature is not hex"],
    );
    check(
        &scheme,
        &Request::new(form(&[("timestamp", &time), ("token", MG_TOKEN)])),
        MG_TIME,
        expect!["refused: missing form field signature"],
    );
    let fields = |timestamp: u64, signature: &str| {
        let timestamp = timestamp.to_string();
        let fields = MailgunFields {
            timestamp: &timestamp,
            token: MG_TOKEN,
            signature,
        };
        match verify_mailgun_fields(&secrets(&[MG_KEY]), fields, at(MG_TIME), DEFAULT_TOLERANCE) {
            Ok(verified) => format!("ok, provider id {:?}", verified.provider_id),
            Err(refusal) => format!("refused: {refusal}"),
        }
    };
    let inside = MG_TIME - 300;
    expect![[r#"ok, provider id Some("c1b7e0e3d5a24c9f8e6b4a2d0f1e3c5b7a9d8e6f4c2b0a1e3d")"#]]
        .assert_eq(&fields(inside, &mg_sign(MG_KEY, &inside.to_string(), MG_TOKEN)));
    let outside = MG_TIME - 301;
    expect!["refused: timestamp 1699999699 is more than 300 s away from the server's clock"]
        .assert_eq(&fields(outside, &mg_sign(MG_KEY, &outside.to_string(), MG_TOKEN)));
    // The token is signed: another token under the same timestamp's signature is refused.
    let other = MailgunFields {
        timestamp: &time,
        token: "another-token",
        signature: &good,
    };
    let refused = verify_mailgun_fields(&secrets(&[MG_KEY]), other, at(MG_TIME), DEFAULT_TOLERANCE);
    expect!["Err(NoMatch)"].assert_eq(&format!("{refused:?}"));
}
