//! State in an object store, for runs on machines that share nothing else (CI jobs).
//!
//! - `ENV.lock` is created only where none exists (`If-None-Match: *`) and names its holder.
//!   It carries a lease: a thread of the holder rewrites it (`If-Match` its last version)
//!   every third of the lease. A holder that is killed stops renewing, and once the lease
//!   has lapsed the next run takes the lock over with a write conditional on the lapsed
//!   version, so of two runs that both see it lapsed exactly one gets it.
//! - `ENV.state.json` is written only over the version the holder last read or wrote
//!   (`If-Match`), or only where none exists for a new environment, so even a holder whose
//!   lease was broken cannot overwrite what another wrote since. The version it replaces is
//!   copied to `ENV.state.json.backup` first.
//! - `ENV.journal` holds the crash journal, so the next job, on any machine, recovers it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::Utc;
use hoist_provider::{ObjectStore, Precondition, StoreError, StoredObject};

use crate::{LockInfo, State, StateError, Store};

fn failed(store: &Store, what: &str) -> impl Fn(StoreError) -> StateError {
    let location = format!("{}/{}", store_location(store), what);
    move |error| StateError::Remote {
        location: location.clone(),
        error,
    }
}

fn store_location(store: &Store) -> String {
    store.backend().location()
}

/// The state, or `None` for a new environment.
pub(crate) fn read_state(
    store: &Store,
    remote: &Arc<dyn ObjectStore>,
) -> Result<Option<State>, StateError> {
    let key = store.key(".state.json");
    match remote.get(&key).map_err(failed(store, &key))? {
        None => Ok(None),
        Some(o) => Ok(Some(store.parse_state(&String::from_utf8_lossy(&o.bytes))?)),
    }
}

fn read_lock(
    remote: &Arc<dyn ObjectStore>,
    key: &str,
) -> Result<Option<(LockInfo, String)>, StoreError> {
    Ok(remote.get(key)?.map(|o| {
        let info = serde_json::from_slice(&o.bytes).unwrap_or_else(|_| unreadable_lock());
        (info, o.version)
    }))
}

/// A lock object that is not hoist's JSON: treated as held, never as lapsed.
fn unreadable_lock() -> LockInfo {
    let mut info = LockInfo::for_this_process("unknown");
    info.id = "unreadable".into();
    info.user = "unknown".into();
    info.host = "unknown".into();
    info.pid = 0;
    info.boot_id = None;
    info.ci_run = None;
    info
}

fn lock_body(info: &LockInfo) -> Vec<u8> {
    serde_json::to_vec_pretty(info).expect("lock info serializes")
}

/// Take the lock of `store`'s environment, or say who holds it.
pub(crate) fn acquire(
    store: &Store,
    remote: Arc<dyn ObjectStore>,
    operation: &str,
) -> Result<(LockInfo, Lease), StateError> {
    let key = store.key(".lock");
    let fail = failed(store, &key);
    let mut info = LockInfo::for_this_process(operation);
    info.lease_seconds = Some(store.lease().as_secs().max(1));
    info.renewed_at = Some(info.created_at);
    let version = match remote.put(&key, &lock_body(&info), Precondition::Absent) {
        Ok(v) => v,
        Err(StoreError::Conflict) => take_over(store, &remote, &key, &info)?,
        Err(e) => return Err(fail(e)),
    };
    let lease = Lease::start(remote, key, info.clone(), version, store.lease());
    Ok((info, lease))
}

/// The lock exists: take it over if its lease lapsed, else refuse naming the holder.
fn take_over(
    store: &Store,
    remote: &Arc<dyn ObjectStore>,
    key: &str,
    info: &LockInfo,
) -> Result<String, StateError> {
    let fail = failed(store, key);
    let Some((held, version)) = read_lock(remote, key).map_err(&fail)? else {
        // Released between the two calls: try once more to create it.
        return remote
            .put(key, &lock_body(info), Precondition::Absent)
            .map_err(|e| match e {
                StoreError::Conflict => locked(store, None),
                e => fail(e),
            });
    };
    let lapsed = held.expires_at().is_some_and(|at| at < Utc::now());
    if !lapsed {
        return Err(locked(store, Some(held)));
    }
    remote
        .put(key, &lock_body(info), Precondition::Version(version))
        .map_err(|e| match e {
            StoreError::Conflict => {
                locked(store, read_lock(remote, key).ok().flatten().map(|(i, _)| i))
            }
            e => fail(e),
        })
}

fn locked(store: &Store, held: Option<LockInfo>) -> StateError {
    let hint = format!(
        "wait for that run to finish; if it was killed, its lease lapses by itself{}, or break it now with `hoist unlock ID`",
        held.as_ref()
            .and_then(|h| h.lease_seconds)
            .map(|s| format!(" ({s}s after its last renewal)"))
            .unwrap_or_default()
    );
    StateError::Locked {
        path: store.lock_path(),
        info: Box::new(held.unwrap_or_else(unreadable_lock)),
        hint,
    }
}

