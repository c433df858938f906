//! Configuration: TOML (`config/ticketpulse.toml` documents every field), overridden by
//! `TICKETPULSE_<SECTION>__<FIELD>` environment variables. Unknown keys are errors, and
//! [`Config::validate`] names the offending field before anything starts.
//!
//! This module is the schema and its field checks only; it imports no domain module. What
//! needs the domain to be checked (SLA policies and calendars compiled, the Kafka properties
//! as librdkafka reads them) is checked where it is used, by `engine::Rules::new` and
//! `kafka::validate`: `service::compile` runs both, for `check-config` and start-up alike.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use crate::base::{shown_properties, window_label, RESERVED_LABEL_VALUES};

/// A configuration problem, always naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` does not exist.
    #[error("config file {0} does not exist")]
    Missing(String),
    /// The TOML or an environment override could not be read into the schema; the message
    /// names the field and where its value came from.
    #[error("{0}")]
    Parse(String),
    /// A value parsed but is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), message: message.into() }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where events come from and where bad ones go.
    pub kafka: KafkaConfig,
    /// The HTTP endpoint serving `/metrics` and health checks.
    pub http: HttpConfig,
    /// Event time, windows and lateness.
    pub time: TimeConfig,
    /// Which label dimensions KPI metrics carry and their allowed values.
    pub dimensions: DimensionsConfig,
    /// Input limits.
    pub events: EventsConfig,
    /// SLA policies, business-hours calendars and pause statuses.
    pub sla: SlaConfig,
    /// Abandoned-contact accounting.
    pub abandonment: AbandonmentConfig,
    /// The rest of the KPI catalogue: surveys, real-time channels, backlog age, topics, cost
    /// and sentiment (see `docs/metrics.md`).
    pub kpis: KpisConfig,
    /// Per-ticket state retention and limits.
    pub tickets: TicketsConfig,
    /// State snapshots: crash recovery and partition handover.
    pub snapshots: SnapshotsConfig,
    /// The tickets API and page: which open tickets are behind the SLA gauges.
    pub ui: UiConfig,
    /// On SIGTERM: stop fetching, finish in-flight events, snapshot, commit and exit within
    /// this time (exit status 1 if it runs out).
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// `ticketpulse intake`: help-desk webhooks into the topic.
    pub intake: IntakeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            time: TimeConfig::default(),
            dimensions: DimensionsConfig::default(),
            events: EventsConfig::default(),
            sla: SlaConfig::default(),
            abandonment: AbandonmentConfig::default(),
            kpis: KpisConfig::default(),
            tickets: TicketsConfig::default(),
            snapshots: SnapshotsConfig::default(),
            ui: UiConfig::default(),
            shutdown_timeout: Duration::from_secs(30),
            intake: IntakeConfig::default(),
        }
    }
}

/// Kafka consumer group settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// Consumer group id; every instance of one deployment uses the same id.
    pub group_id: String,
    /// Topics carrying ticket events.
    #[serde(deserialize_with = "list")]
    pub topics: Vec<String>,
    /// Topic receiving rejected messages with their reason and source offset in headers;
    /// an empty string disables the dead-letter path (rejections are still logged and counted).
    pub dead_letter_topic: String,
    /// Where a partition without a snapshot starts: `earliest` or `latest`. (With a snapshot,
    /// consumption resumes at the snapshot's offset; the group's committed offsets are
    /// progress reporting only.)
    pub auto_offset_reset: OffsetReset,
    /// Extra librdkafka properties passed through verbatim (e.g. `security.protocol`,
    /// `sasl.username`, `sasl.password`), checked by librdkafka at load. Values of properties
    /// named like secrets (`password`, `secret`, `key`, `token`) are never shown.
    #[serde(deserialize_with = "flatten_properties")]
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            group_id: "ticketpulse".into(),
            topics: vec!["ticket-events".into()],
            dead_letter_topic: "ticket-events-dlq".into(),
            auto_offset_reset: OffsetReset::Earliest,
            librdkafka: BTreeMap::new(),
        }
    }
}

/// Shows secret-named librdkafka properties as `[redacted]`.
impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("librdkafka", &shown_properties(&self.librdkafka))
            .finish()
    }
}

/// Where to start a partition that has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    Earliest,
    Latest,
}

impl OffsetReset {
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// librdkafka properties that ticketpulse sets itself; overriding them would break the
/// offset-after-apply guarantee.
pub const MANAGED_LIBRDKAFKA_KEYS: [&str; 5] =
    ["bootstrap.servers", "group.id", "enable.auto.offset.store", "enable.auto.commit", "auto.offset.reset"];

/// HTTP endpoint and its limits (see `docs/operations.md`, "The HTTP port").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address for `/metrics`, `/healthz/live` and `/healthz/ready` (`run`; `demo`
    /// listens on its `--listen`). All interfaces by default, so Prometheus and the kubelet
    /// reach it from outside the container.
    pub listen: SocketAddr,
    /// A request's headers must arrive complete within this time from the connection's start
    /// (or from the previous response on a kept-alive connection, which is closed once idle
    /// this long).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A request's body must arrive complete within this time from the end of its headers;
    /// until it has, the connection counts as stalled on its client and may be closed to
    /// make room. At most `request_timeout`.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A response must be produced and written out within this time from its request's
    /// headers, or the connection is closed. At least your Prometheus `scrape_timeout`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Open connections at most. A newcomer beyond it closes the connection that has waited
    /// longest on its client (for request headers first, then to read a response); when
    /// every connection is being served it is refused.
    pub max_connections: usize,
    /// On shutdown, requests in flight get this long to finish; then their connections are
    /// closed. Shorter than `shutdown_timeout`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9850)),
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Event time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeConfig {
    /// Rolling windows reported for every windowed KPI (the `window` label).
    #[serde(deserialize_with = "durations")]
    pub windows: Vec<Duration>,
    /// Each window is the newest `slices_per_window` slices of `window / slices_per_window`,
    /// aligned to the Unix epoch. More slices: smoother windows, more memory.
    pub slices_per_window: u32,
    /// How far behind the newest event time an event may arrive and still be applied in
    /// event-time order. Events are applied, and SLA timers fire, once the watermark
    /// (newest event time minus this) passes them.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// In the live service, a partition that received nothing for this long, or that was read
    /// to its end (Kafka partition EOF), advances its stream time with the wall clock so
    /// events are applied and breaches counted when traffic is quiet or stops; and between
    /// messages the current SLA gauges read stream time moved on with the wall clock. `0s`
    /// disables all of it: time then comes from events only.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Events dated further than this ahead of the wall clock (or of `replay --end-time`) are
    /// rejected (`future_timestamp`). Events dated ahead by less are accepted, but stream time
    /// never moves past the wall clock.
    #[serde(with = "humantime_serde")]
    pub max_future_skew: Duration,
    /// Events a partition's reorder buffer holds at most. When it is full the watermark moves
    /// up to the oldest buffered event, which is applied at once (counted in
    /// `ticketpulse_reorder_buffer_full_events_total`); events dated before that point then
    /// count as late. Bounds memory under a burst the allowed lateness cannot absorb.
    pub max_buffered_events: usize,
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self {
            windows: vec![Duration::from_secs(300), Duration::from_secs(3600), Duration::from_secs(86400)],
            slices_per_window: 60,
            allowed_lateness: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_future_skew: Duration::from_secs(300),
            max_buffered_events: 100_000,
        }
    }
}

/// A KPI label dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Channel,
    Priority,
    Team,
}

/// Label dimensions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DimensionsConfig {
    /// Which of `channel`, `priority`, `team` label the KPI metrics.
    #[serde(deserialize_with = "list")]
    pub labels: Vec<Dimension>,
    /// Known channels (lower case). Any other channel is reported as `other`.
    #[serde(deserialize_with = "list")]
    pub channels: Vec<String>,
    /// Known teams. Any other team is reported as `other`, a ticket without one as `none`.
    #[serde(deserialize_with = "list")]
    pub teams: Vec<String>,
}

impl Default for DimensionsConfig {
    fn default() -> Self {
        Self {
            labels: vec![Dimension::Channel, Dimension::Priority],
            channels: ["email", "chat", "phone", "web", "messaging", "social", "api"].map(String::from).to_vec(),
            teams: Vec::new(),
        }
    }
}

/// Input limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Messages larger than this are rejected as `oversized` without being parsed.
    pub max_message_bytes: usize,
    /// Event ids remembered per ticket to drop redeliveries; the oldest is forgotten first.
    pub dedup_ids_per_ticket: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { max_message_bytes: 64 * 1024, dedup_ids_per_ticket: 256 }
    }
}

