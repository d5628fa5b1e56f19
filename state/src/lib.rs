//! hoist's record of what it made: the state file, its lock, and the crash journal.
//!
//! Every read and write goes through a [`Lock`], so two runs never interleave. The state
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
pub use lock::{Lock, LockInfo};
pub use state::{State, STATE_VERSION};

use std::path::{Path, PathBuf};

/// Where one environment's state lives: `<dir>/<env>.state.json` and its companions.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    env: String,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>, env: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            env: env.into(),
        }
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
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(format!("{}.journal", self.env))
    }

    /// Take the environment's lock for `operation`; fails at once, naming the holder, if taken.
    pub fn lock(&self, operation: &str) -> Result<Lock, StateError> {
        Lock::acquire(self.clone(), operation)
    }

    /// Break a stale lock, given the id printed in the "locked" error.
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        lock::force_unlock(&self.lock_path(), id)
    }
}
