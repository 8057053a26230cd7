//! `<state>/removed-sessions`: the ids retention removed, one a line, appended before a session's files go,
//! so that a restarted supervisor still answers "removed" (and refuses to run the id again).
//!
//! Only the most recent `session::removed::REMEMBERED` ids matter: the file is rewritten with them when it
//! has grown to twice that.

use std::io::Write;
use std::path::{Path, PathBuf};

use protocol::SessionId;

use crate::session::removed::REMEMBERED;

/// The ledger file and how many lines it holds.
#[derive(Debug)]
pub(crate) struct Ledger {
    path: PathBuf,
    lines: usize,
    /// Removed ids not yet in the file (an append failed, e.g. on a full disk).
    unwritten: Vec<SessionId>,
}

impl Ledger {
    pub(crate) fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("removed-sessions")
    }

    /// Reads the ids removed so far (oldest first); a missing file is an empty ledger. A last line without
    /// its newline was torn by a crash: it is cut off the file, so the next append starts a line of its own.
    pub(crate) fn load(state_dir: &Path) -> (Self, Vec<SessionId>) {
        let path = Self::path(state_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) => {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::error!(path = %path.display(), error = %err, "read the ledger of removed sessions");
                }
                String::new()
            }
        };
        let whole = text.rfind('\n').map_or(0, |at| at + 1);
        if whole < text.len() {
            let cut = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(whole as u64));
            if let Err(err) = cut {
                tracing::error!(path = %path.display(), error = %err, "cut the torn line of the ledger of removed sessions");
            }
        }
        let text = &text[..whole];
        let ids: Vec<SessionId> = text.lines().filter_map(|l| SessionId::parse(l).ok()).collect();
        let lines = text.lines().count();
        (
            Self {
                path,
                lines,
                unwritten: Vec::new(),
            },
            ids,
        )
    }

    /// Appends `ids` (and syncs them: a removed session must never be run again), before their files
    /// are removed.
    /// Ids whose append failed are kept and written with the next ones.
    pub(crate) fn append(&mut self, ids: &[SessionId]) -> std::io::Result<()> {
        self.unwritten.extend_from_slice(ids);
        let mut text = String::new();
        for id in &self.unwritten {
            text.push_str(id.as_str());
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let before = file.metadata()?.len();
        if let Err(err) = file.write_all(text.as_bytes()).and_then(|()| file.sync_data()) {
            // A half-written line (a full disk) would merge with the next append's first id: cut it off.
            let _ = file.set_len(before);
            return Err(err);
        }
        self.lines += self.unwritten.len();
        self.unwritten.clear();
        Ok(())
    }

    /// Rewrites the file with `remembered` (oldest first) once it holds twice as many lines as are
    /// remembered.
    pub(crate) fn compact_if_large(&mut self, remembered: impl FnOnce() -> Vec<SessionId>) {
        if self.lines <= 2 * REMEMBERED || !self.unwritten.is_empty() {
            return;
        }
        let remembered = remembered();
        let tmp = self.path.with_extension("tmp");
        let mut text = String::new();
        for id in &remembered {
            text.push_str(id.as_str());
            text.push('\n');
        }
        // Synced before the rename: a power loss must not leave an empty ledger in place of the old one.
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        match written {
            Ok(()) => self.lines = remembered.len(),
            Err(err) => {
                tracing::warn!(path = %self.path.display(), error = %err, "compact the ledger of removed sessions");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_ids_survive_a_restart_and_a_torn_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let id = |s: &str| SessionId::parse(s).unwrap();
        let (mut ledger, ids) = Ledger::load(dir.path());
        assert!(ids.is_empty());
        ledger.append(&[id("s-1"), id("s-2")]).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(Ledger::path(dir.path()))
            .unwrap();
        file.write_all(b"s-3").unwrap();
        let (mut ledger, ids) = Ledger::load(dir.path());
        assert_eq!(ids, [id("s-1"), id("s-2")]);
        assert_eq!(ledger.lines, 2);
        ledger.append(&[id("s-4")]).unwrap();
        let (_, ids) = Ledger::load(dir.path());
        assert_eq!(
            ids,
            [id("s-1"), id("s-2"), id("s-4")],
            "the torn line does not swallow the next"
        );
    }

    #[test]
    fn a_ledger_twice_as_long_as_what_is_remembered_is_rewritten_with_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<SessionId> = (0..=2 * REMEMBERED)
            .map(|i| SessionId::parse(format!("s-{i}")).unwrap())
            .collect();
        let (mut ledger, _) = Ledger::load(dir.path());
        ledger.append(&ids[..2 * REMEMBERED]).unwrap();
        ledger.compact_if_large(|| panic!("not yet: exactly twice is not more"));
        ledger.append(&ids[2 * REMEMBERED..]).unwrap();
        let newest = ids[ids.len() - REMEMBERED..].to_vec();
        ledger.compact_if_large(|| newest.clone());
        let (ledger, loaded) = Ledger::load(dir.path());
        assert_eq!(loaded, newest);
        assert_eq!(ledger.lines, REMEMBERED);
    }
}
