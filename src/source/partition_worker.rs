//! A partition worker: one message handled, dead-lettered if rejected, marked consumed and its
//! offset stored, in that order. Apart from the consumer loop because it runs on the worker
//! threads ([`super::workers`]), one per core.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use tokio::sync::watch;

use crate::base::{Millis, PartitionId};
use crate::engine::{Engine, Lane};
use crate::event::Invalid;
use crate::internal_events::{DeadLetterFailed, DeadLettered, Telemetry};
use crate::kafka::ClientLog;

use super::context::SourceContext;
use super::workers::Worker;
use super::Arrived;

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
/// A partition worker: handles the messages of the partitions it owns, in order.
pub(super) struct PartitionWorker {
    pub(super) engine: Arc<Engine>,
    pub(super) consumer: Arc<StreamConsumer<SourceContext>>,
    pub(super) dead_letter: Option<(FutureProducer<ClientLog>, String)>,
    pub(super) telemetry: Arc<Telemetry>,
    pub(super) runtime: tokio::runtime::Handle,
    /// The lanes of the partitions this worker fed since they were assigned.
    pub(super) lanes: HashMap<PartitionId, Lane>,
    /// True once the source is stopping.
    pub(super) stopping: watch::Receiver<bool>,
}

impl Worker for PartitionWorker {
    type Message = Arrived;

    fn message(&mut self, partition: &PartitionId, (message, now): Arrived) {
        self.process(partition, &message, now);
    }

    fn caught_up(&mut self, partition: &PartitionId, at: Millis) {
        self.engine.caught_up(partition, at);
    }

    fn idle(&mut self, partitions: &[PartitionId], at: Millis) {
        self.engine.advance_idle_where(at, |p| partitions.contains(p));
    }

    fn forget(&mut self, partitions: &[PartitionId]) {
        for p in partitions {
            self.lanes.remove(p);
        }
    }
}

impl PartitionWorker {
    /// Handles the message, dead-letters it if rejected, marks it consumed and stores its
    /// offset, in that order.
    fn process(&mut self, partition: &PartitionId, message: &OwnedMessage, now: Millis) {
        let origin = Origin { topic: message.topic(), partition: message.partition(), offset: message.offset() };
        if !self.lanes.contains_key(partition) {
            self.lanes.insert(partition.clone(), self.engine.lane(partition));
        }
        let lane = &self.lanes[partition];
        let payload = message.payload().unwrap_or_default();
        let result = self.engine.handle_in(lane, partition, Some(origin.offset), payload, Some(now), &origin);
        if let Err(invalid) = result {
            self.dead_letter(message, &origin, &invalid);
            // Only now, with its dead-letter write done or given up on, may a snapshot move
            // past it: a crash before this re-reads it and dead-letters it again (the
            // dead-letter path is at-least-once while the topic is writable).
            self.engine.consumed(partition, origin.offset);
        }
        if let Err(error) = self.consumer.store_offset(origin.topic, origin.partition, origin.offset) {
            tracing::debug!(%error, %origin, "offset not stored (partition revoked?)");
        }
    }

    /// Writes a rejected message to the dead-letter topic; see the `source` module docs for
    /// when it is waited for.
    fn dead_letter(&self, message: &OwnedMessage, origin: &Origin<'_>, invalid: &Invalid) {
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
        let delivery = match producer.send_result(record) {
            Ok(delivery) => delivery,
            Err((error, _)) => return self.telemetry.emit(DeadLetterFailed { topic, origin, reason: invalid.reason, error: &error }),
        };
        let (telemetry, topic, origin, reason) = (Arc::clone(&self.telemetry), topic.clone(), origin.to_string(), invalid.reason);
        let outcome = async move {
            match delivery.await {
                Ok(Ok(_)) => telemetry.emit(DeadLettered),
                Ok(Err((error, _))) => telemetry.emit(DeadLetterFailed { topic: &topic, origin: &origin, reason, error: &error }),
                Err(_) => telemetry.emit(DeadLetterFailed {
                    topic: &topic,
                    origin: &origin,
                    reason,
                    error: &"the producer closed before delivery",
                }),
            }
        };
        if self.telemetry.dead_letter_blocked() || *self.stopping.borrow() {
            // The topic failed last time, or the source is stopping: write, but let the
            // partition go on meanwhile; the outcome is still counted (a write the producer
            // drops at exit as failed, with its origin), and a success unblocks.
            self.runtime.spawn(outcome);
            return;
        }
        // Waited for, until it is done or a stop begins: a stop must not wait on a slow or
        // unwritable dead-letter topic beyond `shutdown_timeout`.
        let mut outcome = Box::pin(outcome);
        let mut stopping = self.stopping.clone();
        let done = self.runtime.block_on(async {
            tokio::select! {
                () = &mut outcome => true,
                _ = stopping.wait_for(|stop| *stop) => false,
            }
        });
        if !done {
            self.runtime.spawn(outcome);
        }
    }
}
