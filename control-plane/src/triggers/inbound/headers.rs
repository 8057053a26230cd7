//! Header lists as the template sees them, and Mailgun's `message-headers`.

use axum::http::HeaderMap;
use serde_json::{Map, Value};

use super::Invalid;

/// A message's headers in order, names as sent, values unfolded.
pub(crate) type HeaderList = Vec<(String, String)>;

/// `{name: value}`, the values of a repeated name joined with `", "` in order.
pub(crate) fn object(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    let mut object = Map::new();
    for (name, value) in pairs {
        match object.entry(name) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(Value::String(value));
            }
            serde_json::map::Entry::Occupied(mut slot) => {
                if let Value::String(joined) = slot.get_mut() {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
            }
        }
    }
    Value::Object(object)
}

/// An HTTP request's headers by lower-case name (values that are not UTF-8 read lossily).
pub(crate) fn http_object(headers: &HeaderMap) -> Value {
    object(headers.iter().map(|(name, value)| {
        (
            name.as_str().to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    }))
}

/// A mail's headers by lower-case name.
pub(crate) fn list_object(headers: &HeaderList) -> Value {
    object(
        headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone())),
    )
}

/// The first value of a header, by name in any case.
pub(crate) fn find<'a>(headers: &'a HeaderList, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Mailgun's `message-headers`: a JSON list of `[name, value]` pairs, in the mail's order.
pub(crate) fn parse_message_headers(raw: &str) -> Result<HeaderList, Invalid> {
    serde_json::from_str::<Vec<(String, String)>>(raw)
        .map_err(|_| Invalid::new("message-headers is not a JSON list of [name, value] pairs"))
}

/// Unfolds a raw header value (`CRLF` followed by white space is one space) and trims it.
pub(crate) fn unfold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut lines = raw.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(first.trim_end_matches('\r'));
    }
    for line in lines {
        let line = line.trim_end_matches('\r');
        let rest = line.trim_start_matches([' ', '\t']);
        if !rest.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(rest);
        }
    }
    out.trim().to_owned()
}

/// Message ids in a header value (`<a@x> <b@y>`, or bare ids separated by white space or commas),
/// without their angle brackets, in order.
pub(crate) fn message_ids(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(strip_brackets)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn strip_brackets(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .unwrap_or(id)
        .trim()
}

/// A raw header block (`Name: value` lines, continuation lines starting with white space), as SendGrid
/// posts it; lines that are not headers are skipped, and the block ends at its first empty line.
pub(crate) fn parse_block(block: &str) -> HeaderList {
    let mut list: HeaderList = Vec::new();
    for line in block.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = list.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
                *value = value.trim().to_owned();
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if !name.is_empty() && !name.contains(' ') {
                list.push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
    list
}
