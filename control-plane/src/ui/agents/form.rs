//! The agent form (`form#agent-form`): its fields as typed, read from a definition (to edit it) or from a
//! posted form (to show it again after a mistake), and turned into the `protocol::Agent` that
//! `PUT /api/v1/agents/{id}` would take. Pure, table-tested in `form_tests`.
//!
//! Secret values are write-only: they are read from the posted form into `values`, which no template
//! names, so a form shown again never holds one.

use std::collections::BTreeMap;

use protocol::validate::RequestError;
use protocol::{Agent, FileEncoding, FileSpec, SecretField, SecretState, SkillSpec};

/// A stored secret as the form shows it: its name and when it was set, never its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRow {
    pub name: String,
    pub updated_at: Option<String>,
    pub remove: bool,
}

/// The form's fields, as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub description: String,
    pub model: String,
    pub system_prompt: String,
    pub max_turns: String,
    pub allowed_tools: String,
    pub disallowed_tools: String,
    pub permission_mode: String,
    pub max_budget_usd: String,
    pub timeout_seconds: String,
    pub runtime_selector: String,
    pub env: String,
    pub mcp_servers: String,
    /// One SKILL.md per skill.
    pub skills: Vec<String>,
    /// UTF-8 files: path and content.
    pub files: Vec<(String, String)>,
    pub secrets: Vec<SecretRow>,
    pub new_secret_name: String,
    /// Posted secret values by name (`""` for the new row): never shown.
    values: BTreeMap<String, String>,
}

