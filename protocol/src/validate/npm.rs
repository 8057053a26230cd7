//! npm package specs (`packages.npm[i]`) and the `package.json` both sides write for them.
//!
//! Only registry specs are accepted: a name as npm's own rules allow for a new package, and optionally
//! `@` and a version, a semver range or a dist-tag. Git, file, tarball-URL and alias (`npm:`) specs are
//! refused: they would fetch from elsewhere than the configured registry. Specs never reach a shell (they are
//! written into `package.json`), yet anything a shell would read as syntax beyond a range's own operators
//! (`<`, `>`, `=`, `|`, space) is refused too.

use std::collections::BTreeMap;

use super::{RequestError, invalid};
use crate::Packages;

/// Most npm specs one agent may list.
pub const MAX_NPM_PACKAGES: usize = 100;
/// npm's own limit on a package name.
pub const MAX_NPM_NAME_LEN: usize = 214;
/// Longest version, range or tag accepted.
const MAX_NPM_VERSION_LEN: usize = 256;
/// Largest lockfile accepted in a job: a job must fit in one `POST /execute` body.
pub const MAX_LOCKFILE_BYTES: usize = 2 * 1024 * 1024;

/// One registry spec, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmSpec<'a> {
    pub name: &'a str,
    /// What `package.json` says for it: the version, range or tag; `*` when none was given (npm's latest).
    pub range: &'a str,
}

/// Parses a registry spec, saying what is wrong with it.
pub fn parse_npm_spec(spec: &str) -> Result<NpmSpec<'_>, String> {
    if spec.contains("://") {
        return Err("is a URL or git spec: only packages of the registry can be installed".to_owned());
    }
    // A scoped name starts with `@`: the version's `@` is the next one.
    let at = if let Some(rest) = spec.strip_prefix('@') {
        rest.find('@').map(|i| i + 1)
    } else {
        spec.find('@')
    };
    let (name, range) = match at {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    check_name(name)?;
    let range = match range {
        None => "*",
        Some(range) => {
            check_range(range)?;
            range
        }
    };
    Ok(NpmSpec { name, range })
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("has no package name".to_owned());
    }
    if name.len() > MAX_NPM_NAME_LEN {
        return Err(format!("names are at most {MAX_NPM_NAME_LEN} characters"));
    }
    let (scope, bare) = match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, bare)) => (Some(scope), bare),
            None => return Err(format!("{name:?}: a scoped name is `@scope/name`")),
        },
        None => (None, name),
    };
    for part in scope.into_iter().chain([bare]) {
        let ok = !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'));
        if !ok {
            return Err(format!(
                "{name:?} is not an npm package name: lowercase letters, digits, `-`, `.` and `_`, not \
                 starting with `.` or `_`, optionally `@scope/` first (git, file and URL specs are refused)"
            ));
        }
    }
    if matches!(bare, "node_modules" | "favicon.ico") && scope.is_none() {
        return Err(format!("{name:?} is a name npm reserves"));
    }
    Ok(())
}

fn check_range(range: &str) -> Result<(), String> {
    if range.is_empty() {
        return Err("has `@` but no version, range or tag after it".to_owned());
    }
    if range.len() > MAX_NPM_VERSION_LEN {
        return Err(format!("versions are at most {MAX_NPM_VERSION_LEN} characters"));
    }
    if range.contains(':') || range.contains('/') {
        return Err(format!(
            "{range:?} is not a version, range or tag: git, file, alias and URL specs are refused"
        ));
    }
    let ok = range.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'.' | b'-' | b'+' | b'_' | b'^' | b'~' | b'*' | b'<' | b'>' | b'=' | b'|' | b' '
            )
    });
    if !ok {
        return Err(format!(
            "{range:?} is not a version, range or tag: letters, digits and `. - + _ ^ ~ * < > = |` and spaces only"
        ));
    }
    Ok(())
}

