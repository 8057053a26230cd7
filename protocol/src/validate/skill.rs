//! DESIGN §9's rules for the skills of an agent definition, on top of those of `POST /execute`: the
//! name is lowercase `[a-z0-9-]{1,64}` (the folder it is written to), and `SKILL.md` opens with a front
//! matter whose `name` is that name and whose `description` holds at most 1024 characters. The
//! Agent SDK loads only skills that have both, so a definition without them would run without its skill.

use crate::SkillSpec;

use super::{RequestError, invalid};

pub const MAX_SKILL_DESCRIPTION: usize = 1024;

/// Checks every skill of an agent definition (the checks of [`super::plan_files`] run as well).
pub fn check_agent_skills(skills: &[SkillSpec]) -> Result<(), RequestError> {
    for (i, skill) in skills.iter().enumerate() {
        check_agent_skill(i, skill)?;
    }
    Ok(())
}

fn check_agent_skill(i: usize, skill: &SkillSpec) -> Result<(), RequestError> {
    let name = &skill.name;
    let name_ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(invalid(
            format!("skills[{i}].name"),
            format!("{name:?} must match [a-z0-9-]{{1,64}}"),
        ));
    }
    let field = format!("skills[{i}].files[\"SKILL.md\"]");
    let Some(text) = skill.files.get("SKILL.md") else {
        return Err(invalid(format!("skills[{i}].files"), "must hold SKILL.md"));
    };
    let front = front_matter(text).ok_or_else(|| {
        invalid(
            &field,
            "must open with a front matter: a `---` line, `name:` and `description:`, a `---` line",
        )
    })?;
    match front.name.as_deref() {
        None => return Err(invalid(&field, "front matter has no `name`")),
        Some(n) if n != name => {
            return Err(invalid(
                &field,
                format!("front matter name {n:?} is not the skill's name {name:?}"),
            ));
        }
        Some(_) => {}
    }
    match front.description.as_deref() {
        None => return Err(invalid(&field, "front matter has no `description`")),
        Some(d) if d.trim().is_empty() => {
            return Err(invalid(&field, "front matter `description` is empty"));
        }
        Some(d) if d.chars().count() > MAX_SKILL_DESCRIPTION => {
            return Err(invalid(
                &field,
                format!(
                    "front matter `description` has {} characters, more than {MAX_SKILL_DESCRIPTION}",
                    d.chars().count()
                ),
            ));
        }
        Some(_) => {}
    }
    Ok(())
}

#[derive(Debug, Default)]
struct FrontMatter {
    name: Option<String>,
    description: Option<String>,
}

/// The `name` and `description` of a SKILL.md's front matter (top-level `key: value` lines between two
/// `---` lines); `None` when there is no front matter.
///
/// Only the plain and quoted one-line scalars the skills format uses are read; a folded or literal block
/// (`description: >`) is taken with its indented lines joined by spaces.
fn front_matter(text: &str) -> Option<FrontMatter> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let mut front = FrontMatter::default();
    let mut block: Option<(String, Vec<String>)> = None;
    for line in lines {
        if line.trim_end() == "---" {
            finish_block(&mut front, block.take());
            return Some(front);
        }
        if let Some((_, parts)) = &mut block
            && (line.starts_with(' ') || line.starts_with('\t') || line.trim().is_empty())
        {
            parts.push(line.trim().to_owned());
            continue;
        }
        finish_block(&mut front, block.take());
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if matches!(value, ">" | "|" | ">-" | "|-") {
            block = Some((key.to_owned(), Vec::new()));
            continue;
        }
        set(&mut front, key, unquote(value));
    }
    None
}

fn finish_block(front: &mut FrontMatter, block: Option<(String, Vec<String>)>) {
    if let Some((key, parts)) = block {
        let joined: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        set(front, &key, joined.join(" "));
    }
}

fn set(front: &mut FrontMatter, key: &str, value: String) {
    match key {
        "name" => front.name = Some(value),
        "description" => front.description = Some(value),
        _ => {}
    }
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_owned();
        }
    }
    value.to_owned()
}
