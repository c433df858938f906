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

use std::collections::btree_map::Entry as BEntry;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use hashbrown::hash_map::{Entry as HEntry, EntryRef};
use hashbrown::HashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::agent::{self, AgentRules, AgentSlice};
use crate::base::{MaybeTime, Millis, PartitionId};
use crate::config::{Config, ConfigError};
use crate::dimensions::{Catalog, DimKey};
use crate::event::{self, Event, EventBody, Invalid, ParseLimits, Status};
use crate::internal_events::{EventResult, Telemetry};
use crate::kpi::{KpiRules, KpiSlice, Sample, SlaSlice, TopicSlice, NO_TOPIC, OTHER_TOPIC};
use crate::lock;
use crate::sla::{PolicyId, SlaPolicies, SlaTarget, TargetGauge};
use crate::snapshot::{self, SnapshotError, StateShape};
use crate::ticket::{Effects, GaugeShare, Ticket, TicketRules};
use crate::window::{Folds, Slices, WindowSpec, Windows};

/// Configuration the engine needs, resolved once.
#[derive(Debug)]
pub struct Rules {
    pub ticket: TicketRules,
    pub windows: Vec<WindowSpec>,
    pub allowed_lateness: Millis,
    pub idle_timeout: Millis,
    pub retention: Millis,
    pub limits: ParseLimits,
    pub dedup_ids_per_ticket: usize,
    pub max_tickets: usize,
    /// Events a partition's reorder buffer holds at most.
    pub max_buffered: usize,
    /// Topic labels: the allow-list (empty: top N), and distinct topics kept per slice.
    pub topic_allow: Vec<String>,
    pub topics_top: usize,
    pub topics_per_slice: usize,
    /// Per-agent KPIs (`kpis.agents`).
    pub agents: AgentRules,
    /// Operating cost per hour, for cost per resolution and per contact.
    pub cost_per_hour: Option<f64>,
    /// Upper bounds of the backlog age buckets, and the age from which a ticket is stale.
    pub backlog_buckets: Vec<Millis>,
    pub stale_after: Millis,
    /// What snapshots are checked against before use.
    pub shape: StateShape,
}

impl Rules {
    /// Compiles a configuration that passed [`Config::validate`]: the one place SLA policies
    /// and calendars are built, naming the field of the first problem.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let ms = crate::base::millis;
        let windows: Vec<WindowSpec> = config.time.windows.iter().map(|w| WindowSpec::new(*w, config.time.slices_per_window)).collect();
        let catalog = Catalog::new(&config.dimensions);
        Ok(Self {
            ticket: TicketRules { kpi: KpiRules::new(config, &catalog), catalog, policies: SlaPolicies::new(&config.sla)? },
            windows: windows.clone(),
            allowed_lateness: ms(config.time.allowed_lateness),
            idle_timeout: ms(config.time.idle_timeout),
            retention: ms(config.tickets.retention),
            limits: config.parse_limits(),
            dedup_ids_per_ticket: config.events.dedup_ids_per_ticket,
            max_tickets: config.tickets.max_per_partition,
            max_buffered: config.time.max_buffered_events,
            topic_allow: config.kpis.topics.allow.clone(),
            topics_top: config.kpis.topics.top,
            topics_per_slice: config.kpis.topics.max_tracked_per_slice,
            agents: AgentRules::new(&config.kpis.agents),
            cost_per_hour: config.kpis.cost.per_hour,
            backlog_buckets: config.kpis.backlog.age_buckets.iter().map(|d| ms(*d)).collect(),
            stale_after: ms(config.kpis.backlog.stale_after),
            shape: StateShape::new(config, windows),
        })
    }
}

/// Buffered events sort by time, then by type (creation before reply before solve), then by
/// ids, so the application order never depends on arrival order.
type PendingKey = (Millis, u8, TicketId, String);

/// A ticket id as the partition keeps it: one allocation shared by the ticket table, its
/// timer and its buffered events. triomphe's `Arc` has no weak count: 8 bytes less per id,
/// which for short ids is one allocator size class (32 bytes rather than 48).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct TicketId(triomphe::Arc<str>);

impl std::ops::Deref for TicketId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TicketId {
    fn from(id: &str) -> Self {
        Self(triomphe::Arc::from(id))
    }
}

/// Lookups by `&str`: hashes and compares as the `str` it holds.
impl std::borrow::Borrow<str> for TicketId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for TicketId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TicketId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|id| Self::from(id.as_str()))
    }
}

/// Tickets by id. Ids come from the input, so the hasher is seeded per table (aHash: DoS
/// resistant, several times faster than std's SipHash on short ids). Behind a pointer: the
/// table keeps up to twice its entries' room (and both tables while it grows), so a small
/// entry halves the memory per open ticket. A counted one (triomphe: no weak count), so that a
/// snapshot captures the table by sharing its tickets ([`Partition::capture`]); a ticket is
/// changed through [`triomphe::Arc::make_mut`], which copies it first only while a capture
/// shares it.
type Tickets = HashMap<TicketId, triomphe::Arc<Ticket>, ahash::RandomState>;

