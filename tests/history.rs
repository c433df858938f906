//! History from the first day: `replay --history-step` writes the exposition at every step of
//! event time as OpenMetrics, and step t is exactly what `replay --end-time t` prints for the
//! input's events dated up to t. Checked step by step in process, then end to end with the real
//! programs: promtool turns the file into TSDB blocks, Prometheus serves them, and what it
//! answers at past instants equals `replay --end-time` at those instants, series for series.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{free_addr, http_get, spawn_prometheus, urlencode, wait_ready};
use serde_json::Value as Json;
use ticketpulse::base::Millis;
use ticketpulse::config::Config;
use ticketpulse::generator::{Generated, Generator, GeneratorOptions};
use ticketpulse::replay::history::{history, Steps, Written};
use ticketpulse::replay::{replay, End};

const BIN: &str = env!("CARGO_BIN_EXE_ticketpulse");
/// 2026-11-02T00:00:00Z, a Monday.
const START: Millis = 1_793_577_600_000;
const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;

/// The generator's events from START for `duration`.
fn generated(seed: u64, tickets_per_hour: f64, duration: Millis) -> Vec<Generated> {
    Generator::new(GeneratorOptions { seed, tickets_per_hour, start: START }).take_while(|g| g.at < START + duration).collect()
}

/// The input of `events`: one JSON line each.
fn jsonl<'a>(events: impl IntoIterator<Item = &'a Generated>) -> String {
    events.into_iter().map(|g| format!("{}\n", g.payload)).collect()
}

/// A history file's sample lines by step time (ms), the timestamp taken off each.
fn steps_of(history: &str) -> BTreeMap<Millis, Vec<&str>> {
    let mut steps: BTreeMap<Millis, Vec<&str>> = BTreeMap::new();
    for line in history.lines().filter(|l| !l.starts_with('#')) {
        let (sample, seconds) = line.rsplit_once(' ').unwrap();
        steps.entry(seconds.parse::<Millis>().unwrap() * 1000).or_default().push(sample);
    }
    steps
}

/// The sample lines of a text exposition.
fn samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// Every step of the history equals `replay --end-time t` (the library call the command
/// makes) over the events dated up to t, byte for byte: six hours of a generated help desk
/// in 5-minute steps, delivered out of order by up to 90 s (every 90 s run reversed), which
/// the allowed lateness (2 minutes here) absorbs. No infinity occurs, so the sample lines are
/// the text format's plus the timestamp.
#[test]
fn every_step_is_replay_end_time_over_the_events_dated_up_to_it() {
    let mut config = Config::default();
    config.time.allowed_lateness = Duration::from_secs(120);
    let mut events = generated(7, 60.0, 6 * HOUR);
    // Reversed within each 90 s bucket: out of order by less than the allowed lateness.
    let mut keyed: Vec<(Millis, usize, Generated)> =
        events.drain(..).enumerate().map(|(i, g)| (g.at / 90_000, usize::MAX - i, g)).collect();
    keyed.sort_by_key(|(bucket, reversed, _)| (*bucket, *reversed));
    let events: Vec<Generated> = keyed.into_iter().map(|(.., g)| g).collect();
    assert!(events.windows(2).filter(|w| w[0].at > w[1].at).count() > 100, "the input is out of order");
    let mut out = Vec::new();
    let written = history(&config, jsonl(&events).as_bytes(), Steps { step: 5 * MINUTE, end_time: None }, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.ends_with("\n# EOF\n"));
    // The generator's first event is at START, a step; its last is within the last 5 minutes
    // of the six hours, so the last step is START + 6 h: 6 × 12 + 1 = 73 steps.
    let last = events.iter().map(|g| g.at).max().unwrap();
    assert!(last > START + 6 * HOUR - 5 * MINUTE);
    assert_eq!(written, Written { steps: 73, first: Some(START), last: Some(START + 6 * HOUR), too_late: 0, after_end: 0 });
    let steps = steps_of(&out);
    assert_eq!(steps.keys().copied().collect::<Vec<_>>(), (0..73).map(|i| START + i * 5 * MINUTE).collect::<Vec<_>>());
    for (t, step) in &steps {
        let prefix = jsonl(events.iter().filter(|g| g.at <= *t));
        let expected = replay(&config, prefix.as_bytes(), End::Flush(Some(*t))).unwrap();
        assert_eq!(*step, samples(&expected), "step {t}");
    }
    // The steps saw tickets created, answered and breached.
    let at_end = &steps[&(START + 6 * HOUR)];
    for family in ["ticketpulse_tickets_created{", "ticketpulse_first_response_time_seconds_sum{", "ticketpulse_sla_breached{"] {
        assert!(at_end.iter().any(|l| l.starts_with(family)), "{family}");
    }
}