/// SLA policies, business-hours calendars and what pauses the clocks (see `docs/sla.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// While a ticket is in one of these statuses its next-reply and resolution clocks stop
    /// (first response never pauses).
    #[serde(deserialize_with = "list")]
    pub pause_statuses: Vec<String>,
    /// Running targets due within each of these are reported as at risk (the `horizon` label
    /// of `ticketpulse_sla_at_risk_targets`).
    #[serde(deserialize_with = "durations")]
    pub at_risk_horizons: Vec<Duration>,
    /// Business-hours calendars by name, used by policies' `calendar`.
    pub calendars: BTreeMap<String, CalendarConfig>,
    /// Ordered: the first policy whose conditions all match a ticket applies. Tickets matching
    /// none have no SLA (counted in `ticketpulse_sla_unmatched_open_tickets`).
    pub policies: Vec<PolicyConfig>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        let policy = |name: &str, first_response, next_reply, resolution| PolicyConfig {
            name: name.into(),
            priority: Some(vec![name.into()]),
            first_response,
            next_reply,
            resolution,
            ..PolicyConfig::default()
        };
        Self {
            pause_statuses: vec!["pending".into(), "on_hold".into()],
            at_risk_horizons: vec![Duration::from_secs(15 * 60), Duration::from_secs(3600)],
            calendars: BTreeMap::new(),
            policies: vec![
                policy("urgent", Some(Duration::from_secs(1800)), h(1), h(8)),
                policy("high", h(2), h(4), h(24)),
                policy("normal", h(8), h(8), h(72)),
                policy("low", h(24), h(24), h(120)),
            ],
        }
    }
}

/// One SLA policy: which tickets it applies to and their targets. A condition left out
/// matches any ticket; a list matches a ticket having any of its values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The `policy` label value.
    pub name: String,
    /// Ticket priorities (`low`, `normal`, `high`, `urgent`).
    #[serde(default)]
    pub priority: Option<Vec<String>>,
    /// Ticket channels, lower case.
    #[serde(default)]
    pub channel: Option<Vec<String>>,
    /// Ticket teams.
    #[serde(default)]
    pub team: Option<Vec<String>>,
    /// Ticket topics.
    #[serde(default)]
    pub topic: Option<Vec<String>>,
    /// Creation → first public human agent reply.
    #[serde(default, with = "humantime_serde")]
    pub first_response: Option<Duration>,
    /// Oldest unanswered customer message → next public agent reply, for every reply after
    /// the first.
    #[serde(default, with = "humantime_serde")]
    pub next_reply: Option<Duration>,
    /// Creation → `solved` or `closed`, counted again from where it stood after a reopen.
    #[serde(default, with = "humantime_serde")]
    pub resolution: Option<Duration>,
    /// A name from `sla.calendars`, or `24x7` (the default): when the targets' time counts.
    #[serde(default = "always_open")]
    pub calendar: String,
}

/// The name of the built-in always-open calendar, every policy's default.
pub const ALWAYS_OPEN: &str = "24x7";

fn always_open() -> String {
    ALWAYS_OPEN.into()
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            priority: None,
            channel: None,
            team: None,
            topic: None,
            first_response: None,
            next_reply: None,
            resolution: None,
            calendar: always_open(),
        }
    }
}

/// A business-hours calendar. Each day lists its open periods as `HH:MM-HH:MM` in local time
/// (the end may be `24:00`); a day left out is closed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// IANA time zone, e.g. `Europe/Bucharest`; periods and holidays are local to it.
    pub time_zone: String,
    /// Open periods on Mondays.
    pub monday: Vec<String>,
    /// Open periods on Tuesdays.
    pub tuesday: Vec<String>,
    /// Open periods on Wednesdays.
    pub wednesday: Vec<String>,
    /// Open periods on Thursdays.
    pub thursday: Vec<String>,
    /// Open periods on Fridays.
    pub friday: Vec<String>,
    /// Open periods on Saturdays.
    pub saturday: Vec<String>,
    /// Open periods on Sundays.
    pub sunday: Vec<String>,
    /// Closed dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Dates closed every year, `MM-DD`.
    pub yearly_holidays: Vec<String>,
}

impl CalendarConfig {
    /// The seven days' periods, Monday first.
    pub fn days(&self) -> [&Vec<String>; 7] {
        [&self.monday, &self.tuesday, &self.wednesday, &self.thursday, &self.friday, &self.saturday, &self.sunday]
    }
}

/// Abandonment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbandonmentConfig {
    /// Abandons sooner than this after creation are "short": counted separately and left out
    /// of the abandonment ratio (the customer hung up before a fair chance to be answered).
    #[serde(with = "humantime_serde")]
    pub short_abandon_threshold: Duration,
    /// Upper bounds of the wait-time buckets of `ticketpulse_abandoned_contacts_by_wait`
    /// (creation to abandon), ascending; a last bucket takes every longer wait.
    #[serde(deserialize_with = "durations")]
    pub wait_buckets: Vec<Duration>,
    /// `true`: a `contact_abandoned` ends the contact (no longer open, its running SLA targets
    /// stopped with no outcome, forgotten after `tickets.retention`) until a public message
    /// or a status change brings it back. `false`: the ticket stays open with its SLA clocks
    /// running, as a ticket to follow up. The abandon KPIs are the same either way.
    pub ends_contact: bool,
}

impl Default for AbandonmentConfig {
    fn default() -> Self {
        Self {
            short_abandon_threshold: Duration::from_secs(10),
            wait_buckets: [10, 30, 60, 120, 300].map(Duration::from_secs).to_vec(),
            ends_contact: true,
        }
    }
}

/// The KPI catalogue beyond volume, response, resolution, SLA and abandonment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpisConfig {
    /// Survey scales (`survey_response` events). NPS is always 0–10.
    pub surveys: SurveysConfig,
    /// Real-time channels: service level and speed of answer.
    pub realtime: RealtimeConfig,
    /// Open tickets by age.
    pub backlog: BacklogConfig,
    /// Tickets created by topic, with bounded label values.
    pub topics: TopicsConfig,
    /// Per-agent KPIs with an `agent` label; off by default (agent ids are personal data).
    pub agents: AgentsConfig,
    /// Cost per resolution and per contact; reported only when configured.
    pub cost: CostConfig,
    /// Customer sentiment carried by `message` events.
    pub sentiment: SentimentConfig,
    /// Bucket bounds of the cumulative histograms (`*_cumulative_seconds`).
    pub histograms: HistogramsConfig,
    /// Staffing now: agents needed and available per queue (Erlang C / Erlang A); off by default.
    pub staffing: StaffingConfig,
}

/// The `le` bounds of the cumulative histograms: every SLA target of the family's kind is
/// always a bound (so "within target" is an exact ratio), besides these.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramsConfig {
    /// Bounds in seconds (numbers) or durations (`"5m"`), any order; unset (the default):
    /// 1m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 24h, 48h, 7d, 30d. Changing them reshapes snapshots.
    #[serde(deserialize_with = "seconds_or_durations")]
    pub buckets: Option<Vec<f64>>,
}

/// CSAT and CES scales. Each field of a scale is optional: the ones left out keep that
/// survey's default (the two defaults differ, so a scale is read over its own).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurveysConfig {
    /// CSAT: default 1–5, "good" from 4.
    #[serde(deserialize_with = "csat_scale")]
    pub csat: ScaleConfig,
    /// CES: default 1–7, "easy" from 5.
    #[serde(deserialize_with = "ces_scale")]
    pub ces: ScaleConfig,
    /// ESAT (employee satisfaction, per team through the ticket's team): default 1–5, "good"
    /// from 4, the bounds of CSAT.
    #[serde(deserialize_with = "csat_scale")]
    pub esat: ScaleConfig,
}

const CSAT_SCALE: ScaleConfig = ScaleConfig { min: 1.0, max: 5.0, good_from: 4.0 };
const CES_SCALE: ScaleConfig = ScaleConfig { min: 1.0, max: 7.0, good_from: 5.0 };

impl Default for SurveysConfig {
    fn default() -> Self {
        Self { csat: CSAT_SCALE, ces: CES_SCALE, esat: CSAT_SCALE }
    }
}

/// A scale as written: any of its fields, the rest from the survey's default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialScale {
    min: Option<f64>,
    max: Option<f64>,
    good_from: Option<f64>,
}

impl PartialScale {
    fn over(self, d: ScaleConfig) -> ScaleConfig {
        ScaleConfig { min: self.min.unwrap_or(d.min), max: self.max.unwrap_or(d.max), good_from: self.good_from.unwrap_or(d.good_from) }
    }
}

fn csat_scale<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScaleConfig, D::Error> {
    PartialScale::deserialize(d).map(|p| p.over(CSAT_SCALE))
}

fn ces_scale<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ScaleConfig, D::Error> {
    PartialScale::deserialize(d).map(|p| p.over(CES_SCALE))
}

/// A survey's score range. A score outside it is rejected as `out_of_range`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleConfig {
    /// Lowest valid score.
    pub min: f64,
    /// Highest valid score.
    pub max: f64,
    /// Scores from this value up are good (CSAT) or easy (CES).
    pub good_from: f64,
}

