//! A stored trigger as the hook needs it: the definition, its `verify` as the checks take it, and the
//! reply credentials opened. Built per request from the row, so a PUT takes effect on the next delivery.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use axum::http::HeaderName;
use protocol::{SignatureEncoding, Trigger, TriggerId, VerifyScheme};

#[cfg(test)]
use super::secrets::verify_secret;
use super::secrets::{self, CREDENTIAL_PREFIX, VERIFY_PREFIX};
use super::verify::{self, Encoding, SigningSecret, Verify};
use crate::secrets::SecretsKey;
use crate::store::{StoreError, TriggerRow};

/// What `POST /hooks/{id}` works from. `Debug` never shows a credential.
#[derive(Clone)]
pub struct TriggerConfig {
    /// The definition, without secrets or credentials (`verify.secrets` and `reply.credentials` are
    /// `None`); `id`, `hookPath`, `createdAt` and `updatedAt` filled in.
    pub trigger: Trigger,
    pub verify: Verify,
    /// `reply.credentials`, opened: `accountSid`/`authToken`, `apiKey` or `secret`.
    pub reply_credentials: BTreeMap<String, String>,
}

impl fmt::Debug for TriggerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TriggerConfig")
            .field("trigger", &self.trigger)
            .field("verify", &self.verify)
            .field(
                "reply_credentials",
                &self
                    .reply_credentials
                    .keys()
                    .map(|k| (k, "[redacted]"))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

/// The trigger of `row`, its secrets opened with `key`. `Corrupt` when the stored definition does not
/// parse or does not hold what its scheme needs, or a secret does not open (or there is no key).
pub fn config(row: &TriggerRow, key: Option<&SecretsKey>) -> Result<TriggerConfig, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("triggers ({}): {what}", row.trigger_id));
    let mut trigger: Trigger =
        serde_json::from_str(&row.definition).map_err(|e| corrupt(format!("definition: {e}")))?;
    let id = TriggerId::parse(&row.trigger_id).map_err(|e| corrupt(format!("trigger_id: {e}")))?;
    let owner = secrets::owner(&row.trigger_id);
    let mut signing: Vec<(usize, String)> = Vec::new();
    let mut reply_credentials = BTreeMap::new();
    for (name, stored) in &row.secrets {
        let open = || -> Result<String, StoreError> {
            let key = key.ok_or_else(|| corrupt(format!("{name}: this server has no secrets key")))?;
            key.open(&owner, name, &stored.sealed)
                .map_err(|_| corrupt(format!("{name} does not open with this server's secrets key")))
        };
        if let Some(index) = name.strip_prefix(VERIFY_PREFIX) {
            let index = index
                .parse::<usize>()
                .map_err(|_| corrupt(format!("secret name {name:?}")))?;
            signing.push((index, open()?));
        } else if let Some(credential) = name.strip_prefix(CREDENTIAL_PREFIX) {
            reply_credentials.insert(credential.to_owned(), open()?);
        } else {
            return Err(corrupt(format!("secret name {name:?}")));
        }
    }
    // Stored names sort as text (`10` before `2`); the order is the definition's.
    signing.sort_by_key(|(index, _)| *index);
    let signing: Vec<String> = signing.into_iter().map(|(_, value)| value).collect();
    let verify = verify_of(&trigger.verify, signing).map_err(corrupt)?;
    trigger.id = Some(id);
    trigger.verify.secrets = None;
    if let Some(reply) = &mut trigger.reply {
        reply.credentials = None;
    }
    trigger.hook_path = Some(hook_path(&row.trigger_id));
    trigger.created_at = Some(row.created_at.clone());
    trigger.updated_at = Some(row.updated_at.clone());
    Ok(TriggerConfig {
        trigger,
        verify,
        reply_credentials,
    })
}

/// Where the provider posts for trigger `id`.
pub fn hook_path(trigger_id: &str) -> String {
    format!("/hooks/{trigger_id}")
}

