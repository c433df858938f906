//! Staffing now (`kpis.staffing`): per window and queue (channel, and team when it is a
//! dimension; priorities added up), the agents a queue needs and has, computed at scrape time
//! from the merged window slices by the pure models of [`crate::kpi::staffing`]: never per
//! event. Inputs, per window of length L: arrival rate λ = tickets created / L; mean handle
//! time = logged work / tickets solved (`ticketpulse_average_handle_time_seconds`); load
//! A = λ × handle time; patience rate θ = real-time abandons / total wait of answered and
//! abandoned contacts (the exponential MLE); agents available = online agents by their latest
//! `agent_status` once any was seen on the instance, else distinct active agents in the window.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::base::Millis;
use crate::dimensions::DimKey;
use crate::engine::View;
use crate::kpi::staffing::{erlang_a, required_agents, Objective};
use crate::kpi::KpiSlice;
use crate::window::Aggregate as _;

use super::encoding::{push_gauge, Families, Kind, LabelSet};
use super::labels::ExportRules;

/// `kpis.staffing` and the thresholds it reads, resolved once.
#[derive(Debug, Clone)]
pub struct StaffingRules {
    pub service_level: f64,
    pub max_occupancy: f64,
    pub target_occupancy: f64,
    pub backlog_horizon_seconds: f64,
    /// Service-level threshold of each real-time channel, by channel id.
    pub realtime: Vec<(u16, Millis)>,
}

/// What a queue's series report in one window; `None` where an input is missing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueStaffing {
    pub required: Option<f64>,
    pub available: Option<f64>,
    pub service_level: Option<f64>,
    pub abandon: Option<f64>,
    pub wait: Option<f64>,
    pub patience: Option<f64>,
    pub workload: Option<f64>,
    pub backlog_agents: Option<f64>,
    pub backlog_clear: Option<f64>,
}

/// The figures of one queue from its window slice (priorities merged), its distinct active
/// agents and open tickets, for a window of `window_seconds`; `threshold` (seconds) for a
/// real-time channel.
pub fn queue_staffing(
    rules: &StaffingRules,
    s: &KpiSlice,
    active: Option<usize>,
    open: i64,
    window_seconds: f64,
    threshold: Option<f64>,
) -> QueueStaffing {
    let lambda = s.created as f64 / window_seconds;
    // Every solve, as ticketpulse_average_handle_time_seconds divides by (a ticket first seen
    // mid-stream is solved without a full resolution time).
    let solves = s.solved;
    let aht = (solves > 0 && s.work_seconds > 0.0).then(|| s.work_seconds / solves as f64);
    let available = active.map(|n| n as f64);
    let mut out = QueueStaffing { available, ..Default::default() };
    match threshold {
        Some(t) => {
            let Some(aht) = aht else { return out };
            let objective = Objective { service_level: rules.service_level, threshold_seconds: t, max_occupancy: rules.max_occupancy };
            out.required = required_agents(lambda * aht, aht, &objective).map(f64::from);
            let waited = s.realtime_wait_sum + s.realtime_abandoned_wait_sum;
            // No abandons: θ = 0 (Erlang C); abandons without any wait measured: unknown.
            let theta = match (s.realtime_abandoned, waited > 0.0) {
                (0, _) => Some(0.0),
                (n, true) => Some(n as f64 / waited),
                (_, false) => None,
            };
            out.patience = theta.filter(|t| *t > 0.0).map(|t| 1.0 / t);
            if let (Some(n), Some(theta)) = (active, theta) {
                if let Some(e) = erlang_a(n as u32, lambda, aht, theta, t) {
                    out.service_level = Some(e.service_level);
                    out.abandon = Some(e.abandon);
                    out.wait = Some(e.wait_seconds);
                }
            }
        }
        None => {
            let Some(aht) = aht else { return out };
            let occupancy = rules.target_occupancy;
            out.workload = Some(lambda * aht / occupancy);
            let open = open.max(0) as f64;
            out.backlog_agents = Some((open * aht / rules.backlog_horizon_seconds + lambda * aht) / occupancy);
            let net = solves as f64 / window_seconds - lambda;
            out.backlog_clear = (net > 0.0).then(|| open / net);
        }
    }
    out
}

