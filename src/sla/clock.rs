//! One ticket's clocks ([`SlaClock`]): first response, next reply and resolution, each a
//! [`TargetClock`] run, paused, fulfilled, breached by its timer, re-armed on a rematch. Apart
//! from the policies, which it only asks for a target's length and calendar.

use serde::{Deserialize, Serialize};

use super::{MatchFields, MatchKey, PolicyId, SlaEffects, SlaOutcome, SlaPolicies, SlaSample, SlaTarget, TargetGauge};
use crate::base::{MaybeTime, Millis};
use crate::calendar::Calendar;

/// Whether a clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
enum Run {
    /// Not started (no creation seen, or no cycle open).
    #[default]
    Idle,
    /// Counting since `since` (business time is added up to there in `elapsed`).
    Running { since: Millis },
    /// Stopped by a pause status; resumes where it stood.
    Paused,
    /// Fulfilled or cancelled.
    Stopped,
}

/// One target's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TargetClock {
    run: Run,
    /// Business time counted before the current running segment.
    elapsed: Millis,
    /// Armed while running with a target; once breached, the deadline that passed (kept so
    /// the tickets API can say when, at no extra memory).
    deadline: MaybeTime,
    /// This instance's deadline passed unfulfilled.
    breached: bool,
}
impl TargetClock {
    fn is_active(&self) -> bool {
        matches!(self.run, Run::Running { .. } | Run::Paused)
    }

    /// Adds the running segment up to `at` to `elapsed`.
    fn settle(&mut self, at: Millis, calendar: &Calendar) {
        if let Run::Running { since } = self.run {
            self.elapsed += calendar.between(since, at);
            self.run = Run::Running { since: since.max(at) };
        }
    }

    /// Sets the deadline from the target: armed while running towards one. A breached
    /// instance keeps the deadline it missed (for the tickets API) and is not armed again.
    fn arm(&mut self, target: Option<Millis>, calendar: &Calendar) {
        if self.breached {
            return;
        }
        self.deadline = match (self.run, target) {
            (Run::Running { since }, Some(t)) => Some(calendar.add(since, (t - self.elapsed).max(0))),
            _ => None,
        }
        .into();
    }

    fn gauge(&self, has_target: bool) -> Option<TargetGauge> {
        match (self.run, has_target) {
            (_, false) | (Run::Idle | Run::Stopped, _) => None,
            _ if self.breached => Some(TargetGauge::Breached),
            (Run::Running { .. }, _) => self.deadline.get().map(TargetGauge::Running),
            (Run::Paused, _) => Some(TargetGauge::Paused),
        }
    }
}

/// What a `ticket_snapshot` states about a ticket's clocks ([`SlaClock::seed`]).
#[derive(Debug, Clone, Copy)]
pub struct SlaSeed {
    pub key: MatchKey,
    pub created_at: Millis,
    /// The instant the state was read.
    pub at: Millis,
    /// Its status pauses the clocks that pause.
    pub paused: bool,
    /// Time in pause statuses before `at`, in the policy calendar's time.
    pub paused_ms: Millis,
    /// A first public agent reply was given.
    pub first_response: bool,
    /// The oldest customer message not yet answered.
    pub waiting_since: Option<Millis>,
    /// When it was solved, if its status is solved or closed.
    pub resolved_at: Option<Millis>,
}

/// The SLA state of one ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlaClock {
    key: MatchKey,
    policy: Option<PolicyId>,
    clocks: [TargetClock; 3],
}

impl SlaClock {
    pub fn policy(&self) -> Option<PolicyId> {
        self.policy
    }

    /// The gauge view of each target (`None`: no target, or not running).
    pub fn gauges(&self, policies: &SlaPolicies) -> [Option<TargetGauge>; 3] {
        SlaTarget::ALL.map(|t| self.clocks[t.index()].gauge(policies.target(self.policy, t).is_some()))
    }

    /// The deadline of `target`'s current instance: the one running towards, or, once
    /// breached, the one that passed. `None` while paused or stopped (and for a breach
    /// restored from a snapshot written before breached deadlines were kept).
    pub fn deadline(&self, target: SlaTarget) -> Option<Millis> {
        self.clocks[target.index()].deadline.get()
    }