/// Checks `packages` of an agent definition (`lockfile` is not the caller's: see [`Packages`]).
pub fn check_packages(packages: &Packages) -> Result<(), RequestError> {
    if packages.npm.len() > MAX_NPM_PACKAGES {
        return Err(invalid(
            "packages.npm",
            format!("at most {MAX_NPM_PACKAGES} packages"),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, spec) in packages.npm.iter().enumerate() {
        let at = format!("packages.npm[{i}]");
        let parsed = parse_npm_spec(spec).map_err(|m| invalid(&at, format!("{spec:?}: {m}")))?;
        if let Some(first) = seen.insert(parsed.name, i) {
            return Err(invalid(
                at,
                format!("{} is listed twice (packages.npm[{first}] too)", parsed.name),
            ));
        }
    }
    Ok(())
}

/// Checks `packages` of a job: the specs as for a definition, and a lockfile whenever there are specs.
pub fn check_job_packages(packages: &Packages) -> Result<(), RequestError> {
    check_packages(packages)?;
    match &packages.lockfile {
        None if !packages.npm.is_empty() => Err(invalid(
            "packages.lockfile",
            "is required with packages.npm: a runtime installs a pinned tree (`npm ci`), it resolves none \
             (make one with `npm install --package-lock-only`)",
        )),
        Some(lockfile) if lockfile.len() > MAX_LOCKFILE_BYTES => Err(invalid(
            "packages.lockfile",
            format!("is larger than {MAX_LOCKFILE_BYTES} bytes"),
        )),
        Some(lockfile) if serde_json::from_str::<serde_json::Value>(lockfile).is_err() => Err(invalid(
            "packages.lockfile",
            "is not JSON: it is the text of a package-lock.json",
        )),
        Some(_) if packages.npm.is_empty() => {
            Err(invalid("packages.lockfile", "is given without packages.npm"))
        }
        _ => Ok(()),
    }
}

/// The `package.json` of a set of checked specs: the control plane resolves it into a lockfile and a
/// runtime installs that lockfile beside it, so both must write the same one (`npm ci` refuses a
/// `package.json` out of sync with its lockfile).
pub fn npm_manifest(specs: &[String]) -> Result<String, RequestError> {
    let mut dependencies = serde_json::Map::new();
    for (i, spec) in specs.iter().enumerate() {
        let parsed = parse_npm_spec(spec)
            .map_err(|m| invalid(format!("packages.npm[{i}]"), format!("{spec:?}: {m}")))?;
        dependencies.insert(parsed.name.to_owned(), parsed.range.into());
    }
    let manifest = serde_json::json!({
        "name": "agent-packages",
        "version": "0.0.0",
        "private": true,
        "dependencies": dependencies,
    });
    Ok(serde_json::to_string_pretty(&manifest).expect("a manifest serialises") + "\n")
}

/// Most characters of npm's own error kept for an answer or a session's `error`.
pub const MAX_NPM_ERROR_CHARS: usize = 2000;

/// npm's own error out of its stderr, trimmed: its `npm error` lines, without the pointer to its debug log
/// (a path of ours) or stack frames, `registry` shown as `shown`, and the userinfo of any other URL hidden.
pub fn npm_error(stderr: &str, registry: &str, shown: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("npm error").or_else(|| l.strip_prefix("npm ERR!")))
        .map(str::trim)
        // Nor the stack frames of a JavaScript error (`at ClientRequest.<anonymous> (/usr/lib/…)`).
        .filter(|l| !l.is_empty() && !l.starts_with("A complete log of this run") && !l.starts_with("at "))
        .collect();
    let text = if lines.is_empty() {
        stderr.trim().to_owned()
    } else {
        lines.join("\n")
    };
    let text = hide_userinfo(&text.replace(registry, shown));
    match text.char_indices().nth(MAX_NPM_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// `scheme://user:secret@host` anywhere in `text` becomes `scheme://host`.
fn hide_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}
