//! Per-agent KPIs (`kpis.agents`, off by default): which agent each ticket fact is credited
//! to ([`attribute`]), the label it is recorded under ([`AgentRules::label`]) and the window
//! slice that accumulates them with a bounded number of agents ([`AgentSlice`]). Like topics:
//! an allow-list, or the top N agents by activity over the longest window, the rest `other`.
//! `docs/metrics.md` describes the families, their attribution and the privacy side.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{AgentsConfig, Config};
use crate::dimensions::DimKey;
use crate::event::{EventBody, Survey};
use crate::kpi::{Fact, Family, Sample};
use crate::sla::{PolicyId, SlaOutcome, SlaSample, SlaTarget};
use crate::window::{Aggregate, Windows};

/// The `agent` label of facts whose agent is not known (the event carried no `agent_id`).
pub const NO_AGENT: &str = "none";
/// The `agent` label of every agent that is not a label of its own.
pub const OTHER_AGENT: &str = "other";

/// What one applied event credits an agent with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AgentSample {
    /// A public message by the agent.
    Reply,
    /// The ticket's first response, given by the agent, seconds after creation.
    FirstResponse(f64),
    /// A solve (every transition to solved or closed), credited to the last replying agent.
    Solve,
    /// Handling time the agent logged, seconds.
    Work(f64),
    /// A CSAT response, credited to the last replying agent at the time of the response.
    Csat { good: bool },
    /// An SLA target met or breached, credited to the last replying agent after the change
    /// (see [`attribute`]).
    Sla { policy: PolicyId, target: SlaTarget, met: bool },
}

/// The facts one event or timer credits agents with, read off the KPI `samples` and SLA
/// outcomes the ticket produced applying it, so per-agent figures add up to the fleet-wide
/// ones: replies, first responses and logged work go to the event's own `agent_id`; solves,
/// CSAT responses and SLA outcomes to `last_agent`, the agent of the ticket's last public
/// reply (after the event). For SLA that is the agent whose reply met a first response or
/// next reply target, the last replier before a solve that met resolution, and for a breach
/// found by the deadline timer the last replier before the deadline; `None` (no agent has
/// replied, or the reply named none) is the `none` label.
pub fn attribute<'a>(
    body: Option<&'a EventBody>,
    samples: &[Sample],
    sla: &[SlaSample],
    last_agent: Option<&'a str>,
    mut credit: impl FnMut(Option<&'a str>, AgentSample),
) {
    let author = match body {
        Some(EventBody::Message { agent_id, .. } | EventBody::WorkLogged { agent_id, .. }) => agent_id.as_deref(),
        _ => None,
    };
    for sample in samples {
        match *sample {
            Sample::Message { inbound: false } => credit(author, AgentSample::Reply),
            Sample::FirstResponse(seconds) => credit(author, AgentSample::FirstResponse(seconds)),
            Sample::WorkLogged(seconds) => credit(author, AgentSample::Work(seconds)),
            Sample::Solved => credit(last_agent, AgentSample::Solve),
            // Rating class 0 of CSAT is `good` (see `Survey::ratings`).
            Sample::Survey { survey: Survey::Csat, rating, .. } => credit(last_agent, AgentSample::Csat { good: rating == 0 }),
            _ => {}
        }
    }
    for s in sla {
        if let Some(outcome) = s.outcome {
            credit(last_agent, AgentSample::Sla { policy: s.policy, target: s.target, met: outcome == SlaOutcome::Met });
        }
    }
}

/// One agent's SLA outcomes under one policy, by [`SlaTarget::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSla {
    pub met: [u64; 3],
    pub breached: [u64; 3],
}

/// One agent's facts in one slice (or a window, merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentTally {
    pub replies: u64,
    pub first_responses: u64,
    pub first_response_seconds: f64,
    pub solves: u64,
    pub work_entries: u64,
    pub work_seconds: f64,
    pub csat_responses: u64,
    pub csat_good: u64,
    /// SLA outcomes by policy; only policies with an outcome have an entry.
    pub sla: BTreeMap<PolicyId, AgentSla>,
}

