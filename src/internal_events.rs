//! ticketpulse's own events: every log line about the service's health and the counter that
//! goes with it are defined here, in one place (as Vector does). Counters are process-wide
//! atomics, read by the exporter at scrape time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::event::{EventType, Invalid, InvalidReason};
use crate::lock;

/// What became of one input message: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    /// Accepted and applied (or waiting in the reorder buffer to be applied in order).
    Ok,
    /// Same `event_id` already seen for the ticket: ignored.
    Duplicate,
    /// Rejected; see the reason counter and the dead-letter topic.
    Invalid,
    /// Arrived behind the watermark: applied at once, out of event-time order.
    Late,
}

impl EventResult {
    pub const ALL: [EventResult; 4] = [EventResult::Ok, EventResult::Duplicate, EventResult::Invalid, EventResult::Late];

    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Ok => "ok",
            EventResult::Duplicate => "duplicate",
            EventResult::Invalid => "invalid",
            EventResult::Late => "late",
        }
    }
}

/// A Kafka partition (or `replay/0`).
pub type PartitionId = (String, i32);

/// Minimum gap between two log lines of the same kind; the rest are counted and summarised.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Process-wide self-metrics.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// Indexed by (type index or 7 for unreadable, result).
    events: [[AtomicU64; 4]; 8],
    invalid: [AtomicU64; InvalidReason::COUNT],
    dead_lettered: AtomicU64,
    dead_letter_failures: AtomicU64,
    /// Partitions assigned to this instance.
    assigned: Mutex<BTreeSet<PartitionId>>,
    /// Consumer lag per partition from librdkafka statistics.
    lag: Mutex<BTreeMap<PartitionId, i64>>,
    /// Last log time and suppressed count per kind of repeated log line.
    log_gate: Mutex<BTreeMap<&'static str, (Option<Instant>, u64)>>,
    /// Tickets dropped because a partition reached `tickets.max_per_partition`.
    tickets_shed: AtomicU64,
    /// Events applied ahead of the watermark because a reorder buffer was full.
    reorder_buffer_full: AtomicU64,
    snapshots_saved: AtomicU64,
    snapshots_restored: AtomicU64,
    /// By (operation, reason).
    snapshot_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Size and encoding pause of the newest snapshot.
    last_snapshot: Mutex<Option<(usize, Duration)>>,
    /// False while librdkafka reports every broker down.
    broker_down: AtomicBool,
}

/// Snapshot counters for the exporter.
#[derive(Debug, Clone)]
pub struct SnapshotStats {
    pub saved: u64,
    pub restored: u64,
    /// By (operation, reason).
    pub failures: BTreeMap<(&'static str, &'static str), u64>,
    /// Size and encoding pause of the newest snapshot.
    pub newest: Option<(usize, Duration)>,
}

/// A snapshot operation, the `operation` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOperation {
    Save,
    Load,
}

fn type_index(t: Option<EventType>) -> usize {
    t.map_or(7, |t| EventType::ALL.iter().position(|x| *x == t).unwrap_or(7))
}

