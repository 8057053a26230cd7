//! `agentctl triggers list|show|apply|delete`: trigger definitions in the control plane (DESIGN.md §10).

use crate::cli::args::{ApplyArgs, ShowFormat, TableFormat, TriggersCommand};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render::{self, Applied};
use crate::cli::terminal::{Term, out};
use crate::manifest;

use super::agents::{json, read};

pub(super) async fn triggers(
    client: &Client,
    command: &TriggersCommand,
    term: Term,
) -> Result<Exit, CliError> {
    match command {
        TriggersCommand::List(args) => {
            let list = client.triggers().await?;
            out(&match args.output {
                TableFormat::Json => json(&list)?,
                TableFormat::Table if term.tty => render::triggers_table(&list.triggers, term.style),
                TableFormat::Table => render::triggers_plain(&list.triggers),
            })?;
        }
        TriggersCommand::Show(args) => {
            let id = trigger_id(&args.id)?;
            let trigger = client.trigger(&id).await?;
            out(&match args.output {
                ShowFormat::Json => json(&trigger)?,
                ShowFormat::Text => render::trigger(&trigger),
            })?;
        }
        TriggersCommand::Apply(args) => apply(client, args).await?,
        TriggersCommand::Delete(args) => {
            let id = trigger_id(&args.id)?;
            client.delete_trigger(&id).await?;
            out(&format!("trigger/{id} deleted\n"))?;
        }
        TriggersCommand::Deliveries(args) => {
            super::trigger_deliveries::deliveries(client, args, term).await?
        }
        TriggersCommand::Replay(args) => super::trigger_deliveries::replay(client, args).await?,
        TriggersCommand::Test(args) => return super::trigger_test::test(client, args).await,
    }
    Ok(Exit::Ok)
}

/// Reads the file, puts it, and says what changed: a PUT answers 200 for a change and for an unchanged
/// body alike, so the trigger's `updatedAt` before the PUT tells them apart.
async fn apply(client: &Client, args: &ApplyArgs) -> Result<(), CliError> {
    let (name, text) = read(&args.file)?;
    let path = (args.file.as_os_str() != "-").then_some(args.file.as_path());
    let definition = manifest::parse(&text, manifest::format_of(path, &text))
        .map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
    let id = match definition.get("id") {
        Some(serde_json::Value::String(id)) => id.as_str(),
        Some(_) => return Err(CliError::Usage(format!("{name}: id: is not a string"))),
        None => {
            return Err(CliError::Usage(format!(
                "{name}: id: missing (the file names the trigger it defines)"
            )));
        }
    };
    let id = trigger_id(id).map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
    let before = match client.trigger(&id).await {
        Ok(t) => Some(t.updated_at),
        Err(CliError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let (created, trigger) = client.put_trigger(&id, &definition).await?;
    let how = match before {
        _ if created => Applied::Created,
        None => Applied::Created,
        Some(at) if at == trigger.updated_at => Applied::Unchanged,
        Some(_) => Applied::Configured,
    };
    out(&match args.output {
        ShowFormat::Json => json(&trigger)?,
        ShowFormat::Text => render::trigger_applied(&id, how),
    })
}

/// A trigger id as the API spells it (so it is safe in a URL path); a bad one is a usage error.
fn trigger_id(raw: &str) -> Result<String, CliError> {
    protocol::TriggerId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| CliError::Usage(format!("id: {e} (got {raw:?})")))
}
