//! The supervisor's one typed configuration, read once from flags and environment at startup.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::process::UidRange;
use crate::retention::Retain;

/// PID 1 of the agent runtime container: runs agents, reaps every process, keeps every line.
#[derive(Debug, Parser)]
#[command(name = "agent-supervisor", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) config: Config,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Exit 0 when `GET /health` of the supervisor on `--listen` answers 200 (for Docker's HEALTHCHECK).
    Healthcheck {
        /// How long to wait for the answer.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Config {
    /// Address of the HTTP API (also the address `healthcheck` probes).
    #[arg(
        long,
        env = "SUPERVISOR_LISTEN",
        default_value = "0.0.0.0:8080",
        global = true
    )]
    pub(crate) listen: SocketAddr,

    /// Where session working directories and private homes are created.
    #[arg(long, env = "SUPERVISOR_WORKSPACE", default_value = "/workspace")]
    pub(crate) workspace: PathBuf,

    /// Local event logs, delivery cursors and the generated token.
    #[arg(
        long,
        env = "SUPERVISOR_STATE_DIR",
        default_value = "/var/lib/agent-supervisor"
    )]
    pub(crate) state_dir: PathBuf,

    /// The agent command, split like a shell would; the job spec goes to its stdin.
    #[arg(
        long,
        env = "SUPERVISOR_RUNNER",
        default_value = "node /opt/agent-runner/run.mjs"
    )]
    pub(crate) runner: String,

    /// The agents' group (this user's primary group), and with `--uid-range off` the one user every agent
    /// runs as. Only used when the supervisor runs as root.
    #[arg(long, env = "SUPERVISOR_RUN_AS", default_value = "agent")]
    pub(crate) run_as: String,

    /// Uids for agents, `START-END`: each running session runs as one of its own, returned only once no
    /// process of it is left; needs at least `--max-sessions` uids, none with a purpose of its own. `off`:
    /// every agent runs as the `--run-as` user (sessions are not isolated from each other). Root only.
    #[arg(long, env = "SUPERVISOR_UID_RANGE", default_value = "20000-20999", value_parser = UidRange::parse)]
    pub(crate) uid_range: UidRange,

    /// Default environment for every agent, `KEY=VALUE`; the request's `env` wins over it.
    #[arg(long = "agent-env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub(crate) agent_env: Vec<(String, String)>,

    /// Credential-proxy mode: the supervisor keeps this Anthropic API key and gives agents a loopback
    /// `ANTHROPIC_BASE_URL` that adds it to each request; the key never enters an agent's environment.
    /// From the environment only: on the command line it is refused (see `--anthropic-api-key-file`).
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    pub(crate) anthropic_api_key: Option<String>,

    /// Read the credential proxy's Anthropic API key from this file (one trailing newline is dropped).
    #[arg(long, env = "ANTHROPIC_API_KEY_FILE", value_name = "PATH")]
    pub(crate) anthropic_api_key_file: Option<PathBuf>,

    /// Where the credential proxy forwards to.
    #[arg(long, env = "ANTHROPIC_UPSTREAM", default_value = "https://api.anthropic.com")]
    pub(crate) anthropic_upstream: String,

    /// The npm registry jobs' `packages.npm` are installed from (`npm ci`); may carry credentials
    /// (`https://user:token@host/`), which logs and events never show.
    #[arg(long, env = "SUPERVISOR_NPM_REGISTRY", default_value = crate::packages::NpmRegistry::DEFAULT,
        value_parser = crate::packages::NpmRegistry::parse, hide_env_values = true)]
    pub(crate) npm_registry: crate::packages::NpmRegistry,

    /// The control plane that receives this runtime's events.
    #[arg(long, env = "CONTROL_PLANE_URL")]
    pub(crate) control_plane_url: Option<String>,

    /// Credential for the control plane's internal API. From the environment only: on the command line
    /// it is refused (see `--internal-api-key-file`).
    #[arg(long, env = "INTERNAL_API_KEY", hide_env_values = true)]
    pub(crate) internal_api_key: Option<String>,

    /// Read the control plane's credential from this file (one trailing newline is dropped).
    #[arg(long, env = "INTERNAL_API_KEY_FILE", value_name = "PATH")]
    pub(crate) internal_api_key_file: Option<PathBuf>,

    /// This runtime's name in the control plane (default: the hostname).
    #[arg(long, env = "RUNTIME_ID")]
    pub(crate) runtime_id: Option<String>,

    /// Read the API token from this file (else `SUPERVISOR_TOKEN`, else one is generated).
    #[arg(long, env = "SUPERVISOR_TOKEN_FILE", conflicts_with = "no_auth")]
    pub(crate) token_file: Option<PathBuf>,

    /// The API token.
    #[arg(long = "token", env = "SUPERVISOR_TOKEN", hide_env_values = true, hide = true)]
    pub(crate) token: Option<String>,

    /// Serve the API without authentication (local development only).
    #[arg(long)]
    pub(crate) no_auth: bool,

    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Sessions running at once; further `POST /execute` get 429.
    #[arg(long, env = "SUPERVISOR_MAX_SESSIONS", default_value_t = 16)]
    pub(crate) max_sessions: usize,

    /// Default session timeout (a request's `timeoutSeconds` overrides it).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) session_timeout: Duration,

    /// Time between SIGTERM and SIGKILL when stopping an agent.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) grace: Duration,

    /// A connection whose request head has not arrived this long after it connected (or after its last
    /// answer, when kept alive) is closed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) header_read_timeout: Duration,

    /// A request body not received whole this long after its head is refused (the connection closes).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) body_read_timeout: Duration,

    /// Open connections at most (further ones wait to be accepted); kept below what the file-descriptor
    /// limit allows.
    #[arg(long, default_value_t = 4096)]
    pub(crate) max_connections: usize,

    /// Largest accepted request body.
    #[arg(long, default_value = "4MiB", value_parser = parse_size)]
    pub(crate) max_body: u64,

    /// Longest stdout line kept; the rest is dropped with an `output.truncated` event.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    pub(crate) max_line: u64,

    /// Output kept per session; past it output is read and dropped, and counted.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_output: u64,

    /// Undelivered events kept locally before agents' output is no longer read (they block, nothing is
    /// dropped). 0 turns the cap off.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub(crate) spool_max: u64,

    /// At shutdown, how long to keep delivering events the control plane has not confirmed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) delivery_deadline: Duration,

    /// An agent still alive this long after its `result` message is stopped.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) after_result_grace: Duration,

    /// A label of this runtime, `KEY=VALUE` (repeatable; the environment variable takes `k=v,k=v`): a
    /// claimed job's `runtimeSelector` must match them.
    #[arg(
        long = "label",
        value_name = "KEY=VALUE",
        env = "SUPERVISOR_LABELS",
        value_delimiter = ',',
        value_parser = crate::labels::parse_label
    )]
    pub(crate) labels: Vec<(String, String)>,

    /// Claim work from the control plane (the default when `--control-plane-url` is set).
    #[arg(long, overrides_with = "no_pull")]
    pub(crate) pull: bool,

    /// Claim nothing: only `POST /execute` starts sessions.
    #[arg(long, overrides_with = "pull")]
    pub(crate) no_pull: bool,

    /// On `POST /drain`, or on SIGTERM when above 0: how long running sessions get to finish (while
    /// nothing new is claimed or admitted) before the shutdown.
    #[arg(long, env = "SUPERVISOR_DRAIN_TIMEOUT", default_value = "0s", value_parser = humantime::parse_duration)]
    pub(crate) drain_timeout: Duration,

    /// How long a finished session's local log and directories stay once its destination acknowledged
    /// every event of it (a session that ships nowhere counts as acknowledged when written); `off` keeps
    /// everything, `0s` removes it as soon as it is acknowledged. Nothing unacknowledged is removed.
    #[arg(long, env = "SUPERVISOR_RETAIN", default_value = "24h", value_parser = Retain::parse)]
    pub(crate) retain: Retain,

    /// How long one claim waits at the control plane for a job to fit (1s to 30s).
    #[arg(long, default_value = "30s", value_parser = parse_claim_wait)]
    pub(crate) claim_wait: Duration,

    /// Jobs this runtime claims in its life (1 or more); then it claims nothing more and exits 0 once they
    /// finished and every event was delivered: one runtime per queued session. Needs pulling.
    #[arg(long, env = "SUPERVISOR_MAX_JOBS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_jobs: Option<u64>,

    /// Exit 0, after delivering every event, once no session was held for this long (counted from
    /// start-up too).
    #[arg(long, env = "SUPERVISOR_EXIT_WHEN_IDLE", value_parser = humantime::parse_duration)]
    pub(crate) exit_when_idle: Option<Duration>,
}

