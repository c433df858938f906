//! The state of one ticket and how each event changes it. Pure logic: events come in
//! event-time order (the partition's reorder buffer sees to that) and KPI [`Sample`]s and SLA
//! samples come out; when the ticket next needs a timer is read from it ([`Ticket::next_due`]).
//!
//! Here: the state and what is read of it; `transitions.rs` applies events, `snapshot.rs`
//! a `ticket_snapshot`.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::base::{MaybeTime, Millis};
use crate::dimensions::{Catalog, Dims};
use crate::event::{Requester, Status};
use crate::kpi::{KpiRules, Sample};
use crate::sla::{PolicyId, SlaClock, SlaEffects, SlaPolicies, TargetGauge};

mod snapshot;
#[cfg(test)]
mod tests;
mod transitions;

pub use snapshot::SnapshotField;

/// What the ticket rules need from configuration.
#[derive(Debug, Clone)]
pub struct TicketRules {
    pub catalog: Catalog,
    pub policies: SlaPolicies,
    pub kpi: KpiRules,
}

/// What applying an event or a timer produced.
#[derive(Debug, Default)]
pub struct Effects {
    pub samples: Vec<Sample>,
    pub sla: SlaEffects,
    /// What a `ticket_snapshot` of a known ticket found different, per [`SnapshotField::index`].
    pub differences: [bool; SnapshotField::ALL.len()],
}

impl Effects {
    pub fn clear(&mut self) {
        self.samples.clear();
        self.sla.clear();
        self.differences = Default::default();
    }
}

/// Per-ticket state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    /// `None` until `ticket_created` is applied; such a ticket is not in the backlog.
    pub created_at: MaybeTime,
    pub dims: Dims,
    requester: Requester,
    /// `None` until a creation or status change is applied.
    status: Option<Status>,
    /// Public messages by human agents so far.
    agent_public_messages: u32,
    first_response_at: MaybeTime,
    first_solved_at: MaybeTime,
    /// The oldest customer public message not yet answered by a public agent message (a
    /// customer-opened ticket waits from its creation).
    waiting_since: MaybeTime,
    /// A `contact_abandoned` was counted (at most once per ticket).
    abandoned: bool,
    /// A `contact_abandoned` ended the contact (`abandonment.ends_contact`): the ticket is not
    /// open, and its SLA targets are stopped, until a public message or a status change brings
    /// it back ([`Ticket::resume`]).
    ended: bool,
    pub sla: SlaClock,
    /// Newest event time applied to this ticket (drives eviction).
    pub last_event_at: Millis,
    /// Hashes of the event ids seen (dedup memory).
    seen: Seen,
    /// `agent_id` of the last public agent message (`None` when it carried none).
    last_agent: Option<Box<str>>,
    /// Created by a `ticket_snapshot`: how many replies came before it is not known, so its
    /// first solve has no `agent_replies` class.
    seeded: bool,
    /// When this ticket's one entry in the partition's timer queue is due; never later than
    /// [`Ticket::next_due`], so it may fire early and find nothing to do.
    pub timer: MaybeTime,
    /// Events of this ticket waiting in the partition's reorder buffer.
    pub buffered: u32,
}

/// Event id hashes: the first two in place of the pointer and length a `Vec` keeps, so a
/// ticket with two events or fewer allocates nothing for them (serialized as a `Vec`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
struct Seen(SmallVec<[u64; 2]>);

impl PartialEq<Vec<u64>> for Seen {
    fn eq(&self, other: &Vec<u64>) -> bool {
        self.0[..] == other[..]
    }
}

/// The ticket's share of the current gauges: `None` unless it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaugeShare {
    pub status: Status,
    pub created_at: Millis,
    pub dims: Dims,
    /// `None`: no policy matches the ticket.
    pub policy: Option<PolicyId>,
    /// Per [`SlaTarget::index`](crate::sla::SlaTarget::index).
    pub targets: [Option<TargetGauge>; 3],
    pub waiting_since: Option<Millis>,
}

impl Ticket {
    pub fn new(dims: Dims, at: Millis) -> Self {
        Self {
            created_at: MaybeTime::NONE,
            dims,
            requester: Requester::Customer,
            status: None,
            agent_public_messages: 0,
            first_response_at: MaybeTime::NONE,
            first_solved_at: MaybeTime::NONE,
            waiting_since: MaybeTime::NONE,
            abandoned: false,
            ended: false,
            sla: SlaClock::default(),
            last_event_at: at,
            seen: Seen::default(),
            last_agent: None,
            seeded: false,
            timer: MaybeTime::NONE,
            buffered: 0,
        }
    }

    /// Records an event id; `false` when it was seen before (a duplicate). At most `capacity`
    /// ids are remembered, the oldest forgotten first.
    pub fn remember(&mut self, event_hash: u64, capacity: usize) -> bool {
        let seen = &mut self.seen.0;
        if seen.contains(&event_hash) {
            return false;
        }
        if seen.len() >= capacity {
            let excess = seen.len() + 1 - capacity;
            seen.drain(..excess);
        }
        seen.push(event_hash);
        true
    }

    /// The agent of the last public agent message, when it named one.
    pub fn last_agent(&self) -> Option<&str> {
        self.last_agent.as_deref()
    }

    /// Created, not solved or closed, and its contact not ended by an abandon.
    pub fn is_open(&self) -> bool {
        self.created_at.is_some() && !self.ended && !self.status.is_some_and(Status::is_resolved)
    }

    /// When the ticket next needs attention without an event: its earliest SLA deadline, or,
    /// unless it is open, the end of its `retention` after its last event (eviction).
    pub fn next_due(&self, retention: Millis) -> Option<Millis> {
        let evict = (!self.is_open()).then(|| self.last_event_at + retention);
        match (self.sla.next_deadline(), evict) {
            (Some(deadline), Some(evict)) => Some(deadline.min(evict)),
            (deadline, evict) => deadline.or(evict),
        }
    }

    pub fn gauge_share(&self, policies: &SlaPolicies) -> Option<GaugeShare> {
        let status = self.status.filter(|_| self.is_open())?;
        Some(GaugeShare {
            status,
            created_at: self.created_at.get()?,
            dims: self.dims,
            policy: self.sla.policy(),
            targets: self.sla.gauges(policies),
            waiting_since: self.waiting_since.get(),
        })
    }

    /// Public agent replies so far; an agent-opened ticket's opening message is not one.
    fn agent_replies(&self) -> u32 {
        let opening = u32::from(self.requester == Requester::Agent && self.agent_public_messages > 0);
        self.agent_public_messages - opening
    }

    fn paused(&self, policies: &SlaPolicies) -> bool {
        self.status.is_some_and(|s| policies.pauses(s))
    }
}
