//! ticketpulse's own events: every log line about the service's health and the counter that
//! goes with it are defined here, in one place (as Vector does). Counters are process-wide
//! atomics, read by the exporter at scrape time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::event::{EventType, Invalid, InvalidReason};

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
    invalid: [AtomicU64; 9],
    dead_lettered: AtomicU64,
    dead_letter_failures: AtomicU64,
    /// Partitions assigned to this instance.
    assigned: Mutex<BTreeSet<PartitionId>>,
    /// Consumer lag per partition from librdkafka statistics.
    lag: Mutex<BTreeMap<PartitionId, i64>>,
    /// Last log time and suppressed count per invalid reason.
    log_gate: Mutex<BTreeMap<InvalidReason, (Option<Instant>, u64)>>,
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
        let mut gate = self.log_gate.lock().unwrap_or_else(|e| e.into_inner());
        let (last, suppressed) = gate.entry(invalid.reason).or_insert((None, 0));
        if last.is_some_and(|t| t.elapsed() < LOG_INTERVAL) {
            *suppressed += 1;
            return;
        }
        tracing::warn!(
            reason = invalid.reason.as_str(),
            detail = %invalid.detail,
            %source,
            suppressed_since_last = *suppressed,
            "rejected invalid event"
        );
        *last = Some(Instant::now());
        *suppressed = 0;
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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
