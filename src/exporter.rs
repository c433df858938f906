//! The Prometheus exporter: a custom [`Collector`] that renders every series from engine state
//! at scrape time (the hot path never touches a registry, and series of keys that left every
//! window disappear), and the HTTP endpoints `/metrics`, the health checks and, beside them
//! unless they have their own address, those of [`crate::tickets`] (served by [`crate::http`]).
//!
//! Metric names, labels and meaning are listed in `docs/metrics.md`.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

use crate::agent::{AgentSlice, AgentTally};
use crate::base::Millis;
use crate::clock::WallClock;
use crate::config::HttpConfig;
use crate::dimensions::DimKey;
use crate::engine::Rules;
use crate::engine::{Engine, PartitionClock, SlaRow, View};
use crate::event::Survey;
use crate::internal_events::Telemetry;
use crate::kpi::{bucket_labels, KpiSlice, SlaSlice, SurveyTally, TopicSlice, NO_TOPIC, OTHER_TOPIC};
use crate::sla::{PolicyId, SlaTarget};
use crate::tickets::Api;
use crate::window::Distribution;

/// Quantiles reported for every duration distribution.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Renders the engine and the telemetry on every scrape.
pub struct KpiCollector {
    engine: Arc<Mutex<Engine>>,
    telemetry: Arc<Telemetry>,
    /// The live service's clock; `None` in replay, where time is stream time only.
    clock: Option<WallClock>,
}

impl KpiCollector {
    pub fn new(engine: Arc<Mutex<Engine>>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Self {
        Self { engine, telemetry, clock }
    }
}

impl Collector for KpiCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let engine = crate::lock(&self.engine);
        let view = engine.view(self.clock.map(|c| c.now()));
        let rules = engine.rules();
        let names = Names {
            windows: rules.windows.iter().map(|w| w.label.clone()).collect(),
            horizons: rules.ticket.policies.horizons().iter().map(|(label, _)| label.clone()).collect(),
            wait_buckets: bucket_labels(&rules.ticket.kpi.abandon_wait_buckets),
            age_buckets: bucket_labels(&rules.backlog_buckets),
            dims: &|key| rules.ticket.catalog.labels(key),
            policy: &|id| rules.ticket.policies.name(id).to_string(),
        };
        let mut out = Families::default();
        render_kpis(&mut out, &view, &names);
        render_topics(&mut out, &view, &names, rules);
        render_agents(&mut out, &view, &names, rules);
        render_cost(&mut out, &view, &names, rules);
        render_sla(&mut out, &view, &names, rules);
        drop(engine);
        render_self(&mut out, &view, &self.telemetry);
        out.0
    }
}

/// Builds the registry that `/metrics` and `replay` encode.
pub fn registry(engine: Arc<Mutex<Engine>>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Registry {
    let registry = Registry::new();
    registry.register(Box::new(KpiCollector::new(engine, telemetry, clock))).expect("a collector without descriptors always registers");
    registry
}

/// Prometheus text exposition of everything in the registry.
pub fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut buf).expect("families are well formed");
    String::from_utf8(buf).expect("the text format is UTF-8")
}

type Labels = Vec<(&'static str, String)>;

/// Label values by id, resolved from configuration.
struct Names<'a> {
    windows: Vec<String>,
    horizons: Vec<String>,
    /// `wait` label values of abandon wait buckets, and `age` values of backlog age buckets.
    wait_buckets: Vec<String>,
    age_buckets: Vec<String>,
    dims: &'a dyn Fn(DimKey) -> Labels,
    policy: &'a dyn Fn(PolicyId) -> String,
}

/// Selects one of a slice's duration distributions.
type PickDistribution = fn(&KpiSlice) -> &Distribution;

/// Reads one count of a current SLA series.
type SlaCount = fn(&SlaRow) -> i64;

/// Reads the denominator of a cost from a window's (solved, created) totals.
type PickTotal = fn(&(u64, u64)) -> u64;

/// Reads one per-partition progress value.
type ClockValue = fn(&PartitionClock) -> f64;

/// Metric families under construction, in declaration order.
#[derive(Default)]
struct Families(Vec<MetricFamily>);

impl Families {
    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(kind);
        self.0.push(mf);
        self.0.last_mut().expect("just pushed")
    }
}

fn metric(labels: &Labels) -> Metric {
    let pairs = labels
        .iter()
        .map(|(name, value)| {
            let mut lp = LabelPair::default();
            lp.set_name(name.to_string());
            lp.set_value(value.clone());
            lp
        })
        .collect();
    let mut m = Metric::default();
    m.set_label(pairs);
    m
}

