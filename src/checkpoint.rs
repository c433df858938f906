//! When snapshots are taken and restored: every `snapshots.interval` for partitions with new
//! input, and before a partition is given up (revoke, shutdown); restored when a partition is
//! assigned. Only the capture of a partition's state happens under its lock, pausing that
//! partition only (the pause is measured and exported); encoding and writing happen on a
//! dedicated thread, in order, so consumption never waits for them except when a partition
//! is being handed over.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use crate::base::{Millis, PartitionId};
use crate::engine::{Capture, Engine};
use crate::internal_events::{SnapshotOperation, Telemetry};
use crate::lock;
use crate::snapshot::SnapshotStore;

/// Attempts at reading a store before a partition falls back to the reset policy.
const LOAD_ATTEMPTS: u32 = 3;

struct Job {
    partition: PartitionId,
    offset: i64,
    capture: Capture,
    pause: std::time::Duration,
    /// Signalled once the job is done, for callers that must wait.
    done: Option<mpsc::Sender<()>>,
}

/// Takes and restores the snapshots of one process's partitions.
pub struct Checkpointer {
    store: Option<Arc<dyn SnapshotStore>>,
    engine: Arc<Engine>,
    telemetry: Arc<Telemetry>,
    jobs: mpsc::Sender<Job>,
    /// Per partition, the offset of the newest snapshot queued (and not failed).
    queued: Arc<Mutex<HashMap<PartitionId, i64>>>,
}

impl Checkpointer {
    /// `store = None` disables snapshots (`snapshots.store = "none"`).
    pub fn new(store: Option<Arc<dyn SnapshotStore>>, engine: Arc<Engine>, telemetry: Arc<Telemetry>) -> Self {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let queued = Arc::new(Mutex::new(HashMap::new()));
        if let Some(store) = store.clone() {
            let (telemetry, queued) = (Arc::clone(&telemetry), Arc::clone(&queued));
            std::thread::Builder::new()
                .name("snapshot-writer".into())
                .spawn(move || {
                    for job in receiver {
                        let bytes = job.capture.seal();
                        match store.save(&job.partition, &bytes) {
                            Ok(()) => telemetry.snapshot_saved(&job.partition, bytes.len(), job.pause),
                            Err(error) => {
                                telemetry.snapshot_failed(SnapshotOperation::Save, &job.partition, error.reason(), &error);
                                // Forget it was queued, so the next round tries again.
                                let mut queued = lock(&queued);
                                if queued.get(&job.partition) == Some(&job.offset) {
                                    queued.remove(&job.partition);
                                }
                            }
                        }
                        if let Some(done) = job.done {
                            let _ = done.send(());
                        }
                    }
                })
                .expect("spawn the snapshot writer thread");
        }
        Self { store, engine, telemetry, jobs, queued }
    }

    /// Snapshots `partitions` (all held, when `None`) that took input since their last
    /// snapshot. With `wait`, returns once they are written (or failed).
    pub fn checkpoint(&self, partitions: Option<&[PartitionId]>, wait: bool) {
        if self.store.is_none() {
            return;
        }
        let partitions = match partitions {
            Some(p) => p.to_vec(),
            None => self.engine.partition_ids(),
        };
        let (done, finished) = mpsc::channel();
        let mut pending = 0;
        for partition in partitions {
            let started = Instant::now();
            let unchanged = self.engine.next_offset(&partition).is_some_and(|o| lock(&self.queued).get(&partition) == Some(&o));
            if unchanged {
                continue;
            }
            let Some(capture) = self.engine.capture(&partition) else { continue };
            let offset = capture.offset();
            lock(&self.queued).insert(partition.clone(), offset);
            let job = Job { partition, offset, capture, pause: started.elapsed(), done: wait.then(|| done.clone()) };
            if self.jobs.send(job).is_ok() && wait {
                pending += 1;
            }
        }
        for _ in 0..pending {
            let _ = finished.recv();
        }
    }

    /// Loads the newest usable snapshot of `partition` into the engine and returns the offset
    /// to resume at; `None` when there is none (the reset policy applies). Unusable snapshots
    /// are reported and skipped in favour of older ones.
    pub fn restore(&self, partition: &PartitionId, now: Millis) -> Option<i64> {
        let store = self.store.as_ref()?;
        let mut attempt = 1;
        let stored = loop {
            match store.load(partition) {
                Ok(stored) => break stored,
                Err(error) => {
                    self.telemetry.snapshot_failed(SnapshotOperation::Load, partition, error.reason(), &error);
                    if attempt == LOAD_ATTEMPTS {
                        tracing::error!(?partition, "snapshot store unreadable; starting from kafka.auto_offset_reset");
                        return None;
                    }
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        };
        let found = stored.len();
        for candidate in stored {
            match candidate.bytes.and_then(|bytes| self.engine.restore(partition, &bytes, Some(now))) {
                Ok(offset) => {
                    self.telemetry.snapshot_restored(partition, &candidate.name, offset);
                    lock(&self.queued).insert(partition.clone(), offset);
                    return Some(offset);
                }
                Err(error) => {
                    tracing::error!(?partition, snapshot = %candidate.name, "skipping an unusable snapshot");
                    self.telemetry.snapshot_failed(SnapshotOperation::Load, partition, error.reason(), &error);
                }
            }
        }
        if found > 0 {
            tracing::error!(?partition, found, "no usable snapshot; starting from kafka.auto_offset_reset");
        }
        None
    }

    /// Forgets what was queued for partitions this process gave up.
    pub fn forget(&self, partitions: &[PartitionId]) {
        let mut queued = lock(&self.queued);
        for p in partitions {
            queued.remove(p);
        }
    }
}
