//! `agentctl` subcommands other than `serve`: clients of the public API (DESIGN.md §6).
//!
//! Output goes to stdout, messages and errors to stderr as one line. Tables on a terminal, tab-separated
//! without header when piped; colour only on a terminal and without `NO_COLOR`. A closed stdout (broken
//! pipe) ends the command quietly with 0.

mod client;
pub mod render;

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use protocol::{AgentOptions, ExecuteRequest, ExecuteResponse, SessionDetail, SessionStatus};

use crate::server::{Application, ServeArgs, ServerConfig};
use crate::time;
use client::{Client, Followed};
use render::{Style, Transcript};

const EXIT_CODES: &str = "\
Exit codes:
  0    ok (wait, run -f, --exit-status: the session succeeded)
  1    error (network, server, not found)
  2    usage error
  4    authentication missing or rejected
  5    the session failed, timed out or was lost
  6    the session was cancelled
  124  --timeout elapsed
  130  interrupted";

/// Agent Studio control plane (`serve`) and session client.
#[derive(Debug, Parser)]
#[command(name = "agentctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Control plane URL.
    #[arg(
        long,
        global = true,
        env = "AGENTCTL_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: String,
    /// File holding the API token (`-` for stdin); the token may also come from AGENTCTL_TOKEN.
    #[arg(long, global = true, env = "AGENTCTL_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane server.
    Serve(ServeArgs),
    /// List sessions, newest first.
    #[command(visible_alias = "ps")]
    Sessions(SessionsArgs),
    /// Show one session.
    Show(ShowArgs),
    /// Print a session's transcript.
    Logs(LogsArgs),
    /// Wait until a session finishes; the exit code tells how it ended.
    Wait(WaitArgs),
    /// Cancel a session.
    Cancel(CancelArgs),
    /// Start a session on a runtime (a supervisor's POST /execute).
    Run(RunArgs),
    /// Print a shell completion script.
    Completion { shell: clap_complete::Shell },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Wide,
    Json,
    Jsonl,
    Name,
}

#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    #[arg(long, short = 's')]
    pub status: Option<SessionStatusArg>,
    #[arg(long, short = 'a')]
    pub agent: Option<String>,
    #[arg(long, short = 'L', default_value_t = 20)]
    pub limit: u32,
    #[arg(long, short = 'o')]
    pub output: Option<ListFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionStatusArg {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Lost,
}

impl SessionStatusArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub id: String,
    #[arg(long, short = 'o', default_value = "text")]
    pub output: ShowFormat,
    /// Exit 5 if the session failed, 6 if it was cancelled.
    #[arg(long)]
    pub exit_status: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogsFormat {
    Text,
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    pub id: String,
    /// Keep following until the session ends (resumes after dropped connections).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Start with the last N events.
    #[arg(long)]
    pub tail: Option<u64>,
    /// Prefix lines with the event's time.
    #[arg(long, short = 't')]
    pub timestamps: bool,
    /// text: a transcript; jsonl: the SDK messages as stored (like `claude --output-format stream-json`).
    #[arg(long, short = 'o', default_value = "text")]
    pub output: LogsFormat,
    /// Exit 5 if the session failed, 6 if it was cancelled.
    #[arg(long)]
    pub exit_status: bool,
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    pub id: String,
    /// Give up after this long (exit 124), e.g. `30s`, `5m`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    pub id: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The runtime (supervisor) URL; its token comes from SUPERVISOR_TOKEN.
    #[arg(long, env = "AGENTCTL_RUNTIME")]
    pub runtime: String,
    #[arg(long)]
    pub agent: String,
    #[arg(long, conflicts_with = "prompt_file", required_unless_present = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the prompt from a file (`-` for stdin).
    #[arg(long)]
    pub prompt_file: Option<PathBuf>,
    /// Follow the transcript; the exit code then tells how the session ended.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[arg(long)]
    pub max_turns: Option<u32>,
    /// Session id (generated by the runtime when absent).
    #[arg(long)]
    pub session_id: Option<String>,
}

/// How a command failed; each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Auth(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("timed out")]
    Timeout,
    #[error("interrupted")]
    Interrupted,
    /// stdout was closed by its reader: not an error.
    #[error("broken pipe")]
    BrokenPipe,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Auth(_) => 4,
            Self::NotFound(_) | Self::Other(_) => 1,
            Self::Usage(_) => 2,
            Self::Timeout => 124,
            Self::Interrupted => 130,
            Self::BrokenPipe => 0,
        }
    }
}