fn push_gauge(mf: &mut MetricFamily, labels: &Labels, value: f64) {
    let mut m = metric(labels);
    let mut g = Gauge::default();
    g.set_value(value);
    m.set_gauge(g);
    mf.mut_metric().push(m);
}

fn push_counter(mf: &mut MetricFamily, labels: &Labels, value: u64) {
    let mut m = metric(labels);
    let mut c = Counter::default();
    c.set_value(value as f64);
    m.set_counter(c);
    mf.mut_metric().push(m);
}

fn push_summary(mf: &mut MetricFamily, labels: &Labels, d: &Distribution) {
    let mut m = metric(labels);
    let mut s = Summary::default();
    s.set_sample_count(d.count());
    s.set_sample_sum(d.sum());
    s.set_quantile(
        QUANTILES
            .iter()
            .map(|q| {
                let mut quantile = Quantile::default();
                quantile.set_quantile(*q);
                quantile.set_value(d.quantile(*q).unwrap_or(f64::NAN));
                quantile
            })
            .collect(),
    );
    m.set_summary(s);
    mf.mut_metric().push(m);
}

fn with(labels: &Labels, name: &'static str, value: &str) -> Labels {
    let mut l = labels.clone();
    l.push((name, value.to_string()));
    l
}

/// A windowed family: one series per row whose value is `Some`.
fn windowed<'a, T: Copy + 'a>(
    out: &mut Families,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = &'a (Labels, T)>,
    value: impl Fn(T) -> Option<f64>,
) {
    let mf = out.family(name, help, MetricType::GAUGE);
    for (labels, item) in rows {
        if let Some(v) = value(*item) {
            push_gauge(mf, labels, v);
        }
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn render_kpis(out: &mut Families, view: &View, names: &Names<'_>) {
    let rows: Vec<(Labels, &KpiSlice)> = view
        .windows
        .iter()
        .map(|((w, key), slice)| {
            let mut labels = vec![("window", names.windows[*w].clone())];
            labels.extend((names.dims)(*key));
            (labels, slice)
        })
        .collect();

    windowed(out, "ticketpulse_tickets_created", "Tickets created in the window (counted at ticket_created.at).", &rows, |s| {
        Some(s.created as f64)
    });
    let distributions: [(&str, &str, PickDistribution); 4] = [
        (
            "ticketpulse_first_response_time_seconds",
            "First public human agent reply minus creation, recorded at the reply, in the window.",
            |s| &s.first_response,
        ),
        (
            "ticketpulse_next_reply_time_seconds",
            "Later public agent replies minus the oldest customer message each answers, recorded at the reply, in the window.",
            |s| &s.next_reply,
        ),
        (
            "ticketpulse_first_resolution_time_seconds",
            "Creation to first solved (once per ticket), recorded at the solve, in the window.",
            |s| &s.first_resolution,
        ),
        (
            "ticketpulse_full_resolution_time_seconds",
            "Creation to each solved (again after a reopen), recorded at the solve, in the window.",
            |s| &s.full_resolution,
        ),
    ];
    for (name, help, pick) in distributions {
        let mf = out.family(name, help, MetricType::SUMMARY);
        for (labels, s) in &rows {
            if pick(s).count() > 0 {
                push_summary(mf, labels, pick(s));
            }
        }
        let max_name = name.replace("_seconds", "_max_seconds");
        windowed(out, &max_name, &format!("Largest value of {name} in the window."), &rows, |s| pick(s).max());
    }
    windowed(out, "ticketpulse_tickets_reopened", "Solved or closed tickets moved back to an open status in the window.", &rows, |s| {
        Some(s.reopened as f64)
    });
    windowed(
        out,
        "ticketpulse_abandoned_contacts",
        "Contacts abandoned before any public agent reply, not counting short abandons, in the window.",
        &rows,
        |s| Some(s.abandoned as f64),
    );
    windowed(
        out,
        "ticketpulse_short_abandoned_contacts",
        "Contacts abandoned sooner than short_abandon_threshold after creation, in the window.",
        &rows,
        |s| Some(s.short_abandoned as f64),
    );
    windowed(
        out,
        "ticketpulse_abandonment_ratio",
        "Abandoned contacts (short abandons excluded) divided by tickets created, in the window.",
        &rows,
        |s| ratio(s.abandoned, s.created),
    );

    render_resolution_quality(out, &rows);
    render_contact_centre(out, &rows, names);
    render_surveys(out, &rows);
    render_workload(out, &rows);

    let mf = out.family("ticketpulse_open_tickets", "Tickets created and not solved or closed, by status (current).", MetricType::GAUGE);
    for ((status, key), n) in &view.current.open {
        push_gauge(mf, &with(&(names.dims)(*key), "status", status.as_str()), *n as f64);
    }
    let mf = out.family(
        "ticketpulse_oldest_unanswered_message_age_seconds",
        "Age of the oldest customer message of an open ticket not yet answered by a public agent message (current).",
        MetricType::GAUGE,
    );
    for (key, age) in &view.current.oldest_unanswered {
        push_gauge(mf, &(names.dims)(*key), seconds(*age));
    }
    let mf = out.family(
        "ticketpulse_backlog_tickets",
        "Open tickets by age since creation; bucket bounds from kpis.backlog.age_buckets (current).",
        MetricType::GAUGE,
    );
    for (key, counts) in &view.current.backlog {
        let labels = (names.dims)(*key);
        for (age, n) in names.age_buckets.iter().zip(counts) {
            push_gauge(mf, &with(&labels, "age", age), *n as f64);
        }
    }
    let mf = out.family("ticketpulse_stale_open_tickets", "Open tickets older than kpis.backlog.stale_after (current).", MetricType::GAUGE);
    for (key, n) in &view.current.stale {
        push_gauge(mf, &(names.dims)(*key), *n as f64);
    }
}

type Rows<'a> = [(Labels, &'a KpiSlice)];

