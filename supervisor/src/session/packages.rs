//! A session whose job has packages: they are installed in the session's own task, before its agent starts,
//! with events that say so (`packages.installing`, then `packages.installed` or `packages.failed`).
//!
//! The session stays `pending` here; `packages.installing` tells the control plane the runtime has taken the
//! claim (ARCHITECTURE.md "Changes to DESIGN"), so an install longer than the claim lease does not send the
//! session to another runtime. A cancel or the supervisor's shutdown stops the install (npm is killed).

use std::time::Duration;

use protocol::{Packages, SessionStatus};
use serde_json::json;

use super::entry::SessionEntry;
use super::outcome::Decision;
use super::pump::commit;
use crate::eventlog::now_ts;
use crate::packages::Installed;
use crate::state::AppState;

/// Installs `packages` for `entry`; a failure is the session's end, as a decision.
pub(super) async fn install(
    state: &AppState,
    entry: &SessionEntry,
    packages: &Packages,
) -> Result<Installed, Decision> {
    let cache = &state.npm;
    record(
        state,
        entry,
        "packages.installing",
        &json!({"manager": "npm", "packages": packages.npm, "registry": cache.registry().redacted()}),
    );
    let outcome = tokio::select! {
        biased;
        () = entry.cancel.cancelled() => return Err(stopped("cancelled by request")),
        () = state.shutdown.cancelled() => return Err(stopped("stopped because the supervisor shut down")),
        outcome = cache.ensure(&state.reaper, packages) => outcome,
    };
    match outcome {
        Ok(installed) => {
            let ms = millis(installed.elapsed);
            record(
                state,
                entry,
                "packages.installed",
                &json!({
                    "manager": "npm", "lockfileSha256": installed.lockfile_sha256, "cached": installed.cached,
                    "durationMs": ms, "nodeModules": installed.node_modules,
                }),
            );
            tracing::info!(session_id = %entry.id, lockfile_sha256 = %installed.lockfile_sha256, cached = installed.cached, duration_ms = ms, "npm packages ready");
            Ok(installed)
        }
        Err(err) => {
            let error = format!("install npm packages: {err}");
            record(
                state,
                entry,
                "packages.failed",
                &json!({"manager": "npm", "error": error}),
            );
            tracing::warn!(session_id = %entry.id, error = %error, "npm packages did not install");
            Err(Decision {
                status: SessionStatus::Failed,
                error: Some(error),
            })
        }
    }
}

fn stopped(why: &str) -> Decision {
    Decision {
        status: SessionStatus::Cancelled,
        error: Some(format!("{why} while its npm packages were installed")),
    }
}

fn record(state: &AppState, entry: &SessionEntry, kind: &str, data: &serde_json::Value) {
    let ts = now_ts();
    entry.with_log(|log| {
        log.supervisor(&ts, kind, data);
        commit(&state.metrics, log);
    });
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