/// Real-time channels (chat, phone, ...), where a contact waits in a queue for an agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RealtimeConfig {
    /// Channels measured as real-time contacts; each needs a service-level threshold.
    #[serde(deserialize_with = "list")]
    pub channels: Vec<String>,
    /// Per channel: a contact answered (first public agent reply) within this time counts
    /// toward the service level.
    #[serde(deserialize_with = "duration_map")]
    pub service_level_thresholds: BTreeMap<String, Duration>,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            channels: ["chat", "phone", "messaging"].map(String::from).to_vec(),
            service_level_thresholds: [("chat", 20), ("phone", 30), ("messaging", 60)]
                .map(|(c, s)| (c.to_string(), Duration::from_secs(s)))
                .into(),
        }
    }
}

/// Open tickets by age.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacklogConfig {
    /// Upper bounds of the age buckets of `ticketpulse_backlog_tickets`, ascending; a last
    /// bucket takes every older ticket.
    #[serde(deserialize_with = "durations")]
    pub age_buckets: Vec<Duration>,
    /// Open tickets older than this are counted in `ticketpulse_stale_open_tickets`.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for BacklogConfig {
    fn default() -> Self {
        Self {
            age_buckets: [3600, 4 * 3600, 24 * 3600, 72 * 3600].map(Duration::from_secs).to_vec(),
            stale_after: Duration::from_secs(72 * 3600),
        }
    }
}

/// The `topic` label of `ticketpulse_tickets_created_by_topic`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// When not empty, exactly these topics are labels and every other topic is `other`.
    #[serde(deserialize_with = "list")]
    pub allow: Vec<String>,
    /// Without an allow-list: the `top` most frequent topics over the longest window are
    /// labels and every other topic is `other`.
    pub top: usize,
    /// Distinct topics counted per window slice; later new topics in a full slice count as
    /// `other`. Bounds memory under a flood of random topics.
    pub max_tracked_per_slice: usize,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self { allow: Vec::new(), top: 20, max_tracked_per_slice: 200 }
    }
}

/// The `agent` label of the `ticketpulse_agent_*` families (`agent_id` of `message` and
/// `work_logged` events). Agent ids are personal data, so this is off unless enabled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// Export the per-agent families at all.
    pub enabled: bool,
    /// When not empty, exactly these agents are labels and every other agent is `other`.
    #[serde(deserialize_with = "list")]
    pub allow: Vec<String>,
    /// Without an allow-list: the `top` most active agents (public replies plus logged work
    /// entries) over the longest window are labels and every other agent is `other`.
    pub top: usize,
    /// Distinct agents tracked per window slice; later new agents in a full slice count as
    /// `other`. Bounds memory under a flood of random agent ids.
    pub max_tracked_per_slice: usize,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        Self { enabled: false, allow: Vec::new(), top: 20, max_tracked_per_slice: 500 }
    }
}

/// Operating cost of the support organisation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// Cost per hour, in any currency; unset (the default) reports no cost metrics.
    pub per_hour: Option<f64>,
}

/// Customer sentiment (`message.sentiment`, −1..1, computed upstream).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SentimentConfig {
    /// Messages with a sentiment below this are negative.
    pub negative_below: f64,
}

impl Default for SentimentConfig {
    fn default() -> Self {
        Self { negative_below: -0.3 }
    }
}

/// Staffing now (`ticketpulse_staffing_*`): agents each queue needs for its objective and
/// the agents it has, from what each window measured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffingConfig {
    /// Export the staffing families and keep the distinct active agents per queue they need.
    pub enabled: bool,
    /// Real-time queues: the share of contacts to answer within the channel's
    /// `kpis.realtime.service_level_thresholds`, in (0, 1).
    pub service_level: f64,
    /// Real-time queues: the largest share of time agents may be busy, in (0, 1]; the
    /// required agents are at least the load divided by it.
    pub max_occupancy: f64,
    /// Asynchronous queues (channels not in `kpis.realtime`): the share of time agents spend
    /// handling tickets, in (0, 1]; workload and backlog agents are divided by it.
    pub target_occupancy: f64,
    /// Asynchronous queues: the time in which the open tickets should be cleared.
    #[serde(with = "humantime_serde")]
    pub backlog_horizon: Duration,
    /// Distinct active agents kept per queue and window slice; later new agents in a full
    /// slice are not counted, so a flood of random agent ids cannot grow memory. Also the
    /// agents whose `agent_status` a partition keeps (`engine/presence.rs`).
    pub max_agents_per_slice: usize,
}

impl Default for StaffingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            service_level: 0.8,
            max_occupancy: 0.85,
            target_occupancy: 0.85,
            backlog_horizon: Duration::from_secs(8 * 3600),
            max_agents_per_slice: 1000,
        }
    }
}

/// Per-ticket state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// Solved, closed and never-created tickets are forgotten this long (in event time) after
    /// their last event. A redelivery after that is counted again, so keep it above the
    /// longest redelivery delay you expect.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// At most this many tickets are kept per partition besides those with events in the
    /// reorder buffer; beyond it the least recently active are shed with everything they hold
    /// (counted in `ticketpulse_tickets_shed_total`) so memory stays bounded.
    pub max_per_partition: usize,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        Self { retention: Duration::from_secs(7 * 86400), max_per_partition: 2_000_000 }
    }
}

/// State snapshots. Each partition's state is saved together with the next offset to read,
/// so a restart or a new owner resumes exactly where the state left off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotsConfig {
    /// `local` (a directory: one instance, or instances sharing a volume), `kafka` (a topic:
    /// any instance of the group can take over any partition) or `none` (state is lost on
    /// restart and input is re-read from `kafka.auto_offset_reset`).
    pub store: SnapshotStoreKind,
    /// How often each partition with new input is snapshotted (also on revoke and shutdown).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Directory for `store = "local"`; created if missing.
    pub dir: PathBuf,
    /// Topic for `store = "kafka"`. It must exist; on Kafka give it `cleanup.policy=compact`.
    pub topic: String,
    /// Largest piece of a snapshot written as one Kafka message; keep it below the broker's
    /// `message.max.bytes`.
    pub chunk_bytes: usize,
}

impl Default for SnapshotsConfig {
    fn default() -> Self {
        Self {
            store: SnapshotStoreKind::Local,
            interval: Duration::from_secs(10),
            dir: PathBuf::from("ticketpulse-state"),
            topic: "ticketpulse-snapshots".into(),
            chunk_bytes: 512 * 1024,
        }
    }
}

/// Where snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStoreKind {
    Local,
    Kafka,
    None,
}

/// `GET /api/v1/tickets` and the `/tickets` page: the open tickets behind the SLA gauges
/// (see `docs/operations.md`, "The tickets behind a number"). They list ticket ids, which are
/// customer data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Serve the API and the page. `false`: both are 404 and `/` does not list them.
    pub enabled: bool,
    /// Links each ticket id on the page to the help desk: a URL with `{ticket_id}` where the
    /// id goes (URL-encoded), e.g. `https://example.zendesk.com/agent/tickets/{ticket_id}`.
    /// Unset (the default): ids are plain text.
    pub ticket_url: Option<String>,
    /// Serve the API and the page on this address instead of beside `/metrics` on
    /// `http.listen`, so the network can admit people to ticket ids and Prometheus to
    /// metrics separately. Unset (the default): on `http.listen`. The `[http]` limits apply.
    pub listen: Option<SocketAddr>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { enabled: true, ticket_url: None, listen: None }
    }
}

/// The placeholder of `ui.ticket_url`.
pub const TICKET_ID_PLACEHOLDER: &str = "{ticket_id}";

/// `ticketpulse intake`: help-desk webhooks turned into contract v1 events and produced to
/// Kafka (see `docs/intake.md`). The `[kafka]` brokers and librdkafka properties (TLS, SASL)
/// are shared with the consumer; the `[http]` limits apply to its listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Listen address for `POST /webhooks/zendesk`, `POST /webhooks/chatwoot`, `/metrics`
    /// and the health checks of `intake`.
    pub listen: SocketAddr,
    /// Topic the events are produced to, keyed by ticket id.
    pub topic: String,
    /// Webhook bodies larger than this are answered 413 unread.
    pub max_body_bytes: usize,
    /// A signature timestamp further than this from the wall clock (either way) is refused
    /// (401): a captured request cannot be replayed later.
    #[serde(with = "humantime_serde")]
    pub max_signature_age: Duration,
    /// How long the broker has to acknowledge every event of one webhook; otherwise the
    /// webhook is answered 503 so the help desk retries. Shorter than `http.request_timeout`.
    #[serde(with = "humantime_serde")]
    pub produce_timeout: Duration,
    /// Zendesk event-subscription webhooks (`zen:event-type:ticket.*`).
    pub zendesk: ZendeskIntakeConfig,
    /// Chatwoot account webhooks.
    pub chatwoot: ChatwootIntakeConfig,
    /// `ticketpulse intake seed`: reading the help desks' APIs (paging, retries, limits).
    pub seed: SeedConfig,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9860)),
            topic: "ticket-events".into(),
            max_body_bytes: 256 * 1024,
            max_signature_age: Duration::from_secs(300),
            produce_timeout: Duration::from_secs(5),
            zendesk: ZendeskIntakeConfig::default(),
            chatwoot: ChatwootIntakeConfig::default(),
            seed: SeedConfig::default(),
        }
    }
}

