//! hoist's record of what it made: the state file, its lock, and the crash journal.
//!
//! Every read and write goes through a [`Lock`] (a kernel lock held for the whole run), so two
//! runs never interleave. The state
//! file is replaced atomically (temp file, fsync, rename) with the previous version kept as
//! a backup. During an apply each step is appended to a journal, fsync'd, before and after
//! it touches the cloud; a run that finds a journal replays it, so a crash loses nothing.

mod error;
mod fsio;
mod journal;
mod lock;
mod state;

pub use error::StateError;
pub use journal::{Journal, JournalEntry, Pending};
pub use lock::{Lock, LockInfo, Peeked};
pub use state::{State, STATE_VERSION};

use std::path::{Path, PathBuf};

/// Where one environment's state lives: `<dir>/<env>.state.json` and its companions.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    env: String,
    /// Where this machine remembers the highest serial it has seen per lineage.
    marks: Option<PathBuf>,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>, env: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            env: env.into(),
            marks: None,
        }
    }

    /// Remember serials in `dir`, so that a state file older than one already seen is noticed.
    pub fn with_marks(mut self, dir: impl Into<PathBuf>) -> Self {
        self.marks = Some(dir.into());
        self
    }

    fn mark_path(&self, lineage: &str) -> Option<PathBuf> {
        // Lineages are uuids; anything else is not used as a file name.
        let safe = !lineage.is_empty()
            && lineage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        self.marks
            .as_ref()
            .filter(|_| safe)
            .map(|d| d.join(lineage))
    }

    /// The highest serial this machine has seen for `lineage`.
    pub fn serial_seen(&self, lineage: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.mark_path(lineage)?).ok()?;
        text.trim().parse().ok()
    }

    /// Remember `serial` for `lineage` if it is the highest yet (best effort: a mark that
    /// cannot be written only loses a warning).
    pub(crate) fn mark_serial(&self, lineage: &str, serial: u64) {
        let Some(path) = self.mark_path(lineage) else {
            return;
        };
        if self.serial_seen(lineage).is_some_and(|seen| seen >= serial) {
            return;
        }
        let _ = fsio::write_atomic(&path, serial.to_string().as_bytes());
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn env(&self) -> &str {
        &self.env
    }
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(format!("{}.state.json", self.env))
    }
    pub fn backup_path(&self) -> PathBuf {
        self.dir.join(format!("{}.state.json.backup", self.env))
    }
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.env))
    }
    /// Who holds the lock (the lock itself is the kernel's, on `lock_path`).
    pub fn lock_info_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock.json", self.env))
    }
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(format!("{}.journal", self.env))
    }

    /// Take the environment's lock for `operation`; fails at once, naming the holder, if taken.
    pub fn lock(&self, operation: &str) -> Result<Lock, StateError> {
        Lock::acquire(self.clone(), operation)
    }

    /// Clear the record of a lock no run holds, given the id printed in the "locked" error.
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        lock::force_unlock(self, id)
    }
}
