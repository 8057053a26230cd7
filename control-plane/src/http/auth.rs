//! Bearer credentials of the two APIs.
//!
//! Internal keys (supervisors) and API tokens (people and tools) are separate sets: a token is refused on
//! the internal API and a key on the public one, with a message that says which kind was expected.
//! Credentials are checked by their SHA-256 digest ([`Keyring`]), so configured ones and the digests of
//! generated ones kept in the database (`crate::credentials`) are checked alike. Comparisons are
//! constant-time over digests of one length, and every credential is compared, so the time of an answer does
//! not tell which one nearly matched.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::http::AppState;
use crate::http::error::ApiError;

/// A credential that must not be printed by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The credentials given to `agentctl serve`; an empty set means "generate one" (unless `disabled`).
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub internal_keys: Vec<Secret>,
    pub api_tokens: Vec<Secret>,
    /// `--no-auth`: local development only.
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Internal,
    Public,
}

/// A credential's SHA-256 digest: what is compared, and what is kept of a generated credential.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CredentialDigest([u8; 32]);

impl CredentialDigest {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `None` unless `hex` is 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl std::fmt::Debug for CredentialDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialDigest(..)")
    }
}

/// What the two APIs accept.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub internal_keys: Vec<CredentialDigest>,
    pub api_tokens: Vec<CredentialDigest>,
    /// `--no-auth`: every request is accepted.
    pub disabled: bool,
}

fn matches(candidates: &[CredentialDigest], presented: &CredentialDigest) -> bool {
    let mut found = subtle::Choice::from(0);
    for c in candidates {
        found |= c.0.ct_eq(&presented.0);
    }
    found.into()
}

impl Keyring {
    /// Whether `digest` is one of the API tokens (every one compared, constant-time); `--no-auth` accepts all.
    pub fn accepts_api_token(&self, digest: &CredentialDigest) -> bool {
        self.disabled || matches(&self.api_tokens, digest)
    }

    pub fn check(&self, headers: &HeaderMap, api: Api) -> Result<(), ApiError> {
        if self.disabled {
            return Ok(());
        }
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing Authorization header: expected `Bearer <token>`",
            ));
        };
        let Some(token) = value.to_str().ok().and_then(protocol::bearer_token) else {
            return Err(ApiError::unauthorized(
                "malformed Authorization header: expected `Bearer <token>`",
            ));
        };
        let presented = CredentialDigest::of(token);
        let (own, other, own_name, other_name) = match api {
            Api::Internal => (
                &self.internal_keys,
                &self.api_tokens,
                "internal API key",
                "API token",
            ),
            Api::Public => (
                &self.api_tokens,
                &self.internal_keys,
                "API token",
                "internal API key",
            ),
        };
        if matches(own, &presented) {
            return Ok(());
        }
        if matches(other, &presented) {
            return Err(ApiError::unauthorized(format!(
                "this route needs an {own_name}; an {other_name} was presented"
            )));
        }
        Err(ApiError::unauthorized(format!("invalid {own_name}")))
    }
}

pub async fn require_internal(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.keyring.check(request.headers(), Api::Internal) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

pub async fn require_public(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.keyring.check(request.headers(), Api::Public) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}