/// `ticketpulse intake seed` (docs/intake.md#seeding): how the help desks' APIs are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedConfig {
    /// Tickets per Zendesk export page (`per_page`, 1 to 1000). Chatwoot's page size is fixed
    /// by the server (25).
    pub page_size: u32,
    /// A response body larger than this is refused (and the seed stops): one page is held in
    /// memory at a time, and this bounds it.
    pub max_response_bytes: usize,
    /// Each API request (connect, answer and body) must complete within this time.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Retries of one request answered 429 or 5xx (or not answered) before the seed stops;
    /// the cursor file keeps the pages already produced.
    pub max_retries: u32,
    /// Longest wait before a retry: a `Retry-After` longer than this is cut to it; without
    /// `Retry-After` the wait doubles from 1s up to it.
    #[serde(with = "humantime_serde")]
    pub max_retry_wait: Duration,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            max_response_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_retries: 5,
            // Zendesk's export allows 10 requests a minute: a 429 asks for up to 60s.
            max_retry_wait: Duration::from_secs(120),
        }
    }
}

/// Zendesk webhooks and how their values map to the contract's.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZendeskIntakeConfig {
    /// Serve `POST /webhooks/zendesk` (404 otherwise).
    pub enabled: bool,
    /// The webhook's signing secret (Zendesk Admin Center, the webhook's "Reveal secret").
    /// A string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub signing_secret: String,
    /// Prepended to Zendesk's ticket id, so ids from several help desks cannot collide; at most
    /// 64 bytes, and not the Chatwoot prefix.
    pub ticket_prefix: String,
    /// Zendesk status (lower case) → contract status; a status not listed is ignored.
    pub statuses: BTreeMap<String, String>,
    /// Zendesk priority (lower case) → contract priority; none or not listed is `normal`.
    pub priorities: BTreeMap<String, String>,
    /// `via.channel` → contract channel; a channel not listed is passed on lower case (and
    /// reported as `other` unless it is in `dimensions.channels`).
    pub channels: BTreeMap<String, String>,
    /// Group id → team. A ticket in a group not listed has no team.
    pub group_teams: BTreeMap<String, String>,
    /// Tag → team: a tag listed here, when added, sets the ticket's team.
    pub tag_teams: BTreeMap<String, String>,
    /// Staff user ids whose comments are a bot's (e.g. an AI agent's account).
    #[serde(deserialize_with = "list")]
    pub bot_user_ids: Vec<String>,
    /// User ids whose comments are the system's (Zendesk's own automations write as `-1`).
    #[serde(deserialize_with = "list")]
    pub system_user_ids: Vec<String>,
    /// `intake seed`: the account's API address, `https://<subdomain>.zendesk.com`.
    pub api_url: String,
    /// `intake seed`: the agent or admin whose API token is used (`{email}/token` basic auth).
    pub api_email: String,
    /// `intake seed`: the API token (Admin Center > Apps and integrations > Zendesk API). A
    /// string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub api_token: String,
}

impl Default for ZendeskIntakeConfig {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self {
            enabled: false,
            signing_secret: String::new(),
            ticket_prefix: "zendesk-".into(),
            statuses: map(&[
                ("new", "new"),
                ("open", "open"),
                ("pending", "pending"),
                ("hold", "on_hold"),
                ("solved", "solved"),
                ("closed", "closed"),
            ]),
            priorities: map(&[("low", "low"), ("normal", "normal"), ("high", "high"), ("urgent", "urgent")]),
            channels: map(&[
                ("email", "email"),
                ("web", "web"),
                ("web_form", "web"),
                ("web_widget", "web"),
                ("mobile", "web"),
                ("mobile_sdk", "messaging"),
                ("api", "api"),
                ("web_service", "api"),
                ("chat", "chat"),
                ("native_messaging", "messaging"),
                ("sms", "messaging"),
                ("whatsapp", "messaging"),
                ("voice", "phone"),
                ("phone", "phone"),
                ("facebook", "social"),
                ("twitter", "social"),
                ("instagram_dm", "social"),
            ]),
            group_teams: BTreeMap::new(),
            tag_teams: BTreeMap::new(),
            bot_user_ids: Vec::new(),
            system_user_ids: vec!["-1".into()],
            api_url: String::new(),
            api_email: String::new(),
            api_token: String::new(),
        }
    }
}

/// Shows the signing secret as `[redacted]`.
impl std::fmt::Debug for ZendeskIntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZendeskIntakeConfig")
            .field("enabled", &self.enabled)
            .field("signing_secret", &crate::base::REDACTED)
            .field("ticket_prefix", &self.ticket_prefix)
            .field("statuses", &self.statuses)
            .field("priorities", &self.priorities)
            .field("channels", &self.channels)
            .field("group_teams", &self.group_teams)
            .field("tag_teams", &self.tag_teams)
            .field("bot_user_ids", &self.bot_user_ids)
            .field("system_user_ids", &self.system_user_ids)
            .field("api_url", &self.api_url)
            .field("api_email", &self.api_email)
            .field("api_token", &crate::base::REDACTED)
            .finish()
    }
}

/// How Chatwoot webhooks are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatwootAuth {
    /// `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "{X-Chatwoot-Timestamp}.{body}">`,
    /// sent by Chatwoot versions that sign webhooks.
    Signature,
    /// The secret as a shared token: `X-Ticketpulse-Token` header or `?token=` in the URL,
    /// for Chatwoot versions that do not sign.
    Token,
}

/// Chatwoot webhooks and how their values map to the contract's.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatwootIntakeConfig {
    /// Serve `POST /webhooks/chatwoot` (404 otherwise).
    pub enabled: bool,
    /// `signature` (the webhook's secret signs each request) or `token` (the secret is a
    /// shared token in the URL or a header).
    pub auth: ChatwootAuth,
    /// The webhook's secret (or the shared token). A string, taken verbatim from the
    /// environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub secret: String,
    /// Prepended to the conversation id (the per-account number), which becomes the ticket id;
    /// at most 64 bytes, and not the Zendesk prefix.
    pub ticket_prefix: String,
    /// Chatwoot status → contract status; a status not listed is ignored.
    pub statuses: BTreeMap<String, String>,
    /// Chatwoot priority → contract priority; none or not listed is `normal`.
    pub priorities: BTreeMap<String, String>,
    /// Inbox channel type (`Channel::Email`, ...) → contract channel; a type not listed is
    /// passed on lower case (and reported as `other`).
    pub channels: BTreeMap<String, String>,
    /// Chatwoot team id → team; takes precedence over `inbox_teams`.
    pub team_teams: BTreeMap<String, String>,
    /// Inbox id → team, for conversations without a listed Chatwoot team.
    pub inbox_teams: BTreeMap<String, String>,
    /// `intake seed`: the installation's address, e.g. `https://app.chatwoot.com`.
    pub api_url: String,
    /// `intake seed`: the account whose conversations are read (the number in its URLs).
    pub account_id: String,
    /// `intake seed`: an administrator's access token (Profile settings > Access token), sent
    /// as `api_access_token`. A string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub api_token: String,
}

impl Default for ChatwootIntakeConfig {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self {
            enabled: false,
            auth: ChatwootAuth::Signature,
            secret: String::new(),
            ticket_prefix: "chatwoot-".into(),
            statuses: map(&[("open", "open"), ("pending", "pending"), ("snoozed", "on_hold"), ("resolved", "solved")]),
            priorities: map(&[("low", "low"), ("medium", "normal"), ("high", "high"), ("urgent", "urgent")]),
            channels: map(&[
                ("Channel::Email", "email"),
                ("Channel::WebWidget", "chat"),
                ("Channel::Whatsapp", "messaging"),
                ("Channel::Sms", "messaging"),
                ("Channel::TwilioSms", "messaging"),
                ("Channel::Telegram", "messaging"),
                ("Channel::Line", "messaging"),
                ("Channel::FacebookPage", "social"),
                ("Channel::Instagram", "social"),
                ("Channel::TwitterProfile", "social"),
                ("Channel::Api", "api"),
                ("Channel::Voice", "phone"),
            ]),
            team_teams: BTreeMap::new(),
            inbox_teams: BTreeMap::new(),
            api_url: String::new(),
            account_id: String::new(),
            api_token: String::new(),
        }
    }
}

