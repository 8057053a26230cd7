use super::*;

fn plain(encoding: Encoding, prefix: Option<&str>) -> Verify {
    Verify::HmacSha256 {
        secrets: secrets(&["old", "plain-secret"]),
        header: HeaderName::from_static("x-signature"),
        encoding,
        prefix: prefix.map(str::to_owned),
    }
}

#[test]
fn plain_hmac_reads_its_header_in_the_configured_encoding_and_prefix() {
    let body = r#"{"order":42}"#;
    let tag = hmac_sha256(b"plain-secret", body.as_bytes());
    let request = |signature: String| Request::new(body).header("X-Signature", signature);
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode_upper(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Base64, None),
        &request(b64(&tag)),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, Some("sha256=")),
        &request(format!("sha256={}", ::hex::encode(&tag))),
        0,
        expect!["ok, provider id None"],
    );
    check(
        &plain(Encoding::Hex, Some("sha256=")),
        &request(::hex::encode(&tag)),
        0,
        expect!["refused: header x-signature is not the configured prefix followed by the signature"],
    );
    check(
        &plain(Encoding::Base64, None),
        &request(::hex::encode(&tag)),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(&tag[..31])),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &request(::hex::encode(hmac_sha256(b"wrong", body.as_bytes()))),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &Request::new("{}").header("x-signature", ::hex::encode(&tag)),
        0,
        expect!["refused: no secret of the trigger matched the signature"],
    );
    check(
        &plain(Encoding::Hex, None),
        &Request::new(body),
        0,
        expect!["refused: missing header x-signature"],
    );
}