fn lines(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

impl Fields {
    /// The fields of a definition (an answer of the API: secrets as `{"set": true, "updatedAt"}`).
    pub fn of(agent: &Agent) -> Self {
        let tools = |t: &Option<Vec<String>>| t.as_ref().map(|t| t.join(", ")).unwrap_or_default();
        Self {
            description: agent.description.clone().unwrap_or_default(),
            model: agent.model.clone().unwrap_or_default(),
            system_prompt: agent.system_prompt.clone().unwrap_or_default(),
            max_turns: agent.max_turns.map(|n| n.to_string()).unwrap_or_default(),
            allowed_tools: tools(&agent.allowed_tools),
            disallowed_tools: tools(&agent.disallowed_tools),
            permission_mode: agent.permission_mode.clone().unwrap_or_default(),
            max_budget_usd: agent.max_budget_usd.map(|n| n.to_string()).unwrap_or_default(),
            timeout_seconds: agent.timeout_seconds.map(|n| n.to_string()).unwrap_or_default(),
            runtime_selector: lines(&agent.runtime_selector),
            env: lines(&agent.env),
            mcp_servers: agent
                .mcp_servers
                .as_ref()
                .map(|m| serde_json::to_string_pretty(m).expect("JSON values serialise"))
                .unwrap_or_default(),
            skills: agent
                .skills
                .iter()
                .filter_map(|s| s.files.get("SKILL.md").cloned())
                .collect(),
            files: agent
                .files
                .iter()
                .filter(|f| f.encoding == FileEncoding::Utf8)
                .map(|f| (f.path.clone(), f.content.clone()))
                .collect(),
            secrets: agent
                .secrets
                .iter()
                .flatten()
                .map(|(name, field)| SecretRow {
                    name: name.clone(),
                    updated_at: match field {
                        SecretField::State(s) => s.updated_at.clone(),
                        SecretField::Value(_) => None,
                    },
                    remove: false,
                })
                .collect(),
            new_secret_name: String::new(),
            values: BTreeMap::new(),
        }
    }

    /// The fields of a posted form (repeated names in order; unknown names are ignored).
    pub fn posted(pairs: &[(String, String)]) -> Self {
        let mut fields = Self::default();
        let mut paths = Vec::new();
        let mut contents = Vec::new();
        let mut removed = Vec::new();
        for (name, value) in pairs {
            let v = value.clone();
            match name.as_str() {
                "description" => fields.description = v,
                "model" => fields.model = v,
                "systemPrompt" => fields.system_prompt = v,
                "maxTurns" => fields.max_turns = v,
                "allowedTools" => fields.allowed_tools = v,
                "disallowedTools" => fields.disallowed_tools = v,
                "permissionMode" => fields.permission_mode = v,
                "maxBudgetUsd" => fields.max_budget_usd = v,
                "timeoutSeconds" => fields.timeout_seconds = v,
                "runtimeSelector" => fields.runtime_selector = v,
                "env" => fields.env = v,
                "mcpServers" => fields.mcp_servers = v,
                "skill_md" => fields.skills.push(v),
                "file_path" => paths.push(v),
                "file_content" => contents.push(v),
                "secret" => fields.secrets.push(SecretRow {
                    name: v,
                    ..SecretRow::default()
                }),
                "new_secret_name" => fields.new_secret_name = v.trim().to_owned(),
                "new_secret_value" => {
                    fields.values.insert(String::new(), v);
                }
                other => {
                    if let Some(secret) = other.strip_prefix("secret_value.") {
                        fields.values.insert(secret.to_owned(), v);
                    } else if let Some(secret) = other.strip_prefix("secret_remove.") {
                        removed.push(secret.to_owned());
                    }
                }
            }
        }
        for row in &mut fields.secrets {
            row.remove = removed.contains(&row.name);
        }
        contents.resize(paths.len().max(contents.len()), String::new());
        paths.resize(contents.len(), String::new());
        fields.files = paths.into_iter().zip(contents).collect();
        fields
    }

    /// The definition these fields describe. `current` is the agent's definition before the edit: a
    /// skill's files besides SKILL.md, and base64 files, are not in the form and are kept from it.
    pub fn agent(&self, current: Option<&Agent>) -> Result<Agent, RequestError> {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let mut skills = Vec::new();
        for (i, md) in self.skills.iter().enumerate() {
            if md.trim().is_empty() {
                continue;
            }
            let name = front_matter_name(md).ok_or_else(|| {
                RequestError::new(
                    format!("skills[{}]", skills.len()),
                    format!(
                        "SKILL.md {} must open with a front matter (a `---` line, `name:` and `description:`, a \
                         `---` line)",
                        i + 1
                    ),
                )
            })?;
            let mut files = current
                .and_then(|c| c.skills.iter().find(|s| s.name == name))
                .map(|s| s.files.clone())
                .unwrap_or_default();
            files.insert("SKILL.md".to_owned(), md.replace("\r\n", "\n"));
            skills.push(SkillSpec { name, files });
        }
        let mut files = Vec::new();
        for (i, (path, content)) in self.files.iter().enumerate() {
            match (path.trim(), content.is_empty()) {
                ("", true) => continue,
                ("", false) => return Err(RequestError::new(format!("files[{i}].path"), "is empty")),
                (path, _) => files.push(FileSpec {
                    path: path.to_owned(),
                    content: content.replace("\r\n", "\n"),
                    encoding: FileEncoding::Utf8,
                }),
            }
        }
        files.extend(
            current
                .iter()
                .flat_map(|c| &c.files)
                .filter(|f| f.encoding == FileEncoding::Base64)
                .cloned(),
        );
        Ok(Agent {
            id: None,
            description: text(&self.description),
            model: text(&self.model),
            system_prompt: Some(self.system_prompt.replace("\r\n", "\n")).filter(|s| !s.trim().is_empty()),
            max_turns: number(&self.max_turns, "maxTurns")?,
            allowed_tools: tools(&self.allowed_tools),
            disallowed_tools: tools(&self.disallowed_tools),
            permission_mode: text(&self.permission_mode),
            max_budget_usd: number(&self.max_budget_usd, "maxBudgetUsd")?,
            mcp_servers: match self.mcp_servers.trim() {
                "" => None,
                json => Some(
                    serde_json::from_str(json)
                        .map_err(|e| RequestError::new("mcpServers", format!("is not a JSON object: {e}")))?,
                ),
            },
            skills,
            files,
            env: pairs(&self.env, "env")?,
            secrets: Some(self.secrets()?),
            // The form does not edit databases: the current ones (their URLs `{"set": true}`) are kept.
            databases: current.map(|c| c.databases.clone()).unwrap_or_default(),
            timeout_seconds: number(&self.timeout_seconds, "timeoutSeconds")?,
            runtime_selector: pairs(&self.runtime_selector, "runtimeSelector")?,
            // The form does not edit packages: the current version's are kept (and so is their lockfile).
            packages: current.and_then(|c| c.packages.clone()),
            version: None,
            created_at: None,
            updated_at: None,
        })
    }

    /// The new set of secrets: a stored one is kept (`{"set": true}`) unless removed or given a value.
    fn secrets(&self) -> Result<BTreeMap<String, SecretField>, RequestError> {
        let mut out = BTreeMap::new();
        for row in self.secrets.iter().filter(|r| !r.remove) {
            let field = match self.values.get(&row.name).filter(|v| !v.is_empty()) {
                Some(value) => SecretField::Value(value.clone()),
                None => SecretField::State(SecretState {
                    set: true,
                    updated_at: None,
                }),
            };
            out.insert(row.name.clone(), field);
        }
        let value = self.values.get("").map(String::as_str).unwrap_or_default();
        match (self.new_secret_name.as_str(), value.is_empty()) {
            ("", true) => {}
            ("", false) => return Err(RequestError::new("secrets", "the new secret's value has no name")),
            (name, true) => {
                return Err(RequestError::new(
                    format!("secrets.{name}"),
                    "give the new secret a value",
                ));
            }
            (name, false) => {
                out.insert(name.to_owned(), SecretField::Value(value.to_owned()));
            }
        }
        Ok(out)
    }
}

fn number<T: std::str::FromStr>(text: &str, field: &str) -> Result<Option<T>, RequestError> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| RequestError::new(field, format!("{t:?} is not a number"))),
    }
}

fn tools(text: &str) -> Option<Vec<String>> {
    let tools: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    (!tools.is_empty()).then_some(tools)
}

/// `KEY=VALUE` lines, as a `.env` file has them: blank lines and `#` comments skipped, `export ` and
/// matching quotes around the value dropped.
fn pairs(text: &str, field: &str) -> Result<BTreeMap<String, String>, RequestError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(RequestError::new(
                field,
                format!("line {} is not KEY=VALUE", n + 1),
            ));
        };
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| {
                value
                    .strip_prefix(*q)
                    .and_then(|v| v.strip_suffix(*q))
                    .filter(|_| value.len() >= 2)
            })
            .unwrap_or(value);
        out.insert(key.trim().to_owned(), value.to_owned());
    }
    Ok(out)
}

/// The `name:` of a SKILL.md's front matter; the PUT's checks then judge it and the description.
fn front_matter_name(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        if line.trim_end() == "---" {
            return None;
        }
        if let Some(value) = line.strip_prefix("name:") {
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            return Some(unquoted.to_owned());
        }
    }
    None
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
