//! One Kafka partition's state and how an event or a timer changes it: the ticket table, the
//! reorder buffer, the timers, shedding at the ticket cap; what a change produced goes to the
//! window families (`engine/families.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::base::{MaybeTime, Millis};
use crate::event::{Event, EventBody};
use crate::internal_events::EventResult;
use crate::kpi::{Fact, Totals};
use crate::ticket::{Effects, SnapshotField, Ticket};

use super::families::WindowFamilies;
use super::gauges::Gauges;
use super::presence::Presences;
use super::Rules;

/// Buffered events sort by time, then by type (creation before reply before solve), then by
/// ids, so the application order never depends on arrival order.
pub(super) type PendingKey = (Millis, u8, TicketId, String);

/// A ticket id as the partition keeps it: one allocation shared by the ticket table, its
/// timer and its buffered events. triomphe's `Arc` has no weak count: 8 bytes less per id,
/// which for short ids is one allocator size class (32 bytes rather than 48).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct TicketId(triomphe::Arc<str>);

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
pub(super) type Tickets = HashMap<TicketId, triomphe::Arc<Ticket>, ahash::RandomState>;

/// Everything a partition knows apart from configuration: exactly what a snapshot holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct PartitionState {
    pub(super) tickets: Tickets,
    pub(super) pending: BTreeMap<PendingKey, EventBody>,
    /// Each ticket's one timer, at its [`Ticket::timer`]: when the watermark passes it, the
    /// ticket's due SLA deadlines fire and a quiet resolved ticket is evicted.
    pub(super) timers: BTreeSet<(Millis, TicketId)>,
    pub(super) windows: WindowFamilies,
    /// All-time totals by key, never pruned (`kpi/totals.rs`).
    pub(super) totals: Totals,
    pub(super) gauges: Gauges,
    pub(super) stream_time: Option<Millis>,
    /// Where a full reorder buffer pushed the watermark: it never goes back below this.
    pub(super) watermark_floor: Option<Millis>,
    /// Wall-clock time of the last message, for idle advancement.
    pub(super) last_arrival: Option<Millis>,
    /// The next Kafka offset to read: the input position this state reflects.
    pub(super) next_offset: Option<i64>,
    /// Set when the partition started without a usable snapshot although its consumer group had
    /// committed this offset: what comes before it was counted in the totals by the previous
    /// owner, whose series Prometheus already holds, so reading it again rebuilds tickets and
    /// windows but adds nothing to the totals (a restart reads as a counter reset, never as a
    /// recount of the retained input). Cleared by the first message at or after it.
    pub(super) count_totals_from: Option<i64>,
    /// Live: the partition was read to its end and no message came since, so its stream time
    /// follows the wall clock (see [`Engine::caught_up`]).
    #[serde(skip)]
    pub(super) following: bool,
    /// Agents' latest `agent_status` (`engine/presence.rs`).
    pub(super) presence: Presences,
}

/// One Kafka partition: the unit of state that is kept, read and snapshotted.
#[derive(Debug)]
pub struct Partition {
    pub(super) rules: Arc<Rules>,
    pub(super) state: PartitionState,
    pub(super) effects: Effects,
    /// Events applied to a ticket whose `ticket_created` this partition has not seen, since
    /// this instance took the partition (not snapshotted: an operational signal, see
    /// `ticketpulse_events_without_creation_total`). Many mean a producer not keying by ticket id.
    pub(super) uncreated_events: u64,
    /// The totals as of the last snapshot saved (or restored), with its offset: what a scrape
    /// shows when snapshots are kept, so a restart or a new owner, restoring that snapshot,
    /// shows them again and never less (`engine/capture.rs`).
    pub(super) published: Option<(i64, Arc<Totals>)>,
    /// Differences `ticket_snapshot`s found, per [`crate::ticket::SnapshotField::index`],
    /// since the engine last took them for its counters (not state: never snapshotted).
    pub(super) snapshot_differences: [u64; SnapshotField::ALL.len()],
}

impl Partition {
    /// The message at `offset` is read (whatever its fate): from the offset where the totals
    /// count again ([`PartitionState::count_totals_from`]), they do.
    pub(super) fn reading(&mut self, offset: i64) {
        if self.state.count_totals_from.is_some_and(|from| offset >= from) {
            self.state.count_totals_from = None;
        }
    }

