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
use crate::internal_events::{SnapshotFailed, SnapshotOperation, SnapshotRestored, SnapshotSaved, Telemetry};
use crate::lock;
use crate::snapshot::SnapshotStore;

/// The `reason` of a save that panicked (`ticketpulse_snapshot_failures_total`).
pub(crate) const SAVE_PANICKED: &str = "panic";

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str));
    format!("panicked: {}", text.unwrap_or("(no message)"))
}

/// Attempts at reading a store before a partition falls back to the reset policy.
const LOAD_ATTEMPTS: u32 = 3;

struct Job {
    partition: PartitionId,
    offset: i64,
    capture: Capture,
    pause: std::time::Duration,
    /// Counts the job as being written until it is done, or dropped with a panicked writer.
    writing: Writing,
    /// Signalled once the job is done (with whether it was saved), for callers that must wait.
    done: Option<mpsc::Sender<bool>>,
}

/// Per partition, how many of its captures wait for the writer or are being written.
type WritingCounts = Arc<Mutex<HashMap<PartitionId, usize>>>;

/// One capture counted in [`WritingCounts`] for as long as it lives.
struct Writing {
    counts: WritingCounts,
    partition: PartitionId,
}

impl Writing {
    fn new(counts: &WritingCounts, partition: &PartitionId) -> Self {
        *lock(counts).entry(partition.clone()).or_default() += 1;
        Self { counts: Arc::clone(counts), partition: partition.clone() }
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.partition) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.partition);
            }
        }
    }
}

/// Takes and restores the snapshots of one process's partitions.
pub struct Checkpointer {
    store: Option<Arc<dyn SnapshotStore>>,
    engine: Arc<Engine>,
    telemetry: Arc<Telemetry>,
    jobs: mpsc::Sender<Job>,
    /// Per partition, the offset of the newest snapshot queued (and not failed).
    queued: Arc<Mutex<HashMap<PartitionId, i64>>>,
    /// Captures being written: a periodic snapshot of a partition is not taken while one of
    /// its own is, as a store slower than the interval would otherwise queue captures without
    /// bound, each holding its own copy of every ticket changed since the one before.
    writing: WritingCounts,
}

