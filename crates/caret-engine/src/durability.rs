//! When an input is on the disk. The coordinator commits each input before any worker sees it (so `kill -9`
//! loses none), hands it to the workers, and only then has the commit put on the disk, on a blocking thread:
//! the workers look at Slack (`users.profile.get`) meanwhile, and wait for the disk only before a write
//! leaves for Slack. A power cut therefore never leaves Slack showing an input the desktop has forgotten,
//! and the fsync (about a millisecond) no longer sits on the way from a phone's state to Slack's request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use caret_store::StoreError;
use tokio::sync::watch;

/// Puts the inputs committed so far on the disk (blocking).
pub type SyncInputs = Arc<dyn Fn() -> caret_store::Result<()> + Send + Sync>;

/// Counts the inputs committed and those known to be on the disk.
pub(crate) struct InputsOnDisk {
    committed: AtomicU64,
    synced: watch::Sender<u64>,
}

impl InputsOnDisk {
    pub fn new() -> Arc<InputsOnDisk> {
        Arc::new(InputsOnDisk {
            committed: AtomicU64::new(0),
            synced: watch::channel(0).0,
        })
    }

    /// One more input committed (not yet on the disk); returns its number, for [`InputsOnDisk::synced`].
    pub fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Every input up to `through` is on the disk (a sync covers every commit made before it started).
    pub fn synced(&self, through: u64) {
        self.synced.send_if_modified(|synced| {
            let later = through > *synced;
            if later {
                *synced = through;
            }
            later
        });
    }

    /// Returns once every input committed so far is on the disk: at once, unless a sync is still under way.
    pub async fn wait(&self) {
        let needed = self.committed.load(Ordering::Acquire);
        if *self.synced.borrow() >= needed {
            return;
        }
        let mut synced = self.synced.subscribe();
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = synced.wait_for(|synced| *synced >= needed).await;
    }

    /// Counts an input just committed and has `sync` put it on the disk on a blocking thread. Called before
    /// the input is handed to the workers, so that their next write waits for it. A disk that refuses the
    /// sync (an I/O error) is reported by `on_error` and releases the writes all the same: the input stays
    /// committed (it survives `kill -9`), but a power cut may take it, and Linux may not try those pages
    /// again. Holding every write to Slack back until the disk recovers would stop syncing altogether.
    pub fn sync_in_background(
        self: &Arc<Self>,
        sync: impl FnOnce() -> caret_store::Result<()> + Send + 'static,
        on_error: impl FnOnce(StoreError) + Send + 'static,
    ) {
        let through = self.committed();
        let this = self.clone();
        let run = move || {
            if let Err(error) = sync() {
                on_error(error);
            }
            this.synced(through);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(run)),
            // Outside a runtime there are no async workers to keep free: the caller waits for the disk.
            Err(_) => run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_write_waits_for_every_input_committed_before_it_and_for_no_later_one() {
        let inputs = InputsOnDisk::new();
        inputs.wait().await;

        let first = inputs.committed();
        let waiting = tokio::spawn({
            let inputs = inputs.clone();
            async move { inputs.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "input 1 is not on the disk yet");
        let second = inputs.committed();
        inputs.synced(first);
        // The wait began when only input 1 was committed: input 2 does not hold it up.
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("released once input 1 is on the disk")
            .unwrap();
        let later = tokio::spawn({
            let inputs = inputs.clone();
            async move { inputs.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!later.is_finished(), "input 2 is not on the disk yet");
        inputs.synced(second);
        tokio::time::timeout(Duration::from_secs(5), later)
            .await
            .unwrap()
            .unwrap();
        // An older sync finishing late does not move the count back.
        inputs.synced(first);
        assert_eq!(*inputs.synced.borrow(), second);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sync_runs_off_the_async_workers_and_a_failure_still_releases_the_writes() {
        let inputs = InputsOnDisk::new();
        let (gate, opened) = std::sync::mpsc::channel::<()>();
        let (failed, failure) = std::sync::mpsc::channel();
        inputs.sync_in_background(
            move || {
                let _ = opened.recv();
                Err(StoreError::Sync {
                    path: "caret.sqlite3-wal".into(),
                    source: std::io::Error::other("disk full"),
                })
            },
            move |error| failed.send(error.to_string()).unwrap(),
        );
        let waiting = tokio::spawn({
            let inputs = inputs.clone();
            async move { inputs.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the sync is still under way");
        gate.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(failure.recv().unwrap().contains("disk full"));
    }
}
