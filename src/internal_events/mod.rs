//! ticketpulse's own events: every log line about the service's health and the counter that
//! goes with it are defined here, in one place (as Vector does). Counters are atomics of one
//! [`Telemetry`] (one per engine, and one for `intake`), read by the exporter at scrape time
//! (`exporter::write_text` for `run`, `demo` and `replay`, `exporter::write_intake_text` for
//! the intake).
//!
//! An event is a type implementing [`InternalEvent`], emitted with [`Telemetry::emit`]: its
//! fields are the log line's fields, and its `emit` counts and logs together. What is state
//! rather than events (readiness, partitions assigned, lag) stays `Telemetry` methods.
//!
//! Here: [`Telemetry`], its counters and the log gate; the bounded label values are in
//! `labels.rs`, the event types in one file per concern (`input.rs`, `snapshot.rs`,
//! `kafka.rs`, `http.rs`, `intake.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::base::PartitionId;
use crate::event::{EventType, InvalidReason};
use crate::lock;
use crate::ticket::SnapshotField;

mod http;
mod input;
mod intake;
mod kafka;
mod labels;
mod snapshot;
#[cfg(test)]
mod tests;

pub use http::{HttpAcceptFailed, HttpConnectionDropped};
pub use input::{
    EventProcessed, EventsWithoutCreation, InvalidEvent, OffsetGap, ReorderBufferFull, SnapshotDifferences, TicketsShed, TopicTooLong,
};
pub use intake::{IntakeEventsProduced, WebhookAnswered};
pub use kafka::{DeadLetterFailed, DeadLettered, KafkaClientError};
pub use labels::{EventResult, HttpDrop, SnapshotOperation};
pub use snapshot::{SnapshotFailed, SnapshotRestored, SnapshotSaved};

/// The target of every log line here, whichever file writes it: the one operators know
/// (docs/operations.md) and filter on.
const TARGET: &str = "ticketpulse::internal_events";

/// Minimum gap between two log lines of the same kind; the rest are counted and summarised.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Process-wide self-metrics and the consumer's health: counters apart from state.
#[derive(Debug, Default)]
pub struct Telemetry {
    counters: Counters,
    consumer: ConsumerState,
    /// Last log time and suppressed count per kind of repeated log line (a bounded set of
    /// kinds: fixed names, and one per librdkafka error code).
    log_gate: Mutex<BTreeMap<String, (Instant, u64)>>,
}

/// Rows of [`Counters::events`]: one per [`EventType`] (by position in [`EventType::ALL`]),
/// then the `unknown` type of an unreadable message.
const TYPE_ROWS: usize = EventType::ALL.len() + 1;
const UNKNOWN_TYPE_ROW: usize = EventType::ALL.len();

/// What only ever goes up (and the newest snapshot's figures): read by the exporter.
#[derive(Debug, Default)]
struct Counters {
    /// By type row ([`type_row`]) and [`EventResult::index`].
    events: [[AtomicU64; EventResult::ALL.len()]; TYPE_ROWS],
    /// By position in [`InvalidReason::ALL`].
    invalid: [AtomicU64; InvalidReason::COUNT],
    dead_lettered: AtomicU64,
    dead_letter_failures: AtomicU64,
    /// Tickets dropped because a partition reached `tickets.max_per_partition`.
    tickets_shed: AtomicU64,
    /// Events applied ahead of the watermark because a reorder buffer was full.
    reorder_buffer_full: AtomicU64,
    /// Ingested events whose topic was over 128 bytes, read as `other`.
    topics_too_long: AtomicU64,
    /// Fields `ticket_snapshot`s of known tickets found different, by [`SnapshotField::index`].
    snapshot_differences: [AtomicU64; SnapshotField::ALL.len()],
    snapshots_saved: AtomicU64,
    snapshots_restored: AtomicU64,
    /// By (operation, reason).
    snapshot_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Size and capture pause of the newest snapshot.
    last_snapshot: Mutex<Option<(usize, Duration)>>,
    /// HTTP connections closed before a complete exchange, by [`HttpDrop::index`].
    http_dropped: [AtomicU64; HttpDrop::ALL.len()],
    /// `intake`: webhooks by (source, vendor type, result), the combinations seen (each label
    /// from a fixed list).
    intake_webhooks: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    /// `intake`: events the broker acknowledged, by (source, contract type), the combinations seen.
    intake_produced: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// What the consumer reports about its partitions and brokers: readiness and lag.
#[derive(Debug, Default)]
struct ConsumerState {
    /// Partitions assigned to this instance.
    assigned: Mutex<BTreeSet<PartitionId>>,
    /// Consumer lag per partition from librdkafka statistics.
    lag: Mutex<BTreeMap<PartitionId, i64>>,
    /// True while librdkafka reports every broker down.
    broker_down: AtomicBool,
    /// True from a failed dead-letter write until the next successful one.
    dead_letter_blocked: AtomicBool,
}

/// Snapshot counters for the exporter.
#[derive(Debug, Clone)]
pub struct SnapshotStats {
    pub saved: u64,
    pub restored: u64,
    /// By (operation, reason).
    pub failures: BTreeMap<(&'static str, &'static str), u64>,
    /// Size and capture pause of the newest snapshot.
    pub newest: Option<(usize, Duration)>,
}

/// The row of [`Counters::events`] of a message of type `t` (`None`: unreadable).
fn type_row(t: Option<EventType>) -> usize {
    t.map_or(UNKNOWN_TYPE_ROW, |t| EventType::ALL.iter().position(|x| *x == t).expect("every type is in ALL"))
}

/// An internal event, as Vector has them: a type for what happened that emits its log line
/// and its counter together ([`Telemetry::emit`]), so neither is written without the other.
pub trait InternalEvent {
    fn emit(self, telemetry: &Telemetry);
}

impl Telemetry {
    /// Counts and logs `event`.
    pub fn emit(&self, event: impl InternalEvent) {
        event.emit(self);
    }

