//! The query language of the tickets API and page: `state`, `policy`, `target`, dimension,
//! `agent`, `horizon` and `limit` parameters, validated against the rules (errors name the
//! parameter), and the URL encoding shared with the page.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::{Dimension, TICKET_ID_PLACEHOLDER};
use crate::engine::Rules;
use crate::sla::{PolicyId, SlaTarget};

use super::TicketState;

/// `limit` when none is given.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`: bounds the heap kept under the lock and the answer's size.
pub(crate) const MAX_LIMIT: usize = 1000;

/// The `state` values, each a bit of [`Query::states`]. `at_risk` selects running targets due
/// within the horizon; `open` is every item of an open ticket.
const STATES: [(&str, u8); 6] =
    [("breached", BREACHED), ("at_risk", AT_RISK), ("running", RUNNING), ("paused", PAUSED), ("unmatched", UNMATCHED), ("open", OPEN)];
const BREACHED: u8 = 1;
const AT_RISK: u8 = 2;
const RUNNING: u8 = 4;
const PAUSED: u8 = 8;
const UNMATCHED: u8 = 16;
const OPEN: u8 = BREACHED | RUNNING | PAUSED | UNMATCHED;

/// The query parameters.
const PARAMETERS: [&str; 9] = ["state", "policy", "target", "channel", "priority", "team", "agent", "horizon", "limit"];

/// A query parameter that cannot be used; the 400 answer says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct BadParameter {
    pub parameter: String,
    pub message: String,
}

fn bad(parameter: &str, message: impl Into<String>) -> BadParameter {
    BadParameter { parameter: parameter.to_string(), message: message.into() }
}

/// What to list: a validated `/api/v1/tickets` or `/tickets` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Bits of [`STATES`].
    pub(super) states: u8,
    pub(super) policy: Option<PolicyId>,
    pub(super) target: Option<SlaTarget>,
    /// Label values the item's dimensions must have, of dimensions that are labels.
    pub(super) dimensions: Vec<(Dimension, String)>,
    /// The `agent_id` of the ticket's last public agent message ([`crate::ticket::Ticket::last_agent`]).
    pub(super) agent: Option<String>,
    /// Index into `sla.at_risk_horizons`; `None` when none are configured.
    pub(super) horizon: Option<usize>,
    pub(super) limit: usize,
}

impl Query {
    /// Everything open, at the smallest horizon, the default limit.
    pub fn new(rules: &Rules) -> Query {
        let horizons = rules.ticket.policies.horizons();
        let horizon = (0..horizons.len()).min_by_key(|i| horizons[*i].1);
        Query { states: OPEN, policy: None, target: None, dimensions: Vec::new(), agent: None, horizon, limit: DEFAULT_LIMIT }
    }