/// `--end-time` bounds the steps, and an event dated at or before a step already written (out
/// of order by more than the allowed lateness, default 10 s) is counted, and the steps after
/// it include it. Hand made, step 1 minute, end time 00:04, lines in this order:
/// A 00:00:30, B 00:02:30, E 00:02:50, C 00:01:00, D 00:05:30, then a line that is not JSON.
/// - E is more than 10 s after B, so B is fed: the steps before it, 00:01 and 00:02, are
///   written (A only: the first step is ceil(00:00:30) = 00:01).
/// - C is dated before the 00:02 step already written: too late for it (`too_late` 1); the
///   engine applies it as `late`, and the 00:03 and 00:04 steps hold it.
/// - D is after the end time (`after_end` 1); the not-JSON line is counted at once, before
///   the steps 00:03 and 00:04 are written at the end of input.
#[test]
fn end_time_bounds_the_steps_and_events_too_late_for_a_step_are_counted() {
    let config = Config::default();
    let created = |id: &str, at: Millis| {
        format!(r#"{{"event_id":"{id}","ticket_id":"{id}","type":"ticket_created","at":{at},"channel":"email","priority":"low"}}"#)
    };
    let input = [
        created("A", START + 30_000),
        created("B", START + 150_000),
        created("E", START + 170_000),
        created("C", START + MINUTE),
        created("D", START + 330_000),
        "not json".to_string(),
    ]
    .join("\n");
    let mut out = Vec::new();
    let steps = Steps { step: MINUTE, end_time: Some(START + 4 * MINUTE) };
    let written = history(&config, input.as_bytes(), steps, &mut out).unwrap();
    assert_eq!(written, Written { steps: 4, first: Some(START + MINUTE), last: Some(START + 4 * MINUTE), too_late: 1, after_end: 1 });
    let out = String::from_utf8(out).unwrap();
    let steps = steps_of(&out);
    let value = |t: Millis, series: &str| -> f64 {
        steps[&t].iter().filter(|l| l.starts_with(series)).map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap()).sum()
    };
    // Tickets created in the 5m window (all of them, as the window reaches back past START):
    // 00:01 and 00:02 A; 00:03 and 00:04 A, B, E and C.
    let created_5m = [1, 2, 3, 4].map(|m| value(START + m * MINUTE, "ticketpulse_tickets_created{window=\"5m\""));
    assert_eq!(created_5m, [1.0, 1.0, 4.0, 4.0]);
    let late = [1, 2, 3, 4].map(|m| value(START + m * MINUTE, "ticketpulse_events_total{type=\"ticket_created\",result=\"late\"}"));
    assert_eq!(late, [0.0, 0.0, 1.0, 1.0]);
    let not_json = [1, 2, 3, 4].map(|m| value(START + m * MINUTE, "ticketpulse_invalid_events_total{reason=\"not_json\"}"));
    assert_eq!(not_json, [0.0, 0.0, 1.0, 1.0]);
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(out.status.success(), "{command:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Unescapes a label value of the text format.
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(c) => out.push(c),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// A series as `name{label="value",...}` with its labels sorted and values unescaped, the
/// same from the exposition and from Prometheus's answers.
fn series_key(name: &str, labels: impl IntoIterator<Item = (String, String)>) -> String {
    let labels: BTreeMap<String, String> = labels.into_iter().collect();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// An exposition's series by [`series_key`]: name, labels split at `",` (no value here holds
/// that) and unescaped.
fn parse(text: &str) -> BTreeMap<String, f64> {
    samples(text)
        .into_iter()
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = series.split_once('{').map_or((series, ""), |(n, l)| (n, l.strip_suffix('}').unwrap()));
            let labels = labels.split("\",").filter(|l| !l.is_empty()).map(|l| {
                let (k, v) = l.split_once("=\"").unwrap();
                (k.to_string(), unescape(v.strip_suffix('"').unwrap_or(v)))
            });
            (series_key(name, labels), value.parse::<f64>().unwrap())
        })
        .collect()
}

/// A series of Prometheus's answer by [`series_key`].
fn prometheus_key(metric: &Json) -> String {
    let labels = metric.as_object().unwrap().iter().filter(|(k, _)| *k != "__name__");
    series_key(metric["__name__"].as_str().unwrap(), labels.map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())))
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// An instant query at `t`: the result's type and entries.
fn query(prometheus: SocketAddr, promql: &str, t: Millis) -> (String, Vec<Json>) {
    let path = format!("/api/v1/query?query={}&time={}", urlencode(promql), t / 1000);
    let (status, body) = http_get(prometheus, &path).unwrap();
    let v: Json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status, 200, "{promql}: {v}");
    (v["data"]["resultType"].as_str().unwrap().to_string(), v["data"]["result"].as_array().cloned().unwrap_or_default())
}