impl Config {
    /// Whether this runtime claims work: `--pull`/`--no-pull`, else whenever a control plane is set.
    pub(crate) fn pulls(&self) -> bool {
        if self.no_pull {
            false
        } else {
            self.pull || self.control_plane_url.is_some()
        }
    }
}

fn parse_claim_wait(value: &str) -> Result<Duration, String> {
    let wait = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if wait < Duration::from_secs(1) || wait > Duration::from_secs(30) {
        return Err(format!("{value:?}: must be from 1s to 30s"));
    }
    Ok(wait)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The secret flags, each with its environment variable and its file flag: given on the command line, a
/// secret is readable by every process in `/proc/<pid>/cmdline`, agents included.
pub(crate) const SECRET_FLAGS: [(&str, &str, &str); 3] = [
    ("internal_api_key", "INTERNAL_API_KEY", "--internal-api-key-file"),
    (
        "anthropic_api_key",
        "ANTHROPIC_API_KEY",
        "--anthropic-api-key-file",
    ),
    ("token", "SUPERVISOR_TOKEN", "--token-file"),
];

/// Why a secret flag's value may not be used: it came from the command line. `id` is the clap id.
pub(crate) fn secret_on_command_line(id: &str, from_command_line: bool) -> Option<String> {
    let (_, env, file_flag) = SECRET_FLAGS.iter().find(|(known, _, _)| *known == id)?;
    from_command_line.then(|| {
        format!(
            "--{} on the command line can be read by every process in /proc/<pid>/cmdline: set {env} in \
             the environment or use {file_flag} PATH",
            id.replace('_', "-")
        )
    })
}

fn parse_key_value(value: &str) -> Result<(String, String), String> {
    let (key, val) = value
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {value:?}"))?;
    crate::session::env::check_name(key)?;
    Ok((key.to_owned(), val.to_owned()))
}

/// Parses `4MiB`, `512KiB`, `1GiB`, `100kB` or a plain number of bytes.
pub(crate) fn parse_size(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {value:?}: expected e.g. 4MiB"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "k" | "kB" | "K" => 1_000,
        "KiB" => 1 << 10,
        "M" | "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "G" | "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {value:?}: use B, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {value:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert!(parse_size("4XB").unwrap_err().contains("unit"));
        assert!(parse_size("MiB").is_err());
    }

    #[track_caller]
    fn check_secret(id: &str, from_command_line: bool, expect: expect_test::Expect) {
        expect.assert_eq(&format!("{:?}", secret_on_command_line(id, from_command_line)));
    }

    #[test]
    fn a_secret_is_refused_only_from_the_command_line() {
        use expect_test::expect;
        check_secret(
            "internal_api_key",
            true,
            expect![[
                r#"Some("--internal-api-key on the command line can be read by every process in /proc/<pid>/cmdline: set INTERNAL_API_KEY in the environment or use --internal-api-key-file PATH")"#
            ]],
        );
        check_secret("internal_api_key", false, expect![["None"]]);
        check_secret(
            "anthropic_api_key",
            true,
            expect![[
                r#"Some("--anthropic-api-key on the command line can be read by every process in /proc/<pid>/cmdline: set ANTHROPIC_API_KEY in the environment or use --anthropic-api-key-file PATH")"#
            ]],
        );
        check_secret(
            "token",
            true,
            expect![[
                r#"Some("--token on the command line can be read by every process in /proc/<pid>/cmdline: set SUPERVISOR_TOKEN in the environment or use --token-file PATH")"#
            ]],
        );
        check_secret("listen", true, expect![["None"]]);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