impl AgentTally {
    pub fn add(&mut self, sample: AgentSample) {
        match sample {
            AgentSample::Reply => self.replies += 1,
            AgentSample::FirstResponse(seconds) => {
                self.first_responses += 1;
                self.first_response_seconds += seconds;
            }
            AgentSample::Solve => self.solves += 1,
            AgentSample::Work(seconds) => {
                self.work_entries += 1;
                self.work_seconds += seconds;
            }
            AgentSample::Csat { good } => {
                self.csat_responses += 1;
                self.csat_good += u64::from(good);
            }
            AgentSample::Sla { policy, target, met } => {
                let sla = self.sla.entry(policy).or_default();
                let count = if met { &mut sla.met } else { &mut sla.breached };
                count[target.index()] += 1;
            }
        }
    }

    /// What ranks agents for the top N: what they did themselves (public replies and logged
    /// work entries), not what is credited to them by inference (solves, CSAT).
    pub fn activity(&self) -> u64 {
        self.replies + self.work_entries
    }

    fn merge(&mut self, o: &Self) {
        self.replies += o.replies;
        self.first_responses += o.first_responses;
        self.first_response_seconds += o.first_response_seconds;
        self.solves += o.solves;
        self.work_entries += o.work_entries;
        self.work_seconds += o.work_seconds;
        self.csat_responses += o.csat_responses;
        self.csat_good += o.csat_good;
        for (policy, o) in &o.sla {
            let sla = self.sla.entry(*policy).or_default();
            for i in 0..3 {
                sla.met[i] += o.met[i];
                sla.breached[i] += o.breached[i];
            }
        }
    }
}

/// Agents' tallies in one slice. At most `cap` distinct agents are kept per slice (facts of
/// later new ones go to `overflow`, reported as `other`), so random agent ids cannot grow memory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentSlice {
    pub agents: BTreeMap<String, AgentTally>,
    pub overflow: AgentTally,
}

impl AgentSlice {
    pub fn add(&mut self, agent: &str, cap: usize, sample: AgentSample) {
        if let Some(tally) = self.agents.get_mut(agent) {
            tally.add(sample);
        } else if self.agents.len() < cap {
            self.agents.entry(agent.to_string()).or_default().add(sample);
        } else {
            self.overflow.add(sample);
        }
    }

    /// The rows to report: each of the `chosen` agents, zeros included (a dashboard then
    /// reads 0, not "no data", for an agent with nothing in the window), then `none` and
    /// `other` (every agent not chosen, and the overflow) unless they are empty.
    pub fn fold<'a>(&'a self, chosen: &[&'a str]) -> Vec<(&'a str, AgentTally)> {
        let mut rows: Vec<(&str, AgentTally)> = chosen
            .iter()
            .filter_map(|a| match self.agents.get(*a) {
                Some(t) => Some((*a, t.clone())),
                None => (*a != NO_AGENT).then(|| (*a, AgentTally::default())),
            })
            .collect();
        let mut other = self.overflow.clone();
        for (agent, tally) in &self.agents {
            if !chosen.contains(&agent.as_str()) {
                other.merge(tally);
            }
        }
        if other != AgentTally::default() {
            rows.push((OTHER_AGENT, other));
        }
        rows
    }
}

impl Aggregate for AgentSlice {
    fn merge(&mut self, o: &Self) {
        for (agent, tally) in &o.agents {
            self.agents.entry(agent.clone()).or_default().merge(tally);
        }
        self.overflow.merge(&o.overflow);
    }
}

/// One series (no dimensions either), recorded only when `kpis.agents` is enabled: an event's
/// facts credited to agents ([`attribute`]), each under its label ([`AgentRules::label`]).
impl Family for AgentSlice {
    type Key = ();
    type Rules = AgentRules;

    fn rules(config: &Config) -> AgentRules {
        AgentRules::new(&config.kpis.agents)
    }

    /// Inlined: with agents off (the default) it is one test on the hot path.
    #[inline]
    fn record(windows: &mut Windows<(), Self>, rules: &AgentRules, fact: &Fact<'_>) {
        // A timer (no body) can breach an SLA target.
        if rules.enabled && (fact.body.is_some() || !fact.sla.is_empty()) {
            record_agents(windows, rules, fact);
        }
    }

    fn dims(_: &()) -> Option<DimKey> {
        None
    }
}

/// Credits agents with what the event produced, each under its label.
fn record_agents(windows: &mut Windows<(), AgentSlice>, rules: &AgentRules, fact: &Fact<'_>) {
    attribute(fact.body, fact.samples, fact.sla, fact.last_agent, |agent, sample| {
        let label = rules.label(agent);
        windows.record(&(), fact.at, fact.now, |slice| slice.add(label, rules.per_slice, sample));
    });
}