/// The staffing families, when `kpis.staffing` is enabled.
pub fn render_staffing<'a>(out: &mut Families<'a>, view: &View, rules: &'a ExportRules) {
    let Some(staffing) = &rules.staffing else { return };
    // Window slices and open tickets by (window, queue).
    let mut queues: BTreeMap<(usize, DimKey), KpiSlice> = BTreeMap::new();
    for ((w, key), s) in &view.windows.kpi {
        queues.entry((*w, key.queue())).or_default().merge(s);
    }
    let mut open: BTreeMap<DimKey, i64> = BTreeMap::new();
    for ((_, key), n) in &view.current.open {
        *open.entry(key.queue()).or_default() += n;
    }
    let mut rows: Vec<(LabelSet, QueueStaffing)> = Vec::new();
    let source = if view.presence.is_some() { "status" } else { "active" };
    for ((w, queue), s) in &queues {
        let threshold = staffing.realtime.iter().find(|(c, _)| *c == queue.channel()).map(|(_, t)| *t as f64 / 1000.0);
        // Once any agent_status was kept: the online agents now, the same in every window.
        let available = match &view.presence {
            Some(presence) => Some(rules.available(presence, *queue)),
            None => view.windows.active.get(&(*w, *queue)).map(|a| a.agents.len()),
        };
        let figures =
            queue_staffing(staffing, s, available, open.get(queue).copied().unwrap_or(0), rules.window_ms[*w] as f64 / 1000.0, threshold);
        let mut labels = vec![("window", Cow::Borrowed(rules.windows[*w].as_str()))];
        labels.extend(rules.queue_labels(*queue).into_iter().map(|(name, value)| (name, Cow::Owned(value))));
        rows.push((out.set(labels), figures));
    }
    type Pick = fn(&QueueStaffing) -> Option<f64>;
    let families: [(&'static str, &'static str, Pick); 9] = [
        (
            "ticketpulse_staffing_required_agents",
            "Real-time queues: the fewest agents meeting kpis.staffing.service_level within the channel's threshold and kpis.staffing.max_occupancy, by Erlang C, in the window.",
            |q| q.required,
        ),
        (
            "ticketpulse_staffing_available_agents",
            "Agents available to the queue: online by their latest agent_status (source=status, once any was seen on the instance), else distinct agents with a public reply or logged work on its tickets in the window (source=active).",
            |q| q.available,
        ),
        (
            "ticketpulse_staffing_expected_service_level_ratio",
            "Real-time queues: the share answered within the threshold the available agents can expect, by Erlang A, in the window.",
            |q| q.service_level,
        ),
        (
            "ticketpulse_staffing_expected_abandon_ratio",
            "Real-time queues: the share of contacts abandoning the available agents can expect, by Erlang A, in the window.",
            |q| q.abandon,
        ),
        (
            "ticketpulse_staffing_expected_wait_seconds",
            "Real-time queues: the mean wait of all contacts (answered and abandoned) the available agents can expect, by Erlang A, in the window.",
            |q| q.wait,
        ),
        (
            "ticketpulse_staffing_patience_seconds",
            "Real-time queues: mean customer patience, total wait of answered and abandoned contacts divided by abandons, in the window.",
            |q| q.patience,
        ),
        (
            "ticketpulse_staffing_workload_agents",
            "Asynchronous queues: tickets created per second times mean handle time divided by kpis.staffing.target_occupancy, in the window.",
            |q| q.workload,
        ),
        (
            "ticketpulse_staffing_backlog_clear_agents",
            "Asynchronous queues: agents to clear the open tickets within kpis.staffing.backlog_horizon while handling arrivals, in the window.",
            |q| q.backlog_agents,
        ),
        (
            "ticketpulse_staffing_backlog_clear_time_seconds",
            "Asynchronous queues: open tickets divided by the net solve rate (solves minus arrivals per second) when positive, in the window.",
            |q| q.backlog_clear,
        ),
    ];
    for (name, help, pick) in families {
        let mf = &mut out.family(name, help, Kind::Gauge);
        for (labels, q) in &rows {
            if let Some(v) = pick(q) {
                let extra: &[(&'static str, &'a str)] =
                    if name == "ticketpulse_staffing_available_agents" { &[("source", source)] } else { &[] };
                push_gauge(mf, *labels, extra, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::Sample;

    fn rules() -> StaffingRules {
        StaffingRules {
            service_level: 0.8,
            max_occupancy: 0.85,
            target_occupancy: 0.85,
            backlog_horizon_seconds: 8.0 * 3600.0,
            realtime: vec![],
        }
    }

    /// A slice of `created` tickets, `solves` solves and `work` seconds logged.
    fn slice(created: u64, solves: u64, work: f64) -> KpiSlice {
        let mut s = KpiSlice::default();
        (0..created).for_each(|_| s.add(Sample::Created));
        // A solve of a ticket seen from its creation: both samples, as src/ticket/transitions.rs reports it.
        (0..solves).for_each(|_| {
            s.add(Sample::Solved);
            s.add(Sample::FullResolution(60.0));
        });
        s.add(Sample::WorkLogged(work));
        s
    }

    /// The Call Centre Helper case through a window: 100 chats in 30 minutes, 18 000 s of
    /// work over 100 solves (AHT 180 s): A = 10 Erlangs, 80/20 needs 14 agents; with 14
    /// active and no abandons Erlang A is Erlang C: SL 0.88835, mean wait 7.8359 s.
    #[test]
    fn real_time_queue_from_a_window() {
        let s = slice(100, 100, 18_000.0);
        let q = queue_staffing(&rules(), &s, Some(14), 0, 1800.0, Some(20.0));
        assert_eq!((q.required, q.available, q.abandon, q.patience), (Some(14.0), Some(14.0), Some(0.0), None));
        assert!((q.service_level.unwrap() - 0.8883500191794669).abs() < 1e-9, "{q:?}");
        assert!((q.wait.unwrap() - 7.835937011777243).abs() < 1e-6, "{q:?}");
        assert_eq!((q.workload, q.backlog_agents, q.backlog_clear), (None, None, None));
        // The same solves of tickets first seen mid-stream (no full resolution time): the same
        // handle time (every solve divides, as in ticketpulse_average_handle_time_seconds).
        let mut midstream = KpiSlice::default();
        (0..100).for_each(|_| midstream.add(Sample::Created));
        (0..100).for_each(|_| midstream.add(Sample::Solved));
        midstream.add(Sample::WorkLogged(18_000.0));
        assert_eq!(queue_staffing(&rules(), &midstream, Some(14), 0, 1800.0, Some(20.0)).required, Some(14.0));
        // Patience: 2 abandons after 30 s and 50 s, 98 answered waiting 320 s in all:
        // θ = 2 / (320 + 80) per second, mean patience 200 s.
        let mut s = s;
        s.add(Sample::Answered { wait: 320.0, within: true });
        s.add(Sample::Abandoned { short: false, wait_bucket: Some(1), wait: 30.0, realtime: true });
        s.add(Sample::Abandoned { short: false, wait_bucket: Some(2), wait: 50.0, realtime: true });
        assert_eq!(queue_staffing(&rules(), &s, None, 0, 1800.0, Some(20.0)).patience, Some(200.0));
    }

    /// 90 emails in an hour, 120 solves with 72 000 s logged (AHT 600 s), 300 open:
    /// workload 90/3600 x 600 / 0.85 = 15 / 0.85 = 17.647; backlog (300 x 600 / 28 800 + 15)
    /// / 0.85 = 21.25 / 0.85 = 25; net solve rate (120 - 90) / 3600 = 1/120 per second, so
    /// 300 x 120 = 36 000 s to clear. With more arrivals than solves, no time to clear.
    #[test]
    fn asynchronous_queue_from_a_window() {
        let q = queue_staffing(&rules(), &slice(90, 120, 72_000.0), Some(3), 300, 3600.0, None);
        assert!((q.workload.unwrap() - 15.0 / 0.85).abs() < 1e-9, "{q:?}");
        assert!((q.backlog_agents.unwrap() - 25.0).abs() < 1e-9, "{q:?}");
        assert!((q.backlog_clear.unwrap() - 36_000.0).abs() < 1e-6, "{q:?}");
        assert_eq!((q.required, q.service_level, q.available), (None, None, Some(3.0)));
        assert_eq!(queue_staffing(&rules(), &slice(130, 120, 72_000.0), None, 300, 3600.0, None).backlog_clear, None);
    }
}