/// Solves, resolution and reopen ratios, first-contact resolution.
fn render_resolution_quality(out: &mut Families, rows: &Rows<'_>) {
    windowed(out, "ticketpulse_tickets_solved", "Every transition to solved or closed (again after a reopen), in the window.", rows, |s| {
        Some(s.full_resolution.count() as f64)
    });
    windowed(
        out,
        "ticketpulse_resolution_ratio",
        "Tickets solved for the first time divided by tickets created, in the window.",
        rows,
        |s| ratio(s.first_resolution.count(), s.created),
    );
    windowed(out, "ticketpulse_reopen_ratio", "Reopens divided by solves, in the window.", rows, |s| {
        ratio(s.reopened, s.full_resolution.count())
    });
    let mf = out.family(
        "ticketpulse_first_solved_tickets",
        "First solves by the number of public agent replies before them (0, 1, 2+), in the window.",
        MetricType::GAUGE,
    );
    for (labels, s) in rows {
        if s.first_solves_by_replies.iter().sum::<u64>() > 0 {
            for (replies, n) in ["0", "1", "2+"].iter().zip(s.first_solves_by_replies) {
                push_gauge(mf, &with(labels, "agent_replies", replies), n as f64);
            }
        }
    }
    windowed(
        out,
        "ticketpulse_first_contact_resolution_ratio",
        "First solves after exactly one public agent reply divided by first solves after at least one, in the window.",
        rows,
        |s| {
            let [_, one, more] = s.first_solves_by_replies;
            ratio(one, one + more)
        },
    );
}

/// Real-time channels: service level, speed of answer, abandons by wait.
fn render_contact_centre(out: &mut Families, rows: &Rows<'_>, names: &Names<'_>) {
    let realtime = |s: &KpiSlice| s.realtime_answered + s.realtime_abandoned > 0;
    windowed(
        out,
        "ticketpulse_realtime_answered_contacts",
        "Real-time contacts (kpis.realtime.channels) given a first public agent reply, in the window.",
        rows,
        |s| realtime(s).then_some(s.realtime_answered as f64),
    );
    windowed(
        out,
        "ticketpulse_realtime_answered_within_threshold_contacts",
        "Real-time contacts answered within their channel's service-level threshold, in the window.",
        rows,
        |s| realtime(s).then_some(s.realtime_within as f64),
    );
    windowed(
        out,
        "ticketpulse_service_level_ratio",
        "Real-time contacts answered within the threshold divided by answered plus abandoned (short abandons excluded), in the window.",
        rows,
        |s| ratio(s.realtime_within, s.realtime_answered + s.realtime_abandoned),
    );
    windowed(
        out,
        "ticketpulse_average_speed_of_answer_seconds",
        "Total wait of answered real-time contacts divided by answered contacts, in the window.",
        rows,
        |s| (s.realtime_answered > 0).then(|| s.realtime_wait_sum / s.realtime_answered as f64),
    );
    let mf = out.family(
        "ticketpulse_abandoned_contacts_by_wait",
        "Abandoned contacts (short ones too) by wait from creation; bounds from abandonment.wait_buckets, in the window.",
        MetricType::GAUGE,
    );
    for (labels, s) in rows {
        if !s.abandoned_by_wait.is_empty() {
            for (i, wait) in names.wait_buckets.iter().enumerate() {
                push_gauge(mf, &with(labels, "wait", wait), s.abandoned_by_wait.get(i).copied().unwrap_or(0) as f64);
            }
        }
    }
}

