//! `agentctl agents list|show|apply|delete|versions`: agent definitions in the control plane (DESIGN.md §9).

use std::io::Read;
use std::path::Path;

use crate::cli::args::{AgentsCommand, ApplyArgs, ShowFormat, TableFormat};
use crate::cli::client::Client;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render::{self, Applied};
use crate::cli::terminal::{Term, out};
use crate::manifest;
use crate::time;

pub(super) async fn agents(client: &Client, command: &AgentsCommand, term: Term) -> Result<Exit, CliError> {
    match command {
        AgentsCommand::List(args) => {
            let list = client.agents().await?;
            let text = match args.output {
                TableFormat::Json => json(&list)?,
                TableFormat::Table if term.tty => {
                    render::agents_table(&list.agents, time::now_ms(), term.style)
                }
                TableFormat::Table => render::agents_plain(&list.agents),
            };
            out(&text)?;
        }
        AgentsCommand::Show(args) => {
            let id = agent_id(&args.id)?;
            let agent = client.agent(&id, args.version).await?;
            out(&match args.output {
                ShowFormat::Json => json(&agent)?,
                ShowFormat::Text => render::agent(&agent, time::now_ms()),
            })?;
        }
        AgentsCommand::Apply(args) => apply(client, args).await?,
        AgentsCommand::Delete(args) => {
            let id = agent_id(&args.id)?;
            client.delete_agent(&id).await?;
            out(&format!("agent/{id} deleted\n"))?;
        }
        AgentsCommand::Versions(args) => {
            let id = agent_id(&args.id)?;
            let versions = client.agent_versions(&id).await?;
            out(&match args.output {
                TableFormat::Json => json(&versions)?,
                TableFormat::Table => render::versions(&versions, term.tty, term.style),
            })?;
        }
    }
    Ok(Exit::Ok)
}

/// Reads the file, puts it, and says what changed. The version before comes from `/versions` (which also
/// knows a deleted agent), since a PUT answers 200 both for a new version and for an unchanged body.
async fn apply(client: &Client, args: &ApplyArgs) -> Result<(), CliError> {
    let (name, text) = read(&args.file)?;
    let path = (args.file.as_os_str() != "-").then_some(args.file.as_path());
    let definition = manifest::parse(&text, manifest::format_of(path, &text))
        .map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
    let id = manifest::agent_id(&definition).map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
    let id = agent_id(id).map_err(|e| CliError::Usage(format!("{name}: {e}")))?;
    let before = match client.agent_versions(&id).await {
        Ok(v) => v.versions.last().map(|v| v.version),
        Err(CliError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let (created, agent) = client.put_agent(&id, &definition).await?;
    let version = agent
        .version
        .ok_or_else(|| CliError::Other(anyhow::anyhow!("the answer to PUT agent {id} has no version")))?;
    out(&match args.output {
        ShowFormat::Json => json(&agent)?,
        ShowFormat::Text => render::applied(&id, Applied::of(created, before, version), version),
    })
}

/// The file's name for messages and its text; `-` is stdin.
pub(super) fn read(path: &Path) -> Result<(String, String), CliError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("read definition from stdin: {e}")))?;
        return Ok(("stdin".into(), text));
    }
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("read {name}: {e}")))?;
    Ok((name, text))
}

/// An agent id as the API spells it (so it is safe in a URL path); a bad one is a usage error.
fn agent_id(raw: &str) -> Result<String, CliError> {
    protocol::AgentId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| CliError::Usage(format!("id: {e} (got {raw:?})")))
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    Ok(serde_json::to_string_pretty(value).map_err(anyhow::Error::from)? + "\n")
}
