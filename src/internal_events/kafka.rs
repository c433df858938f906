//! Events of the Kafka clients: their errors, and the dead-letter topic's writes.

use std::sync::atomic::Ordering;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::event::InvalidReason;

use super::{InternalEvent, Telemetry, TARGET};

/// An error a Kafka client reported (connection, authentication, TLS, consumption): logged
/// at most once per error code every 10 s, since librdkafka repeats them while the condition
/// lasts. `reason` must already be free of secrets.
pub struct KafkaClientError<'a> {
    pub client: &'a str,
    pub error: &'a KafkaError,
    pub reason: &'a str,
}

impl InternalEvent for KafkaClientError<'_> {
    fn emit(self, t: &Telemetry) {
        let KafkaClientError { client, error, reason } = self;
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            // Not an error: a partition's end that reached the client's queue rather than the
            // consumer's (just after an assignment). It names no partition, so that partition
            // follows the wall clock after `time.idle_timeout` instead (docs/operations.md).
            tracing::debug!(target: TARGET, client, reason, "end of partition outside the consumer's queue");
            return;
        }
        let kind = match error.rdkafka_error_code() {
            Some(code) => format!("kafka {code:?}"),
            None => "kafka other".to_string(),
        };
        if let Some(suppressed) = t.log_allowed(&kind) {
            tracing::error!(target: TARGET, client, %error, reason, suppressed_since_last = suppressed, "Kafka client error");
        }
    }
}

/// A rejected message reached the dead-letter topic: counted, and the topic is writable
/// (again), which readiness reads.
pub struct DeadLettered;

impl InternalEvent for DeadLettered {
    fn emit(self, t: &Telemetry) {
        t.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        if t.consumer.dead_letter_blocked.swap(false, Ordering::Relaxed) {
            tracing::info!(target: TARGET, "the dead-letter topic accepts rejected events again");
        }
    }
}

/// A rejected message could not be written to the dead-letter topic and was given up on:
/// counted, readiness fails until a write succeeds, and logged at most once every 10 s with
/// the message's origin so it can be found in the input.
pub struct DeadLetterFailed<'a> {
    pub topic: &'a str,
    pub origin: &'a dyn std::fmt::Display,
    pub reason: InvalidReason,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for DeadLetterFailed<'_> {
    fn emit(self, t: &Telemetry) {
        let DeadLetterFailed { topic, origin, reason, error } = self;
        t.counters.dead_letter_failures.fetch_add(1, Ordering::Relaxed);
        t.consumer.dead_letter_blocked.store(true, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("dead_letter_failed") {
            tracing::error!(
                target: TARGET,
                topic,
                %origin,
                reason = reason.as_str(),
                %error,
                suppressed_since_last = suppressed,
                "could not write a rejected event to the dead-letter topic; given up (find it in the input at its origin)"
            );
        }
    }
}