/// The key of SLA series: dimensions, policy, target.
pub type SlaKey = (DimKey, PolicyId, SlaTarget);

/// The current (not windowed) gauges of a partition, kept up to date as tickets change.
/// Deadlines and waiting times are kept as multisets of instants so that what depends on
/// "now" (at risk, overdue, next deadline, age) is read at scrape time. The series are found
/// by hash (their keys are label sets of configured values, bounded), as a read only sums
/// them into ordered maps; they are stored in key order ([`sorted`]), as when they were B-trees.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Gauges {
    /// Open tickets by status and dimensions.
    #[serde(with = "sorted")]
    open: Series<(Status, DimKey), i64>,
    /// Open tickets no policy matches.
    #[serde(with = "sorted")]
    unmatched: Series<DimKey, i64>,
    /// Paused targets.
    #[serde(with = "sorted")]
    paused: Series<SlaKey, i64>,
    /// Breached targets whose work is still not done.
    #[serde(with = "sorted")]
    breached: Series<SlaKey, i64>,
    /// Deadlines of running targets.
    #[serde(with = "sorted")]
    deadlines: Series<SlaKey, BTreeMap<Millis, Count>>,
    /// Oldest unanswered customer message of each open ticket.
    #[serde(with = "sorted")]
    waiting: Series<DimKey, BTreeMap<Millis, Count>>,
    /// Creation time of each open ticket (backlog by age).
    #[serde(with = "sorted")]
    created: Series<DimKey, BTreeMap<Millis, Count>>,
}

/// Gauge series by key. Keys are bounded label sets built from configured values (never raw
/// input), so the hasher is picked for speed; aHash, as the window series use.
type Series<K, V> = HashMap<K, V, ahash::RandomState>;

/// Serde for [`Series`]: written as a map in key order, the bytes a `BTreeMap` wrote, so a
/// snapshot does not depend on hash order and older snapshots read the same.
mod sorted {
    use super::Series;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::hash::Hash;

    pub fn serialize<K: Ord + Serialize, V: Serialize, S: Serializer>(series: &Series<K, V>, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&K, &V)> = series.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serializer.collect_map(entries)
    }

    pub fn deserialize<'de, K: Deserialize<'de> + Hash + Eq, V: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Series<K, V>, D::Error> {
        Series::deserialize(deserializer)
    }
}

impl Gauges {
    /// Moves a ticket's share from `before` to `after`, touching only what changed (the
    /// same result as taking `before` out and putting `after` in).
    fn change(&mut self, catalog: &Catalog, before: Option<GaugeShare>, after: Option<GaugeShare>) {
        let (Some(b), Some(a)) = (before, after) else {
            self.apply(catalog, before, -1);
            self.apply(catalog, after, 1);
            return;
        };
        if b.dims != a.dims || b.policy != a.policy {
            self.apply(catalog, before, -1);
            self.apply(catalog, after, 1);
            return;
        }
        let key = catalog.key(a.dims);
        if b.status != a.status {
            bump(&mut self.open, (b.status, key), -1);
            bump(&mut self.open, (a.status, key), 1);
        }
        if b.created_at != a.created_at {
            bump_within(&mut self.created, key, b.created_at, -1);
            bump_within(&mut self.created, key, a.created_at, 1);
        }
        if b.waiting_since != a.waiting_since {
            if let Some(since) = b.waiting_since {
                bump_within(&mut self.waiting, key, since, -1);
            }
            if let Some(since) = a.waiting_since {
                bump_within(&mut self.waiting, key, since, 1);
            }
        }
        if let Some(policy) = a.policy {
            for ((target, old), new) in SlaTarget::ALL.into_iter().zip(b.targets).zip(a.targets) {
                if old != new {
                    self.target((key, policy, target), old, -1);
                    self.target((key, policy, target), new, 1);
                }
            }
        }
    }

    fn apply(&mut self, catalog: &Catalog, share: Option<GaugeShare>, delta: i64) {
        let Some(share) = share else { return };
        let key = catalog.key(share.dims);
        bump(&mut self.open, (share.status, key), delta);
        bump_within(&mut self.created, key, share.created_at, delta);
        if let Some(since) = share.waiting_since {
            bump_within(&mut self.waiting, key, since, delta);
        }
        let Some(policy) = share.policy else {
            bump(&mut self.unmatched, key, delta);
            return;
        };
        for (target, gauge) in SlaTarget::ALL.into_iter().zip(share.targets) {
            self.target((key, policy, target), gauge, delta);
        }
    }

