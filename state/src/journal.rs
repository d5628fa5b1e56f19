//! The crash journal: an append-only, fsync'd log of an apply's steps. The next run replays
//! it over the state file, so nothing a killed run did is lost. Replay is idempotent (a crash
//! between saving the state and clearing the journal replays entries already in the state).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hoist_provider::{Address, Attrs, ObjectStore, ResourceState};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::{State, StateError};

/// One durable fact about an apply in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// About to ask the cloud to create `address` with idempotency `token`; `replaces` names
    /// the cloud id of the live resource a create-before-destroy replacement will take over from.
    Intent {
        address: Address,
        token: String,
        provider: String,
        depends_on: Vec<Address>,
        /// What was asked for: adoption records these, as not every cloud can report them all.
        #[serde(default)]
        attrs: Attrs,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    /// The cloud made it (its id is known) but it is not ready yet. A replacement that is
    /// not ready does not take over: it waits among the deposed until `Saved` promotes it.
    Created {
        resource: ResourceState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    /// `address` now exists (created, updated or adopted) as recorded; a replacement takes
    /// over and the resource it replaces is deposed.
    Saved {
        resource: ResourceState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    /// `resource` is no longer current and awaits deletion.
    Deposed { resource: ResourceState },
    /// About to delete `address` (at `cloud_id`): if the run dies before `Removed`, the next
    /// one checks whether it is gone.
    Deleting { address: Address, cloud_id: String },
    /// `address` (at `cloud_id`) is gone.
    Removed { address: Address, cloud_id: String },
    /// The create with `token` made nothing: checked by token after it failed.
    Abandoned { address: Address, token: String },
}

/// A create that was asked for but not seen to finish: the cloud may or may not have it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub address: Address,
    pub token: String,
    pub provider: String,
    pub depends_on: Vec<Address>,
    pub attrs: Attrs,
    pub replaces: Option<String>,
}

/// Append-only log of an apply's steps. Every entry is written at once, so a killed process
/// loses none. An intent must also survive a power loss before the cloud is asked: it is
/// durable once a [`Journal::sync_all`] that started after its write returns. One fsync serves
/// every entry written before it, so concurrent steps waiting on their intents share it (the
/// engine runs one sync at a time for them). Other entries only save the next run a lookup by
/// token, and are made durable by the next sync.
///
/// In a remote backend the journal is one object beside the state: entries are kept in
/// memory as written, and a sync uploads them all (the holder of the lock is its only writer).
#[derive(Debug)]
pub struct Journal {
    /// The file, or for a remote journal where it is, for messages.
    path: PathBuf,
    file: Mutex<Writer>,
    /// The highest sequence number known durable; held while syncing, so one sync runs at once.
    synced: Mutex<u64>,
    syncs: std::sync::atomic::AtomicU64,
    remote: Option<(Arc<dyn ObjectStore>, String)>,
}

#[derive(Debug, Default)]
struct Writer {
    file: Option<Arc<std::fs::File>>,
    /// A remote journal's entries so far, and whether those of the stored journal are in.
    lines: Vec<u8>,
    loaded: bool,
    /// Sequence number of the last entry written.
    written: u64,
}

impl Journal {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: Mutex::new(Writer::default()),
            synced: Mutex::new(0),
            syncs: Default::default(),
            remote: None,
        }
    }

    /// The journal at `key` of `store` (`location` names it in messages).
    pub(crate) fn remote(store: Arc<dyn ObjectStore>, key: String, location: PathBuf) -> Self {
        let mut j = Self::new(location);
        j.remote = Some((store, key));
        j
    }

    fn remote_error(&self, error: hoist_provider::StoreError) -> StateError {
        StateError::Remote {
            location: self.path.display().to_string(),
            error,
        }
    }

    /// Write `entry` without waiting for the disk; returns its sequence number, durable once
    /// [`Journal::sync_all`] has returned at least that number.
    pub fn write(&self, entry: &JournalEntry) -> Result<u64, StateError> {
        let mut line = serde_json::to_vec(entry).expect("journal entry serializes");
        line.push(b'\n');
        let mut w = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if self.remote.is_some() {
            if !w.loaded {
                // Entries of an interrupted run not yet cleared stay ahead of this run's.
                w.lines = self.read_bytes()?;
                w.loaded = true;
            }
            w.lines.extend_from_slice(&line);
            w.written += 1;
            return Ok(w.written);
        }
        if w.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(io(&self.path))?;
            // The file's name must be durable too, or a crash can lose the whole journal.
            let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
            crate::fsio::sync_dir(dir).map_err(io(dir))?;
            w.file = Some(Arc::new(f));
        }
        let mut f: &std::fs::File = w.file.as_ref().expect("opened above");
        f.write_all(&line).map_err(io(&self.path))?;
        w.written += 1;
        Ok(w.written)
    }

    /// Make every entry written so far durable (no fsync when an earlier one covered them);
    /// returns the sequence number now durable.
    pub fn sync_all(&self) -> Result<u64, StateError> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        let (file, target, lines) = {
            let w = self.file.lock().unwrap_or_else(|e| e.into_inner());
            let lines = self.remote.as_ref().map(|_| w.lines.clone());
            (w.file.clone(), w.written, lines)
        };
        if *synced >= target {
            return Ok(*synced);
        }
        if let (Some((store, key)), Some(lines)) = (&self.remote, lines) {
            store
                .put(key, &lines, hoist_provider::Precondition::None)
                .map_err(|e| self.remote_error(e))?;
            self.syncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else if let Some(f) = file {
            f.sync_data().map_err(io(&self.path))?;
            self.syncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        *synced = target;
        Ok(target)
    }

    /// How many fsyncs this journal made: with group commit, fewer than the intents.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The journal's bytes as stored (none when there is no journal).
    fn read_bytes(&self) -> Result<Vec<u8>, StateError> {
        if let Some((store, key)) = &self.remote {
            return Ok(store
                .get(key)
                .map_err(|e| self.remote_error(e))?
                .map(|o| o.bytes)
                .unwrap_or_default());
        }
        match std::fs::read(&self.path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StateError::Io {
                path: self.path.clone(),
                error: e,
            }),
        }
    }

    /// The entries of an interrupted run. A torn last line (the crash hit mid-write, maybe
    /// inside a multi-byte character) is dropped; damage anywhere else is an error.
    pub fn read(&self) -> Result<Vec<JournalEntry>, StateError> {
        let bytes = self.read_bytes()?;
        let complete = bytes.ends_with(b"\n");
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let parsed = std::str::from_utf8(line)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string()));
            match parsed {
                Ok(e) => out.push(e),
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(message) => {
                    return Err(StateError::CorruptJournal {
                        path: self.path.clone(),
                        line: i + 1,
                        message,
                    })
                }
            }
        }
        Ok(out)
    }

    /// Forget the journal once its entries are in the state file.
    pub fn clear(&self) -> Result<(), StateError> {
        let mut w = self.file.lock().unwrap_or_else(|e| e.into_inner());
        w.file = None;
        if let Some((store, key)) = &self.remote {
            store.delete(key, None).map_err(|e| self.remote_error(e))?;
            // What is written next starts a new journal (nothing older is left to keep).
            w.lines.clear();
            w.loaded = true;
            return Ok(());
        }
        drop(w);
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
                    replaces,
                } => {
                    pending.retain(|p| &p.address != address);
                    pending.push(Pending {
                        address: address.clone(),
                        token: token.clone(),
                        provider: provider.clone(),
                        depends_on: depends_on.clone(),
                        attrs: attrs.clone(),
                        replaces: replaces.clone(),
                    });
                }
                JournalEntry::Created { resource, replaces } => {
                    pending.retain(|p| p.address != resource.address);
                    if replaces.is_some() {
                        depose(state, resource.clone());
                    } else {
                        state
                            .resources
                            .insert(resource.address.clone(), resource.clone());
                    }
                }
                JournalEntry::Saved { resource, replaces } => {
                    pending.retain(|p| p.address != resource.address);
                    state.deposed.retain(|r| r.cloud_id != resource.cloud_id);
                    let current = state.resources.get(&resource.address);
                    if let (Some(old), Some(current)) = (replaces, current) {
                        if &current.cloud_id == old {
                            let old = current.clone();
                            depose(state, old);
                        }
                    }
                    state
                        .resources
                        .insert(resource.address.clone(), resource.clone());
                }
                JournalEntry::Deposed { resource } => depose(state, resource.clone()),
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
                JournalEntry::Abandoned { token, .. } => pending.retain(|p| &p.token != token),
                JournalEntry::Deleting { .. } => {}
            }
        }
        pending
    }

    /// The deletes `entries` started and did not see finish: `(address, cloud id)`.
    pub fn unfinished_deletes(entries: &[JournalEntry]) -> Vec<(Address, String)> {
        let mut out: Vec<(Address, String)> = Vec::new();
        for e in entries {
            match e {
                JournalEntry::Deleting { address, cloud_id } => {
                    out.push((address.clone(), cloud_id.clone()))
                }
                JournalEntry::Removed { cloud_id, .. } => out.retain(|(_, id)| id != cloud_id),
                _ => {}
            }
        }
        out
    }
}

