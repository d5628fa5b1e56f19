//! Group commit for intents: a step that must know its intent is on disk before calling the
//! cloud waits here. One fsync runs at a time, off the async workers, and covers every entry
//! written before it started; the steps that wrote meanwhile wait for the next one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hoist_state::Journal;
use tokio::sync::watch;

pub(super) struct Durable {
    journal: Arc<Journal>,
    /// The highest sequence number known on disk.
    synced: watch::Sender<u64>,
    syncing: AtomicBool,
}

impl Durable {
    pub fn new(journal: Arc<Journal>) -> Self {
        Self {
            journal,
            synced: watch::Sender::new(0),
            syncing: AtomicBool::new(false),
        }
    }

    /// Return once entry `seq` is on disk.
    pub async fn through(&self, seq: u64) -> Result<(), String> {
        let mut seen = self.synced.subscribe();
        loop {
            if *seen.borrow_and_update() >= seq {
                return Ok(());
            }
            if !self.syncing.swap(true, Ordering::SeqCst) {
                let journal = self.journal.clone();
                let result = tokio::task::spawn_blocking(move || journal.sync_all()).await;
                self.syncing.store(false, Ordering::SeqCst);
                // Waiters wake either way: after a failure, the next of them tries again.
                let done = match result {
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => {
                        self.synced.send_modify(|_| {});
                        return Err(e.to_string());
                    }
                    Err(e) => {
                        self.synced.send_modify(|_| {});
                        return Err(format!("journal sync stopped: {e}"));
                    }
                };
                self.synced.send_modify(|s| *s = (*s).max(done));
                continue;
            }
            if seen.changed().await.is_err() {
                return Err("journal sync stopped".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_state::{JournalEntry, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_fsync_serves_every_waiter_and_each_returns() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Store::new(dir.path(), "env").lock("test").unwrap();
        let journal = Arc::new(lock.journal());
        let durable = Arc::new(Durable::new(journal.clone()));
        let seqs: Vec<u64> = (0..64)
            .map(|i| {
                let entry = JournalEntry::Abandoned {
                    address: hoist_provider::Address::new("node_pool", format!("p{i}")),
                    token: format!("t{i}"),
                };
                journal.write(&entry).unwrap()
            })
            .collect();
        let waits = seqs.into_iter().map(|seq| {
            let durable = durable.clone();
            tokio::spawn(async move { durable.through(seq).await })
        });
        for wait in futures::future::join_all(waits).await {
            wait.unwrap().unwrap();
        }
        assert_eq!(journal.syncs(), 1, "the first sync covered all 64");
        assert_eq!(journal.read().unwrap().len(), 64);
    }
}
