//! Partitions on separate cores: one consumer loop hands each message to the worker thread
//! that owns its partition, in the order it was received.
//!
//! Why per-partition workers rather than a sharded engine behind one input path: the unit of
//! state, of order and of snapshots is already the partition, so a worker that owns some
//! partitions needs no coordination with the others. The consumer loop (which also serves
//! librdkafka's rebalance callbacks) only reads and dispatches; each worker parses, ingests,
//! dead-letters and stores offsets for its partitions, taking only its partitions' locks.
//!
//! - A partition is owned by one worker from its first message until it is drained, so its
//!   messages are handled in order; a new partition goes to the worker owning fewest.
//! - Queues are bounded: a busy worker makes the consumer loop wait (backpressure) rather than
//!   buffer without limit. librdkafka's prefetch keeps the others fed meanwhile.
//! - End of partition travels through the same queue, after the messages before it, and so
//!   does the idle check of the partitions a worker owns: a message waiting in a queue was
//!   received before the check, so it must be handled before stream time follows the clock.
//! - [`Dispatcher::drain`] sends a barrier to the workers owning the given partitions and
//!   waits until each has handled everything queued before it (and forgotten them), so a
//!   revoke or a shutdown snapshots exactly what was consumed. std channels are used because
//!   the rebalance callback runs on a tokio thread, where tokio's blocking calls panic.
//! - A worker that panics stops; the calls that find it stopped return [`WorkerStopped`] with
//!   the partitions it owned, whose state a panic may have left half-changed, so the caller
//!   can drop rather than snapshot them and stop the service instead of leaving them unread.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::base::{Millis, PartitionId};
use crate::lock;

/// Messages a worker's queue holds before the consumer loop waits for it.
pub const QUEUE_CAPACITY: usize = 1024;

/// A partition worker stopped (it panicked): `partitions`, the ones it owned, are no longer
/// processed, and their state may be half-changed by the message it panicked on.
#[derive(Debug, thiserror::Error)]
#[error("a partition worker stopped (it panicked); partitions {partitions:?} are no longer processed")]
pub struct WorkerStopped {
    pub partitions: Vec<PartitionId>,
}

/// What a worker does with what it is handed, in order, for the partitions it owns.
pub trait Worker: Send + 'static {
    type Message: Send + 'static;
    /// Handles one message of `partition`.
    fn message(&mut self, partition: &PartitionId, message: Self::Message);
    /// `partition` was read to its end at `at` (after the messages before it).
    fn caught_up(&mut self, partition: &PartitionId, at: Millis);
    /// `partitions` (the ones it owns) are checked for idleness at `at` (after the messages
    /// before it).
    fn idle(&mut self, partitions: &[PartitionId], at: Millis);
    /// `partitions` are being let go: drops what the worker keeps for them.
    fn forget(&mut self, partitions: &[PartitionId]);
}

enum Job<M> {
    Message(PartitionId, M),
    CaughtUp(PartitionId, Millis),
    Idle(Vec<PartitionId>, Millis),
    /// Acknowledged (with the worker's index) once everything queued before it is handled
    /// and the partitions forgotten.
    Barrier(Vec<PartitionId>, mpsc::Sender<usize>, usize),
}

struct Pool<M> {
    queues: Vec<SyncSender<Job<M>>>,
    threads: Vec<JoinHandle<()>>,
    /// The worker owning each partition, by index into `queues`.
    owners: HashMap<PartitionId, usize>,
}

impl<M> Pool<M> {
    /// `worker` stopped: the partitions it owned.
    fn stopped(&self, worker: usize) -> WorkerStopped {
        let mut partitions: Vec<PartitionId> = self.owners.iter().filter(|(_, w)| **w == worker).map(|(p, _)| p.clone()).collect();
        partitions.sort();
        WorkerStopped { partitions }
    }
}

/// Hands messages to a pool of worker threads, each partition to one worker.
pub struct Dispatcher<M> {
    pool: Mutex<Pool<M>>,
}

impl<M: Send + 'static> Default for Dispatcher<M> {
    fn default() -> Self {
        Self { pool: Mutex::new(Pool { queues: Vec::new(), threads: Vec::new(), owners: HashMap::new() }) }
    }
}

