//! hoist's record of what it made: the state file, its lock, and the crash journal.
//!
//! Every read and write goes through a [`Lock`], so two runs never interleave. In a folder
//! (the default `.hoist/`, or a `file://` backend) the lock is a kernel lock held for the
//! whole run and the state file is replaced atomically (temp file, fsync, rename) with the
//! previous version kept as a backup. In an object store (an `s3://` backend) the lock is an
//! object created only where none exists, carrying a lease its holder renews, and the state
//! is written only over the version read (see [`remote`]). During an apply each step is
//! appended to a journal beside the state, made durable before and after it touches the
//! cloud; a run that finds a journal replays it, so a crash loses nothing, on any machine.

mod error;
mod fsio;
mod journal;
mod lock;
pub mod remote;
mod state;

pub use error::StateError;
pub use journal::{Journal, JournalEntry, Pending};
pub use lock::{Lock, LockInfo, Peeked};
pub use state::{State, STATE_VERSION};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hoist_provider::ObjectStore;

/// Where environments' states live: a folder, or a bucket and prefix.
#[derive(Debug, Clone)]
pub enum Backend {
    Dir(PathBuf),
    Remote(Arc<dyn ObjectStore>),
}

impl Backend {
    /// Where this is, as a user writes it.
    pub fn location(&self) -> String {
        match self {
            Backend::Dir(d) => format!("file://{}", d.display()),
            Backend::Remote(r) => r.location(),
        }
    }

    /// Every environment with a state here, by name: whether a lock record is beside it,
    /// and in a remote backend its summary (one list call).
    pub fn environments(&self) -> Result<std::collections::BTreeMap<String, Listed>, StateError> {
        let names: Vec<String> = match self {
            Backend::Dir(d) => match std::fs::read_dir(d) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => {
                    return Err(StateError::Io {
                        path: d.clone(),
                        error: e,
                    })
                }
            },
            Backend::Remote(r) => r.list("").map_err(|error| StateError::Remote {
                location: r.location(),
                error,
            })?,
        };
        let lock_record = match self {
            Backend::Dir(_) => ".lock.json",
            Backend::Remote(_) => LOCK,
        };
        let keys: std::collections::BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut out: std::collections::BTreeMap<String, Listed> = names
            .iter()
            .filter_map(|n| n.strip_suffix(STATE))
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(|n| {
                let locked = keys.contains(format!("{n}{lock_record}").as_str());
                (
                    n.to_string(),
                    Listed {
                        locked,
                        summary: None,
                    },
                )
            })
            .collect();
        for (env, summary) in names.iter().filter_map(|k| remote::Summary::parse(k)) {
            if let Some(listed) = out.get_mut(&env) {
                let newer = listed
                    .summary
                    .as_ref()
                    .is_none_or(|s| s.serial < summary.serial);
                if newer {
                    listed.summary = Some(summary);
                }
            }
        }
        Ok(out)
    }
}

/// One environment in a backend's listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// A lock record is beside its state (its holder may have ended).
    pub locked: bool,
    pub summary: Option<remote::Summary>,
}

/// Where one environment's state lives: `<backend>/<env>.state.json` and its companions.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    env: String,
    /// Where this machine remembers the highest serial it has seen per lineage.
    marks: Option<PathBuf>,
    /// How long a remote lock lasts without renewal.
    lease: std::time::Duration,
}

/// How long a lock in an object store lasts when its holder stops renewing it (killed, or
/// its machine gone): the next run may take it over after this.
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(180);

impl Store {
    pub fn new(dir: impl Into<PathBuf>, env: impl Into<String>) -> Self {
        Self::at(Backend::Dir(dir.into()), env)
    }

    pub fn at(backend: Backend, env: impl Into<String>) -> Self {
        Self {
            backend,
            env: env.into(),
            marks: None,
            lease: DEFAULT_LEASE,
        }
    }

    /// Set how long a remote lock lasts without renewal.
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn lease(&self) -> std::time::Duration {
        self.lease
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The object store, when the state is remote.
    pub(crate) fn remote(&self) -> Option<&Arc<dyn ObjectStore>> {
        match &self.backend {
            Backend::Remote(r) => Some(r),
            Backend::Dir(_) => None,
        }
    }

    /// The key of one of the environment's objects in a remote backend.
    pub(crate) fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.env)
    }

    /// Where one of the environment's files or objects is, for messages.
    fn place(&self, suffix: &str) -> PathBuf {
        match &self.backend {
            Backend::Dir(d) => d.join(self.key(suffix)),
            Backend::Remote(r) => PathBuf::from(format!("{}/{}", r.location(), self.key(suffix))),
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
    /// The folder of a local store (`None` for a remote one).
    pub fn dir(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Dir(d) => Some(d),
            Backend::Remote(_) => None,
        }
    }
    pub fn env(&self) -> &str {
        &self.env
    }
    pub fn state_path(&self) -> PathBuf {
        self.place(STATE)
    }
    pub fn backup_path(&self) -> PathBuf {
        self.place(BACKUP)
    }
    pub fn lock_path(&self) -> PathBuf {
        self.place(LOCK)
    }
    /// Who holds the lock (locally the lock itself is the kernel's, on `lock_path`; remotely
    /// the lock object is its own record).
    pub fn lock_info_path(&self) -> PathBuf {
        match self.backend {
            Backend::Dir(_) => self.place(".lock.json"),
            Backend::Remote(_) => self.place(LOCK),
        }
    }
    pub fn journal_path(&self) -> PathBuf {
        self.place(JOURNAL)
    }

    /// Take the environment's lock for `operation`; fails at once, naming the holder, if taken.
    pub fn lock(&self, operation: &str) -> Result<Lock, StateError> {
        Lock::acquire(self.clone(), operation)
    }

    /// Clear the record of a lock no run holds, given the id printed in the "locked" error.
    /// A remote lock is broken at once, even while its holder runs (its next renewal or
    /// state write then fails instead of overwriting).
    pub fn unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        match self.remote() {
            Some(r) => remote::force_unlock(self, r, id),
            None => lock::force_unlock(self, id),
        }
    }

    /// Who holds the lock now, if anyone (for listings; a lock may be taken a moment later).
    pub fn holder(&self) -> Option<LockInfo> {
        match self.remote() {
            Some(r) => remote::holder(self, r),
            None => lock::holder(self),
        }
    }
}

const STATE: &str = ".state.json";
const BACKUP: &str = ".state.json.backup";
const LOCK: &str = ".lock";
const JOURNAL: &str = ".journal";
