//! Agent availability (`agent_status` events): each agent's latest status by event time, its
//! team and channels, kept per partition (the events are keyed by agent id) and snapshotted
//! with it. Bounded: at most `kpis.staffing.max_agents_per_slice` agents a partition; a new
//! agent beyond that takes the place of the agent offline longest, or is not kept. Kept only
//! with `kpis.staffing` enabled, the families that read it (`exporter/staffing.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::base::Millis;
use crate::config::Dimension;
use crate::dimensions::{Catalog, DimKey};
use crate::event::{AgentStatus, Presence};

/// One agent's latest status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentPresence {
    /// The status event's time.
    pub at: Millis,
    pub status: Presence,
    /// Team id ([`Catalog::team`]).
    pub team: u16,
    /// Channel ids ([`Catalog::channel`]); empty: every channel.
    pub channels: Vec<u16>,
}

/// Agents' latest statuses, by agent id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Presences {
    pub agents: BTreeMap<Box<str>, AgentPresence>,
}

impl Presences {
    /// Takes a status dated `at` unless one at least as new is known: the latest by event time
    /// wins whatever the arrival order (of two at the same time, the one read last). Returns
    /// whether it was kept.
    pub fn update(&mut self, status: &AgentStatus, at: Millis, catalog: &Catalog, cap: usize) -> bool {
        let presence = AgentPresence {
            at,
            status: status.status,
            team: catalog.team(status.team.as_deref()),
            channels: status.channels.iter().map(|c| catalog.channel(c)).collect(),
        };
        if let Some(known) = self.agents.get_mut(status.agent_id.as_str()) {
            if at < known.at {
                return false;
            }
            *known = presence;
            return true;
        }
        if self.agents.len() >= cap {
            let offline = self.agents.iter().filter(|(_, p)| p.status == Presence::Offline).min_by_key(|(_, p)| p.at);
            let Some(forget) = offline.map(|(agent, _)| agent.clone()) else { return false };
            self.agents.remove(&forget);
        }
        self.agents.insert(status.agent_id.as_str().into(), presence);
        true
    }

    /// Adds another partition's statuses: an agent on both (its partition moved between
    /// instances, or a producer keyed it two ways) counts once, with the newer status.
    pub fn merge(&mut self, other: &Presences) {
        for (agent, p) in &other.agents {
            match self.agents.get_mut(agent) {
                Some(known) if known.at >= p.at => {}
                Some(known) => *known = p.clone(),
                None => {
                    self.agents.insert(agent.clone(), p.clone());
                }
            }
        }
    }

    /// Online agents available to a queue ([`DimKey::queue`]): listing its channel (or no
    /// channel, meaning every one) when channel is a label, and of its team (or of no team,
    /// meaning every one) when team is a label.
    pub fn available(&self, queue: DimKey, catalog: &Catalog) -> usize {
        let labels = catalog.label_dimensions();
        let (by_channel, by_team) = (labels.contains(&Dimension::Channel), labels.contains(&Dimension::Team));
        let no_team = catalog.team(None);
        self.agents
            .values()
            .filter(|p| p.status == Presence::Online)
            .filter(|p| !by_channel || p.channels.is_empty() || p.channels.contains(&queue.channel()))
            .filter(|p| !by_team || p.team == no_team || p.team == queue.team())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn status(agent: &str, status: Presence) -> AgentStatus {
        AgentStatus { agent_id: agent.into(), status, team: None, channels: vec![] }
    }

    /// Cap 2: a third agent takes the place of the one offline longest, or is not kept.
    #[test]
    fn a_full_map_forgets_the_agent_offline_longest_or_keeps_out_the_new_one() {
        let catalog = Catalog::new(&Config::default().dimensions);
        let mut p = Presences::default();
        assert!(p.update(&status("a", Presence::Online), 10, &catalog, 2));
        assert!(p.update(&status("b", Presence::Online), 10, &catalog, 2));
        assert!(!p.update(&status("c", Presence::Online), 20, &catalog, 2), "nobody offline to forget");
        assert!(p.update(&status("a", Presence::Offline), 30, &catalog, 2));
        assert!(!p.update(&status("a", Presence::Online), 25, &catalog, 2), "older than known");
        assert!(p.update(&status("c", Presence::Online), 40, &catalog, 2));
        assert_eq!(p.agents.keys().map(|a| &**a).collect::<Vec<_>>(), ["b", "c"]);
        // Merging keeps the newer status of an agent on both sides.
        let mut q = Presences::default();
        q.update(&status("b", Presence::Away), 50, &catalog, 2);
        q.update(&status("c", Presence::Away), 35, &catalog, 2);
        p.merge(&q);
        let statuses: Vec<Presence> = p.agents.values().map(|a| a.status).collect();
        assert_eq!(statuses, [Presence::Away, Presence::Online]);
    }
}
