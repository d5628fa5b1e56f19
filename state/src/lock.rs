//! One run per environment. In a folder, liveness is a kernel lock (`flock`) held on `ENV.lock` for the
//! whole run: the kernel releases it when the holder exits, however it exits (kill -9
//! included), and a run in another PID namespace or container on the same host sees it held.
//! Pids, hostnames and boot ids are only written beside it (`ENV.lock.json`) to say who holds
//! it. The lock file itself is never removed: removing a locked file lets a third run lock a
//! new file of the same name while the second still waits on the old one.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::fsio::write_atomic;
use crate::{Journal, State, StateError, Store};

/// Who holds a lock, written beside it so that a refused run can say who to ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// The holder's kernel boot, to tell a pid of this boot from one of an earlier boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    pub operation: String,
    pub created_at: DateTime<Utc>,
    /// The CI run holding it, when a CI's variables say (`github:owner/repo/actions/runs/ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
    /// A remote lock's lease: it lapses `lease_seconds` after `renewed_at` unless renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<DateTime<Utc>>,
}

impl LockInfo {
    /// Who this process is, about to take a lock for `operation`.
    pub(crate) fn for_this_process(operation: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            operation: operation.into(),
            created_at: Utc::now(),
            ci_run: ci_run(),
            lease_seconds: None,
            renewed_at: None,
        }
    }

    /// When a remote lock's lease lapses (`None`: a local lock, which lasts while its holder
    /// lives).
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        let lease = chrono::Duration::seconds(self.lease_seconds? as i64);
        Some(self.renewed_at.unwrap_or(self.created_at) + lease)
    }
}

