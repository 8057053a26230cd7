//! `agentctl sessions` (`ps`): the session list, newest first.

use protocol::SessionDetail;

use crate::cli::args::{ListFormat, SessionStatusArg, SessionsArgs};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render;
use crate::cli::terminal::{Term, out};
use crate::time;

pub(super) async fn sessions(client: &Client, args: &SessionsArgs, term: Term) -> Result<Exit, CliError> {
    let mut all: Vec<SessionDetail> = Vec::new();
    let mut cursor: Option<String> = None;
    while (all.len() as u32) < args.limit {
        let want = (args.limit - all.len() as u32).min(1000);
        let page = client
            .sessions(
                args.status.map(SessionStatusArg::as_str),
                args.agent.as_deref(),
                want,
                cursor.as_deref(),
            )
            .await?;
        all.extend(page.sessions);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let format = args.output.unwrap_or(if term.tty {
        ListFormat::Table
    } else {
        ListFormat::Name
    });
    let text = match (format, args.output.is_some() || term.tty) {
        (ListFormat::Json, _) => {
            let list = protocol::SessionList {
                sessions: all,
                next_cursor: cursor,
            };
            serde_json::to_string_pretty(&list).map_err(anyhow::Error::from)? + "\n"
        }
        (ListFormat::Jsonl, _) => all
            .iter()
            .map(|s| serde_json::to_string(s).map(|j| j + "\n"))
            .collect::<Result<String, _>>()
            .map_err(anyhow::Error::from)?,
        (ListFormat::Name, true) => all
            .iter()
            .map(|s| format!("{}\n", s.session.session_id))
            .collect(),
        // Piped without -o: every column, tab-separated, no header.
        (ListFormat::Name, false) => render::sessions_plain(&all, false),
        (ListFormat::Table | ListFormat::Wide, _) if term.tty => {
            render::sessions_table(&all, format == ListFormat::Wide, time::now_ms(), term.style)
        }
        (ListFormat::Table | ListFormat::Wide, _) => render::sessions_plain(&all, format == ListFormat::Wide),
    };
    out(&text)?;
    Ok(Exit::Ok)
}
