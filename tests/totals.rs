//! Event-time totals (`<family>_total` counters and `<stem>_cumulative_seconds` histograms,
//! per input partition): exact all-time values through `replay`, beyond every window; and
//! through a real broker (tansu), across a SIGKILL and a handover, never lower than before and
//! adding up over the fleet to the all-time counts of the input.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{
    combine, create_topics, free_port, parse_exposition, produce_all, spawn_run, stream_times, value, wait_all, Broker, RunConfig,
};
use ticketpulse::config::{Config, PolicyConfig};
use ticketpulse::replay::{replay, End};

/// 2026-01-05T09:00:00Z.
const B: i64 = 1_767_603_600_000;

fn created(id: &str, at: i64) -> String {
    format!(r#"{{"event_id":"c-{id}","ticket_id":"{id}","type":"ticket_created","at":{at},"channel":"email","priority":"normal"}}"#)
}

fn reply(id: &str, at: i64) -> String {
    format!(r#"{{"event_id":"r-{id}-{at}","ticket_id":"{id}","type":"message","at":{at},"author":"agent","public":true}}"#)
}

fn solved(id: &str, at: i64) -> String {
    format!(r#"{{"event_id":"s-{id}","ticket_id":"{id}","type":"status_changed","at":{at},"status":"solved"}}"#)
}

/// One policy for every ticket, first response within `target`.
fn policy(target: Duration) -> Vec<PolicyConfig> {
    vec![PolicyConfig { name: "std".into(), first_response: Some(target), ..PolicyConfig::default() }]
}

/// The buckets of a histogram series, as `(le, count)` in exposition order, then sum and count.
fn histogram(s: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)], bounds: &[&str]) -> (Vec<(String, f64)>, f64, f64) {
    let buckets = bounds
        .iter()
        .map(|le| {
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            (le.to_string(), value(s, &format!("{name}_bucket"), &with_le))
        })
        .collect();
    (buckets, value(s, &format!("{name}_sum"), labels), value(s, &format!("{name}_count"), labels))
}

/// Every default bound with the 10m target added, and +Inf.
const BOUNDS_600: [&str; 14] =
    ["60", "300", "600", "900", "1800", "3600", "7200", "14400", "28800", "86400", "172800", "604800", "2592000", "+Inf"];

/// B = 2026-01-05T09:00Z; every ticket email / normal, policy `std`: first response within 10m.
/// - T0 created at B−2d, solved 30m later, never answered: first response breached at B−2d+10m.
/// - T1, T2, T3 created at B, answered after 600 s (exactly the deadline: met), 1800 s and
///   5400 s (breached at B+10m, answered later); T1 solved at B+1h.
/// - T5 created at B−2d+10m, arriving last: late, older than every window.
///
/// Replayed to B+2h, the 24h window holds T1..T3 only; the totals hold everything.
#[test]
fn totals_through_replay_are_exact_and_outlive_every_window() {
    let mut config = Config::default();
    config.sla.policies = policy(Duration::from_secs(600));
    let (day, min) = (86_400_000, 60_000);
    let lines = [
        created("T0", B - 2 * day),
        solved("T0", B - 2 * day + 30 * min),
        created("T1", B),
        created("T2", B),
        created("T3", B),
        reply("T1", B + 600_000),
        reply("T2", B + 1_800_000),
        solved("T1", B + 3_600_000),
        reply("T3", B + 5_400_000),
        created("T5", B - 2 * day + 10 * min),
    ];
    let text = replay(&config, Cursor::new(lines.join("\n")), End::Flush(Some(B + 2 * 3_600_000))).unwrap();
    let s = parse_exposition(&text);
    let dims = [("channel", "email"), ("priority", "normal")];
    let total = [("channel", "email"), ("priority", "normal"), ("topic", "replay"), ("partition", "0")];
    let v = |name: &str, labels: &[(&str, &str)]| value(&s, name, labels);
    let w24 = |name: &str| v(name, &[("window", "24h"), ("channel", "email"), ("priority", "normal")]);

    // Created: T0, T1, T2, T3, T5 = 5 all time; the 24h window (B−22h..B+2h) holds T1..T3.
    assert_eq!(v("ticketpulse_tickets_created_total", &total), 5.0);
    assert_eq!(w24("ticketpulse_tickets_created"), 3.0);
    // Solves: T0 (B−2d+30m) and T1 (B+1h); the window holds T1's.
    assert_eq!(v("ticketpulse_tickets_solved_total", &total), 2.0);
    assert_eq!(w24("ticketpulse_tickets_solved"), 1.0);
    // Three public agent replies, no customer message.
    assert_eq!(v("ticketpulse_messages_total", &[&total[..], &[("direction", "outbound")]].concat()), 3.0);
    assert_eq!(v("ticketpulse_messages_total", &[&total[..], &[("direction", "inbound")]].concat()), 0.0);

    // First response 600, 1800, 5400 s; bounds: the defaults and the 600 s target.
    // le=600: 1 (600 <= 600), 900: 1, 1800: 2, 3600: 2, 7200 and up: 3; sum 7800, count 3.
    let counts = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0];
    let expected: Vec<(String, f64)> = BOUNDS_600.iter().zip(counts).map(|(le, n)| (le.to_string(), n)).collect();
    let first_response = histogram(&s, "ticketpulse_first_response_time_cumulative_seconds", &total, &BOUNDS_600);
    assert_eq!(first_response, (expected.clone(), 7800.0, 3.0));
    // "Answered within target" is bucket{le=target} / count: 1 of 3, as sla_met says.
    // First resolution: T0 1800 s, T1 3600 s; bounds the defaults (no resolution target).
    let defaults: Vec<&str> = BOUNDS_600.iter().copied().filter(|b| *b != "600").collect();
    let first_resolution = histogram(&s, "ticketpulse_first_resolution_time_cumulative_seconds", &total, &defaults);
    let resolved: Vec<(String, f64)> = defaults
        .iter()
        .map(|le| {
            (
                le.to_string(),
                match *le {
                    "60" | "300" | "900" => 0.0,
                    "1800" => 1.0,
                    _ => 2.0,
                },
            )
        })
        .collect();
    assert_eq!(first_resolution, (resolved, 5400.0, 2.0));

    // SLA first response: T1 met (reply at the deadline); T2, T3 breached at B+10m, T0 at
    // B−2d+10m, T5 at B−2d+20m (fired once it arrived): 4. The 24h window: 1 met, 2 breached.
    let sla = [&total[..2], &[("policy", "std"), ("target", "first_response"), ("topic", "replay"), ("partition", "0")]].concat();
    assert_eq!(v("ticketpulse_sla_met_total", &sla), 1.0);
    assert_eq!(v("ticketpulse_sla_breached_total", &sla), 4.0);
    let sla24 = [&[("window", "24h")], &dims[..], &[("policy", "std"), ("target", "first_response")]].concat();
    assert_eq!((v("ticketpulse_sla_met", &sla24), v("ticketpulse_sla_breached", &sla24)), (1.0, 2.0));
    // Business time (24x7) of the three fulfilled first responses, breached ones included:
    // the same 600, 1800, 5400 s, on the same bounds (every target: 600 s).
    let business = histogram(&s, "ticketpulse_sla_business_time_cumulative_seconds", &sla, &BOUNDS_600);
    assert_eq!(business, (expected, 7800.0, 3.0));
    // No total of a ratio, a mean or a maximum; the existing families keep their names.
    assert!(!text.contains("ticketpulse_resolution_ratio_total") && !text.contains("_max_seconds_total"));
    assert!(!text.contains("ticketpulse_first_response_time_max_cumulative_seconds"));
    assert_eq!(w24("ticketpulse_first_response_time_seconds_count"), 3.0);
}

