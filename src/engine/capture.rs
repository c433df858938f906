//! Snapshots of a partition: its state captured under the partition's lock (sharing the
//! tickets) and sealed into bytes after the lock is released.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::base::PartitionId;
use crate::snapshot;
use crate::ticket::GaugeShare;

use super::gauges::Gauges;
use super::partition::{Partition, PartitionState};
use super::Rules;

impl Partition {
    /// The state as it is now, to snapshot as partition `id` once the lock is released
    /// ([`Capture::seal`]); `None` before the first consumed message. The tickets are shared,
    /// a reference count each (one changed later is copied first); the bounded parts (reorder
    /// buffer, window slices) are copied, the buffer at about 0.2 µs an event (20 ms when
    /// 100,000 are buffered). The timer queue and the gauges, as large as the
    /// ticket table, are left out: they follow from the tickets, and `seal` rebuilds them.
    pub fn capture(&self, id: &PartitionId) -> Option<Capture> {
        let s = &self.state;
        let offset = s.next_offset?;
        let state = PartitionState {
            tickets: s.tickets.clone(),
            pending: s.pending.clone(),
            timers: BTreeSet::new(),
            windows: s.windows.clone(),
            totals: s.totals.clone(),
            gauges: Gauges::default(),
            stream_time: s.stream_time,
            watermark_floor: s.watermark_floor,
            last_arrival: s.last_arrival,
            next_offset: s.next_offset,
            count_totals_from: s.count_totals_from,
            following: s.following,
            presence: s.presence.clone(),
        };
        // Shown once the snapshot is saved ([`Partition::publish`]): the totals of exactly
        // the state it holds, together with its offset.
        let totals = Arc::new(s.totals.clone());
        Some(Capture { partition: id.clone(), offset, rules: Arc::clone(&self.rules), state, totals })
    }

    /// The snapshot of `offset`, holding `totals`, is saved: a scrape shows those totals from
    /// now on. A restart after a SIGKILL, or a new owner, restores the newest snapshot saved,
    /// so it shows these (or newer) again: a total never goes back, and the lag behind the
    /// live totals is at most `snapshots.interval`. An older capture saved late changes
    /// nothing.
    pub fn publish(&mut self, offset: i64, totals: Arc<crate::kpi::Totals>) {
        if self.published.as_ref().is_none_or(|(shown, _)| *shown <= offset) {
            self.published = Some((offset, totals));
        }
    }

    /// The totals a scrape shows: as of the last snapshot saved, or the live ones when no
    /// snapshot is kept (`snapshots.store = "none"`, replay).
    pub fn totals(&self, as_of_snapshots: bool) -> Option<Arc<crate::kpi::Totals>> {
        if as_of_snapshots {
            self.published.as_ref().map(|(_, totals)| Arc::clone(totals))
        } else {
            self.state.stream_time.map(|_| Arc::new(self.state.totals.clone()))
        }
    }
}

/// A partition's state as of one instant ([`Partition::capture`]), sealed into a snapshot
/// after the partition's lock is released, on the thread that writes it.
#[derive(Debug)]
pub struct Capture {
    partition: PartitionId,
    offset: i64,
    rules: Arc<Rules>,
    /// Without its timer queue and gauges, until `seal`.
    state: PartitionState,
    /// Its totals, to show once it is saved.
    totals: Arc<crate::kpi::Totals>,
}

impl Capture {
    /// The input offset the snapshot resumes at.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The totals it holds, for [`crate::engine::Engine::publish`] once it is saved.
    pub fn totals(&self) -> Arc<crate::kpi::Totals> {
        Arc::clone(&self.totals)
    }

    /// Rebuilds the timer queue (each ticket's [`Ticket::timer`]) and the gauges (the sum of
    /// the tickets' gauge shares), then encodes the state: the same bytes as encoding the
    /// partition's own state at capture time.
    pub fn seal(self) -> Vec<u8> {
        let Capture { partition, rules, mut state, .. } = self;
        state.timers = state.tickets.iter().filter_map(|(id, ticket)| Some((ticket.timer.get()?, id.clone()))).collect();
        // In creation order, the instants of each multiset come nearly in order (deadlines and
        // waits follow creation), so the B-trees grow at their right edge rather than at random.
        let mut shares: Vec<GaugeShare> = state.tickets.values().filter_map(|t| t.gauge_share(&rules.ticket.policies)).collect();
        shares.sort_unstable_by_key(|share| share.created_at);
        for share in shares {
            state.gauges.apply(&rules.ticket.catalog, Some(share), 1);
        }
        snapshot::encode(&partition, &rules.shape, &state)
    }
}
