//! The Kafka source: a consumer group member that feeds every message to the engine and sends
//! rejected ones to the dead-letter topic.
//!
//! Where a partition starts is decided by its state, not by the group: on assignment the
//! newest snapshot is restored and the partition is assigned at the snapshot's offset (or at
//! `auto_offset_reset` without one); on revoke its state is snapshotted before it is let go.
//! Offsets are still stored after processing and committed, as progress reporting (lag tooling
//! reads them); they are read back only for a partition that starts without a usable snapshot,
//! to tell what its totals counted already.
//!
//! Messages are processed by a pool of worker threads, one per core, each owning some
//! partitions ([`workers`]); the consumer loop only reads, dispatches and serves rebalances.
//! A revoke, and a shutdown, first drains what was dispatched for the partitions concerned,
//! then snapshots them: nothing is lost and nothing is counted twice.
//!
//! A rejected message's offset counts as consumed only once its dead-letter write succeeded
//! or was given up on. While the dead-letter topic accepts writes each one is awaited, at most
//! [`DEAD_LETTER_TIMEOUT`]; after a failure later writes are still made but not awaited, so an
//! unwritable topic stalls no partition, until one succeeds again. Once a stop begins no write
//! is awaited any more, so a drain never waits on the dead-letter topic: a write still in
//! flight when the producer closes is counted as failed and logged with its origin.
//!
//! Parts: this file holds [`KafkaSource`] (the consumer loop) and the clients' configuration;
//! `context` the rebalance callbacks; `partition_worker` a message's handling on a worker thread;
//! [`workers`] the pool of threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::Message;
use tokio::sync::watch;

use crate::base::Millis;
use crate::checkpoint::Checkpointer;
use crate::clock::WallClock;
use crate::config::{ConfigError, KafkaConfig};
use crate::engine::Engine;
use crate::internal_events::{KafkaClientError, Telemetry};
use crate::kafka::{check_offline, client_config, ClientError, ClientKind, ClientLog, ClientReports};
pub mod workers;

mod context;
mod partition_worker;

use context::{partition_ids, SourceContext};
use partition_worker::PartitionWorker;

use workers::{Dispatcher, WorkerStopped};

/// Defaults ticketpulse applies unless `kafka.librdkafka` overrides them.
const DEFAULT_CONSUMER_PROPERTIES: [(&str, &str); 4] = [
    ("partition.assignment.strategy", "cooperative-sticky"),
    // Consumer lag per partition comes from librdkafka's statistics.
    ("statistics.interval.ms", "5000"),
    // Bounds the prefetch queue, the usual source of "memory leaks" with librdkafka.
    ("queued.max.messages.kbytes", "16384"),
    // A partition read to its end lets its stream time follow the wall clock at once.
    ("enable.partition.eof", "true"),
];

/// How long an assignment waits for the group's committed offsets of partitions without a
/// usable snapshot.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// How long librdkafka tries to write one message to the dead-letter topic before it gives
/// up (`message.timeout.ms` of the dead-letter producer): the longest a partition waits for it.
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(5);

/// The dead-letter producer's queue bound, in KiB: rejections are few, and a topic that
/// cannot be written must not pile rejected payloads up in memory (librdkafka's default is
/// 1 GiB). A full queue fails the write at once.
const DEAD_LETTER_QUEUE_KBYTES: &str = "16384";

/// Errors starting the source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// librdkafka rejected the configuration or could not create a client.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Subscribing to the input topics failed.
    #[error("could not subscribe to {topics:?}: {source}")]
    Subscribe { topics: Vec<String>, source: KafkaError },
    /// A partition worker panicked; the source stopped rather than hold partitions unread.
    #[error(transparent)]
    WorkerStopped(#[from] WorkerStopped),
}
/// A message as the consumer loop hands it to a worker, with its arrival time (wall clock).
type Arrived = (OwnedMessage, Millis);

