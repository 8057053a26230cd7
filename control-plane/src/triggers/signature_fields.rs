//! Where a scheme's signature lives in the body rather than in a header: Mailgun's `timestamp`, `token`
//! and `signature` are form fields, and Mailgun posts `multipart/form-data` whenever a mail has
//! attachments. `verify` reads only urlencoded bodies (it is sync and parses nothing else), so a multipart
//! body's three text parts are picked out here, with the same reader the normaliser uses, and checked
//! with [`verify::verify_mailgun_fields`]. Every other scheme and body goes to [`verify::verify`].

use std::convert::Infallible;
use std::time::SystemTime;

use bytes::Bytes;

use super::verify::{self, Inbound, MailgunFields, Refusal, Verified, Verify};

const FIELDS: [&str; 3] = ["timestamp", "token", "signature"];

/// The longest value of a signature field read (a timestamp, a 50-character token, 64 hex digits).
const MAX_FIELD: usize = 256;

/// Verifies `request` against `scheme` at `now`, the signature fields of a multipart body included.
pub async fn verify(
    scheme: &Verify,
    request: &Inbound<'_>,
    content_type: Option<&str>,
    now: SystemTime,
) -> Result<Verified, Refusal> {
    let boundary = content_type
        .filter(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
        .and_then(|ct| multer::parse_boundary(ct).ok());
    match (scheme, boundary) {
        (Verify::Mailgun { secrets, tolerance }, Some(boundary)) => {
            let [timestamp, token, signature] = multipart_fields(request.body, boundary).await?;
            let fields = MailgunFields {
                timestamp: &timestamp,
                token: &token,
                signature: &signature,
            };
            verify::verify_mailgun_fields(secrets, fields, now, *tolerance)
        }
        _ => verify::verify(scheme, request, now),
    }
}

/// The first text part of each of [`FIELDS`]; file parts and others are skipped.
async fn multipart_fields(body: &[u8], boundary: String) -> Result<[String; 3], Refusal> {
    let body = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut found: [Option<String>; 3] = [None, None, None];
    let malformed = || Refusal::Malformed {
        what: "the multipart body".to_owned(),
        expected: "readable multipart/form-data",
    };
    while let Some(field) = multipart.next_field().await.map_err(|_| malformed())? {
        let slot = FIELDS
            .iter()
            .position(|name| field.name() == Some(name) && field.file_name().is_none());
        let data = field.bytes().await.map_err(|_| malformed())?;
        if let Some(i) = slot
            && found[i].is_none()
            && data.len() <= MAX_FIELD
        {
            found[i] = Some(String::from_utf8_lossy(&data).trim().to_owned());
        }
    }
    let [timestamp, token, signature] = found;
    let take = |value: Option<String>, name: &str| {
        value.ok_or_else(|| Refusal::Missing(format!("form field {name}")))
    };
    Ok([
        take(timestamp, FIELDS[0])?,
        take(token, FIELDS[1])?,
        take(signature, FIELDS[2])?,
    ])
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use axum::http::HeaderMap;
    use expect_test::{Expect, expect};
    use hmac::{Hmac, Mac};

    use super::*;
    use crate::triggers::verify::SigningSecret;

    const KEY: &str = "key-mailgun-signing";
    const TIME: u64 = 1_700_000_000;

    fn sign(timestamp: &str, token: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).expect("any key");
        mac.update(format!("{timestamp}{token}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn multipart(parts: &[(&str, Option<&str>, &str)]) -> String {
        let mut body = String::new();
        for (name, filename, value) in parts {
            let filename = filename.map_or(String::new(), |f| format!("; filename=\"{f}\""));
            body.push_str(&format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
            ));
        }
        body + "--B--\r\n"
    }

    #[track_caller]
    fn check(content_type: &str, body: &str, expect: Expect) {
        let scheme = Verify::Mailgun {
            secrets: vec![SigningSecret::new(KEY)],
            tolerance: Duration::from_secs(300),
        };
        let headers = HeaderMap::new();
        let request = Inbound {
            body: body.as_bytes(),
            headers: &headers,
            url: "http://localhost/hooks/mail",
        };
        let now = UNIX_EPOCH + Duration::from_secs(TIME);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let outcome = runtime.block_on(verify(&scheme, &request, Some(content_type), now));
        let shown = match outcome {
            Ok(verified) => format!("ok, provider id {:?}", verified.provider_id),
            Err(refusal) => format!("refused: {refusal}"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn mailguns_signature_fields_are_read_from_a_multipart_body_with_attachments() {
        let time = TIME.to_string();
        let good = sign(&time, "tok-1");
        let multi = "multipart/form-data; boundary=B";
        check(
            multi,
            &multipart(&[
                ("attachment-1", Some("notes.txt"), "timestamp"),
                ("timestamp", None, &time),
                ("token", None, "tok-1"),
                ("signature", None, &good),
            ]),
            expect![[r#"ok, provider id Some("tok-1")"#]],
        );
        check(
            multi,
            &multipart(&[
                ("timestamp", None, &time),
                ("token", None, "tok-2"),
                ("signature", None, &good),
            ]),
            expect!["refused: no secret of the trigger matched the signature"],
        );
        check(
            multi,
            &multipart(&[("timestamp", None, &time), ("signature", Some("x"), &good)]),
            expect!["refused: missing form field token"],
        );
        check(
            multi,
            "--B\r\nno headers end",
            expect!["refused: the multipart body is not readable multipart/form-data"],
        );
        // A urlencoded body is read as before.
        check(
            "application/x-www-form-urlencoded",
            &format!("timestamp={time}&token=tok-1&signature={good}"),
            expect![[r#"ok, provider id Some("tok-1")"#]],
        );
    }
}
