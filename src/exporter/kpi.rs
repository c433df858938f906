//! The KPI families, pure: a [`View`] and the [`ExportRules`] in, metric families out. The
//! windowed KPIs are declared once each, with their samples and slice fields, in
//! `src/kpi/catalogue.rs` ([`KPIS`]); this renders them, the current ticket gauges, topics,
//! agents and cost.

use std::borrow::Cow;
use std::sync::LazyLock;

use crate::agent::{AgentSla, AgentSlice, AgentTally};
use crate::engine::View;
use crate::kpi::{count, KpiSlice, KpiTotals, Read, TotalRead};
use crate::sla::SlaTarget;
use crate::topic::{chosen_topics, TopicSlice};

use super::encoding::{push_count_sum, push_gauge, push_histogram, push_summary, seconds, windowed, Families, Kind, LabelSet, Labels};
use super::labels::{DimLabels, ExportRules};

pub use crate::kpi::{KPIS, TOTALS};

/// Reads one target's count of an agent's SLA outcomes.
type AgentSlaCount = fn(&AgentSla, usize) -> u64;

/// The windowed KPIs of [`KPIS`] (from the View's merged `windows`, labelled and sorted once
/// in `rows`) and the current ticket gauges.
pub(crate) fn render_kpis<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules, dims: &'a DimLabels) {
    let mut rows: Vec<(Labels<'a>, &KpiSlice)> =
        view.windows.kpi.iter().map(|((w, key), slice)| (rules.window_dims(dims, *w, *key), slice)).collect();
    // In the order a scrape lists series, so sorting each family finds them sorted.
    rows.sort_by(|(a, _), (b, _)| a.iter().map(|(_, v)| v).cmp(b.iter().map(|(_, v)| v)));
    // Stored once, for the series of every family.
    let rows: Vec<(LabelSet, &KpiSlice)> = rows.into_iter().map(|(labels, s)| (out.set(labels), s)).collect();
    for kpi in KPIS {
        match kpi.read {
            Read::Gauge(read) => windowed(out, kpi.name, kpi.help, &rows, read),
            Read::Summary(read) => {
                let mf = &mut out.family(kpi.name, kpi.help, Kind::Summary);
                mf.reserve(rows.len());
                for (labels, s) in &rows {
                    if read(s).count() > 0 {
                        push_summary(mf, *labels, read(s));
                    }
                }
            }
            Read::Split(read) => {
                let mf = &mut out.family(kpi.name, kpi.help, Kind::Gauge);
                for (labels, s) in &rows {
                    read(s, &rules.kpi, &mut |values, value| {
                        let extra: smallvec::SmallVec<[(&str, &str); 2]> = kpi.labels.iter().copied().zip(values.iter().copied()).collect();
                        push_gauge(mf, *labels, &extra, value);
                    });
                }
            }
        }
    }

    let current = &view.current;
    let mf = &mut out.family("ticketpulse_open_tickets", "Tickets created and not solved or closed, by status (current).", Kind::Gauge);
    for ((status, key), n) in &current.open {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[("status", status.as_str())], *n as f64);
    }
    let mf = &mut out.family(
        "ticketpulse_oldest_unanswered_message_age_seconds",
        "Age of the oldest customer message of an open ticket not yet answered by a public agent message (current).",
        Kind::Gauge,
    );
    for (key, age) in &current.oldest_unanswered {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[], seconds(*age));
    }
    let mf = &mut out.family(
        "ticketpulse_backlog_tickets",
        "Open tickets by age since creation; bucket bounds from kpis.backlog.age_buckets (current).",
        Kind::Gauge,
    );
    for (key, counts) in &current.backlog {
        let labels = mf.set(dims.of(*key));
        for (age, n) in rules.age_buckets.iter().zip(counts) {
            push_gauge(mf, labels, &[("age", age)], *n as f64);
        }
    }
    let mf = &mut out.family("ticketpulse_stale_open_tickets", "Open tickets older than kpis.backlog.stale_after (current).", Kind::Gauge);
    for (key, n) in &current.stale {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[], *n as f64);
    }
}

/// The all-time totals of [`TOTALS`] (`kpi/totals.rs`), of each partition as the View shows
/// them: counters and cumulative histograms by dimensions, `topic` and `partition` (the input
/// partition they count, so a partition's series moves with it between instances).
pub(crate) fn render_totals<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules, dims: &'a DimLabels) {
    let mut rows: Vec<(LabelSet, &KpiTotals)> = Vec::new();
    for (partition, totals) in &view.totals {
        for (key, t) in &totals.kpi {
            let labels = dims.of(*key).chain(super::labels::partition_labels(partition));
            rows.push((out.set(labels), t));
        }
    }
    for total in TOTALS.iter() {
        match total.read {
            TotalRead::Counter(read) => {
                let mf = &mut out.family(total.name, total.help, Kind::Counter);
                for (labels, t) in &rows {
                    if let Some(v) = read(t) {
                        push_gauge(mf, *labels, &[], v);
                    }
                }
            }
            TotalRead::Histogram(read, bounds) => {
                let (mf, bounds) = (&mut out.family(total.name, total.help, Kind::Histogram), bounds(&rules.totals.kpi));
                for (labels, t) in &rows {
                    if read(t).count() > 0 {
                        push_histogram(mf, *labels, &[], bounds, read(t));
                    }
                }
            }
            TotalRead::Split(read) => {
                let mf = &mut out.family(total.name, total.help, Kind::Counter);
                for (labels, t) in &rows {
                    read(t, &rules.kpi, &mut |values, value| {
                        let extra: smallvec::SmallVec<[(&str, &str); 2]> =
                            total.labels.iter().copied().zip(values.iter().copied()).collect();
                        push_gauge(mf, *labels, &extra, value);
                    });
                }
            }
        }
    }
}