    /// The ticket was created: match a policy and start first response and resolution.
    pub fn created(&mut self, at: Millis, key: MatchKey, paused: bool, policies: &SlaPolicies) {
        self.key = key;
        self.policy = policies.find(&key);
        self.start(SlaTarget::FirstResponse, at, false, policies);
        self.start(SlaTarget::Resolution, at, paused, policies);
    }

    /// A ticket first known from a `ticket_snapshot` ([`SlaSeed`]): its clocks as they stand
    /// at `seed.at`, each counted from its original start in the policy's calendar. A target
    /// already overdue at `at` is breached with no outcome counted (that happened before
    /// ticketpulse read the ticket); one still ahead is armed and breaches as usual.
    pub fn seed(&mut self, seed: &SlaSeed, policies: &SlaPolicies) {
        self.key = seed.key;
        self.policy = policies.find(&seed.key);
        let calendar = policies.calendar(self.policy);
        let stopped = |elapsed| TargetClock { run: Run::Stopped, elapsed, ..TargetClock::default() };
        let open = seed.resolved_at.is_none();
        // First response: never paused, from creation, until the first reply.
        self.clocks[SlaTarget::FirstResponse.index()] = if open && !seed.first_response {
            self.seeded(SlaTarget::FirstResponse, seed.created_at, seed.at, 0, false, policies)
        } else {
            stopped(0)
        };
        // Next reply: from the oldest unanswered message, taken as not paused since then.
        self.clocks[SlaTarget::NextReply.index()] = match seed.waiting_since {
            Some(since) if open && seed.first_response => self.seeded(SlaTarget::NextReply, since, seed.at, 0, seed.paused, policies),
            _ => TargetClock::default(),
        };
        // Resolution: from creation, the stated pauses off.
        self.clocks[SlaTarget::Resolution.index()] = match seed.resolved_at {
            None => self.seeded(SlaTarget::Resolution, seed.created_at, seed.at, seed.paused_ms, seed.paused, policies),
            Some(end) => stopped((calendar.between(seed.created_at, end) - seed.paused_ms).max(0)),
        };
    }

    /// A clock started at `start`, standing at `at` after `paused_ms` of pauses (the current
    /// one, if `paused`, included): running or paused, or breached when its target passed
    /// before `at`, its deadline then taken as if the pauses all came before it.
    fn seeded(&self, target: SlaTarget, start: Millis, at: Millis, paused_ms: Millis, paused: bool, policies: &SlaPolicies) -> TargetClock {
        let calendar = policies.calendar(self.policy);
        let elapsed = (calendar.between(start, at) - paused_ms).max(0);
        let mut clock =
            TargetClock { run: if paused { Run::Paused } else { Run::Running { since: at } }, elapsed, ..TargetClock::default() };
        match policies.target(self.policy, target) {
            Some(limit) if elapsed > limit => {
                clock.breached = true;
                clock.deadline = Some(calendar.add(start, limit + paused_ms)).into();
            }
            limit => clock.arm(limit, calendar),
        }
        clock
    }

    /// Routing fields changed: match again; each clock keeps its start and elapsed time and
    /// takes the new policy's target and calendar from `at` on.
    pub fn rematch(&mut self, at: Millis, fields: MatchFields<'_>, policies: &SlaPolicies) {
        policies.update_key(&mut self.key, fields);
        let policy = policies.find(&self.key);
        if policy == self.policy {
            return;
        }
        let (old, new) = (policies.calendar(self.policy), policies.calendar(policy));
        self.policy = policy;
        for target in SlaTarget::ALL {
            let clock = &mut self.clocks[target.index()];
            clock.settle(at, old);
            clock.arm(policies.target(policy, target), new);
        }
    }

