//! Mail addresses as configured and as received: `support@example.com` or `Support <support@example.com>`.
//! Only what a reply needs: the bare address, its display name, its domain, and the plus address.

/// A mailbox split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mailbox<'a> {
    pub(super) name: Option<&'a str>,
    /// `local@domain`.
    pub(super) address: &'a str,
    pub(super) local: &'a str,
    pub(super) domain: &'a str,
}

/// Parses `addr` or `Name <addr>` (a quoted name loses its quotes); `None` when there is no single
/// `local@domain` with both parts non-empty and no space in it; a name with a control character is dropped.
pub(super) fn mailbox(text: &str) -> Option<Mailbox<'_>> {
    let text = text.trim();
    let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => {
            let name = text[..open].trim().trim_matches('"').trim();
            (
                Some(name).filter(|name| !name.is_empty() && !name.chars().any(char::is_control)),
                &text[open + 1..text.len() - 1],
            )
        }
        _ => (None, text),
    };
    let address = address.trim();
    let (local, domain) = address.rsplit_once('@')?;
    // No whitespace or control character: the parts go into headers of the answer, where a line break
    // would let a stranger's `From:` add headers of its own.
    let plain = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '<' | '>' | ',' | '"'))
    };
    if !plain(local) || !plain(domain) {
        return None;
    }
    Some(Mailbox {
        name,
        address,
        local,
        domain,
    })
}

/// `local+token@domain`: the plus address a reply is asked to go to.
pub(super) fn plus(mailbox: &Mailbox<'_>, token: &str) -> String {
    format!("{}+{token}@{}", mailbox.local, mailbox.domain)
}
