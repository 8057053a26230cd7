//! A trigger definition (DESIGN §10): checked, stored, answered. Every refusal names the field.

use axum::http::HeaderName;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::DecodePublicKey as _;
use protocol::validate::RequestError;
use protocol::{SecretField, SecretState, Trigger, TriggerId, TriggerKind, TriggerVerify, VerifyScheme};

use reply::{check_reply, reply_name};
pub use reply::{credentials_of, reply_fits};
#[cfg(test)]
use reply::{is_address, is_phone_number};

use super::config::hook_path;
use super::secrets;
use super::template;
use crate::secrets::SecretsKey;
use crate::store::{StoreError, TriggerPlan, TriggerRow};

/// Most signing secrets a trigger may hold (a rotation needs two).
pub const MAX_SECRETS: usize = 10;
/// Longest secret or credential value, in bytes.
const MAX_SECRET: usize = 4096;
/// Longest `debounceSeconds`: a burst is joined within an hour.
pub const MAX_DEBOUNCE: u32 = 3600;
/// Largest `toleranceSeconds`: a day.
pub const MAX_TOLERANCE: u64 = 86_400;

/// Which schemes a kind of trigger may use. Twilio and Mailgun sign form posts of their own messages, so
/// they fit only their kind; SendGrid signs its Event Webhook (JSON, a `webhook`) and Inbound Parse
/// (`email`); the generic schemes fit webhooks, and `hmac-sha256` also a relay in front of mail or SMS;
/// `none` fits every kind, chosen explicitly.
pub fn scheme_fits(kind: TriggerKind, scheme: VerifyScheme) -> bool {
    use VerifyScheme as S;
    match kind {
        TriggerKind::Webhook => matches!(
            scheme,
            S::StandardWebhooks | S::Github | S::Stripe | S::HmacSha256 | S::Sendgrid | S::None
        ),
        TriggerKind::Email => matches!(scheme, S::Mailgun | S::Sendgrid | S::HmacSha256 | S::None),
        TriggerKind::Sms => matches!(scheme, S::Twilio | S::HmacSha256 | S::None),
    }
}

/// Whether a scheme signs a timestamp (and so takes `toleranceSeconds`).
fn signs_timestamp(scheme: VerifyScheme) -> bool {
    matches!(
        scheme,
        VerifyScheme::StandardWebhooks
            | VerifyScheme::Stripe
            | VerifyScheme::Mailgun
            | VerifyScheme::Sendgrid
    )
}

/// Checks a PUT body for the trigger at `path_id`; answers the id and the definition, its secrets still
/// in it (see [`plan`]).
pub fn check(path_id: &str, mut body: Trigger) -> Result<(TriggerId, Trigger), RequestError> {
    let id =
        TriggerId::parse(path_id).map_err(|e| RequestError::new("id", format!("{e} (got {path_id:?})")))?;
    if let Some(given) = &body.id
        && given != &id
    {
        return Err(RequestError::new(
            "id",
            format!("{given:?} is not the trigger of the path, {id:?}"),
        ));
    }
    check_verify(body.kind, &body.verify)?;
    if body.prompt.trim().is_empty() {
        return Err(RequestError::new(
            "prompt",
            "is empty: write a template for the prompt",
        ));
    }
    template::check(&body.prompt).map_err(|e| RequestError::new("prompt", e.to_string()))?;
    if let Some(conversation) = &body.conversation {
        template::check(conversation).map_err(|e| RequestError::new("conversation", e.to_string()))?;
    }
    if let Some(reply) = &body.reply {
        check_reply(body.kind, reply)?;
    }
    if body.debounce_seconds > MAX_DEBOUNCE {
        return Err(RequestError::new(
            "debounceSeconds",
            format!("is at most {MAX_DEBOUNCE} (got {})", body.debounce_seconds),
        ));
    }
    body.id = Some(id.clone());
    body.hook_path = None;
    body.created_at = None;
    body.updated_at = None;
    Ok((id, body))
}

fn check_verify(kind: TriggerKind, verify: &TriggerVerify) -> Result<(), RequestError> {
    let scheme = verify.scheme;
    let name = scheme_name(scheme);
    if !scheme_fits(kind, scheme) {
        return Err(RequestError::new(
            "verify.scheme",
            format!("{name} does not sign {kind} triggers"),
        ));
    }
    let secrets = verify.secrets.as_deref().unwrap_or_default();
    if scheme == VerifyScheme::None && !secrets.is_empty() {
        return Err(RequestError::new(
            "verify.secrets",
            "scheme none takes no secrets: choose a scheme that checks them",
        ));
    }
    if secrets.len() > MAX_SECRETS {
        return Err(RequestError::new(
            "verify.secrets",
            format!("at most {MAX_SECRETS} (got {})", secrets.len()),
        ));
    }
    for (index, field) in secrets.iter().enumerate() {
        if let SecretField::Value(value) = field {
            check_secret_value(scheme, value)
                .map_err(|m| RequestError::new(format!("verify.secrets[{index}]"), m))?;
        }
    }
    let hmac = scheme == VerifyScheme::HmacSha256;
    for (field, given) in [
        ("verify.header", verify.header.is_some()),
        ("verify.encoding", verify.encoding.is_some()),
        ("verify.prefix", verify.prefix.is_some()),
    ] {
        if given && !hmac {
            return Err(RequestError::new(
                field,
                format!("is for hmac-sha256 only, not {name}"),
            ));
        }
    }
    if hmac {
        let header = verify.header.as_deref().ok_or_else(|| {
            RequestError::new("verify.header", "hmac-sha256 needs the header of the signature")
        })?;
        HeaderName::try_from(header)
            .map_err(|_| RequestError::new("verify.header", format!("{header:?} is not a header name")))?;
        if verify.encoding.is_none() {
            return Err(RequestError::new(
                "verify.encoding",
                "hmac-sha256 needs hex or base64",
            ));
        }
        if verify
            .prefix
            .as_deref()
            .is_some_and(|p| p.len() > 64 || p.chars().any(char::is_control))
        {
            return Err(RequestError::new(
                "verify.prefix",
                "at most 64 characters, no control characters",
            ));
        }
    }
    if let Some(tolerance) = verify.tolerance_seconds {
        if !signs_timestamp(scheme) {
            return Err(RequestError::new(
                "verify.toleranceSeconds",
                format!("{name} signs no timestamp"),
            ));
        }
        if !(1..=MAX_TOLERANCE).contains(&tolerance) {
            return Err(RequestError::new(
                "verify.toleranceSeconds",
                format!("is 1 to {MAX_TOLERANCE} (got {tolerance})"),
            ));
        }
    }
    Ok(())
}