/// Tickets created by topic. Without an allow-list the labels are the `top` topics by count
/// over the longest window, across every partition of this process; the rest is `other`.
pub(crate) fn render_topics<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules) {
    static EMPTY: LazyLock<TopicSlice> = LazyLock::new(TopicSlice::default);
    let longest = view.windows.topic.get(&(rules.longest, ())).unwrap_or(&EMPTY);
    let chosen = chosen_topics(longest, &rules.topic_allow, rules.topics_top);
    let mf = &mut out.family(
        "ticketpulse_tickets_created_by_topic",
        "Tickets created by topic (kpis.topics: an allow-list or the most frequent; the rest is other), in the window.",
        Kind::Gauge,
    );
    for ((w, ()), slice) in &view.windows.topic {
        let window = mf.set([("window", Cow::Borrowed(rules.windows[*w].as_str()))]);
        for (topic, n) in slice.fold(&chosen) {
            push_gauge(mf, window, &[("topic", topic)], n as f64);
        }
    }
}

/// Per-agent KPIs, only when `kpis.agents` is enabled. Without an allow-list the labels are
/// the `top` agents by activity over the longest window, across every partition of this
/// process; the rest is `other`. Every row has every family, so a table joins them.
pub(crate) fn render_agents<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules) {
    if !rules.agents.enabled {
        return;
    }
    static EMPTY: LazyLock<AgentSlice> = LazyLock::new(AgentSlice::default);
    let chosen = rules.agents.chosen(view.windows.agent.get(&(rules.longest, ())).unwrap_or(&EMPTY));
    let mut rows: Vec<(LabelSet, AgentTally)> = Vec::new();
    // Every window, an empty one too: each chosen agent has a series in every window.
    for (w, window) in rules.windows.iter().enumerate() {
        let slice = view.windows.agent.get(&(w, ())).unwrap_or(&EMPTY);
        for (agent, tally) in slice.fold(&chosen) {
            rows.push((out.set([("window", Cow::Borrowed(window.as_str())), ("agent", Cow::Borrowed(agent))]), tally));
        }
    }
    let rows: Vec<(LabelSet, &AgentTally)> = rows.iter().map(|(labels, t)| (*labels, t)).collect();
    windowed(out, "ticketpulse_agent_replies", "Public messages by the agent (kpis.agents), in the window.", &rows, |t| count(t.replies));
    let mf = &mut out.family(
        "ticketpulse_agent_first_response_time_seconds",
        "First responses the agent gave (count) and their first response times (sum; mean = sum / count), in the window.",
        Kind::Summary,
    );
    for (labels, t) in &rows {
        push_count_sum(mf, *labels, t.first_responses, t.first_response_seconds);
    }
    windowed(
        out,
        "ticketpulse_agent_tickets_solved",
        "Solves (every transition to solved or closed) credited to the agent of the ticket's last public reply, in the window.",
        &rows,
        |t| count(t.solves),
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
        |t| count(t.csat_responses),
    );
    windowed(
        out,
        "ticketpulse_agent_csat_good_responses",
        "Good CSAT responses credited to the agent of the ticket's last public reply at response time, in the window.",
        &rows,
        |t| count(t.csat_good),
    );
    // As the SLA families: a (policy, target) the agent has an outcome for has both series.
    let outcomes: [(&str, &str, AgentSlaCount); 2] = [
        (
            "ticketpulse_agent_sla_met",
            "SLA targets met, credited to the agent whose public reply met a first response or next reply target, or to the agent of the ticket's last public reply at a solve that met resolution, in the window.",
            |s, i| s.met[i],
        ),
        (
            "ticketpulse_agent_sla_breached",
            "SLA targets breached, credited to the agent of the ticket's last public reply when the breach was found (the deadline passing, or a late fulfilment), in the window.",
            |s, i| s.breached[i],
        ),
    ];
    for (name, help, pick) in outcomes {
        let mf = &mut out.family(name, help, Kind::Gauge);
        for (labels, t) in &rows {
            for (policy, sla) in &t.sla {
                for target in SlaTarget::ALL {
                    let i = target.index();
                    if sla.met[i] + sla.breached[i] > 0 {
                        let policy = rules.policies[usize::from(*policy)].as_str();
                        push_gauge(mf, *labels, &[("policy", policy), ("target", target.as_str())], pick(sla, i) as f64);
                    }
                }
            }
        }
    }
}

/// Cost per resolution and per contact: the configured cost per hour over the window's
/// length, divided by all solves or all tickets created in the window.
pub(crate) fn render_cost<'a>(out: &mut Families<'a>, view: &View, rules: &'a ExportRules) {
    let Some(per_hour) = rules.cost_per_hour else { return };
    // (solved, created) per window, over every dimension key.
    let mut totals = vec![(0u64, 0u64); rules.windows.len()];
    for ((w, _), s) in &view.windows.kpi {
        totals[*w].0 += s.solved;
        totals[*w].1 += s.created;
    }
    let cost = |w: usize| per_hour * rules.window_ms[w] as f64 / 3_600_000.0;
    type PickTotal = fn(&(u64, u64)) -> u64;
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
        let mf = &mut out.family(name, help, Kind::Gauge);
        for (w, total) in totals.iter().enumerate() {
            if denominator(total) > 0 {
                let window = mf.set([("window", Cow::Borrowed(rules.windows[w].as_str()))]);
                push_gauge(mf, window, &[], cost(w) / denominator(total) as f64);
            }
        }
    }
}
