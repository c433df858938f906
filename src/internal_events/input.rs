//! Events of the input path: a message's fate, and what a partition noticed while applying it.

use std::sync::atomic::Ordering;

use crate::base::PartitionId;
use crate::event::{EventType, Invalid, InvalidReason};
use crate::ticket::SnapshotField;

use super::{type_row, EventResult, InternalEvent, Telemetry, TARGET};

/// One message's fate, counted by type (`None`: unreadable, counted as `unknown`) and result.
pub struct EventProcessed {
    pub event_type: Option<EventType>,
    pub result: EventResult,
}

impl InternalEvent for EventProcessed {
    fn emit(self, t: &Telemetry) {
        t.counters.events[type_row(self.event_type)][self.result.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// A rejected message: counted (as an event and by reason), and logged at most once per
/// reason every 10 s.
pub struct InvalidEvent<'a> {
    pub invalid: &'a Invalid,
    pub source: &'a dyn std::fmt::Display,
}

impl InternalEvent for InvalidEvent<'_> {
    fn emit(self, t: &Telemetry) {
        let InvalidEvent { invalid, source } = self;
        EventProcessed { event_type: invalid.event_type, result: EventResult::Invalid }.emit(t);
        let reason = InvalidReason::ALL.iter().position(|r| *r == invalid.reason).expect("every reason is in ALL");
        t.counters.invalid[reason].fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed(invalid.reason.as_str()) {
            tracing::warn!(
                target: TARGET,
                reason = invalid.reason.as_str(),
                detail = %invalid.detail,
                %source,
                suppressed_since_last = suppressed,
                "rejected invalid event"
            );
        }
    }
}

/// A partition's next message is further on than its state expects: logged only (at most
/// once every 10 s).
pub struct OffsetGap<'a> {
    pub partition: &'a PartitionId,
    pub expected: i64,
    pub got: i64,
}

impl InternalEvent for OffsetGap<'_> {
    fn emit(self, t: &Telemetry) {
        let OffsetGap { partition, expected, got } = self;
        if let Some(suppressed) = t.log_allowed("offset_gap") {
            tracing::warn!(
                target: TARGET,
                ?partition,
                expected,
                got,
                suppressed_since_last = suppressed,
                "input offsets skipped: messages between were never read"
            );
        }
    }
}

/// An event was applied to a ticket whose `ticket_created` its partition has not seen. Counted
/// per partition by the engine (`ticketpulse_events_without_creation_total`, partition state);
/// logged here at a bounded rate, since a stream of them means a producer that does not key
/// by ticket id.
pub struct EventsWithoutCreation<'a> {
    pub partition: &'a PartitionId,
}

impl InternalEvent for EventsWithoutCreation<'_> {
    fn emit(self, t: &Telemetry) {
        let partition = self.partition;
        if let Some(suppressed) = t.log_allowed("events_without_creation") {
            tracing::warn!(
                target: TARGET,
                ?partition,
                suppressed_since_last = suppressed,
                "an event was applied to a ticket whose ticket_created this partition has not seen: if this repeats, \
                 check that producers key every message by ticket_id (docs/events.md); such tickets count as channel and priority \"unknown\""
            );
        }
    }
}

/// An ingested event's topic was over 128 bytes and read as `other`: counted only.
pub struct TopicTooLong;

impl InternalEvent for TopicTooLong {
    fn emit(self, t: &Telemetry) {
        t.counters.topics_too_long.fetch_add(1, Ordering::Relaxed);
    }
}

/// Differences `ticket_snapshot`s found (per [`SnapshotField::index`]), taken from a
/// partition after it applied events: counted only.
pub struct SnapshotDifferences<'a>(pub &'a [u64; SnapshotField::ALL.len()]);

impl InternalEvent for SnapshotDifferences<'_> {
    fn emit(self, t: &Telemetry) {
        for (counter, n) in t.counters.snapshot_differences.iter().zip(self.0) {
            if *n > 0 {
                counter.fetch_add(*n, Ordering::Relaxed);
            }
        }
    }
}

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
                target: TARGET,
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
                target: TARGET,
                ?partition,
                count,
                cap,
                suppressed_since_last = suppressed,
                "reorder buffer full: applied the oldest buffered events early; older events now count as late (raise time.max_buffered_events or lower time.allowed_lateness)"
            );
        }
    }
}
