//! KPI label dimensions (`channel`, `priority`, `team`): every value a ticket can carry is
//! mapped to a bounded set (configured values, then `other`, `none`, `unknown`), stored as
//! small ids, and projected onto the configured label subset to key windows and gauges.

use serde::{Deserialize, Serialize};

use crate::config::{Dimension, DimensionsConfig};
use crate::event::Priority;

/// A ticket's dimension values as compact ids into a [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dims {
    pub channel: u16,
    /// `None` while the ticket's creation has not been seen.
    pub priority: Option<Priority>,
    pub team: u16,
}

/// The projection of [`Dims`] onto the configured labels: the key of every KPI series.
/// Dimensions that are not configured as labels are set to a fixed placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DimKey(Dims);

impl DimKey {
    /// The key of the ticket's queue: channel and team, priority dropped (staffing is per queue).
    pub fn queue(self) -> DimKey {
        DimKey(Dims { priority: None, ..self.0 })
    }

    /// The channel id (the `other` id when channel is not a label).
    pub fn channel(self) -> u16 {
        self.0.channel
    }

    /// The team id (the `other` id when team is not a label).
    pub fn team(self) -> u16 {
        self.0.team
    }
}

/// Maps label values to ids and back, and knows which dimensions are labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    channels: Vec<String>,
    teams: Vec<String>,
    labels: Vec<Dimension>,
}

const OTHER: u16 = 0;
const NONE: u16 = 1;
const UNKNOWN: u16 = 2;
const FIRST_CONFIGURED: u16 = 3;

impl Catalog {
    pub fn new(config: &DimensionsConfig) -> Self {
        Self { channels: config.channels.clone(), teams: config.teams.clone(), labels: config.labels.clone() }
    }

    /// Dimensions of a ticket whose `ticket_created` has not been seen (yet).
    pub fn unknown(&self) -> Dims {
        Dims { channel: UNKNOWN, priority: None, team: UNKNOWN }
    }

    /// Channel id; the value must already be lower-cased.
    pub fn channel(&self, value: &str) -> u16 {
        lookup(&self.channels, value)
    }

    /// Team id; `None` and the empty string are a ticket without a team (a `ticket_updated`
    /// with `"team": ""` clears it: the help desk unassigned the group).
    pub fn team(&self, value: Option<&str>) -> u16 {
        value.filter(|v| !v.is_empty()).map_or(NONE, |v| lookup(&self.teams, v))
    }

    pub fn key(&self, dims: Dims) -> DimKey {
        let has = |d| self.labels.contains(&d);
        DimKey(Dims {
            channel: if has(Dimension::Channel) { dims.channel } else { OTHER },
            priority: if has(Dimension::Priority) { dims.priority } else { None },
            team: if has(Dimension::Team) { dims.team } else { OTHER },
        })
    }

    /// The dimensions that are labels, in the configured order.
    pub fn label_dimensions(&self) -> &[Dimension] {
        &self.labels
    }

    /// Every value the label of `dimension` can take: the configured ones, then the reserved.
    pub fn values(&self, dimension: Dimension) -> Vec<String> {
        let reserved: &[u16] = match dimension {
            Dimension::Channel => &[OTHER, UNKNOWN],
            Dimension::Priority => return Priority::ALL.iter().map(|p| p.as_str()).chain(["unknown"]).map(String::from).collect(),
            Dimension::Team => &[OTHER, NONE, UNKNOWN],
        };
        let configured = if dimension == Dimension::Channel { &self.channels } else { &self.teams };
        configured.iter().cloned().chain(reserved.iter().map(|id| name(configured, *id))).collect()
    }

    /// The label pairs of a key, in the configured order.
    pub fn labels(&self, key: DimKey) -> Vec<(&'static str, String)> {
        let d = key.0;
        self.labels
            .iter()
            .map(|dim| match dim {
                Dimension::Channel => ("channel", name(&self.channels, d.channel)),
                Dimension::Priority => ("priority", d.priority.map_or("unknown", Priority::as_str).to_string()),
                Dimension::Team => ("team", name(&self.teams, d.team)),
            })
            .collect()
    }
}

fn lookup(values: &[String], value: &str) -> u16 {
    values.iter().position(|v| v == value).map_or(OTHER, |i| i as u16 + FIRST_CONFIGURED)
}

fn name(values: &[String], id: u16) -> String {
    match id {
        OTHER => "other".into(),
        NONE => "none".into(),
        UNKNOWN => "unknown".into(),
        i => values[usize::from(i - FIRST_CONFIGURED)].clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_lists_are_bounded() {
        let config = DimensionsConfig {
            labels: vec![Dimension::Team, Dimension::Channel],
            channels: vec!["email".into(), "chat".into()],
            teams: vec!["billing".into()],
        };
        let c = Catalog::new(&config);
        let dims = Dims { channel: c.channel("fax"), priority: Some(Priority::High), team: c.team(Some("billing")) };
        let labels = c.labels(c.key(dims));
        assert_eq!(labels, [("team", "billing".to_string()), ("channel", "other".to_string())]);
        let none = Dims { channel: c.channel("chat"), priority: None, team: c.team(None) };
        assert_eq!(c.labels(c.key(none)), [("team", "none".to_string()), ("channel", "chat".to_string())]);
        assert_eq!(c.labels(c.key(c.unknown())), [("team", "unknown".to_string()), ("channel", "unknown".to_string())]);
        assert_eq!(c.label_dimensions(), [Dimension::Team, Dimension::Channel]);
        assert_eq!(c.values(Dimension::Channel), ["email", "chat", "other", "unknown"]);
        assert_eq!(c.values(Dimension::Team), ["billing", "other", "none", "unknown"]);
        assert_eq!(c.values(Dimension::Priority), ["low", "normal", "high", "urgent", "unknown"]);
        // Priority is not a label here, so tickets differing only in priority share a series.
        let low = Dims { priority: Some(Priority::Low), ..dims };
        assert_eq!(c.key(low), c.key(dims));
    }
}
