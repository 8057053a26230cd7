//! `agentctl triggers deliveries ID` and `agentctl triggers replay DELIVERY_ID` (DESIGN.md §10).

use crate::cli::args::{DeliveriesArgs, ReplayArgs, ShowFormat, TableFormat};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::render;
use crate::cli::terminal::{Term, out};

use super::agents::json;

pub(super) async fn deliveries(client: &Client, args: &DeliveriesArgs, term: Term) -> Result<(), CliError> {
    let id = protocol::TriggerId::parse(&args.id)
        .map_err(|e| CliError::Usage(format!("id: {e} (got {:?})", args.id)))?;
    if !(1..=500).contains(&args.limit) {
        return Err(CliError::Usage(format!(
            "--limit: must be 1-500 (got {})",
            args.limit
        )));
    }
    let cursor = args.cursor.as_deref().map(checked).transpose()?;
    let page = client.deliveries(id.as_str(), args.limit, cursor).await?;
    out(&match args.output {
        TableFormat::Json => json(&page)?,
        TableFormat::Table if term.tty => {
            render::deliveries_table(&page.deliveries, page.next_cursor.as_deref(), term.style)
        }
        TableFormat::Table => render::deliveries_plain(&page.deliveries),
    })
}

pub(super) async fn replay(client: &Client, args: &ReplayArgs) -> Result<(), CliError> {
    let id = checked(&args.delivery_id)?;
    let queued = client.replay(id).await?;
    out(&match args.output {
        ShowFormat::Json => json(&queued)?,
        ShowFormat::Text => render::replayed(id, &queued),
    })
}

/// A delivery id or cursor as the API writes them (UUIDs, row ids), so it is safe in a URL.
fn checked(raw: &str) -> Result<&str, CliError> {
    if !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(raw)
    } else {
        Err(CliError::Usage(format!(
            "{raw:?} is not a delivery id or cursor (letters, digits and '-')"
        )))
    }
}