/// A secret's value as its scheme will use it: refused at PUT rather than at every delivery.
fn check_secret_value(scheme: VerifyScheme, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_SECRET {
        return Err(format!("is 1 to {MAX_SECRET} bytes"));
    }
    match scheme {
        VerifyScheme::StandardWebhooks => {
            let key = value.strip_prefix("whsec_").unwrap_or(value);
            match STANDARD.decode(key) {
                Ok(bytes) if !bytes.is_empty() => Ok(()),
                _ => Err("is not a Standard Webhooks key (whsec_ and base64)".to_owned()),
            }
        }
        VerifyScheme::Sendgrid => STANDARD
            .decode(value)
            .ok()
            .and_then(|der| p256::ecdsa::VerifyingKey::from_public_key_der(&der).ok())
            .map(|_| ())
            .ok_or_else(|| "is not a base64 DER P-256 public key (SendGrid's verification key)".to_owned()),
        _ => Ok(()),
    }
}

/// The trigger to store: the definition without secrets, as JSON, and the sealed values. The counts a
/// scheme or reply needs are checked here, after `{"set": true}` and omitted fields kept what was stored.
pub fn plan(
    id: &TriggerId,
    definition: &Trigger,
    current: Option<&TriggerRow>,
    key: Option<&SecretsKey>,
    now: &str,
) -> Result<TriggerPlan, RequestError> {
    let mut sealed = secrets::plan(id.as_str(), definition, current, key, now)?;
    // Credentials kept from another reply kind (the kind changed, credentials omitted) are not this one's.
    let allowed = definition
        .reply
        .as_ref()
        .map_or(&[][..], |r| credentials_of(r.kind));
    sealed.retain(|name, _| {
        name.strip_prefix(secrets::CREDENTIAL_PREFIX)
            .is_none_or(|credential| allowed.contains(&credential))
    });
    let scheme = definition.verify.scheme;
    if scheme != VerifyScheme::None && secrets::verify_count(&sealed) == 0 {
        return Err(RequestError::new(
            "verify.secrets",
            format!(
                "{} needs at least one secret (two during a rotation)",
                scheme_name(scheme)
            ),
        ));
    }
    if let Some(reply) = &definition.reply {
        for credential in credentials_of(reply.kind) {
            if !secrets::has_credential(&sealed, credential) {
                return Err(RequestError::new(
                    format!("reply.credentials.{credential}"),
                    format!("{} needs it", reply_name(reply.kind)),
                ));
            }
        }
    }
    let mut stored = definition.clone();
    stored.verify.secrets = None;
    if let Some(reply) = &mut stored.reply {
        reply.credentials = None;
    }
    Ok(TriggerPlan {
        agent_id: definition.agent_id.as_str().to_owned(),
        definition: serde_json::to_string(&stored).expect("a definition serialises"),
        secrets: sealed,
    })
}

/// The answer for a stored trigger: its definition, `hookPath`, `createdAt`, `updatedAt`, and every
/// secret and credential as `{"set": true, "updatedAt"}`.
pub fn answer(row: &TriggerRow) -> Result<Trigger, StoreError> {
    let mut trigger: Trigger = serde_json::from_str(&row.definition)
        .map_err(|e| StoreError::Corrupt(format!("triggers ({}): definition: {e}", row.trigger_id)))?;
    let state = |name: &str| {
        row.secrets.get(name).map(|s| {
            SecretField::State(SecretState {
                set: true,
                updated_at: Some(s.updated_at.clone()),
            })
        })
    };
    if trigger.verify.scheme != VerifyScheme::None {
        trigger.verify.secrets = Some(
            (0..)
                .map(|i| state(&secrets::verify_secret(i)))
                .take_while(Option::is_some)
                .flatten()
                .collect(),
        );
    }
    if let Some(reply) = &mut trigger.reply {
        reply.credentials = Some(
            credentials_of(reply.kind)
                .iter()
                .filter_map(|name| Some(((*name).to_owned(), state(&secrets::credential(name))?)))
                .collect(),
        );
    }
    trigger.hook_path = Some(hook_path(&row.trigger_id));
    trigger.created_at = Some(row.created_at.clone());
    trigger.updated_at = Some(row.updated_at.clone());
    Ok(trigger)
}

/// A scheme as written in a definition.
pub fn scheme_name(scheme: VerifyScheme) -> &'static str {
    match scheme {
        VerifyScheme::StandardWebhooks => "standard-webhooks",
        VerifyScheme::Github => "github",
        VerifyScheme::Stripe => "stripe",
        VerifyScheme::HmacSha256 => "hmac-sha256",
        VerifyScheme::Twilio => "twilio",
        VerifyScheme::Mailgun => "mailgun",
        VerifyScheme::Sendgrid => "sendgrid",
        VerifyScheme::None => "none",
    }
}

mod reply;
#[cfg(test)]
mod tests;