/// Who holds the lock now, if its lease has not lapsed.
pub(crate) fn holder(store: &Store, remote: &Arc<dyn ObjectStore>) -> Option<LockInfo> {
    let (info, _) = read_lock(remote, &store.key(".lock")).ok()??;
    let lapsed = info.expires_at().is_some_and(|at| at < Utc::now());
    (!lapsed).then_some(info)
}

/// Break the lock with `id` at once.
pub(crate) fn force_unlock(
    store: &Store,
    remote: &Arc<dyn ObjectStore>,
    id: &str,
) -> Result<LockInfo, StateError> {
    let key = store.key(".lock");
    let fail = failed(store, &key);
    let Some((info, version)) = read_lock(remote, &key).map_err(&fail)? else {
        return Err(StateError::NotLocked {
            path: store.lock_path(),
        });
    };
    if info.id != id {
        return Err(StateError::WrongLockId {
            path: store.lock_path(),
            given: id.into(),
            held: info.id,
        });
    }
    remote.delete(&key, Some(&version)).map_err(fail)?;
    Ok(info)
}

/// A held remote lock: renewed by a thread until dropped, then deleted.
#[derive(Debug)]
pub struct Lease {
    shared: Arc<Shared>,
    renewer: Option<std::thread::JoinHandle<()>>,
    /// The state object's version this holder last read or wrote, and its bytes (the backup
    /// of the next write).
    state: Mutex<Option<StoredObject>>,
}

#[derive(Debug)]
struct Shared {
    remote: Arc<dyn ObjectStore>,
    key: String,
    info: Mutex<(LockInfo, String)>,
    stop: (Mutex<bool>, Condvar),
    /// Set when a renewal found the lock taken over or broken.
    lost: AtomicBool,
}

impl Lease {
    fn start(
        remote: Arc<dyn ObjectStore>,
        key: String,
        info: LockInfo,
        version: String,
        lease: Duration,
    ) -> Lease {
        let shared = Arc::new(Shared {
            remote,
            key,
            info: Mutex::new((info, version)),
            stop: (Mutex::new(false), Condvar::new()),
            lost: AtomicBool::new(false),
        });
        let s = shared.clone();
        let every = (lease / 3).max(Duration::from_millis(200));
        let renewer = std::thread::Builder::new()
            .name("hoist-lease".into())
            .spawn(move || s.renew_every(every))
            .ok();
        Lease {
            shared,
            renewer,
            state: Mutex::new(None),
        }
    }

    pub(crate) fn store(&self) -> Arc<dyn ObjectStore> {
        self.shared.remote.clone()
    }

    fn check_held(&self, store: &Store) -> Result<(), StateError> {
        if self.shared.lost.load(Ordering::SeqCst) {
            return Err(StateError::LockLost {
                path: store.lock_path(),
            });
        }
        Ok(())
    }

    pub(crate) fn load(&self, store: &Store) -> Result<Option<State>, StateError> {
        let key = store.key(".state.json");
        let object = self.shared.remote.get(&key).map_err(failed(store, &key))?;
        let state = match &object {
            Some(o) => Some(store.parse_state(&String::from_utf8_lossy(&o.bytes))?),
            None => None,
        };
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = object;
        Ok(state)
    }

    pub(crate) fn save(&self, store: &Store, state: &State) -> Result<(), StateError> {
        self.check_held(store)?;
        let mut last = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = store.key(".state.json");
        if let Some(previous) = last.as_ref() {
            let backup = store.key(".state.json.backup");
            self.shared
                .remote
                .put(&backup, &previous.bytes, Precondition::None)
                .map_err(failed(store, &backup))?;
        }
        let mut body = serde_json::to_vec_pretty(state).expect("state serializes");
        body.push(b'\n');
        let when = match last.as_ref() {
            Some(o) => Precondition::Version(o.version.clone()),
            None => Precondition::Absent,
        };
        let version = self
            .shared
            .remote
            .put(&key, &body, when)
            .map_err(|e| match e {
                StoreError::Conflict => StateError::StateMoved {
                    path: store.state_path(),
                },
                e => failed(store, &key)(e),
            })?;
        *last = Some(StoredObject {
            bytes: body,
            version,
        });
        write_summary(store, &self.shared.remote, state);
        Ok(())
    }
}

