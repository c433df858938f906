//! The SLA clock: policies (which targets apply to a ticket) and the clocks of one ticket's
//! targets. `docs/sla.md` describes the same for users.
//!
//! Every ticket runs three clocks whether or not a policy gives them a target: first response
//! (creation → first public human agent reply, never paused), next reply (oldest unanswered
//! customer message → next public agent reply, one instance per cycle) and resolution
//! (creation → solved, continued from where it stood after a reopen). Next reply and
//! resolution stop while the ticket is in a pause status. A clock counts business time in the
//! calendar of the ticket's policy (calendar time without a policy). The policy only decides
//! whether a clock has a deadline; so a re-matched ticket keeps each clock's start, its elapsed
//! time and its pauses, and takes the new target's deadline.
//!
//! A target is *met* when fulfilled by its deadline (counted at fulfilment) and *breached* when
//! the watermark passes the deadline unfulfilled (counted by the deadline timer, never later
//! when a late reply shows up). A target stopped by a solve it does not measure, or by an
//! abandon that ends the contact, is neither.

use serde::{Deserialize, Serialize};

use crate::base::{MaybeTime, Millis};
use crate::calendar::Calendar;
use crate::config::{bad, ConfigError, SlaConfig, ALWAYS_OPEN};
use crate::event::{Priority, Status};

/// A kind of SLA target; the `target` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SlaTarget {
    FirstResponse,
    NextReply,
    Resolution,
}

impl SlaTarget {
    pub const ALL: [SlaTarget; 3] = [SlaTarget::FirstResponse, SlaTarget::NextReply, SlaTarget::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first_response",
            SlaTarget::NextReply => "next_reply",
            SlaTarget::Resolution => "resolution",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Index of a policy in configuration order; the `policy` label is its name.
pub type PolicyId = u16;

/// What policies match on, with string values interned to the ids the policies use
/// (0 = a value no policy names). Small, so every ticket can keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MatchKey {
    pub priority: Option<Priority>,
    pub channel: u16,
    pub team: u16,
    pub topic: u16,
}

/// A ticket field's value as sent, before interning.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchFields<'a> {
    pub priority: Option<Priority>,
    pub channel: Option<&'a str>,
    pub team: Option<&'a str>,
    pub topic: Option<&'a str>,
}

#[derive(Debug, Clone)]
struct Policy {
    name: String,
    priority: Option<Vec<Priority>>,
    channel: Option<Vec<u16>>,
    team: Option<Vec<u16>>,
    topic: Option<Vec<u16>>,
    targets: [Option<Millis>; 3],
    calendar: usize,
}

impl Policy {
    fn matches(&self, key: &MatchKey) -> bool {
        fn any<T: PartialEq>(condition: &Option<Vec<T>>, value: &T) -> bool {
            condition.as_ref().is_none_or(|values| values.contains(value))
        }
        self.priority.as_ref().is_none_or(|p| key.priority.is_some_and(|k| p.contains(&k)))
            && any(&self.channel, &key.channel)
            && any(&self.team, &key.team)
            && any(&self.topic, &key.topic)
    }
}

/// The configured policies and calendars, compiled.
#[derive(Debug, Clone)]
pub struct SlaPolicies {
    policies: Vec<Policy>,
    /// `calendars[0]` is the always-open calendar.
    calendars: Vec<Calendar>,
    pause: Vec<Status>,
    horizons: Vec<(String, Millis)>,
    channels: Vec<String>,
    teams: Vec<String>,
    topics: Vec<String>,
}

