//! Events of the input path: a message's fate, and what a partition noticed while applying it.

use std::sync::atomic::Ordering;

use crate::base::PartitionId;

use super::{InternalEvent, Telemetry, TARGET};

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