fn tally(s: &KpiSlice, survey: Survey) -> &SurveyTally {
    &s.surveys[survey.index()]
}

/// CSAT, CES and NPS.
fn render_surveys(out: &mut Families, rows: &Rows<'_>) {
    let mf = out.family(
        "ticketpulse_survey_responses",
        "Survey responses by survey (csat, ces, nps) and rating class, at the response time, in the window.",
        MetricType::GAUGE,
    );
    for (labels, s) in rows {
        for survey in Survey::ALL {
            let t = tally(s, *survey);
            if t.responses > 0 {
                let labels = with(labels, "survey", survey.as_str());
                for (rating, n) in survey.ratings().iter().zip(t.ratings) {
                    push_gauge(mf, &with(&labels, "rating", rating), n as f64);
                }
            }
        }
    }
    let mf = out.family("ticketpulse_survey_score_mean", "Mean survey score by survey, in the window.", MetricType::GAUGE);
    for (labels, s) in rows {
        for survey in Survey::ALL {
            let t = tally(s, *survey);
            if t.responses > 0 {
                push_gauge(mf, &with(labels, "survey", survey.as_str()), t.score_sum / t.responses as f64);
            }
        }
    }
    windowed(out, "ticketpulse_csat_ratio", "Good CSAT responses divided by CSAT responses, in the window.", rows, |s| {
        let t = tally(s, Survey::Csat);
        ratio(t.ratings[0], t.responses)
    });
    windowed(out, "ticketpulse_ces_easy_ratio", "Easy CES responses divided by CES responses, in the window.", rows, |s| {
        let t = tally(s, Survey::Ces);
        ratio(t.ratings[0], t.responses)
    });
    windowed(
        out,
        "ticketpulse_nps_score",
        "Net Promoter Score: percent promoters (9-10) minus percent detractors (0-6), -100 to 100, in the window.",
        rows,
        |s| {
            let t = tally(s, Survey::Nps);
            (t.responses > 0).then(|| 100.0 * (t.ratings[0] as f64 - t.ratings[2] as f64) / t.responses as f64)
        },
    );
}

/// Handle time, messages in and out, customer sentiment.
fn render_workload(out: &mut Families, rows: &Rows<'_>) {
    windowed(out, "ticketpulse_logged_work_seconds", "Agent handling time logged by work_logged events, in the window.", rows, |s| {
        Some(s.work_seconds)
    });
    windowed(out, "ticketpulse_average_handle_time_seconds", "Logged handling time divided by tickets solved, in the window.", rows, |s| {
        (s.full_resolution.count() > 0).then(|| s.work_seconds / s.full_resolution.count() as f64)
    });
    let mf = out.family(
        "ticketpulse_messages",
        "Public messages by direction: inbound from customers, outbound from human agents, in the window.",
        MetricType::GAUGE,
    );
    for (labels, s) in rows {
        push_gauge(mf, &with(labels, "direction", "inbound"), s.messages_in as f64);
        push_gauge(mf, &with(labels, "direction", "outbound"), s.messages_out as f64);
    }
    let scored = |s: &KpiSlice| s.sentiment_count > 0;
    windowed(out, "ticketpulse_customer_sentiment_messages", "Customer messages carrying a sentiment score, in the window.", rows, |s| {
        scored(s).then_some(s.sentiment_count as f64)
    });
    windowed(out, "ticketpulse_customer_sentiment_mean", "Mean sentiment (-1 to 1) of customer messages, in the window.", rows, |s| {
        scored(s).then(|| s.sentiment_sum / s.sentiment_count as f64)
    });
    windowed(
        out,
        "ticketpulse_negative_sentiment_ratio",
        "Customer messages with sentiment below kpis.sentiment.negative_below divided by scored ones, in the window.",
        rows,
        |s| ratio(s.sentiment_negative, s.sentiment_count),
    );
}