/// A config file for the binary: SLA `std` (first response 1h), snapshots every 200 ms into a
/// directory both instances share, idle advancement off.
fn write_config(dir: &Path, name: &str, bootstrap: &str, topic: &str, port: u16) -> PathBuf {
    let extra = "[[sla.policies]]\nname = \"std\"\nfirst_response = \"1h\"\n".to_string();
    RunConfig { client_id: Some(name.to_string()), extra, ..RunConfig::new(bootstrap, topic, port, &dir.join("state")) }
        .write(&dir.join(format!("{name}.toml")))
}

/// `ticketpulse run` with `RUST_LOG=warn` (`common::spawn_run`); the test kills it.
fn spawn(config: &Path) -> Child {
    spawn_run(config)
}

/// The total and cumulative-histogram series of a scrape (all keyed by partition).
fn totals(text: &str) -> BTreeMap<String, f64> {
    parse_exposition(text)
        .into_iter()
        .filter(|(k, _)| {
            let name = k.split('{').next().unwrap();
            k.contains("partition=\"")
                && (name.contains("_cumulative_seconds") || (name.ends_with("_total") && name != "ticketpulse_events_total"))
        })
        .collect()
}

/// Each series summed over instances (each partition is on one of them), by the fleet's one
/// rule (`common::combine`: every total adds).
fn summed(texts: &[String]) -> BTreeMap<String, f64> {
    combine(texts.iter().map(|text| totals(text)), |v| v)
}

