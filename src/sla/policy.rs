//! Policies: `[sla]` compiled (errors name the field), a ticket's routing fields interned into
//! a [`MatchKey`], and the first policy that matches it. Apart from the clocks, which only ask
//! it for a target's length and calendar.

use serde::{Deserialize, Serialize};

use super::SlaTarget;
use crate::base::Millis;
use crate::calendar::Calendar;
use crate::config::{bad, ConfigError, SlaConfig, ALWAYS_OPEN};
use crate::event::{Priority, Status};

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

    pub(super) fn target(&self, policy: Option<PolicyId>, target: SlaTarget) -> Option<Millis> {
        policy.and_then(|p| self.policies[usize::from(p)].targets[target.index()])
    }

    pub(super) fn calendar(&self, policy: Option<PolicyId>) -> &Calendar {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::{PolicyConfig, SlaConfig};
    use std::time::Duration;

    pub(crate) fn policies(list: Vec<PolicyConfig>) -> SlaPolicies {
        SlaPolicies::new(&SlaConfig { policies: list, ..SlaConfig::default() }).unwrap()
    }

    pub(crate) fn policy(name: &str) -> PolicyConfig {
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
}
