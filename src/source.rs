//! The Kafka source: a consumer group member that feeds every message to the engine, sends
//! rejected ones to the dead-letter topic, and stores a message's offset only after the engine
//! has taken it (`enable.auto.offset.store=false`, as in rust-rdkafka's at-least-once example).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::util::Timeout;
use rdkafka::{ClientContext, Message, TopicPartitionList};
use tokio::sync::watch;

use crate::config::KafkaConfig;
use crate::engine::Engine;
use crate::event::{Invalid, Millis};
use crate::internal_events::{PartitionId, Telemetry};

/// Defaults ticketpulse applies unless `kafka.librdkafka` overrides them.
const DEFAULT_CONSUMER_PROPERTIES: [(&str, &str); 3] = [
    ("partition.assignment.strategy", "cooperative-sticky"),
    // Consumer lag per partition comes from librdkafka's statistics.
    ("statistics.interval.ms", "5000"),
    // Bounds the prefetch queue, the usual source of "memory leaks" with librdkafka.
    ("queued.max.messages.kbytes", "16384"),
];

/// How long to wait for the dead-letter topic to acknowledge a message.
const DEAD_LETTER_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors starting the source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// librdkafka rejected the configuration or could not create a client.
    #[error("could not create the Kafka {role}: {source}")]
    Client { role: &'static str, source: KafkaError },
    /// Subscribing to the input topics failed.
    #[error("could not subscribe to {topics:?}: {source}")]
    Subscribe { topics: Vec<String>, source: KafkaError },
}

/// Keeps the engine and telemetry in step with the group's partition assignment.
pub struct SourceContext {
    engine: Arc<Mutex<Engine>>,
    telemetry: Arc<Telemetry>,
}

fn partition_ids(list: &TopicPartitionList) -> Vec<PartitionId> {
    list.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

impl ClientContext for SourceContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    self.telemetry.set_lag((topic.clone(), partition), p.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = partition_ids(list);
            self.engine.lock().unwrap_or_else(|e| e.into_inner()).revoke(&partitions);
            self.telemetry.partitions_revoked(&partitions);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => self.telemetry.partitions_assigned(&partition_ids(list)),
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::error!(error = %e, "rebalance failed"),
        }
    }
}

/// Where a message came from, for log lines and dead-letter headers.
struct Origin<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

/// The consumer group member.
pub struct KafkaSource {
    consumer: StreamConsumer<SourceContext>,
    dead_letter: Option<(FutureProducer, String)>,
    engine: Arc<Mutex<Engine>>,
    telemetry: Arc<Telemetry>,
}

impl KafkaSource {
    pub fn new(config: &KafkaConfig, engine: Arc<Mutex<Engine>>, telemetry: Arc<Telemetry>) -> Result<Self, SourceError> {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &config.brokers);
        for (key, value) in DEFAULT_CONSUMER_PROPERTIES {
            client.set(key, value);
        }
        for (key, value) in &config.librdkafka {
            client.set(key, value);
        }
        let mut producer_config = client.clone();
        for (key, _) in DEFAULT_CONSUMER_PROPERTIES {
            if !config.librdkafka.contains_key(key) {
                producer_config.remove(key);
            }
        }
        client
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", config.auto_offset_reset.as_str());
        let context = SourceContext { engine: Arc::clone(&engine), telemetry: Arc::clone(&telemetry) };
        let consumer: StreamConsumer<SourceContext> =
            client.create_with_context(context).map_err(|source| SourceError::Client { role: "consumer", source })?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|source| SourceError::Subscribe { topics: config.topics.clone(), source })?;
        let dead_letter = if config.dead_letter_topic.is_empty() {
            None
        } else {
            let producer: FutureProducer =
                producer_config.create().map_err(|source| SourceError::Client { role: "dead-letter producer", source })?;
            Some((producer, config.dead_letter_topic.clone()))
        };
        tracing::info!(brokers = %config.brokers, group = %config.group_id, topics = ?config.topics, "subscribed");
        Ok(Self { consumer, dead_letter, engine, telemetry })
    }

    /// Consumes until `stop` turns true, then commits the stored offsets.
    pub async fn run(self, mut stop: watch::Receiver<bool>, idle_check: Duration) {
        let mut idle_tick = tokio::time::interval(idle_check);
        idle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                message = self.consumer.recv() => match message {
                    Ok(message) => self.process(&message).await,
                    Err(error) => {
                        tracing::warn!(%error, "Kafka consumer error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                _ = idle_tick.tick() => lock(&self.engine).advance_idle(now_millis()),
            }
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!("offsets committed"),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(%error, "final offset commit failed"),
        }
    }

    async fn process(&self, message: &BorrowedMessage<'_>) {
        let origin = Origin { topic: message.topic(), partition: message.partition(), offset: message.offset() };
        let partition = (origin.topic.to_string(), origin.partition);
        let payload = message.payload().unwrap_or_default();
        let result = lock(&self.engine).handle(&partition, payload, Some(now_millis()), &origin);
        if let Err(invalid) = result {
            self.dead_letter(message, &origin, &invalid).await;
        }
        if let Err(error) = self.consumer.store_offset_from_message(message) {
            tracing::debug!(%error, %origin, "offset not stored (partition revoked?)");
        }
    }

    async fn dead_letter(&self, message: &BorrowedMessage<'_>, origin: &Origin<'_>, invalid: &Invalid) {
        let Some((producer, topic)) = &self.dead_letter else { return };
        let partition = origin.partition.to_string();
        let offset = origin.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: "ticketpulse.reason", value: Some(invalid.reason.as_str()) })
            .insert(Header { key: "ticketpulse.detail", value: Some(invalid.detail.as_str()) })
            .insert(Header { key: "ticketpulse.source.topic", value: Some(origin.topic) })
            .insert(Header { key: "ticketpulse.source.partition", value: Some(partition.as_str()) })
            .insert(Header { key: "ticketpulse.source.offset", value: Some(offset.as_str()) });
        let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(message.payload().unwrap_or_default()).headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        match producer.send(record, Timeout::After(DEAD_LETTER_TIMEOUT)).await {
            Ok(_) => self.telemetry.dead_lettered(),
            Err((error, _)) => self.telemetry.dead_letter_failed(topic, &error),
        }
    }
}

fn lock(engine: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|e| e.into_inner())
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
}
