//! Validation of `POST /execute`: everything the caller got wrong is found before anything is started.
//!
//! The checks themselves are `protocol::validate`'s, shared with the control plane's agent definitions, so
//! both refuse the same input with the same message; this file resolves the defaults (session id, timeout).

use std::hash::{Hash, Hasher};
use std::time::Duration;

use protocol::validate::{self, PlannedFile};
use protocol::{ExecuteRequest, SessionId};

/// The caller's mistake, naming the field.
pub(crate) type RequestError = validate::RequestError;

/// A file to write into the session's working directory.
pub(crate) type PreparedFile = PlannedFile;

/// A validated request, ready to start.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) session_id: SessionId,
    pub(crate) request: ExecuteRequest,
    pub(crate) files: Vec<PreparedFile>,
    pub(crate) timeout: Duration,
    pub(crate) request_hash: u64,
}

/// Validates `request` and resolves its defaults.
pub(crate) fn prepare(request: ExecuteRequest, default_timeout: Duration) -> Result<Prepared, RequestError> {
    validate::check_prompt(&request.prompt)?;
    validate::check_env("env", &request.env)?;
    if let Some(storage) = &request.storage {
        validate::check_storage(&storage.api_url, storage.api_key.as_deref())?;
    }
    validate::check_options(&request.options, "options.")?;
    let databases: Vec<(&str, Option<&str>)> = (request.databases.iter())
        .map(|d| (d.name.as_str(), Some(d.url.as_str())))
        .collect();
    validate::check_databases(&databases, request.options.mcp_servers.as_ref())?;
    let timeout =
        validate::check_timeout(request.timeout_seconds)?.map_or(default_timeout, Duration::from_secs);
    let files = validate::plan_files(&request.skills, &request.files)?;
    if let Some(packages) = &request.packages {
        validate::check_job_packages(packages)?;
    }
    let request_hash = request_hash(&request);
    let session_id = match &request.session_id {
        Some(id) => id.clone(),
        None => SessionId::parse(crate::random::uuid_v4().to_string()).expect("a UUID is a valid session id"),
    };
    Ok(Prepared {
        session_id,
        request,
        files,
        timeout,
        request_hash,
    })
}

/// Identifies a request: a retry with the same body is answered, not run again.
pub(crate) fn request_hash(request: &ExecuteRequest) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(request)
        .expect("a request always serialises")
        .hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_refused(body: serde_json::Value, expected: &str) {
        let request: ExecuteRequest = serde_json::from_value(body).unwrap();
        let err = prepare(request, Duration::from_secs(60)).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn refuses_what_the_caller_got_wrong_naming_the_field() {
        use serde_json::json;
        check_refused(json!({"agentId":"a","prompt":"  "}), "prompt: must not be empty");
        check_refused(
            json!({"agentId":"a","prompt":"p","env":{"LD_PRELOAD":"x"}}),
            "env.LD_PRELOAD: LD_PRELOAD may not be set: it would let the caller take over the agent process",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","files":[{"path":"../x","content":""}]}),
            "files[0].path: \"../x\" contains `..`: paths must stay inside the workspace",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","skills":[{"name":"s","files":{"/abs":"x"}}]}),
            "skills[0].files[\"/abs\"]: \"/abs\" is absolute: paths are relative to the session workspace",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","files":[{"path":"x","content":"!!","encoding":"base64"}]}),
            "files[0].content: invalid base64: Invalid symbol 33, offset 0.",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","timeoutSeconds":0}),
            "timeoutSeconds: must be at least 1",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","skills":[{"name":"s","files":{"SKILL.md":"x"}},{"name":"s","files":{"SKILL.md":"y"}}]}),
            "skills[1].name: skill \"s\" is given twice",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","files":[{"path":"a.txt","content":""},{"path":"a.txt","content":"x"}]}),
            "files[1].path: \"a.txt\" is given twice",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","skills":[{"name":"s","files":{"SKILL.md":"x"}}],
                   "files":[{"path":".claude/skills/s/SKILL.md","content":"x"}]}),
            "files[0].path: \".claude/skills/s/SKILL.md\" is given twice",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","files":[{"path":"a","content":""},{"path":"a/b","content":"x"}]}),
            "files[1].path: \"a/b\" needs a directory where files[0].path writes the file \"a\"",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","files":[{"path":"a/b","content":""},{"path":"a","content":"x"}]}),
            "files[1].path: \"a\" is a directory of files[0].path",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","storage":{"type":"postgresql","apiUrl":"http://cp","apiKey":"k\r\nX-Evil: 1"}}),
            "storage.apiKey: must not contain control characters (CR, LF, …)",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","storage":{"type":"postgresql","apiUrl":"https://user:pw@cp/x"}}),
            "storage.apiUrl: must not hold credentials (user:password@): give the key as storage.apiKey",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","databases":[{"name":"crm","url":"http://u:pw-SECRET@h/db"}]}),
            "databases[0].url: must be a postgres:// or postgresql:// URL (the scheme is \"http\")",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","databases":[{"name":"crm","url":"postgres://h/db"}],
                   "options":{"mcpServers":{"crm":{"command":"x"}}}}),
            "databases[0].name: \"crm\" is an mcpServers key too: a database is served as the MCP server of its name",
        );
        check_refused(
            json!({"agentId":"a","prompt":"p","options":{"permissionMode":"yolo"}}),
            "options.permissionMode: unknown mode \"yolo\": expected one of default, acceptEdits, bypassPermissions, plan, dontAsk, auto",
        );
    }

    #[test]
    fn skills_land_under_claude_skills() {
        let request: ExecuteRequest = serde_json::from_value(serde_json::json!({
            "agentId":"a","prompt":"p","skills":[{"name":"pdf","files":{"SKILL.md":"x","scripts/a.py":"y"}}]
        }))
        .unwrap();
        let prepared = prepare(request, Duration::from_secs(60)).unwrap();
        let paths: Vec<String> = prepared.files.iter().map(|f| f.components.join("/")).collect();
        assert_eq!(
            paths,
            [".claude/skills/pdf/SKILL.md", ".claude/skills/pdf/scripts/a.py"]
        );
    }
}