impl Shared {
    fn renew_every(&self, every: Duration) {
        let (stop, wake) = &self.stop;
        let mut stopped = stop.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            // Stopped before this thread first waited: the wake-up was already sent.
            if *stopped {
                return;
            }
            let (guard, _) = wake
                .wait_timeout(stopped, every)
                .unwrap_or_else(|e| e.into_inner());
            stopped = guard;
            if *stopped {
                return;
            }
            if !self.renew() {
                return;
            }
        }
    }

    /// Rewrite the lock with a new `renewed_at`; `false` once the lock is no longer ours.
    fn renew(&self) -> bool {
        let mut held = self.info.lock().unwrap_or_else(|e| e.into_inner());
        held.0.renewed_at = Some(Utc::now());
        let when = Precondition::Version(held.1.clone());
        match self.remote.put(&self.key, &lock_body(&held.0), when) {
            Ok(v) => {
                held.1 = v;
                true
            }
            Err(StoreError::Conflict) => {
                self.lost.store(true, Ordering::SeqCst);
                false
            }
            // A failed renewal is tried again at the next tick; the lease has two more.
            Err(_) => true,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.shared.stop.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.stop.1.notify_all();
        if let Some(t) = self.renewer.take() {
            let _ = t.join();
        }
        if !self.shared.lost.load(Ordering::SeqCst) {
            let held = self.shared.info.lock().unwrap_or_else(|e| e.into_inner());
            let _ = self.shared.remote.delete(&self.shared.key, Some(&held.1));
        }
    }
}

/// What `hoist envs` shows of an environment, kept in the key of an empty object beside its
/// state (`.summaries/ENV/<base64url JSON>`), so one list call describes a whole backend
/// (reading a thousand states one by one takes seconds).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub serial: u64,
    pub cloud: String,
    pub region: String,
    pub created_at: chrono::DateTime<Utc>,
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<Utc>>,
    pub resources: usize,
    /// Each pool's instance type, capacity and desired nodes.
    pub pools: Vec<(Option<String>, String, u64)>,
}

const SUMMARIES: &str = ".summaries/";
/// S3 keys are at most 1,024 bytes; a longer summary is not kept (`envs` reads the state).
const MAX_KEY: usize = 900;

impl Summary {
    pub fn of(state: &State) -> Summary {
        let pools = state
            .resources
            .values()
            .filter_map(|r| hoist_provider::PoolNodes::of(&r.address, &r.attrs))
            .map(|p| (p.instance_type, p.capacity, p.desired))
            .collect();
        Summary {
            serial: state.serial,
            cloud: state.provider.clone(),
            region: state.region.clone(),
            created_at: state.created_at,
            expires_at: state.expires_at,
            resources: state.resources.len() + state.deposed.len(),
            pools,
        }
    }

    /// The pools as [`hoist_provider::PoolNodes`], for pricing.
    pub fn pool_nodes(&self) -> Vec<hoist_provider::PoolNodes> {
        self.pools
            .iter()
            .map(|(t, c, d)| hoist_provider::PoolNodes {
                instance_type: t.clone(),
                capacity: c.clone(),
                desired: *d,
                max: *d,
            })
            .collect()
    }

