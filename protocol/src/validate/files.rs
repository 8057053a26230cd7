//! A request's skills and files as the files to write, with their layout checked.

use std::collections::{HashMap, HashSet};

use base64::Engine;

use crate::{FileEncoding, FileSpec, SkillSpec};

use super::path::{MAX_FILES, check_relative_path};
use super::{RequestError, invalid};

/// A file to write into the session's working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// The request field it came from, for error messages (`files[2].path`).
    pub field: String,
    pub components: Vec<String>,
    pub content: Vec<u8>,
}

/// Checks the skills (written to `.claude/skills/<name>/`) and files of a request and answers every file
/// to write, in request order.
pub fn plan_files(skills: &[SkillSpec], files: &[FileSpec]) -> Result<Vec<PlannedFile>, RequestError> {
    let mut planned = Vec::new();
    let mut skill_names = HashSet::new();
    for (i, skill) in skills.iter().enumerate() {
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
            planned.push(PlannedFile {
                field,
                components: full,
                content: content.as_bytes().to_vec(),
            });
        }
    }
    for (i, file) in files.iter().enumerate() {
        let field = format!("files[{i}].path");
        let components = check_relative_path(&file.path).map_err(|m| invalid(&field, m))?;
        let content = match file.encoding {
            FileEncoding::Utf8 => file.content.as_bytes().to_vec(),
            FileEncoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(&file.content)
                .map_err(|e| invalid(format!("files[{i}].content"), format!("invalid base64: {e}")))?,
        };
        planned.push(PlannedFile {
            field,
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            content,
        });
    }
    check_layout(&planned)?;
    if planned.len() > MAX_FILES {
        return Err(invalid(
            "files",
            format!(
                "{} files in skills and files, more than {MAX_FILES}",
                planned.len()
            ),
        ));
    }
    Ok(planned)
}

/// Refuses two files at one path (one would silently win) and a file where another needs a directory:
/// session directories are created fresh, so the request is the only thing that can collide with itself.
fn check_layout(files: &[PlannedFile]) -> Result<(), RequestError> {
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
            if let Some(other) = written.get(dir) {
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
