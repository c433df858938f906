//! The tickets behind a number: `GET /api/v1/tickets` (JSON) and the `/tickets` page
//! ([`page`]) list the open tickets the current SLA gauges count. Prometheus must not carry
//! ticket ids, so ticketpulse serves them itself, from the same state and at the same instant
//! as the gauges: each ticket's gauge share, classified by [`crate::sla::AsOf`] at its
//! partition's current time as the gauges are. So for every (policy, target, dimensions) the
//! `breached` items are exactly `ticketpulse_sla_breached_open_tickets`, the `at_risk` items of a horizon
//! `ticketpulse_sla_at_risk_targets`, and `running`, `paused`, `unmatched` their gauges.
//!
//! A read scans every ticket, one partition at a time under its lock (the others keep consuming),
//! keeping only what passes the filters and at most `limit` items (a bounded heap); names,
//! sorting and rendering come after. Reads take turns, so at most one scan waits for the engine.

pub mod page;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use tokio::net::TcpListener;

use crate::base::{Millis, PartitionId};
use crate::clock::WallClock;
use crate::config::{Dimension, HttpConfig, UiConfig, TICKET_ID_PLACEHOLDER};
use crate::dimensions::DimKey;
use crate::engine::{Engine, Rules};
use crate::internal_events::Telemetry;
use crate::sla::{AsOf, PolicyId, SlaTarget, TargetGauge, TargetState};
use crate::ticket::GaugeShare;

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`: bounds the heap kept under the lock and the answer's size.
pub const MAX_LIMIT: usize = 1000;

/// The endpoints, as `/` lists them.
pub const INDEX: &str = "/tickets        open tickets behind the SLA gauges, as a page (ticket ids: customer data)\n\
/api/v1/tickets the same as JSON\n";

/// Where a target stands as the gauges count it ([`TargetState`]), or an open ticket no policy matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    /// Its deadline passed and the work is not done (the timer fired, or the deadline is
    /// before the partition's current time).
    Breached,
    /// Running towards a deadline still ahead.
    Running,
    /// Stopped by a pause status.
    Paused,
    /// No SLA policy matches the ticket.
    Unmatched,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Breached => "breached",
            TicketState::Running => "running",
            TicketState::Paused => "paused",
            TicketState::Unmatched => "unmatched",
        }
    }
}

impl From<TargetState> for TicketState {
    fn from(state: TargetState) -> Self {
        match state {
            TargetState::Breached => TicketState::Breached,
            TargetState::Running => TicketState::Running,
            TargetState::Paused => TicketState::Paused,
        }
    }
}

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
    states: u8,
    policy: Option<PolicyId>,
    target: Option<SlaTarget>,
    /// Label values the item's dimensions must have, of dimensions that are labels.
    dimensions: Vec<(Dimension, String)>,
    /// The `agent_id` of the ticket's last public agent message ([`crate::ticket::Ticket::last_agent`]).
    agent: Option<String>,
    /// Index into `sla.at_risk_horizons`; `None` when none are configured.
    horizon: Option<usize>,
    limit: usize,
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
    fn wants(&self, state: TicketState, at_risk: bool) -> bool {
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
    fn matches_labels(&self, labels: &[(&'static str, String)]) -> bool {
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
pub fn state_names() -> impl Iterator<Item = &'static str> {
    STATES.iter().map(|(n, _)| *n)
}

const DIMENSIONS: [(&str, Dimension); 3] = [("channel", Dimension::Channel), ("priority", Dimension::Priority), ("team", Dimension::Team)];

pub fn dimension_name(dimension: Dimension) -> &'static str {
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

pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// `ui.ticket_url` with the id in place, URL-encoded; `None` for the ids `.` and `..`. A
/// browser resolves those as dot segments, percent-encoded or not (`%2E%2E` too, as the URL
/// standard says), so `…/tickets/..` would open the parent path: such a ticket is listed
/// without a link.
pub fn ticket_link(template: &str, ticket_id: &str) -> Option<String> {
    if matches!(ticket_id, "." | "..") {
        return None;
    }
    Some(template.replace(TICKET_ID_PLACEHOLDER, &encode(ticket_id)))
}

/// How items sort: those with a deadline first, most overdue then soonest due (milliseconds
/// to the deadline); then the rest by creation, oldest first; ties by id, then target.
type Order<'a> = (bool, Millis, &'a str, usize);

fn order(ticket_id: &str, target: Option<SlaTarget>, to_deadline: Option<Millis>, created_at: Millis) -> Order<'_> {
    (to_deadline.is_none(), to_deadline.unwrap_or(created_at), ticket_id, target.map_or(SlaTarget::ALL.len(), SlaTarget::index))
}

/// A matching item, copied out of its partition (the heap outlives each partition's lock).
#[derive(Debug, Clone)]
struct Row {
    ticket_id: String,
    share: GaugeShare,
    target: Option<SlaTarget>,
    state: TicketState,
    at_risk: bool,
    deadline: Option<Millis>,
    to_deadline: Option<Millis>,
    last_agent: Option<String>,
}

impl Row {
    fn order(&self) -> Order<'_> {
        order(&self.ticket_id, self.target, self.to_deadline, self.share.created_at)
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Row {}

impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Row {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}

/// What a scan found: at most `limit` items, unsorted, with no names resolved.
#[derive(Debug)]
pub struct Found {
    read_at: Option<Millis>,
    /// The partitions read and the current time each was read at.
    partitions: Vec<(PartitionId, Millis)>,
    total: usize,
    rows: Vec<Row>,
}

/// Scans every ticket of `engine`, one partition at a time under that partition's lock only (as a
/// scrape reads), and keeps the items `query` selects, classified exactly as the gauges read them: each partition at its current
/// time (`wall`: the live service's wall clock, see [`crate::engine::Partition::current_time`]),
/// a running target whose deadline is before it breached, one due within the horizon from it
/// at risk. Allocates only the heap of at most `limit + 1` items (an id is copied only when its
/// item enters the heap) and one flag per distinct dimensions key when dimensions are filtered.
pub fn scan(engine: &Engine, wall: Option<Millis>, query: &Query) -> Found {
    let rules = engine.rules();
    let policies = &rules.ticket.policies;
    let catalog = &rules.ticket.catalog;
    let horizon = query.horizon.map(|i| policies.horizons()[i].1);
    let mut heap: BinaryHeap<Row> = BinaryHeap::with_capacity(query.limit + 1);
    let mut dimensions_match: HashMap<DimKey, bool> = HashMap::new();
    let mut total = 0;
    let mut partitions = Vec::new();
    for (id, lane) in engine.lanes().iter() {
        // One partition locked at a time: the others go on consuming while this one is read.
        let partition = crate::lock(lane);
        // As the gauges: a partition without a current time has nothing to count.
        let Some(now) = partition.current_time(wall) else { continue };
        partitions.push((id.clone(), now));
        for (ticket_id, ticket) in partition.tickets() {
            let Some(share) = ticket.gauge_share(policies) else { continue };
            // The cheap tests first: policy (an unmatched ticket has neither policy nor target).
            let wanted = match share.policy {
                Some(policy) => query.policy.is_none_or(|p| p == policy),
                None => query.policy.is_none() && query.target.is_none() && query.wants(TicketState::Unmatched, false),
            };
            if !wanted || query.agent.as_deref().is_some_and(|a| ticket.last_agent() != Some(a)) {
                continue;
            }
            if !query.dimensions.is_empty() {
                let key = catalog.key(share.dims);
                if !*dimensions_match.entry(key).or_insert_with(|| query.matches_labels(&catalog.labels(key))) {
                    continue;
                }
            }
            let mut keep = |target, state, at_risk, deadline: Option<Millis>| {
                total += 1;
                let to_deadline = deadline.map(|d| d - now);
                // Full, and this one would be dropped at once: skip the copy and the push.
                let rank = order(ticket_id, target, to_deadline, share.created_at);
                if heap.len() >= query.limit && heap.peek().is_none_or(|last| rank >= last.order()) {
                    return;
                }
                heap.push(Row {
                    ticket_id: ticket_id.to_string(),
                    share,
                    target,
                    state,
                    at_risk,
                    deadline,
                    to_deadline,
                    last_agent: ticket.last_agent().map(String::from),
                });
                if heap.len() > query.limit {
                    heap.pop();
                }
            };
            if share.policy.is_none() {
                keep(None, TicketState::Unmatched, false, None);
                continue;
            }
            for (target, gauge) in SlaTarget::ALL.into_iter().zip(share.targets) {
                if query.target.is_some_and(|t| t != target) {
                    continue;
                }
                let Some(gauge) = gauge else { continue };
                // Classified as the gauges classify it.
                let state = TicketState::from(AsOf(now).state(gauge));
                let at_risk = horizon.is_some_and(|h| AsOf(now).at_risk(gauge, h));
                let deadline = match gauge {
                    TargetGauge::Running(deadline) => Some(deadline),
                    TargetGauge::Paused => None,
                    TargetGauge::Breached => ticket.sla.deadline(target),
                };
                if query.wants(state, at_risk) {
                    keep(Some(target), state, at_risk, deadline);
                }
            }
        }
    }
    Found { read_at: wall, partitions, total, rows: heap.into_vec() }
}

impl Found {
    /// Sorts the items and resolves their names (after the partitions' locks are released).
    pub fn answer(mut self, rules: &Rules, query: &Query) -> Answer {
        self.rows.sort_by(|a, b| {
            order(&a.ticket_id, a.target, a.to_deadline, a.share.created_at).cmp(&order(
                &b.ticket_id,
                b.target,
                b.to_deadline,
                b.share.created_at,
            ))
        });
        let policies = &rules.ticket.policies;
        let catalog = &rules.ticket.catalog;
        let items = self
            .rows
            .into_iter()
            .map(|row| Item {
                policy: row.share.policy.map(|p| policies.name(p).to_string()),
                target: row.target.map(SlaTarget::as_str),
                state: row.state.as_str(),
                at_risk: row.at_risk,
                deadline: row.deadline.map(rfc3339),
                seconds_to_deadline: row.to_deadline.map(|ms| ms as f64 / 1000.0),
                dimensions: Labels(catalog.labels(catalog.key(row.share.dims))),
                status: row.share.status.as_str(),
                created_at: rfc3339(row.share.created_at),
                waiting_since: row.share.waiting_since.map(rfc3339),
                last_agent: row.last_agent,
                ticket_id: row.ticket_id,
            })
            .collect();
        Answer {
            read_at: self.read_at.map(rfc3339),
            partitions: self
                .partitions
                .into_iter()
                .map(|((topic, partition), now)| PartitionRead { topic, partition, current_time: rfc3339(now) })
                .collect(),
            horizon: query.horizon.map(|i| policies.horizons()[i].0.clone()),
            total: self.total,
            limit: query.limit,
            items,
        }
    }
}

/// RFC 3339 in UTC, with milliseconds when there are any.
pub fn rfc3339(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// The answer of `GET /api/v1/tickets`.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The wall-clock time of the read; `null` without a wall clock (then each partition is
    /// read at its stream time).
    pub read_at: Option<String>,
    /// The partitions this instance owns, each read at its own current time.
    pub partitions: Vec<PartitionRead>,
    /// The horizon `at_risk` was judged by (a label of `sla.at_risk_horizons`).
    pub horizon: Option<String>,
    /// Items that matched, before the limit.
    pub total: usize,
    pub limit: usize,
    pub items: Vec<Item>,
}

/// One partition of an answer.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionRead {
    pub topic: String,
    pub partition: i32,
    /// The partition's current time, which its items' `state` and `seconds_to_deadline` are
    /// relative to.
    pub current_time: String,
}

/// One SLA target of an open ticket, or an open ticket no policy matches.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub ticket_id: String,
    /// `null` for `unmatched`.
    pub policy: Option<String>,
    /// `first_response`, `next_reply` or `resolution`; `null` for `unmatched`.
    pub target: Option<&'static str>,
    /// `breached`, `running`, `paused` or `unmatched`: the gauge that counts the item.
    pub state: &'static str,
    /// Running and due within the answer's `horizon`: counted in the at-risk gauge too.
    pub at_risk: bool,
    /// The deadline running towards, or the one that passed; `null` while paused, unmatched,
    /// or for a breach restored from a snapshot older than this field.
    pub deadline: Option<String>,
    /// From the partition's current time to the deadline; negative when overdue.
    pub seconds_to_deadline: Option<f64>,
    /// The dimensions that are labels, with the metrics' bounded values.
    pub dimensions: Labels,
    pub status: &'static str,
    pub created_at: String,
    /// The oldest customer message not yet answered by a public agent message.
    pub waiting_since: Option<String>,
    /// The `agent_id` of the last public agent message; `null` when it carried none (or
    /// there was none).
    pub last_agent: Option<String>,
}

/// Label pairs in the configured order, as a JSON object.
#[derive(Debug, Clone)]
pub struct Labels(pub Vec<(&'static str, String)>);

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// The API and page of one service: the engine they read and the page's settings.
#[derive(Clone)]
pub struct Api {
    engine: Arc<Engine>,
    rules: Arc<Rules>,
    /// The live service's clock; `None` reads every partition at its stream time.
    clock: Option<WallClock>,
    ticket_url: Option<Arc<str>>,
    /// One read at a time: a crowd of readers queues here, not on the partitions' locks.
    turn: Arc<tokio::sync::Semaphore>,
    /// Places in that queue. A waiting request holds a connection the server cannot evict,
    /// so beyond these readers are told to come back (503) rather than left to fill the
    /// connection table and lock out liveness probes and scrapes.
    places: Arc<tokio::sync::Semaphore>,
}

/// Readers that may wait for their turn at once (the one reading included).
const MAX_QUEUED_READS: usize = 8;

/// Why a read gave no answer.
#[derive(Debug)]
enum ReadError {
    /// Too many readers already waiting: come back in a second.
    Busy,
    /// The read panicked (logged).
    Failed,
}

impl Api {
    pub fn new(engine: Arc<Engine>, clock: Option<WallClock>, config: &UiConfig) -> Self {
        let rules = engine.shared_rules();
        Self {
            engine,
            rules,
            clock,
            ticket_url: config.ticket_url.as_deref().map(Arc::from),
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
            places: Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED_READS)),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// `/tickets` and `/api/v1/tickets`.
    pub fn routes(&self) -> Router {
        Router::new().route("/tickets", get(page_handler)).route("/api/v1/tickets", get(api_handler)).with_state(self.clone())
    }

    /// Reads now: scans each partition under its lock in turn, answers after. Blocks.
    pub fn read_now(&self, query: &Query) -> Answer {
        let wall = self.clock.map(|c| c.now());
        let found = scan(&self.engine, wall, query);
        found.answer(&self.rules, query)
    }

    /// Takes a place in the queue (or says `Busy`), waits its turn, then reads on a blocking
    /// thread.
    async fn read(&self, query: Query) -> Result<(Answer, Query), ReadError> {
        let Ok(_place) = self.places.try_acquire() else { return Err(ReadError::Busy) };
        let _turn = self.turn.acquire().await.expect("the semaphore is never closed");
        let api = self.clone();
        tokio::task::spawn_blocking(move || (api.read_now(&query), query)).await.map_err(|error| {
            tracing::error!(%error, "reading the tickets failed");
            ReadError::Failed
        })
    }
}

async fn api_handler(State(api): State<Api>, RawQuery(raw): RawQuery) -> Response {
    let json = |status: StatusCode, body: Vec<u8>| (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    let query = match Query::parse(raw.as_deref(), &api.rules) {
        Ok(query) => query,
        Err(e) => return json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": e.to_string() }).to_string().into_bytes()),
    };
    match api.read(query).await {
        Ok((answer, _)) => json(StatusCode::OK, serde_json::to_vec(&answer).expect("an answer serializes")),
        Err(ReadError::Busy) => busy(),
        Err(ReadError::Failed) => {
            json(StatusCode::INTERNAL_SERVER_ERROR, br#"{"error":"reading the tickets failed; the log says why"}"#.to_vec())
        }
    }
}

async fn page_handler(State(api): State<Api>, RawQuery(raw): RawQuery) -> Response {
    let html = |status: StatusCode, body: String| (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let query = match Query::parse(raw.as_deref(), &api.rules) {
        Ok(query) => query,
        Err(e) => return html(StatusCode::BAD_REQUEST, page::render_error(&e, &Query::new(&api.rules), &api.rules)),
    };
    match api.read(query).await {
        Ok((answer, query)) => html(StatusCode::OK, page::render(&answer, &query, &api.rules, api.ticket_url.as_deref())),
        Err(ReadError::Busy) => busy(),
        Err(ReadError::Failed) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<!DOCTYPE html><title>ticketpulse</title><p>Reading the tickets failed; the log says why.</p>\n".into(),
        ),
    }
}

/// 503 for a reader that found the queue full.
fn busy() -> Response {
    let headers = [(header::RETRY_AFTER, "1"), (header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    (StatusCode::SERVICE_UNAVAILABLE, headers, "busy: too many ticket reads waiting; retry in a second\n").into_response()
}

/// Serves the API and page alone on `listener` (`ui.listen`), with the limits of `config`,
/// until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    api: Api,
    config: HttpConfig,
    telemetry: Arc<Telemetry>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let index = format!("ticketpulse\n{INDEX}");
    let app = api
        .routes()
        .route("/", get(move || std::future::ready(index.clone())))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; the endpoints are listed at /\n") });
    crate::http::serve(listener, app, &config, telemetry, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules() -> Rules {
        Rules::new(&Config::default()).unwrap()
    }

    /// A read holds one partition's lock at a time. With the last partition held elsewhere (a
    /// worker mid-batch), the read waits there while the first, already read, consumes again.
    /// Before, a read took every partition's lock up front and held the first while it waited.
    #[test]
    fn a_read_holds_one_partition_lock_at_a_time() {
        let engine = Arc::new(Engine::new(rules(), Arc::new(Telemetry::default())));
        for p in 0..3 {
            // The second event moves the watermark (10 s of allowed lateness) past the first.
            for (id, at) in [("T", "10:00"), ("U", "10:05")] {
                let created = format!(
                    r#"{{"event_id":"{id}{p}","ticket_id":"{id}{p}","type":"ticket_created","at":"2026-01-05T{at}:00Z","channel":"email"}}"#
                );
                engine.handle(&("tickets".to_string(), p), created.as_bytes(), None, &"test").unwrap();
            }
        }
        let lanes = engine.lanes();
        let (first, last) = (&lanes[0].1, &lanes[2].1);
        let held = crate::lock(last);
        let reader = {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let query = Query::parse(Some("state=unmatched,running,paused,breached"), engine.rules()).unwrap();
                let found = scan(&engine, None, &query);
                (found.partitions.len(), found.total)
            })
        };
        // Gives the reader time to pass the first two partitions and wait on the last. (On a
        // stalled machine the reader may not have started: then this passes without proving.)
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(first.try_lock().is_ok(), "the read holds a partition it has finished with");
        assert!(!reader.is_finished(), "the read must wait for the held partition");
        drop(held);
        // 3 partitions, each with one normal email ticket applied (T, created 10:00, not
        // answered; U waits in the reorder buffer). The default policy "normal" has first
        // response (8h) and resolution (72h) running for it, next reply not started, neither
        // overdue at its partition's time (10:05): 2 items a ticket.
        assert_eq!(reader.join().unwrap(), (3, 6));
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

    #[tokio::test]
    async fn readers_beyond_the_queue_are_told_to_come_back_and_the_next_one_is_served() {
        let config = Config::default();
        let engine = Arc::new(Engine::new(Rules::new(&config).unwrap(), Arc::default()));
        let api = Api::new(engine, None, &config.ui);
        let get = |api: Api| api_handler(State(api), RawQuery(None));
        // Eight readers waiting: the ninth gets 503 with Retry-After, not a place in the queue.
        let waiting = api.places.try_acquire_many(MAX_QUEUED_READS as u32).unwrap();
        let busy = get(api.clone()).await;
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        drop(waiting);
        let served = get(api).await;
        assert_eq!(served.status(), StatusCode::OK);
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