    fn key(&self, env: &str) -> Option<String> {
        use base64::Engine;
        let json = serde_json::to_vec(self).ok()?;
        let key = format!(
            "{SUMMARIES}{env}/{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        );
        (key.len() <= MAX_KEY).then_some(key)
    }

    /// The environment and summary a listed key holds, if it is a summary's.
    pub(crate) fn parse(key: &str) -> Option<(String, Summary)> {
        use base64::Engine;
        let (env, encoded) = key.strip_prefix(SUMMARIES)?.split_once('/')?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()?;
        Some((env.to_string(), serde_json::from_slice(&json).ok()?))
    }
}

/// Replace the environment's summary with `state`'s (best effort: a listing falls back to
/// reading the state when there is none).
fn write_summary(store: &Store, remote: &Arc<dyn ObjectStore>, state: &State) {
    let Some(key) = Summary::of(state).key(store.env()) else {
        return;
    };
    if remote.put(&key, b"", Precondition::None).is_err() {
        return;
    }
    let old = remote
        .list(&format!("{SUMMARIES}{}/", store.env()))
        .unwrap_or_default();
    for k in old.iter().filter(|k| **k != key) {
        let _ = remote.delete(k, None);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Backend;

    /// An object store with S3's conditional-write semantics, in memory.
    #[derive(Debug, Default)]
    struct Memory {
        objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
        next: std::sync::atomic::AtomicU64,
    }

    impl ObjectStore for Memory {
        fn location(&self) -> String {
            "mem://test".into()
        }
        fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
            let objects = self.objects.lock().unwrap();
            Ok(objects.get(key).map(|(b, v)| StoredObject {
                bytes: b.clone(),
                version: v.to_string(),
            }))
        }
        fn put(&self, key: &str, bytes: &[u8], when: Precondition) -> Result<String, StoreError> {
            let mut objects = self.objects.lock().unwrap();
            let current = objects.get(key).map(|(_, v)| v.to_string());
            let ok = match &when {
                Precondition::None => true,
                Precondition::Absent => current.is_none(),
                Precondition::Version(v) => current.as_ref() == Some(v),
            };
            if !ok {
                return Err(StoreError::Conflict);
            }
            let v = self.next.fetch_add(1, Ordering::SeqCst) + 1;
            objects.insert(key.into(), (bytes.to_vec(), v));
            Ok(v.to_string())
        }
        fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError> {
            let mut objects = self.objects.lock().unwrap();
            let current = objects.get(key).map(|(_, v)| v.to_string());
            if version.is_some_and(|v| current.as_deref().is_some_and(|c| c != v)) {
                return Err(StoreError::Conflict);
            }
            objects.remove(key);
            Ok(())
        }
        fn list(&self, start: &str) -> Result<Vec<String>, StoreError> {
            let objects = self.objects.lock().unwrap();
            Ok(objects
                .keys()
                .filter(|k| k.starts_with(start))
                .cloned()
                .collect())
        }
    }

    fn store(memory: &Arc<Memory>, lease: Duration) -> Store {
        Store::at(Backend::Remote(memory.clone()), "demo").with_lease(lease)
    }

    #[test]
    fn a_second_run_is_refused_until_the_lease_lapses_then_takes_the_lock_over() {
        let memory = Arc::new(Memory::default());
        let first = store(&memory, Duration::from_secs(1))
            .lock("apply")
            .unwrap();
        let err = store(&memory, Duration::from_secs(1))
            .lock("plan")
            .unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
        // Renewed while it runs: still held after more than a lease.
        std::thread::sleep(Duration::from_millis(1500));
        assert!(store(&memory, Duration::from_secs(1)).lock("plan").is_err());
        // A holder killed: its record stays, renewed two seconds ago for a one-second lease.
        let mut dead = first.info().clone();
        drop(first);
        dead.renewed_at = Some(Utc::now() - chrono::Duration::seconds(2));
        memory
            .put("demo.lock", &lock_body(&dead), Precondition::Absent)
            .unwrap();
        let second = store(&memory, Duration::from_secs(60))
            .lock("apply")
            .unwrap();
        assert_eq!(
            store(&memory, Duration::from_secs(60)).holder().unwrap().id,
            second.info().id
        );
        drop(second);
        assert!(
            memory.get("demo.lock").unwrap().is_none(),
            "released on drop"
        );
    }

    #[test]
    fn a_holder_whose_lock_was_broken_cannot_overwrite_the_state_written_since() {
        let memory = Arc::new(Memory::default());
        let lease = Duration::from_secs(60);
        let old = store(&memory, lease).lock("apply").unwrap();
        let mut state = State::new("demo", "sim", "sim-east1");
        old.save(&state).unwrap();
        assert!(old.load().unwrap().is_some());
        // Someone breaks the lock and another run writes a new state.
        store(&memory, lease)
            .unlock(&old.info().id.clone())
            .unwrap();
        let new = store(&memory, lease).lock("apply").unwrap();
        let mut theirs = new.load().unwrap().unwrap();
        theirs.serial = 5;
        new.save(&theirs).unwrap();
        state.serial = 1;
        let err = old.save(&state).unwrap_err();
        assert!(matches!(err, StateError::StateMoved { .. }), "{err}");
        assert_eq!(
            new.load().unwrap().unwrap().serial,
            5,
            "nothing overwritten"
        );
        let backup: State =
            serde_json::from_slice(&memory.get("demo.state.json.backup").unwrap().unwrap().bytes)
                .unwrap();
        assert_eq!(backup.serial, 0, "the version replaced is kept");
    }

    #[test]
    fn the_journal_lives_beside_the_state_and_a_summary_in_a_key() {
        let memory = Arc::new(Memory::default());
        let lock = store(&memory, Duration::from_secs(60))
            .lock("apply")
            .unwrap();
        let journal = lock.journal();
        let entry = crate::JournalEntry::Abandoned {
            address: hoist_provider::Address::new("node_pool", "gpu"),
            token: "t".into(),
        };
        journal.write(&entry).unwrap();
        journal.sync_all().unwrap();
        assert_eq!(lock.journal().read().unwrap(), vec![entry]);
        lock.save(&State::new("demo", "sim", "sim-east1")).unwrap();
        journal.clear().unwrap();
        assert!(lock.journal().read().unwrap().is_empty());
        let listed = Backend::Remote(memory.clone()).environments().unwrap();
        let demo = &listed["demo"];
        assert!(demo.locked);
        assert_eq!(demo.summary.as_ref().unwrap().cloud, "sim");
    }
}
