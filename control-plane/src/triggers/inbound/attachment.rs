//! Attachments: bounded, and given a safe, unique path under `attachments/` in the session's workspace.

use std::collections::HashSet;

use bytes::Bytes;

use super::{Attachment, Invalid, Limits};

/// An attachment as a provider sent it, before its path is chosen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incoming {
    pub(crate) filename: String,
    pub(crate) content_type: String,
    pub(crate) data: Bytes,
}

/// The longest name kept, in bytes: well under every file system's 255.
const MAX_NAME_BYTES: usize = 100;

/// Checks the bounds and chooses each attachment's path.
pub(crate) fn collect(incoming: Vec<Incoming>, limits: &Limits) -> Result<Vec<Attachment>, Invalid> {
    if incoming.len() > limits.max_attachments {
        return Err(Invalid(format!(
            "too many attachments: {}, over the limit of {}",
            incoming.len(),
            limits.max_attachments
        )));
    }
    let mut total = 0usize;
    for (index, attachment) in incoming.iter().enumerate() {
        let size = attachment.data.len();
        if size > limits.max_attachment_bytes {
            return Err(Invalid(format!(
                "attachment {} is {}, over {}",
                index + 1,
                human(size),
                human(limits.max_attachment_bytes)
            )));
        }
        total += size;
        if total > limits.max_total_attachment_bytes {
            return Err(Invalid(format!(
                "attachments total more than {}",
                human(limits.max_total_attachment_bytes)
            )));
        }
    }
    let names: Vec<&str> = incoming
        .iter()
        .map(|attachment| attachment.filename.as_str())
        .collect();
    let paths = paths(&names);
    Ok(incoming
        .into_iter()
        .zip(paths)
        .map(|(attachment, path)| Attachment {
            path,
            filename: attachment.filename,
            content_type: attachment.content_type,
            data: attachment.data,
        })
        .collect())
}

/// The workspace paths for the names in order: `attachments/<safe name>`, a repeated name getting `-2`,
/// `-3`… before its extension.
pub(crate) fn paths(names: &[&str]) -> Vec<String> {
    let mut taken = HashSet::new();
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let name = safe_name(name, index + 1);
            let mut candidate = name.clone();
            let mut n = 1;
            while !taken.insert(candidate.clone()) {
                n += 1;
                candidate = numbered(&name, n);
            }
            format!("attachments/{candidate}")
        })
        .collect()
}

/// A name that is a single path component and harmless to a shell: the basename only, without control
/// characters or leading dots (no hidden files, no `..`), at most 100 bytes; `attachment-N` when
/// nothing is left.
pub(crate) fn safe_name(raw: &str, position: usize) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut end = cleaned.len().min(MAX_NAME_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    let name = cleaned[..end].trim_end();
    if name.is_empty() {
        format!("attachment-{position}")
    } else {
        name.to_owned()
    }
}

/// `report.pdf` → `report-2.pdf`; `README` → `README-2`.
fn numbered(name: &str, n: usize) -> String {
    match name.rfind('.') {
        Some(dot) if dot > 0 => format!("{}-{n}{}", &name[..dot], &name[dot..]),
        _ => format!("{name}-{n}"),
    }
}

fn human(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        let tenths = bytes * 10 / MIB;
        if tenths.is_multiple_of(10) {
            format!("{} MiB", tenths / 10)
        } else {
            format!("{}.{} MiB", tenths / 10, tenths % 10)
        }
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}
