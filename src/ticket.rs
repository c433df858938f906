//! The state of one ticket and how each event changes it. Pure logic: events come in
//! event-time order (the partition's reorder buffer sees to that) and KPI [`Sample`]s and SLA
//! samples come out; when the ticket next needs a timer is read from it ([`Ticket::next_due`]).

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::base::{MaybeTime, Millis};
use crate::dimensions::{Catalog, Dims};
use crate::event::{Author, EventBody, Requester, Status, TicketSnapshot};
use crate::kpi::{KpiRules, Sample};
use crate::sla::{MatchFields, PolicyId, SlaClock, SlaEffects, SlaPolicies, SlaSeed, SlaTarget, TargetGauge};

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
    /// Per [`SlaTarget::index`].
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

    pub fn apply(&mut self, body: &EventBody, at: Millis, rules: &TicketRules, out: &mut Effects) {
        // An event dated before one already applied (a late one): a snapshot then states what
        // newer events have changed since, and only reports.
        let stale = at < self.last_event_at;
        self.last_event_at = self.last_event_at.max(at);
        let policies = &rules.policies;
        match body {
            EventBody::TicketCreated { channel, priority, team, topic, requester } => {
                if self.created_at.is_some() {
                    return; // the earliest creation wins
                }
                self.created_at = Some(at).into();
                self.dims =
                    Dims { channel: rules.catalog.channel(channel), priority: Some(*priority), team: rules.catalog.team(team.as_deref()) };
                self.requester = *requester;
                self.status.get_or_insert(Status::New);
                if *requester == Requester::Customer {
                    self.waiting_since = Some(self.waiting_since.get().map_or(at, |w| w.min(at))).into();
                }
                out.samples.push(Sample::Created);
                let fields =
                    MatchFields { priority: Some(*priority), channel: Some(channel), team: team.as_deref(), topic: topic.as_deref() };
                self.sla.created(at, policies.key(fields), self.paused(policies), policies);
                if self.ended {
                    // An abandon was applied first (it arrived `late`, or is dated before the
                    // creation): the contact has ended, so its targets do not run.
                    self.sla.end(at, policies);
                }
            }
            EventBody::TicketUpdated { priority, team, topic, channel } => {
                if let Some(channel) = channel {
                    self.dims.channel = rules.catalog.channel(channel);
                }
                if let Some(team) = team {
                    self.dims.team = rules.catalog.team(Some(team));
                }
                if let Some(priority) = priority {
                    self.dims.priority = Some(*priority);
                }
                if self.created_at.is_some() {
                    let fields =
                        MatchFields { priority: *priority, channel: channel.as_deref(), team: team.as_deref(), topic: topic.as_deref() };
                    self.sla.rematch(at, fields, policies);
                }
            }
            EventBody::Message { author: Author::Agent, public: true, agent_id, .. } => {
                // A follow-up of an ended contact: open again, and the targets the abandon
                // stopped stay stopped (this reply meets none of them).
                self.resume(at, policies);
                self.agent_public_messages += 1;
                self.last_agent = agent_id.as_deref().map(Box::from);
                out.samples.push(Sample::Message { inbound: false });
                // An agent-opened ticket's opening message is not a response.
                let opening = self.requester == Requester::Agent && self.agent_public_messages == 1;
                match (self.created_at.get(), self.first_response_at.get(), opening) {
                    (Some(created_at), None, false) => {
                        self.first_response_at = Some(at).into();
                        let wait = elapsed(created_at, at);
                        out.samples.push(Sample::FirstResponse(seconds(wait)));
                        if let Some(threshold) = rules.kpi.realtime_threshold(self.dims.channel) {
                            out.samples.push(Sample::Answered { wait: seconds(wait), within: wait <= threshold });
                        }
                        self.sla.fulfil(SlaTarget::FirstResponse, at, policies, &mut out.sla);
                    }
                    (Some(_), Some(_), _) => {
                        if let Some(since) = self.waiting_since.get() {
                            out.samples.push(Sample::NextReply(seconds(elapsed(since, at))));
                        }
                        self.sla.fulfil(SlaTarget::NextReply, at, policies, &mut out.sla);
                    }
                    _ => {}
                }
                self.waiting_since = MaybeTime::NONE;
            }
            EventBody::Message { author: Author::Customer, public, sentiment, .. } => {
                if let Some(score) = *sentiment {
                    out.samples.push(Sample::Sentiment { score, negative: score < rules.kpi.sentiment_negative_below });
                }
                if *public {
                    out.samples.push(Sample::Message { inbound: true });
                }
                if *public {
                    // The customer came back after an abandon: open again.
                    self.resume(at, policies);
                    if self.waiting_since.is_none() {
                        self.waiting_since = Some(at).into();
                    }
                    // A next-reply cycle from this message unless one is open: normally only
                    // when it is the oldest unanswered one; once an abandon ended the cycle
                    // that was open, also when an older message is still unanswered.
                    if self.first_response_at.is_some() && self.is_open() {
                        self.sla.awaiting_reply(at, self.paused(policies), policies);
                    }
                }
            }
            EventBody::Message { .. } => {}
            EventBody::StatusChanged { status } => self.change_status(*status, at, policies, out),
            EventBody::ContactAbandoned => {
                if !self.abandoned && self.agent_public_messages == 0 {
                    self.abandoned = true;
                    let wait = self.created_at.get().map(|c| elapsed(c, at));
                    out.samples.push(Sample::Abandoned {
                        short: wait.is_some_and(|w| w < rules.kpi.short_abandon_ms),
                        wait_bucket: wait.map(|w| rules.kpi.wait_bucket(w)),
                        wait: wait.map_or(0.0, seconds),
                        realtime: rules.kpi.realtime_threshold(self.dims.channel).is_some(),
                    });
                }
                // The customer left: the contact ends, whether or not this counts as an abandon
                // (it does not after an agent's answer). A resolved ticket has ended already.
                if rules.kpi.abandon_ends_contact && !self.ended && !self.status.is_some_and(Status::is_resolved) {
                    self.ended = true;
                    self.sla.end(at, policies);
                }
            }
            EventBody::SurveyResponse { survey, score } => {
                out.samples.push(Sample::Survey { survey: *survey, score: *score, rating: rules.kpi.rating(*survey, *score) })
            }
            EventBody::WorkLogged { seconds, .. } => out.samples.push(Sample::WorkLogged(*seconds)),
            EventBody::TicketSnapshot(snapshot) if self.created_at.is_none() => self.seed(snapshot, at, rules),
            EventBody::TicketSnapshot(snapshot) => self.reconcile(snapshot, at, stale, rules, out),
            // About an agent, not a ticket: the partition keeps it (`engine/presence.rs`).
            EventBody::AgentStatus(_) => {}
        }
    }

    /// A `ticket_snapshot` of a ticket whose creation was not seen: the ticket as stated, with
    /// its original times, so it is in the current gauges and the tickets API at once. It adds
    /// nothing to the windows (no sample): what happened before `at` happened before
    /// ticketpulse read it. What was counted of it before (a ticket first seen mid-stream)
    /// stays counted.
    fn seed(&mut self, s: &TicketSnapshot, at: Millis, rules: &TicketRules) {
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
    fn reconcile(&mut self, s: &TicketSnapshot, at: Millis, stale: bool, rules: &TicketRules, out: &mut Effects) {
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

    /// A public message after an abandon ended the contact: open again, resolution running on
    /// from where it stood as a new instance (as after a reopen). First response and the
    /// next-reply instance the abandon stopped never run again.
    fn resume(&mut self, at: Millis, policies: &SlaPolicies) {
        if std::mem::take(&mut self.ended) && self.is_open() {
            self.sla.reopened(at, self.paused(policies), policies);
        }
    }

    fn change_status(&mut self, status: Status, at: Millis, policies: &SlaPolicies, out: &mut Effects) {
        let was_resolved = self.status.is_some_and(Status::is_resolved);
        let was_paused = self.paused(policies);
        // The help desk's status governs a contact an abandon ended: open again, or resolved.
        let resumed = std::mem::take(&mut self.ended);
        self.status = Some(status);
        let paused = self.paused(policies);
        match (was_resolved, status.is_resolved()) {
            // `closed` without a prior `solved` counts as solved at close time.
            (false, true) => {
                if let Some(created_at) = self.created_at.get() {
                    let elapsed = seconds(elapsed(created_at, at));
                    if self.first_solved_at.is_none() {
                        self.first_solved_at = Some(at).into();
                        out.samples.push(Sample::FirstResolution(elapsed));
                        // Seeded: the replies before the snapshot are not known.
                        if !self.seeded {
                            out.samples.push(Sample::FirstSolveReplies(self.agent_replies()));
                        }
                    }
                    out.samples.push(Sample::FullResolution(elapsed));
                }
                // Counted with or without a known creation (a ticket first seen mid-stream):
                // a solve, unlike its duration, needs none.
                out.samples.push(Sample::Solved);
                self.sla.fulfil(SlaTarget::Resolution, at, policies, &mut out.sla);
                self.sla.cancel(SlaTarget::FirstResponse);
                self.sla.cancel(SlaTarget::NextReply);
                self.waiting_since = MaybeTime::NONE;
            }
            (true, false) => {
                out.samples.push(Sample::Reopened);
                self.sla.reopened(at, paused, policies);
                // A customer message that came while the ticket was resolved waits for a reply.
                if let (Some(since), Some(_)) = (self.waiting_since.get(), self.first_response_at.get()) {
                    self.sla.awaiting_reply(since, paused, policies);
                }
            }
            // Open again after an abandon: as `resume`, paused if the status pauses.
            (false, false) if resumed => self.sla.reopened(at, paused, policies),
            (false, false) if was_paused != paused => self.sla.pause(paused, at, policies),
            _ => {}
        }
    }
}

/// Milliseconds from `start` to `end`, never negative: an event dated before the one it is
/// measured from can only be applied after it when it arrived `late`, and then counts as 0.
fn elapsed(start: Millis, end: Millis) -> Millis {
    (end - start).max(0)
}

fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DimensionsConfig};
    use crate::event::Priority;
    use crate::sla::{SlaOutcome, SlaSample};

    fn rules() -> TicketRules {
        let config = Config::default();
        let catalog = Catalog::new(&DimensionsConfig::default());
        TicketRules { kpi: KpiRules::new(&config, &catalog), catalog, policies: SlaPolicies::new(&config.sla).unwrap() }
    }

    fn created(requester: Requester) -> EventBody {
        EventBody::TicketCreated { channel: "chat".into(), priority: Priority::Urgent, team: None, topic: None, requester }
    }

    fn msg(author: Author, public: bool) -> EventBody {
        EventBody::Message { author, public, sentiment: None, agent_id: None }
    }

    fn status(status: Status) -> EventBody {
        EventBody::StatusChanged { status }
    }

    /// Applies `(at_seconds, body)` in order and returns every sample but the message counts.
    fn run(events: &[(i64, EventBody)]) -> (Ticket, Vec<Sample>) {
        let (t, out) = run_effects(events);
        (t, out.samples.into_iter().filter(|s| !matches!(s, Sample::Message { .. })).collect())
    }

    fn run_effects(events: &[(i64, EventBody)]) -> (Ticket, Effects) {
        run_with(&rules(), events)
    }

    fn run_with(rules: &TicketRules, events: &[(i64, EventBody)]) -> (Ticket, Effects) {
        let mut t = Ticket::new(rules.catalog.unknown(), 0);
        let mut out = Effects::default();
        for (at, body) in events {
            t.apply(body, at * 1000, rules, &mut out);
        }
        (t, out)
    }

    fn met(target: SlaTarget, seconds: f64) -> SlaSample {
        // Default policy order: urgent, high, normal, low.
        SlaSample { policy: 0, target, outcome: Some(SlaOutcome::Met), business_seconds: Some(seconds) }
    }

    #[test]
    fn bots_system_and_private_notes_never_count_as_first_response() {
        let (_, samples) = run(&[
            (0, created(Requester::Customer)),
            (10, msg(Author::Bot, true)),
            (20, msg(Author::System, true)),
            (30, msg(Author::Agent, false)),
            (90, msg(Author::Agent, true)),
            (100, msg(Author::Agent, true)),
        ]);
        // The 100 s reply answers nothing new: no next-reply sample. Chat is a real-time
        // channel with a 20 s service-level threshold: answered after 90 s, not within it.
        assert_eq!(samples, [Sample::Created, Sample::FirstResponse(90.0), Sample::Answered { wait: 90.0, within: false }]);
        let (_, out) = run_effects(&[(0, created(Requester::Customer)), (90, msg(Author::Agent, true))]);
        // Urgent first-response target is 30 min: met at 90 s.
        assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 90.0)]);
    }

    #[test]
    fn next_reply_starts_at_the_oldest_unanswered_customer_message() {
        let (t, out) = run_effects(&[
            (0, created(Requester::Customer)),
            (60, msg(Author::Agent, true)),
            (100, msg(Author::Customer, true)),
            (130, msg(Author::Customer, true)),
            (150, msg(Author::Bot, true)),
            (400, msg(Author::Agent, true)),
            (500, msg(Author::Customer, true)),
        ]);
        let out_msg = Sample::Message { inbound: false };
        let in_msg = Sample::Message { inbound: true };
        assert_eq!(
            out.samples,
            [
                Sample::Created,
                out_msg,
                Sample::FirstResponse(60.0),
                Sample::Answered { wait: 60.0, within: false },
                in_msg,
                in_msg,
                out_msg,
                Sample::NextReply(300.0),
                in_msg
            ]
        );
        // Urgent next reply: 1 h, met after 300 s.
        assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0), met(SlaTarget::NextReply, 300.0)]);
        assert_eq!(t.waiting_since, Some(500_000));
    }

    #[test]
    fn agent_created_ticket_skips_the_opening_message() {
        let (_, samples) = run(&[(0, created(Requester::Agent)), (5, msg(Author::Agent, true)), (600, msg(Author::Agent, true))]);
        assert_eq!(samples[1], Sample::FirstResponse(600.0));
    }

    #[test]
    fn first_and_full_resolution_with_reopen_and_close() {
        let (t, samples) = run(&[
            (0, created(Requester::Customer)),
            (100, status(Status::Solved)),
            (200, status(Status::Open)),
            (400, status(Status::Solved)),
            (500, status(Status::Closed)),
        ]);
        assert_eq!(
            samples,
            [
                Sample::Created,
                Sample::FirstResolution(100.0),
                Sample::FirstSolveReplies(0),
                Sample::FullResolution(100.0),
                Sample::Solved,
                Sample::Reopened,
                Sample::FullResolution(400.0),
                Sample::Solved,
            ]
        );
        assert!(!t.is_open());
    }

    #[test]
    fn closed_without_solved_counts_as_solved() {
        let (_, samples) = run(&[(0, created(Requester::Customer)), (50, status(Status::Closed))]);
        assert_eq!(samples[1..4], [Sample::FirstResolution(50.0), Sample::FirstSolveReplies(0), Sample::FullResolution(50.0)]);
    }

    #[test]
    fn abandonment_short_long_and_after_reply() {
        let (_, short) = run(&[(0, created(Requester::Customer)), (9, EventBody::ContactAbandoned)]);
        // Wait buckets 0s-10s, 10s-30s, ...: 9 s is bucket 0, 10 s too (bounds are inclusive).
        assert_eq!(short[1], Sample::Abandoned { short: true, wait_bucket: Some(0), wait: 9.0, realtime: true });
        let (_, long) = run(&[(0, created(Requester::Customer)), (10, EventBody::ContactAbandoned), (20, EventBody::ContactAbandoned)]);
        assert_eq!(long[1..], [Sample::Abandoned { short: false, wait_bucket: Some(0), wait: 10.0, realtime: true }]);
        let (_, answered) = run(&[(0, created(Requester::Customer)), (5, msg(Author::Agent, true)), (60, EventBody::ContactAbandoned)]);
        assert!(!answered.iter().any(|s| matches!(s, Sample::Abandoned { .. })));
    }

    /// The samples but the message counts.
    fn kpis(out: &Effects) -> Vec<Sample> {
        out.samples.iter().copied().filter(|s| !matches!(s, Sample::Message { .. })).collect()
    }

    const ABANDONED_AT_40S: Sample = Sample::Abandoned { short: false, wait_bucket: Some(2), wait: 40.0, realtime: true };

    /// The urgent policy: first response 30 min, next reply 1 h, resolution 8 h.
    const RESOLUTION: Millis = 28_800_000;

    #[test]
    fn an_abandon_ends_the_contact_its_targets_neither_met_nor_breached() {
        let rules = rules();
        let (mut t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned)]);
        // Counted once as before: 40 s is in the 30s-1m wait bucket, chat is real-time.
        assert_eq!(out.samples, [Sample::Created, ABANDONED_AT_40S]);
        assert!(out.sla.samples.is_empty());
        assert!(!t.is_open());
        assert_eq!(t.gauge_share(&rules.policies), None, "in no gauge: open, backlog, SLA");
        assert_eq!(t.sla.next_deadline(), None, "nothing left to breach");
        assert_eq!(t.next_due(3_600_000), Some(3_640_000), "forgotten a retention after its last event");
        let mut sla = SlaEffects::default();
        t.sla.on_timer(1_800_000, &mut sla);
        assert!(sla.samples.is_empty(), "the old first-response deadline finds nothing");
        // A second abandon counts nothing and changes nothing.
        let mut out = Effects::default();
        t.apply(&EventBody::ContactAbandoned, 50_000, &rules, &mut out);
        assert!(out.samples.is_empty() && !t.is_open());
    }

    #[test]
    fn an_agent_reply_after_an_abandon_opens_it_again_without_meeting_first_response() {
        let rules = rules();
        let (t, out) =
            run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (600, msg(Author::Agent, true))]);
        // The KPIs as before: the follow-up is the first response, 600 s after creation.
        assert_eq!(
            kpis(&out),
            [Sample::Created, ABANDONED_AT_40S, Sample::FirstResponse(600.0), Sample::Answered { wait: 600.0, within: false }]
        );
        assert!(out.sla.samples.is_empty(), "the stopped first-response target is not met");
        let share = t.gauge_share(&rules.policies).unwrap();
        assert_eq!((share.status, share.waiting_since), (Status::New, None));
        // Resolution runs on from the 40 s it had: due 600 s + 8 h − 40 s.
        assert_eq!(share.targets, [None, None, Some(TargetGauge::Running(600_000 + RESOLUTION - 40_000))]);
    }

    #[test]
    fn a_status_change_after_an_abandon_opens_it_again_and_resolution_runs_on() {
        let rules = rules();
        let (t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (300, status(Status::Open))]);
        let share = t.gauge_share(&rules.policies).unwrap();
        // The customer's request from creation is still unanswered; no first-response target.
        assert_eq!((share.status, share.waiting_since), (Status::Open, Some(0)));
        assert_eq!(share.targets, [None, None, Some(TargetGauge::Running(300_000 + RESOLUTION - 40_000))]);
        assert!(out.sla.samples.is_empty());
        // Pending pauses it; the reply meets nothing; solved while paused: 40 s + 100 s ran.
        let (t, out) = run_effects(&[
            (0, created(Requester::Customer)),
            (40, EventBody::ContactAbandoned),
            (300, status(Status::Open)),
            (400, status(Status::Pending)),
            (1000, msg(Author::Agent, true)),
            (2000, status(Status::Solved)),
        ]);
        assert_eq!(out.sla.samples, [met(SlaTarget::Resolution, 140.0)]);
        assert_eq!(kpis(&out)[2..4], [Sample::FirstResponse(1000.0), Sample::Answered { wait: 1000.0, within: false }]);
        assert!(!t.is_open());
        // Closed straight after the abandon (what agents do with a missed chat): resolution
        // is neither met nor breached; the solve KPIs are as before.
        let (t, out) = run_effects(&[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned), (41, status(Status::Closed))]);
        assert_eq!(
            kpis(&out),
            [
                Sample::Created,
                ABANDONED_AT_40S,
                Sample::FirstResolution(41.0),
                Sample::FirstSolveReplies(0),
                Sample::FullResolution(41.0),
                Sample::Solved
            ]
        );
        assert!(out.sla.samples.is_empty());
        assert!(!t.is_open());
    }

    #[test]
    fn an_abandon_stops_a_running_next_reply_and_the_customer_coming_back_starts_one() {
        let rules = rules();
        let events = [
            (0, created(Requester::Customer)),
            (60, msg(Author::Agent, true)),
            (100, msg(Author::Customer, true)),
            (130, EventBody::ContactAbandoned),
        ];
        let (t, out) = run_effects(&events);
        // Answered before: not an abandon. The contact ends all the same; the next reply due
        // at 100 s + 1 h is gone.
        assert!(!kpis(&out).iter().any(|s| matches!(s, Sample::Abandoned { .. })));
        assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0)]);
        assert!(!t.is_open());
        assert_eq!(t.sla.next_deadline(), None);
        // A late agent reply: the next reply time as before (from the 100 s message), no outcome.
        let (t, out) = run_effects(&[events.as_slice(), &[(5000, msg(Author::Agent, true))]].concat());
        assert_eq!(kpis(&out)[3..], [Sample::NextReply(4900.0)]);
        assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 60.0)]);
        assert_eq!(
            t.gauge_share(&rules.policies).unwrap().targets,
            [None, None, Some(TargetGauge::Running(5_000_000 + RESOLUTION - 130_000))]
        );
        // The customer writes again at 1000 s: a next reply from then, though the 100 s message
        // is still the oldest unanswered one.
        let (t, _) = run_effects(&[events.as_slice(), &[(1000, msg(Author::Customer, true))]].concat());
        let share = t.gauge_share(&rules.policies).unwrap();
        assert_eq!(share.waiting_since, Some(100_000));
        assert_eq!(
            share.targets,
            [None, Some(TargetGauge::Running(1_000_000 + 3_600_000)), Some(TargetGauge::Running(1_000_000 + RESOLUTION - 130_000))]
        );
    }

    #[test]
    fn an_abandon_after_a_breach_keeps_it_counted_and_a_solved_ticket_is_not_ended() {
        let rules = rules();
        let mut t = Ticket::new(rules.catalog.unknown(), 0);
        let mut out = Effects::default();
        t.apply(&created(Requester::Customer), 0, &rules, &mut out);
        t.sla.on_timer(1_800_000, &mut out.sla);
        assert_eq!(out.sla.samples.len(), 1, "first response breached at 30 min");
        for (at, body) in [(2_000_000, EventBody::ContactAbandoned), (3_000_000, status(Status::Open))] {
            t.apply(&body, at, &rules, &mut out);
        }
        // Open again: the breached first response is stopped, not breached again.
        assert_eq!(out.sla.samples.len(), 1);
        assert_eq!(
            t.gauge_share(&rules.policies).unwrap().targets,
            [None, None, Some(TargetGauge::Running(3_000_000 + RESOLUTION - 2_000_000))]
        );
        // Solved, then an abandon, then reopened: a reopen as ever (resolution runs on).
        let (t, _) = run_effects(&[
            (0, created(Requester::Customer)),
            (50, status(Status::Solved)),
            (60, EventBody::ContactAbandoned),
            (100, status(Status::Open)),
        ]);
        assert_eq!(
            t.gauge_share(&rules.policies).unwrap().targets,
            [None, None, Some(TargetGauge::Running(100_000 + RESOLUTION - 50_000))]
        );
    }

    #[test]
    fn an_abandon_applied_before_its_creation_still_ends_the_contact() {
        let (t, out) = run_effects(&[(40, EventBody::ContactAbandoned), (0, created(Requester::Customer))]);
        // The KPIs as before: no wait known, no channel yet.
        assert_eq!(out.samples, [Sample::Abandoned { short: false, wait_bucket: None, wait: 0.0, realtime: false }, Sample::Created]);
        assert!(!t.is_open());
        assert_eq!(t.sla.next_deadline(), None);
    }

    #[test]
    fn with_ends_contact_false_an_abandoned_contact_stays_open() {
        let mut rules = rules();
        rules.kpi.abandon_ends_contact = false;
        let (t, out) = run_with(&rules, &[(0, created(Requester::Customer)), (40, EventBody::ContactAbandoned)]);
        assert_eq!(out.samples, [Sample::Created, ABANDONED_AT_40S]);
        assert!(t.is_open());
        let share = t.gauge_share(&rules.policies).unwrap();
        assert_eq!(share.targets, [Some(TargetGauge::Running(1_800_000)), None, Some(TargetGauge::Running(RESOLUTION))]);
        assert_eq!(t.next_due(3_600_000), Some(1_800_000));
    }

    #[test]
    fn gauge_share_follows_status_pause_and_breach() {
        let rules = rules();
        let p = &rules.policies;
        let mut t = Ticket::new(rules.catalog.unknown(), 0);
        let mut out = Effects::default();
        assert_eq!(t.gauge_share(p), None);
        t.apply(&created(Requester::Customer), 0, &rules, &mut out);
        let running =
            |first_response, resolution| [Some(TargetGauge::Running(first_response)), None, Some(TargetGauge::Running(resolution))];
        assert_eq!(t.gauge_share(p).unwrap().targets, running(1_800_000, 28_800_000));
        assert_eq!(t.next_due(3_600_000), Some(1_800_000), "the first deadline; open tickets are not evicted");
        t.sla.on_deadline(SlaTarget::FirstResponse, 1_800_000);
        t.apply(&status(Status::OnHold), 1_900_000, &rules, &mut out);
        let share = t.gauge_share(p).unwrap();
        assert_eq!((share.status, share.policy, share.waiting_since), (Status::OnHold, Some(0), Some(0)));
        assert_eq!(share.targets, [Some(TargetGauge::Breached), None, Some(TargetGauge::Paused)]);
        t.apply(&status(Status::Open), 2_000_000, &rules, &mut out);
        // 1 900 s of the 8 h ran before the pause: due 2 000 s + 26 900 s.
        assert_eq!(t.gauge_share(p).unwrap().targets[2], Some(TargetGauge::Running(28_900_000)));
        t.apply(&status(Status::Solved), 2_100_000, &rules, &mut out);
        assert_eq!(t.gauge_share(p), None);
    }

    #[test]
    fn catalogue_samples_touches_surveys_work_and_sentiment() {
        use crate::event::Survey;
        let survey = |survey, score| EventBody::SurveyResponse { survey, score };
        let customer =
            |sentiment| EventBody::Message { author: Author::Customer, public: true, sentiment: Some(sentiment), agent_id: None };
        let (_, samples) = run(&[
            (0, created(Requester::Agent)),
            (1, msg(Author::Agent, true)), // the opening message: not a reply
            (60, customer(-0.5)),
            (70, EventBody::Message { author: Author::Customer, public: false, sentiment: Some(0.2), agent_id: None }),
            (100, msg(Author::Agent, true)),
            (110, EventBody::WorkLogged { seconds: 300.0, agent_id: None }),
            (200, status(Status::Solved)),
            (300, survey(Survey::Csat, 4.0)),
            (301, survey(Survey::Csat, 3.0)),
            (302, survey(Survey::Ces, 5.0)),
            (303, survey(Survey::Nps, 9.0)),
            (304, survey(Survey::Nps, 7.0)),
            (305, survey(Survey::Nps, 6.0)),
        ]);
        assert_eq!(
            samples,
            [
                Sample::Created,
                // The -0.3 default threshold: -0.5 is negative, 0.2 is not; both count.
                Sample::Sentiment { score: -0.5, negative: true },
                Sample::Sentiment { score: 0.2, negative: false },
                // Agent-opened: the 100 s message is the first response, 100 s after creation,
                // and the ticket's only reply (one-touch).
                Sample::FirstResponse(100.0),
                Sample::Answered { wait: 100.0, within: false },
                Sample::WorkLogged(300.0),
                Sample::FirstResolution(200.0),
                Sample::FirstSolveReplies(1),
                Sample::FullResolution(200.0),
                Sample::Solved,
                Sample::Survey { survey: Survey::Csat, score: 4.0, rating: 0 },
                Sample::Survey { survey: Survey::Csat, score: 3.0, rating: 1 },
                Sample::Survey { survey: Survey::Ces, score: 5.0, rating: 0 },
                Sample::Survey { survey: Survey::Nps, score: 9.0, rating: 0 },
                Sample::Survey { survey: Survey::Nps, score: 7.0, rating: 1 },
                Sample::Survey { survey: Survey::Nps, score: 6.0, rating: 2 },
            ]
        );
        // A chat answered at exactly its 20 s threshold is within it.
        let (_, samples) = run(&[(0, created(Requester::Customer)), (20, msg(Author::Agent, true))]);
        assert_eq!(samples[2], Sample::Answered { wait: 20.0, within: true });
    }

    #[test]
    fn last_agent_is_the_author_of_the_last_public_agent_message() {
        let agent = |public: bool, id: Option<&str>| EventBody::Message {
            author: Author::Agent,
            public,
            sentiment: None,
            agent_id: id.map(String::from),
        };
        let bot = EventBody::Message { author: Author::Bot, public: true, sentiment: None, agent_id: Some("bot-1".into()) };
        let (t, _) =
            run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(false, Some("a2"))), (30, bot.clone())]);
        // Private notes and bots are not replies.
        assert_eq!(t.last_agent(), Some("a1"));
        let (t, _) = run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(true, Some("a2")))]);
        assert_eq!(t.last_agent(), Some("a2"));
        // A reply that names no agent: the last reply's agent is not known.
        let (t, _) = run(&[(0, created(Requester::Customer)), (10, agent(true, Some("a1"))), (20, agent(true, None))]);
        assert_eq!(t.last_agent(), None);
    }

    fn snapshot(status: Status) -> EventBody {
        EventBody::TicketSnapshot(Box::new(TicketSnapshot {
            created_at: 0,
            status,
            channel: "chat".into(),
            priority: Priority::Urgent,
            team: None,
            topic: None,
            requester: Requester::Customer,
            first_response_at: None,
            waiting_since: Some(0),
            solved_at: None,
            paused: 0,
            last_agent_id: None,
        }))
    }

    #[test]
    fn a_snapshot_seeds_an_unknown_ticket_and_later_events_count_from_its_creation() {
        let rules = rules();
        let (t, out) = run_effects(&[(600, snapshot(Status::Open))]);
        assert!(out.samples.is_empty() && out.sla.samples.is_empty(), "the snapshot itself counts nothing");
        let share = t.gauge_share(&rules.policies).unwrap();
        // Urgent: first response due 30 min after the creation at 0, resolution 8 h.
        assert_eq!((share.created_at, share.waiting_since), (0, Some(0)));
        assert_eq!(share.targets, [Some(TargetGauge::Running(1_800_000)), None, Some(TargetGauge::Running(RESOLUTION))]);
        let (_, out) = run_effects(&[(600, snapshot(Status::Open)), (900, msg(Author::Agent, true)), (1200, status(Status::Solved))]);
        // The reply is the first response, 900 s after the creation (chat's 20 s threshold
        // missed); the solve a first and full resolution of 1200 s with no `agent_replies`
        // class (the replies before the snapshot are not known), and a solve.
        assert_eq!(
            kpis(&out),
            [
                Sample::FirstResponse(900.0),
                Sample::Answered { wait: 900.0, within: false },
                Sample::FirstResolution(1200.0),
                Sample::FullResolution(1200.0),
                Sample::Solved
            ]
        );
        assert_eq!(out.sla.samples, [met(SlaTarget::FirstResponse, 900.0), met(SlaTarget::Resolution, 1200.0)]);
        // Seeded at 40 min: the first response was due at 30 min, breached with no outcome
        // counted (before ticketpulse read it), its deadline kept.
        let (t, out) = run_effects(&[(2400, snapshot(Status::Open))]);
        assert!(out.sla.samples.is_empty());
        assert_eq!(t.gauge_share(&rules.policies).unwrap().targets[0], Some(TargetGauge::Breached));
        assert_eq!(t.sla.deadline(SlaTarget::FirstResponse), Some(1_800_000));
    }

    #[test]
    fn a_snapshot_of_a_known_ticket_adopts_what_differs_and_counts_nothing() {
        let rules = rules();
        let (t, out) = run_effects(&[(0, created(Requester::Customer)), (100, snapshot(Status::Open))]);
        // Same creation, channel, priority, team; status new here, open there.
        let found: Vec<_> = SnapshotField::ALL.into_iter().filter(|f| out.differences[f.index()]).collect();
        assert_eq!(found, [SnapshotField::Status]);
        assert_eq!(kpis(&out), [Sample::Created], "nothing counted for the snapshot");
        assert_eq!(t.gauge_share(&rules.policies).unwrap().status, Status::Open);
        // Solved there: adopted without a solve counted, the clocks stopped with no outcome.
        let (t, out) = run_effects(&[(0, created(Requester::Customer)), (100, snapshot(Status::Solved))]);
        assert_eq!(kpis(&out), [Sample::Created]);
        assert!(out.sla.samples.is_empty());
        assert!(!t.is_open());
    }

    /// A snapshot read at 100 s reaches the engine after the solve of 200 s was applied (late):
    /// it states an older ticket. Its status difference is reported; the ticket stays solved
    /// (adopting "open" would reopen it without a reopen counted, and run its clocks again).
    #[test]
    fn a_snapshot_older_than_the_ticket_reports_and_adopts_nothing() {
        let (t, out) = run_effects(&[(0, created(Requester::Customer)), (200, status(Status::Solved)), (100, snapshot(Status::Open))]);
        let found: Vec<_> = SnapshotField::ALL.into_iter().filter(|f| out.differences[f.index()]).collect();
        assert_eq!(found, [SnapshotField::Status]);
        assert!(!t.is_open());
        assert_eq!(t.status, Some(Status::Solved));
    }

    #[test]
    fn duplicates_are_remembered_up_to_the_capacity() {
        let mut t = Ticket::new(rules().catalog.unknown(), 0);
        assert!(t.remember(7, 2));
        assert!(!t.remember(7, 2));
        assert!(t.remember(8, 2));
        assert!(!t.remember(7, 2), "7 and 8 fit");
        assert!(t.remember(9, 2), "evicts 7, the oldest");
        assert!(!t.remember(8, 2));
        assert!(t.remember(7, 2), "7 was forgotten");
        assert_eq!(t.seen, vec![9, 7]);
    }
}