    fn target(&mut self, sla_key: SlaKey, gauge: Option<TargetGauge>, delta: i64) {
        match gauge {
            Some(TargetGauge::Running(deadline)) => bump_within(&mut self.deadlines, sla_key, deadline, delta),
            Some(TargetGauge::Paused) => bump(&mut self.paused, sla_key, delta),
            Some(TargetGauge::Breached) => bump(&mut self.breached, sla_key, delta),
            None => {}
        }
    }

    /// Adds these gauges, read at time `now`, into `view`.
    fn read_into(&self, now: Millis, rules: &Rules, view: &mut Current) {
        let horizons = rules.ticket.policies.horizons();
        for (k, v) in &self.open {
            *view.open.entry(*k).or_default() += v;
        }
        for (k, v) in &self.unmatched {
            *view.unmatched.entry(*k).or_default() += v;
        }
        fn row<'a>(sla: &'a mut BTreeMap<SlaKey, SlaRow>, key: &SlaKey, horizons: usize) -> &'a mut SlaRow {
            sla.entry(*key).or_insert_with(|| SlaRow { at_risk: vec![0; horizons], ..SlaRow::default() })
        }
        for (k, v) in &self.paused {
            row(&mut view.sla, k, horizons.len()).paused += v;
        }
        for (k, v) in &self.breached {
            row(&mut view.sla, k, horizons.len()).breached += v;
        }
        for (k, deadlines) in &self.deadlines {
            let r = row(&mut view.sla, k, horizons.len());
            // A deadline already passed is breached as of `now`; the timer confirms it (and the
            // windowed count takes it) once the watermark passes it too.
            let overdue: i64 = deadlines.range(..now).map(|(_, n)| n).sum();
            let total: i64 = deadlines.values().sum();
            r.breached += overdue;
            r.running += total - overdue;
            for ((_, horizon), count) in horizons.iter().zip(r.at_risk.iter_mut()) {
                *count += deadlines.range(now..=now.saturating_add(*horizon)).map(|(_, n)| n).sum::<i64>();
            }
            if let Some((next, _)) = deadlines.range(now..).next() {
                let due_in = next - now;
                r.next_deadline = Some(r.next_deadline.map_or(due_in, |d| d.min(due_in)));
            }
        }
        for (k, created) in &self.created {
            let ages = view.backlog.entry(*k).or_insert_with(|| vec![0; rules.backlog_buckets.len() + 1]);
            for (at, n) in created {
                let age = now - at;
                ages[rules.backlog_buckets.iter().position(|b| age <= *b).unwrap_or(rules.backlog_buckets.len())] += n;
            }
            *view.stale.entry(*k).or_default() += created.range(..now - rules.stale_after).map(|(_, n)| n).sum::<i64>();
        }
        for (k, waiting) in &self.waiting {
            if let Some((oldest, _)) = waiting.first_key_value() {
                let age = (now - oldest).max(0);
                let entry = view.oldest_unanswered.entry(*k).or_insert(age);
                *entry = (*entry).max(age);
            }
        }
    }
}

/// One SLA series of the current gauges.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SlaRow {
    /// Running targets not yet due.
    pub running: i64,
    pub paused: i64,
    /// Breached (or overdue) and not yet fulfilled.
    pub breached: i64,
    /// Running targets due within each configured horizon.
    pub at_risk: Vec<i64>,
    /// Milliseconds until the earliest running deadline.
    pub next_deadline: Option<Millis>,
}

/// The current gauges of every partition, read at each partition's current time.
#[derive(Debug, Default, Clone)]
pub struct Current {
    pub open: BTreeMap<(Status, DimKey), i64>,
    pub unmatched: BTreeMap<DimKey, i64>,
    pub sla: BTreeMap<SlaKey, SlaRow>,
    /// Milliseconds since the oldest unanswered customer message of an open ticket.
    pub oldest_unanswered: BTreeMap<DimKey, Millis>,
    /// Open tickets by age bucket ([`Rules::backlog_buckets`], then older).
    pub backlog: BTreeMap<DimKey, Vec<i64>>,
    /// Open tickets older than [`Rules::stale_after`].
    pub stale: BTreeMap<DimKey, i64>,
}

/// How many open tickets share one instant of a multiset: 4 bytes, as a B-tree entry costs
/// per open ticket (counts are per partition, far below 2^31). It adds up into `i64`s, and
/// postcard writes it as it wrote the `i64` before (a zigzag varint), so snapshots read the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count(i32);

impl<'a> std::iter::Sum<&'a Count> for i64 {
    fn sum<I: Iterator<Item = &'a Count>>(iter: I) -> i64 {
        iter.map(|c| i64::from(c.0)).sum()
    }
}

impl std::ops::AddAssign<&Count> for i64 {
    fn add_assign(&mut self, c: &Count) {
        *self += i64::from(c.0);
    }
}

