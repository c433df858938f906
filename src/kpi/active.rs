//! Agents active per queue: the distinct agents with a public reply or logged work in a slice,
//! by queue (channel and team), the fallback "agents available" of the staffing families
//! (`kpis.staffing`, off by default). Bounded: at most `max_agents_per_slice` ids per slice;
//! facts of later new agents in a full slice are counted in `overflow`, not as agents.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::dimensions::DimKey;
use crate::event::{Author, EventBody};
use crate::window::{Aggregate, Windows};

use super::{Fact, Family};

/// The distinct active agents of one queue in one slice (or a window, merged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ActiveAgents {
    pub agents: BTreeSet<Box<str>>,
    /// Facts of agents not kept because the slice was full.
    pub overflow: u64,
}

impl ActiveAgents {
    fn add(&mut self, agent: &str, cap: usize) {
        if !self.agents.contains(agent) {
            if self.agents.len() < cap {
                self.agents.insert(agent.into());
            } else {
                self.overflow += 1;
            }
        }
    }
}

impl Aggregate for ActiveAgents {
    fn merge(&mut self, o: &Self) {
        // The union over a window: at most the slices' caps added up.
        self.agents.extend(o.agents.iter().cloned());
        self.overflow += o.overflow;
    }
}

/// `kpis.staffing`, as recording reads it: `None` when off.
pub(crate) type ActiveRules = Option<usize>;

/// By queue ([`DimKey::queue`]); recorded only when `kpis.staffing` is enabled.
impl Family for ActiveAgents {
    type Key = DimKey;
    type Rules = ActiveRules;

    fn rules(config: &Config) -> ActiveRules {
        let s = &config.kpis.staffing;
        s.enabled.then_some(s.max_agents_per_slice)
    }

    /// Inlined: with staffing off (the default) it is one test on the hot path.
    #[inline]
    fn record(windows: &mut Windows<DimKey, Self>, rules: &ActiveRules, fact: &Fact<'_>) {
        if let (Some(cap), Some(body)) = (rules, fact.body) {
            record_active(windows, *cap, body, fact);
        }
    }

    fn dims(key: &DimKey) -> Option<DimKey> {
        Some(*key)
    }
}

fn record_active(windows: &mut Windows<DimKey, ActiveAgents>, cap: usize, body: &EventBody, fact: &Fact<'_>) {
    let agent = match body {
        EventBody::Message { author: Author::Agent, public: true, agent_id, .. } | EventBody::WorkLogged { agent_id, .. } => {
            agent_id.as_deref()
        }
        _ => None,
    };
    if let Some(agent) = agent {
        windows.record(&fact.key.queue(), fact.at, fact.now, |slice| slice.add(agent, cap));
    }
}