/// How a session ended, as an exit code (0 succeeded, 5 failed, 6 cancelled).
pub fn session_exit(status: SessionStatus) -> u8 {
    match status {
        SessionStatus::Succeeded | SessionStatus::Pending | SessionStatus::Running => 0,
        SessionStatus::Cancelled => 6,
        SessionStatus::Failed | SessionStatus::TimedOut | SessionStatus::Lost => 5,
    }
}

/// Where output goes and how it looks.
#[derive(Debug, Clone, Copy)]
struct Term {
    tty: bool,
    style: Style,
}

impl Term {
    fn detect() -> Self {
        let forced = std::env::var_os("AGENTCTL_FORCE_TTY").is_some_and(|v| !v.is_empty() && v != "0");
        let tty = forced || std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self {
            tty,
            style: Style {
                color: tty && !no_color,
            },
        }
    }
}

/// Writes to stdout; a closed pipe becomes [`CliError::BrokenPipe`].
fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                CliError::BrokenPipe
            } else {
                CliError::Other(anyhow::anyhow!("write to stdout: {e}"))
            }
        })
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentctl: start async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            result = run(cli) => match result {
                Ok(code) => code,
                Err(error) => {
                    if !matches!(error, CliError::BrokenPipe) {
                        eprintln!("agentctl: {}", client::error_chain(&error));
                    }
                    error.exit_code()
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("agentctl: interrupted");
                130
            }
        }
    });
    // Do not wait for detached tasks (an open follow stream) on the way out.
    runtime.shutdown_timeout(Duration::from_millis(100));
    ExitCode::from(code)
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn token(cli: &Cli) -> Result<Option<String>, CliError> {
    if let Some(path) = &cli.token_file {
        let mut text = String::new();
        if path.as_os_str() == "-" {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Usage(format!("read token from stdin: {e}")))?;
        } else {
            text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("read token file {}: {e}", path.display())))?;
        }
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(std::env::var("AGENTCTL_TOKEN").ok().filter(|t| !t.is_empty()))
}