    /// Starts a new instance of `target`'s clock at `at` (elapsed from zero).
    fn start(&mut self, target: SlaTarget, at: Millis, paused: bool, policies: &SlaPolicies) {
        let clock = &mut self.clocks[target.index()];
        *clock = TargetClock { run: if paused { Run::Paused } else { Run::Running { since: at } }, ..TargetClock::default() };
        clock.arm(policies.target(self.policy, target), policies.calendar(self.policy));
    }

    /// A customer message is waiting for an answer since `since`: opens a next-reply cycle
    /// unless one is open.
    pub fn awaiting_reply(&mut self, since: Millis, paused: bool, policies: &SlaPolicies) {
        if !self.clocks[SlaTarget::NextReply.index()].is_active() {
            self.start(SlaTarget::NextReply, since, paused, policies);
        }
    }

    /// The work `target` measures was done at `at`.
    pub fn fulfil(&mut self, target: SlaTarget, at: Millis, policies: &SlaPolicies, out: &mut SlaEffects) {
        let clock = &mut self.clocks[target.index()];
        if !clock.is_active() {
            return;
        }
        clock.settle(at, policies.calendar(self.policy));
        let deadline = std::mem::take(&mut clock.deadline).get();
        clock.run = Run::Stopped;
        let (Some(policy), Some(limit)) = (self.policy, policies.target(self.policy, target)) else { return };
        let outcome = match deadline {
            _ if clock.breached => None,
            Some(deadline) => Some(if at <= deadline { SlaOutcome::Met } else { SlaOutcome::Breached }),
            // Fulfilled while paused: nothing ran since the pause.
            None => Some(if clock.elapsed <= limit { SlaOutcome::Met } else { SlaOutcome::Breached }),
        };
        out.samples.push(SlaSample { policy, target, outcome, business_seconds: Some(clock.elapsed as f64 / 1000.0) });
    }

    /// The ticket was resolved: an active target that resolution does not fulfil stops
    /// without an outcome (a breach already counted stays counted).
    pub fn cancel(&mut self, target: SlaTarget) {
        let clock = &mut self.clocks[target.index()];
        if clock.is_active() {
            clock.run = Run::Stopped;
            clock.deadline = MaybeTime::NONE;
        }
    }

    /// The contact ended at `at` (an abandon): every active target stops without an outcome,
    /// its elapsed time kept. Only [`SlaClock::reopened`] starts resolution again, from there;
    /// first response and the next-reply instance that was open never run again.
    pub fn end(&mut self, at: Millis, policies: &SlaPolicies) {
        let calendar = policies.calendar(self.policy);
        for clock in &mut self.clocks {
            if clock.is_active() {
                clock.settle(at, calendar);
                clock.run = Run::Stopped;
                clock.deadline = MaybeTime::NONE;
            }
        }
    }

    /// Reopened (or an ended contact brought back): resolution runs again from where it
    /// stood, as a new instance to be met or breached on its own.
    pub fn reopened(&mut self, at: Millis, paused: bool, policies: &SlaPolicies) {
        let clock = &mut self.clocks[SlaTarget::Resolution.index()];
        if clock.run != Run::Stopped {
            return;
        }
        *clock = TargetClock {
            run: if paused { Run::Paused } else { Run::Running { since: at } },
            elapsed: clock.elapsed,
            ..TargetClock::default()
        };
        clock.arm(policies.target(self.policy, SlaTarget::Resolution), policies.calendar(self.policy));
    }

    /// Entered (`true`) or left (`false`) a pause status.
    pub fn pause(&mut self, paused: bool, at: Millis, policies: &SlaPolicies) {
        let calendar = policies.calendar(self.policy);
        for target in [SlaTarget::NextReply, SlaTarget::Resolution] {
            let clock = &mut self.clocks[target.index()];
            match (clock.run, paused) {
                (Run::Running { .. }, true) => {
                    clock.settle(at, calendar);
                    clock.run = Run::Paused;
                    if !clock.breached {
                        clock.deadline = MaybeTime::NONE;
                    }
                }
                (Run::Paused, false) => {
                    clock.run = Run::Running { since: at };
                    clock.arm(policies.target(self.policy, target), calendar);
                }
                _ => {}
            }
        }
    }