    /// Parses a raw query string (`state=breached,at_risk&policy=urgent&limit=20`). `state`
    /// may repeat and takes comma-separated values; any other parameter is given at most
    /// once. An empty value is no value (what a form sends for "any").
    pub fn parse(raw: Option<&str>, rules: &Rules) -> Result<Query, BadParameter> {
        let mut query = Query::new(rules);
        let mut states = 0;
        let mut seen: Vec<String> = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name).unwrap_or_else(|| String::from_utf8_lossy(name.as_bytes()).into_owned());
            if !PARAMETERS.contains(&name.as_str()) {
                return Err(bad(&name, format!("unknown parameter; expected one of {}", PARAMETERS.join(", "))));
            }
            let value = decode(value).ok_or_else(|| bad(&name, "is not valid UTF-8 once decoded"))?;
            if name != "state" {
                if seen.contains(&name) {
                    return Err(bad(&name, "is given more than once"));
                }
                seen.push(name.clone());
            }
            if !value.is_empty() {
                query.set(&name, &value, &mut states, rules)?;
            }
        }
        if states != 0 {
            query.states = states;
        }
        if query.states & AT_RISK != 0 && query.horizon.is_none() {
            return Err(bad("state", "at_risk needs sla.at_risk_horizons, and none are configured"));
        }
        Ok(query)
    }

    fn set(&mut self, name: &str, value: &str, states: &mut u8, rules: &Rules) -> Result<(), BadParameter> {
        let policies = &rules.ticket.policies;
        let catalog = &rules.ticket.catalog;
        let one_of = |values: &[String]| values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
        match name {
            "state" => {
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let names: Vec<String> = STATES.iter().map(|(n, _)| n.to_string()).collect();
                    let (_, bit) = STATES
                        .iter()
                        .find(|(n, _)| *n == item)
                        .ok_or_else(|| bad(name, format!("{item:?} is not one of {}", one_of(&names))))?;
                    *states |= bit;
                }
            }
            "policy" => {
                let position = policies.names().position(|n| n == value);
                let names: Vec<String> = policies.names().map(String::from).collect();
                self.policy = Some(position.ok_or_else(|| bad(name, format!("{value:?} is not one of {}", one_of(&names))))? as PolicyId);
            }
            "target" => {
                let names: Vec<String> = SlaTarget::ALL.iter().map(|t| t.as_str().to_string()).collect();
                let target = SlaTarget::ALL.into_iter().find(|t| t.as_str() == value);
                self.target = Some(target.ok_or_else(|| bad(name, format!("{value:?} is not one of {}", one_of(&names))))?);
            }
            "channel" | "priority" | "team" => {
                let dimension = DIMENSIONS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d).expect("a dimension parameter");
                if !catalog.label_dimensions().contains(&dimension) {
                    return Err(bad(name, "is not in dimensions.labels, so neither the gauges nor the tickets are told apart by it"));
                }
                let values = catalog.values(dimension);
                if !values.iter().any(|v| v == value) {
                    return Err(bad(name, format!("{value:?} is not one of {}", one_of(&values))));
                }
                self.dimensions.push((dimension, value.to_string()));
            }
            "agent" => {
                // As the events bound an `agent_id`: a longer one matches no ticket.
                if value.len() > crate::event::MAX_ID_BYTES {
                    return Err(bad(name, format!("must be at most {} bytes, got {}", crate::event::MAX_ID_BYTES, value.len())));
                }
                self.agent = Some(value.to_string());
            }
            "horizon" => {
                let horizons = policies.horizons();
                let labels: Vec<String> = horizons.iter().map(|(l, _)| l.clone()).collect();
                let position = horizons.iter().position(|(l, _)| l == value);
                self.horizon =
                    Some(position.ok_or_else(|| bad(name, format!("{value:?} is not one of sla.at_risk_horizons: {}", one_of(&labels))))?);
            }
            "limit" => {
                // Digits only: Rust's integer parse also takes a leading `+`.
                self.limit = Some(value)
                    .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse().ok())
                    .filter(|l| *l <= MAX_LIMIT)
                    .ok_or_else(|| bad(name, format!("{value:?} is not a whole number from 0 to {MAX_LIMIT}")))?;
            }
            _ => unreachable!("parameter names are checked before"),
        }
        Ok(())
    }

    /// The same query, canonical and URL-encoded: for links between the page and the API.
    pub fn to_query_string(&self, rules: &Rules) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let states: Vec<&str> = state_names().filter(|n| self.selects(n)).collect();
        pairs.push(("state", states.join(",")));
        if let Some(policy) = self.policy {
            pairs.push(("policy", rules.ticket.policies.name(policy).to_string()));
        }
        if let Some(target) = self.target {
            pairs.push(("target", target.as_str().to_string()));
        }
        for (dimension, value) in &self.dimensions {
            pairs.push((dimension_name(*dimension), value.clone()));
        }
        if let Some(agent) = &self.agent {
            pairs.push(("agent", agent.clone()));
        }
        if let Some(horizon) = self.horizon {
            pairs.push(("horizon", rules.ticket.policies.horizons()[horizon].0.clone()));
        }
        pairs.push(("limit", self.limit.to_string()));
        pairs.iter().map(|(n, v)| format!("{n}={}", encode(v))).collect::<Vec<_>>().join("&")
    }

    /// Whether items of `state` (`at_risk`: due within the horizon) are wanted.
    pub(super) fn wants(&self, state: TicketState, at_risk: bool) -> bool {
        let bits = match state {
            TicketState::Breached => BREACHED,
            TicketState::Running if at_risk => RUNNING | AT_RISK,
            TicketState::Running => RUNNING,
            TicketState::Paused => PAUSED,
            TicketState::Unmatched => UNMATCHED,
        };
        self.states & bits != 0
    }

    /// Whether a series' label pairs carry every wanted dimension value.
    pub(super) fn matches_labels(&self, labels: &[(&'static str, String)]) -> bool {
        self.dimensions.iter().all(|(d, value)| labels.iter().any(|(n, v)| *n == dimension_name(*d) && v == value))
    }

    /// Whether `state` is selected, as the page's checkboxes show it: `open` when all it
    /// covers is selected, and then none of what it covers on its own.
    pub fn selects(&self, state: &str) -> bool {
        let open = self.states & OPEN == OPEN;
        STATES.iter().any(|(n, bit)| *n == state && if *bit == OPEN { open } else { self.states & bit != 0 && !(open && OPEN & bit != 0) })
    }

    pub fn policy(&self) -> Option<PolicyId> {
        self.policy
    }

    pub fn target(&self) -> Option<SlaTarget> {
        self.target
    }

    /// The wanted value of `dimension`, if any.
    pub fn dimension(&self, dimension: Dimension) -> Option<&str> {
        self.dimensions.iter().find(|(d, _)| *d == dimension).map(|(_, v)| v.as_str())
    }

    pub fn horizon(&self) -> Option<usize> {
        self.horizon
    }

    /// The wanted last agent, if any.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The state values the page offers, in order.
pub(crate) fn state_names() -> impl Iterator<Item = &'static str> {
    STATES.iter().map(|(n, _)| *n)
}

const DIMENSIONS: [(&str, Dimension); 3] = [("channel", Dimension::Channel), ("priority", Dimension::Priority), ("team", Dimension::Team)];

pub(crate) fn dimension_name(dimension: Dimension) -> &'static str {
    DIMENSIONS.iter().find(|(_, d)| *d == dimension).map(|(n, _)| *n).expect("every dimension is listed")
}