/// Move `resource` out of the current set (if it is current) into the deposed, once.
fn depose(state: &mut State, resource: ResourceState) {
    if state
        .resources
        .get(&resource.address)
        .is_some_and(|r| r.cloud_id == resource.cloud_id)
    {
        state.resources.remove(&resource.address);
    }
    if !state
        .deposed
        .iter()
        .any(|r| r.cloud_id == resource.cloud_id)
    {
        state.deposed.push(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(i: usize) -> JournalEntry {
        JournalEntry::Intent {
            address: Address::new("node_pool", format!("p{i}")),
            token: format!("t{i}"),
            provider: "sim".into(),
            depends_on: vec![],
            attrs: Attrs::new(),
            replaces: None,
        }
    }

    #[test]
    fn one_fsync_serves_every_intent_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("env.journal"));
        let written = std::sync::Barrier::new(16);
        std::thread::scope(|s| {
            for i in 0..16 {
                let (journal, written) = (&journal, &written);
                s.spawn(move || {
                    let seq = journal.write(&intent(i)).unwrap();
                    written.wait();
                    assert!(journal.sync_all().unwrap() >= seq);
                });
            }
        });
        assert_eq!(journal.syncs(), 1, "the first sync covered all 16");
        assert_eq!(journal.read().unwrap().len(), 16);
        // A later intent needs a sync of its own.
        journal.write(&intent(16)).unwrap();
        journal.sync_all().unwrap();
        assert_eq!(journal.syncs(), 2);
    }

    fn pool(id: &str) -> ResourceState {
        ResourceState {
            address: "node_pool.gpu".parse().unwrap(),
            provider: "sim".into(),
            cloud_id: id.into(),
            attrs: Attrs::new(),
            outputs: Attrs::new(),
            depends_on: vec![],
            unfinished: None,
        }
    }

    #[test]
    fn torn_tail_is_ignored_and_pending_creates_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("j"));
        let a: Address = "node_pool.gpu".parse().unwrap();
        j.write(&JournalEntry::Intent {
            address: a.clone(),
            token: "t1".into(),
            provider: "sim".into(),
            depends_on: vec![],
            attrs: Attrs::new(),
            replaces: None,
        })
        .unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("j"))
            .unwrap();
        // Cut inside a two-byte character: the tail is not even UTF-8.
        f.write_all(b"{\"op\":\"saved\",\"x\":\"\xc3").unwrap();
        let entries = j.read().unwrap();
        assert_eq!(entries.len(), 1);
        let mut s = State::new("demo", "sim", "r");
        let pending = Journal::replay(&entries, &mut s);
        assert_eq!(pending[0].token, "t1");
    }

    #[test]
    fn a_replacement_takes_over_only_when_saved_and_replay_is_idempotent() {
        let mut s = State::new("demo", "sim", "r");
        s.resources.insert(pool("old").address, pool("old"));
        let created = vec![JournalEntry::Created {
            resource: pool("new"),
            replaces: Some("old".into()),
        }];
        Journal::replay(&created, &mut s);
        assert_eq!(
            s.resources[&pool("old").address].cloud_id,
            "old",
            "the live pool stays current"
        );
        assert_eq!(s.deposed.len(), 1);
        let saved = vec![JournalEntry::Saved {
            resource: pool("new"),
            replaces: Some("old".into()),
        }];
        for _ in 0..2 {
            Journal::replay(&saved, &mut s);
        }
        assert_eq!(s.resources[&pool("new").address].cloud_id, "new");
        assert_eq!(
            s.deposed
                .iter()
                .map(|r| r.cloud_id.as_str())
                .collect::<Vec<_>>(),
            ["old"]
        );
    }
}
