//! Which session an id argument names: the session with that id, or else the one session whose id starts with
//! it (docker-style prefixes). The public API has no prefix filter, so a prefix is looked up in the session list
//! (newest first), read page by page up to [`SCAN_LIMIT`] sessions; the exact id is always asked first, so a
//! full id costs one request and never matches a longer id it happens to start.

use protocol::SessionId;

use crate::cli::client::Client;
use crate::cli::error::CliError;

/// The most sessions read from the list when looking a prefix up.
const SCAN_LIMIT: usize = 10_000;
/// Candidates named in an ambiguity error.
const SHOWN: usize = 10;

/// The session ids that start with a prefix.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Match {
    One(String),
    None,
    Several(Vec<String>),
}

/// The ids among `ids` that start with `prefix`.
pub(crate) fn by_prefix<'a>(prefix: &str, ids: impl IntoIterator<Item = &'a str>) -> Match {
    let mut found: Vec<String> = ids
        .into_iter()
        .filter(|id| id.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    match found.len() {
        0 => Match::None,
        1 => Match::One(found.remove(0)),
        _ => Match::Several(found),
    }
}

/// The error for a prefix several sessions start with, naming them (newest first).
pub(crate) fn ambiguous(prefix: &str, ids: &[String]) -> String {
    let mut named = ids.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > SHOWN {
        named.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    format!(
        "{prefix} is ambiguous: {} sessions start with it: {named}",
        ids.len()
    )
}

/// The full id of the session `arg` names; a malformed argument is a usage error, no match is not found.
pub(crate) async fn session_id(client: &Client, arg: &str) -> Result<String, CliError> {
    // The id goes into a URL path: only the id syntax (any of whose prefixes is valid syntax too) may.
    SessionId::parse(arg).map_err(|e| CliError::Usage(format!("{arg}: {e}")))?;
    match client.session(arg).await {
        Ok(_) => return Ok(arg.to_owned()),
        Err(CliError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let mut ids: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = client.sessions(None, None, 1000, cursor.as_deref()).await?;
        ids.extend(
            page.sessions
                .into_iter()
                .map(|s| s.session.session_id.to_string()),
        );
        match page.next_cursor {
            Some(next) if ids.len() < SCAN_LIMIT => cursor = Some(next),
            _ => break,
        }
    }
    match by_prefix(arg, ids.iter().map(String::as_str)) {
        Match::One(id) => Ok(id),
        Match::None => Err(CliError::NotFound(format!("session {arg} not found"))),
        Match::Several(found) => Err(CliError::Other(anyhow::anyhow!(ambiguous(arg, &found)))),
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[track_caller]
    fn check(prefix: &str, ids: &[&str], expect: Expect) {
        let shown = match by_prefix(prefix, ids.iter().copied()) {
            Match::One(id) => format!("one {id}"),
            Match::None => "none".to_owned(),
            Match::Several(found) => ambiguous(prefix, &found),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn a_prefix_names_the_one_session_it_starts_or_lists_the_candidates() {
        let ids = ["s-20", "s-1", "s-10", "t-1"];
        check("t", &ids, expect!["one t-1"]);
        check("s-2", &ids, expect!["one s-20"]);
        check("u", &ids, expect!["none"]);
        check(
            "s-1",
            &ids,
            expect!["s-1 is ambiguous: 2 sessions start with it: s-1, s-10"],
        );
        check(
            "s",
            &ids,
            expect!["s is ambiguous: 3 sessions start with it: s-20, s-1, s-10"],
        );
        let many: Vec<String> = (0..12).map(|i| format!("m-{i:02}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        check(
            "m-",
            &many,
            expect![
                "m- is ambiguous: 12 sessions start with it: m-00, m-01, m-02, m-03, m-04, m-05, m-06, m-07, m-08, m-09 and 2 more"
            ],
        );
    }
}