impl Telemetry {
    /// One message's fate.
    pub fn event(&self, event_type: Option<EventType>, result: EventResult) {
        self.events[type_index(event_type)][result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A rejected message: counted, and logged at most once per reason every 10 s.
    pub fn invalid_event(&self, invalid: &Invalid, source: &dyn std::fmt::Display) {
        self.event(invalid.event_type, EventResult::Invalid);
        let reason_index = InvalidReason::ALL.iter().position(|r| *r == invalid.reason).unwrap_or(0);
        self.invalid[reason_index].fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = self.log_allowed(invalid.reason.as_str()) {
            tracing::warn!(
                reason = invalid.reason.as_str(),
                detail = %invalid.detail,
                %source,
                suppressed_since_last = suppressed,
                "rejected invalid event"
            );
        }
    }

    /// `Some(lines suppressed since the last one)` when a line of this kind may be logged now.
    fn log_allowed(&self, kind: &'static str) -> Option<u64> {
        let mut gate = lock(&self.log_gate);
        let (last, suppressed) = gate.entry(kind).or_insert((None, 0));
        if last.is_some_and(|t| t.elapsed() < LOG_INTERVAL) {
            *suppressed += 1;
            return None;
        }
        *last = Some(Instant::now());
        Some(std::mem::take(suppressed))
    }

    /// A partition at its ticket cap dropped its least recently active tickets.
    pub fn tickets_shed(&self, partition: &PartitionId, count: usize, cap: usize) {
        self.tickets_shed.fetch_add(count as u64, Ordering::Relaxed);
        if let Some(suppressed) = self.log_allowed("tickets_shed") {
            tracing::warn!(
                ?partition,
                count,
                cap,
                suppressed_since_last = suppressed,
                "ticket cap reached: shed the least recently active tickets (raise tickets.max_per_partition or lower tickets.retention)"
            );
        }
    }

    /// A partition's reorder buffer was full: its oldest events were applied ahead of the
    /// watermark.
    pub fn reorder_buffer_full(&self, partition: &PartitionId, count: usize, cap: usize) {
        self.reorder_buffer_full.fetch_add(count as u64, Ordering::Relaxed);
        if let Some(suppressed) = self.log_allowed("reorder_buffer_full") {
            tracing::warn!(
                ?partition,
                count,
                cap,
                suppressed_since_last = suppressed,
                "reorder buffer full: applied the oldest buffered events early; older events now count as late (raise time.max_buffered_events or lower time.allowed_lateness)"
            );
        }
    }

    /// A partition's next message is further on than its state expects.
    pub fn offset_gap(&self, partition: &PartitionId, expected: i64, got: i64) {
        if let Some(suppressed) = self.log_allowed("offset_gap") {
            tracing::warn!(
                ?partition,
                expected,
                got,
                suppressed_since_last = suppressed,
                "input offsets skipped: messages between were never read"
            );
        }
    }

    pub fn snapshot_saved(&self, partition: &PartitionId, bytes: usize, pause: Duration) {
        self.snapshots_saved.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_snapshot) = Some((bytes, pause));
        tracing::debug!(?partition, bytes, pause_ms = pause.as_millis() as u64, "snapshot saved");
    }

    pub fn snapshot_restored(&self, partition: &PartitionId, name: &str, offset: i64) {
        self.snapshots_restored.fetch_add(1, Ordering::Relaxed);
        tracing::info!(?partition, snapshot = name, offset, "state restored from snapshot");
    }

    /// A snapshot could not be saved, or a stored one could not be used.
    pub fn snapshot_failed(&self, operation: SnapshotOperation, partition: &PartitionId, error: &crate::snapshot::SnapshotError) {
        let op = match operation {
            SnapshotOperation::Save => "save",
            SnapshotOperation::Load => "load",
        };
        *lock(&self.snapshot_failures).entry((op, error.reason())).or_default() += 1;
        tracing::error!(?partition, operation = op, reason = error.reason(), %error, "snapshot {op} failed");
    }

    /// Broker reachability as librdkafka reports it; drives readiness.
    pub fn set_broker_reachable(&self, reachable: bool) {
        if self.broker_down.swap(!reachable, Ordering::Relaxed) == reachable {
            if reachable {
                tracing::info!("Kafka broker reachable again");
            } else {
                tracing::error!("all Kafka brokers are down");
            }
        }
    }

    pub fn broker_reachable(&self) -> bool {
        !self.broker_down.load(Ordering::Relaxed)
    }

    /// A rejected message reached the dead-letter topic.
    pub fn dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// A rejected message could not be written to the dead-letter topic.
    pub fn dead_letter_failed(&self, topic: &str, error: &dyn std::fmt::Display) {
        self.dead_letter_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(topic, %error, "could not write a rejected event to the dead-letter topic");
    }

    pub fn partitions_assigned(&self, partitions: &[PartitionId]) {
        tracing::info!(?partitions, "partitions assigned");
        lock(&self.assigned).extend(partitions.iter().cloned());
    }

    pub fn partitions_revoked(&self, partitions: &[PartitionId]) {
        tracing::info!(?partitions, "partitions revoked");
        let mut assigned = lock(&self.assigned);
        let mut lag = lock(&self.lag);
        for p in partitions {
            assigned.remove(p);
            lag.remove(p);
        }
    }

    pub fn assigned_count(&self) -> usize {
        lock(&self.assigned).len()
    }

    pub fn set_lag(&self, partition: PartitionId, lag: i64) {
        if lock(&self.assigned).contains(&partition) {
            lock(&self.lag).insert(partition, lag);
        }
    }

    /// Counter values for the exporter: (type label, result, value), nonzero or not.
    pub fn event_counts(&self) -> Vec<(&'static str, EventResult, u64)> {
        let types = EventType::ALL.iter().map(|t| t.as_str()).chain(["unknown"]);
        types
            .zip(&self.events)
            .flat_map(|(name, row)| EventResult::ALL.iter().zip(row).map(move |(r, c)| (name, *r, c.load(Ordering::Relaxed))))
            .collect()
    }

    pub fn invalid_counts(&self) -> Vec<(InvalidReason, u64)> {
        InvalidReason::ALL.iter().zip(&self.invalid).map(|(r, c)| (*r, c.load(Ordering::Relaxed))).collect()
    }

    pub fn dead_letter_counts(&self) -> (u64, u64) {
        (self.dead_lettered.load(Ordering::Relaxed), self.dead_letter_failures.load(Ordering::Relaxed))
    }

    pub fn lags(&self) -> BTreeMap<PartitionId, i64> {
        lock(&self.lag).clone()
    }

    pub fn shed_count(&self) -> u64 {
        self.tickets_shed.load(Ordering::Relaxed)
    }

    pub fn reorder_buffer_full_count(&self) -> u64 {
        self.reorder_buffer_full.load(Ordering::Relaxed)
    }

    pub fn snapshot_stats(&self) -> SnapshotStats {
        SnapshotStats {
            saved: self.snapshots_saved.load(Ordering::Relaxed),
            restored: self.snapshots_restored.load(Ordering::Relaxed),
            failures: lock(&self.snapshot_failures).clone(),
            newest: *lock(&self.last_snapshot),
        }
    }
}