/// [`bump`] on the multiset of instants under `key`, dropping the multiset when it empties.
fn bump_within<K: Hash + Eq>(map: &mut Series<K, BTreeMap<Millis, Count>>, key: K, at: Millis, delta: i64) {
    match map.entry(key) {
        HEntry::Occupied(mut set) => {
            match set.get_mut().entry(at) {
                BEntry::Occupied(mut e) => {
                    e.get_mut().0 += delta as i32;
                    if e.get().0 == 0 {
                        e.remove();
                    }
                }
                BEntry::Vacant(e) => {
                    e.insert(Count(delta as i32));
                }
            }
            if set.get().is_empty() {
                set.remove();
            }
        }
        HEntry::Vacant(set) => {
            set.insert(BTreeMap::from([(at, Count(delta as i32))]));
        }
    }
}

/// Adds `delta`, dropping entries that reach zero so their series disappear.
fn bump<K: Hash + Eq>(map: &mut Series<K, i64>, key: K, delta: i64) {
    match map.entry(key) {
        HEntry::Occupied(mut e) => {
            *e.get_mut() += delta;
            if *e.get() == 0 {
                e.remove();
            }
        }
        HEntry::Vacant(e) => {
            e.insert(delta);
        }
    }
}

/// Everything a partition knows apart from configuration: exactly what a snapshot holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct PartitionState {
    tickets: Tickets,
    pending: BTreeMap<PendingKey, EventBody>,
    /// Each ticket's one timer, at its [`Ticket::timer`]: when the watermark passes it, the
    /// ticket's due SLA deadlines fire and a quiet resolved ticket is evicted.
    timers: BTreeSet<(Millis, TicketId)>,
    windows: Windows<DimKey, KpiSlice>,
    sla_windows: Windows<(DimKey, PolicyId), SlaSlice>,
    /// Tickets created by topic (no dimensions: topics × dimensions would be too many series).
    topic_windows: Windows<(), TopicSlice>,
    /// Per-agent facts (no dimensions either), recorded only when `kpis.agents` is enabled.
    agent_windows: Windows<(), AgentSlice>,
    gauges: Gauges,
    stream_time: Option<Millis>,
    /// Where a full reorder buffer pushed the watermark: it never goes back below this.
    watermark_floor: Option<Millis>,
    /// Wall-clock time of the last message, for idle advancement.
    last_arrival: Option<Millis>,
    /// The next Kafka offset to read: the input position this state reflects.
    next_offset: Option<i64>,
    /// Live: the partition was read to its end and no message came since, so its stream time
    /// follows the wall clock (see [`Engine::caught_up`]).
    #[serde(skip)]
    following: bool,
}

/// One Kafka partition: the unit of state that is kept, read and snapshotted.
#[derive(Debug)]
pub struct Partition {
    rules: Arc<Rules>,
    state: PartitionState,
    effects: Effects,
}

impl Partition {
    pub fn new(rules: Arc<Rules>) -> Self {
        let state = PartitionState {
            windows: Windows::new(rules.windows.clone()),
            sla_windows: Windows::new(rules.windows.clone()),
            topic_windows: Windows::new(rules.windows.clone()),
            agent_windows: Windows::new(rules.windows.clone()),
            tickets: Tickets::default(),
            pending: BTreeMap::new(),
            timers: BTreeSet::new(),
            gauges: Gauges::default(),
            stream_time: None,
            watermark_floor: None,
            last_arrival: None,
            next_offset: None,
            following: false,
        };
        Self { rules, state, effects: Effects::default() }
    }

    pub fn stream_time(&self) -> Option<Millis> {
        self.state.stream_time
    }

    /// Stream time minus the allowed lateness, or where a full reorder buffer pushed it.
    pub fn watermark(&self) -> Option<Millis> {
        let floor = self.state.watermark_floor.unwrap_or(Millis::MIN);
        self.state.stream_time.map(|t| (t - self.rules.allowed_lateness).max(floor))
    }

    pub fn ticket_count(&self) -> usize {
        self.state.tickets.len()
    }

    /// Events waiting in the reorder buffer.
    pub fn buffered_count(&self) -> usize {
        self.state.pending.len()
    }

    /// Armed timers: at most one per ticket.
    pub fn timer_count(&self) -> usize {
        self.state.timers.len()
    }

