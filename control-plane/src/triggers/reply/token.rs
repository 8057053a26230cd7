//! Reply tokens: the `<token>` of a reply address (`support+<token>@example.com`), which brings a mail
//! answering one of ours back to its conversation even when the mail client kept no `In-Reply-To` or
//! `References`. A token is 24 characters of lower-case base32 (RFC 4648, no padding) of the first 15 bytes
//! of HMAC-SHA256 under a key derived from the server's secrets key ([`KEY_LABEL`]), over the trigger id and
//! the conversation id: deterministic (every reply of a conversation asks for the same address), short (a
//! local part has 64 octets at most, RFC 5321 §4.5.3.1.1), and unguessable (120 bits), so it is no way
//! into another conversation. It names nothing by itself: the reply worker files `token:<t>` for the
//! conversation in `trigger_conversations`, where the hook looks a recipient's token up like any other key.

use hmac::{Hmac, Mac};

/// The label of the derived key (`SecretsKey::derive`): one key per use, so no tag made for one purpose
/// is valid for another.
pub const KEY_LABEL: &str = "trigger reply token";

/// 15 bytes: 120 bits are beyond guessing, and they make exactly 24 base32 characters.
const TAG_BYTES: usize = 15;

/// The token for `conversation_id` of `trigger_id`.
pub fn mint(key: &[u8; 32], trigger_id: &str, conversation_id: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    // Unambiguous: neither id holds a NUL byte.
    mac.update(trigger_id.as_bytes());
    mac.update(&[0]);
    mac.update(conversation_id.as_bytes());
    base32(&mac.finalize().into_bytes()[..TAG_BYTES])
}

/// The conversation key a token is filed under.
pub fn key(token: &str) -> String {
    format!("token:{token}")
}

/// RFC 4648 base32 in lower case, without padding: letters and digits only, so a token fits a local part
/// unquoted and survives a mail system that lower-cases addresses.
pub(super) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            text.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        text.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    text
}