/// `application/x-www-form-urlencoded` decoding of one name or value; `None` if not UTF-8.
fn decode(text: &str) -> Option<String> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8().ok().map(|s| s.into_owned())
}

/// Everything but RFC 3986's unreserved characters is percent-encoded: safe in a path
/// segment, a query value and an HTML attribute.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

pub(crate) fn encode(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// `ui.ticket_url` with the id in place, URL-encoded; `None` for the ids `.` and `..`. A
/// browser resolves those as dot segments, percent-encoded or not (`%2E%2E` too, as the URL
/// standard says), so `…/tickets/..` would open the parent path: such a ticket is listed
/// without a link.
pub(crate) fn ticket_link(template: &str, ticket_id: &str) -> Option<String> {
    if matches!(ticket_id, "." | "..") {
        return None;
    }
    Some(template.replace(TICKET_ID_PLACEHOLDER, &encode(ticket_id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules() -> Rules {
        Rules::new(&Config::default()).unwrap()
    }

    #[test]
    fn queries_parse_repeated_and_comma_separated_states_and_name_the_bad_parameter() {
        let r = rules();
        let q = Query::parse(Some("state=breached&state=at_risk,paused&policy=urgent&target=first_response&channel=email&limit=7"), &r)
            .unwrap();
        assert_eq!(q.states, BREACHED | AT_RISK | PAUSED);
        assert_eq!((q.policy, q.target, q.limit, q.horizon), (Some(0), Some(SlaTarget::FirstResponse), 7, Some(0)));
        assert_eq!(q.dimensions, [(Dimension::Channel, "email".to_string())]);
        assert_eq!(
            q.to_query_string(&r),
            "state=breached%2Cat_risk%2Cpaused&policy=urgent&target=first_response&channel=email&horizon=15m&limit=7"
        );
        // Empty values are "any"; nothing given is everything open.
        let all = Query::parse(Some("state=&policy=&limit="), &r).unwrap();
        assert_eq!(all, Query::new(&r));
        assert_eq!(all.to_query_string(&r), "state=open&horizon=15m&limit=100");
        // `+` and percent escapes decode; the horizon is a label of sla.at_risk_horizons.
        assert_eq!(Query::parse(Some("horizon=1h&state=open%2Cat_risk"), &r).unwrap().horizon, Some(1));

        let err = |raw: &str| Query::parse(Some(raw), &r).unwrap_err().to_string();
        assert_eq!(err("state=late"), r#"state: "late" is not one of "breached", "at_risk", "running", "paused", "unmatched", "open""#);
        assert_eq!(err("policy=vip"), r#"policy: "vip" is not one of "urgent", "high", "normal", "low""#);
        assert_eq!(err("target=solve"), r#"target: "solve" is not one of "first_response", "next_reply", "resolution""#);
        assert_eq!(
            err("channel=fax"),
            r#"channel: "fax" is not one of "email", "chat", "phone", "web", "messaging", "social", "api", "other", "unknown""#
        );
        assert_eq!(err("team=billing"), "team: is not in dimensions.labels, so neither the gauges nor the tickets are told apart by it");
        assert_eq!(err("horizon=2h"), r#"horizon: "2h" is not one of sla.at_risk_horizons: "15m", "1h""#);
        assert_eq!(err("limit=1001"), r#"limit: "1001" is not a whole number from 0 to 1000"#);
        assert_eq!(err("limit=-1"), r#"limit: "-1" is not a whole number from 0 to 1000"#);
        assert_eq!(err("policy=urgent&policy=high"), "policy: is given more than once");
        assert_eq!(
            err("id=T1"),
            "id: unknown parameter; expected one of state, policy, target, channel, priority, team, agent, horizon, limit"
        );
        assert_eq!(err("policy=%FF"), "policy: is not valid UTF-8 once decoded");
        let mut config = Config::default();
        config.sla.at_risk_horizons.clear();
        let none = Rules::new(&config).unwrap();
        assert_eq!(Query::new(&none).horizon, None);
        assert_eq!(
            Query::parse(Some("state=at_risk"), &none).unwrap_err().to_string(),
            "state: at_risk needs sla.at_risk_horizons, and none are configured"
        );
    }

    #[test]
    fn the_default_horizon_is_the_smallest_not_the_first() {
        let mut config = Config::default();
        config.sla.at_risk_horizons = vec![std::time::Duration::from_secs(3600), std::time::Duration::from_secs(300)];
        let r = Rules::new(&config).unwrap();
        assert_eq!(Query::new(&r).horizon, Some(1));
        assert_eq!(r.ticket.policies.horizons()[1].0, "5m");
    }

    #[test]
    fn ticket_links_encode_the_id() {
        let url = "https://example.zendesk.com/agent/tickets/{ticket_id}";
        assert_eq!(ticket_link(url, "T-1_a.b~c").unwrap(), "https://example.zendesk.com/agent/tickets/T-1_a.b~c");
        assert_eq!(
            ticket_link(url, "<script>x\"/ ?#&é").unwrap(),
            "https://example.zendesk.com/agent/tickets/%3Cscript%3Ex%22%2F%20%3F%23%26%C3%A9"
        );
    }

    #[test]
    fn a_limit_is_digits_only() {
        let r = rules();
        let err = |raw: &str| Query::parse(Some(raw), &r).unwrap_err().to_string();
        // `%2B` is `+`: Rust's parse would take "+5" as 5. (A raw `+` decodes to a space.)
        assert_eq!(err("limit=%2B5"), r#"limit: "+5" is not a whole number from 0 to 1000"#);
        assert_eq!(err("limit=+5"), r#"limit: " 5" is not a whole number from 0 to 1000"#);
        assert_eq!(err("limit=5%20"), r#"limit: "5 " is not a whole number from 0 to 1000"#);
        assert_eq!(Query::parse(Some("limit=0005"), &r).unwrap().limit(), 5);
    }

    #[test]
    fn dot_segment_ids_get_no_link() {
        let url = "https://desk.example.com/agent/tickets/{ticket_id}?x=1";
        assert_eq!(ticket_link(url, "."), None);
        assert_eq!(ticket_link(url, ".."), None);
        assert_eq!(ticket_link(url, "..."), Some("https://desk.example.com/agent/tickets/...?x=1".to_string()));
        assert_eq!(ticket_link(url, "../x"), Some("https://desk.example.com/agent/tickets/..%2Fx?x=1".to_string()));
    }
}