/// Tickets created by topic. Without an allow-list the labels are the `top` topics by count
/// over the longest window, across every partition of this process; the rest is `other`.
fn render_topics(out: &mut Families, view: &View, names: &Names<'_>, rules: &Rules) {
    let empty = TopicSlice::default();
    let longest = (0..rules.windows.len()).max_by_key(|w| rules.windows[*w].length()).unwrap_or(0);
    let chosen: Vec<&str> = if rules.topic_allow.is_empty() {
        let longest = view.topic_windows.get(&(longest, ())).unwrap_or(&empty);
        let mut ranked: Vec<(&String, &u64)> = longest.counts.iter().filter(|(t, _)| *t != NO_TOPIC).collect();
        ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let mut top: Vec<&str> = ranked.into_iter().take(rules.topics_top).map(|(t, _)| t.as_str()).collect();
        top.push(NO_TOPIC);
        top
    } else {
        rules.topic_allow.iter().map(String::as_str).chain([NO_TOPIC]).collect()
    };
    let mf = out.family(
        "ticketpulse_tickets_created_by_topic",
        "Tickets created by topic (kpis.topics: an allow-list or the most frequent; the rest is other), in the window.",
        MetricType::GAUGE,
    );
    for ((w, ()), slice) in &view.topic_windows {
        let window = ("window", names.windows[*w].clone());
        let mut other = slice.overflow;
        for (topic, n) in &slice.counts {
            if !chosen.contains(&topic.as_str()) {
                other += n;
            }
        }
        for topic in &chosen {
            if let Some(n) = slice.counts.get(*topic) {
                push_gauge(mf, &vec![window.clone(), ("topic", topic.to_string())], *n as f64);
            }
        }
        if other > 0 {
            push_gauge(mf, &vec![window, ("topic", OTHER_TOPIC.to_string())], other as f64);
        }
    }
}

/// Per-agent KPIs, only when `kpis.agents` is enabled. Without an allow-list the labels are
/// the `top` agents by activity over the longest window, across every partition of this
/// process; the rest is `other`. Every row has every family, so a table joins them.
fn render_agents(out: &mut Families, view: &View, names: &Names<'_>, rules: &Rules) {
    if !rules.agents.enabled {
        return;
    }
    let empty = AgentSlice::default();
    let longest = (0..rules.windows.len()).max_by_key(|w| rules.windows[*w].length()).unwrap_or(0);
    let chosen = rules.agents.chosen(view.agent_windows.get(&(longest, ())).unwrap_or(&empty));
    let rows: Vec<(Labels, AgentTally)> = view
        .agent_windows
        .iter()
        .flat_map(|((w, ()), slice)| {
            let window = names.windows[*w].clone();
            slice
                .fold(&chosen)
                .into_iter()
                .map(move |(agent, tally)| (vec![("window", window.clone()), ("agent", agent.to_string())], tally))
        })
        .collect();
    windowed(out, "ticketpulse_agent_replies", "Public messages by the agent (kpis.agents), in the window.", &rows, |t| {
        Some(t.replies as f64)
    });
    let mf = out.family(
        "ticketpulse_agent_first_response_time_seconds",
        "First responses the agent gave (count) and their first response times (sum; mean = sum / count), in the window.",
        MetricType::SUMMARY,
    );
    for (labels, t) in &rows {
        let mut m = metric(labels);
        let mut s = Summary::default();
        s.set_sample_count(t.first_responses);
        s.set_sample_sum(t.first_response_seconds);
        m.set_summary(s);
        mf.mut_metric().push(m);
    }
    windowed(
        out,
        "ticketpulse_agent_tickets_solved",
        "Solves (every transition to solved or closed) credited to the agent of the ticket's last public reply, in the window.",
        &rows,
        |t| Some(t.solves as f64),
    );
    windowed(
        out,
        "ticketpulse_agent_logged_work_seconds",
        "Handling time logged by work_logged events of the agent, in the window.",
        &rows,
        |t| Some(t.work_seconds),
    );
    windowed(
        out,
        "ticketpulse_agent_csat_responses",
        "CSAT responses credited to the agent of the ticket's last public reply at response time, in the window.",
        &rows,
        |t| Some(t.csat_responses as f64),
    );
    windowed(
        out,
        "ticketpulse_agent_csat_good_responses",
        "Good CSAT responses credited to the agent of the ticket's last public reply at response time, in the window.",
        &rows,
        |t| Some(t.csat_good as f64),
    );
}

/// Cost per resolution and per contact: the configured cost per hour over the window's
/// length, divided by all solves or all tickets created in the window.
fn render_cost(out: &mut Families, view: &View, names: &Names<'_>, rules: &Rules) {
    let Some(per_hour) = rules.cost_per_hour else { return };
    let mut totals = vec![(0u64, 0u64); rules.windows.len()];
    for ((w, _), s) in &view.windows {
        totals[*w].0 += s.full_resolution.count();
        totals[*w].1 += s.created;
    }
    let cost = |w: usize| per_hour * rules.windows[w].length() as f64 / 3_600_000.0;
    let families: [(&str, &str, PickTotal); 2] = [
        (
            "ticketpulse_cost_per_resolution",
            "kpis.cost.per_hour times the window length divided by tickets solved, in the window (configured currency).",
            |(solved, _)| *solved,
        ),
        (
            "ticketpulse_cost_per_contact",
            "kpis.cost.per_hour times the window length divided by tickets created, in the window (configured currency).",
            |(_, created)| *created,
        ),
    ];
    for (name, help, denominator) in families {
        let mf = out.family(name, help, MetricType::GAUGE);
        for (w, total) in totals.iter().enumerate() {
            if denominator(total) > 0 {
                push_gauge(mf, &vec![("window", names.windows[w].clone())], cost(w) / denominator(total) as f64);
            }
        }
    }
}

fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// SLA series: the configured targets, windowed outcomes per policy and target, and the
/// current target gauges.
fn render_sla(out: &mut Families, view: &View, names: &Names<'_>, rules: &Rules) {
    // From configuration, so alerts can compare a KPI with its policy's target.
    let mf = out.family(
        "ticketpulse_sla_target_seconds",
        "Configured SLA target of each policy, in the time of its calendar (business seconds unless 24x7).",
        MetricType::GAUGE,
    );
    for (policy, target, ms) in rules.ticket.policies.targets() {
        push_gauge(mf, &vec![("policy", policy.to_string()), ("target", target.as_str().to_string())], seconds(ms));
    }

    let series = |key: DimKey, policy: PolicyId, target: SlaTarget| {
        let mut labels = (names.dims)(key);
        labels.push(("policy", (names.policy)(policy)));
        labels.push(("target", target.as_str().to_string()));
        labels
    };
    let rows: Vec<(Labels, (&SlaSlice, usize))> = view
        .sla_windows
        .iter()
        .flat_map(|((w, (key, policy)), slice)| {
            SlaTarget::ALL.map(|t| {
                let mut labels = vec![("window", names.windows[*w].clone())];
                labels.extend(series(*key, *policy, t));
                (labels, (slice, t.index()))
            })
        })
        .collect();
    windowed(
        out,
        "ticketpulse_sla_met",
        "SLA targets fulfilled by their deadline, counted at fulfilment, in the window.",
        &rows,
        |(s, i)| (s.met[i] + s.breached[i] > 0).then_some(s.met[i] as f64),
    );
    windowed(
        out,
        "ticketpulse_sla_breached",
        "SLA targets whose deadline passed unfulfilled, counted when the watermark passes the deadline, in the window.",
        &rows,
        |(s, i)| (s.met[i] + s.breached[i] > 0).then_some(s.breached[i] as f64),
    );
    windowed(out, "ticketpulse_sla_compliance_ratio", "SLA met divided by met plus breached, in the window.", &rows, |(s, i)| {
        ratio(s.met[i], s.met[i] + s.breached[i])
    });
    let mf = out.family(
        "ticketpulse_sla_business_time_seconds",
        "Business time (policy calendar, pauses excluded) from a target's start to its fulfilment, recorded at fulfilment, in the window.",
        MetricType::SUMMARY,
    );
    for (labels, (s, i)) in &rows {
        if s.business_time[*i].count() > 0 {
            push_summary(mf, labels, &s.business_time[*i]);
        }
    }

    let current: Vec<(Labels, &SlaRow)> =
        view.current.sla.iter().map(|((key, policy, target), row)| (series(*key, *policy, *target), row)).collect();
    let counts: [(&str, &str, SlaCount); 3] = [
        (
            "ticketpulse_sla_running_targets",
            "SLA targets of open tickets whose clock runs and whose deadline is still ahead (current).",
            |r| r.running,
        ),
        ("ticketpulse_sla_paused_targets", "SLA targets of open tickets whose clock is stopped by a pause status (current).", |r| r.paused),
        (
            "ticketpulse_sla_breached_open_tickets",
            "Open tickets whose SLA target deadline has passed and whose overdue work is still not done (current).",
            |r| r.breached,
        ),
    ];
    for (name, help, pick) in counts {
        let mf = out.family(name, help, MetricType::GAUGE);
        for (labels, row) in &current {
            push_gauge(mf, labels, pick(row) as f64);
        }
    }
    let mf = out.family(
        "ticketpulse_sla_at_risk_targets",
        "Running SLA targets due within the horizon and not yet breached (current).",
        MetricType::GAUGE,
    );
    for (labels, row) in &current {
        for (horizon, n) in names.horizons.iter().zip(&row.at_risk) {
            push_gauge(mf, &with(labels, "horizon", horizon), *n as f64);
        }
    }
    let mf = out.family(
        "ticketpulse_sla_next_deadline_seconds",
        "Seconds until the earliest deadline among running SLA targets (current).",
        MetricType::GAUGE,
    );
    for (labels, row) in &current {
        if let Some(due) = row.next_deadline {
            push_gauge(mf, labels, seconds(due));
        }
    }
    let mf = out.family(
        "ticketpulse_sla_unmatched_open_tickets",
        "Open tickets no SLA policy matches: they have no SLA (current).",
        MetricType::GAUGE,
    );
    for (key, n) in &view.current.unmatched {
        push_gauge(mf, &(names.dims)(*key), *n as f64);
    }
}