/// The checks' form of a trigger's `verify`, with its secrets in order.
fn verify_of(given: &protocol::TriggerVerify, secrets: Vec<String>) -> Result<Verify, String> {
    let tolerance = Duration::from_secs(
        given
            .tolerance_seconds
            .unwrap_or(verify::DEFAULT_TOLERANCE.as_secs()),
    );
    let signing = || {
        secrets
            .iter()
            .cloned()
            .map(SigningSecret::new)
            .collect::<Vec<_>>()
    };
    Ok(match given.scheme {
        VerifyScheme::None => Verify::None,
        VerifyScheme::StandardWebhooks => Verify::StandardWebhooks {
            secrets: signing(),
            tolerance,
        },
        VerifyScheme::Github => Verify::Github { secrets: signing() },
        VerifyScheme::Stripe => Verify::Stripe {
            secrets: signing(),
            tolerance,
        },
        VerifyScheme::Twilio => Verify::Twilio { secrets: signing() },
        VerifyScheme::Mailgun => Verify::Mailgun {
            secrets: signing(),
            tolerance,
        },
        // SendGrid's "secrets" are its public keys: not secret, but kept write-only like the rest.
        VerifyScheme::Sendgrid => Verify::Sendgrid {
            public_keys: secrets,
            tolerance,
        },
        VerifyScheme::HmacSha256 => {
            let header = given
                .header
                .as_deref()
                .ok_or("verify.header: hmac-sha256 without one")?;
            let header = HeaderName::try_from(header).map_err(|_| format!("verify.header {header:?}"))?;
            let encoding = match given.encoding.ok_or("verify.encoding: hmac-sha256 without one")? {
                SignatureEncoding::Hex => Encoding::Hex,
                SignatureEncoding::Base64 => Encoding::Base64,
            };
            Verify::HmacSha256 {
                secrets: signing(),
                header,
                encoding,
                prefix: given.prefix.clone(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};
    use serde_json::json;

    use super::*;
    use crate::store::StoredSecret;

    fn key() -> SecretsKey {
        SecretsKey::from_bytes(&[3; 32]).expect("32 bytes")
    }

    /// A row for trigger `t1` with `verify` and the given secrets (stored name → value), sealed.
    fn row(verify: serde_json::Value, secrets: &[(&str, &str)]) -> TriggerRow {
        let definition = json!({
            "agentId": "bot", "kind": "webhook", "verify": verify, "prompt": "{{ body }}",
            "reply": {"kind": "webhook", "url": "https://example.com/answers"},
        });
        TriggerRow {
            trigger_id: "t1".to_owned(),
            agent_id: "bot".to_owned(),
            definition: definition.to_string(),
            secrets: secrets
                .iter()
                .map(|(name, value)| {
                    let stored = StoredSecret {
                        sealed: key().seal("trigger:t1", name, value),
                        updated_at: "2026-01-01T00:00:00Z".to_owned(),
                    };
                    ((*name).to_owned(), stored)
                })
                .collect(),
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            updated_at: "2026-01-02T00:00:00Z".to_owned(),
        }
    }

    #[track_caller]
    fn check(verify: serde_json::Value, secrets: &[(&str, &str)], expect: Expect) {
        let got = match config(&row(verify, secrets), Some(&key())) {
            Ok(c) => format!("{:?}", c.verify),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn each_scheme_maps_onto_its_check() {
        let one = [("verify.secrets.0", "s0")];
        check(json!({"scheme": "none"}), &[], expect!["None"]);
        check(
            json!({"scheme": "standard-webhooks"}),
            &one,
            expect!["StandardWebhooks { secrets: [SigningSecret([redacted])], tolerance: 300s }"],
        );
        check(
            json!({"scheme": "github"}),
            &one,
            expect!["Github { secrets: [SigningSecret([redacted])] }"],
        );
        check(
            json!({"scheme": "stripe", "toleranceSeconds": 60}),
            &one,
            expect!["Stripe { secrets: [SigningSecret([redacted])], tolerance: 60s }"],
        );
        check(
            json!({"scheme": "twilio"}),
            &one,
            expect!["Twilio { secrets: [SigningSecret([redacted])] }"],
        );
        check(
            json!({"scheme": "mailgun"}),
            &one,
            expect!["Mailgun { secrets: [SigningSecret([redacted])], tolerance: 300s }"],
        );
        check(
            json!({"scheme": "sendgrid"}),
            &[("verify.secrets.0", "MFkwEw==")],
            expect![[r#"Sendgrid { public_keys: ["MFkwEw=="], tolerance: 300s }"#]],
        );
        check(
            json!({"scheme": "hmac-sha256", "header": "X-Signature", "encoding": "base64", "prefix": "sha256="}),
            &one,
            expect![[
                r#"HmacSha256 { secrets: [SigningSecret([redacted])], header: "x-signature", encoding: Base64, prefix: Some("sha256=") }"#
            ]],
        );
        check(
            json!({"scheme": "hmac-sha256", "encoding": "hex"}),
            &one,
            expect!["error: stored data is invalid: triggers (t1): verify.header: hmac-sha256 without one"],
        );
        check(
            json!({"scheme": "hmac-sha256", "header": "bad header", "encoding": "hex"}),
            &one,
            expect![[r#"error: stored data is invalid: triggers (t1): verify.header "bad header""#]],
        );
        check(
            json!({"scheme": "github"}),
            &[("verify.secrets.x", "s0")],
            expect![[r#"error: stored data is invalid: triggers (t1): secret name "verify.secrets.x""#]],
        );
        check(
            json!({"scheme": "github"}),
            &[("other", "s0")],
            expect![[r#"error: stored data is invalid: triggers (t1): secret name "other""#]],
        );
        check(
            json!({"scheme": "nope"}),
            &[],
            expect![
                "error: stored data is invalid: triggers (t1): definition: unknown variant `nope`, expected one of `standard-webhooks`, `github`, `stripe`, `hmac-sha256`, `twilio`, `mailgun`, `sendgrid`, `none` at line 1 column 144"
            ],
        );
    }

    #[test]
    fn secrets_open_in_their_index_order_and_credentials_by_name() {
        let names: Vec<String> = (0..11).map(verify_secret).collect();
        let values: Vec<String> = (0..11).map(|i| format!("secret-{i}")).collect();
        let mut secrets: Vec<(&str, &str)> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        secrets.push(("reply.credentials.secret", "whsec_abc"));
        // SendGrid's keys are plain strings, so the order shows (a signing secret never prints).
        let config = config(&row(json!({"scheme": "sendgrid"}), &secrets), Some(&key())).expect("opens");
        let Verify::Sendgrid {
            public_keys,
            tolerance,
        } = &config.verify
        else {
            panic!("{:?}", config.verify);
        };
        assert_eq!(*tolerance, verify::DEFAULT_TOLERANCE);
        assert_eq!(public_keys, &values);
        assert_eq!(config.reply_credentials["secret"], "whsec_abc");
        assert_eq!(config.trigger.id.as_ref().map(TriggerId::as_str), Some("t1"));
        assert_eq!(config.trigger.hook_path.as_deref(), Some("/hooks/t1"));
        assert_eq!(config.trigger.updated_at.as_deref(), Some("2026-01-02T00:00:00Z"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("whsec_abc"), "{shown}");
    }

    #[test]
    fn a_secret_that_does_not_open_or_no_key_is_corrupt() {
        let mut moved = row(json!({"scheme": "github"}), &[("verify.secrets.0", "s0")]);
        moved.trigger_id = "t2".to_owned();
        let e = config(&moved, Some(&key())).expect_err("sealed for t1");
        expect!["stored data is invalid: triggers (t2): verify.secrets.0 does not open with this server's secrets key"]
            .assert_eq(&e.to_string());
        let e = config(
            &row(json!({"scheme": "github"}), &[("verify.secrets.0", "s0")]),
            None,
        )
        .expect_err("no key");
        expect!["stored data is invalid: triggers (t1): verify.secrets.0: this server has no secrets key"]
            .assert_eq(&e.to_string());
        let mut bad = row(json!({"scheme": "none"}), &[]);
        bad.definition = "{".to_owned();
        let e = config(&bad, None).expect_err("not JSON");
        expect!["stored data is invalid: triggers (t1): definition: EOF while parsing an object at line 1 column 1"].assert_eq(&e.to_string());
    }
}