/// Shows the secret as `[redacted]`.
impl std::fmt::Debug for ChatwootIntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatwootIntakeConfig")
            .field("enabled", &self.enabled)
            .field("auth", &self.auth)
            .field("secret", &crate::base::REDACTED)
            .field("ticket_prefix", &self.ticket_prefix)
            .field("statuses", &self.statuses)
            .field("priorities", &self.priorities)
            .field("channels", &self.channels)
            .field("team_teams", &self.team_teams)
            .field("inbox_teams", &self.inbox_teams)
            .field("api_url", &self.api_url)
            .field("account_id", &self.account_id)
            .field("api_token", &crate::base::REDACTED)
            .finish()
    }
}

/// Longest `ticket_prefix` of an intake source, so ids with their suffixes stay within 128 bytes.
pub const MAX_TICKET_PREFIX_BYTES: usize = 64;

/// Shortest accepted webhook secret, in bytes: Zendesk's signing secrets are longer, and a
/// short one can be guessed.
pub const MIN_INTAKE_SECRET_BYTES: usize = 16;

impl IntakeConfig {
    /// Checks the `[intake]` section; `http` limits the produce timeout.
    pub fn validate(&self, http: &HttpConfig) -> Result<(), ConfigError> {
        if self.topic.trim().is_empty() {
            return Err(bad("intake.topic", "must not be empty"));
        }
        if self.max_body_bytes == 0 {
            return Err(bad("intake.max_body_bytes", "must be positive"));
        }
        if self.max_signature_age < Duration::from_secs(1) {
            return Err(bad("intake.max_signature_age", "must be at least 1s"));
        }
        if self.produce_timeout < Duration::from_millis(100) || self.produce_timeout >= http.request_timeout {
            return Err(bad("intake.produce_timeout", "must be at least 100ms and shorter than http.request_timeout"));
        }
        let z = &self.zendesk;
        let c = &self.chatwoot;
        // Event ids are the ticket id plus a suffix and must fit the contract's 128 bytes; two
        // sources with one prefix could give two help desks' tickets the same id.
        for (field, prefix) in [("intake.zendesk.ticket_prefix", &z.ticket_prefix), ("intake.chatwoot.ticket_prefix", &c.ticket_prefix)] {
            if prefix.len() > MAX_TICKET_PREFIX_BYTES {
                return Err(bad(field, format!("must be at most {MAX_TICKET_PREFIX_BYTES} bytes")));
            }
        }
        if z.ticket_prefix == c.ticket_prefix {
            return Err(bad("intake.chatwoot.ticket_prefix", "must differ from intake.zendesk.ticket_prefix"));
        }
        for (field, enabled, secret) in
            [("intake.zendesk.signing_secret", z.enabled, &z.signing_secret), ("intake.chatwoot.secret", c.enabled, &c.secret)]
        {
            if enabled && secret.len() < MIN_INTAKE_SECRET_BYTES {
                return Err(bad(field, format!("must be at least {MIN_INTAKE_SECRET_BYTES} bytes when the source is enabled")));
            }
        }
        let statuses = [("intake.zendesk.statuses", &z.statuses), ("intake.chatwoot.statuses", &c.statuses)];
        for (field, map) in statuses {
            if let Some((k, v)) = map.iter().find(|(_, v)| crate::event::Status::parse(v).is_none()) {
                return Err(bad(format!("{field}.{k}"), format!("{v:?} is not a contract status")));
            }
        }
        let priorities = [("intake.zendesk.priorities", &z.priorities), ("intake.chatwoot.priorities", &c.priorities)];
        for (field, map) in priorities {
            if let Some((k, v)) = map.iter().find(|(_, v)| crate::event::Priority::parse(v).is_none()) {
                return Err(bad(format!("{field}.{k}"), format!("{v:?} is not a contract priority")));
            }
        }
        let values = [
            ("intake.zendesk.channels", &z.channels),
            ("intake.zendesk.group_teams", &z.group_teams),
            ("intake.zendesk.tag_teams", &z.tag_teams),
            ("intake.chatwoot.channels", &c.channels),
            ("intake.chatwoot.team_teams", &c.team_teams),
            ("intake.chatwoot.inbox_teams", &c.inbox_teams),
        ];
        for (field, map) in values {
            if let Some((k, _)) = map.iter().find(|(_, v)| v.is_empty()) {
                return Err(bad(format!("{field}.{k}"), "must not be empty"));
            }
        }
        let seed = &self.seed;
        if !(1..=1000).contains(&seed.page_size) {
            return Err(bad("intake.seed.page_size", "must be from 1 to 1000 (Zendesk's largest per_page)"));
        }
        if seed.max_response_bytes == 0 {
            return Err(bad("intake.seed.max_response_bytes", "must be positive"));
        }
        if seed.request_timeout < Duration::from_secs(1) {
            return Err(bad("intake.seed.request_timeout", "must be at least 1s"));
        }
        Ok(())
    }
}

/// Environment overrides: `TICKETPULSE_<SECTION>__<FIELD>`.
const ENV_PREFIX: &str = "TICKETPULSE_";
const ENV_SPLIT: &str = "__";
/// The environment overrides of `[kafka.librdkafka]` (after the prefix, lower case), taken verbatim.
const RAW_ENV: &str = "kafka__librdkafka__";
/// A field whose name contains one of these holds a secret: its environment override is
/// taken verbatim and it is read only as a string, whose value no error shows.
const SECRET_NAMES: [&str; 5] = ["secret", "password", "passphrase", "token", "key"];

/// Whether the environment override `key` (after the prefix, lower case) is taken verbatim,
/// as a string: figment's `Env` would read `4839201746582910` as a number (and put it in the
/// type error), strip the quotes of `"a"` and trim `  a  `. librdkafka properties are
/// strings to librdkafka; a secret is whatever bytes the help desk or the broker issued.
fn verbatim(key: &str) -> bool {
    key.starts_with(RAW_ENV) || key.rsplit(ENV_SPLIT).next().is_some_and(|field| SECRET_NAMES.iter().any(|name| field.contains(name)))
}

/// The environment overrides [`verbatim`] selects, each a string at its dotted key. Named
/// like an environment provider, so an error says which variable it came from.
struct VerbatimEnv(Vec<(String, String)>);

