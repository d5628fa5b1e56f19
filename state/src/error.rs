use std::path::PathBuf;

use crate::LockInfo;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{} failed: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("state file {}:{line}:{column} is corrupt: {message}\n  = hint: the file was left untouched; restore {} or fix the file by hand", path.display(), backup.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        backup: PathBuf,
    },
    #[error("state file {} has format version {found}, newer than this hoist understands ({supported})\n  = hint: upgrade hoist; the file was left untouched", path.display())]
    NewerVersion {
        path: PathBuf,
        found: u64,
        supported: u32,
    },
    #[error("state file {} belongs to environment {found:?}, not {expected:?}\n  = hint: each environment has its own state file; check `name:` in the blueprint", path.display())]
    WrongEnvironment {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("environment is locked by another run: {info}\n  lock file: {}\n  = hint: {hint}", path.display())]
    Locked {
        path: PathBuf,
        info: Box<LockInfo>,
        hint: String,
    },
    #[error("no lock is held on {}", path.display())]
    NotLocked { path: PathBuf },
    #[error("the lock on {} is held by a running process: {info}\n  = hint: a live lock cannot be broken; wait for that run or stop it (it releases the lock when it ends, even when killed)", path.display())]
    HeldByLiveRun { path: PathBuf, info: Box<LockInfo> },
    #[error("cannot record the lock holder in {}: {error}\n  = hint: free some space (the disk may be full); nothing was changed and the lock was released", path.display())]
    LockRecord {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("lock id {given:?} does not match the held lock {held:?}\n  = hint: copy the id from the `locked` error or `{}`", path.display())]
    WrongLockId {
        path: PathBuf,
        given: String,
        held: String,
    },
    #[error("{location}: {error}\n  = hint: check the backend's credentials and that the bucket exists; nothing was changed by this call")]
    Remote {
        location: String,
        error: hoist_provider::StoreError,
    },
    #[error("state {} was written by another run since this one read it; this run's state was not saved over it\n  = hint: the journal keeps this run's steps; run the command again to recover them into the new state", path.display())]
    StateMoved { path: PathBuf },
    #[error("this run lost its lock on {}: its lease lapsed or it was broken with `hoist unlock`, and another run may hold it now\n  = hint: nothing more is saved by this run; its steps are in the journal for the next run to recover", path.display())]
    LockLost { path: PathBuf },
    #[error("journal {}:{line} is corrupt: {message}\n  = hint: the journal records an interrupted run; move it aside only after checking the cloud by hand", path.display())]
    CorruptJournal {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        error: source,
    }
}
