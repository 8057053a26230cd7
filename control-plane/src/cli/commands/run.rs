//! `agentctl run`: queues a session of an agent in the control plane (`POST /api/v1/agents/{id}/sessions`),
//! or with `--runtime` starts it with that supervisor's `POST /execute`; `-f` follows it like `docker run`
//! (also while it waits in the queue), and the exit code then tells how the session ended.

use std::io::Read;

use protocol::{AgentId, AgentOptions, ExecuteRequest, ExecuteResponse, QueueSessionRequest, SessionId};

use super::logs::{Lookup, follow, print_event, until_known};
use crate::cli::args::{LogsFormat, RunArgs};
use crate::cli::client::{self, Client};
use crate::cli::endpoint;
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::render::transcript::Transcript;
use crate::cli::terminal::{Term, out};

pub(super) async fn run(client: &Client, args: &RunArgs, term: Term) -> Result<Exit, CliError> {
    let id = match &args.runtime {
        Some(runtime) => execute(runtime, args).await?,
        None => queue(client, args).await?,
    };
    if !args.follow {
        out(&format!("{id}\n"))?;
        eprintln!("follow with: agentctl logs -f {id}");
        return Ok(Exit::Ok);
    }
    if args.runtime.is_some() {
        eprintln!("session {id} started; following (Ctrl-C detaches, the session keeps running)");
        // The runtime ships its first events within moments; until then the control plane does not know the id.
        until_known(client, &id, Lookup::Exact).await?;
    }
    let mut transcript = Transcript::new(term.style, false);
    let detail = follow(client, &id, None, |e| {
        print_event(e, LogsFormat::Text, &mut transcript)
    })
    .await?;
    Ok(Exit::of_session(detail.session.status))
}

/// Queues the session in the control plane (`POST /api/v1/agents/{id}/sessions`); its id.
async fn queue(client: &Client, args: &RunArgs) -> Result<String, CliError> {
    let agent = agent_id(args)?;
    let request = QueueSessionRequest {
        prompt: prompt(args)?,
        session_id: session_id(args.session_id.as_deref(), "--session-id")?,
        conversation_id: session_id(args.conversation.as_deref(), "--conversation")?,
        env: args.env.iter().cloned().collect(),
        files: Vec::new(),
    };
    let queued = client.queue_session(agent.as_str(), &request).await?;
    let id = queued.session_id.to_string();
    let continues = if queued.conversation_id == queued.session_id {
        String::new()
    } else {
        format!(", continuing conversation {}", queued.conversation_id)
    };
    // The session exists from here on, so following can start at once; while it waits for a runtime the
    // stream is quiet, which stderr says.
    eprintln!(
        "session {id} {} (agent {agent} version {}{continues}){}",
        queued.status,
        queued.agent_version,
        if args.follow {
            "; following (Ctrl-C detaches, the session keeps its place)"
        } else {
            ""
        }
    );
    Ok(id)
}

/// Starts the session on one runtime with its `POST /execute`; its id.
async fn execute(runtime: &str, args: &RunArgs) -> Result<String, CliError> {
    let base = endpoint::base("--runtime", runtime).map_err(CliError::Usage)?;
    let request = request(args)?;
    let http = reqwest::Client::new();
    let mut post = http.post(format!("{base}/execute")).json(&request);
    if let Some(token) = std::env::var("SUPERVISOR_TOKEN").ok().filter(|t| !t.is_empty()) {
        post = post.bearer_auth(token);
    }
    let response = post.send().await.map_err(|e| {
        CliError::Other(anyhow::anyhow!(
            "connect to runtime {runtime}: {}",
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
    Ok(started.session_id.to_string())
}

/// The execute request the flags describe.
fn request(args: &RunArgs) -> Result<ExecuteRequest, CliError> {
    Ok(ExecuteRequest {
        agent_id: agent_id(args)?,
        session_id: session_id(args.session_id.as_deref(), "--session-id")?,
        prompt: prompt(args)?,
        env: args.env.iter().cloned().collect(),
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
        databases: Vec::new(),
        packages: None,
    })
}

fn prompt(args: &RunArgs) -> Result<String, CliError> {
    match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("read prompt from stdin: {e}")))?;
            Ok(text)
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("read prompt file {}: {e}", path.display()))),
        (None, None) => Err(CliError::Usage("--prompt or --prompt-file is required".into())),
    }
}

fn agent_id(args: &RunArgs) -> Result<AgentId, CliError> {
    AgentId::parse(args.agent.clone()).map_err(|e| CliError::Usage(format!("--agent: {e}")))
}

fn session_id(raw: Option<&str>, flag: &str) -> Result<Option<SessionId>, CliError> {
    raw.map(|s| SessionId::parse(s.to_owned()).map_err(|e| CliError::Usage(format!("{flag}: {e}"))))
        .transpose()
}