/// One worker per core the process may use.
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl<M: Send + 'static> Dispatcher<M> {
    /// Starts one thread per worker, each with a queue of `capacity` jobs.
    pub fn start<W: Worker<Message = M>>(&self, workers: Vec<W>, capacity: usize) {
        let mut pool = lock(&self.pool);
        for (i, mut worker) in workers.into_iter().enumerate() {
            let (queue, jobs): (SyncSender<Job<M>>, Receiver<Job<M>>) = mpsc::sync_channel(capacity);
            let thread = std::thread::Builder::new()
                .name(format!("partition-worker-{i}"))
                .spawn(move || {
                    for job in jobs {
                        match job {
                            Job::Message(partition, message) => worker.message(&partition, message),
                            Job::CaughtUp(partition, at) => worker.caught_up(&partition, at),
                            Job::Idle(partitions, at) => worker.idle(&partitions, at),
                            Job::Barrier(partitions, done, index) => {
                                worker.forget(&partitions);
                                let _ = done.send(index);
                            }
                        }
                    }
                })
                .expect("spawn a partition worker thread");
            pool.queues.push(queue);
            pool.threads.push(thread);
        }
    }

    /// Queues a message for the worker owning `partition`, waiting while its queue is full.
    pub fn dispatch(&self, partition: PartitionId, message: M) -> Result<(), WorkerStopped> {
        self.send(partition, |partition| Job::Message(partition, message))
    }

    /// Queues `partition`'s end, after the messages dispatched before it.
    pub fn caught_up(&self, partition: PartitionId, at: Millis) -> Result<(), WorkerStopped> {
        self.send(partition, |partition| Job::CaughtUp(partition, at))
    }

    /// Queues the idle check at `at` of the partitions owned, each after the messages
    /// dispatched before it, and returns them: the caller checks the others itself.
    pub fn idle(&self, at: Millis) -> Result<Vec<PartitionId>, WorkerStopped> {
        let pool = lock(&self.pool);
        let mut by_worker: HashMap<usize, Vec<PartitionId>> = HashMap::new();
        for (partition, worker) in &pool.owners {
            by_worker.entry(*worker).or_default().push(partition.clone());
        }
        let owned: Vec<PartitionId> = by_worker.values().flatten().cloned().collect();
        for (worker, mut partitions) in by_worker {
            partitions.sort();
            if pool.queues[worker].send(Job::Idle(partitions, at)).is_err() {
                return Err(pool.stopped(worker));
            }
        }
        Ok(owned)
    }

    /// The partitions of a worker that stopped, if one did (it panicked).
    pub fn stopped(&self) -> Result<(), WorkerStopped> {
        let pool = lock(&self.pool);
        match pool.threads.iter().position(JoinHandle::is_finished) {
            Some(worker) => Err(pool.stopped(worker)),
            None => Ok(()),
        }
    }

    fn send(&self, partition: PartitionId, job: impl FnOnce(PartitionId) -> Job<M>) -> Result<(), WorkerStopped> {
        let mut pool = lock(&self.pool);
        if pool.queues.is_empty() {
            return Ok(());
        }
        let worker = match pool.owners.get(&partition) {
            Some(worker) => *worker,
            None => {
                let mut owned = vec![0; pool.queues.len()];
                pool.owners.values().for_each(|w| owned[*w] += 1);
                let worker = (0..owned.len()).min_by_key(|w| owned[*w]).unwrap_or(0);
                pool.owners.insert(partition.clone(), worker);
                worker
            }
        };
        match pool.queues[worker].send(job(partition)) {
            Ok(()) => Ok(()),
            Err(_) => Err(pool.stopped(worker)),
        }
    }

    /// Returns once everything dispatched for `partitions` is handled, and makes their
    /// workers forget them; they are dispatched afresh if their messages come again. Fails
    /// with those of them a stopped worker owned: what was queued for them was not handled.
    pub fn drain(&self, partitions: &[PartitionId]) -> Result<(), WorkerStopped> {
        self.drain_where(|p| partitions.contains(p))
    }

    /// [`Dispatcher::drain`] of every partition dispatched to.
    pub fn drain_all(&self) -> Result<(), WorkerStopped> {
        self.drain_where(|_| true)
    }

    fn drain_where(&self, drained: impl Fn(&PartitionId) -> bool) -> Result<(), WorkerStopped> {
        let mut pool = lock(&self.pool);
        let mut by_worker: HashMap<usize, Vec<PartitionId>> = HashMap::new();
        pool.owners.retain(|p, worker| {
            let keep = !drained(p);
            if !keep {
                by_worker.entry(*worker).or_default().push(p.clone());
            }
            keep
        });
        let (done, finished) = mpsc::channel();
        for (worker, owned) in &by_worker {
            // A send fails when the worker stopped; its barrier is then never acknowledged.
            let _ = pool.queues[*worker].send(Job::Barrier(owned.clone(), done.clone(), *worker));
        }
        drop(done);
        // Ends when every barrier is acknowledged or dropped with a stopped worker's queue.
        for worker in finished {
            by_worker.remove(&worker);
        }
        let mut partitions: Vec<PartitionId> = by_worker.into_values().flatten().collect();
        partitions.sort();
        if partitions.is_empty() {
            Ok(())
        } else {
            Err(WorkerStopped { partitions })
        }
    }

    /// Stops the workers once their queues are empty and waits for them; later calls
    /// dispatch nothing.
    pub fn close(&self) {
        let threads = {
            let mut pool = lock(&self.pool);
            pool.queues.clear();
            pool.owners.clear();
            std::mem::take(&mut pool.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Sender;
    use std::sync::Arc;

    /// Records what it handles, as (worker, what), and waits for `gate` before each message;
    /// panics on offset -1.
    struct Recorder {
        id: usize,
        log: Sender<(usize, String)>,
        gate: Arc<Mutex<()>>,
    }

    impl Worker for Recorder {
        type Message = i64;
        fn message(&mut self, partition: &PartitionId, offset: i64) {
            drop(lock(&self.gate));
            assert!(offset != -1, "poison message");
            let _ = self.log.send((self.id, format!("{}/{}@{offset}", partition.0, partition.1)));
        }
        fn caught_up(&mut self, partition: &PartitionId, at: Millis) {
            let _ = self.log.send((self.id, format!("{}/{} eof at {at}", partition.0, partition.1)));
        }
        fn idle(&mut self, partitions: &[PartitionId], at: Millis) {
            let _ = self.log.send((self.id, format!("idle {partitions:?} at {at}")));
        }
        fn forget(&mut self, partitions: &[PartitionId]) {
            let _ = self.log.send((self.id, format!("forget {partitions:?}")));
        }
    }

    /// What the recorders handled, as (worker, what).
    type Records = Receiver<(usize, String)>;

    fn pool(workers: usize, capacity: usize) -> (Dispatcher<i64>, Records, Arc<Mutex<()>>) {
        let (log, records) = mpsc::channel();
        let gate = Arc::new(Mutex::new(()));
        let dispatcher = Dispatcher::default();
        let recorders = (0..workers).map(|id| Recorder { id, log: log.clone(), gate: Arc::clone(&gate) }).collect();
        dispatcher.start(recorders, capacity);
        (dispatcher, records, gate)
    }

    fn p(n: i32) -> PartitionId {
        ("t".to_string(), n)
    }

    #[test]
    fn each_partition_stays_on_one_worker_in_order_and_partitions_spread_over_workers() {
        let (dispatcher, records, _gate) = pool(2, 4);
        // Interleaved: t/0 0..50, t/1 0..50, t/2 0..50, t/3 0..50.
        for offset in 0..50 {
            for n in 0..4 {
                dispatcher.dispatch(p(n), offset).unwrap();
            }
        }
        dispatcher.close();
        let records: Vec<(usize, String)> = records.try_iter().collect();
        assert_eq!(records.len(), 200);
        for n in 0..4 {
            let name = format!("t/{n}@");
            let mine: Vec<&(usize, String)> = records.iter().filter(|(_, r)| r.starts_with(&name)).collect();
            let expected: Vec<String> = (0..50).map(|o| format!("t/{n}@{o}")).collect();
            assert_eq!(mine.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(), expected, "partition {n} in order");
            // First come, fewest owned: t/0 -> 0, t/1 -> 1, t/2 -> 0, t/3 -> 1.
            assert!(mine.iter().all(|(w, _)| *w == n as usize % 2), "partition {n} on worker {}", n % 2);
        }
    }

    #[test]
    fn end_of_partition_comes_after_the_messages_before_it() {
        let (dispatcher, records, _gate) = pool(2, 8);
        dispatcher.dispatch(p(0), 7).unwrap();
        dispatcher.dispatch(p(0), 8).unwrap();
        dispatcher.caught_up(p(0), 1_000).unwrap();
        dispatcher.dispatch(p(0), 9).unwrap();
        dispatcher.close();
        let got: Vec<String> = records.try_iter().map(|(_, r)| r).collect();
        assert_eq!(got, ["t/0@7", "t/0@8", "t/0 eof at 1000", "t/0@9"]);
    }

    #[test]
    fn an_idle_check_comes_after_the_messages_before_it_on_the_workers_owning_partitions() {
        let (dispatcher, records, gate) = pool(2, 8);
        // Held at the gate: t/0 -> worker 0 and t/1 -> worker 1 have messages waiting.
        let held = lock(&gate);
        dispatcher.dispatch(p(0), 7).unwrap();
        dispatcher.dispatch(p(1), 3).unwrap();
        dispatcher.dispatch(p(2), 4).unwrap();
        let mut owned = dispatcher.idle(5_000).unwrap();
        owned.sort();
        assert_eq!(owned, [p(0), p(1), p(2)]);
        drop(held);
        dispatcher.close();
        let seen: Vec<(usize, String)> = records.try_iter().collect();
        let on = |worker| seen.iter().filter(|(w, _)| *w == worker).map(|(_, r)| r.as_str()).collect::<Vec<_>>();
        assert_eq!(on(0), ["t/0@7", "t/2@4", "idle [(\"t\", 0), (\"t\", 2)] at 5000"]);
        assert_eq!(on(1), ["t/1@3", "idle [(\"t\", 1)] at 5000"]);
    }

    #[test]
    fn drain_waits_for_what_was_queued_and_the_partition_is_then_owned_afresh() {
        let (dispatcher, records, gate) = pool(2, 16);
        // The workers are held at the gate with messages queued: t/0 -> worker 0, t/1 -> worker 1.
        let held = lock(&gate);
        for offset in 0..5 {
            dispatcher.dispatch(p(0), offset).unwrap();
            dispatcher.dispatch(p(1), offset).unwrap();
        }
        let dispatcher = Arc::new(dispatcher);
        let draining = {
            let dispatcher = Arc::clone(&dispatcher);
            std::thread::spawn(move || dispatcher.drain(&[p(0)]))
        };
        // Opened only after the drain was asked for: when it returns, t/0's queue was handled.
        drop(held);
        draining.join().unwrap().unwrap();
        let seen: Vec<(usize, String)> = records.try_iter().collect();
        let t0: Vec<&str> = seen.iter().filter(|(w, _)| *w == 0).map(|(_, r)| r.as_str()).collect();
        assert_eq!(t0, ["t/0@0", "t/0@1", "t/0@2", "t/0@3", "t/0@4", "forget [(\"t\", 0)]"]);
        // After the drain t/0 is new: it goes to the worker owning fewest (worker 0 owns none).
        dispatcher.dispatch(p(1), 5).unwrap();
        dispatcher.dispatch(p(0), 5).unwrap();
        dispatcher.close();
        let rest: Vec<(usize, String)> = records.try_iter().collect();
        assert!(rest.contains(&(0, "t/0@5".to_string())), "{rest:?}");
        let t1: Vec<&str> = seen.iter().chain(&rest).filter(|(w, _)| *w == 1).map(|(_, r)| r.as_str()).collect();
        assert_eq!(t1, ["t/1@0", "t/1@1", "t/1@2", "t/1@3", "t/1@4", "t/1@5"]);
    }

    #[test]
    fn after_close_nothing_is_dispatched_and_drain_returns() {
        let (dispatcher, records, _gate) = pool(1, 2);
        dispatcher.dispatch(p(0), 1).unwrap();
        dispatcher.close();
        dispatcher.dispatch(p(0), 2).unwrap();
        dispatcher.caught_up(p(0), 5).unwrap();
        dispatcher.drain(&[p(0)]).unwrap();
        let got: Vec<String> = records.try_iter().map(|(_, r)| r).collect();
        assert_eq!(got, ["t/0@1"]);
    }

    #[test]
    fn a_worker_that_panics_is_reported_with_its_partitions_and_the_other_goes_on() {
        let (dispatcher, records, _gate) = pool(2, 8);
        // t/0 -> worker 0, t/1 -> worker 1, t/2 -> worker 0 (first of the fewest), which panics.
        dispatcher.dispatch(p(0), 1).unwrap();
        dispatcher.dispatch(p(1), 1).unwrap();
        dispatcher.dispatch(p(2), -1).unwrap();
        // Worker 0's barrier goes with its queue: its partitions are named, worker 1's is not.
        let stopped = dispatcher.drain(&[p(0), p(1), p(2)]).unwrap_err();
        assert_eq!(stopped.partitions, [p(0), p(2)]);
        // A new partition given to the stopped worker is refused, not dropped unnoticed.
        let refused = dispatcher.dispatch(p(3), 1).unwrap_err();
        assert_eq!(refused.partitions, [p(3)]);
        dispatcher.dispatch(p(1), 2).unwrap();
        // The stopped thread is seen without dispatching to it (it ends just after its queue).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let found = loop {
            match dispatcher.stopped() {
                Err(stopped) => break stopped,
                Ok(()) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(10)),
                Ok(()) => panic!("the panicked worker is never reported stopped"),
            }
        };
        assert_eq!(found.partitions, [p(3)]);
        dispatcher.close();
        let seen: Vec<(usize, String)> = records.try_iter().collect();
        let on = |worker| seen.iter().filter(|(w, _)| *w == worker).map(|(_, r)| r.as_str()).collect::<Vec<_>>();
        assert_eq!(on(0), ["t/0@1"]);
        assert_eq!(on(1), ["t/1@1", "forget [(\"t\", 1)]", "t/1@2"]);
    }
}
