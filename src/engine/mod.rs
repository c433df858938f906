//! The engine: per-partition state (tickets, reorder buffer, timers, windows, gauges) and the
//! one path every input message takes, whether from Kafka, a replay file or the demo.
//!
//! Time, per partition: stream time T is the newest event time seen (in the live service,
//! never beyond the wall clock); the watermark is T − `allowed_lateness`. New events wait in a
//! reorder buffer and are applied in event-time order once the watermark passes them,
//! interleaved with each ticket's timer (SLA deadlines, eviction), which fires when the
//! watermark passes it. So any delivery order within the allowed lateness gives exactly the
//! in-order result. An event older than the watermark is `late`: applied at once, to ticket
//! state and to whichever window slices still cover it.
//!
//! Memory is bounded per partition: at most `time.max_buffered_events` buffered events (a full
//! buffer moves the watermark up to its oldest event), one timer per ticket, and at most
//! `tickets.max_per_partition` tickets besides those with buffered events (shedding the least
//! recently active takes everything a ticket holds).
//!
//! | part | what it holds |
//! |---|---|
//! | `rules` | [`Rules`]: the configuration compiled once |
//! | `partition` | [`Partition`]: tickets, the reorder buffer, timers, shedding |
//! | `families` | the window families (kpi, sla, topic, agent), listed once: kept, recorded, pruned, read, merged |
//! | `gauges` | the current gauges kept as tickets change, read at scrape time |
//! | `presence` | agents' latest `agent_status` per partition, for the staffing families' agents available |
//! | `capture` | a partition's state captured under its lock and sealed into a snapshot after it |
//! | `read` | the read model: what a scrape takes under each lock ([`Reading`]) and merges after it ([`View`]) |
//! | this file | [`Engine`]: the partitions' lanes and the single input path |
//! | `tests` | the engine as a whole, through its input path: committed-offset totals, sealed captures |

mod capture;
mod families;
mod gauges;
mod partition;
pub(crate) mod presence;
mod read;
mod rules;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::base::{Millis, PartitionId};
use crate::event::{self, Invalid};
use crate::internal_events::{
    EventProcessed, EventResult, EventsWithoutCreation, InvalidEvent, OffsetGap, ReorderBufferFull, SnapshotDifferences, Telemetry,
    TicketsShed, TopicTooLong,
};
use crate::lock;
use crate::snapshot::{self, SnapshotError};
use crate::ticket::Effects;

pub use capture::Capture;
pub use families::{FamilyRules, ViewFolds, WindowView};
pub use gauges::{Current, SlaKey, SlaRow};
pub use partition::{Partition, PartitionState};
pub use read::{PartitionClock, Reading, View};
pub use rules::Rules;

/// One partition's state behind its own lock. A worker keeps this handle while it feeds the
/// partition, so its hot path takes no lock shared with other partitions; a scrape or a
/// snapshot locks one partition at a time and so pauses only that one.
pub(crate) type Lane = Arc<Mutex<Partition>>;

/// All partitions held by this process, and the single entry point for input messages.
///
/// Every method takes `&self`: partitions are processed on separate cores at once (see
/// `source`), each behind its own lock ([`Lane`]). The membership map has a lock of its own,
/// taken on assign, revoke and a partition's first message, and by readers listing partitions.
#[derive(Debug)]
pub struct Engine {
    rules: Arc<Rules>,
    partitions: Mutex<BTreeMap<PartitionId, Lane>>,
    telemetry: Arc<Telemetry>,
    /// Replay with `--end-time`: events are checked against it as the live service checks
    /// them against the wall clock (`future_timestamp`).
    end_time: Option<Millis>,
    /// Snapshots are kept: scrapes show each partition's totals as of its last snapshot saved
    /// rather than the live ones ([`Partition::totals`]).
    totals_as_of_snapshots: bool,
}

impl Engine {
    pub fn new(rules: Rules, telemetry: Arc<Telemetry>) -> Self {
        Self { rules: Arc::new(rules), partitions: Mutex::default(), telemetry, end_time: None, totals_as_of_snapshots: false }
    }