    /// Takes one valid event: dedup, then buffer (or apply at once when late). `now` is the
    /// wall clock in the live service: an event dated ahead of it waits in the buffer like any
    /// other, but stream time does not move past `now`, so nothing fires before its time.
    pub fn ingest(&mut self, event: Event, now: Option<Millis>) -> EventResult {
        let late = self.watermark().is_some_and(|w| event.at < w);
        let (id, ticket) = ticket_or_stub(&mut self.state.tickets, &mut self.state.timers, &self.rules, &event.ticket_id, event.at);
        if !ticket.remember(xxh3_64(event.event_id.as_bytes()), self.rules.dedup_ids_per_ticket) {
            return EventResult::Duplicate;
        }
        if late {
            self.apply(&event.ticket_id, event.at, &event.body, false);
            return EventResult::Late;
        }
        ticket.buffered += 1;
        let time = now.map_or(event.at, |now| event.at.min(now));
        self.state.stream_time = Some(self.state.stream_time.map_or(time, |t| t.max(time)));
        let rank = event.body.event_type().rank();
        let id = id.clone();
        self.state.pending.insert((event.at, rank, id, event.event_id), event.body);
        self.release(false);
        EventResult::Ok
    }

    /// Keeps the reorder buffer within `max_buffered`: while it holds more, the watermark moves
    /// up to the oldest buffered event (firing the timers due before it), and that event is
    /// applied. Events dated before it arrive `late` from then on. The watermark never passes
    /// stream time (in the live service, the wall clock), so no deadline fires early, even when
    /// the oldest event is dated ahead. Returns how many events were applied early.
    fn bound_buffer(&mut self) -> usize {
        let mut early = 0;
        while self.state.pending.len() > self.rules.max_buffered {
            let (Some(((oldest, ..), _)), Some(now)) = (self.state.pending.first_key_value(), self.state.stream_time) else { break };
            let floor = (*oldest).min(now);
            self.state.watermark_floor = Some(self.state.watermark_floor.map_or(floor, |f| f.max(floor)));
            self.release(false);
            let ((at, _, ticket_id, _), body) = self.state.pending.pop_first().expect("over the bound, so not empty");
            self.apply(&ticket_id, at, &body, true);
            early += 1;
        }
        early
    }

    /// Drops up to `count` of the least recently active tickets (open or not) to stay under
    /// the ticket cap, with everything they hold: gauge shares, timer and dedup memory. Tickets
    /// with buffered events are kept (their events would otherwise rebuild them without their
    /// dedup memory). Returns how many were shed.
    fn shed(&mut self, count: usize) -> usize {
        let mut by_age: Vec<(Millis, &TicketId)> =
            self.state.tickets.iter().filter(|(_, t)| t.buffered == 0).map(|(id, t)| (t.last_event_at, id)).collect();
        let count = count.min(by_age.len());
        if count == 0 {
            return 0;
        }
        by_age.select_nth_unstable(count - 1);
        let victims: Vec<TicketId> = by_age[..count].iter().map(|(_, id)| (*id).clone()).collect();
        for id in victims {
            if let Some(ticket) = self.state.tickets.remove(&*id) {
                self.state.gauges.apply(&self.rules.ticket.catalog, ticket.gauge_share(&self.rules.ticket.policies), -1);
                if let Some(at) = ticket.timer.get() {
                    self.state.timers.remove(&(at, id));
                }
            }
        }
        count
    }

    /// Moves stream time forward without an event (idle partition, end of replay).
    pub fn advance_to(&mut self, time: Millis) {
        if let Some(t) = self.state.stream_time.as_mut() {
            *t = (*t).max(time);
        }
        self.release(false);
        if let Some(now) = self.state.stream_time {
            self.state.windows.prune(now);
            self.state.sla_windows.prune(now);
            self.state.topic_windows.prune(now);
            self.state.agent_windows.prune(now);
        }
    }

    /// The input is complete: apply everything buffered up to stream time and fire every timer
    /// it has passed (the watermark catches up with stream time).
    pub fn finish(&mut self, end_time: Option<Millis>) {
        if let (Some(t), Some(end)) = (self.state.stream_time.as_mut(), end_time) {
            *t = (*t).max(end);
        }
        self.release(true);
    }

    /// Applies buffered events and fires timers in time order up to the watermark.
    fn release(&mut self, finishing: bool) {
        let (Some(now), Some(watermark)) = (self.state.stream_time, self.watermark()) else { return };
        let watermark = if finishing { now } else { watermark };
        loop {
            // Finishing applies what stream time has reached; events dated after a replay's end
            // time stay buffered.
            let event_at =
                self.state.pending.first_key_value().map(|(k, _)| k.0).filter(|at| if finishing { *at <= now } else { *at < watermark });
            let timer_at = self.state.timers.first().map(|t| t.0).filter(|d| *d < watermark);
            match (event_at, timer_at) {
                // An event at a deadline comes first: a reply exactly at the deadline meets it.
                (Some(e), t) if t.is_none_or(|t| e <= t) => {
                    let ((at, _, ticket_id, _), body) = self.state.pending.pop_first().expect("peeked");
                    self.apply(&ticket_id, at, &body, true);
                }
                (_, Some(_)) => {
                    let (at, ticket_id) = self.state.timers.pop_first().expect("peeked");
                    self.fire(at, &ticket_id);
                }
                _ => break,
            }
        }
    }

