//! The RFC 3834 loop guard: a message a machine sent gets no automatic answer, or two auto-responders
//! would answer each other forever.

use super::headers::{HeaderList, find};

/// Whether the message was sent automatically: `Auto-Submitted` other than `no`, a bulk `Precedence`,
/// a mailing list (`List-Id`), or a bounce (an empty return path, or one of a mailer daemon or postmaster).
/// `return_path` is the envelope sender where the provider gives it; `from` the From address.
pub(crate) fn auto_submitted(headers: &HeaderList, return_path: Option<&str>, from: &str) -> bool {
    let auto = find(headers, "Auto-Submitted").is_some_and(|value| {
        let keyword = value.split(';').next().unwrap_or("");
        !keyword
            .split('(')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("no")
    });
    let bulk = find(headers, "Precedence").is_some_and(|value| {
        let value = value.trim();
        ["bulk", "junk", "list"]
            .iter()
            .any(|word| value.eq_ignore_ascii_case(word))
    });
    let list = find(headers, "List-Id").is_some();
    let return_path = return_path.or_else(|| find(headers, "Return-Path"));
    let bounce = return_path.is_some_and(|path| super::headers::strip_brackets(path).is_empty())
        || return_path.is_some_and(is_daemon)
        || is_daemon(from);
    auto || bulk || list || bounce
}

fn is_daemon(address: &str) -> bool {
    let address = address.trim().to_ascii_lowercase();
    let address = super::headers::strip_brackets(&address);
    // Some MTAs write the bounce sender without a domain (`<MAILER-DAEMON>`).
    address == "mailer-daemon" || address.starts_with("mailer-daemon@") || address.starts_with("postmaster@")
}