fn render_self(out: &mut Families, view: &View, telemetry: &Telemetry) {
    let mf = out.family(
        "ticketpulse_events_total",
        "Input messages by event type and result (ok, duplicate, invalid, late).",
        MetricType::COUNTER,
    );
    for (event_type, result, n) in telemetry.event_counts() {
        push_counter(mf, &vec![("type", event_type.to_string()), ("result", result.as_str().to_string())], n);
    }
    let mf = out.family("ticketpulse_invalid_events_total", "Rejected input messages by reason.", MetricType::COUNTER);
    for (reason, n) in telemetry.invalid_counts() {
        push_counter(mf, &vec![("reason", reason.as_str().to_string())], n);
    }
    let (dead_lettered, failed) = telemetry.dead_letter_counts();
    let mf = out.family("ticketpulse_dead_letter_events_total", "Rejected messages written to the dead-letter topic.", MetricType::COUNTER);
    push_counter(mf, &vec![], dead_lettered);
    let mf = out.family(
        "ticketpulse_dead_letter_failures_total",
        "Rejected messages that could not be written to the dead-letter topic.",
        MetricType::COUNTER,
    );
    push_counter(mf, &vec![], failed);

    let partition_labels = |(topic, partition): &(String, i32)| vec![("topic", topic.clone()), ("partition", partition.to_string())];
    let mf = out.family(
        "ticketpulse_consumer_lag_messages",
        "Messages between the consumer position and the end of the partition.",
        MetricType::GAUGE,
    );
    for (p, lag) in telemetry.lags() {
        push_gauge(mf, &partition_labels(&p), lag as f64);
    }
    let clock_families: [(&str, &str, ClockValue); 4] = [
        ("ticketpulse_stream_time_seconds", "Newest event time seen on the partition (Unix time).", |c| seconds(c.stream_time)),
        (
            "ticketpulse_watermark_seconds",
            "Stream time minus allowed lateness: events and SLA timers up to here are applied (Unix time).",
            |c| seconds(c.watermark),
        ),
        ("ticketpulse_tracked_tickets", "Tickets whose state the partition holds (open, recently resolved, or awaiting creation).", |c| {
            c.tickets as f64
        }),
        ("ticketpulse_buffered_events", "Events waiting in the partition's reorder buffer for the watermark to pass them.", |c| {
            c.buffered as f64
        }),
    ];
    for (name, help, value) in clock_families {
        let mf = out.family(name, help, MetricType::GAUGE);
        for c in &view.clocks {
            push_gauge(mf, &partition_labels(&c.partition), value(c));
        }
    }
    let mf = out.family(
        "ticketpulse_tickets_shed_total",
        "Tickets dropped from state because a partition reached tickets.max_per_partition.",
        MetricType::COUNTER,
    );
    push_counter(mf, &vec![], telemetry.shed_count());
    let mf = out.family(
        "ticketpulse_reorder_buffer_full_events_total",
        "Events applied before the watermark passed them because a reorder buffer held time.max_buffered_events.",
        MetricType::COUNTER,
    );
    push_counter(mf, &vec![], telemetry.reorder_buffer_full_count());
    let stats = telemetry.snapshot_stats();
    let mf = out.family("ticketpulse_snapshots_saved_total", "Partition state snapshots saved.", MetricType::COUNTER);
    push_counter(mf, &vec![], stats.saved);
    let mf =
        out.family("ticketpulse_snapshots_restored_total", "Partitions whose state was restored from a snapshot.", MetricType::COUNTER);
    push_counter(mf, &vec![], stats.restored);
    let mf = out.family(
        "ticketpulse_snapshot_failures_total",
        "Snapshots that could not be saved, or stored snapshots that could not be used, by operation and reason.",
        MetricType::COUNTER,
    );
    for ((operation, reason), n) in stats.failures {
        push_counter(mf, &vec![("operation", operation.to_string()), ("reason", reason.to_string())], n);
    }
    if let Some((bytes, pause)) = stats.newest {
        let mf = out.family("ticketpulse_snapshot_size_bytes", "Size of the newest snapshot.", MetricType::GAUGE);
        push_gauge(mf, &vec![], bytes as f64);
        let mf = out.family(
            "ticketpulse_snapshot_pause_seconds",
            "How long encoding the newest snapshot held up consumption.",
            MetricType::GAUGE,
        );
        push_gauge(mf, &vec![], pause.as_secs_f64());
    }
    let mf = out.family(
        "ticketpulse_http_connections_dropped_total",
        "HTTP connections closed before a complete exchange, by reason (limits and timeouts of [http]).",
        MetricType::COUNTER,
    );
    for (reason, n) in telemetry.http_dropped_counts() {
        push_counter(mf, &vec![("reason", reason.as_str().to_string())], n);
    }
    let mf = out.family("ticketpulse_build_info", "Build information; always 1.", MetricType::GAUGE);
    push_gauge(mf, &vec![("version", env!("CARGO_PKG_VERSION").to_string())], 1.0);
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
struct HttpState {
    renders: Arc<Renders>,
    telemetry: Arc<Telemetry>,
}

/// The endpoints, as `/` lists them.
const INDEX: &str = "ticketpulse\n\
/metrics        Prometheus metrics\n\
/healthz/live   liveness: 200 while the process runs\n\
/healthz/ready  readiness: 200 while a partition is assigned and a Kafka broker is reachable\n";

/// Serves `/`, `/metrics`, `/healthz/live`, `/healthz/ready` and, when given, the tickets API
/// and page, with the limits of `config` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    telemetry: Arc<Telemetry>,
    config: HttpConfig,
    tickets: Option<Api>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let index = match &tickets {
        Some(_) => format!("{INDEX}{}", crate::tickets::INDEX),
        None => INDEX.to_string(),
    };
    let mut app = Router::new()
        .route("/", get(move || std::future::ready(index.clone())))
        .route("/metrics", get(metrics))
        .route("/healthz/live", get(|| async { "ok\n" }))
        .route("/healthz/ready", get(ready))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; the endpoints are listed at /\n") })
        .with_state(HttpState { renders: Arc::new(Renders::new(registry)), telemetry: Arc::clone(&telemetry) });
    if let Some(api) = tickets {
        app = app.merge(api.routes());
    }
    crate::http::serve(listener, app, &config, telemetry, shutdown).await
}