impl SlaPolicies {
    /// Compiles `sla`, naming the field of the first problem.
    pub fn new(config: &SlaConfig) -> Result<Self, ConfigError> {
        let mut pause = Vec::new();
        for (i, s) in config.pause_statuses.iter().enumerate() {
            let field = format!("sla.pause_statuses[{i}]");
            let status = Status::parse(s).ok_or_else(|| bad(&field, format!("{s:?} is not a status")))?;
            if status.is_resolved() {
                return Err(bad(&field, format!("{s:?} resolves the ticket; it cannot pause it")));
            }
            pause.push(status);
        }
        let mut horizons = Vec::new();
        for (i, h) in config.at_risk_horizons.iter().enumerate() {
            let label = crate::base::window_label(*h);
            if h.as_millis() == 0 || h.as_millis() % 1000 != 0 || horizons.iter().any(|(l, _)| *l == label) {
                return Err(bad(format!("sla.at_risk_horizons[{i}]"), "must be distinct whole seconds"));
            }
            horizons.push((label, crate::base::millis(*h)));
        }

        let mut calendar_names = vec![ALWAYS_OPEN.to_string()];
        let mut calendars = vec![Calendar::AlwaysOpen];
        for (name, c) in &config.calendars {
            if name == ALWAYS_OPEN {
                return Err(bad(format!("sla.calendars.{name}"), "is built in and cannot be redefined"));
            }
            calendars.push(Calendar::new(c).map_err(|e| bad(format!("sla.calendars.{name}.{}", e.field), e.message))?);
            calendar_names.push(name.clone());
        }

        let mut this =
            Self { policies: Vec::new(), calendars, pause, horizons, channels: Vec::new(), teams: Vec::new(), topics: Vec::new() };
        for (i, p) in config.policies.iter().enumerate() {
            let field = |name: &str| format!("sla.policies[{i}].{name}");
            if p.name.trim().is_empty() || crate::base::RESERVED_LABEL_VALUES.contains(&p.name.as_str()) {
                return Err(bad(field("name"), format!("{:?} is empty or reserved", p.name)));
            }
            if this.policies.iter().any(|q| q.name == p.name) {
                return Err(bad(field("name"), format!("{:?} is used by an earlier policy", p.name)));
            }
            // A condition is absent (matches anything) or a non-empty list.
            let condition = |name: &str, values: &Option<Vec<String>>| match values {
                Some(v) if v.is_empty() => Err(bad(field(name), "must not be empty (leave it out to match any)")),
                _ => Ok(values.clone()),
            };
            let priority = match condition("priority", &p.priority)? {
                None => None,
                Some(values) => Some(
                    values
                        .iter()
                        .enumerate()
                        .map(|(j, v)| {
                            Priority::parse(v).ok_or_else(|| bad(format!("{}[{j}]", field("priority")), format!("{v:?} is not a priority")))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            let interned = |name: &str, values: &Option<Vec<String>>, table: &mut Vec<String>| -> Result<Option<Vec<u16>>, ConfigError> {
                Ok(condition(name, values)?.map(|values| values.iter().map(|v| intern(table, v)).collect()))
            };
            let channel = interned("channel", &p.channel, &mut this.channels)?;
            let team = interned("team", &p.team, &mut this.teams)?;
            let topic = interned("topic", &p.topic, &mut this.topics)?;
            let mut targets = [None; 3];
            for (slot, (name, d)) in
                targets.iter_mut().zip([("first_response", p.first_response), ("next_reply", p.next_reply), ("resolution", p.resolution)])
            {
                if d.is_some_and(|d| d < std::time::Duration::from_secs(1)) {
                    return Err(bad(field(name), "must be at least 1s"));
                }
                *slot = d.map(crate::base::millis);
            }
            let calendar = calendar_names
                .iter()
                .position(|n| *n == p.calendar)
                .ok_or_else(|| bad(field("calendar"), format!("{:?} is not defined (known: {})", p.calendar, calendar_names.join(", "))))?;
            this.policies.push(Policy { name: p.name.clone(), priority, channel, team, topic, targets, calendar });
        }
        Ok(this)
    }

    /// Interns a ticket's fields for matching.
    pub fn key(&self, fields: MatchFields<'_>) -> MatchKey {
        let id = |table: &[String], v: Option<&str>| v.and_then(|v| table.iter().position(|t| t == v)).map_or(0, |i| i as u16 + 1);
        MatchKey {
            priority: fields.priority,
            channel: id(&self.channels, fields.channel),
            team: id(&self.teams, fields.team),
            topic: id(&self.topics, fields.topic),
        }
    }

    /// Re-interns only the fields that are given (a `ticket_updated`).
    pub fn update_key(&self, key: &mut MatchKey, fields: MatchFields<'_>) {
        let new = self.key(fields);
        if fields.priority.is_some() {
            key.priority = fields.priority;
        }
        if fields.channel.is_some() {
            key.channel = new.channel;
        }
        if fields.team.is_some() {
            key.team = new.team;
        }
        if fields.topic.is_some() {
            key.topic = new.topic;
        }
    }

    /// The first policy whose conditions all match.
    pub fn find(&self, key: &MatchKey) -> Option<PolicyId> {
        self.policies.iter().position(|p| p.matches(key)).map(|i| i as PolicyId)
    }

    pub fn name(&self, policy: PolicyId) -> &str {
        &self.policies[usize::from(policy)].name
    }

    /// Every configured target, in configuration order: (policy name, target, length in the
    /// policy calendar's time).
    pub fn targets(&self) -> impl Iterator<Item = (&str, SlaTarget, Millis)> {
        self.policies.iter().flat_map(|p| SlaTarget::ALL.into_iter().filter_map(move |t| Some((p.name.as_str(), t, p.targets[t.index()]?))))
    }

    /// The policies' names in configuration order: the position is the [`PolicyId`].
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| p.name.as_str())
    }

    fn target(&self, policy: Option<PolicyId>, target: SlaTarget) -> Option<Millis> {
        policy.and_then(|p| self.policies[usize::from(p)].targets[target.index()])
    }

    fn calendar(&self, policy: Option<PolicyId>) -> &Calendar {
        &self.calendars[policy.map_or(0, |p| self.policies[usize::from(p)].calendar)]
    }

    /// Whether the clocks that pause stop in this status.
    pub fn pauses(&self, status: Status) -> bool {
        self.pause.contains(&status)
    }

    /// At-risk horizons: (label, milliseconds).
    pub fn horizons(&self) -> &[(String, Millis)] {
        &self.horizons
    }
}

fn intern(table: &mut Vec<String>, value: &str) -> u16 {
    match table.iter().position(|t| t == value) {
        Some(i) => i as u16 + 1,
        None => {
            table.push(value.to_string());
            table.len() as u16
        }
    }
}

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

/// Where a target stands, as the current gauges see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetGauge {
    /// Running towards `deadline`.
    Running(Millis),
    Paused,
    /// Breached and the overdue work is still not done.
    Breached,
}

/// Where an open ticket's SLA target stands at an instant ([`AsOf::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Its clock runs and its deadline is still ahead.
    Running,
    /// Its clock is stopped by a pause status.
    Paused,
    /// Its deadline passed and the overdue work is not done: the timer declared it, or the
    /// deadline is before the instant (the timer declares it, and the windowed count takes it,
    /// once the watermark passes it too).
    Breached,
}