    /// Applies an event, `buffered` when it comes out of the reorder buffer.
    fn apply(&mut self, ticket_id: &str, at: Millis, body: &EventBody, buffered: bool) {
        let rules = Arc::clone(&self.rules);
        self.update_ticket(ticket_id, at, |ticket, effects| {
            // A ticket evicted while its event waited comes back as a stub counting none.
            ticket.buffered = ticket.buffered.saturating_sub(u32::from(buffered));
            ticket.apply(body, at, &rules.ticket, effects)
        });
        if let EventBody::TicketCreated { topic, .. } = body {
            if self.effects.samples.contains(&Sample::Created) {
                self.record_topic(at, topic.as_deref());
            }
        }
        if self.rules.agents.enabled {
            self.record_agents(ticket_id, at, body);
        }
    }

    /// Credits agents with what the event just produced ([`agent::attribute`]), each under
    /// its label ([`AgentRules::label`]).
    fn record_agents(&mut self, ticket_id: &str, at: Millis, body: &EventBody) {
        let last_agent = self.state.tickets.get(ticket_id).and_then(|t| t.last_agent());
        let now = self.state.stream_time.unwrap_or(at);
        let (rules, windows) = (&self.rules.agents, &mut self.state.agent_windows);
        agent::attribute(body, &self.effects.samples, last_agent, |agent, sample| {
            let label = rules.label(agent);
            windows.record(&(), at, now, |slice| slice.add(label, rules.per_slice, sample));
        });
    }

    /// Counts a creation under its topic label: `none` without a topic; with an allow-list,
    /// the topic if listed and `other` if not; otherwise the topic itself (the top N are
    /// picked at read time). A topic literally named `none` or `other` counts as `other`, so
    /// a reserved label value never stands for two things.
    fn record_topic(&mut self, at: Millis, topic: Option<&str>) {
        let label = match topic {
            None => Some(NO_TOPIC),
            Some(NO_TOPIC | OTHER_TOPIC) => None,
            Some(t) if self.rules.topic_allow.is_empty() || self.rules.topic_allow.iter().any(|a| a == t) => Some(t),
            Some(_) => None,
        };
        let now = self.state.stream_time.unwrap_or(at);
        let cap = self.rules.topics_per_slice;
        self.state.topic_windows.record(&(), at, now, |slice| slice.add(label, cap));
    }

    /// A ticket's timer fired at `at`: a resolved (or never created) ticket quiet for the
    /// retention is forgotten; otherwise its due deadlines are breached and the timer re-armed.
    fn fire(&mut self, at: Millis, ticket_id: &str) {
        let Some(ticket) = self.state.tickets.get_mut(ticket_id) else { return };
        let ticket = triomphe::Arc::make_mut(ticket);
        ticket.timer = MaybeTime::NONE;
        if !ticket.is_open() && ticket.last_event_at + self.rules.retention <= at {
            self.state.tickets.remove(ticket_id);
        } else if ticket.sla.next_deadline().is_some_and(|d| d <= at) {
            self.update_ticket(ticket_id, at, |ticket, effects| ticket.sla.on_timer(at, &mut effects.sla));
        } else {
            let (id, ticket) = self.state.tickets.get_key_value_mut(ticket_id).expect("looked up above");
            arm(&mut self.state.timers, triomphe::Arc::make_mut(ticket), id, self.rules.retention);
        }
    }

    /// Runs `change` on a ticket and books its consequences: gauge shares before and after,
    /// samples into the window slices of time `at`, and the ticket's timer.
    fn update_ticket(&mut self, ticket_id: &str, at: Millis, change: impl FnOnce(&mut Ticket, &mut Effects)) {
        let catalog = &self.rules.ticket.catalog;
        let policies = &self.rules.ticket.policies;
        let (id, ticket) = ticket_or_stub(&mut self.state.tickets, &mut self.state.timers, &self.rules, ticket_id, at);
        let before = ticket.gauge_share(policies);
        self.effects.clear();
        change(ticket, &mut self.effects);
        let after = ticket.gauge_share(policies);
        if before != after {
            self.state.gauges.change(catalog, before, after);
        }
        arm(&mut self.state.timers, ticket, id, self.rules.retention);
        let key = catalog.key(ticket.dims);
        let now = self.state.stream_time.unwrap_or(at);
        // One visit of the slices for all samples: each slice takes them in the same order.
        let samples = &self.effects.samples;
        if !samples.is_empty() {
            self.state.windows.record(&key, at, now, |slice| samples.iter().for_each(|sample| slice.add(*sample)));
        }
        for sample in &self.effects.sla.samples {
            self.state.sla_windows.record(&(key, sample.policy), at, now, |slice| slice.add(sample));
        }
    }

