//! `agentctl logs ID`: a session's transcript, or its SDK messages as stored; `-f` follows to the end.

use std::time::{Duration, Instant};

use protocol::SessionDetail;

use crate::cli::args::{LogsArgs, LogsFormat};
use crate::cli::client::{self, Client, Followed};
use crate::cli::error::CliError;
use crate::cli::exit::Exit;
use crate::cli::lookup;
use crate::cli::render::transcript::Transcript;
use crate::cli::terminal::{Term, out};

/// How long `logs -f` and `run -f` wait for a session the control plane does not know yet. A runtime ships a
/// session's first batch moments after starting it, so `logs -f` right after `agentctl run` can ask before it
/// arrived; a session that never appears is still an error, only later.
const APPEAR_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) async fn logs(client: &Client, args: &LogsArgs, term: Term) -> Result<Exit, CliError> {
    let mut transcript = Transcript::new(term.style, args.timestamps);
    let mut after: Option<u64> = None;
    let id = if args.follow {
        until_known(client, &args.id, Lookup::Prefix).await?
    } else {
        lookup::session_id(client, &args.id).await?
    };
    if let Some(n) = args.tail {
        let session = client.session(&id).await?;
        after = session
            .session
            .last_seq
            .and_then(|last| (last + 1).checked_sub(n))
            .and_then(|first| first.checked_sub(1));
    }
    if !args.follow {
        loop {
            let page = client.events(&id, after, 1000).await?;
            for event in &page.events {
                print_event(event, args.output, &mut transcript)?;
            }
            if page.events.len() < 1000 {
                break;
            }
            after = page.next_after;
        }
        if args.exit_status {
            return Ok(Exit::of_session(client.session(&id).await?.session.status));
        }
        return Ok(Exit::Ok);
    }
    let detail = follow(client, &id, after, |event| {
        print_event(event, args.output, &mut transcript)
    })
    .await?;
    Ok(if args.exit_status {
        Exit::of_session(detail.session.status)
    } else {
        Exit::Ok
    })
}

/// How an id argument is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// The id the runtime answered (`run -f`): never a longer id it happens to start.
    Exact,
    /// What a person typed: a full id or a unique prefix.
    Prefix,
}

/// Waits until the control plane knows the session `arg` names, for at most [`APPEAR_TIMEOUT`], saying so on
/// stderr once it has to wait; its full id.
pub(super) async fn until_known(client: &Client, arg: &str, how: Lookup) -> Result<String, CliError> {
    let deadline = Instant::now() + APPEAR_TIMEOUT;
    let mut said = false;
    loop {
        let found = match how {
            Lookup::Exact => client.session(arg).await.map(|_| arg.to_owned()),
            Lookup::Prefix => lookup::session_id(client, arg).await,
        };
        match found {
            Ok(id) => return Ok(id),
            Err(CliError::NotFound(_)) if Instant::now() < deadline => {
                if !said {
                    eprintln!("agentctl: waiting for session {arg} to appear");
                    said = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Prints one event in the chosen format.
pub(super) fn print_event(
    event: &protocol::Event,
    format: LogsFormat,
    transcript: &mut Transcript,
) -> Result<(), CliError> {
    match format {
        LogsFormat::Jsonl => {
            // The SDK's own messages (JSON objects the agent printed) and the seed's log entries (`{key,value}`,
            // all a seed agent's session has), byte for byte as stored; not the text lines wrapped as
            // `{"text":…}`.
            if event.source == protocol::EventSource::Agent
                && event.data.get().trim_start().starts_with('{')
                && event.kind != "text"
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

/// Follows until the session ends, resuming after the last seq seen whenever the connection drops (so a
/// dropped stream never looks like the end, the `kubectl logs -f` trap).
pub(super) async fn follow(
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