/// The one classification of SLA targets at the instant `.0` (a partition's current time):
/// breached (overdue), at risk within a horizon, running. The gauges count multisets of
/// deadlines by its ranges (`engine::Gauges::read_into`); the tickets API classifies each ticket's
/// targets with [`AsOf::state`] and [`AsOf::at_risk`], which read the same ranges, so both
/// always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf(pub Millis);

impl AsOf {
    /// Running deadlines already passed: breached as of now.
    pub fn overdue(self) -> std::ops::RangeTo<Millis> {
        ..self.0
    }

    /// Running deadlines not yet passed: running.
    pub fn ahead(self) -> std::ops::RangeFrom<Millis> {
        self.0..
    }

    /// Running deadlines due within `horizon`: at risk (and running).
    pub fn due_within(self, horizon: Millis) -> std::ops::RangeInclusive<Millis> {
        self.0..=self.0.saturating_add(horizon)
    }

    /// Where one target stands.
    pub fn state(self, gauge: TargetGauge) -> TargetState {
        match gauge {
            TargetGauge::Running(deadline) if self.overdue().contains(&deadline) => TargetState::Breached,
            TargetGauge::Running(_) => TargetState::Running,
            TargetGauge::Paused => TargetState::Paused,
            TargetGauge::Breached => TargetState::Breached,
        }
    }

    /// Whether one target is at risk within `horizon`: running and due within it.
    pub fn at_risk(self, gauge: TargetGauge, horizon: Millis) -> bool {
        matches!(gauge, TargetGauge::Running(deadline) if self.due_within(horizon).contains(&deadline))
    }
}

/// A decided target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaOutcome {
    Met,
    Breached,
}

