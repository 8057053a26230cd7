//! Validation of `POST /execute`: everything the caller got wrong is found before anything is started.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use base64::Engine;
use protocol::{ExecuteRequest, FileEncoding, SessionId};

use super::env;
use super::workspace::{MAX_FILES, check_relative_path};

/// Permission modes the SDK knows; anything else would only fail later, inside the agent.
const PERMISSION_MODES: &[&str] = &[
    "default",
    "acceptEdits",
    "bypassPermissions",
    "plan",
    "dontAsk",
    "auto",
];
const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

/// The caller's mistake, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct RequestError {
    pub(crate) field: String,
    pub(crate) message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

/// A file to write into the session's working directory.
#[derive(Debug, Clone)]
pub(crate) struct PreparedFile {
    /// The request field it came from, for error messages (`files[2].path`).
    pub(crate) field: String,
    pub(crate) components: Vec<String>,
    pub(crate) content: Vec<u8>,
}

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
    if request.prompt.trim().is_empty() {
        return Err(invalid("prompt", "must not be empty"));
    }
    for (name, value) in &request.env {
        env::check_name(name).map_err(|m| invalid(format!("env.{name}"), m))?;
        env::check_value(name, value).map_err(|m| invalid(format!("env.{name}"), m))?;
    }
    if let Some(storage) = &request.storage {
        check_storage(&storage.api_url, storage.api_key.as_deref())?;
    }
    check_options(&request)?;
    let timeout = match request.timeout_seconds {
        None => default_timeout,
        Some(0) => return Err(invalid("timeoutSeconds", "must be at least 1")),
        Some(s) if s > MAX_TIMEOUT_SECONDS => {
            return Err(invalid(
                "timeoutSeconds",
                format!("must be at most {MAX_TIMEOUT_SECONDS}"),
            ));
        }
        Some(s) => Duration::from_secs(s),
    };
    let files = collect_files(&request)?;
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

/// The storage URL is logged and the key goes into a header: a URL that carries credentials, or a key that
/// would break the header (and be retried forever), is refused here.
fn check_storage(api_url: &str, api_key: Option<&str>) -> Result<(), RequestError> {
    let Some(rest) = api_url
        .strip_prefix("http://")
        .or_else(|| api_url.strip_prefix("https://"))
    else {
        return Err(invalid("storage.apiUrl", "is not an http(s) URL".to_owned()));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid(
            "storage.apiUrl",
            "must not hold credentials (user:password@): give the key as storage.apiKey",
        ));
    }
    if api_url.chars().any(char::is_control) {
        return Err(invalid("storage.apiUrl", "must not contain control characters"));
    }
    if api_key.is_some_and(|key| key.chars().any(char::is_control)) {
        return Err(invalid(
            "storage.apiKey",
            "must not contain control characters (CR, LF, …)",
        ));
    }
    Ok(())
}

fn check_options(request: &ExecuteRequest) -> Result<(), RequestError> {
    let options = &request.options;
    if options.max_turns == Some(0) {
        return Err(invalid("options.maxTurns", "must be at least 1"));
    }
    if let Some(budget) = options.max_budget_usd
        && !(budget.is_finite() && budget > 0.0)
    {
        return Err(invalid("options.maxBudgetUsd", "must be a positive number"));
    }
    if let Some(mode) = &options.permission_mode
        && !PERMISSION_MODES.contains(&mode.as_str())
    {
        return Err(invalid(
            "options.permissionMode",
            format!(
                "unknown mode {mode:?}: expected one of {}",
                PERMISSION_MODES.join(", ")
            ),
        ));
    }
    if options.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
        return Err(invalid("options.model", "must not be empty"));
    }
    for (name, server) in options.mcp_servers.iter().flatten() {
        if !server.is_object() {
            return Err(invalid(format!("options.mcpServers.{name}"), "must be an object"));
        }
    }
    Ok(())
}

fn collect_files(request: &ExecuteRequest) -> Result<Vec<PreparedFile>, RequestError> {
    let mut files = Vec::new();
    let mut skill_names = std::collections::HashSet::new();
    for (i, skill) in request.skills.iter().enumerate() {
        let field = format!("skills[{i}].name");
        if !skill_names.insert(skill.name.as_str()) {
            return Err(invalid(field, format!("skill {:?} is given twice", skill.name)));
        }
        let name_ok = (1..=64).contains(&skill.name.len())
            && !skill.name.starts_with('.')
            && skill
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(invalid(
                field,
                format!("{:?} must match [A-Za-z0-9_-][A-Za-z0-9._-]{{0,63}}", skill.name),
            ));
        }
        if skill.files.is_empty() {
            return Err(invalid(
                format!("skills[{i}].files"),
                "must hold at least SKILL.md",
            ));
        }
        for (path, content) in &skill.files {
            let field = format!("skills[{i}].files[{path:?}]");
            let components = check_relative_path(path).map_err(|m| invalid(&field, m))?;
            let mut full = vec![".claude".to_owned(), "skills".to_owned(), skill.name.clone()];
            full.extend(components.iter().map(|c| (*c).to_owned()));
            files.push(PreparedFile {
                field,
                components: full,
                content: content.as_bytes().to_vec(),
            });
        }
    }
    for (i, file) in request.files.iter().enumerate() {
        let field = format!("files[{i}].path");
        let components = check_relative_path(&file.path).map_err(|m| invalid(&field, m))?;
        let content = match file.encoding {
            FileEncoding::Utf8 => file.content.as_bytes().to_vec(),
            FileEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(&file.content)
                .map_err(|e| invalid(format!("files[{i}].content"), format!("invalid base64: {e}")))?,
        };
        files.push(PreparedFile {
            field,
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            content,
        });
    }
    check_layout(&files)?;
    if files.len() > MAX_FILES {
        return Err(invalid(
            "files",
            format!("{} files in skills and files, more than {MAX_FILES}", files.len()),
        ));
    }
    Ok(files)
}

/// Refuses two files at one path (one would silently win) and a file where another needs a directory:
/// session directories are created fresh, so the request is the only thing that can collide with itself.
fn check_layout(files: &[PreparedFile]) -> Result<(), RequestError> {
    use std::collections::HashMap;
    // Every path a file is written at, and every directory on the way, with the field that made it.
    let mut written: HashMap<&[String], &str> = HashMap::new();
    let mut dirs: HashMap<&[String], &str> = HashMap::new();
    for file in files {
        let path = file.components.as_slice();
        let shown = path.join("/");
        if written.contains_key(path) {
            return Err(invalid(&file.field, format!("{shown:?} is given twice")));
        }
        if let Some(other) = dirs.get(path) {
            return Err(invalid(
                &file.field,
                format!("{shown:?} is a directory of {other}"),
            ));
        }
        for end in 1..path.len() {
            let dir = &path[..end];
            if written.contains_key(dir) {
                let other = written[dir];
                return Err(invalid(
                    &file.field,
                    format!(
                        "{shown:?} needs a directory where {other} writes the file {:?}",
                        dir.join("/")
                    ),
                ));
            }
            dirs.entry(dir).or_insert(&file.field);
        }
        written.insert(path, &file.field);
    }
    Ok(())
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
