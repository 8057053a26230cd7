//! Reply tokens: the signed `<conversation id>.<tag>` in a reply address (`support+<token>@example.com`),
//! which brings a mail answering one of ours back to its conversation even when the mail client kept no
//! `In-Reply-To` or `References`. The tag is HMAC-SHA256 under a key derived from the server's secrets
//! key, over the trigger id and the conversation id, so a token cannot be forged, nor moved to another
//! trigger. Conversation ids are session ids (`[A-Za-z0-9][A-Za-z0-9_-]*`), so a token keeps to
//! `[A-Za-z0-9._-]` and fits a mail address's local part unquoted.

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// The label of the derived key (`SecretsKey::derive`): one key per use, so no tag made for one purpose
/// is valid for another.
pub const KEY_LABEL: &str = "trigger reply token";

/// 16 bytes of the HMAC: 128 bits are beyond guessing, and the address stays short.
const TAG_BYTES: usize = 16;

/// The token for `conversation_id` of `trigger_id`.
pub fn mint(key: &[u8; 32], trigger_id: &str, conversation_id: &str) -> String {
    format!(
        "{conversation_id}.{}",
        hex::encode(tag(key, trigger_id, conversation_id))
    )
}

/// The conversation id a token names, when it is one this server minted for `trigger_id`.
pub fn open(key: &[u8; 32], trigger_id: &str, token: &str) -> Option<String> {
    let (conversation_id, tag_hex) = token.rsplit_once('.')?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    if conversation_id.is_empty() || !conversation_id.chars().all(plain) {
        return None;
    }
    // Lower hex only, as minted: a token differing in case is not ours.
    if tag_hex.len() != TAG_BYTES * 2 || tag_hex.chars().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    let received = hex::decode(tag_hex).ok()?;
    let expected = tag(key, trigger_id, conversation_id);
    bool::from(expected.as_slice().ct_eq(&received)).then(|| conversation_id.to_owned())
}

/// The token in a reply address `local+<token>@domain`: after the last `+` of the local part (a token
/// never holds one, a configured `reply.from` may). `None` when there is no `+`. Whether it is a
/// token of ours is for [`open`] to say.
pub fn in_address(address: &str) -> Option<&str> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, token) = local.rsplit_once('+')?;
    Some(token).filter(|token| !token.is_empty())
}

/// The trigger id and the conversation id, unambiguously: neither holds a NUL byte.
fn tag(key: &[u8; 32], trigger_id: &str, conversation_id: &str) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(trigger_id.as_bytes());
    mac.update(&[0]);
    mac.update(conversation_id.as_bytes());
    mac.finalize().into_bytes()[..TAG_BYTES].to_vec()
}