impl Checkpointer {
    /// `store = None` disables snapshots (`snapshots.store = "none"`).
    pub fn new(store: Option<Arc<dyn SnapshotStore>>, engine: Arc<Engine>, telemetry: Arc<Telemetry>) -> Self {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let queued = Arc::new(Mutex::new(HashMap::new()));
        let writing = WritingCounts::default();
        if let Some(store) = store.clone() {
            let (telemetry, queued, engine) = (Arc::clone(&telemetry), Arc::clone(&queued), Arc::clone(&engine));
            std::thread::Builder::new()
                .name("snapshot-writer".into())
                .spawn(move || {
                    for job in receiver {
                        // A panic (a defect of encoding or of the store) fails this snapshot
                        // only: counted like any failed save, and the writer goes on with the
                        // next, rather than stop and leave every later snapshot unwritten.
                        let totals = job.capture.totals();
                        let saved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            let bytes = job.capture.seal();
                            store.save(&job.partition, &bytes).map(|()| bytes.len())
                        }));
                        let failed = match saved {
                            Ok(Ok(bytes)) => {
                                telemetry.emit(SnapshotSaved { partition: &job.partition, bytes, pause: job.pause });
                                // Saved, so a restart or a new owner finds these totals: shown now.
                                engine.publish(&job.partition, job.offset, totals);
                                false
                            }
                            Ok(Err(error)) => {
                                telemetry.emit(SnapshotFailed {
                                    operation: SnapshotOperation::Save,
                                    partition: &job.partition,
                                    reason: error.reason(),
                                    error: &error,
                                });
                                true
                            }
                            Err(panic) => {
                                let error = panic_message(panic.as_ref());
                                telemetry.emit(SnapshotFailed {
                                    operation: SnapshotOperation::Save,
                                    partition: &job.partition,
                                    reason: SAVE_PANICKED,
                                    error: &error,
                                });
                                true
                            }
                        };
                        if failed {
                            // Forget it was queued, so the next round tries again.
                            let mut queued = lock(&queued);
                            if queued.get(&job.partition) == Some(&job.offset) {
                                queued.remove(&job.partition);
                            }
                        }
                        drop(job.writing);
                        if let Some(done) = job.done {
                            let _ = done.send(!failed);
                        }
                    }
                })
                .expect("spawn the snapshot writer thread");
        }
        Self { store, engine, telemetry, jobs, queued, writing }
    }

    /// Snapshots `partitions` (all held, when `None`) that took input since their last
    /// snapshot. With `wait`, returns once they are written (or failed), and whether every
    /// one was written; without, skips those with a snapshot still being written (the next
    /// round takes them). Without a store there is nothing to write: `false`.
    pub fn checkpoint(&self, partitions: Option<&[PartitionId]>, wait: bool) -> bool {
        if self.store.is_none() {
            return false;
        }
        let partitions = match partitions {
            Some(p) => p.to_vec(),
            None => self.engine.partition_ids(),
        };
        let (done, finished) = mpsc::channel();
        let (mut sent, mut unsent) = (0, 0);
        for partition in partitions {
            let started = Instant::now();
            let unchanged = self.engine.next_offset(&partition).is_some_and(|o| lock(&self.queued).get(&partition) == Some(&o));
            if unchanged || (!wait && lock(&self.writing).contains_key(&partition)) {
                continue;
            }
            let Some(capture) = self.engine.capture(&partition) else { continue };
            let offset = capture.offset();
            lock(&self.queued).insert(partition.clone(), offset);
            let writing = Writing::new(&self.writing, &partition);
            let job = Job { partition, offset, capture, pause: started.elapsed(), writing, done: wait.then(|| done.clone()) };
            match self.jobs.send(job) {
                Ok(()) => sent += 1,
                // The writer thread is gone: nothing is being written.
                Err(job) => {
                    unsent += 1;
                    tracing::error!(partition = ?job.0.partition, "the snapshot writer stopped; no snapshot is written");
                }
            }
        }
        // Ends once every job sent is done, or dropped by a writer that panicked on it.
        drop(done);
        let (mut acknowledged, mut saved) = (0, true);
        for ok in finished {
            acknowledged += 1;
            saved &= ok;
        }
        wait && saved && acknowledged == sent && unsent == 0
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
                    self.telemetry.emit(SnapshotFailed {
                        operation: SnapshotOperation::Load,
                        partition,
                        reason: error.reason(),
                        error: &error,
                    });
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
                    self.telemetry.emit(SnapshotRestored { partition, name: &candidate.name, offset });
                    lock(&self.queued).insert(partition.clone(), offset);
                    return Some(offset);
                }
                Err(error) => {
                    tracing::error!(?partition, snapshot = %candidate.name, "skipping an unusable snapshot");
                    self.telemetry.emit(SnapshotFailed {
                        operation: SnapshotOperation::Load,
                        partition,
                        reason: error.reason(),
                        error: &error,
                    });
                }
            }
        }
        if found > 0 {
            tracing::error!(?partition, found, "no usable snapshot; starting from kafka.auto_offset_reset");
        }
        None
    }

    /// Forgets what was queued for partitions this process gave up (what is being written
    /// still counts until written).
    pub fn forget(&self, partitions: &[PartitionId]) {
        let mut queued = lock(&self.queued);
        for p in partitions {
            queued.remove(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::Rules;
    use crate::snapshot::{SnapshotError, Stored};

    /// Records each save, once `gate` lets it through.
    #[derive(Default)]
    struct GatedStore {
        gate: Mutex<()>,
        saved: Mutex<Vec<Vec<u8>>>,
    }

    impl SnapshotStore for GatedStore {
        fn save(&self, _: &PartitionId, bytes: &[u8]) -> Result<(), SnapshotError> {
            drop(lock(&self.gate));
            lock(&self.saved).push(bytes.to_vec());
            Ok(())
        }
        fn load(&self, _: &PartitionId) -> Result<Vec<Stored>, SnapshotError> {
            Ok(Vec::new())
        }
    }

    /// Panics on every save.
    struct PanickingStore;

    impl SnapshotStore for PanickingStore {
        fn save(&self, _: &PartitionId, _: &[u8]) -> Result<(), SnapshotError> {
            panic!("a save that panics");
        }
        fn load(&self, _: &PartitionId) -> Result<Vec<Stored>, SnapshotError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_waited_snapshot_returns_when_the_writer_panicked_on_it_or_before_it() {
        let telemetry = Arc::new(Telemetry::default());
        let engine = Arc::new(Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry)));
        let checkpoints = Arc::new(Checkpointer::new(Some(Arc::new(PanickingStore)), Arc::clone(&engine), telemetry));
        let p: PartitionId = ("tickets".into(), 0);
        let (returned, rounds) = mpsc::channel();
        let waited = {
            let (engine, checkpoints, p) = (Arc::clone(&engine), Arc::clone(&checkpoints), p.clone());
            std::thread::spawn(move || {
                // The save panics both times; each is counted and the writer goes on.
                for n in 0..2 {
                    created(&engine, &p, n);
                    checkpoints.checkpoint(None, true);
                    returned.send(n).unwrap();
                }
            })
        };
        // An upper bound only: both return at once.
        let timeout = std::time::Duration::from_secs(60);
        assert_eq!(rounds.recv_timeout(timeout), Ok(0), "the revoke waiting on a panicked save returns");
        assert_eq!(rounds.recv_timeout(timeout), Ok(1), "and so does the next one");
        waited.join().unwrap();
        // Nothing is left counted as being written: a periodic round is not held back.
        assert!(lock(&checkpoints.writing).is_empty());
    }

    #[test]
    fn a_save_that_panics_is_counted_and_the_writer_goes_on() {
        let telemetry = Arc::new(Telemetry::default());
        let engine = Arc::new(Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry)));
        let checkpoints = Checkpointer::new(Some(Arc::new(PanickingStore)), Arc::clone(&engine), Arc::clone(&telemetry));
        let p: PartitionId = ("tickets".into(), 0);
        // Three rounds with new input, each waited for: three saves, each panicking.
        for n in 0..3 {
            created(&engine, &p, n);
            assert!(!checkpoints.checkpoint(None, true), "round {n}: not saved, and the caller is told");
        }
        let stats = telemetry.snapshot_stats();
        assert_eq!(stats.failures.into_iter().collect::<Vec<_>>(), [(("save", "panic"), 3)]);
        assert_eq!((stats.saved, stats.newest), (0, None));
        // Each failure was forgotten as queued, so the next round tries again.
        assert!(lock(&checkpoints.queued).is_empty());

        // A store that saves: told so, and so again when nothing changed since.
        let saving = Checkpointer::new(Some(Arc::new(GatedStore::default())), Arc::clone(&engine), telemetry);
        assert!(saving.checkpoint(None, true));
        assert!(saving.checkpoint(None, true));
    }

    /// Tickets created that a scrape shows, over every partition and key.
    fn shown_created(engine: &Engine) -> Vec<u64> {
        engine.view(None).totals.iter().map(|(_, t)| t.kpi.values().map(|k| k.created).sum()).collect()
    }

    /// With a store, a scrape shows the totals of the last snapshot saved: not those of a
    /// capture still being written, nor the live ones; a restore of that snapshot shows them
    /// again, so after a SIGKILL nothing shown goes back.
    #[test]
    fn totals_are_shown_as_of_the_last_snapshot_saved_and_restored_as_shown() {
        let store = Arc::new(GatedStore::default());
        let telemetry = Arc::new(Telemetry::default());
        let rules = || Rules::new(&Config::default()).unwrap();
        let engine = Arc::new(Engine::new(rules(), Arc::clone(&telemetry)).with_totals_as_of_snapshots(true));
        let checkpoints =
            Checkpointer::new(Some(Arc::clone(&store) as Arc<dyn SnapshotStore>), Arc::clone(&engine), Arc::clone(&telemetry));
        let p: PartitionId = ("tickets".into(), 0);
        // T0, T1 created (a minute apart: T1 waits in the reorder buffer, 10 s of lateness);
        // nothing saved yet: nothing shown.
        created(&engine, &p, 0);
        created(&engine, &p, 1);
        assert_eq!(shown_created(&engine), Vec::<u64>::new());
        assert!(checkpoints.checkpoint(None, true));
        // Saved at offset 2: T0 shown. T2 releases T1, live only until the next save.
        assert_eq!(shown_created(&engine), [1]);
        created(&engine, &p, 2);
        assert_eq!(shown_created(&engine), [1]);
        // A capture held at the store (taken, not saved) shows nothing new either.
        let held = lock(&store.gate);
        checkpoints.checkpoint(None, false);
        assert_eq!(shown_created(&engine), [1]);
        drop(held);
        // T3 releases T2; once written (after the held one, in order): T0, T1, T2.
        created(&engine, &p, 3);
        assert!(checkpoints.checkpoint(None, true));
        assert_eq!(shown_created(&engine), [3]);
        // A new owner restoring the newest snapshot shows exactly what was shown.
        let newest = lock(&store.saved).last().cloned().unwrap();
        let other = Engine::new(rules(), telemetry).with_totals_as_of_snapshots(true);
        other.restore(&p, &newest, Some(0)).unwrap();
        assert_eq!(shown_created(&other), [3]);
        // Without a store (and in replay) the live totals are shown.
        let live = Engine::new(rules(), Arc::new(Telemetry::default()));
        created(&live, &p, 0);
        created(&live, &p, 1);
        assert_eq!(shown_created(&live), [1]);
    }

    /// Ticket `T{n}` created on email at 2026-01-05 08:00 plus `n` minutes, as message `n`.
    fn created(engine: &Engine, partition: &PartitionId, n: i64) {
        let at = 1_767_600_000_000 + n * 60_000;
        let event = format!(r#"{{"event_id":"c{n}","ticket_id":"T{n}","type":"ticket_created","at":{at},"channel":"email"}}"#);
        engine.handle(partition, event.as_bytes(), None, &"test").unwrap();
        engine.consumed(partition, n);
    }

    #[test]
    fn a_periodic_snapshot_waits_for_the_one_being_written_rather_than_queue_behind_it() {
        let store = Arc::new(GatedStore::default());
        let telemetry = Arc::new(Telemetry::default());
        let engine = Arc::new(Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry)));
        let checkpoints = Checkpointer::new(Some(Arc::clone(&store) as Arc<dyn SnapshotStore>), Arc::clone(&engine), telemetry);
        let p: PartitionId = ("tickets".into(), 0);
        created(&engine, &p, 0);
        let held = lock(&store.gate);
        // Offset 1 is captured and held at the store; the two rounds after it take nothing.
        checkpoints.checkpoint(None, false);
        let first = engine.snapshot(&p).unwrap();
        created(&engine, &p, 1);
        checkpoints.checkpoint(None, false);
        created(&engine, &p, 2);
        checkpoints.checkpoint(None, false);
        drop(held);
        // A snapshot that must be written (a revoke's) is taken whatever is being written.
        checkpoints.checkpoint(None, true);
        let newest = engine.snapshot(&p).unwrap();
        assert_eq!((first.0, newest.0), (1, 3));
        assert!(*lock(&store.saved) == [first.1, newest.1], "two saves: offsets 1 and 3");
    }
}
