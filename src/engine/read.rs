//! The read model: what a scrape takes under each partition's lock ([`Reading`]: references
//! to window slices, the current gauges read, the clocks) and the [`View`] merged from it after
//! the lock is released.

use std::sync::Arc;

use crate::base::{Millis, PartitionId};
use crate::kpi::Totals;

use super::families::{ViewFolds, WindowReading, WindowView};
use super::gauges::Current;
use super::partition::Partition;
use super::presence::Presences;

impl Partition {
    /// Adds this partition's windows (at its stream time: references to their slices) and
    /// current gauges (at its current time) into `view`.
    pub fn read_into(&self, wall: Option<Millis>, view: &mut Reading) {
        // Before the stream time test: a partition may hold agent statuses and no ticket.
        if !self.state.presence.agents.is_empty() {
            view.presence.get_or_insert_default().merge(&self.state.presence);
        }
        let (Some(stream_time), Some(now)) = (self.state.stream_time, self.current_time(wall)) else { return };
        self.state.windows.read_into(stream_time, &mut view.windows);
        self.state.gauges.read_into(now, &self.rules, &mut view.current);
    }
}

/// Per-partition progress, for the self-metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionClock {
    pub partition: PartitionId,
    pub stream_time: Millis,
    pub watermark: Millis,
    pub tickets: usize,
    /// Events waiting in the reorder buffer.
    pub buffered: usize,
    /// Events applied to tickets never created on this partition, since this instance took it.
    pub uncreated_events: u64,
}

/// Everything the exporter renders: owned data (windows merged, current gauges read at each
/// partition's time, per-partition clocks), made from a [`Reading`] after the lock is released.
#[derive(Debug, Default)]
pub struct View {
    /// Every window family's series (`engine/families.rs`).
    pub windows: WindowView,
    pub current: Current,
    pub clocks: Vec<PartitionClock>,
    /// Each partition's totals as shown ([`Partition::totals`]), in partition order.
    pub totals: Vec<(PartitionId, Arc<Totals>)>,
    /// Agents' latest statuses over every partition; `None` until an `agent_status` was kept.
    pub presence: Option<Presences>,
}

/// What a scrape takes under each partition's lock: each window series' slices (shared references,
/// not merged: merging the sketches of a day of slices is most of a scrape's work), the
/// current gauges and the clocks. [`Reading::merge`] makes the [`View`], after the lock.
#[derive(Debug, Default)]
pub struct Reading {
    windows: WindowReading,
    current: Current,
    pub(super) clocks: Vec<PartitionClock>,
    pub(super) totals: Vec<(PartitionId, Arc<Totals>)>,
    presence: Option<Presences>,
}

impl Reading {
    /// Merges every series' slices, partition by partition in the order they were read, as a
    /// read under the lock would have merged them; `folds` keeps what the next merge can reuse.
    pub fn merge(self, folds: &mut ViewFolds) -> View {
        View {
            windows: self.windows.merge(folds),
            current: self.current,
            clocks: self.clocks,
            totals: self.totals,
            presence: self.presence,
        }
    }
}