/// Partition p of 4 holds tickets P{p}-0..5, email / normal, answered after 600 s (even) or
/// 5400 s (odd): tickets 0..2 from B (phase 1), 3..5 from B+2h (phase 2), 60 s apart, then a
/// tick (web / low) at B+1d that moves every watermark past every deadline. Instance A takes
/// phase 1, is SIGKILLed once its totals show; A again and a new B (same group) take phase 2.
///
/// All-time, summed over the fleet: 24 email tickets created (the ticks stay buffered); first responses
/// 12 × 600 s and 12 × 5400 s, bounds the defaults with the 3600 s target (a default already):
/// le=300 0, le=900 12, le=3600 12, le=7200 24, +Inf 24, sum 12 × 600 + 12 × 5400 = 72000;
/// SLA first response (1h) met 12, breached 12; 24 outbound messages.
#[test]
fn totals_never_go_back_across_a_sigkill_and_a_handover_and_add_up_over_the_fleet() {
    let broker = Broker::start();
    let topic = "totals-fleet";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, 4)]));
    let phase = |tickets: std::ops::Range<i64>, from: i64| {
        let mut events: Vec<(i64, String, i32)> = Vec::new();
        for p in 0..4 {
            for i in tickets.clone() {
                let (id, at) = (format!("P{p}-{i}"), from + (i % 3) * 60_000);
                let wait = if i % 2 == 0 { 600_000 } else { 5_400_000 };
                events.push((at, created(&id, at), p));
                events.push((at + wait, reply(&id, at + wait), p));
            }
        }
        events.sort();
        events.into_iter().map(|(_, line, p)| (None, line.into_bytes(), Some(p))).collect::<Vec<_>>()
    };
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let addrs: Vec<SocketAddr> = ports.iter().map(|p| format!("127.0.0.1:{p}").parse().unwrap()).collect();
    let a = write_config(dir.path(), "a", &broker.bootstrap, topic, ports[0]);
    let b = write_config(dir.path(), "b", &broker.bootstrap, topic, ports[1]);

    rt.block_on(produce_all(&broker.bootstrap, topic, &phase(0..3, B)));
    let mut first = spawn(&a);
    // Every partition's 3 creations shown (as of a snapshot saved), replies partly buffered.
    let created_of = |text: &str, p: i32| -> f64 {
        let labels = [("channel", "email"), ("priority", "normal"), ("topic", topic), ("partition", &p.to_string())];
        parse_exposition(text).get(&common::key("ticketpulse_tickets_created_total", &labels)).copied().unwrap_or(0.0)
    };
    let before = wait_all(&addrs[..1], Duration::from_secs(60), |t| (0..4).all(|p| created_of(&t[0], p) == 3.0)).remove(0);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = totals(&before);
    assert!(before.len() > 4 * 10, "{before:?}");

    let tick = B + 86_400_000;
    let mut rest = phase(3..6, B + 7_200_000);
    rest.extend((0..4).map(|p| {
        (
            None,
            format!(r#"{{"event_id":"tick","ticket_id":"TICK","type":"ticket_created","at":{tick},"channel":"web","priority":"low"}}"#)
                .into_bytes(),
            Some(p),
        )
    }));
    rt.block_on(produce_all(&broker.bootstrap, topic, &rest));
    let mut again = [spawn(&a), spawn(&b)];
    // Whoever shows a partition first after the kill shows at least what A showed last.
    let owned = |texts: &[String]| (0..4).all(|p| texts.iter().any(|t| stream_times(t, topic).contains_key(&p)));
    let restored = summed(&wait_all(&addrs, Duration::from_secs(60), owned));
    // Until drained, every scrape: each partition's series never below what A showed.
    let drained = |texts: &[String]| {
        let now = summed(texts);
        let lower: Vec<_> = before.iter().filter(|(k, v)| now.get(*k).is_some_and(|n| n < *v)).collect();
        assert!(lower.is_empty(), "lower than before the SIGKILL: {lower:?}");
        let at_tick: BTreeMap<i32, usize> =
            texts.iter().flat_map(|t| stream_times(t, topic)).filter(|(_, t)| *t == tick as f64 / 1000.0).map(|(p, _)| (p, 1)).collect();
        at_tick.len() == 4 && (0..4).all(|p| texts.iter().map(|t| created_of(t, p)).sum::<f64>() == 6.0)
    };
    let texts = wait_all(&addrs, Duration::from_secs(120), drained);
    for child in &mut again {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    for (k, v) in &before {
        assert!(restored.get(k).is_some_and(|r| r >= v), "{k}: {v} before the SIGKILL, {:?} after the restore", restored.get(k));
    }

    // Summed over instances and partitions: the all-time counts of the input.
    let fleet = summed(&texts);
    let over_partitions = |name: &str, extra: &[(&str, &str)]| -> f64 {
        fleet
            .iter()
            .filter(|(k, _)| k.split('{').next() == Some(name) && extra.iter().all(|(l, v)| k.contains(&format!("{l}=\"{v}\""))))
            .map(|(_, v)| v)
            .sum()
    };
    let email = [("channel", "email"), ("priority", "normal")];
    assert_eq!(over_partitions("ticketpulse_tickets_created_total", &email), 24.0);
    // The ticks wait in the reorder buffer (the watermark is 10 s behind them): not counted.
    assert_eq!(over_partitions("ticketpulse_tickets_created_total", &[("channel", "web")]), 0.0);
    assert_eq!(over_partitions("ticketpulse_messages_total", &[("direction", "outbound")]), 24.0);
    let name = "ticketpulse_first_response_time_cumulative_seconds";
    let buckets: Vec<f64> = ["300", "900", "3600", "7200", "+Inf"]
        .iter()
        .map(|le| over_partitions(&format!("{name}_bucket"), &[("channel", "email"), ("le", le)]))
        .collect();
    assert_eq!(buckets, [0.0, 12.0, 12.0, 24.0, 24.0]);
    assert_eq!((over_partitions(&format!("{name}_sum"), &email), over_partitions(&format!("{name}_count"), &email)), (72_000.0, 24.0));
    let sla = [("channel", "email"), ("target", "first_response")];
    assert_eq!((over_partitions("ticketpulse_sla_met_total", &sla), over_partitions("ticketpulse_sla_breached_total", &sla)), (12.0, 12.0));
    // Each partition's series is on exactly one instance.
    let owners: Vec<usize> = (0..4).map(|p| texts.iter().filter(|t| created_of(t, p) > 0.0).count()).collect();
    assert_eq!(owners, [1, 1, 1, 1]);
}

/// Sends SIGTERM and waits for the exit (the final snapshot and offset commit).
fn terminate(mut child: Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not exit within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A partition that starts without a usable snapshot rebuilds its state from the start of the
/// topic, but its totals count only from the group's committed offset: the previous run counted
/// what came before it. `edit` turns the first run's configuration into the second's.
///
/// One partition: run 1 reads 3 email tickets created at B, B+60 s, B+120 s, each answered after
/// 600 s, and a tick (web) at B+1h that applies them; it stops (SIGTERM: committed, and with a
/// store snapshotted) showing 3 created, 3 first responses, the tick still buffered. Run 2 reads 2
/// more email tickets from B+2h (answered after 600 s) and a tick at B+12h. Its totals: 2 email
/// created, 1 web (the first tick, applied by run 2's input: run 1 never counted it), 2 first
/// responses (le=900: 2, sum 1200 s), 2 outbound messages; a recount would show 5, 5, 5. Its
/// 24h window holds all 5 email tickets: the state was rebuilt from the retained input.
fn restart_without_a_usable_snapshot(topic: &str, edit: impl Fn(String) -> String) {
    let broker = Broker::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, 1)]));
    let tickets = |from: i64, ids: std::ops::Range<i64>, tick: i64| {
        let mut events: Vec<(i64, String)> = Vec::new();
        for i in ids.clone() {
            let (id, at) = (format!("T{i}"), from + (i - ids.start) * 60_000);
            events.push((at, created(&id, at)));
            events.push((at + 600_000, reply(&id, at + 600_000)));
        }
        let tick_id = format!("TICK-{tick}");
        events.push((
            tick,
            format!(
                r#"{{"event_id":"{tick_id}","ticket_id":"{tick_id}","type":"ticket_created","at":{tick},"channel":"web","priority":"low"}}"#
            ),
        ));
        events.sort();
        events.into_iter().map(|(_, line)| (None, line.into_bytes(), Some(0))).collect::<Vec<_>>()
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let first = write_config(dir.path(), "first", &broker.bootstrap, topic, port);
    let second = dir.path().join("second.toml");
    std::fs::write(&second, edit(std::fs::read_to_string(&first).unwrap())).unwrap();
    // Exposition order: dimensions, topic and partition, then the family's own label.
    let series = |text: &str, name: &str, labels: &[(&str, &str)]| -> f64 {
        let (dims, own) = labels.split_at(2);
        let mut labels = dims.to_vec();
        labels.extend([("topic", topic), ("partition", "0")]);
        labels.extend(own);
        parse_exposition(text).get(&common::key(name, &labels)).copied().unwrap_or(0.0)
    };
    let email = [("channel", "email"), ("priority", "normal")];
    let web = [("channel", "web"), ("priority", "low")];
    let frt = "ticketpulse_first_response_time_cumulative_seconds";

    rt.block_on(produce_all(&broker.bootstrap, topic, &tickets(B, 0..3, B + 3_600_000)));
    let run = spawn(&first);
    let shown = wait_all(&[addr], Duration::from_secs(60), |t| series(&t[0], "ticketpulse_tickets_created_total", &email) == 3.0);
    assert_eq!(series(&shown[0], &format!("{frt}_count"), &email), 3.0);
    terminate(run);

    let tick = B + 43_200_000;
    rt.block_on(produce_all(&broker.bootstrap, topic, &tickets(B + 7_200_000, 3..5, tick)));
    let mut run = spawn(&second);
    let at_tick = |t: &[String]| stream_times(&t[0], topic).get(&0) == Some(&(tick as f64 / 1000.0));
    let done = |t: &[String]| at_tick(t) && series(&t[0], "ticketpulse_tickets_created_total", &web) == 1.0;
    let text = wait_all(&[addr], Duration::from_secs(60), done).remove(0);
    run.kill().unwrap();
    run.wait().unwrap();
    let counted = [
        series(&text, "ticketpulse_tickets_created_total", &email),
        series(&text, "ticketpulse_tickets_created_total", &web),
        series(&text, &format!("{frt}_count"), &email),
        series(&text, &format!("{frt}_bucket"), &[email[0], email[1], ("le", "900")]),
        series(&text, &format!("{frt}_sum"), &email),
        series(&text, "ticketpulse_messages_total", &[email[0], email[1], ("direction", "outbound")]),
    ];
    assert_eq!(counted, [2.0, 1.0, 2.0, 2.0, 1200.0, 2.0]);
    let window =
        parse_exposition(&text).get(&common::key("ticketpulse_tickets_created", &[("window", "24h"), email[0], email[1]])).copied();
    assert_eq!(window, Some(5.0));
}

#[test]
fn without_a_snapshot_store_a_restart_counts_from_the_committed_offset() {
    restart_without_a_usable_snapshot("totals-none", |config| config.replace(r#"store = "local""#, r#"store = "none""#));
}

#[test]
fn a_refused_snapshot_counts_from_the_committed_offset() {
    // The first response target shapes stored state: run 1's snapshot is refused.
    restart_without_a_usable_snapshot("totals-refused", |config| config.replace(r#"first_response = "1h""#, r#"first_response = "2h""#));
}