impl figment::Provider for VerbatimEnv {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable(s), taken verbatim")
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Tag, Value};
        fn insert(dict: &mut Dict, path: &[&str], value: &str) {
            match path {
                [] => {}
                [last] => drop(dict.insert((*last).to_string(), Value::from(value.to_string()))),
                [first, rest @ ..] => {
                    let entry = dict.entry((*first).to_string()).or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
                    if !matches!(entry, Value::Dict(..)) {
                        *entry = Value::Dict(Tag::Default, Dict::new());
                    }
                    if let Value::Dict(_, inner) = entry {
                        insert(inner, rest, value);
                    }
                }
            }
        }
        let mut dict = Dict::new();
        for (key, value) in &self.0 {
            insert(&mut dict, &key.split('.').collect::<Vec<_>>(), value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// A secret-bearing field: a string only. Anything else (a number in the TOML file) is
/// refused naming the field, without the value serde's type error would quote.
fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    match Raw::deserialize(d)? {
        Raw::Text(text) => Ok(text),
        Raw::Other(_) => Err(serde::de::Error::custom("must be a string (in quotes); the value is not shown")),
    }
}

impl Config {
    /// What the event parser accepts, read from `[events]`, `[time]` and `[kpis.surveys]`: the
    /// engine and the intake check events against the same limits.
    pub fn parse_limits(&self) -> crate::event::ParseLimits {
        let surveys = &self.kpis.surveys;
        crate::event::ParseLimits {
            max_message_bytes: self.events.max_message_bytes,
            max_future_skew: crate::base::millis(self.time.max_future_skew),
            csat_range: (surveys.csat.min, surveys.csat.max),
            ces_range: (surveys.ces.min, surveys.ces.max),
            esat_range: (surveys.esat.min, surveys.esat.max),
        }
    }

    /// Reads `path` (if given) then `TICKETPULSE_*` overrides, and validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::Missing(path.display().to_string()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let typed = Env::prefixed(ENV_PREFIX).split(ENV_SPLIT).filter(|key| !verbatim(&key.as_str().to_ascii_lowercase()));
        figment = figment.merge(typed);
        let mut raw = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(lower) = name.to_str().map(str::to_ascii_lowercase) else { continue };
            let Some(key) = lower.strip_prefix(ENV_PREFIX.to_ascii_lowercase().as_str()).filter(|key| verbatim(key)) else { continue };
            let field = key.replace(ENV_SPLIT, ".");
            let value = value.into_string().map_err(|_| bad(&field, format!("{} is not valid UTF-8", name.to_string_lossy())))?;
            raw.push((field, value));
        }
        figment = figment.merge(VerbatimEnv(raw));
        let config: Config = figment.extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot, field by field: ranges, duplicates, reserved values. SLA
    /// policies and the librdkafka properties are checked when compiled (`service::compile`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            return Err(bad("kafka.brokers", "must not be empty"));
        }
        if k.group_id.trim().is_empty() {
            return Err(bad("kafka.group_id", "must not be empty"));
        }
        if k.topics.is_empty() || k.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(bad("kafka.topics", "must list at least one non-empty topic"));
        }
        if k.topics.contains(&k.dead_letter_topic) {
            return Err(bad("kafka.dead_letter_topic", "must differ from the input topics"));
        }
        if let Some(key) = k.librdkafka.keys().find(|key| MANAGED_LIBRDKAFKA_KEYS.contains(&key.as_str())) {
            return Err(bad(format!("kafka.librdkafka.{key}"), "is set by ticketpulse itself; use the dedicated field"));
        }

        let h = &self.http;
        for (field, value) in [("http.header_read_timeout", h.header_read_timeout), ("http.request_timeout", h.request_timeout)] {
            if value < Duration::from_millis(100) {
                return Err(bad(field, "must be at least 100ms"));
            }
        }
        if h.body_read_timeout < Duration::from_millis(100) || h.body_read_timeout > h.request_timeout {
            return Err(bad("http.body_read_timeout", "must be at least 100ms and at most http.request_timeout"));
        }
        if h.max_connections == 0 {
            return Err(bad("http.max_connections", "must be positive"));
        }
        if h.shutdown_grace >= self.shutdown_timeout {
            return Err(bad("http.shutdown_grace", "must be shorter than shutdown_timeout"));
        }

        let t = &self.time;
        if t.windows.is_empty() {
            return Err(bad("time.windows", "must list at least one window"));
        }
        if t.slices_per_window == 0 || t.slices_per_window > 10_000 {
            return Err(bad("time.slices_per_window", "must be between 1 and 10000"));
        }
        if t.max_buffered_events == 0 {
            return Err(bad("time.max_buffered_events", "must be positive"));
        }
        for (i, w) in t.windows.iter().enumerate() {
            let ms = w.as_millis();
            if ms == 0 || ms % 1000 != 0 || ms % u128::from(t.slices_per_window) != 0 {
                return Err(bad(
                    format!("time.windows[{i}]"),
                    format!(
                        "{} must be whole seconds and divisible into {} equal millisecond slices",
                        window_label(*w),
                        t.slices_per_window
                    ),
                ));
            }
            if t.windows[..i].contains(w) {
                return Err(bad(format!("time.windows[{i}]"), "is listed twice"));
            }
        }

        let d = &self.dimensions;
        for (i, dim) in d.labels.iter().enumerate() {
            if d.labels[..i].contains(dim) {
                return Err(bad(format!("dimensions.labels[{i}]"), "is listed twice"));
            }
        }
        check_values("dimensions.channels", &d.channels, true)?;
        check_values("dimensions.teams", &d.teams, false)?;

        if self.events.max_message_bytes == 0 {
            return Err(bad("events.max_message_bytes", "must be positive"));
        }
        if self.tickets.retention < Duration::from_secs(1) {
            return Err(bad("tickets.retention", "must be at least 1s"));
        }
        if self.tickets.max_per_partition == 0 {
            return Err(bad("tickets.max_per_partition", "must be positive"));
        }
        if self.events.dedup_ids_per_ticket == 0 {
            return Err(bad("events.dedup_ids_per_ticket", "must be positive"));
        }
        let s = &self.snapshots;
        if s.interval < Duration::from_millis(100) {
            return Err(bad("snapshots.interval", "must be at least 100ms"));
        }
        match s.store {
            SnapshotStoreKind::Local if s.dir.as_os_str().is_empty() => return Err(bad("snapshots.dir", "must not be empty")),
            SnapshotStoreKind::Kafka if s.topic.trim().is_empty() => return Err(bad("snapshots.topic", "must not be empty")),
            SnapshotStoreKind::Kafka if k.topics.contains(&s.topic) || s.topic == k.dead_letter_topic => {
                return Err(bad("snapshots.topic", "must differ from the input and dead-letter topics"))
            }
            _ => {}
        }
        if s.chunk_bytes < 1024 {
            return Err(bad("snapshots.chunk_bytes", "must be at least 1024"));
        }
        check_buckets("abandonment.wait_buckets", &self.abandonment.wait_buckets)?;
        if let Some(url) = &self.ui.ticket_url {
            // Only web links: the page must never carry a `javascript:` or `data:` URL.
            if !(url.starts_with("https://") || url.starts_with("http://")) || !url.contains(TICKET_ID_PLACEHOLDER) {
                return Err(bad("ui.ticket_url", format!("must be an http:// or https:// URL containing {TICKET_ID_PLACEHOLDER}")));
            }
        }
        self.validate_kpis()?;
        self.intake.validate(&self.http)
    }

    fn validate_kpis(&self) -> Result<(), ConfigError> {
        let k = &self.kpis;
        for (name, scale) in [("csat", &k.surveys.csat), ("ces", &k.surveys.ces), ("esat", &k.surveys.esat)] {
            // Named after the field at fault; with defaults filling the rest, the message
            // gives the values it was checked against.
            let field = |f: &str| format!("kpis.surveys.{name}.{f}");
            for (f, v) in [("min", scale.min), ("max", scale.max), ("good_from", scale.good_from)] {
                if !v.is_finite() {
                    return Err(bad(field(f), "must be a finite number"));
                }
            }
            if scale.min >= scale.max {
                return Err(bad(field("max"), format!("must be greater than min ({})", scale.min)));
            }
            if !(scale.min..=scale.max).contains(&scale.good_from) {
                return Err(bad(field("good_from"), format!("must be within min..=max ({}..={})", scale.min, scale.max)));
            }
        }
        let r = &k.realtime;
        check_values("kpis.realtime.channels", &r.channels, true)?;
        for (i, channel) in r.channels.iter().enumerate() {
            if !self.dimensions.channels.contains(channel) {
                return Err(bad(format!("kpis.realtime.channels[{i}]"), format!("{channel:?} is not in dimensions.channels")));
            }
            match r.service_level_thresholds.get(channel) {
                None => return Err(bad("kpis.realtime.service_level_thresholds", format!("has no threshold for {channel:?}"))),
                Some(d) if d.is_zero() => return Err(bad(format!("kpis.realtime.service_level_thresholds.{channel}"), "must be positive")),
                Some(_) => {}
            }
        }
        if let Some(extra) = r.service_level_thresholds.keys().find(|c| !r.channels.contains(c)) {
            return Err(bad(format!("kpis.realtime.service_level_thresholds.{extra}"), "is not in kpis.realtime.channels"));
        }
        check_buckets("kpis.backlog.age_buckets", &k.backlog.age_buckets)?;
        if k.backlog.stale_after.is_zero() {
            return Err(bad("kpis.backlog.stale_after", "must be positive"));
        }
        check_values("kpis.topics.allow", &k.topics.allow, false)?;
        if k.topics.allow.is_empty() && k.topics.top == 0 {
            return Err(bad("kpis.topics.top", "must be positive when kpis.topics.allow is empty"));
        }
        if k.topics.max_tracked_per_slice < k.topics.top {
            return Err(bad("kpis.topics.max_tracked_per_slice", "must be at least kpis.topics.top"));
        }
        check_values("kpis.agents.allow", &k.agents.allow, false)?;
        if k.agents.allow.is_empty() && k.agents.top == 0 {
            return Err(bad("kpis.agents.top", "must be positive when kpis.agents.allow is empty"));
        }
        if k.agents.max_tracked_per_slice < k.agents.top.max(k.agents.allow.len()) {
            return Err(bad("kpis.agents.max_tracked_per_slice", "must be at least kpis.agents.top and the length of kpis.agents.allow"));
        }
        if k.cost.per_hour.is_some_and(|c| !c.is_finite() || c <= 0.0) {
            return Err(bad("kpis.cost.per_hour", "must be a positive number"));
        }
        if !(-1.0..=1.0).contains(&k.sentiment.negative_below) {
            return Err(bad("kpis.sentiment.negative_below", "must be between -1 and 1"));
        }
        if let Some(buckets) = &k.histograms.buckets {
            // Each bound is a series per key and partition: bounded like the other bucket lists.
            if buckets.is_empty() || buckets.len() > 30 {
                return Err(bad("kpis.histograms.buckets", "must list 1 to 30 bounds"));
            }
            if let Some(i) = buckets.iter().position(|b| !b.is_finite() || *b <= 0.0) {
                return Err(bad(format!("kpis.histograms.buckets[{i}]"), "must be a positive, finite number of seconds"));
            }
        }
        let st = &k.staffing;
        if !(st.service_level > 0.0 && st.service_level < 1.0) {
            return Err(bad("kpis.staffing.service_level", "must be between 0 and 1, both excluded"));
        }
        for (field, value) in [("kpis.staffing.max_occupancy", st.max_occupancy), ("kpis.staffing.target_occupancy", st.target_occupancy)] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(bad(field, "must be above 0 and at most 1"));
            }
        }
        if st.backlog_horizon.is_zero() {
            return Err(bad("kpis.staffing.backlog_horizon", "must be positive"));
        }
        if st.max_agents_per_slice == 0 {
            return Err(bad("kpis.staffing.max_agents_per_slice", "must be positive"));
        }
        Ok(())
    }
}