fn rfc3339(t: Millis) -> String {
    ticketpulse::base::rfc3339(t)
}

/// Three generated days (30 tickets an hour, labelled by priority only, to keep the file at
/// about 250 MB) written by `ticketpulse replay --history-step 1m`, turned into day-long
/// blocks by the real `promtool tsdb create-blocks-from openmetrics`, served by the
/// real Prometheus: at chosen past instants, the samples Prometheus holds at that instant are
/// exactly the series and values `ticketpulse replay --end-time` prints for the events dated
/// up to it, every family (windowed counts, summaries' quantiles, sums and counts, current
/// gauges, SLA families, self-metrics). The dashboard's instant queries read the same values;
/// they also return, for up to 5 minutes (the lookback), series that ended since the last
/// step, because backfilled blocks carry no staleness markers.
#[test]
fn prometheus_serves_the_backfilled_history_exactly_as_replay_end_time_prints_it() {
    for tool in ["promtool", "prometheus"] {
        assert!(Command::new(tool).arg("--version").output().is_ok(), "{tool} is not installed (scripts/install-test-deps)");
    }
    let dir = tempfile::tempdir().unwrap();
    let events = generated(11, 30.0, 3 * DAY);
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, jsonl(&events)).unwrap();
    let config_file = dir.path().join("ticketpulse.toml");
    std::fs::write(&config_file, "[dimensions]\nlabels = [\"priority\"]\n").unwrap();
    let history_file = dir.path().join("history.om");
    let history_out = std::fs::File::create(&history_file).unwrap();
    let status = Command::new(BIN)
        .args(["replay", "--history-step", "1m", "--config"])
        .arg(&config_file)
        .arg(&input)
        .env("RUST_LOG", "warn")
        .stdout(history_out)
        .status()
        .unwrap();
    assert!(status.success());
    let tsdb = dir.path().join("tsdb");
    // Blocks of up to a day (18 h, the longest of Prometheus's block ranges within it): promtool
    // parses the whole file once per block.
    let promtool_args = ["tsdb", "create-blocks-from", "--max-block-duration=24h", "openmetrics", "--quiet"];
    run(Command::new("promtool").args(promtool_args).arg(&history_file).arg(&tsdb));

    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let addr = free_addr();
    let _prometheus = spawn_prometheus(addr, &config, &tsdb);
    wait_ready(addr, "/-/ready", "prometheus", Duration::from_secs(60));

    // Monday 06:00 (the first 24 h window still filling), Tuesday 13:07, Wednesday 23:59 (the
    // last full minute), and Tuesday 09:30 (mid-morning, tickets waiting on replies).
    let instants = [START + 6 * HOUR, START + DAY + 13 * HOUR + 7 * MINUTE, START + 3 * DAY - MINUTE, START + DAY + 9 * HOUR + 30 * MINUTE];
    for t in instants {
        let prefix = dir.path().join("prefix.jsonl");
        std::fs::write(&prefix, jsonl(events.iter().filter(|g| g.at <= t))).unwrap();
        let mut replay = Command::new(BIN);
        replay.args(["replay", "--end-time", &rfc3339(t), "--config"]).arg(&config_file).arg(&prefix).env("RUST_LOG", "warn");
        let expected = parse(&run(&mut replay));
        for family in [
            "ticketpulse_tickets_created{",
            "ticketpulse_first_response_time_seconds{",
            "ticketpulse_first_response_time_seconds_sum{",
            "ticketpulse_open_tickets{",
            "ticketpulse_sla_met{",
            "ticketpulse_sla_breached{",
        ] {
            assert!(expected.keys().any(|k| k.starts_with(family)), "{family} at {}", rfc3339(t));
        }

        // Every sample Prometheus holds at t (a range selector returns raw samples with their
        // times; the steps are a minute apart, so [1s] holds the one at t).
        let (kind, result) = query(addr, r#"{__name__=~"ticketpulse_.+"}[1s]"#, t);
        assert_eq!(kind, "matrix");
        let mut held = BTreeMap::new();
        for series in &result {
            let values = series["values"].as_array().unwrap();
            assert_eq!(values.len(), 1, "{series}");
            assert_eq!(values[0][0].as_f64().unwrap(), (t / 1000) as f64, "{series}");
            held.insert(prometheus_key(&series["metric"]), values[0][1].as_str().unwrap().parse::<f64>().unwrap());
        }
        assert_eq!(held.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "series at {}", rfc3339(t));
        for (key, value) in &expected {
            assert!(same(held[key], *value), "{key} at {}: Prometheus {}, replay {value}", rfc3339(t), held[key]);
        }

        // What a dashboard reads: instant queries of a windowed count, a quantile, a sum, a
        // current gauge and SLA families. Each series replay prints at t has its value; any
        // other is a series that ended within the lookback before t.
        for promql in [
            r#"ticketpulse_tickets_created{window="1h"}"#,
            r#"ticketpulse_first_response_time_seconds{window="24h",quantile="0.9"}"#,
            r#"ticketpulse_first_response_time_seconds_sum{window="24h"}"#,
            "ticketpulse_open_tickets",
            r#"ticketpulse_sla_met{window="24h"}"#,
            "ticketpulse_sla_breached_open_tickets",
        ] {
            let (kind, result) = query(addr, promql, t);
            assert_eq!(kind, "vector");
            let mut matched = 0;
            for series in &result {
                let key = prometheus_key(&series["metric"]);
                let value = series["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                match expected.get(&key) {
                    Some(v) => {
                        assert!(same(value, *v), "{promql}: {key} at {}: Prometheus {value}, replay {v}", rfc3339(t));
                        matched += 1;
                    }
                    None => assert!(!held.contains_key(&key)),
                }
            }
            let name = promql.split('{').next().unwrap();
            let selected = |k: &&String| {
                k.starts_with(&format!("{name}{{"))
                    && promql.split_once('{').is_none_or(|(_, m)| m.trim_end_matches('}').split(',').all(|m| k.contains(m)))
            };
            assert_eq!(matched, expected.keys().filter(selected).count(), "{promql} at {}", rfc3339(t));
            assert!(matched > 0, "{promql} at {}", rfc3339(t));
        }
    }
}
