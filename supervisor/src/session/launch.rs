//! Launching a session: admission, its directories and files, its environment, the spawn, and the
//! hand-over to the task that supervises it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use protocol::{RunnerJob, Session, SessionStarted, SessionStatus};

use super::entry::SessionEntry;
use super::env;
use super::log::SessionLog;
use super::outcome::{Decision, Ending};
use super::pump::commit;
use super::request::Prepared;
use super::supervise::{finish, retire_uid, supervise};
use super::table::Admission;
use super::workspace::{SessionDirs, WriteFilesError};
use crate::eventlog::{LogWriter, now_ts};
use crate::packages::Installed;
use crate::process::{RunAs, SpawnSpec};
use crate::redact::Redactor;
use crate::secret::SecretName;
use crate::ship::destination::Destination;
use crate::state::AppState;

/// What `launch` did.
#[derive(Debug)]
pub(crate) enum Launch {
    Started(Arc<SessionEntry>),
    /// The same request was made before: nothing was started.
    Existing(Arc<SessionEntry>),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LaunchError {
    #[error("the supervisor is shutting down")]
    ShuttingDown,
    #[error("session {0} already exists with a different request")]
    Conflict(String),
    #[error(
        "session {0} ran here before and was removed after delivery (--retain); a session id is never reused"
    )]
    Removed(String),
    #[error("{0} sessions are running, the limit of --max-sessions")]
    Busy(usize),
    #[error(transparent)]
    Files(WriteFilesError),
    #[error("spawn runner {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("create event log for session {session}")]
    Log {
        session: String,
        #[source]
        source: std::io::Error,
    },
}

/// Admits, prepares and starts a session.
pub(crate) async fn launch(state: &Arc<AppState>, prepared: Prepared) -> Result<Launch, LaunchError> {
    let entry = match admit(state, &prepared)? {
        Launch::Existing(entry) => return Ok(Launch::Existing(entry)),
        Launch::Started(entry) => entry,
    };
    let dirs = SessionDirs::new(&state.config.workspace, entry.id.as_str());
    let run_as = identity(state.run_as, entry.uid);
    let files = prepared.files.clone();
    let written = {
        let dirs = dirs.clone();
        let session_id = entry.id.to_string();
        tokio::task::spawn_blocking(move || {
            dirs.create(&session_id)?;
            let written = files
                .iter()
                .try_for_each(|file| {
                    let components: Vec<&str> = file.components.iter().map(String::as_str).collect();
                    dirs.write_file(&file.field, &components, &file.content, run_as)
                })
                .and_then(|()| dirs.hand_over(run_as));
            if written.is_err() {
                // Nothing of a failed request stays behind for a later one to find.
                dirs.remove();
            }
            written
        })
        .await
        .expect("writing files does not panic")
    };
    if let Err(err) = written {
        // Nothing ran: forget the session entirely so the caller can correct the request and retry.
        state.sessions.forget(&entry.id);
        entry.take_log();
        let _ = std::fs::remove_file(&entry.log_path);
        return Err(LaunchError::Files(err));
    }

    if let Some(dest) = destination(state, &prepared) {
        state.shippers.for_destination(dest).track(entry.clone(), None);
    }
    let packages = prepared.request.packages.clone().filter(|p| !p.is_empty());
    let Some(packages) = packages else {
        return start(state, entry, &prepared, &dirs, run_as, None).await;
    };
    // The install may take a while: it runs in the session's own task, and the caller has its answer now.
    let (task_state, task_entry) = (state.clone(), entry.clone());
    state.tasks.spawn(async move {
        let started_at = Instant::now();
        match super::packages::install(&task_state, &task_entry, &packages).await {
            Ok(installed) => {
                // A spawn that fails finishes the session itself.
                let _ = start(&task_state, task_entry, &prepared, &dirs, run_as, Some(installed)).await;
            }
            Err(decision) => {
                if let Some(uid) = task_entry.uid {
                    retire_uid(&task_state, &task_entry, uid).await;
                }
                finish(
                    &task_state,
                    &task_entry,
                    decision,
                    Ending::Exited(None),
                    started_at,
                );
            }
        }
    });
    Ok(Launch::Started(entry))
}

