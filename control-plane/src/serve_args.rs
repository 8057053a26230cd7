//! `agentctl serve`'s flags, and where its secrets may come from: the environment or a file, never the
//! command line (issue 10, finding 6). Every process on the host, agents included, reads a command line in
//! `/proc/PID/cmdline`; so `--internal-api-key`, `--api-token` and a `--database-url` with a password given
//! there are refused at start-up, with a message naming the environment variable and the file flag to use
//! instead. clap's `ArgMatches::value_source` tells the command line from the environment, which is why
//! [`ServeArgs`] wraps the derived [`ServeFlags`] instead of being derived itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;

use crate::connections::Limits;
use crate::trigger_flags::TriggerFlags;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeFlags {
    /// Address to listen on.
    #[arg(long, env = "AGENTCTL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// `postgres://…` (several replicas may share it) or `sqlite://path` (created on first start). One with a
    /// password is refused on the command line: set DATABASE_URL or --database-url-file.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://agentctl.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// File whose first non-empty line is the database URL.
    #[arg(long, env = "DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// Keys supervisors present on the internal API, from the environment only (comma-separated for
    /// several): refused on the command line, see --internal-api-key-file.
    #[arg(long, env = "INTERNAL_API_KEY", value_delimiter = ',', hide_env_values = true)]
    pub internal_api_key: Vec<String>,
    /// File of internal API keys, one per line.
    #[arg(long, env = "INTERNAL_API_KEY_FILE")]
    pub internal_api_key_file: Option<PathBuf>,
    /// Tokens people and tools present on the public API, from the environment only (comma-separated for
    /// several): refused on the command line, see --api-token-file.
    #[arg(
        long,
        env = "AGENTCTL_API_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_token: Vec<String>,
    /// File of API tokens, one per line.
    #[arg(long, env = "AGENTCTL_API_TOKENS_FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Sessions of a runtime silent for this long become `lost`.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub heartbeat_timeout: Duration,
    /// The key that seals agents' secrets: a file holding 32 bytes in base64, readable by its owner only
    /// (or the environment variable AGENTCTL_SECRETS_KEY). Every replica needs the same key. Without one,
    /// a key is generated beside a SQLite database; on PostgreSQL agents with secrets are refused.
    #[arg(long)]
    pub secrets_key_file: Option<PathBuf>,
    /// Refused: a key on the command line is readable by every user in /proc/*/cmdline.
    #[arg(long, hide = true, value_parser = RefuseSecretOnCommandLine)]
    pub secrets_key: Option<String>,
    /// A claimed session whose `session.started` has not arrived this long after the claim goes back to the
    /// queue.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub claim_lease: Duration,
    /// Accept every request without credentials (local development only).
    #[arg(long)]
    pub no_auth: bool,
    /// Do not serve the web UI (`/`, `/sessions`, …): only the APIs, `/hooks/…` and `/health`.
    #[arg(long, env = "AGENTCTL_NO_UI")]
    pub no_ui: bool,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// A connection whose request head has not arrived this long after it connected (or after its last
    /// answer, when kept alive) is closed.
    #[arg(long, env = "AGENTCTL_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// A connection on which no byte moved for this long (a request body that stopped, a client that stopped
    /// reading) is closed; live follows send keep-alives more often. Keep it above the 10 s an ingest request
    /// may wait for its commit.
    #[arg(long, env = "AGENTCTL_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Open connections at most (further ones wait to be accepted); kept below what the file-descriptor
    /// limit allows.
    #[arg(long, env = "AGENTCTL_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Delete finished sessions, with their events, once they are older than this (`30d`, `12h`); `off`
    /// keeps every session. Never a queued or running one, one whose reply is not sent yet, or what a
    /// conversation's next turn needs.
    #[arg(long, env = "AGENTCTL_RETENTION", default_value = "off", value_name = "DUR|off",
        value_parser = crate::retention::parse_flag)]
    pub retention: crate::retention::Retention,
    /// The npm registry agents' `packages.npm` are resolved from when a version is made; may carry
    /// credentials (`https://user:token@host/`), which logs and answers never show.
    #[arg(long, env = "AGENTCTL_NPM_REGISTRY", default_value = crate::agents::packages::NpmRegistry::DEFAULT,
        value_parser = crate::agents::packages::NpmRegistry::parse, hide_env_values = true)]
    pub npm_registry: crate::agents::packages::NpmRegistry,
    /// Where triggers are called from, how large a hook's body may be, where replies go.
    #[command(flatten)]
    pub triggers: Box<TriggerFlags>,
}

/// Refuses any value of `--secrets-key`, without repeating it: clap's own "invalid value" error would
/// print the key it refuses.
#[derive(Debug, Clone, Copy)]
pub struct RefuseSecretOnCommandLine;

impl clap::builder::TypedValueParser for RefuseSecretOnCommandLine {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        _value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            "--secrets-key: secrets are never taken from the command line (every user can read it): use \
             --secrets-key-file PATH or AGENTCTL_SECRETS_KEY\n",
        ))
    }
}

/// Where each secret flag's value came from, as clap saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sources {
    pub internal_api_key: Option<ValueSource>,
    pub api_token: Option<ValueSource>,
    pub database_url: Option<ValueSource>,
}

/// `agentctl serve`'s arguments: the flags, and where the secret ones came from.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    pub flags: ServeFlags,
    pub sources: Sources,
}

