//! `agentctl show ID`: one session, describe-style or as JSON.

use crate::cli::args::{ShowArgs, ShowFormat};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::lookup;
use crate::cli::render;
use crate::cli::terminal::{Term, out};
use crate::time;

pub(super) async fn show(client: &Client, args: &ShowArgs, term: Term) -> Result<Exit, CliError> {
    let id = lookup::session_id(client, &args.id).await?;
    let session = client.session(&id).await?;
    let text = match args.output {
        ShowFormat::Json => serde_json::to_string_pretty(&session).map_err(anyhow::Error::from)? + "\n",
        ShowFormat::Text => render::show(&session, time::now_ms(), term.style),
    };
    out(&text)?;
    Ok(if args.exit_status {
        Exit::of_session(session.session.status)
    } else {
        Exit::Ok
    })
}
