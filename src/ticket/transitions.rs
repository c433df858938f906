//! How each event changes a ticket ([`Ticket::apply`]): the transitions of its state machine
//! and the samples they emit, apart from the state itself (`mod.rs`) and snapshots (`snapshot.rs`).

use crate::base::{MaybeTime, Millis};
use crate::dimensions::Dims;
use crate::event::{Author, EventBody, Requester, Status};
use crate::kpi::Sample;
use crate::sla::{MatchFields, SlaPolicies, SlaTarget};

use super::{Effects, Ticket, TicketRules};

impl Ticket {
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
            EventBody::Message { author: Author::Agent, public: false, .. } => out.samples.push(Sample::InternalNote),
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

    /// A public message after an abandon ended the contact: open again, resolution running on
    /// from where it stood as a new instance (as after a reopen). First response and the
    /// next-reply instance the abandon stopped never run again.
    fn resume(&mut self, at: Millis, policies: &SlaPolicies) {
        if std::mem::take(&mut self.ended) && self.is_open() {
            self.sla.reopened(at, self.paused(policies), policies);
        }
    }

    pub(super) fn change_status(&mut self, status: Status, at: Millis, policies: &SlaPolicies, out: &mut Effects) {
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
