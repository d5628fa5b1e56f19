use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;

use hoist_provider::{Address, Attrs, ResourceState};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::{State, StateError};

/// One durable fact about an apply in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// About to ask the cloud to create `address` with idempotency `token`.
    Intent {
        address: Address,
        token: String,
        provider: String,
        depends_on: Vec<Address>,
        /// What was asked for: adoption records these, as not every cloud can report them all.
        #[serde(default)]
        attrs: Attrs,
    },
    /// `address` now exists (created, updated or adopted) as recorded.
    Saved { resource: ResourceState },
    /// `resource` is being replaced by a new one at the same address and awaits deletion.
    Deposed { resource: ResourceState },
    /// `address` (at `cloud_id`) is gone.
    Removed { address: Address, cloud_id: String },
}

/// A create that was asked for but not seen to finish: the cloud may or may not have it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub address: Address,
    pub token: String,
    pub provider: String,
    pub depends_on: Vec<Address>,
    pub attrs: Attrs,
}

/// Append-only log of an apply's steps; every append is fsync'd before it returns.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Journal {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(None),
        }
    }

    pub fn append(&self, entry: &JournalEntry) -> Result<(), StateError> {
        let mut line = serde_json::to_vec(entry).expect("journal entry serializes");
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(io(&self.path))?;
            *guard = Some(f);
        }
        let f = guard.as_mut().expect("opened above");
        f.write_all(&line)
            .and_then(|_| f.sync_data())
            .map_err(io(&self.path))
    }

    /// The entries of an interrupted run. A torn last line (the crash hit mid-write) is dropped.
    pub fn read(&self) -> Result<Vec<JournalEntry>, StateError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(StateError::Io {
                    path: self.path.clone(),
                    error: e,
                })
            }
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(e) => out.push(e),
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(e) => {
                    return Err(StateError::CorruptJournal {
                        path: self.path.clone(),
                        line: i + 1,
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(out)
    }

    /// Forget the journal once its entries are in the state file.
    pub fn clear(&self) -> Result<(), StateError> {
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StateError::Io {
                path: self.path.clone(),
                error: e,
            }),
        }
    }

    /// Fold `entries` into `state`; return the creates whose outcome is unknown.
    pub fn replay(entries: &[JournalEntry], state: &mut State) -> Vec<Pending> {
        let mut pending: Vec<Pending> = Vec::new();
        for e in entries {
            match e {
                JournalEntry::Intent {
                    address,
                    token,
                    provider,
                    depends_on,
                    attrs,
                } => {
                    pending.retain(|p| &p.address != address);
                    pending.push(Pending {
                        address: address.clone(),
                        token: token.clone(),
                        provider: provider.clone(),
                        depends_on: depends_on.clone(),
                        attrs: attrs.clone(),
                    });
                }
                JournalEntry::Saved { resource } => {
                    pending.retain(|p| p.address != resource.address);
                    state
                        .resources
                        .insert(resource.address.clone(), resource.clone());
                }
                JournalEntry::Deposed { resource } => {
                    if state
                        .resources
                        .get(&resource.address)
                        .is_some_and(|r| r.cloud_id == resource.cloud_id)
                    {
                        state.resources.remove(&resource.address);
                    }
                    state.deposed.push(resource.clone());
                }
                JournalEntry::Removed { address, cloud_id } => {
                    if state
                        .resources
                        .get(address)
                        .is_some_and(|r| &r.cloud_id == cloud_id)
                    {
                        state.resources.remove(address);
                    }
                    state.deposed.retain(|r| &r.cloud_id != cloud_id);
                }
            }
        }
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_tail_is_ignored_and_pending_creates_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("j"));
        let a: Address = "node_pool.gpu".parse().unwrap();
        j.append(&JournalEntry::Intent {
            address: a.clone(),
            token: "t1".into(),
            provider: "sim".into(),
            depends_on: vec![],
            attrs: Attrs::new(),
        })
        .unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("j"))
            .unwrap();
        f.write_all(b"{\"op\":\"sav").unwrap();
        let entries = j.read().unwrap();
        assert_eq!(entries.len(), 1);
        let mut s = State::new("demo", "sim", "r");
        let pending = Journal::replay(&entries, &mut s);
        assert_eq!(pending[0].token, "t1");
    }
}