/// Bucket bounds: 1 to 20 positive durations, strictly ascending.
fn check_buckets(field: &str, bounds: &[Duration]) -> Result<(), ConfigError> {
    if bounds.is_empty() || bounds.len() > 20 {
        return Err(bad(field, "must list 1 to 20 durations"));
    }
    for (i, b) in bounds.iter().enumerate() {
        if b.is_zero() || (i > 0 && *b <= bounds[i - 1]) {
            return Err(bad(format!("{field}[{i}]"), "must be positive and greater than the bound before it"));
        }
    }
    Ok(())
}

fn check_values(field: &str, values: &[String], lowercase: bool) -> Result<(), ConfigError> {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || RESERVED_LABEL_VALUES.contains(&v.as_str()) {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} is empty or reserved ({RESERVED_LABEL_VALUES:?})")));
        }
        if lowercase && v.to_ascii_lowercase() != *v {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} must be lower case")));
        }
        if values[..i].contains(v) {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} is listed twice")));
        }
    }
    Ok(())
}

/// One line per problem, each naming the field and where its value came from (a file or an
/// environment variable), without figment's profile prefix.
fn describe(error: figment::Error) -> ConfigError {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let field = e.path.join(".");
            let origin = e.metadata.as_ref().map(|m| match &m.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                _ if m.name.contains("environment") => format!("{ENV_PREFIX}{}", e.path.join(ENV_SPLIT).to_ascii_uppercase()),
                _ => m.name.to_string(),
            });
            let problem = match &e.kind {
                figment::error::Kind::UnknownField(_, expected) => format!("unknown field; expected one of {}", expected.join(", ")),
                kind => without_source_lines(&kind.to_string()),
            };
            match (field.is_empty(), origin) {
                (true, Some(origin)) => format!("{origin}: {problem}"),
                (true, None) => problem,
                (false, Some(origin)) => format!("{field}: {problem} (from {origin})"),
                (false, None) => format!("{field}: {problem}"),
            }
        })
        .collect();
    ConfigError::Parse(lines.join("\n"))
}

/// A TOML syntax error without the lines of the file it quotes (`2 | "sasl.password" = ...`):
/// the line may hold a secret, and the line and column already say where to look.
fn without_source_lines(message: &str) -> String {
    let quoted = |line: &str| line.trim_start().trim_start_matches(|c: char| c.is_ascii_digit()).trim_start().starts_with('|');
    message.lines().filter(|line| !quoted(line)).collect::<Vec<_>>().join("; ")
}

/// A list, given as a sequence or as one comma-separated string: environment overrides are
/// easiest to write that way (`TICKETPULSE_TIME__WINDOWS=5m,1h`). An empty string is an empty
/// list.
fn list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    struct ListVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list, or a comma-separated string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<T>, E> {
            use serde::de::IntoDeserializer;
            text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(|item| T::deserialize(item.into_deserializer())).collect()
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(ListVisitor(std::marker::PhantomData))
}

fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts: Vec<String> = list(d)?;
    texts.iter().map(|t| humantime::parse_duration(t).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))).collect()
}

/// Numbers of seconds or duration texts (`"5m"`), in a list or a comma-separated string (an
/// environment override).
fn seconds_or_durations<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Bound {
        Seconds(f64),
        Text(String),
    }
    let bounds: Vec<Bound> = list(d)?;
    bounds
        .into_iter()
        .map(|b| match b {
            Bound::Seconds(s) => Ok(s),
            // A number from the environment's comma form arrives as text.
            Bound::Text(t) => t.parse::<f64>().or_else(|_| {
                humantime::parse_duration(&t).map(|d| d.as_secs_f64()).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))
            }),
        })
        .collect::<Result<Vec<f64>, D::Error>>()
        .map(Some)
}

fn duration_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Duration>, D::Error> {
    let texts = BTreeMap::<String, String>::deserialize(d)?;
    texts
        .into_iter()
        .map(|(k, t)| humantime::parse_duration(&t).map(|d| (k, d)).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}"))))
        .collect()
}

