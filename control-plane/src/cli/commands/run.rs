//! `agentctl run`: starts a session with a supervisor's `POST /execute`; `-f` follows it like `docker run`,
//! and the exit code then tells how the session ended.

use std::io::Read;

use protocol::{AgentOptions, ExecuteRequest, ExecuteResponse};

use super::logs::{Lookup, follow, print_event, until_known};
use crate::cli::args::{LogsFormat, RunArgs};
use crate::cli::client::{self, Client};
use crate::cli::endpoint;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render::transcript::Transcript;
use crate::cli::terminal::{Term, out};

pub(super) async fn run(client: &Client, args: &RunArgs, term: Term) -> Result<Exit, CliError> {
    let runtime = endpoint::base("--runtime", &args.runtime).map_err(CliError::Usage)?;
    let request = request(args)?;
    let http = reqwest::Client::new();
    let mut post = http.post(format!("{runtime}/execute")).json(&request);
    if let Some(token) = std::env::var("SUPERVISOR_TOKEN").ok().filter(|t| !t.is_empty()) {
        post = post.bearer_auth(token);
    }
    let response = post.send().await.map_err(|e| {
        CliError::Other(anyhow::anyhow!(
            "connect to runtime {}: {}",
            args.runtime,
            client::error_chain(&e)
        ))
    })?;
    if !response.status().is_success() {
        return Err(client::error_from(response).await);
    }
    let started: ExecuteResponse = response
        .json()
        .await
        .map_err(|e| CliError::Other(anyhow::anyhow!("read answer of runtime: {e}")))?;
    let id = started.session_id.to_string();
    if !args.follow {
        out(&format!("{id}\n"))?;
        eprintln!("follow with: agentctl logs -f {id}");
        return Ok(Exit::Ok);
    }
    eprintln!("session {id} started; following (Ctrl-C detaches, the session keeps running)");
    // The runtime ships its first events within moments; until then the control plane does not know the id.
    until_known(client, &id, Lookup::Exact).await?;
    let mut transcript = Transcript::new(term.style, false);
    let detail = follow(client, &id, None, |e| {
        print_event(e, LogsFormat::Text, &mut transcript)
    })
    .await?;
    Ok(Exit::of_session(detail.session.status))
}

/// The execute request the flags describe.
fn request(args: &RunArgs) -> Result<ExecuteRequest, CliError> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => p.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("read prompt from stdin: {e}")))?;
            text
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("read prompt file {}: {e}", path.display())))?,
        (None, None) => return Err(CliError::Usage("--prompt or --prompt-file is required".into())),
    };
    let agent_id =
        protocol::AgentId::parse(args.agent.clone()).map_err(|e| CliError::Usage(format!("--agent: {e}")))?;
    let session_id = match &args.session_id {
        Some(s) => Some(
            protocol::SessionId::parse(s.clone())
                .map_err(|e| CliError::Usage(format!("--session-id: {e}")))?,
        ),
        None => None,
    };
    Ok(ExecuteRequest {
        agent_id,
        session_id,
        prompt,
        env: Default::default(),
        storage: None,
        options: AgentOptions {
            max_turns: args.max_turns,
            ..Default::default()
        },
        skills: Vec::new(),
        files: Vec::new(),
        timeout_seconds: None,
        conversation_id: None,
        agent_version: None,
        conversation: None,
    })
}
