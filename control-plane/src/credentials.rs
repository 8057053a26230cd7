//! The credentials `agentctl serve` accepts: the configured ones, or for a kind with none configured, one
//! generated on the first start and kept (as a digest) in the database, so a restart keeps accepting what
//! supervisors and people were given.
//!
//! Why the database and not a file: it works the same on both backends, replicas sharing a PostgreSQL
//! database agree on one credential of each kind (the first to start generates it; the others find it), and
//! only a SHA-256 digest is at rest, so neither a copy of the database nor a backup gives anyone a working
//! credential. The price: the value is printed once, by the start that generated it; whoever loses it
//! configures a credential (`INTERNAL_API_KEY`, `AGENTCTL_API_TOKENS`) instead.

use crate::http::auth::{Auth, CredentialDigest, Keyring, Secret};
use crate::store::{Store, StoreError};
use crate::time;

/// One kind of credential, as `serve` names and prints it.
#[derive(Debug, Clone, Copy)]
struct Kind {
    /// The key of its row in `generated_credentials`.
    stored_as: &'static str,
    /// Prefix of a generated value, so people can tell the two apart.
    prefix: &'static str,
    /// How the first start prints it.
    announce: &'static str,
    /// Where to configure one instead.
    configure: &'static str,
}

const INTERNAL_KEY: Kind = Kind {
    stored_as: "internal_key",
    prefix: "ak",
    announce: "generated internal API key (INTERNAL_API_KEY)",
    configure: "INTERNAL_API_KEY",
};

const API_TOKEN: Kind = Kind {
    stored_as: "api_token",
    prefix: "at",
    announce: "generated API token (AGENTCTL_TOKEN)",
    configure: "AGENTCTL_API_TOKENS",
};

/// The keyring for `auth`: configured credentials as they are; for a kind with none configured, the one
/// generated before or, on the first start, a new one, printed to stderr this once.
pub async fn keyring(store: &Store, auth: &Auth) -> Result<Keyring, StoreError> {
    if auth.disabled {
        return Ok(Keyring {
            disabled: true,
            ..Keyring::default()
        });
    }
    Ok(Keyring {
        internal_keys: digests(store, &auth.internal_keys, INTERNAL_KEY).await?,
        api_tokens: digests(store, &auth.api_tokens, API_TOKEN).await?,
        disabled: false,
    })
}

async fn digests(
    store: &Store,
    configured: &[Secret],
    kind: Kind,
) -> Result<Vec<CredentialDigest>, StoreError> {
    if !configured.is_empty() {
        return Ok(configured
            .iter()
            .map(|s| CredentialDigest::of(s.expose()))
            .collect());
    }
    if let Some(kept) = kept(store, kind).await? {
        tracing::info!(
            "using the {} generated on the first start (configure {} to choose one)",
            kind.stored_as.replace('_', " "),
            kind.configure
        );
        return Ok(vec![kept]);
    }
    let secret = generate(kind.prefix);
    let digest = CredentialDigest::of(secret.expose());
    let now = time::rfc3339_ms(time::now_ms());
    if store
        .keep_generated_credential(kind.stored_as, &digest.to_hex(), &now)
        .await?
    {
        eprintln!("agentctl: {}: {}", kind.announce, secret.expose());
        return Ok(vec![digest]);
    }
    // Another replica generated one first: use it; ours was never shown to anyone.
    let kept = kept(store, kind)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("generated {} vanished", kind.stored_as)))?;
    Ok(vec![kept])
}

async fn kept(store: &Store, kind: Kind) -> Result<Option<CredentialDigest>, StoreError> {
    match store.generated_credential(kind.stored_as).await? {
        None => Ok(None),
        Some(hex) => CredentialDigest::from_hex(&hex).map(Some).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "generated_credentials {}: not a SHA-256 digest",
                kind.stored_as
            ))
        }),
    }
}

/// 244 random bits (two v4 UUIDs) as hex, behind `prefix_`.
fn generate(prefix: &str) -> Secret {
    Secret::new(format!(
        "{prefix}_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    ))
}
