//! Reading an exposition: series by key, KPI samples without self-metrics, and the one rule
//! for combining series across instances.

use std::collections::BTreeMap;

use ticketpulse::exporter::across;
use ticketpulse::kpi::Across;

/// Series (`name{labels}` exactly as exposed) → value, comments dropped.
pub fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series and value");
            (series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l}")))
        })
        .collect()
}

/// The exposition key of a series: name and label pairs in exposition order.
pub fn key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Looks a series up by name and label pairs (in exposition order), failing with the
/// neighbouring series if it is missing.
pub fn value(series: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = key(name, labels);
    match series.get(&key) {
        Some(v) => *v,
        None => {
            let similar: Vec<_> = series.keys().filter(|k| k.starts_with(name)).take(20).collect();
            panic!("no series {key}; series of that name: {similar:#?}")
        }
    }
}

/// Asserts a quantile within DDSketch's 1% relative error.
pub fn assert_within_1pct(actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= expected * 0.01, "expected {expected} ±1%, got {actual}");
}

/// Self-metric families: they describe this process (message counts, positions, snapshots),
/// not the help desk, and legitimately differ between runs over the same input.
pub const SELF_METRICS: [&str; 16] = [
    "ticketpulse_events_total",
    "ticketpulse_invalid_events_total",
    "ticketpulse_dead_letter_",
    "ticketpulse_consumer_lag_messages",
    "ticketpulse_stream_time_seconds",
    "ticketpulse_watermark_seconds",
    "ticketpulse_tracked_tickets",
    "ticketpulse_buffered_events",
    "ticketpulse_tickets_shed_total",
    "ticketpulse_reorder_buffer_full_events_total",
    "ticketpulse_snapshots_saved_total",
    "ticketpulse_snapshots_restored_total",
    "ticketpulse_snapshot_failures_total",
    "ticketpulse_snapshot_size_bytes",
    "ticketpulse_snapshot_pause_seconds",
    "ticketpulse_build_info",
];

/// The KPI samples of an exposition, in order, without comments and self-metrics, nor the
/// all-time totals: they are labelled by input partition (a replay's is `replay`/`0`) and shown
/// as of the last snapshot saved, so they are compared on their own (tests/totals.rs).
pub fn kpis(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#') && !SELF_METRICS.iter().any(|m| l.starts_with(m)) && !l.contains("partition=\"")).collect()
}

/// Asserts two expositions carry the same KPI samples, listing the first differences.
pub fn assert_same_kpis(actual: &str, expected: &str) {
    let (a, e) = (kpis(actual), kpis(expected));
    if a == e {
        return;
    }
    let (sa, se): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (a.iter().filter_map(|l| l.rsplit_once(' ')).collect(), e.iter().filter_map(|l| l.rsplit_once(' ')).collect());
    let mut diffs: Vec<String> = Vec::new();
    for key in sa.keys().chain(se.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (x, y) = (sa.get(key), se.get(key));
        if x != y {
            diffs.push(format!("{key}: actual {x:?}, expected {y:?}"));
        }
    }
    panic!("{} KPI samples differ, e.g.:\n{}", diffs.len(), diffs.iter().take(25).cloned().collect::<Vec<_>>().join("\n"));
}

pub fn total_events(s: &std::collections::BTreeMap<String, f64>) -> f64 {
    s.iter().filter(|(k, _)| k.starts_with("ticketpulse_events_total")).map(|(_, v)| v).sum()
}

/// Per partition of `topic`, the stream time an instance reports.
pub fn stream_times(text: &str, topic: &str) -> BTreeMap<i32, f64> {
    let prefix = format!("ticketpulse_stream_time_seconds{{topic=\"{topic}\",partition=\"");
    parse_exposition(text)
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).and_then(|rest| rest.split('"').next()).map(|p| (p.parse().unwrap(), v)))
        .collect()
}

/// Per partition of `topic`, the stream times the instances' scrapes report: a partition
/// drained at one place shows one time, the input's last.
pub fn owners(texts: &[String], topic: &str) -> BTreeMap<i32, Vec<f64>> {
    let mut owners: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
    for text in texts {
        for (p, t) in stream_times(text, topic) {
            owners.entry(p).or_default().push(t);
        }
    }
    owners
}

/// The stream time an instance reports for one partition of `topic`, if it holds it.
pub fn stream_time(text: &str, topic: &str, partition: i32) -> Option<f64> {
    parse_exposition(text).get(&format!("ticketpulse_stream_time_seconds{{topic=\"{topic}\",partition=\"{partition}\"}}")).copied()
}

/// A series without labels (a counter's total), 0 when absent.
pub fn counter(text: &str, name: &str) -> f64 {
    parse_exposition(text).get(name).copied().unwrap_or(0.0)
}

/// The KPI series that combine across instances, as their families declare
/// (`ticketpulse::exporter::across`: counts and sums, maxima, minima; not quantiles, ratios,
/// means or configured values), zeros dropped.
pub fn additive(text: &str) -> BTreeMap<String, f64> {
    kpis(text)
        .into_iter()
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(k, _)| across(k).is_some_and(|a| a != Across::Never))
        .map(|(k, v)| (k.to_string(), v.parse::<f64>().unwrap()))
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

/// The one rule for combining series across instances: several instances' series (each
/// map one instance's), each value taken through `unit` first, combined as its family declares
/// (`ticketpulse::exporter::across`: counts and sums add, an oldest age is the largest, the
/// time to the next deadline the smallest; a series of no declared family adds): what one
/// instance holding every partition shows.
pub fn combine<T: Copy + PartialOrd + std::ops::Add<Output = T>>(
    instances: impl IntoIterator<Item = BTreeMap<String, f64>>,
    unit: impl Fn(f64) -> T,
) -> BTreeMap<String, T> {
    let mut fleet: BTreeMap<String, T> = BTreeMap::new();
    for series in instances {
        for (k, v) in series {
            let (v, rule) = (unit(v), across(&k));
            fleet
                .entry(k)
                .and_modify(|total| {
                    *total = match rule {
                        Some(Across::Max) if v > *total => v,
                        Some(Across::Min) if v < *total => v,
                        Some(Across::Max | Across::Min) => *total,
                        _ => *total + v,
                    }
                })
                .or_insert(v);
        }
    }
    fleet
}

/// The [`additive`] series of several instances' expositions, [`combine`]d.
pub fn fleet<T: Copy + PartialOrd + std::ops::Add<Output = T>>(texts: &[String], unit: impl Fn(f64) -> T) -> BTreeMap<String, T> {
    combine(texts.iter().map(|text| additive(text)), unit)
}
