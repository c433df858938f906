//! The internal events converted to types: each emits its log line and its counter together;
//! apart from `Telemetry` so that a new one is added here alone.

use std::sync::atomic::Ordering;

use crate::base::PartitionId;
use crate::event::InvalidReason;
use crate::lock;

use super::{HttpDrop, InternalEvent, SnapshotOperation, Telemetry};

/// A partition at its ticket cap dropped its least recently active tickets.
pub struct TicketsShed<'a> {
    pub partition: &'a PartitionId,
    pub count: usize,
    pub cap: usize,
}

impl InternalEvent for TicketsShed<'_> {
    fn emit(self, t: &Telemetry) {
        let TicketsShed { partition, count, cap } = self;
        t.counters.tickets_shed.fetch_add(count as u64, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("tickets_shed") {
            tracing::warn!(
                ?partition,
                count,
                cap,
                suppressed_since_last = suppressed,
                "ticket cap reached: shed the least recently active tickets (raise tickets.max_per_partition or lower tickets.retention)"
            );
        }
    }
}

/// A partition's reorder buffer was full: its oldest `count` events were applied ahead of the
/// watermark.
pub struct ReorderBufferFull<'a> {
    pub partition: &'a PartitionId,
    pub count: usize,
    pub cap: usize,
}

impl InternalEvent for ReorderBufferFull<'_> {
    fn emit(self, t: &Telemetry) {
        let ReorderBufferFull { partition, count, cap } = self;
        t.counters.reorder_buffer_full.fetch_add(count as u64, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("reorder_buffer_full") {
            tracing::warn!(
                ?partition,
                count,
                cap,
                suppressed_since_last = suppressed,
                "reorder buffer full: applied the oldest buffered events early; older events now count as late (raise time.max_buffered_events or lower time.allowed_lateness)"
            );
        }
    }
}

/// A snapshot could not be saved, or a stored one could not be used: `reason` is the error's
/// bounded label (`SnapshotError::reason`; the snapshot module sits above this one).
pub struct SnapshotFailed<'a> {
    pub operation: SnapshotOperation,
    pub partition: &'a PartitionId,
    pub reason: &'static str,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for SnapshotFailed<'_> {
    fn emit(self, t: &Telemetry) {
        let SnapshotFailed { operation, partition, reason, error } = self;
        let op = match operation {
            SnapshotOperation::Save => "save",
            SnapshotOperation::Load => "load",
        };
        *lock(&t.counters.snapshot_failures).entry((op, reason)).or_default() += 1;
        tracing::error!(?partition, operation = op, reason, %error, "snapshot {op} failed");
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

/// The HTTP server closed a connection early: counted by reason, and logged at most once
/// every 10 s whatever the reason (a flood is one line, not thousands).
pub struct HttpConnectionDropped(pub HttpDrop);

impl InternalEvent for HttpConnectionDropped {
    fn emit(self, t: &Telemetry) {
        let HttpConnectionDropped(reason) = self;
        t.counters.http_dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("http_dropped") {
            tracing::warn!(reason = reason.as_str(), suppressed_since_last = suppressed, "HTTP connection closed early");
        }
    }
}