    /// `Some(lines suppressed since the last one)` when a line of this kind may be logged now.
    /// Private to this module: a rate-limited line is written by an event type, with its counter.
    fn log_allowed(&self, kind: &str) -> Option<u64> {
        self.log_allowed_at(kind, Instant::now())
    }

    fn log_allowed_at(&self, kind: &str, now: Instant) -> Option<u64> {
        let mut gate = lock(&self.log_gate);
        match gate.get_mut(kind) {
            Some((last, suppressed)) if now.saturating_duration_since(*last) < LOG_INTERVAL => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                *last = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                gate.insert(kind.to_string(), (now, 0));
                Some(0)
            }
        }
    }

    /// Broker reachability as librdkafka reports it; drives readiness.
    pub fn set_broker_reachable(&self, reachable: bool) {
        if self.consumer.broker_down.swap(!reachable, Ordering::Relaxed) == reachable {
            if reachable {
                tracing::info!("Kafka broker reachable again");
            } else {
                tracing::error!("all Kafka brokers are down");
            }
        }
    }

    pub fn broker_reachable(&self) -> bool {
        !self.consumer.broker_down.load(Ordering::Relaxed)
    }

    /// Whether the newest dead-letter write failed; drives readiness.
    pub fn dead_letter_blocked(&self) -> bool {
        self.consumer.dead_letter_blocked.load(Ordering::Relaxed)
    }

    pub fn partitions_assigned(&self, partitions: &[PartitionId]) {
        tracing::info!(?partitions, "partitions assigned");
        lock(&self.consumer.assigned).extend(partitions.iter().cloned());
    }

    pub fn partitions_revoked(&self, partitions: &[PartitionId]) {
        tracing::info!(?partitions, "partitions revoked");
        let mut assigned = lock(&self.consumer.assigned);
        let mut lag = lock(&self.consumer.lag);
        for p in partitions {
            assigned.remove(p);
            lag.remove(p);
        }
    }

    pub fn assigned_count(&self) -> usize {
        lock(&self.consumer.assigned).len()
    }

    pub fn set_lag(&self, partition: PartitionId, lag: i64) {
        if lock(&self.consumer.assigned).contains(&partition) {
            lock(&self.consumer.lag).insert(partition, lag);
        }
    }

    /// Counter values for the exporter: (type label, result, value), nonzero or not.
    pub fn event_counts(&self) -> Vec<(&'static str, EventResult, u64)> {
        let types = EventType::ALL.iter().map(|t| t.as_str()).chain(["unknown"]);
        types
            .zip(&self.counters.events)
            .flat_map(|(name, row)| EventResult::ALL.iter().zip(row).map(move |(r, c)| (name, *r, c.load(Ordering::Relaxed))))
            .collect()
    }

    pub fn invalid_counts(&self) -> Vec<(InvalidReason, u64)> {
        InvalidReason::ALL.iter().zip(&self.counters.invalid).map(|(r, c)| (*r, c.load(Ordering::Relaxed))).collect()
    }

    pub fn dead_letter_counts(&self) -> (u64, u64) {
        (self.counters.dead_lettered.load(Ordering::Relaxed), self.counters.dead_letter_failures.load(Ordering::Relaxed))
    }

    pub fn lags(&self) -> BTreeMap<PartitionId, i64> {
        lock(&self.consumer.lag).clone()
    }

    /// Every field with its count of differences, zeros included.
    pub fn snapshot_difference_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        SnapshotField::ALL.iter().map(|f| (f.as_str(), self.counters.snapshot_differences[f.index()].load(Ordering::Relaxed)))
    }

    pub fn shed_count(&self) -> u64 {
        self.counters.tickets_shed.load(Ordering::Relaxed)
    }

    pub fn http_dropped_counts(&self) -> Vec<(HttpDrop, u64)> {
        HttpDrop::ALL.iter().zip(&self.counters.http_dropped).map(|(r, c)| (*r, c.load(Ordering::Relaxed))).collect()
    }

    /// `intake`: ((source, vendor type, result), webhooks), the combinations seen.
    pub fn intake_webhook_counts(&self) -> Vec<((&'static str, &'static str, &'static str), u64)> {
        lock(&self.counters.intake_webhooks).iter().map(|(k, n)| (*k, *n)).collect()
    }

    /// `intake`: ((source, contract type), events produced), the combinations seen.
    pub fn intake_produced_counts(&self) -> Vec<((&'static str, &'static str), u64)> {
        lock(&self.counters.intake_produced).iter().map(|(k, n)| (*k, *n)).collect()
    }

    /// Input values replaced before they became label values, as (field, reason, count), every
    /// series whether zero or not; the reason is bounded (only `too_long` today).
    pub fn label_values_mapped_counts(&self) -> [(&'static str, &'static str, u64); 1] {
        [("topic", "too_long", self.counters.topics_too_long.load(Ordering::Relaxed))]
    }

    pub fn reorder_buffer_full_count(&self) -> u64 {
        self.counters.reorder_buffer_full.load(Ordering::Relaxed)
    }

    pub fn snapshot_stats(&self) -> SnapshotStats {
        SnapshotStats {
            saved: self.counters.snapshots_saved.load(Ordering::Relaxed),
            restored: self.counters.snapshots_restored.load(Ordering::Relaxed),
            failures: lock(&self.counters.snapshot_failures).clone(),
            newest: *lock(&self.counters.last_snapshot),
        }
    }
}