/// A finished render: the exposition, or why it failed.
type Rendered = Result<Bytes, Arc<str>>;

/// Renders of `/metrics`, one at a time. A scrape is answered by a render that started after
/// it arrived; every scrape that arrived during one render shares the next. So however many
/// clients scrape, at most one render holds the engine lock and a few copies of the
/// exposition exist, and a slow reader holds only its shared bytes, never engine state.
struct Renders {
    registry: Registry,
    /// Renders started so far (each started while holding `latest`).
    started: AtomicU64,
    /// The newest render and its number; held for the whole of a render.
    latest: Arc<tokio::sync::Mutex<(u64, Rendered)>>,
}

impl Renders {
    fn new(registry: Registry) -> Self {
        Self { registry, started: AtomicU64::new(0), latest: Arc::new(tokio::sync::Mutex::new((0, Ok(Bytes::new())))) }
    }

    async fn render(&self) -> Rendered {
        let arrived = self.started.load(Ordering::SeqCst);
        let mut latest = Arc::clone(&self.latest).lock_owned().await;
        if latest.0 > arrived {
            return latest.1.clone();
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let registry = self.registry.clone();
        // The lock goes with the render: a scrape abandoned meanwhile does not let another
        // render start beside it.
        let render = tokio::task::spawn_blocking(move || {
            let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| encode(&registry))).map(Bytes::from).map_err(|panic| {
                let message: Arc<str> = panic
                    .downcast_ref::<&str>()
                    .map(|s| Arc::from(*s))
                    .or_else(|| panic.downcast_ref::<String>().map(|s| Arc::from(s.as_str())))
                    .unwrap_or_else(|| Arc::from("a panic without a message"));
                tracing::error!(panic = %message, "rendering /metrics panicked; scrapes waiting for this render get 500");
                message
            });
            *latest = (number, rendered.clone());
            rendered
        });
        render.await.unwrap_or_else(|e| Err(Arc::from(e.to_string())))
    }
}

async fn metrics(State(state): State<HttpState>) -> Response {
    match state.renders.render().await {
        Ok(body) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering the metrics failed; the log says why\n").into_response(),
    }
}

/// Ready while the consumer owns at least one partition, reaches a broker and can write the
/// dead-letter topic.
async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    if !state.telemetry.broker_reachable() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: no Kafka broker reachable\n")
    } else if state.telemetry.assigned_count() == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: no partition assigned\n")
    } else if state.telemetry.dead_letter_blocked() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the dead-letter topic cannot be written (rejected events are given up)\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