    /// The partition's current time: its stream time, which in the live service (`wall`
    /// given, idle advancement on) is taken to move on with the wall clock since the last
    /// message, so a deadline shows as passed the moment it passes even when input is quiet.
    pub fn current_time(&self, wall: Option<Millis>) -> Option<Millis> {
        let stream_time = self.state.stream_time?;
        Some(match (wall, self.state.last_arrival) {
            (Some(wall), Some(last)) if self.rules.idle_timeout > 0 => (stream_time + (wall - last).max(0)).min(wall.max(stream_time)),
            _ => stream_time,
        })
    }

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

    /// Every ticket the partition holds, open or not, by id (the tickets API reads their
    /// gauge shares, the same the gauges are made of).
    pub fn tickets(&self) -> impl Iterator<Item = (&str, &Ticket)> + '_ {
        self.state.tickets.iter().map(|(id, ticket)| (&**id, &**ticket))
    }

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
            sla_windows: s.sla_windows.clone(),
            topic_windows: s.topic_windows.clone(),
            agent_windows: s.agent_windows.clone(),
            gauges: Gauges::default(),
            stream_time: s.stream_time,
            watermark_floor: s.watermark_floor,
            last_arrival: s.last_arrival,
            next_offset: s.next_offset,
            following: s.following,
        };
        Some(Capture { partition: id.clone(), offset, rules: Arc::clone(&self.rules), state })
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
}

impl Capture {
    /// The input offset the snapshot resumes at.
    pub fn offset(&self) -> i64 {
        self.offset
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

/// The ticket (with its shared id) to change, or a new stub with its eviction timer armed;
/// allocates only for a new ticket, or to copy one a snapshot's capture still shares. One
/// hash lookup either way (the table is large and this runs twice per event).
fn ticket_or_stub<'a>(
    tickets: &'a mut Tickets,
    timers: &mut BTreeSet<(Millis, TicketId)>,
    rules: &Rules,
    ticket_id: &str,
    at: Millis,
) -> (&'a TicketId, &'a mut Ticket) {
    let entry = match tickets.entry_ref(ticket_id) {
        EntryRef::Occupied(entry) => entry,
        EntryRef::Vacant(entry) => {
            let mut ticket = Ticket::new(rules.ticket.catalog.unknown(), at);
            let id = TicketId::from(ticket_id);
            arm(timers, &mut ticket, &id, rules.retention);
            entry.insert_entry_with_key(id, triomphe::Arc::new(ticket))
        }
    };
    let (id, ticket) = entry.into_entry();
    (id, triomphe::Arc::make_mut(ticket))
}

/// Moves the ticket's timer earlier when it became due sooner. A timer that is now early is
/// left alone: it fires, finds nothing due and is armed again, which costs less than moving
/// it on every event.
fn arm(timers: &mut BTreeSet<(Millis, TicketId)>, ticket: &mut Ticket, ticket_id: &TicketId, retention: Millis) {
    let Some(due) = ticket.next_due(retention) else { return };
    if ticket.timer.get().is_some_and(|t| t <= due) {
        return;
    }
    if let Some(old) = std::mem::replace(&mut ticket.timer, Some(due).into()).get() {
        timers.remove(&(old, ticket_id.clone()));
    }
    timers.insert((due, ticket_id.clone()));
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

/// One partition's state behind its own lock. A worker keeps this handle while it feeds the
/// partition, so its hot path takes no lock shared with other partitions; a scrape or a
/// snapshot locks one partition at a time and so pauses only that one.
pub type Lane = Arc<Mutex<Partition>>;

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
    clocks: Vec<PartitionClock>,
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
}

impl Engine {
    pub fn new(rules: Rules, telemetry: Arc<Telemetry>) -> Self {
        Self { rules: Arc::new(rules), partitions: Mutex::default(), telemetry, end_time: None }
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
            self.telemetry.offset_gap(partition, expected, offset);
        }
        let event = match event {
            Ok(event) => event,
            Err(invalid) => {
                drop(guard);
                self.telemetry.invalid_event(&invalid, source);
                return Err(invalid);
            }
        };
        let event_type = event.body.event_type();
        let (max_tickets, max_buffered) = (self.rules.max_tickets, self.rules.max_buffered);
        if now.is_some() {
            state.state.last_arrival = now;
            state.state.following = false;
        }
        let result = state.ingest(event, clock);
        let early = state.bound_buffer();
        // The cap counts tickets besides those with buffered events (fewer than the buffered
        // events). Shed 1% of the tickets more at a time, so the scan over them for the oldest
        // is amortised over many events.
        let excess = state.ticket_count().checked_sub(max_tickets + state.buffered_count()).filter(|n| *n > 0);
        let shed = excess.map(|n| state.shed(n + state.ticket_count() / 100));
        if let Some(offset) = offset {
            state.state.next_offset = Some(offset + 1);
        }
        drop(guard);
        if early > 0 {
            self.telemetry.reorder_buffer_full(partition, early, max_buffered);
        }
        if let Some(shed) = shed {
            self.telemetry.tickets_shed(partition, shed, max_tickets);
        }
        self.telemetry.event(Some(event_type), result);
        Ok(result)
    }