/// The consumer group member.
pub struct KafkaSource {
    consumer: Arc<StreamConsumer<SourceContext>>,
    engine: Arc<Engine>,
    checkpoints: Arc<Checkpointer>,
    telemetry: Arc<Telemetry>,
    /// Messages are handled at this clock's time; idle partitions follow it.
    clock: WallClock,
    /// Set once a stop has drained and snapshotted every partition: what is left (the final
    /// commit, leaving the group) needs a broker, and loses nothing if it never finishes.
    handed_over: Arc<AtomicBool>,
    /// Turned true when a stop begins: the workers stop waiting for dead-letter writes.
    stopping: watch::Sender<bool>,
}

impl KafkaSource {
    pub fn new(
        config: &KafkaConfig,
        engine: Arc<Engine>,
        checkpoints: Arc<Checkpointer>,
        telemetry: Arc<Telemetry>,
        clock: WallClock,
    ) -> Result<Self, SourceError> {
        let producer_config = dead_letter_config(config);
        let client = consumer_config(config);
        let context = SourceContext {
            reports: ClientReports::new(Arc::clone(&telemetry), &client, "consumer"),
            engine: Arc::clone(&engine),
            dispatcher: Dispatcher::default(),
            checkpoints: Arc::clone(&checkpoints),
            telemetry: Arc::clone(&telemetry),
            reset: config.auto_offset_reset,
            clock,
        };
        let consumer: Arc<StreamConsumer<SourceContext>> = Arc::new(crate::kafka::create(&client, context, "consumer")?);
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|source| SourceError::Subscribe { topics: config.topics.clone(), source })?;
        let dead_letter = if config.dead_letter_topic.is_empty() {
            None
        } else {
            let log = ClientLog::new(Arc::clone(&telemetry), &producer_config, "dead-letter producer");
            let producer: FutureProducer<ClientLog> = crate::kafka::create(&producer_config, log, "dead-letter producer")?;
            Some((producer, config.dead_letter_topic.clone()))
        };
        // Dead-letter writes are awaited on the worker threads through the runtime's handle:
        // delivery reports come from the producer's own thread, not from the consumer loop.
        let runtime = tokio::runtime::Handle::current();
        let (stopping, stop_seen) = watch::channel(false);
        let workers = (0..workers::worker_count())
            .map(|_| PartitionWorker {
                engine: Arc::clone(&engine),
                consumer: Arc::clone(&consumer),
                dead_letter: dead_letter.clone(),
                telemetry: Arc::clone(&telemetry),
                runtime: runtime.clone(),
                lanes: HashMap::new(),
                stopping: stop_seen.clone(),
            })
            .collect();
        consumer.context().dispatcher.start(workers, workers::QUEUE_CAPACITY);
        tracing::info!(brokers = %config.brokers, group = %config.group_id, topics = ?config.topics, "subscribed");
        Ok(Self { consumer, engine, checkpoints, telemetry, clock, handed_over: Arc::default(), stopping })
    }

    /// Turns true once a stop has drained and snapshotted every partition (see
    /// [`KafkaSource::run`]), so a shutdown that runs out of time can say what was kept.
    pub fn handed_over(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.handed_over)
    }

    /// Consumes until `stop` turns true; then finishes the messages dispatched, snapshots
    /// every partition, commits and leaves the group. Stops the same way, with the error, when
    /// a partition worker panicked (its partitions are not snapshotted), so that the group
    /// hands them to a healthy instance rather than have this one hold them unread.
    pub async fn run(self, mut stop: watch::Receiver<bool>, idle_check: Duration, snapshot_interval: Duration) -> Result<(), SourceError> {
        let clock = self.clock;
        let dispatcher = &self.consumer.context().dispatcher;
        let mut idle_tick = tokio::time::interval(idle_check);
        idle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut snapshot_tick = tokio::time::interval(snapshot_interval);
        snapshot_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let failed = loop {
            // Biased, with the ticks first: under a backlog `recv` is always ready and would
            // starve them.
            let handed = tokio::select! {
                biased;
                _ = stop.changed() => break Ok(()),
                _ = snapshot_tick.tick() => {
                    self.checkpoints.checkpoint(None, false);
                    Ok(())
                }
                // Also where a worker that panicked with nothing more dispatched to it is seen.
                _ = idle_tick.tick() => dispatcher.stopped().and_then(|()| {
                    // Through the workers' queues for the partitions they own, after what waits there.
                    let now = clock.now();
                    let owned = dispatcher.idle(now)?;
                    self.engine.advance_idle_where(now, |p| !owned.contains(p));
                    Ok(())
                }),
                message = self.consumer.recv() => match message {
                    Ok(message) => {
                        self.telemetry.set_broker_reachable(true);
                        let partition = (message.topic().to_string(), message.partition());
                        dispatcher.dispatch(partition, (message.detach(), clock.now()))
                    }
                    // librdkafka names only the partition number; with several input topics it
                    // is ambiguous, and those partitions follow the clock after idle_timeout.
                    Err(KafkaError::PartitionEOF(number)) => {
                        let assigned = self.consumer.assignment().map(|list| partition_ids(&list)).unwrap_or_default();
                        match &assigned.into_iter().filter(|(_, p)| *p == number).collect::<Vec<_>>()[..] {
                            [partition] => dispatcher.caught_up(partition.clone(), clock.now()),
                            _ => Ok(()),
                        }
                    }
                    Err(error) => {
                        self.telemetry.emit(KafkaClientError { client: "consumer", error: &error, reason: "" });
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(())
                    }
                },
            };
            if let Err(stopped) = handed {
                break Err(stopped);
            }
        };
        // A dead-letter write being waited for, and those after it, are waited for no longer:
        // the drain is bounded by the messages queued, not by the dead-letter topic.
        self.stopping.send_replace(true);
        let (consumer, checkpoints) = (Arc::clone(&self.consumer), Arc::clone(&self.checkpoints));
        let handed_over = tokio::task::spawn_blocking(move || {
            let drained = consumer.context().drain(None).is_ok();
            checkpoints.checkpoint(None, true) && drained
        })
        .await;
        self.handed_over.store(handed_over.unwrap_or(false), Ordering::Relaxed);
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!("offsets committed"),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(%error, "final offset commit failed"),
        }
        // The workers hold the consumer (to store offsets): stop them before it is dropped.
        // Leaving the group revokes what is left; nothing changed since, so nothing is rewritten.
        tokio::task::spawn_blocking(move || {
            self.consumer.context().dispatcher.close();
            drop(self)
        })
        .await
        .ok();
        failed.map_err(SourceError::from)
    }
}

/// The consumer's configuration: the shared one, ticketpulse's defaults unless overridden, and
/// the group settings it relies on.
fn consumer_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = client_config(config);
    for (key, value) in DEFAULT_CONSUMER_PROPERTIES.into_iter().filter(|(key, _)| !config.librdkafka.contains_key(*key)) {
        client.set(key, value);
    }
    client
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", config.auto_offset_reset.as_str());
    client
}

/// The dead-letter producer's configuration.
fn dead_letter_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = client_config(config);
    client
        .set("message.timeout.ms", DEAD_LETTER_TIMEOUT.as_millis().to_string())
        .set("queue.buffering.max.kbytes", DEAD_LETTER_QUEUE_KBYTES);
    client
}

/// Has librdkafka create the consumer and the dead-letter producer exactly as `run` configures
/// them, offline ([`crate::kafka::check_offline`]): for `check-config`, after each property
/// was checked on its own. The snapshot store's clients share these properties.
pub fn check_clients(config: &KafkaConfig) -> Result<(), ConfigError> {
    check_offline(&consumer_config(config), ClientKind::Consumer, config)?;
    check_offline(&dead_letter_config(config), ClientKind::Producer, config)
}