    pub fn new(rules: Arc<Rules>) -> Self {
        let state = PartitionState {
            windows: WindowFamilies::new(&rules.windows),
            totals: Totals::default(),
            tickets: Tickets::default(),
            pending: BTreeMap::new(),
            timers: BTreeSet::new(),
            gauges: Gauges::default(),
            stream_time: None,
            watermark_floor: None,
            last_arrival: None,
            next_offset: None,
            count_totals_from: None,
            following: false,
            presence: Presences::default(),
        };
        Self { rules, state, effects: Effects::default(), published: None, uncreated_events: 0, snapshot_differences: Default::default() }
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
        // About an agent, not a ticket: no buffer, no ticket; the latest status by event time
        // wins whatever the order, so it is taken at once.
        if let EventBody::AgentStatus(status) = &event.body {
            if let Some(cap) = self.rules.presence_cap {
                self.state.presence.update(status, event.at, &self.rules.ticket.catalog, cap);
            }
            return EventResult::Ok;
        }
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
    pub(super) fn bound_buffer(&mut self) -> usize {
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
    pub(super) fn shed(&mut self, count: usize) -> usize {
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
        // A creation or a help desk's statement of the ticket is how a partition learns of it.
        if !matches!(body, EventBody::TicketCreated { .. } | EventBody::TicketSnapshot(_))
            && self.state.tickets.get(ticket_id).is_none_or(|t| t.created_at.get().is_none())
        {
            self.uncreated_events += 1;
        }
        let rules = Arc::clone(&self.rules);
        self.update_ticket(ticket_id, at, Some(body), |ticket, effects| {
            // A ticket evicted while its event waited comes back as a stub counting none.
            ticket.buffered = ticket.buffered.saturating_sub(u32::from(buffered));
            ticket.apply(body, at, &rules.ticket, effects)
        });
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
            self.update_ticket(ticket_id, at, None, |ticket, effects| ticket.sla.on_timer(at, &mut effects.sla));
        } else {
            let (id, ticket) = self.state.tickets.get_key_value_mut(ticket_id).expect("looked up above");
            arm(&mut self.state.timers, triomphe::Arc::make_mut(ticket), id, self.rules.retention);
        }
    }

    /// Runs `change` on a ticket (applying `body`, or a timer) and books its consequences:
    /// gauge shares before and after, the ticket's timer, and what it produced into every
    /// window family's slices of time `at`.
    fn update_ticket(&mut self, ticket_id: &str, at: Millis, body: Option<&EventBody>, change: impl FnOnce(&mut Ticket, &mut Effects)) {
        let catalog = &self.rules.ticket.catalog;
        let policies = &self.rules.ticket.policies;
        let (id, ticket) = ticket_or_stub(&mut self.state.tickets, &mut self.state.timers, &self.rules, ticket_id, at);
        let before = ticket.gauge_share(policies);
        self.effects.clear();
        change(ticket, &mut self.effects);
        for (n, found) in self.snapshot_differences.iter_mut().zip(self.effects.differences) {
            *n += u64::from(found);
        }
        let after = ticket.gauge_share(policies);
        if before != after {
            self.state.gauges.change(catalog, before, after);
        }
        arm(&mut self.state.timers, ticket, id, self.rules.retention);
        let fact = Fact {
            at,
            now: self.state.stream_time.unwrap_or(at),
            key: catalog.key(ticket.dims),
            body,
            samples: &self.effects.samples,
            sla: &self.effects.sla.samples,
            last_agent: ticket.last_agent(),
        };
        self.state.windows.record(&self.rules.families, &fact);
        if self.state.count_totals_from.is_none() {
            self.state.totals.record(&self.rules.totals, &fact);
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

    /// Every ticket the partition holds, open or not, by id (the tickets API reads their
    /// gauge shares, the same the gauges are made of).
    pub fn tickets(&self) -> impl Iterator<Item = (&str, &Ticket)> + '_ {
        self.state.tickets.iter().map(|(id, ticket)| (&**id, &**ticket))
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