async fn run(cli: Cli) -> Result<u8, CliError> {
    let term = Term::detect();
    let client = || -> Result<Client, CliError> { Client::new(&cli.url, token(&cli)?) };
    match &cli.command {
        Command::Serve(args) => {
            init_logging(&args.log_format);
            let config = ServerConfig::from_args(args);
            let app = Application::build(config).await?;
            app.run(shutdown_signal()).await?;
            Ok(0)
        }
        Command::Sessions(args) => sessions(&client()?, args, term).await,
        Command::Show(args) => show(&client()?, args, term).await,
        Command::Logs(args) => logs(&client()?, args, term).await,
        Command::Wait(args) => wait(&client()?, args).await,
        Command::Cancel(args) => cancel(&client()?, args).await,
        Command::Run(args) => run_session(&client()?, args, term).await,
        Command::Completion { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "agentctl", &mut buf);
            out(&String::from_utf8_lossy(&buf))?;
            Ok(0)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn sessions(client: &Client, args: &SessionsArgs, term: Term) -> Result<u8, CliError> {
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
    Ok(0)
}

async fn show(client: &Client, args: &ShowArgs, term: Term) -> Result<u8, CliError> {
    let session = client.session(&args.id).await?;
    let text = match args.output {
        ShowFormat::Json => serde_json::to_string_pretty(&session).map_err(anyhow::Error::from)? + "\n",
        ShowFormat::Text => render::show(&session, time::now_ms(), term.style),
    };
    out(&text)?;
    Ok(if args.exit_status {
        session_exit(session.session.status)
    } else {
        0
    })
}

/// Prints one event in the chosen format.
fn print_event(
    event: &protocol::Event,
    format: LogsFormat,
    transcript: &mut Transcript,
) -> Result<(), CliError> {
    match format {
        LogsFormat::Jsonl => {
            // The SDK's own messages: JSON objects the agent printed, byte for byte as stored.
            if event.source == protocol::EventSource::Agent
                && event.data.get().trim_start().starts_with('{')
                && event.kind != "text"
                && event.kind != "log"
            {
                out(&format!("{}\n", event.data.get()))?;
            }
        }
        LogsFormat::Text => {
            let lines = transcript.event(event);
            if !lines.is_empty() {
                out(&(lines.join("\n") + "\n"))?;
            }
        }
    }
    Ok(())
}

async fn logs(client: &Client, args: &LogsArgs, term: Term) -> Result<u8, CliError> {
    let mut transcript = Transcript::new(term.style, args.timestamps);
    let mut after: Option<u64> = None;
    if let Some(n) = args.tail {
        let session = client.session(&args.id).await?;
        after = session
            .session
            .last_seq
            .and_then(|last| (last + 1).checked_sub(n))
            .and_then(|first| first.checked_sub(1));
    }
    if !args.follow {
        loop {
            let page = client.events(&args.id, after, 1000).await?;
            for event in &page.events {
                print_event(event, args.output, &mut transcript)?;
            }
            if page.events.len() < 1000 {
                break;
            }
            after = page.next_after;
        }
        if args.exit_status {
            return Ok(session_exit(client.session(&args.id).await?.session.status));
        }
        return Ok(0);
    }
    let detail = follow(client, &args.id, after, |event| {
        print_event(event, args.output, &mut transcript)
    })
    .await?;
    Ok(if args.exit_status {
        session_exit(detail.session.status)
    } else {
        0
    })
}

/// Follows until `end`, resuming after the last seq seen whenever the connection drops.
async fn follow(
    client: &Client,
    id: &str,
    mut after: Option<u64>,
    mut on_event: impl FnMut(&protocol::Event) -> Result<(), CliError>,
) -> Result<SessionDetail, CliError> {
    let mut backoff = Duration::from_millis(250);
    loop {
        let result = client
            .follow(id, after, |followed| {
                if let Followed::Event(event) = followed {
                    on_event(&event)?;
                    after = Some(event.seq);
                }
                Ok(())
            })
            .await;
        match result {
            Ok(Some(detail)) => return Ok(detail),
            Ok(None) => {}
            Err(CliError::Other(error)) => {
                eprintln!("agentctl: {}; retrying", client::error_chain(error.as_ref()));
            }
            Err(other) => return Err(other),
        }
        eprintln!(
            "agentctl: connection lost; resuming after seq {}",
            after.map_or_else(|| "-".into(), |a| a.to_string())
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn wait(client: &Client, args: &WaitArgs) -> Result<u8, CliError> {
    let deadline = args.timeout.map(|t| Instant::now() + t);
    loop {
        let session = client.session(&args.id).await?;
        if session.session.status.is_finished() {
            out(&format!(
                "{} {}\n",
                session.session.session_id, session.session.status
            ))?;
            return Ok(session_exit(session.session.status));
        }
        let pause = Duration::from_millis(500);
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                eprintln!(
                    "agentctl: session {} still {} after the timeout",
                    args.id, session.session.status
                );
                return Err(CliError::Timeout);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }
}

async fn cancel(client: &Client, args: &CancelArgs) -> Result<u8, CliError> {
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(format!(
                "refusing to cancel {} without confirmation: pass -y when stdin is not a terminal",
                args.id
            )));
        }
        eprint!("Cancel session {}? [y/N] ", args.id);
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::Other(anyhow::anyhow!("read confirmation: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("agentctl: not cancelled");
            return Ok(1);
        }
    }
    let (queued, answer) = client.cancel(&args.id).await?;
    if queued {
        out(&format!("{}: cancelling\n", answer.session_id))?;
    } else {
        eprintln!("agentctl: session {} already finished", answer.session_id);
        out(&format!("{}: {}\n", answer.session_id, answer.status))?;
    }
    Ok(0)
}

async fn run_session(client: &Client, args: &RunArgs, term: Term) -> Result<u8, CliError> {
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
    let request = ExecuteRequest {
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
    };
    let http = reqwest::Client::new();
    let mut post = http
        .post(format!("{}/execute", args.runtime.trim_end_matches('/')))
        .json(&request);
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
        return Ok(0);
    }
    eprintln!("session {id} started; following (Ctrl-C detaches, the session keeps running)");
    // The runtime ships its first events within moments; until then the control plane does not know the id.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.session(&id).await {
            Ok(_) => break,
            Err(CliError::NotFound(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
    let mut transcript = Transcript::new(term.style, false);
    let detail = follow(client, &id, None, |e| {
        print_event(e, LogsFormat::Text, &mut transcript)
    })
    .await?;
    Ok(session_exit(detail.session.status))
}