    /// Records that the message at `offset` of `partition` was taken (whatever its fate), so
    /// the next snapshot resumes after it.
    pub fn consumed(&self, partition: &PartitionId, offset: i64) {
        lock(&self.lane(partition)).state.next_offset = Some(offset + 1);
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
        let restored = Partition { rules: Arc::clone(&self.rules), state, effects: Effects::default() };
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
            p.advance_to(now);
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
            lock(&lane).finish(end_time);
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
            if let (Some(stream_time), Some(watermark)) = (p.stream_time(), p.watermark()) {
                let (tickets, buffered) = (p.ticket_count(), p.buffered_count());
                reading.clocks.push(PartitionClock { partition: id, stream_time, watermark, tickets, buffered });
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
mod tests {
    use super::*;

    /// A help desk's day, sorted by time: a ticket every 6 s on cycling channels and
    /// priorities; every third answered by one of 5 agents after a minute, every fourth put on
    /// hold after two, every fifth solved after half an hour; the rest wait and breach.
    fn desk(tickets: usize) -> Vec<String> {
        let (channels, priorities) = (["email", "chat", "phone", "web"], ["urgent", "high", "normal", "low"]);
        let mut events = Vec::new();
        for i in 0..tickets {
            let at = 1_767_600_000_000 + i as i64 * 6_000;
            let (channel, priority) = (channels[i % 4], priorities[(i / 4) % 4]);
            let ticket = format!(r#""ticket_id":"T{i}""#);
            events.push((
                at,
                format!(
                    r#"{{"event_id":"c{i}",{ticket},"type":"ticket_created","at":{at},"channel":"{channel}","priority":"{priority}"}}"#
                ),
            ));
            if i % 3 == 0 {
                let (at, agent) = (at + 60_000, i % 5);
                events.push((
                    at,
                    format!(r#"{{"event_id":"r{i}",{ticket},"type":"message","at":{at},"author":"agent","agent_id":"a{agent}"}}"#),
                ));
            }
            if i % 4 == 1 {
                let at = at + 120_000;
                events.push((at, format!(r#"{{"event_id":"p{i}",{ticket},"type":"status_changed","at":{at},"status":"pending"}}"#)));
            }
            if i % 5 == 2 {
                let at = at + 1_800_000;
                events.push((at, format!(r#"{{"event_id":"s{i}",{ticket},"type":"status_changed","at":{at},"status":"solved"}}"#)));
            }
        }
        events.sort_by_key(|(at, _)| *at);
        events.into_iter().map(|(_, event)| event).collect()
    }

    /// A sealed capture is byte for byte the encoding of the partition's own state at capture
    /// time: the timer queue and the gauges rebuilt from the tickets are the ones kept up to
    /// date event by event, through SLA breaches, solved tickets evicted after the retention,
    /// per-agent windows and tickets shed at the cap.
    #[test]
    fn a_sealed_capture_encodes_exactly_the_partition_state() {
        let mut config = Config::default();
        config.kpis.agents.enabled = true;
        config.tickets.retention = std::time::Duration::from_secs(3600);
        config.tickets.max_per_partition = 1000;
        let events = desk(12_000);
        let telemetry = Arc::new(Telemetry::default());
        let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
        let id: PartitionId = ("tickets".into(), 0);
        // Which gauges the comparisons saw non-empty: breached, paused, running deadlines.
        let mut seen = [false; 3];
        for (offset, event) in events.iter().enumerate() {
            let _ = engine.handle(&id, event.as_bytes(), None, &"test");
            engine.consumed(&id, offset as i64);
            if offset % 5_000 == 4_999 {
                let lane = engine.partition(&id).unwrap();
                let partition = lock(&lane);
                let direct = snapshot::encode(&id, &engine.rules.shape, &partition.state);
                let capture = partition.capture(&id).unwrap();
                assert_eq!(capture.offset(), offset as i64 + 1);
                assert!(direct == capture.seal(), "after {} events", offset + 1);
                let g = &partition.state.gauges;
                for (seen, empty) in seen.iter_mut().zip([g.breached.is_empty(), g.paused.is_empty(), g.deadlines.is_empty()]) {
                    *seen |= !empty;
                }
            }
        }
        assert_eq!(seen, [true; 3]);
        assert!(telemetry.shed_count() > 0, "the cap shed tickets");
    }
}