/// The CI run this process is part of, from the variables GitHub Actions, GitLab CI,
/// Buildkite and CircleCI set.
fn ci_run() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let (Some(repo), Some(run)) = (var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    var("CI_JOB_URL")
        .or_else(|| var("BUILDKITE_BUILD_URL"))
        .or_else(|| var("CIRCLE_BUILD_URL"))
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` by {}@{} (pid {}) since {}",
            self.operation,
            self.user,
            self.host,
            self.pid,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        )?;
        if let Some(run) = &self.ci_run {
            write!(f, " in CI run {run}")?;
        }
        if let Some(at) = self.expires_at() {
            write!(f, ", lease until {}", at.format("%H:%M:%S UTC"))?;
        }
        write!(f, ", lock id {}", self.id)
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The environment's lock. While it lives, this process alone reads and writes the state;
/// dropping it (or the process ending) releases the lock.
#[derive(Debug)]
pub struct Lock {
    store: Store,
    info: LockInfo,
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// The open lock file: the kernel lock lives as long as it does.
    File(#[allow(dead_code)] File),
    /// The lock object and the thread that renews its lease.
    Lease(crate::remote::Lease),
}

/// Try to take the kernel lock on `file`; `false` when another open file holds it.
fn try_lock(file: &File) -> std::io::Result<bool> {
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

impl Lock {
    pub(crate) fn acquire(store: Store, operation: &str) -> Result<Lock, StateError> {
        if let Some(remote) = store.remote().cloned() {
            let (info, lease) = crate::remote::acquire(&store, remote, operation)?;
            return Ok(Lock {
                store,
                info,
                held: Held::Lease(lease),
            });
        }
        let dir = store.dir().expect("a local store").to_path_buf();
        let path = store.lock_path();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file = open_lock_file(&path).map_err(io(&path))?;
        if !try_lock(&file).map_err(io(&path))? {
            return Err(locked_error(&store));
        }
        let info = LockInfo::for_this_process(operation);
        // Written whole or not at all; on failure (a full disk) the lock is released with
        // `file` and nothing is left behind that could block the next run.
        let body = serde_json::to_vec_pretty(&info).expect("lock info serializes");
        let info_path = store.lock_info_path();
        write_atomic(&info_path, &body).map_err(|error| StateError::LockRecord {
            path: info_path.clone(),
            error,
        })?;
        Ok(Lock {
            store,
            info,
            held: Held::File(file),
        })
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current state, or `None` for an environment never applied.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        match &self.held {
            Held::Lease(lease) => lease.load(&self.store),
            Held::File(_) => Ok(self.store.peek()?.state),
        }
    }

    /// The state `peeked` read without the lock, when the file is still the one it read
    /// (every write replaces the file, so an unchanged identity means unchanged content);
    /// else read again, now under the lock.
    pub fn load_peeked(&self, peeked: Peeked) -> Result<Option<State>, StateError> {
        if let Held::Lease(lease) = &self.held {
            // A remote state is read again under the lock: the read is the check.
            return lease.load(&self.store);
        }
        if peeked.stamp.is_some() && stamp(&self.store.state_path()) == peeked.stamp {
            return Ok(peeked.state);
        }
        self.load()
    }

    /// Write `state` atomically, keeping the previous file as the backup.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        if let Held::Lease(lease) = &self.held {
            lease.save(&self.store, state)?;
            self.store.mark_serial(&state.lineage, state.serial);
            return Ok(());
        }
        let path = self.store.state_path();
        let backup = self.store.backup_path();
        if path.exists() {
            let _ = std::fs::remove_file(&backup);
            if std::fs::hard_link(&path, &backup).is_err() {
                std::fs::copy(&path, &backup).map_err(io(&backup))?;
            }
        }
        let mut body = serde_json::to_vec_pretty(state).expect("state serializes");
        body.push(b'\n');
        write_atomic(&path, &body).map_err(io(&path))?;
        self.store.mark_serial(&state.lineage, state.serial);
        Ok(())
    }

    pub fn journal(&self) -> Journal {
        match &self.held {
            Held::Lease(lease) => Journal::remote(
                lease.store(),
                self.store.key(".journal"),
                self.store.journal_path(),
            ),
            Held::File(_) => Journal::new(self.store.journal_path()),
        }
    }
}

/// State read without the lock, with the identity of the file it came from.
#[derive(Debug)]
pub struct Peeked {
    pub(crate) state: Option<State>,
    stamp: Option<Stamp>,
}

impl Peeked {
    /// The state read, or `None` for an environment never applied.
    pub fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }
}

/// A file's identity and version: device, inode, size and change time.
type Stamp = (u64, u64, u64, i64, i64);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.ctime(), m.ctime_nsec()))
}

impl crate::Store {
    /// Read the state without taking the lock (files are replaced whole, so a read is never
    /// torn), to overlap the read with other work; [`Lock::load_peeked`] confirms it.
    pub fn peek(&self) -> Result<Peeked, StateError> {
        if let Some(remote) = self.remote() {
            let state = crate::remote::read_state(self, remote)?;
            return Ok(Peeked { state, stamp: None });
        }
        let path = self.state_path();
        let stamp = stamp(&path);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Peeked { state: None, stamp }),
            Err(e) => return Err(StateError::Io { path, error: e }),
        };
        Ok(Peeked {
            state: Some(self.parse_state(&text)?),
            stamp,
        })
    }

    /// A state's text, checked to be this environment's.
    pub(crate) fn parse_state(&self, text: &str) -> Result<State, StateError> {
        let path = self.state_path();
        let state = State::parse(&path, &self.backup_path(), text)?;
        if state.environment != self.env() {
            return Err(StateError::WrongEnvironment {
                path,
                found: state.environment,
                expected: self.env().into(),
            });
        }
        Ok(state)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // A lease is given back by its own drop.
        if matches!(self.held, Held::Lease(_)) {
            return;
        }
        // The record goes while the kernel lock is still held, so it never names a later run.
        let path = self.store.lock_info_path();
        if read_info(&path).is_some_and(|held| held.id == self.info.id) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn read_info(path: &Path) -> Option<LockInfo> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn unknown_holder() -> LockInfo {
    LockInfo {
        id: "unknown".into(),
        user: "unknown".into(),
        host: "unknown".into(),
        pid: 0,
        boot_id: None,
        operation: "unknown".into(),
        created_at: Utc::now(),
        ci_run: None,
        lease_seconds: None,
        renewed_at: None,
    }
}

/// Who holds a local lock: its record, when a live run holds the kernel lock.
pub(crate) fn holder(store: &Store) -> Option<LockInfo> {
    let file = File::open(store.lock_path()).ok()?;
    match try_lock(&file) {
        Ok(false) => Some(read_info(&store.lock_info_path()).unwrap_or_else(unknown_holder)),
        _ => None,
    }
}

fn locked_error(store: &Store) -> StateError {
    let info = read_info(&store.lock_info_path()).unwrap_or_else(unknown_holder);
    StateError::Locked {
        path: store.lock_path(),
        hint: "wait for that run to finish: the lock is released the moment it ends, even if it is killed".into(),
        info: Box::new(info),
    }
}

/// Clear the holder record of a lock that no run holds, given the id it names. A lock that a
/// live run holds cannot be broken from outside: that run must end.
pub(crate) fn force_unlock(store: &Store, id: &str) -> Result<LockInfo, StateError> {
    let path = store.lock_path();
    let info_path = store.lock_info_path();
    let record = read_info(&info_path);
    if !path.exists() && record.is_none() {
        return Err(StateError::NotLocked { path });
    }
    let file = open_lock_file(&path).map_err(io(&path))?;
    if !try_lock(&file).map_err(io(&path))? {
        return Err(StateError::HeldByLiveRun {
            path,
            info: Box::new(record.unwrap_or_else(unknown_holder)),
        });
    }
    match record {
        Some(info) if info.id == id => {
            std::fs::remove_file(&info_path).map_err(io(&info_path))?;
            Ok(info)
        }
        Some(info) => Err(StateError::WrongLockId {
            path,
            given: id.into(),
            held: info.id,
        }),
        None => Err(StateError::NotLocked { path }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_holder_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let held = store.lock("apply").unwrap();
        let err = store.lock("plan").unwrap_err();
        assert!(err.to_string().contains(&held.info().id), "{err}");
        assert!(err.to_string().contains("`apply`"));
        drop(held);
        store.lock("plan").unwrap();
    }

    #[test]
    fn a_peeked_state_is_used_only_while_the_file_is_the_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let lock = store.lock("apply").unwrap();
        let mut s = State::new("demo", "sim", "sim-east1");
        lock.save(&s).unwrap();
        let unchanged = store.peek().unwrap();
        assert_eq!(lock.load_peeked(unchanged).unwrap().unwrap().serial, 0);
        let stale = store.peek().unwrap();
        s.serial = 7;
        lock.save(&s).unwrap();
        assert_eq!(
            lock.load_peeked(stale).unwrap().unwrap().serial,
            7,
            "a file replaced after the peek is read again"
        );
        assert!(Store::new(dir.path(), "other")
            .peek()
            .unwrap()
            .state
            .is_none());
    }

    #[test]
    fn save_keeps_backup_and_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let lock = store.lock("apply").unwrap();
        let mut s = State::new("demo", "sim", "sim-east1");
        lock.save(&s).unwrap();
        s.serial = 1;
        lock.save(&s).unwrap();
        assert_eq!(lock.load().unwrap().unwrap().serial, 1);
        let backup: State =
            serde_json::from_str(&std::fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 0);
        let mode = std::fs::metadata(store.state_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_live_lock_cannot_be_broken_and_a_free_one_only_with_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let held = store.lock("apply").unwrap();
        let id = held.info().id.clone();
        assert!(matches!(
            store.unlock(&id),
            Err(StateError::HeldByLiveRun { .. })
        ));
        // A holder that ended without cleaning up (its record stays, its kernel lock does not).
        std::fs::copy(store.lock_info_path(), dir.path().join("record")).unwrap();
        drop(held);
        std::fs::copy(dir.path().join("record"), store.lock_info_path()).unwrap();
        assert!(matches!(
            store.unlock("nope"),
            Err(StateError::WrongLockId { .. })
        ));
        store.unlock(&id).unwrap();
        assert!(!store.lock_info_path().exists());
        // A stale record never blocks a run.
        std::fs::copy(dir.path().join("record"), store.lock_info_path()).unwrap();
        store.lock("apply").unwrap();
    }
}
