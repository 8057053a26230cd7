//! agentctl's command line as clap types: the doc comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cli::exit::Exit;
use crate::server::ServeArgs;

/// Agent Studio control plane (`serve`) and its client: agents, sessions, conversations, runtimes, triggers.
#[derive(Debug, Parser)]
#[command(name = "agentctl", version, after_help = Exit::help())]
pub(crate) struct Cli {
    /// Control plane URL.
    #[arg(
        long,
        global = true,
        env = "AGENTCTL_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub(crate) url: String,
    /// File holding the API token (`-` for stdin); the token may also come from AGENTCTL_TOKEN.
    #[arg(long, global = true, env = "AGENTCTL_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// Run a session of an agent: queued in the control plane, or with --runtime on that runtime directly.
    Run(RunArgs),
    /// Agent definitions kept in the control plane.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Conversations: an agent's sessions that continue one another.
    #[command(subcommand)]
    Conversations(ConversationsCommand),
    /// The runtimes the control plane has heard from.
    Runtimes(RuntimesArgs),
    /// Triggers: webhooks, email and SMS that start an agent's sessions.
    #[command(subcommand)]
    Triggers(TriggersCommand),
    /// Print a shell completion script.
    Completion { shell: clap_complete::Shell },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    Table,
    Wide,
    Json,
    Jsonl,
    Name,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SessionsArgs {
    #[arg(long, short = 's')]
    pub(crate) status: Option<SessionStatusArg>,
    #[arg(long, short = 'a')]
    pub(crate) agent: Option<String>,
    #[arg(long, short = 'L', default_value_t = 20)]
    pub(crate) limit: u32,
    #[arg(long, short = 'o')]
    pub(crate) output: Option<ListFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SessionStatusArg {
    Queued,
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The API's spelling; clap's own `timed-out` still works.
    #[value(name = "timed_out", alias = "timed-out")]
    TimedOut,
    Lost,
}

impl SessionStatusArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
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
pub(crate) enum ShowFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    pub(crate) id: String,
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: ShowFormat,
    /// Exit 5 if the session failed, 6 if it was cancelled.
    #[arg(long)]
    pub(crate) exit_status: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogsFormat {
    Text,
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogsArgs {
    pub(crate) id: String,
    /// Keep following until the session ends (resumes after dropped connections).
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
    /// Start with the last N events.
    #[arg(long)]
    pub(crate) tail: Option<u64>,
    /// Prefix lines with the event's time.
    #[arg(long, short = 't')]
    pub(crate) timestamps: bool,
    /// text: a transcript; jsonl: the SDK messages as stored (like `claude --output-format stream-json`), and
    /// seed log entries as their `{"key","value"}`.
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: LogsFormat,
    /// Exit 5 if the session failed, 6 if it was cancelled.
    #[arg(long)]
    pub(crate) exit_status: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WaitArgs {
    pub(crate) id: String,
    /// Give up after this long (exit 124), e.g. `30s`, `5m`.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) timeout: Option<Duration>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    pub(crate) id: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Start the session on this runtime (a supervisor's POST /execute; its token comes from
    /// SUPERVISOR_TOKEN) instead of queuing it in the control plane for any runtime to claim.
    #[arg(long, env = "AGENTCTL_RUNTIME")]
    pub(crate) runtime: Option<String>,
    /// The agent: one defined in the control plane (`agentctl agents apply`), or with --runtime any id.
    #[arg(long)]
    pub(crate) agent: String,
    #[arg(long, conflicts_with = "prompt_file", required_unless_present = "prompt_file")]
    pub(crate) prompt: Option<String>,
    /// Read the prompt from a file (`-` for stdin).
    #[arg(long)]
    pub(crate) prompt_file: Option<PathBuf>,
    /// Follow the transcript (also while the session waits in the queue); the exit code then tells how the
    /// session ended.
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
    /// Only with --runtime: an agent in the control plane has its own maxTurns.
    #[arg(long, requires = "runtime")]
    pub(crate) max_turns: Option<u32>,
    /// Session id (generated when absent).
    #[arg(long)]
    pub(crate) session_id: Option<String>,
    /// Continue this conversation of the agent (its earlier turns are the session's context).
    #[arg(long, conflicts_with = "runtime")]
    pub(crate) conversation: Option<String>,
    /// An environment variable of the session, `NAME=VALUE` (repeatable); for secrets use the agent's
    /// `secrets`, which never show in `ps` or shell history.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = env_pair)]
    pub(crate) env: Vec<(String, String)>,
}

fn env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {text:?}")),
    }
}

/// A list's layout: a table on a terminal (tab-separated lines without a header when piped), or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// List the agents.
    #[command(visible_alias = "ls")]
    List(TableArgs),
    /// Show an agent's definition (secrets only as set or not).
    Show(AgentShowArgs),
    /// Create or change an agent from a YAML or JSON file; prints created, configured or unchanged.
    Apply(ApplyArgs),
    /// Delete an agent: it takes no new sessions; its versions and sessions stay readable, and applying it
    /// again makes its next version, so no confirmation is asked.
    Delete(AgentIdArgs),
    /// List an agent's versions, oldest first.
    Versions(AgentVersionsArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TriggersCommand {
    /// List the triggers; a scheme of `none` shows as UNVERIFIED.
    #[command(visible_alias = "ls")]
    List(TableArgs),
    /// Show a trigger's definition (secrets and credentials only as set or not).
    Show(TriggerShowArgs),
    /// Create or change a trigger from a YAML or JSON file; prints created, configured or unchanged.
    Apply(ApplyArgs),
    /// Delete a trigger: its hook answers 404 from then on; its deliveries stay readable.
    Delete(AgentIdArgs),
    /// List a trigger's deliveries, newest first: what became of each request and why.
    Deliveries(DeliveriesArgs),
    /// Start a new session from a delivery's stored prompt and attachments, in its conversation.
    Replay(ReplayArgs),
    /// Send a sample body to a trigger's hook, signed the way its provider signs; prints the answer.
    Test(TriggerTestArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct TriggerTestArgs {
    pub(crate) id: String,
    /// The body to send, as the provider would (a JSON event, a urlencoded form, a multipart body).
    #[arg(long)]
    pub(crate) body: PathBuf,
    /// File holding the signing secret (SendGrid: the P-256 private key, PEM); else
    /// AGENTCTL_TRIGGER_SECRET. Never on the command line.
    #[arg(long)]
    pub(crate) secret_file: Option<PathBuf>,
    /// The hook URL to post to and sign (the one providers are given, e.g. behind a proxy); default
    /// /hooks/ID of --url.
    #[arg(long)]
    pub(crate) hook_url: Option<String>,
    /// The body's content type; default: multipart when the body starts with its boundary, else JSON
    /// for webhooks and a form for SMS and mail.
    #[arg(long)]
    pub(crate) content_type: Option<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DeliveriesArgs {
    pub(crate) id: String,
    /// Deliveries per page (1-500).
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    /// The next page: the cursor the previous one printed.
    #[arg(long)]
    pub(crate) cursor: Option<String>,
    #[arg(long, short = 'o', default_value = "table")]
    pub(crate) output: TableFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    pub(crate) delivery_id: String,
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: ShowFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TriggerShowArgs {
    pub(crate) id: String,
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: ShowFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TableArgs {
    #[arg(long, short = 'o', default_value = "table")]
    pub(crate) output: TableFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AgentShowArgs {
    pub(crate) id: String,
    /// An earlier version (also of a deleted agent).
    #[arg(long)]
    pub(crate) version: Option<u32>,
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: ShowFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// The definition, YAML or JSON (by extension, else by content); `-` for stdin.
    #[arg(long, short = 'f')]
    pub(crate) file: PathBuf,
    /// text: kubectl's one line; json: the agent as the control plane answered.
    #[arg(long, short = 'o', default_value = "text")]
    pub(crate) output: ShowFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AgentIdArgs {
    pub(crate) id: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AgentVersionsArgs {
    pub(crate) id: String,
    #[arg(long, short = 'o', default_value = "table")]
    pub(crate) output: TableFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConversationsCommand {
    /// A conversation's sessions, oldest first.
    Show(ConversationShowArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConversationShowArgs {
    pub(crate) id: String,
    #[arg(long, short = 'o', default_value = "table")]
    pub(crate) output: TableFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RuntimesArgs {
    #[arg(long, short = 'o', default_value = "table")]
    pub(crate) output: TableFormat,
}
