//! `[abandonment]` and `[kpis.*]`: the KPI catalogue's settings (surveys, real-time channels,
//! backlog, topics, agents, cost, sentiment, histograms, staffing).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::de::{duration_map, durations, list, seconds_or_durations};
use super::{bad, check_buckets, check_values, ConfigError, DimensionsConfig};

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

impl AbandonmentConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_buckets("abandonment.wait_buckets", &self.wait_buckets)
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
/// always a bound (so "within target" is an exact ratio), besides these; and whether they are
/// also offered as native histograms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramsConfig {
    /// Bounds in seconds (numbers) or durations (`"5m"`), any order; unset (the default):
    /// 1m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 24h, 48h, 7d, 30d. Changing them reshapes snapshots.
    #[serde(deserialize_with = "seconds_or_durations")]
    pub buckets: Option<Vec<f64>>,
    /// Default true: a scraper that asks for the protobuf exposition (Prometheus with
    /// `--enable-feature=native-histograms`) gets it, the cumulative histograms with native
    /// buckets. false: `/metrics` always answers the text format, for a Prometheus 2.40 to 2.44
    /// that has the feature on for other targets: it would store these histograms as native
    /// series only, without the classic ones the shipped rules read. The native buckets are
    /// counted either way (state and snapshots do not change with it).
    pub native: bool,
}

impl Default for HistogramsConfig {
    fn default() -> Self {
        Self { buckets: None, native: true }
    }
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

pub(super) const CSAT_SCALE: ScaleConfig = ScaleConfig { min: 1.0, max: 5.0, good_from: 4.0 };
pub(super) const CES_SCALE: ScaleConfig = ScaleConfig { min: 1.0, max: 7.0, good_from: 5.0 };

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

impl KpisConfig {
    /// Real-time channels must be among `dimensions.channels`.
    pub(super) fn validate(&self, dimensions: &DimensionsConfig) -> Result<(), ConfigError> {
        let k = self;
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
            if !dimensions.channels.contains(channel) {
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