    /// The earliest armed deadline: when this ticket next needs its timer. A breached
    /// instance's kept deadline needs none.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.clocks.iter().filter(|c| !c.breached).filter_map(|c| c.deadline.get()).min()
    }

    /// The ticket's timer fired at `at` (the watermark passed it): every target due by then is
    /// breached, in target order.
    pub fn on_timer(&mut self, at: Millis, out: &mut SlaEffects) {
        for target in SlaTarget::ALL {
            if let Some(deadline) = self.clocks[target.index()].deadline.get().filter(|d| *d <= at) {
                out.samples.extend(self.on_deadline(target, deadline));
            }
        }
    }

    /// A timer armed for `deadline` fired (the watermark passed it). Stale timers, for
    /// deadlines that moved or targets already decided, do nothing.
    pub fn on_deadline(&mut self, target: SlaTarget, deadline: Millis) -> Option<SlaSample> {
        let clock = &mut self.clocks[target.index()];
        if clock.breached || clock.deadline != Some(deadline) || !matches!(clock.run, Run::Running { .. }) {
            return None;
        }
        clock.breached = true;
        Some(SlaSample { policy: self.policy?, target, outcome: Some(SlaOutcome::Breached), business_seconds: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PolicyConfig;
    use crate::event::Priority;
    use crate::sla::policy::tests::{policies, policy};
    use std::time::Duration;

    const M: Millis = 60_000;

    fn one(first_response: u64, next_reply: u64, resolution: u64) -> SlaPolicies {
        let m = |n: u64| Some(Duration::from_secs(n * 60));
        policies(vec![PolicyConfig {
            first_response: m(first_response),
            next_reply: m(next_reply),
            resolution: m(resolution),
            ..policy("p")
        }])
    }

    /// The armed deadlines, by target.
    fn armed(c: &SlaClock) -> Vec<(SlaTarget, Millis)> {
        let clocks = SlaTarget::ALL.into_iter().filter(|t| !c.clocks[t.index()].breached);
        clocks.filter_map(|t| c.clocks[t.index()].deadline.get().map(|d| (t, d))).collect()
    }

    fn sample(target: SlaTarget, outcome: Option<SlaOutcome>, minutes: Option<f64>) -> SlaSample {
        SlaSample { policy: 0, target, outcome, business_seconds: minutes.map(|m| m * 60.0) }
    }

    #[test]
    fn met_at_the_deadline_exactly_and_late_reply_after_breach_stays_breached() {
        let p = one(60, 30, 600);
        let mut c = SlaClock::default();
        let mut out = SlaEffects::default();
        c.created(0, MatchKey::default(), false, &p);
        assert_eq!(armed(&c), [(SlaTarget::FirstResponse, 60 * M), (SlaTarget::Resolution, 600 * M)]);
        assert_eq!(c.next_deadline(), Some(60 * M));
        c.fulfil(SlaTarget::FirstResponse, 60 * M, &p, &mut out);
        assert_eq!(out.samples, [sample(SlaTarget::FirstResponse, Some(SlaOutcome::Met), Some(60.0))]);
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 60 * M), None, "decided targets ignore their timer");

        // Next reply: breached by its timer, then the late reply records only its duration.
        out.clear();
        c.awaiting_reply(100 * M, false, &p);
        assert_eq!(armed(&c), [(SlaTarget::NextReply, 130 * M), (SlaTarget::Resolution, 600 * M)]);
        assert_eq!(c.on_deadline(SlaTarget::NextReply, 130 * M), Some(sample(SlaTarget::NextReply, Some(SlaOutcome::Breached), None)));
        assert_eq!(c.gauges(&p)[1], Some(TargetGauge::Breached));
        // The missed deadline is kept through a pause and its end, which re-arm resolution
        // only (132 of 600 min ran; resumed at 134: due at 602); the timer does not count the
        // breach twice.
        out.clear();
        c.pause(true, 132 * M, &p);
        c.pause(false, 134 * M, &p);
        assert_eq!(armed(&c), [(SlaTarget::Resolution, 602 * M)]);
        assert_eq!(c.next_deadline(), Some(602 * M));
        assert_eq!((c.gauges(&p)[1], c.deadline(SlaTarget::NextReply)), (Some(TargetGauge::Breached), Some(130 * M)));
        assert_eq!(c.on_deadline(SlaTarget::NextReply, 130 * M), None);
        c.fulfil(SlaTarget::NextReply, 140 * M, &p, &mut out);
        // 100 → 140 less the 2 min pause.
        assert_eq!(out.samples, [sample(SlaTarget::NextReply, None, Some(38.0))]);
        assert_eq!(c.gauges(&p)[1], None);
    }

    #[test]
    fn pauses_stop_resolution_and_next_reply_but_not_first_response() {
        let p = one(60, 30, 100);
        let mut c = SlaClock::default();
        let mut out = SlaEffects::default();
        c.created(0, MatchKey::default(), false, &p);
        c.pause(true, 20 * M, &p);
        assert_eq!(c.gauges(&p), [Some(TargetGauge::Running(60 * M)), None, Some(TargetGauge::Paused)]);
        assert_eq!(armed(&c), [(SlaTarget::FirstResponse, 60 * M)]);
        c.pause(false, 50 * M, &p);
        // 20 min ran before the pause: 80 min left from 50 → due at 130.
        assert_eq!(armed(&c), [(SlaTarget::FirstResponse, 60 * M), (SlaTarget::Resolution, 130 * M)]);
        c.fulfil(SlaTarget::Resolution, 125 * M, &p, &mut out);
        assert_eq!(out.samples, [sample(SlaTarget::Resolution, Some(SlaOutcome::Met), Some(95.0))]);
    }

    #[test]
    fn reopen_continues_resolution_from_where_it_stood() {
        let p = one(60, 30, 100);
        let mut c = SlaClock::default();
        let mut out = SlaEffects::default();
        c.created(0, MatchKey::default(), false, &p);
        c.fulfil(SlaTarget::Resolution, 70 * M, &p, &mut out);
        assert_eq!(armed(&c), [(SlaTarget::FirstResponse, 60 * M)]);
        out.clear();
        c.reopened(200 * M, false, &p);
        assert_eq!(armed(&c), [(SlaTarget::FirstResponse, 60 * M), (SlaTarget::Resolution, 230 * M)], "30 of 100 minutes left");
        assert_eq!(c.on_deadline(SlaTarget::Resolution, 230 * M).unwrap().outcome, Some(SlaOutcome::Breached));
        c.fulfil(SlaTarget::Resolution, 240 * M, &p, &mut out);
        assert_eq!(out.samples, [sample(SlaTarget::Resolution, None, Some(110.0))]);
    }

    #[test]
    fn rematch_keeps_the_start_and_takes_the_new_deadline() {
        let p = policies(vec![
            PolicyConfig { priority: Some(vec!["urgent".into()]), first_response: Some(Duration::from_secs(600)), ..policy("urgent") },
            PolicyConfig { first_response: Some(Duration::from_secs(3600)), ..policy("normal") },
        ]);
        let mut c = SlaClock::default();
        c.created(0, p.key(MatchFields { priority: Some(Priority::Normal), ..MatchFields::default() }), false, &p);
        assert_eq!((c.policy(), armed(&c)), (Some(1), vec![(SlaTarget::FirstResponse, 60 * M)]));
        c.rematch(5 * M, MatchFields { priority: Some(Priority::Urgent), ..MatchFields::default() }, &p);
        assert_eq!((c.policy(), armed(&c)), (Some(0), vec![(SlaTarget::FirstResponse, 10 * M)]));
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 60 * M), None, "the old timer is stale");
        // Raised after the new target already passed: due at once.
        let mut late = SlaClock::default();
        late.created(0, p.key(MatchFields { priority: Some(Priority::Normal), ..MatchFields::default() }), false, &p);
        late.rematch(20 * M, MatchFields { priority: Some(Priority::Urgent), ..MatchFields::default() }, &p);
        assert_eq!(armed(&late), [(SlaTarget::FirstResponse, 20 * M)]);
    }
}