/// Accepts both `"sasl.password" = "x"` and TOML dotted / environment-nested keys
/// (`sasl.password = "x"`, `TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD`), which arrive as
/// nested tables, and flattens them back into librdkafka's dotted property names.
fn flatten_properties<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Node {
        Text(String),
        Int(i64),
        Bool(bool),
        Table(BTreeMap<String, Node>),
    }
    fn walk(prefix: &str, node: Node, out: &mut BTreeMap<String, String>) {
        match node {
            Node::Text(s) => drop(out.insert(prefix.to_string(), s)),
            Node::Int(i) => drop(out.insert(prefix.to_string(), i.to_string())),
            Node::Bool(b) => drop(out.insert(prefix.to_string(), b.to_string())),
            Node::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", Node::Table(BTreeMap::deserialize(d)?), &mut out);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its error type by value.
mod tests {
    use super::*;
    use std::io::Write;

    /// Loads `toml` in a jail: tests that set environment overrides run in one too, and the
    /// jail's lock keeps them from leaking into this one.
    fn load_str(toml: &str) -> Result<Config, ConfigError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(toml.as_bytes()).unwrap();
        load_jailed(f.path())
    }

    fn load_jailed(path: &Path) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|_| {
            result = Some(Config::load(Some(path)));
            Ok(())
        });
        result.expect("the jail ran")
    }

    #[test]
    fn shipped_config_is_valid_and_matches_defaults() {
        let shipped = load_jailed(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ticketpulse.toml"))).unwrap();
        let default = Config::default();
        assert_eq!(shipped.time.windows, default.time.windows);
        assert_eq!(shipped.time.max_buffered_events, default.time.max_buffered_events);
        assert_eq!(shipped.kafka.topics, default.kafka.topics);
        assert_eq!(shipped.dimensions.channels, default.dimensions.channels);
        assert_eq!(format!("{:?}", shipped.sla), format!("{:?}", default.sla));
        assert_eq!(format!("{:?}", shipped.abandonment), format!("{:?}", default.abandonment));
        assert_eq!(format!("{:?}", shipped.kpis), format!("{:?}", default.kpis));
        assert_eq!(format!("{:?}", shipped.ui), format!("{:?}", default.ui));
        assert_eq!(format!("{:?}", shipped.intake), format!("{:?}", default.intake));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = load_str("[time]\nwindowz = [\"5m\"]\n").unwrap_err().to_string();
        assert!(err.contains("windowz"), "{err}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            ("[time]\nwindows = [\"7s\"]\n", "time.windows[0]"),
            ("[time]\nwindows = [\"5m\", \"5m\"]\n", "time.windows[1]"),
            ("[time]\nmax_buffered_events = 0\n", "time.max_buffered_events"),
            ("[dimensions]\nchannels = [\"Email\"]\n", "dimensions.channels[0]"),
            ("[dimensions]\nteams = [\"other\"]\n", "dimensions.teams[0]"),
            ("[kafka.librdkafka]\n\"group.id\" = \"x\"\n", "kafka.librdkafka.group.id"),
            ("[abandonment]\nwait_buckets = [\"30s\", \"10s\"]\n", "abandonment.wait_buckets[1]"),
            ("[kpis.surveys.csat]\nmin = 5.0\nmax = 1.0\ngood_from = 4.0\n", "kpis.surveys.csat.max"),
            // Only good_from given: checked against the CES default 1..=7.
            ("[kpis.surveys.ces]\ngood_from = 8.0\n", "kpis.surveys.ces.good_from"),
            ("[kpis.surveys.csat]\nmin = 6.0\n", "kpis.surveys.csat.max"),
            ("[kpis.surveys.esat]\nmin = 1.0\nmax = 5.0\ngood_from = 6.0\n", "kpis.surveys.esat.good_from"),
            ("[kpis.realtime]\nchannels = [\"chat\", \"fax\"]\n", "kpis.realtime.channels[1]"),
            ("[kpis.realtime]\nchannels = [\"chat\", \"web\"]\n", "kpis.realtime.service_level_thresholds"),
            (
                "[kpis.realtime.service_level_thresholds]\nchat = \"20s\"\nphone = \"30s\"\nmessaging = \"1m\"\nweb = \"1m\"\n",
                "kpis.realtime.service_level_thresholds.web",
            ),
            ("[kpis.topics]\ntop = 30\nmax_tracked_per_slice = 10\n", "kpis.topics.max_tracked_per_slice"),
            ("[kpis.agents]\ntop = 30\nmax_tracked_per_slice = 10\n", "kpis.agents.max_tracked_per_slice"),
            ("[kpis.agents]\ntop = 0\n", "kpis.agents.top"),
            ("[kpis.agents]\nallow = [\"a-1\", \"other\"]\n", "kpis.agents.allow[1]"),
            ("[kpis.cost]\nper_hour = -5.0\n", "kpis.cost.per_hour"),
            ("[kpis.sentiment]\nnegative_below = -2.0\n", "kpis.sentiment.negative_below"),
            ("[kpis.staffing]\nservice_level = 1.0\n", "kpis.staffing.service_level"),
            ("[kpis.staffing]\nmax_occupancy = 0.0\n", "kpis.staffing.max_occupancy"),
            ("[kpis.staffing]\ntarget_occupancy = 1.5\n", "kpis.staffing.target_occupancy"),
            ("[kpis.staffing]\nbacklog_horizon = \"0s\"\n", "kpis.staffing.backlog_horizon"),
            ("[kpis.staffing]\nmax_agents_per_slice = 0\n", "kpis.staffing.max_agents_per_slice"),
            ("[ui]\nticket_url = \"javascript:alert({ticket_id})\"\n", "ui.ticket_url"),
            ("[ui]\nticket_url = \"https://desk.example.com/tickets/\"\n", "ui.ticket_url"),
        ];
        for (toml, field) in cases {
            let err = load_str(toml).unwrap_err().to_string();
            assert!(err.starts_with(field), "{toml}: {err}");
        }
        let err = load_str("[time]\nallowed_lateness = \"soon\"\n").unwrap_err().to_string();
        assert!(err.contains("time.allowed_lateness"), "{err}");
    }

    #[test]
    fn a_survey_scale_with_only_good_from_keeps_the_other_defaults() {
        // Issue 26: `[kpis.surveys.csat]` with only good_from was refused (missing field `min`).
        let c = load_str("[kpis.surveys.csat]\ngood_from = 3.0\n").unwrap();
        assert_eq!(c.kpis.surveys.csat, ScaleConfig { min: 1.0, max: 5.0, good_from: 3.0 });
        assert_eq!(c.kpis.surveys.ces, CES_SCALE, "the other survey untouched");
        let c = load_str("[kpis.surveys.ces]\nmax = 10.0\n").unwrap();
        assert_eq!(c.kpis.surveys.ces, ScaleConfig { min: 1.0, max: 10.0, good_from: 5.0 });
        assert!(load_str("[kpis.surveys.ces]\ngood = 5.0\n").unwrap_err().to_string().contains("good"), "unknown keys refused");
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_KPIS__SURVEYS__CES__GOOD_FROM", "4.5");
            let c = Config::load(None).unwrap();
            // CES default 1..=7 around it; CSAT untouched.
            assert_eq!(c.kpis.surveys.ces, ScaleConfig { min: 1.0, max: 7.0, good_from: 4.5 });
            assert_eq!(c.kpis.surveys.csat, CSAT_SCALE);
            Ok(())
        });
    }

    #[test]
    fn librdkafka_properties_flatten_dotted_keys() {
        let c =
            load_str("[kafka.librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\nsasl.password = \"s3cret\"\n\"fetch.wait.max.ms\" = 50\n")
                .unwrap();
        let keys: Vec<_> = c.kafka.librdkafka.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(keys, ["fetch.wait.max.ms=50", "sasl.password=s3cret", "security.protocol=SASL_SSL"]);
    }

    #[test]
    fn lists_from_the_environment_take_the_comma_form() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_TIME__WINDOWS", "5m, 1h");
            jail.set_env("TICKETPULSE_KAFKA__TOPICS", "a,b");
            jail.set_env("TICKETPULSE_DIMENSIONS__LABELS", "channel,team");
            jail.set_env("TICKETPULSE_KPIS__TOPICS__ALLOW", "");
            let c = Config::load(None).unwrap();
            assert_eq!(c.time.windows, [Duration::from_secs(300), Duration::from_secs(3600)]);
            assert_eq!(c.kafka.topics, ["a", "b"]);
            assert_eq!(c.dimensions.labels, [Dimension::Channel, Dimension::Team]);
            assert!(c.kpis.topics.allow.is_empty());
            jail.set_env("TICKETPULSE_TIME__WINDOWS", r#"["5m","24h"]"#);
            assert_eq!(Config::load(None).unwrap().time.windows, [Duration::from_secs(300), Duration::from_secs(86400)]);
            Ok(())
        });
    }

    #[test]
    fn librdkafka_overrides_from_the_environment_are_taken_verbatim() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD", "007123");
            jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__CLIENT__ID", " {x=1} ");
            jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__FETCH__WAIT__MAX__MS", "50");
            let c = Config::load(None).unwrap();
            let props: Vec<_> = c.kafka.librdkafka.iter().map(|(k, v)| format!("{k}={v}")).collect();
            assert_eq!(props, ["client.id= {x=1} ", "fetch.wait.max.ms=50", "sasl.password=007123"]);
            Ok(())
        });
    }

    #[test]
    fn intake_secrets_from_the_environment_are_taken_verbatim() {
        // Each value as the help desk issued it: digits only, with its own quotes, with spaces
        // around it. figment's Env would make the first a number and strip or trim the others.
        for value in ["4839201746582910", "\"quoted-secret-0123\"", "  spaced-secret-0123  "] {
            figment::Jail::expect_with(|jail| {
                jail.set_env("TICKETPULSE_INTAKE__CHATWOOT__SECRET", value);
                jail.set_env("TICKETPULSE_INTAKE__ZENDESK__SIGNING_SECRET", value);
                jail.set_env("TICKETPULSE_INTAKE__ZENDESK__ENABLED", "true");
                let c = Config::load(None).unwrap();
                assert_eq!((c.intake.chatwoot.secret.as_str(), c.intake.zendesk.signing_secret.as_str()), (value, value));
                // Other fields still read the typed way.
                assert!(c.intake.zendesk.enabled);
                Ok(())
            });
        }
    }

    #[test]
    fn secret_named_overrides_are_strings_and_unknown_ones_are_named_without_their_value() {
        assert!([
            "intake__chatwoot__secret",
            "intake__zendesk__signing_secret",
            "kafka__librdkafka__sasl__password",
            "a__api_key",
            "a__token"
        ]
        .iter()
        .all(|k| verbatim(k)));
        assert!(!["intake__zendesk__enabled", "http__max_connections", "kpis__agents__top"].iter().any(|k| verbatim(k)));
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_INTAKE__ZENDESK__SECRET", "4839201746582910");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.starts_with("intake.zendesk.secret: unknown field; expected one of enabled, signing_secret,"), "{err}");
            assert!(err.ends_with("(from TICKETPULSE_INTAKE__ZENDESK__SECRET)"), "{err}");
            assert!(!err.contains("4839201746582910"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_number_for_a_secret_in_the_file_is_refused_naming_the_field_not_the_value() {
        for (toml, field) in [
            ("[intake.chatwoot]\nsecret = 4839201746582910\n", "intake.chatwoot.secret"),
            ("[intake.zendesk]\nsigning_secret = 4839201746582910\n", "intake.zendesk.signing_secret"),
            ("[intake.zendesk]\nsigning_secret = true\n", "intake.zendesk.signing_secret"),
        ] {
            let err = load_str(toml).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{field}: must be a string (in quotes); the value is not shown (from ")), "{err}");
            assert!(!err.contains("4839201746582910") && !err.contains("true"), "{err}");
        }
        let c = load_str("[intake.chatwoot]\nsecret = \"4839201746582910\"\n").unwrap();
        assert_eq!(c.intake.chatwoot.secret, "4839201746582910");
    }

    #[test]
    fn a_parse_error_is_told_once_with_its_field_and_origin() {
        let err = load_str("[kafka]\nbrokerz = \"x\"\n").unwrap_err().to_string();
        let (message, origin) = err.split_once(" (from ").unwrap();
        assert_eq!(
            message,
            "kafka.brokerz: unknown field; expected one of brokers, group_id, topics, dead_letter_topic, auto_offset_reset, librdkafka"
        );
        assert!(origin.starts_with(std::env::temp_dir().to_str().unwrap()) && origin.ends_with(')'), "{err}");
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_TIME__ALLOWED_LATENESS", "soon");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.starts_with("time.allowed_lateness: "), "{err}");
            assert!(err.ends_with("(from TICKETPULSE_TIME__ALLOWED_LATENESS)"), "{err}");
            assert!(!err.contains("default."), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_toml_syntax_error_does_not_quote_the_line_it_is_on() {
        let err = load_str("[kafka.librdkafka]\n\"sasl.password\" = \"Hunter2Secret\n").unwrap_err().to_string();
        assert!(err.ends_with(": TOML parse error at line 2, column 33; invalid basic string"), "{err}");
        let err =
            load_str("[kafka.librdkafka]\n\"sasl.password\" = \"a\"\n\"sasl.password\" = \"Hunter2Secret\"\n").unwrap_err().to_string();
        assert!(
            err.ends_with(": TOML parse error at line 3, column 1; duplicate key `sasl.password` in table `kafka.librdkafka`"),
            "{err}"
        );
    }
}