    /// Snapshots are kept (`run` with a snapshot store): totals are shown as of each
    /// partition's last snapshot saved, so they never go back across restarts and handovers.
    pub fn with_totals_as_of_snapshots(mut self, on: bool) -> Self {
        self.totals_as_of_snapshots = on;
        self
    }

    /// The snapshot of `partition` at `offset`, holding `totals`, was saved
    /// ([`Partition::publish`]); nothing when the partition is no longer held.
    pub fn publish(&self, partition: &PartitionId, offset: i64, totals: Arc<crate::kpi::Totals>) {
        if let Some(lane) = self.partition(partition) {
            lock(&lane).publish(offset, totals);
        }
    }

    /// Replay up to `end_time`: an event dated more than `time.max_future_skew` after it is
    /// rejected as `future_timestamp`.
    pub fn with_end_time(mut self, end_time: Option<Millis>) -> Self {
        self.end_time = end_time;
        self
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The partition's lane, created empty on its first use.
    pub fn lane(&self, partition: &PartitionId) -> Lane {
        let mut partitions = lock(&self.partitions);
        if let Some(lane) = partitions.get(partition) {
            return Arc::clone(lane);
        }
        let lane = Arc::new(Mutex::new(Partition::new(Arc::clone(&self.rules))));
        partitions.insert(partition.clone(), Arc::clone(&lane));
        lane
    }

    /// Parses, validates and ingests one message, counting its result: [`Engine::handle_in`]
    /// on the partition's lane.
    pub fn handle(
        &self,
        partition: &PartitionId,
        payload: &[u8],
        now: Option<Millis>,
        source: &dyn std::fmt::Display,
    ) -> Result<EventResult, Invalid> {
        self.handle_in(&self.lane(partition), partition, None, payload, now, source)
    }

    /// The input path: parses and validates one message (before taking any lock), then
    /// ingests it into `lane`, the state of `partition`, counting its result. `now` (wall
    /// clock) is given in live mode: it enables the future-skew check, caps stream time and
    /// tracks idleness. `offset` is the message's input position in live mode: a gap before
    /// it is reported, and a valid message is recorded as consumed under the same lock as its
    /// ingestion, so a snapshot holds both or neither.
    pub fn handle_in(
        &self,
        lane: &Lane,
        partition: &PartitionId,
        offset: Option<i64>,
        payload: &[u8],
        now: Option<Millis>,
        source: &dyn std::fmt::Display,
    ) -> Result<EventResult, Invalid> {
        // Replay's end time stands in for the wall clock: the same skew check, and stream time
        // never passes it, so nothing after it shows.
        let clock = now.or(self.end_time);
        let event = event::parse(payload, &self.rules.limits, clock);
        let mut guard = lock(lane);
        let state: &mut Partition = &mut guard;
        if let Some((offset, expected)) = offset.zip(state.state.next_offset).filter(|(offset, expected)| offset > expected) {
            // Compaction and transaction markers leave gaps legitimately; retention that
            // deleted unread input, or a broker that skips, does not.
            self.telemetry.emit(OffsetGap { partition, expected, got: offset });
        }
        if let Some(offset) = offset {
            state.reading(offset);
        }
        let event = match event {
            Ok(event) => event,
            Err(invalid) => {
                drop(guard);
                self.telemetry.emit(InvalidEvent { invalid: &invalid, source });
                return Err(invalid);
            }
        };
        let event_type = event.body.event_type();
        if event.topic_too_long {
            self.telemetry.emit(TopicTooLong);
        }
        let (max_tickets, max_buffered) = (self.rules.max_tickets, self.rules.max_buffered);
        // An agent's status moves no ticket's time: a partition receiving only statuses is
        // idle for its tickets, and follows the clock.
        if now.is_some() && !matches!(event.body, event::EventBody::AgentStatus(_)) {
            state.state.last_arrival = now;
            state.state.following = false;
        }
        let uncreated_before = state.uncreated_events;
        let result = state.ingest(event, clock);
        let early = state.bound_buffer();
        let uncreated = state.uncreated_events - uncreated_before;
        // The cap counts tickets besides those with buffered events (fewer than the buffered
        // events). Shed 1% of the tickets more at a time, so the scan over them for the oldest
        // is amortised over many events.
        let excess = state.ticket_count().checked_sub(max_tickets + state.buffered_count()).filter(|n| *n > 0);
        let shed = excess.map(|n| state.shed(n + state.ticket_count() / 100));
        if let Some(offset) = offset {
            state.state.next_offset = Some(offset + 1);
        }
        let differences = std::mem::take(&mut state.snapshot_differences);
        drop(guard);
        self.telemetry.emit(SnapshotDifferences(&differences));
        if early > 0 {
            self.telemetry.emit(ReorderBufferFull { partition, count: early, cap: max_buffered });
        }
        if let Some(shed) = shed {
            self.telemetry.emit(TicketsShed { partition, count: shed, cap: max_tickets });
        }
        if uncreated > 0 {
            self.telemetry.emit(EventsWithoutCreation { partition });
        }
        self.telemetry.emit(EventProcessed { event_type: Some(event_type), result });
        Ok(result)
    }

    /// Records that the message at `offset` of `partition` was taken (whatever its fate), so
    /// the next snapshot resumes after it.
    pub fn consumed(&self, partition: &PartitionId, offset: i64) {
        let lane = self.lane(partition);
        let mut p = lock(&lane);
        p.reading(offset);
        p.state.next_offset = Some(offset + 1);
    }

    /// `partition` starts without a usable snapshot, and its consumer group had committed
    /// `offset`: the messages before it were counted in the totals by the previous owner, so
    /// they rebuild the state without adding to the totals again
    /// ([`PartitionState::count_totals_from`]).
    pub fn count_totals_from(&self, partition: &PartitionId, offset: i64) {
        let lane = self.lane(partition);
        let mut p = lock(&lane);
        if p.state.next_offset.is_none_or(|next| next < offset) {
            p.state.count_totals_from = Some(offset);
        }
    }

    /// The offset the partition's state resumes at, once a message has been consumed.
    pub fn next_offset(&self, partition: &PartitionId) -> Option<i64> {
        self.partition(partition).and_then(|p| lock(&p).state.next_offset)
    }

    /// The partition's state captured for a snapshot: all that taking one does under that
    /// partition's lock ([`Partition::capture`]); `None` before the first consumed message.
    pub fn capture(&self, partition: &PartitionId) -> Option<Capture> {
        let lane = self.partition(partition)?;
        let captured = lock(&lane).capture(partition);
        captured
    }

    /// A sealed snapshot of the partition's state and the offset it resumes at; `None` before
    /// the first consumed message. Locks that partition only.
    pub fn snapshot(&self, partition: &PartitionId) -> Option<(i64, Vec<u8>)> {
        let capture = self.capture(partition)?;
        Some((capture.offset(), capture.seal()))
    }

    /// Installs a snapshot as the partition's state and returns the offset to resume at.
    /// `now` restarts idle tracking: advancement counts from the restore, not the crash.
    pub fn restore(&self, partition: &PartitionId, bytes: &[u8], now: Option<Millis>) -> Result<i64, SnapshotError> {
        let mut state: PartitionState = snapshot::decode(bytes, partition, &self.rules.shape)?;
        let offset = state.next_offset.ok_or_else(|| SnapshotError::Corrupt("snapshot has no input offset".into()))?;
        state.last_arrival = now;
        // What the snapshot holds is what its saver showed last: shown again at once.
        let published = Some((offset, Arc::new(state.totals.clone())));
        let restored = Partition {
            rules: Arc::clone(&self.rules),
            state,
            effects: Effects::default(),
            published,
            uncreated_events: 0,
            snapshot_differences: Default::default(),
        };
        // Into the lane a worker may already hold (a message that came before the assignment
        // completed), so that worker feeds the restored state rather than a dropped one.
        let mut partitions = lock(&self.partitions);
        match partitions.get(partition) {
            Some(lane) => *lock(lane) = restored,
            None => {
                partitions.insert(partition.clone(), Arc::new(Mutex::new(restored)));
            }
        }
        Ok(offset)
    }

    /// The lanes held, in partition order, taken from the membership map and released, so
    /// that each is then locked on its own.
    pub fn lanes(&self) -> Vec<(PartitionId, Lane)> {
        lock(&self.partitions).iter().map(|(id, lane)| (id.clone(), Arc::clone(lane))).collect()
    }

    /// Live mode: partitions that received nothing for `idle_timeout`, or were read to their
    /// end since their last message, move to wall-clock time.
    pub fn advance_idle(&self, now: Millis) {
        self.advance_idle_where(now, |_| true);
    }

    /// [`Engine::advance_idle`] of the partitions `which` selects.
    pub fn advance_idle_where(&self, now: Millis, which: impl Fn(&PartitionId) -> bool) {
        let idle = self.rules.idle_timeout;
        if idle == 0 {
            return;
        }
        for (_, lane) in self.lanes().into_iter().filter(|(id, _)| which(id)) {
            let mut p = lock(&lane);
            if p.state.following || p.state.last_arrival.is_some_and(|last| now - last >= idle) {
                p.advance_to(now);
                self.telemetry.emit(SnapshotDifferences(&std::mem::take(&mut p.snapshot_differences)));
            }
        }
    }

    /// Live mode: the consumer read `partition` to its end (librdkafka's partition EOF). Until
    /// its next message, its stream time follows the wall clock at once rather than after
    /// `idle_timeout`, so a quiet partition's events are applied `allowed_lateness` after their
    /// time. A backlog being read never reaches its end, so there event time rules and nothing
    /// fires early. `idle_timeout = 0s` turns this off with the rest of wall-clock following.
    pub fn caught_up(&self, partition: &PartitionId, now: Millis) {
        if self.rules.idle_timeout == 0 {
            return;
        }
        if let Some(lane) = self.partition(partition) {
            let mut p = lock(&lane);
            p.state.following = true;
            // The previous owner followed the clock up to its stop too: what the advance fires
            // while a committed offset is still ahead was counted by it. Read to its end, the
            // partition is past whatever was committed.
            p.advance_to(now);
            p.state.count_totals_from = None;
            self.telemetry.emit(SnapshotDifferences(&std::mem::take(&mut p.snapshot_differences)));
        }
    }

    /// Drops the state of partitions this process no longer owns.
    pub fn revoke(&self, partitions: &[PartitionId]) {
        let mut held = lock(&self.partitions);
        for p in partitions {
            held.remove(p);
        }
    }

    /// Replay: the input is complete; advance every partition to `end_time` (or its own
    /// newest event time) and fire what is due.
    pub fn finish(&self, end_time: Option<Millis>) {
        for (_, lane) in self.lanes() {
            let mut p = lock(&lane);
            p.finish(end_time);
            self.telemetry.emit(SnapshotDifferences(&std::mem::take(&mut p.snapshot_differences)));
        }
    }

    pub fn partition_ids(&self) -> Vec<PartitionId> {
        lock(&self.partitions).keys().cloned().collect()
    }

    /// The partition's lane, if held.
    pub fn partition(&self, id: &PartitionId) -> Option<Lane> {
        lock(&self.partitions).get(id).cloned()
    }

    /// Reads every partition into a [`Reading`], the only work a scrape does under the
    /// partitions' locks, one partition at a time; `wall` is the wall clock in the live
    /// service (see [`Partition::current_time`]), `None` in replay.
    pub fn read(&self, wall: Option<Millis>) -> Reading {
        let mut reading = Reading::default();
        for (id, lane) in self.lanes() {
            let p = lock(&lane);
            p.read_into(wall, &mut reading);
            if let Some(totals) = p.totals(self.totals_as_of_snapshots) {
                reading.totals.push((id.clone(), totals));
            }
            if let (Some(stream_time), Some(watermark)) = (p.stream_time(), p.watermark()) {
                let (tickets, buffered, uncreated_events) = (p.ticket_count(), p.buffered_count(), p.uncreated_events);
                reading.clocks.push(PartitionClock { partition: id, stream_time, watermark, tickets, buffered, uncreated_events });
            }
        }
        reading
    }

    /// [`Engine::read`] merged into a [`View`] at once, where no lock is to be released first
    /// and no earlier merge is kept.
    pub fn view(&self, wall: Option<Millis>) -> View {
        self.read(wall).merge(&mut ViewFolds::default())
    }

    /// The rules, to use after releasing a partition's lock.
    pub fn shared_rules(&self) -> Arc<Rules> {
        Arc::clone(&self.rules)
    }
}

#[cfg(test)]
mod tests;