/// Spawns the session's agent (with its packages' tree, if any) and hands it to its supervising task.
async fn start(
    state: &Arc<AppState>,
    entry: Arc<SessionEntry>,
    prepared: &Prepared,
    dirs: &SessionDirs,
    run_as: Option<RunAs>,
    installed: Option<Installed>,
) -> Result<Launch, LaunchError> {
    let job = RunnerJob {
        session_id: entry.id.clone(),
        agent_id: entry.agent_id.clone(),
        prompt: prepared.request.prompt.clone(),
        cwd: dirs.cwd.to_string_lossy().into_owned(),
        options: prepared.request.options.clone(),
        conversation: prepared.request.conversation.clone(),
        databases: prepared.request.databases.clone(),
    };
    let mut agent_env = env::build(
        &dirs.home,
        &state.config.agent_env,
        &prepared.request.env,
        state.anthropic_proxy.as_deref(),
    );
    if let Some(installed) = &installed {
        crate::packages::agent_env(&mut agent_env, &installed.node_modules);
    }
    let spec = SpawnSpec {
        program: state.runner.program.clone(),
        args: state.runner.args.clone(),
        env: agent_env,
        cwd: dirs.cwd.clone(),
        run_as,
    };
    let reaper = state.reaper.clone();
    let spawned = tokio::task::spawn_blocking(move || spec.spawn(&reaper))
        .await
        .expect("spawn does not panic");
    let started_at = Instant::now();
    let spawned = match spawned {
        Ok(spawned) => spawned,
        Err(source) => {
            state.metrics.spawn_failures.fetch_add(1, Ordering::Relaxed);
            let error = LaunchError::Spawn {
                program: state.runner.program.display().to_string(),
                source,
            };
            tracing::error!(session_id = %entry.id, error = %error, "agent did not start");
            let decision = Decision {
                status: SessionStatus::Failed,
                error: Some(error.to_string()),
            };
            if let Some(uid) = entry.uid {
                retire_uid(state, &entry, uid).await;
            }
            finish(state, &entry, decision, Ending::Exited(None), started_at);
            return Err(error);
        }
    };
    state.metrics.sessions_started.fetch_add(1, Ordering::Relaxed);
    state.sessions.started(spawned.pid);
    let ts = now_ts();
    entry.update(|s| {
        s.status = SessionStatus::Running;
        s.pid = Some(spawned.pid);
        s.started_at = Some(ts.clone());
    });
    let started = SessionStarted {
        agent_id: entry.agent_id.to_string(),
        pid: spawned.pid,
        runtime_id: state.runtime_id.clone(),
        runner: state.runner.display.clone(),
    };
    entry.with_log(|log| {
        log.supervisor(&ts, "session.started", &started);
        commit(&state.metrics, log);
    });
    tracing::info!(session_id = %entry.id, agent_id = %entry.agent_id, pid = spawned.pid, "session started");

    let job = serde_json::to_vec(&job).expect("a job always serialises");
    let task_state = state.clone();
    let task_entry = entry.clone();
    let timeout = prepared.timeout;
    state.tasks.spawn(async move {
        supervise(task_state, task_entry, spawned, job, timeout, started_at).await;
    });
    Ok(Launch::Started(entry))
}

/// Who the session's processes run as: its own uid with the `--run-as` user's group, else the `--run-as`
/// user (`--uid-range off`), else the supervisor's own user (not root).
fn identity(run_as: Option<RunAs>, uid: Option<u32>) -> Option<RunAs> {
    run_as.map(|user| match uid {
        Some(uid) => RunAs {
            uid: nix::unistd::Uid::from_raw(uid),
            gid: user.gid,
        },
        None => user,
    })
}

/// Where a session's events go: the request's `storage`, else the configured control plane.
fn destination(state: &AppState, prepared: &Prepared) -> Option<Destination> {
    match &prepared.request.storage {
        Some(storage) => Some(Destination::storage(&storage.api_url, storage.api_key.as_deref())),
        None => state.control_plane.clone(),
    }
}

/// Checks admission and registers a pending session with its log.
fn admit(state: &Arc<AppState>, prepared: &Prepared) -> Result<Launch, LaunchError> {
    if state.shutdown.is_cancelled() {
        return Err(LaunchError::ShuttingDown);
    }
    let id = &prepared.session_id;
    let admission = state
        .sessions
        .admit(id, prepared.request_hash, state.config.max_sessions, |uid| {
            new_entry(state, prepared, uid)
        });
    match admission {
        Admission::Admitted(entry) => Ok(Launch::Started(entry)),
        Admission::Existing(entry) => Ok(Launch::Existing(entry)),
        Admission::Conflict => Err(LaunchError::Conflict(id.to_string())),
        Admission::Removed => Err(LaunchError::Removed(id.to_string())),
        Admission::Busy(running) => Err(LaunchError::Busy(running)),
        Admission::Failed(err) => Err(err),
    }
}

/// A pending session holding `uid`: its log created (`O_EXCL`) and its redactor built.
pub(super) fn new_entry(
    state: &AppState,
    prepared: &Prepared,
    uid: Option<u32>,
) -> Result<Arc<SessionEntry>, LaunchError> {
    let log_path = state.sessions_dir().join(format!("{}.log", prepared.session_id));
    let writer = LogWriter::create(&log_path, prepared.session_id.clone()).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            // A session of a previous incarnation: its seqs must never be reused.
            LaunchError::Conflict(prepared.session_id.to_string())
        } else {
            LaunchError::Log {
                session: prepared.session_id.to_string(),
                source,
            }
        }
    })?;
    let progress = writer.subscribe();
    // A database's URL and its password (issue 15), under the database's name.
    let databases: Vec<(String, String)> = prepared
        .request
        .databases
        .iter()
        .flat_map(|d| {
            d.redactions()
                .into_iter()
                .map(|v| (format!("databases.{}", d.name), v))
        })
        .collect();
    // `--agent-env` values are secrets as much as the request's: the quickstart passes an API key that way.
    let secrets = state
        .config
        .agent_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(prepared.request.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .chain(state.secrets.iter().map(|s| (s.name().as_str(), s.expose())))
        .chain(
            prepared
                .request
                .storage
                .iter()
                .filter_map(|s| s.api_key.as_deref())
                .map(|k| (SecretName::StorageApiKey.as_str(), k)),
        )
        .chain(databases.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let redactor = Arc::new(Redactor::new(secrets));
    let log = SessionLog::new(writer, redactor, state.config.max_output);
    let session = Session::pending(
        prepared.session_id.clone(),
        prepared.request.agent_id.clone(),
        now_ts(),
    );
    let mut entry = SessionEntry::new(session, prepared.request_hash, log, log_path, progress);
    entry.uid = uid;
    Ok(Arc::new(entry))
}
