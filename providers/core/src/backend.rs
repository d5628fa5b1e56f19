//! Remote state: the few object-store calls a state backend needs, which each cloud's crate
//! implements with its own SDK (S3 in `hoist-aws`). Conditional writes are the whole point:
//! a state is written only over the version its writer read, and a lock is created only
//! where none exists, so no two writers can silently overwrite each other.

use std::fmt;

/// One stored object and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    /// The store's version of the object (S3's ETag), for a later conditional write.
    pub version: String,
}

/// When a write may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Always (the writer holds the lock and owns the object, e.g. the journal).
    None,
    /// Only when the object does not exist (`If-None-Match: *`).
    Absent,
    /// Only when the object is still at this version (`If-Match`).
    Version(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The precondition did not hold: another writer got there first.
    Conflict,
    /// The store refused the caller (credentials, a bucket policy).
    Denied(String),
    /// Anything else the store said, or a network failure, in words.
    Failed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict => write!(f, "the object changed since it was read"),
            StoreError::Denied(m) => write!(f, "access denied: {m}"),
            StoreError::Failed(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A bucket and prefix that holds environments' state, locks and journals. Keys are relative
/// to the prefix. Calls block: the state layer is synchronous, as file IO is.
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Where this is, as a user writes it (`s3://bucket/prefix`).
    fn location(&self) -> String;
    fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError>;
    /// Write `bytes` at `key` when `when` holds; returns the new version.
    fn put(&self, key: &str, bytes: &[u8], when: Precondition) -> Result<String, StoreError>;
    /// Delete `key` (when it is still at `version`, if given); deleting what is gone is fine.
    fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError>;
    /// Every key under the prefix that starts with `start`.
    fn list(&self, start: &str) -> Result<Vec<String>, StoreError>;
}

/// A remote backend as a user names it: `s3://bucket/prefix`, with the region when the
/// blueprint gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrl {
    pub scheme: String,
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
    pub region: Option<String>,
}

impl BackendUrl {
    /// `scheme://bucket/prefix`, or why not.
    pub fn parse(url: &str) -> Result<BackendUrl, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("{url:?} is not a backend URL (`s3://BUCKET/PREFIX` or `file:///PATH`)")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() && scheme != "file" {
            return Err(format!("{url:?} names no bucket"));
        }
        Ok(BackendUrl {
            scheme: scheme.to_ascii_lowercase(),
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            region: None,
        })
    }

    /// The key of `name` under the prefix.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.into()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}
