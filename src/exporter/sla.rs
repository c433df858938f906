//! The SLA families, pure: the configured targets, windowed outcomes per policy and target,
//! and the current target gauges, from a [`View`] and the [`ExportRules`].

use std::borrow::Cow;

use crate::engine::{SlaRow, View};
use crate::kpi::{ratio, SlaSlice, SlaTotals};
use crate::sla::SlaTarget;

use super::encoding::{push_gauge, push_histogram, push_summary, seconds, windowed, Families, Kind, LabelSet};
use super::labels::{partition_labels, DimLabels, ExportRules};

/// Reads one count of a current SLA series.
type SlaCount = fn(&SlaRow) -> i64;

/// Reads one target's all-time count of an SLA totals series.
type SlaTotalCount = fn(&SlaTotals, usize) -> u64;

pub fn render_sla<'a>(out: &mut Families<'a>, view: &'a View, rules: &'a ExportRules, dims: &'a DimLabels) {
    // From configuration, so alerts can compare a KPI with its policy's target.
    let mf = &mut out.family(
        "ticketpulse_sla_target_seconds",
        "Configured SLA target of each policy, in the time of its calendar (business seconds unless 24x7).",
        Kind::Gauge,
    );
    for (policy, target, ms) in &rules.targets {
        let labels = mf.set([("policy", Cow::Borrowed(policy.as_str())), ("target", Cow::Borrowed(target.as_str()))]);
        push_gauge(mf, labels, &[], seconds(*ms));
    }

    let rows: Vec<(LabelSet, (&SlaSlice, usize))> = view
        .windows
        .sla
        .iter()
        .flat_map(|((w, (key, policy)), slice)| {
            SlaTarget::ALL.map(|t| {
                let window = ("window", Cow::Borrowed(rules.windows[*w].as_str()));
                (out.set(std::iter::once(window).chain(rules.sla_series(dims, *key, *policy, t))), (slice, t.index()))
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
    let mf = &mut out.family(
        "ticketpulse_sla_business_time_seconds",
        "Business time (policy calendar, pauses excluded) from a target's start to its fulfilment, recorded at fulfilment, in the window.",
        Kind::Summary,
    );
    for (labels, (s, i)) in &rows {
        if s.business_time[*i].count() > 0 {
            push_summary(mf, *labels, &s.business_time[*i]);
        }
    }

    // All-time totals per input partition (`kpi/totals.rs`), as the View shows them.
    let totals: Vec<(LabelSet, (&SlaTotals, usize))> = view
        .totals
        .iter()
        .flat_map(|(partition, t)| t.sla.iter().map(move |(key, t)| (partition, key, t)))
        .flat_map(|(partition, (key, policy), t)| {
            SlaTarget::ALL.map(|target| {
                let labels = rules.sla_series(dims, *key, *policy, target).into_iter().chain(partition_labels(partition));
                (out.set(labels), (t, target.index()))
            })
        })
        .collect();
    let outcomes: [(&'static str, &'static str, SlaTotalCount); 2] = [
        (
            "ticketpulse_sla_met_total",
            "SLA targets fulfilled by their deadline, counted at fulfilment. All-time total, per input partition, as of its last snapshot.",
            |t, i| t.met[i],
        ),
        (
            "ticketpulse_sla_breached_total",
            "SLA targets whose deadline passed unfulfilled, counted when the watermark passes the deadline. All-time total, per input partition, as of its last snapshot.",
            |t, i| t.breached[i],
        ),
    ];
    for (name, help, pick) in outcomes {
        let mf = &mut out.family(name, help, Kind::Counter);
        for (labels, (t, i)) in &totals {
            // As the windowed families: a target with an outcome has both series.
            if t.met[*i] + t.breached[*i] > 0 {
                push_gauge(mf, *labels, &[], pick(t, *i) as f64);
            }
        }
    }
    let mf = &mut out.family(
        "ticketpulse_sla_business_time_cumulative_seconds",
        "Business time (policy calendar, pauses excluded) from a target's start to its fulfilment, recorded at fulfilment. All-time histogram, per input partition, as of its last snapshot.",
        Kind::Histogram,
    );
    for (labels, (t, i)) in &totals {
        if t.business_time[*i].count() > 0 {
            push_histogram(mf, *labels, &[], &rules.totals.sla, &t.business_time[*i]);
        }
    }

    let current: Vec<(LabelSet, &SlaRow)> = view
        .current
        .sla
        .iter()
        .map(|((key, policy, target), row)| (out.set(rules.sla_series(dims, *key, *policy, *target)), row))
        .collect();
    let counts: [(&'static str, &'static str, SlaCount); 3] = [
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
        let mf = &mut out.family(name, help, Kind::Gauge);
        for (labels, row) in &current {
            push_gauge(mf, *labels, &[], pick(row) as f64);
        }
    }
    let mf = &mut out.family(
        "ticketpulse_sla_at_risk_targets",
        "Running SLA targets due within the horizon and not yet breached (current).",
        Kind::Gauge,
    );
    for (labels, row) in &current {
        for (horizon, n) in rules.horizons.iter().zip(&row.at_risk) {
            push_gauge(mf, *labels, &[("horizon", horizon.as_str())], *n as f64);
        }
    }
    let mf = &mut out.family(
        "ticketpulse_sla_next_deadline_seconds",
        "Seconds until the earliest deadline among running SLA targets (current).",
        Kind::Gauge,
    );
    for (labels, row) in &current {
        if let Some(due) = row.next_deadline {
            push_gauge(mf, *labels, &[], seconds(due));
        }
    }
    let mf = &mut out.family(
        "ticketpulse_sla_unmatched_open_tickets",
        "Open tickets no SLA policy matches: they have no SLA (current).",
        Kind::Gauge,
    );
    for (key, n) in &view.current.unmatched {
        let labels = mf.set(dims.of(*key));
        push_gauge(mf, labels, &[], *n as f64);
    }
}
