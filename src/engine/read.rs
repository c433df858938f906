//! The read model: what a scrape takes under each partition's lock ([`Reading`]: references
//! to window slices, the current gauges read, the clocks) and the [`View`] merged from it after
//! the lock is released.

use std::collections::BTreeMap;

use crate::agent::AgentSlice;
use crate::base::{Millis, PartitionId};
use crate::dimensions::DimKey;
use crate::kpi::{KpiSlice, SlaSlice, TopicSlice};
use crate::sla::PolicyId;
use crate::window::{Folds, Slices};

use super::gauges::Current;
use super::partition::Partition;

impl Partition {
    /// Adds this partition's windows (at its stream time: references to their slices) and
    /// current gauges (at its current time) into `view`.
    pub fn read_into(&self, wall: Option<Millis>, view: &mut Reading) {
        let (Some(stream_time), Some(now)) = (self.state.stream_time, self.current_time(wall)) else { return };
        self.state.windows.read_into(stream_time, &mut view.windows);
        self.state.sla_windows.read_into(stream_time, &mut view.sla_windows);
        self.state.topic_windows.read_into(stream_time, &mut view.topic_windows);
        self.state.agent_windows.read_into(stream_time, &mut view.agent_windows);
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
}

/// Everything the exporter renders: owned data (windows merged, current gauges read at each
/// partition's time, per-partition clocks), made from a [`Reading`] after the lock is released.
#[derive(Debug, Default)]
pub struct View {
    pub windows: BTreeMap<(usize, DimKey), KpiSlice>,
    pub sla_windows: BTreeMap<(usize, (DimKey, PolicyId)), SlaSlice>,
    pub topic_windows: BTreeMap<(usize, ()), TopicSlice>,
    pub agent_windows: BTreeMap<(usize, ()), AgentSlice>,
    pub current: Current,
    pub clocks: Vec<PartitionClock>,
}

/// What a scrape takes under each partition's lock: each window series' slices (shared references,
/// not merged: merging the sketches of a day of slices is most of a scrape's work), the
/// current gauges and the clocks. [`Reading::merge`] makes the [`View`], after the lock.
#[derive(Debug, Default)]
pub struct Reading {
    windows: BTreeMap<(usize, DimKey), Slices<KpiSlice>>,
    sla_windows: BTreeMap<(usize, (DimKey, PolicyId)), Slices<SlaSlice>>,
    topic_windows: BTreeMap<(usize, ()), Slices<TopicSlice>>,
    agent_windows: BTreeMap<(usize, ()), Slices<AgentSlice>>,
    current: Current,
    pub(super) clocks: Vec<PartitionClock>,
}

impl Reading {
    /// Merges every series' slices, partition by partition in the order they were read, as a
    /// read under the lock would have merged them; `folds` keeps what the next merge can reuse.
    pub fn merge(self, folds: &mut ViewFolds) -> View {
        View {
            windows: folds.windows.merge(self.windows),
            sla_windows: folds.sla_windows.merge(self.sla_windows),
            topic_windows: folds.topic_windows.merge(self.topic_windows),
            agent_windows: folds.agent_windows.merge(self.agent_windows),
            current: self.current,
            clocks: self.clocks,
        }
    }
}

/// The [`Folds`] of a [`View`]'s windows, kept by whoever merges [`Reading`]s one after another.
#[derive(Debug, Default)]
pub struct ViewFolds {
    windows: Folds<(usize, DimKey), KpiSlice>,
    sla_windows: Folds<(usize, (DimKey, PolicyId)), SlaSlice>,
    topic_windows: Folds<(usize, ()), TopicSlice>,
    agent_windows: Folds<(usize, ()), AgentSlice>,
}