/// An SLA fact for the windows of its time: an outcome and/or the business time a fulfilled
/// target took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaSample {
    pub policy: PolicyId,
    pub target: SlaTarget,
    pub outcome: Option<SlaOutcome>,
    /// Business seconds from the target's start to its fulfilment, pauses excluded.
    pub business_seconds: Option<f64>,
}

/// What SLA processing produced. (Deadlines are state: the engine reads the next one with
/// [`SlaClock::next_deadline`].)
#[derive(Debug, Default)]
pub struct SlaEffects {
    pub samples: Vec<SlaSample>,
}

impl SlaEffects {
    pub fn clear(&mut self) {
        self.samples.clear();
    }
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
    use crate::config::{PolicyConfig, SlaConfig};
    use std::time::Duration;

    fn policies(list: Vec<PolicyConfig>) -> SlaPolicies {
        SlaPolicies::new(&SlaConfig { policies: list, ..SlaConfig::default() }).unwrap()
    }

    fn policy(name: &str) -> PolicyConfig {
        PolicyConfig { name: name.into(), calendar: ALWAYS_OPEN.into(), ..PolicyConfig::default() }
    }

    #[test]
    fn first_matching_policy_wins_and_missing_conditions_match_anything() {
        let p = policies(vec![
            PolicyConfig {
                priority: Some(vec!["urgent".into()]),
                channel: Some(vec!["chat".into(), "phone".into()]),
                ..policy("urgent-live")
            },
            PolicyConfig { team: Some(vec!["billing".into()]), topic: Some(vec!["refund".into()]), ..policy("refunds") },
            PolicyConfig { priority: Some(vec!["urgent".into(), "high".into()]), ..policy("fast") },
        ]);
        let key = |priority, channel, team, topic| p.key(MatchFields { priority: Some(priority), channel: Some(channel), team, topic });
        let name = |k: MatchKey| p.find(&k).map(|id| p.name(id).to_string());
        assert_eq!(name(key(Priority::Urgent, "chat", None, None)).as_deref(), Some("urgent-live"));
        assert_eq!(name(key(Priority::Urgent, "email", None, None)).as_deref(), Some("fast"));
        assert_eq!(name(key(Priority::Low, "email", Some("billing"), Some("refund"))).as_deref(), Some("refunds"));
        assert_eq!(name(key(Priority::Low, "email", Some("billing"), Some("invoice"))), None);
        let mut k = key(Priority::Low, "chat", None, None);
        p.update_key(&mut k, MatchFields { priority: Some(Priority::Urgent), ..MatchFields::default() });
        assert_eq!(name(k).as_deref(), Some("urgent-live"), "channel kept, priority changed");
    }

    #[test]
    fn bad_policies_name_the_field() {
        let cases: [(PolicyConfig, &str); 5] = [
            (
                PolicyConfig { priority: Some(vec!["urgnt".into()]), ..policy("a") },
                "sla.policies[0].priority[0]: \"urgnt\" is not a priority",
            ),
            (PolicyConfig { channel: Some(Vec::new()), ..policy("a") }, "sla.policies[0].channel: must not be empty"),
            (PolicyConfig { calendar: "emea".into(), ..policy("a") }, "sla.policies[0].calendar: \"emea\" is not defined (known: 24x7)"),
            (
                PolicyConfig { next_reply: Some(Duration::from_millis(500)), ..policy("a") },
                "sla.policies[0].next_reply: must be at least 1s",
            ),
            (policy("other"), "sla.policies[0].name: \"other\" is empty or reserved"),
        ];
        for (p, message) in cases {
            let e = SlaPolicies::new(&SlaConfig { policies: vec![p], ..SlaConfig::default() }).unwrap_err().to_string();
            assert!(e.starts_with(message), "{e}");
        }
        let twice = SlaPolicies::new(&SlaConfig { policies: vec![policy("a"), policy("a")], ..SlaConfig::default() }).unwrap_err();
        assert!(twice.to_string().starts_with("sla.policies[1].name"), "{twice}");
        let pause = SlaConfig { pause_statuses: vec!["solved".into()], ..SlaConfig::default() };
        assert!(SlaPolicies::new(&pause).unwrap_err().to_string().starts_with("sla.pause_statuses[0]: \"solved\" resolves"));
    }

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
