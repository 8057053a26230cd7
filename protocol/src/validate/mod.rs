//! The checks of a request's context, shared by `POST /execute` (the supervisor) and agent definitions and
//! queued sessions (the control plane), so both refuse the same input with the same message.
//!
//! Pure functions only: nothing here touches the file system. Each check answers a [`RequestError`] that
//! names the field the caller got wrong (`env.LD_PRELOAD`, `skills[1].name`).
//!
//! - `env`: environment variable names and values.
//! - `path`: relative paths inside a session's workspace.
//! - `options`: the SDK options, the timeout, the prompt, a `storage` destination.
//! - `files`: the skills and files of a request, planned as the files to write (layout checked).
//! - `skill`: DESIGN §9's stricter rules for an agent definition's skills (name, SKILL.md front matter).
//! - `databases`: the database connections' names and URLs (issue 15).
//! - `npm`: npm package specs of `packages.npm` and the `package.json` written for them.

mod databases;
mod env;
mod files;
mod npm;
mod options;
mod path;
mod skill;

use std::fmt;

pub use databases::{
    MAX_DATABASE_NAME, MAX_DATABASE_URL, MAX_DATABASES, check_database_url, check_databases,
};
pub use env::{MAX_ENV_NAME_LEN, check_env, check_env_name, check_env_value};
pub use files::{PlannedFile, plan_files};
pub use npm::{
    MAX_LOCKFILE_BYTES, MAX_NPM_ERROR_CHARS, MAX_NPM_NAME_LEN, MAX_NPM_PACKAGES, NpmSpec, check_job_packages,
    check_packages, npm_error, npm_manifest, parse_npm_spec,
};
pub use options::{
    MAX_TIMEOUT_SECONDS, PERMISSION_MODES, check_options, check_prompt, check_storage, check_timeout,
};
pub use path::{MAX_COMPONENT_LEN, MAX_FILES, MAX_PATH_LEN, check_relative_path};
pub use skill::{MAX_SKILL_DESCRIPTION, check_agent_skills};

/// The caller's mistake, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl RequestError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestError {}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::new(field, message)
}

#[cfg(test)]
mod tests;
