//! A `ticket_snapshot` applied to a ticket: seeding one not seen before, reconciling one
//! known, and the fields compared; apart because a snapshot is stated, not lived through.

use crate::base::Millis;
use crate::dimensions::Dims;
use crate::event::{EventBody, Requester, TicketSnapshot};
use crate::sla::{MatchFields, SlaSeed, SlaTarget};

use super::{Effects, Ticket, TicketRules};

/// A field a `ticket_snapshot` of a known ticket is compared on: the bounded `field` label of
/// `ticketpulse_ticket_snapshot_differences_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotField {
    CreatedAt,
    Status,
    Priority,
    Channel,
    Team,
    FirstResponse,
}

impl SnapshotField {
    pub const ALL: [SnapshotField; 6] = [
        SnapshotField::CreatedAt,
        SnapshotField::Status,
        SnapshotField::Priority,
        SnapshotField::Channel,
        SnapshotField::Team,
        SnapshotField::FirstResponse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotField::CreatedAt => "created_at",
            SnapshotField::Status => "status",
            SnapshotField::Priority => "priority",
            SnapshotField::Channel => "channel",
            SnapshotField::Team => "team",
            SnapshotField::FirstResponse => "first_response",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl Ticket {
    /// A `ticket_snapshot` of a ticket whose creation was not seen: the ticket as stated, with
    /// its original times, so it is in the current gauges and the tickets API at once. It adds
    /// nothing to the windows (no sample): what happened before `at` happened before
    /// ticketpulse read it. What was counted of it before (a ticket first seen mid-stream)
    /// stays counted.
    pub(super) fn seed(&mut self, s: &TicketSnapshot, at: Millis, rules: &TicketRules) {
        let policies = &rules.policies;
        self.created_at = Some(s.created_at).into();
        self.dims =
            Dims { channel: rules.catalog.channel(&s.channel), priority: Some(s.priority), team: rules.catalog.team(s.team.as_deref()) };
        self.requester = s.requester;
        self.status = Some(s.status);
        self.ended = false;
        self.seeded = true;
        self.first_response_at = s.first_response_at.into();
        // An agent-opened ticket's opening message, and the first reply, were sent: a later
        // reply is neither the opening nor the first response, and an abandon after an
        // answer is none.
        let before = u32::from(s.requester == Requester::Agent) + u32::from(s.first_response_at.is_some());
        self.agent_public_messages = self.agent_public_messages.max(before);
        self.waiting_since = s.waiting_since.into();
        if let Some(agent) = &s.last_agent_id {
            self.last_agent = Some(agent.as_str().into());
        }
        let resolved_at = s.status.is_resolved().then(|| s.solved_at.unwrap_or(at));
        self.first_solved_at = resolved_at.into();
        let fields =
            MatchFields { priority: Some(s.priority), channel: Some(&s.channel), team: s.team.as_deref(), topic: s.topic.as_deref() };
        let seed = SlaSeed {
            key: policies.key(fields),
            created_at: s.created_at,
            at,
            paused: policies.pauses(s.status),
            paused_ms: s.paused,
            first_response: s.first_response_at.is_some(),
            waiting_since: s.waiting_since,
            resolved_at,
        };
        self.sla.seed(&seed, policies);
    }

    /// A `ticket_snapshot` of a known ticket: the help desk is the source of truth for what is
    /// current, so status, priority, channel and team are adopted where they differ (the SLA
    /// clocks follow, as after a `ticket_updated` and a `status_changed`), and a first reply
    /// ticketpulse missed stops the first-response clock. Nothing is counted in the windows,
    /// so no volume, duration or SLA outcome is counted twice (nor once for what was missed);
    /// each field that differed is reported in `out.differences`. The creation time is
    /// compared, not adopted: the ticket's volume and durations were counted from its own.
    pub(super) fn reconcile(&mut self, s: &TicketSnapshot, at: Millis, stale: bool, rules: &TicketRules, out: &mut Effects) {
        let policies = &rules.policies;
        let mut found = |field: SnapshotField| out.differences[field.index()] = true;
        if self.created_at.get() != Some(s.created_at) {
            found(SnapshotField::CreatedAt);
        }
        let channel = (rules.catalog.channel(&s.channel) != self.dims.channel).then(|| s.channel.clone());
        let team_differs = rules.catalog.team(s.team.as_deref()) != self.dims.team;
        // No team stated: `""`, which a `ticket_updated` reads as no team (dimensions and policy).
        let team = team_differs.then(|| s.team.clone().unwrap_or_default());
        let priority = (self.dims.priority != Some(s.priority)).then_some(s.priority);
        for (differs, field) in [
            (channel.is_some(), SnapshotField::Channel),
            (team_differs, SnapshotField::Team),
            (priority.is_some(), SnapshotField::Priority),
        ] {
            if differs {
                found(field);
            }
        }
        let first_response_missed = self.first_response_at.is_none() && s.first_response_at.is_some();
        if self.first_response_at.is_some() != s.first_response_at.is_some() {
            found(SnapshotField::FirstResponse);
        }
        let status_differs = self.status != Some(s.status);
        if status_differs {
            found(SnapshotField::Status);
        }
        if stale {
            // Events newer than the snapshot were applied already: what it states is older
            // than what ticketpulse knows, so the differences are reported and nothing adopted.
            return;
        }
        // Applied as the events ticketpulse missed would have been, into effects that are
        // dropped: state changes, nothing is counted.
        let mut dropped = Effects::default();
        if channel.is_some() || team.is_some() || priority.is_some() {
            let update = EventBody::TicketUpdated { priority, team, topic: None, channel };
            self.apply(&update, at, rules, &mut dropped);
        }
        if first_response_missed {
            self.first_response_at = s.first_response_at.into();
            let before = u32::from(self.requester == Requester::Agent) + 1;
            self.agent_public_messages = self.agent_public_messages.max(before);
            self.sla.cancel(SlaTarget::FirstResponse);
            self.waiting_since = s.waiting_since.into();
            // A next reply is due only on a ticket the snapshot states open.
            if let Some(since) = s.waiting_since.filter(|_| !s.status.is_resolved()) {
                self.sla.awaiting_reply(since, self.paused(policies), policies);
            }
        }
        if status_differs {
            self.change_status(s.status, at, policies, &mut dropped);
        }
    }
}
