use std::fmt;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::fsio::{sync_dir, write_atomic};
use crate::{Journal, State, StateError, Store};

/// Who holds a lock, written into the lock file so that a refused run can say who to ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub created_at: DateTime<Utc>,
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` by {}@{} (pid {}) since {}, lock id {}",
            self.operation,
            self.user,
            self.host,
            self.pid,
            self.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.id
        )
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

fn process_alive(pid: u32) -> bool {
    // Signal 0 checks existence without sending anything.
    unsafe {
        libc::kill(pid as libc::pid_t, 0) == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
}

/// The environment's lock. While it lives, this process alone reads and writes the state;
/// dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    store: Store,
    info: LockInfo,
}

impl Lock {
    pub(crate) fn acquire(store: Store, operation: &str) -> Result<Lock, StateError> {
        let path = store.lock_path();
        std::fs::create_dir_all(store.dir()).map_err(io(store.dir()))?;
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            operation: operation.into(),
            created_at: Utc::now(),
        };
        match create_lock_file(&path, &info) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => take_over_if_stale(&store, &info)?,
            Err(e) => return Err(StateError::Io { path, error: e }),
        }
        sync_dir(store.dir()).map_err(io(store.dir()))?;
        Ok(Lock { store, info })
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current state, or `None` for an environment never applied.
    pub fn load(&self) -> Result<Option<State>, StateError> {
        let path = self.store.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::Io { path, error: e }),
        };
        let state = State::parse(&path, &self.store.backup_path(), &text)?;
        if state.environment != self.store.env() {
            return Err(StateError::WrongEnvironment {
                path,
                found: state.environment,
                expected: self.store.env().into(),
            });
        }
        Ok(Some(state))
    }

    /// Write `state` atomically, keeping the previous file as the backup.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
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
        write_atomic(&path, &body).map_err(io(&path))
    }

    pub fn journal(&self) -> Journal {
        Journal::new(self.store.journal_path())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let path = self.store.lock_path();
        if read_info(&path).is_some_and(|held| held.id == self.info.id) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn create_lock_file(path: &Path, info: &LockInfo) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let body = serde_json::to_vec_pretty(info).expect("lock info serializes");
    f.write_all(&body).and_then(|_| f.sync_all())
}

/// A lock whose holder ran on this host and has died (e.g. killed with SIGKILL) protects
/// nothing: take it over. Takeovers are serialized with flock so two runs cannot both win.
fn take_over_if_stale(store: &Store, info: &LockInfo) -> Result<(), StateError> {
    let path = store.lock_path();
    let guard_path = store.dir().join(format!("{}.lock.takeover", store.env()));
    let guard = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&guard_path)
        .map_err(io(&guard_path))?;
    use std::os::fd::AsRawFd;
    if unsafe { libc::flock(guard.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(StateError::Io {
            path: guard_path,
            error: std::io::Error::last_os_error(),
        });
    }
    let stale =
        read_info(&path).is_some_and(|held| held.host == hostname() && !process_alive(held.pid));
    if !stale {
        return match create_lock_file(&path, info) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(locked_error(&path)),
            Err(e) => Err(StateError::Io { path, error: e }),
        };
    }
    std::fs::remove_file(&path).map_err(io(&path))?;
    create_lock_file(&path, info).map_err(io(&path))
    // The flock is released when `guard` is dropped.
}

fn unknown_holder() -> LockInfo {
    LockInfo {
        id: "unknown".into(),
        user: "unknown".into(),
        host: "unknown".into(),
        pid: 0,
        operation: "unknown".into(),
        created_at: Utc::now(),
    }
}

fn read_info(path: &Path) -> Option<LockInfo> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn locked_error(path: &Path) -> StateError {
    match read_info(path) {
        Some(info) => {
            let stale = info.host == hostname() && !process_alive(info.pid);
            let hint = if stale {
                format!(
                    "process {} is no longer running, so the lock is stale: run `hoist unlock {}`",
                    info.pid, info.id
                )
            } else {
                format!(
                    "wait for that run to finish; if it died, run `hoist unlock {}`",
                    info.id
                )
            };
            StateError::Locked {
                path: path.into(),
                info: Box::new(info),
                hint,
            }
        }
        None => StateError::Locked {
            path: path.into(),
            info: Box::new(unknown_holder()),
            hint: "the lock file is unreadable; if no run is active, run `hoist unlock unknown`"
                .into(),
        },
    }
}

pub(crate) fn force_unlock(path: &Path, id: &str) -> Result<LockInfo, StateError> {
    if !path.exists() {
        return Err(StateError::NotLocked { path: path.into() });
    }
    let held = read_info(path);
    match held {
        Some(info) if info.id == id => {
            std::fs::remove_file(path).map_err(io(path))?;
            Ok(info)
        }
        Some(info) => Err(StateError::WrongLockId {
            path: path.into(),
            given: id.into(),
            held: info.id,
        }),
        None if id == "unknown" => {
            std::fs::remove_file(path).map_err(io(path))?;
            Ok(unknown_holder())
        }
        None => Err(StateError::WrongLockId {
            path: path.into(),
            given: id.into(),
            held: "unknown".into(),
        }),
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
    fn unlock_needs_the_right_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let held = store.lock("apply").unwrap();
        let id = held.info().id.clone();
        std::mem::forget(held);
        assert!(matches!(
            store.unlock("nope"),
            Err(StateError::WrongLockId { .. })
        ));
        store.unlock(&id).unwrap();
        store.lock("apply").unwrap();
    }
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn lock_of_a_dead_local_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), "demo");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let info = LockInfo {
            id: "old".into(),
            user: "u".into(),
            host: hostname(),
            pid: dead_pid,
            operation: "apply".into(),
            created_at: Utc::now(),
        };
        create_lock_file(&store.lock_path(), &info).unwrap();
        let lock = store.lock("apply").unwrap();
        assert_ne!(lock.info().id, "old");
        // A live holder (this process) is not taken over.
        assert!(matches!(store.lock("plan"), Err(StateError::Locked { .. })));
    }
}