/// The secrets, from wherever they were allowed to come from; `Debug` shows how many, never which.
#[derive(Clone)]
pub struct Secrets {
    pub database_url: String,
    pub internal_api_keys: Vec<String>,
    pub api_tokens: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("database_url", &crate::database_url::redacted(&self.database_url))
            .field("internal_api_keys", &self.internal_api_keys.len())
            .field("api_tokens", &self.api_tokens.len())
            .finish()
    }
}

impl ServeArgs {
    /// The settings of `POST /hooks/{id}`.
    pub fn hook_settings(&self) -> crate::http::hooks::HookSettings {
        self.flags.triggers.hook_settings()
    }

    /// The settings of the reply worker.
    pub fn reply_settings(&self) -> crate::triggers::replier::ReplierSettings {
        self.flags.triggers.reply_settings()
    }

    /// The limits of the accept loop.
    pub fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: self.flags.header_read_timeout,
            idle_timeout: self.flags.idle_timeout,
            max_connections: self.flags.max_connections,
        }
    }

    /// The secrets from the environment and the files; a secret on the command line is refused, the
    /// message naming where to put it instead (and never the secret).
    pub fn secrets(&self) -> Result<Secrets, String> {
        let f = &self.flags;
        let refused = argv_refusals(self.sources, crate::database_url::has_password(&f.database_url));
        if !refused.is_empty() {
            return Err(refused.join("; "));
        }
        let database_url = match &f.database_url_file {
            None => f.database_url.clone(),
            Some(_) if self.sources.database_url != Some(ValueSource::DefaultValue) => {
                return Err(
                    "both --database-url-file and DATABASE_URL (or --database-url) are set: give one".into(),
                );
            }
            Some(path) => read_values(path, "--database-url-file")?
                .into_iter()
                .next()
                .ok_or_else(|| format!("--database-url-file {}: no URL in it", path.display()))?,
        };
        let mut internal_api_keys = clean(&f.internal_api_key);
        if let Some(path) = &f.internal_api_key_file {
            internal_api_keys.extend(read_values(path, "--internal-api-key-file")?);
        }
        let mut api_tokens = clean(&f.api_token);
        if let Some(path) = &f.api_token_file {
            api_tokens.extend(read_values(path, "--api-token-file")?);
        }
        Ok(Secrets {
            database_url,
            internal_api_keys,
            api_tokens,
        })
    }
}

/// Why the secrets given on the command line are refused, one message each (none: nothing to refuse).
pub fn argv_refusals(sources: Sources, database_url_has_password: bool) -> Vec<&'static str> {
    let argv = |source: Option<ValueSource>| source == Some(ValueSource::CommandLine);
    let mut refused = Vec::new();
    if argv(sources.internal_api_key) {
        refused.push(
            "--internal-api-key on the command line is refused (every process on the host can read it in \
             /proc): set INTERNAL_API_KEY or --internal-api-key-file (one key per line)",
        );
    }
    if argv(sources.api_token) {
        refused.push(
            "--api-token on the command line is refused (every process on the host can read it in /proc): \
             set AGENTCTL_API_TOKENS or --api-token-file (one token per line)",
        );
    }
    if argv(sources.database_url) && database_url_has_password {
        refused.push(
            "--database-url with a password on the command line is refused (every process on the host can \
             read it in /proc): set DATABASE_URL or --database-url-file",
        );
    }
    refused
}

fn clean(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The non-empty lines of a secrets file, trimmed. The error names the flag and the path, never the content.
fn read_values(path: &Path, flag: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    Ok(clean(&text.lines().map(str::to_owned).collect::<Vec<_>>()))
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            flags: ServeFlags::from_arg_matches(matches)?,
            sources: sources(matches),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.flags.update_from_arg_matches(matches)?;
        self.sources = sources(matches);
        Ok(())
    }
}

impl clap::Args for ServeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        ServeFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        ServeFlags::augment_args_for_update(cmd)
    }
}

fn sources(matches: &clap::ArgMatches) -> Sources {
    Sources {
        internal_api_key: matches.value_source("internal_api_key"),
        api_token: matches.value_source("api_token"),
        database_url: matches.value_source("database_url"),
    }
}

#[cfg(test)]
mod tests {
    use clap::parser::ValueSource::{CommandLine, DefaultValue, EnvVariable};
    use expect_test::{Expect, expect};

    use super::{Sources, argv_refusals};

    #[track_caller]
    fn check(sources: Sources, password: bool, expect: Expect) {
        let refused: Vec<&str> = argv_refusals(sources, password)
            .iter()
            .map(|m| m.split_once(" (").map_or(*m, |(flag, _)| flag))
            .collect();
        expect.assert_eq(&format!("{refused:?}"));
    }

    #[test]
    fn secrets_on_the_command_line_are_refused_and_from_the_environment_are_not() {
        let none = Sources::default();
        check(none, false, expect!["[]"]);
        check(
            Sources {
                internal_api_key: Some(EnvVariable),
                api_token: Some(EnvVariable),
                database_url: Some(EnvVariable),
            },
            true,
            expect!["[]"],
        );
        check(
            Sources {
                internal_api_key: Some(CommandLine),
                api_token: Some(CommandLine),
                database_url: Some(CommandLine),
            },
            true,
            expect![[
                r#"["--internal-api-key on the command line is refused", "--api-token on the command line is refused", "--database-url with a password on the command line is refused"]"#
            ]],
        );
        // A database URL without a password may be given on the command line.
        check(
            Sources {
                database_url: Some(CommandLine),
                ..none
            },
            false,
            expect!["[]"],
        );
        check(
            Sources {
                database_url: Some(DefaultValue),
                ..none
            },
            true,
            expect!["[]"],
        );
    }
}