/// `kpis.agents`, resolved once.
#[derive(Debug, Clone)]
pub struct AgentRules {
    pub enabled: bool,
    /// The allow-list; empty: the top `top` by activity.
    pub allow: Vec<String>,
    pub top: usize,
    /// Distinct agents kept per slice.
    pub per_slice: usize,
}

impl AgentRules {
    pub fn new(config: &AgentsConfig) -> Self {
        Self { enabled: config.enabled, allow: config.allow.clone(), top: config.top, per_slice: config.max_tracked_per_slice }
    }

    /// The label a fact is recorded under: `none` without an agent; with an allow-list, the
    /// agent if listed and `other` if not; otherwise the agent itself (the top N are picked
    /// at read time, [`AgentRules::chosen`]). An agent literally named `none` or `other`
    /// counts as `other`, so a reserved label value never stands for two things.
    pub fn label<'a>(&self, agent: Option<&'a str>) -> &'a str {
        match agent {
            None => NO_AGENT,
            Some(NO_AGENT | OTHER_AGENT) => OTHER_AGENT,
            Some(a) if self.allow.is_empty() || self.allow.iter().any(|x| x == a) => a,
            Some(_) => OTHER_AGENT,
        }
    }

    /// The agents reported with a label of their own, given the longest window: the
    /// allow-list, or the `top` most active (ties by id); and `none`.
    pub fn chosen<'a>(&'a self, longest: &'a AgentSlice) -> Vec<&'a str> {
        let mut chosen: Vec<&str> = if self.allow.is_empty() {
            let mut ranked: Vec<(&String, u64)> =
                longest.agents.iter().filter(|(a, _)| *a != NO_AGENT && *a != OTHER_AGENT).map(|(a, t)| (a, t.activity())).collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
            ranked.into_iter().take(self.top).map(|(a, _)| a.as_str()).collect()
        } else {
            self.allow.iter().map(String::as_str).collect()
        };
        chosen.push(NO_AGENT);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Author;

    fn credited(body: &EventBody, samples: &[Sample], last_agent: Option<&str>) -> Vec<(Option<String>, AgentSample)> {
        let mut out = Vec::new();
        attribute(Some(body), samples, &[], last_agent, |agent, sample| out.push((agent.map(String::from), sample)));
        out
    }

    #[test]
    fn replies_first_responses_and_work_go_to_the_author_solves_and_csat_to_the_last_replier() {
        let reply = EventBody::Message { author: Author::Agent, public: true, sentiment: None, agent_id: Some("a1".into()) };
        let samples = [Sample::Message { inbound: false }, Sample::FirstResponse(90.0), Sample::Answered { wait: 90.0, within: false }];
        let a1 = Some("a1".to_string());
        assert_eq!(
            credited(&reply, &samples, Some("a1")),
            [(a1.clone(), AgentSample::Reply), (a1.clone(), AgentSample::FirstResponse(90.0))]
        );
        let work = EventBody::WorkLogged { seconds: 300.0, agent_id: Some("a2".into()) };
        // The seconds are the ticket's sample's, as the fleet-wide handle time counts them.
        assert_eq!(credited(&work, &[Sample::WorkLogged(300.0)], Some("a1")), [(Some("a2".into()), AgentSample::Work(300.0))]);
        let solved = EventBody::StatusChanged { status: crate::event::Status::Solved };
        let samples = [Sample::FirstResolution(600.0), Sample::FirstSolveReplies(1), Sample::FullResolution(600.0), Sample::Solved];
        assert_eq!(credited(&solved, &samples, Some("a1")), [(a1.clone(), AgentSample::Solve)]);
        let csat = EventBody::SurveyResponse { survey: Survey::Csat, score: 2.0 };
        let samples = [Sample::Survey { survey: Survey::Csat, score: 2.0, rating: 1 }];
        assert_eq!(credited(&csat, &samples, None), [(None, AgentSample::Csat { good: false })]);
        let nps = EventBody::SurveyResponse { survey: Survey::Nps, score: 10.0 };
        assert_eq!(credited(&nps, &[Sample::Survey { survey: Survey::Nps, score: 10.0, rating: 0 }], Some("a1")), []);
    }

    /// Two agents, three tickets of policy 0: a1's replies meet two first responses; a
    /// deadline timer breaches a next reply after a2 replied last; a ticket nobody answered
    /// breaches its first response with no agent (`none`).
    #[test]
    fn sla_outcomes_go_to_the_last_replying_agent_and_add_up_per_policy_and_target() {
        let sla = |target: SlaTarget, outcome: Option<SlaOutcome>| SlaSample { policy: 0, target, outcome, business_seconds: None };
        let reply = |agent: &str| EventBody::Message { author: Author::Agent, public: true, sentiment: None, agent_id: Some(agent.into()) };
        let mut slice = AgentSlice::default();
        let mut record = |body: Option<&EventBody>, sla: &[SlaSample], last_agent: Option<&str>| {
            attribute(body, &[], sla, last_agent, |agent, sample| slice.add(agent.unwrap_or(NO_AGENT), 10, sample));
        };
        let met_fr = [sla(SlaTarget::FirstResponse, Some(SlaOutcome::Met))];
        record(Some(&reply("a1")), &met_fr, Some("a1"));
        record(Some(&reply("a1")), &met_fr, Some("a1"));
        // A timer: no event, the ticket's last replier.
        record(None, &[sla(SlaTarget::NextReply, Some(SlaOutcome::Breached))], Some("a2"));
        record(None, &[sla(SlaTarget::FirstResponse, Some(SlaOutcome::Breached))], None);
        // A target stopped without an outcome credits nobody.
        record(None, &[sla(SlaTarget::Resolution, None)], Some("a2"));
        let outcomes = |agent: &str| slice.agents[agent].sla.clone();
        assert_eq!(outcomes("a1"), BTreeMap::from([(0, AgentSla { met: [2, 0, 0], breached: [0, 0, 0] })]));
        assert_eq!(outcomes("a2"), BTreeMap::from([(0, AgentSla { met: [0, 0, 0], breached: [0, 1, 0] })]));
        assert_eq!(outcomes(NO_AGENT), BTreeMap::from([(0, AgentSla { met: [0, 0, 0], breached: [1, 0, 0] })]));
        // Outcomes are credited, not done: they do not rank agents.
        assert_eq!(slice.agents["a1"].activity(), 0);
        // `other` merges a1 and a2 per policy and target.
        let rows = slice.fold(&[NO_AGENT]);
        assert_eq!(rows.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [NO_AGENT, OTHER_AGENT]);
        assert_eq!(rows[1].1.sla, BTreeMap::from([(0, AgentSla { met: [2, 0, 0], breached: [0, 1, 0] })]));
    }

    #[test]
    fn a_full_slice_sends_new_agents_to_overflow_and_fold_reports_them_as_other() {
        let mut slice = AgentSlice::default();
        for agent in ["a", "b", "a", "c", "none"] {
            slice.add(agent, 3, AgentSample::Reply);
        }
        slice.add("d", 3, AgentSample::Work(60.0));
        assert_eq!(slice.agents.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!((slice.overflow.replies, slice.overflow.work_seconds), (1, 60.0));
        let rules = AgentRules { enabled: true, allow: Vec::new(), top: 1, per_slice: 3 };
        // a has 2 replies; b and c 1 each.
        assert_eq!(rules.chosen(&slice), ["a", "none"]);
        let rows = slice.fold(&rules.chosen(&slice));
        let other = rows.iter().find(|(a, _)| *a == OTHER_AGENT).unwrap().1.clone();
        assert_eq!(rows.iter().map(|(a, _)| *a).collect::<Vec<_>>(), ["a", "other"]);
        // A chosen agent without a fact in the slice has a row of zeros; `none` does not.
        let empty = AgentSlice::default();
        let rows = empty.fold(&["b", NO_AGENT]);
        assert_eq!(rows, [("b", AgentTally::default())]);
        // b, c and the overflow (the `none` reply and d's work).
        assert_eq!((other.replies, other.work_entries, other.work_seconds), (3, 1, 60.0));
        let allow = AgentRules { allow: vec!["b".into()], ..rules };
        assert_eq!((allow.label(Some("b")), allow.label(Some("a")), allow.label(None)), ("b", "other", "none"));
        // Real agents named like the reserved values never share their meaning.
        assert_eq!((allow.label(Some("none")), allow.label(Some("other"))), ("other", "other"));
        assert_eq!((rules.label(Some("none")), rules.label(Some("other"))), ("other", "other"));
    }
}
