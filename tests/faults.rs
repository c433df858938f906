//! Fault tests against a real broker on loopback (tansu): the service is killed, partitions
//! move between instances, the broker goes away, poison arrives; when the input is drained
//! the KPIs are exactly those of an undisturbed run over the same events.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    additive, counter, create_topics, fleet, free_port, http_get, key_of, kpis, owners, parse_exposition, produce_all, scrape,
    scrape_async, stream_time, wait_for, wait_for_async, Broker, RunConfig, Service, SELF_METRICS,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ticketpulse::config::{Config, SnapshotStoreKind};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::replay::{replay, End};

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z

/// `n` generated events, then a clock tick one minute after the last, so the live watermark
/// passes every generated event. Returns the lines and the tick's time.
fn scenario(n: usize, seed: u64, tickets_per_hour: f64) -> (Vec<String>, i64) {
    let mut lines: Vec<String> = Vec::with_capacity(n + 1);
    let mut last = START;
    for g in Generator::new(GeneratorOptions { seed, tickets_per_hour, start: START }).take(n) {
        last = g.at;
        lines.push(g.payload);
    }
    let tick = last + 60_000;
    lines.push(tick_event(tick, "TICK"));
    (lines, tick)
}

fn tick_event(at: i64, ticket: &str) -> String {
    format!(r#"{{"event_id":"{ticket}","ticket_id":"{ticket}","type":"ticket_created","at":{at},"channel":"web","priority":"low"}}"#)
}

/// What the live service shows after consuming `lines` in order from one partition.
fn replay_as_live(lines: &[String]) -> String {
    replay(&Config::default(), Cursor::new(lines.join("\n")), End::AsLive).unwrap()
}

fn keyed(lines: &[String]) -> Vec<(Option<String>, Vec<u8>, Option<i32>)> {
    lines.iter().map(|l| (key_of(l), l.as_bytes().to_vec(), None)).collect()
}

/// A config file for the `ticketpulse` binary: idle advancement off, snapshots every 200 ms.
fn write_config(dir: &Path, bootstrap: &str, topic: &str, port: u16) -> PathBuf {
    RunConfig::new(bootstrap, topic, port, &dir.join("state")).write(&dir.join("ticketpulse.toml"))
}

/// The all-time totals of expositions (the families a replay of the input labels by
/// partition), summed over instances, topics and input partitions: what was counted in all.
/// Keys drop `topic` and `partition`, so a live fleet compares with a replay (`replay`/`0`).
fn all_time(texts: &[String], families: &BTreeSet<String>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for text in texts {
        for (key, v) in parse_exposition(text) {
            let Some((name, labels)) = key.split_once('{') else { continue };
            if !families.contains(name) || !labels.contains("partition=\"") {
                continue;
            }
            let kept: Vec<&str> =
                labels.trim_end_matches('}').split("\",").filter(|l| !l.starts_with("topic=") && !l.starts_with("partition=")).collect();
            let labels = kept.join("\",");
            let labels = if labels.is_empty() || labels.ends_with('"') { labels } else { format!("{labels}\"") };
            *out.entry(format!("{name}{{{labels}}}")).or_insert(0.0) += v;
        }
    }
    out
}

/// The names of the series a replay labels by input partition: the all-time totals.
fn total_families(replayed: &str) -> BTreeSet<String> {
    let operational = |name: &str| SELF_METRICS.iter().any(|m| name.starts_with(m)) || name == "ticketpulse_events_without_creation_total";
    parse_exposition(replayed)
        .keys()
        .filter(|k| k.contains("partition=\""))
        .filter_map(|k| k.split_once('{'))
        .map(|(n, _)| n.to_string())
        .filter(|n| !operational(n))
        .collect()
}

/// Equal up to float rounding, for sums of seconds or scores whose partials were added in
/// another order (a relative 1e-12: counts below 10^11 stay exact).
fn same_totals(actual: &BTreeMap<String, f64>, expected: &BTreeMap<String, f64>) -> Vec<String> {
    let close = |_: &str, a: f64, e: f64| (a - e).abs() <= e.abs() * 1e-12;
    let mut keys: BTreeSet<&String> = actual.keys().collect();
    keys.extend(expected.keys());
    keys.into_iter()
        .filter(|k| match (actual.get(*k), expected.get(*k)) {
            (Some(a), Some(e)) => !close(k, *a, *e),
            (a, e) => a.copied().unwrap_or(0.0) != e.copied().unwrap_or(0.0),
        })
        .map(|k| format!("{k}: actual {:?}, expected {:?}", actual.get(k), expected.get(k)))
        .take(10)
        .collect()
}

#[test]
fn kill_9_at_random_moments_loses_and_double_counts_nothing() {
    let broker = Broker::start();
    let topic = "faults-kill";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, 1)]));
    let (lines, tick) = scenario(200_000, 11, 3_000.0);
    rt.block_on(produce_all(&broker.bootstrap, topic, &keyed(&lines)));
    let expected = replay_as_live(&lines);

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = write_config(dir.path(), &broker.bootstrap, topic, port);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut killed_mid_stream = 0;
    let mut restored = 0.0;
    let mut progress = 0.0;
    for round in 0..10 {
        let mut child = Service::spawn(&config);
        // Kill at a random moment once this run has made progress of its own. The bound is
        // patience, not a speed check: on a loaded machine a rejoin after SIGKILL waits out the
        // dead member's session and can take minutes.
        wait_for(addr, Duration::from_secs(240), |t| stream_time(t, topic, 0).is_some_and(|s| s > progress));
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1_500)));
        let last = scrape(addr).unwrap_or_default();
        let at_kill = stream_time(&last, topic, 0);
        restored += counter(&last, "ticketpulse_snapshots_restored_total");
        child.kill();
        let mid_stream = at_kill.is_some_and(|t| t < tick as f64 / 1000.0);
        progress = at_kill.unwrap_or(progress);
        killed_mid_stream += usize::from(mid_stream);
        eprintln!("round {round}: killed at stream time {at_kill:?} (mid-stream: {mid_stream})");
    }
    assert!(killed_mid_stream >= 3, "only {killed_mid_stream} of 10 kills hit the stream mid-way");
    assert!(restored >= 5.0, "most restarts resume from a snapshot, not from the beginning ({restored} did)");

    let mut child = Service::spawn(&config);
    let text = wait_for(addr, Duration::from_secs(120), |t| stream_time(t, topic, 0) == Some(tick as f64 / 1000.0));
    // The all-time totals, shown as of the last snapshot saved, reach exactly the replay's
    // once one is saved at the end: across 10 SIGKILLs nothing counted twice or lost.
    let families = total_families(&expected);
    let totals = all_time(std::slice::from_ref(&expected), &families);
    let shown = wait_for(addr, Duration::from_secs(60), |t| same_totals(&all_time(&[t.to_string()], &families), &totals).is_empty());
    child.kill();
    assert_eq!(counter(&text, "ticketpulse_snapshots_restored_total"), 1.0);
    common::assert_same_kpis(&text, &expected);
    assert!(kpis(&expected).len() > 300);
    assert!(families.len() > 20 && totals.len() > 500, "{} families, {} series", families.len(), totals.len());
    assert!(same_totals(&all_time(&[shown], &families), &totals).is_empty());
}

/// Scrapes the instances until every partition sits at `tick` on exactly one of them.
async fn wait_drained(addrs: &[SocketAddr], topic: &str, partitions: i32, tick: i64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut texts = Vec::new();
        for addr in addrs {
            texts.push(scrape_async(*addr).await);
        }
        let owners = owners(&texts, topic);
        let drained = owners.len() == partitions as usize && owners.values().all(|ts| ts == &[tick as f64 / 1000.0]);
        if drained {
            return texts;
        }
        assert!(Instant::now() < deadline, "not drained in 180 s: {owners:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn group_config(bootstrap: &str, topic: &str, group: &str) -> Config {
    let mut config = common::config(bootstrap, topic);
    config.kafka.group_id = group.to_string();
    config.kafka.dead_letter_topic = String::new();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitions_move_between_three_instances_and_the_sum_is_exact() {
    let broker = Broker::start();
    let topic = "faults-rebalance";
    let snapshots = "faults-rebalance-snapshots";
    create_topics(&broker.bootstrap, &[(topic, 4), (snapshots, 2)]).await;
    let (mut lines, tick) = scenario(40_000, 5, 2_000.0);
    lines.pop();
    let mut messages = keyed(&lines);
    // Every partition ends with a tick, so "drained" is visible on each.
    messages.extend((0..4).map(|p| (None, tick_event(tick, &format!("TICK-{p}")).into_bytes(), Some(p))));

    let distributed = |name: &str| {
        let mut config = group_config(&broker.bootstrap, topic, "rebalance-group");
        config.snapshots.store = SnapshotStoreKind::Kafka;
        config.snapshots.topic = snapshots.to_string();
        config.snapshots.interval = Duration::from_millis(200);
        config.snapshots.chunk_bytes = 64 * 1024; // several chunks per snapshot
        config.kafka.librdkafka.insert("client.id".into(), name.into());
        config
    };
    // Events flow while instances come and go.
    let (bootstrap, to_send) = (broker.bootstrap.clone(), messages.clone());
    let producing = tokio::spawn(async move { produce_all(&bootstrap, topic, &to_send).await });
    let a = ticketpulse::service::start(distributed("a")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let b = ticketpulse::service::start(distributed("b")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let c = ticketpulse::service::start(distributed("c")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    a.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let a2 = ticketpulse::service::start(distributed("a2")).await.unwrap();
    producing.await.unwrap();
    let texts = wait_drained(&[a2.http_addr, b.http_addr, c.http_addr], topic, 4, tick).await;
    let restored: f64 = texts.iter().map(|t| counter(t, "ticketpulse_snapshots_restored_total")).sum();
    assert!(restored >= 1.0, "at least one partition moved with its snapshot");

    let mut undisturbed = group_config(&broker.bootstrap, topic, "single-group");
    undisturbed.snapshots.store = SnapshotStoreKind::None; // live totals, complete at the drain
    let single = ticketpulse::service::start(undisturbed).await.unwrap();
    let single_text = wait_drained(&[single.http_addr], topic, 4, tick).await.remove(0);
    let expected = single_text.clone();

    // Counts add up across instances; the oldest unanswered age is a max and the time to
    // the next deadline a min, over partitions just as within one instance (`common::fleet`).
    let sum = fleet(&texts, |v| v);
    let expected = additive(&expected);
    assert!(expected.len() > 200);
    // Counts must match exactly; sums of seconds up to float rounding (the addition order
    // differs when partials from several instances are added).
    let same = |k: &str, a: f64, e: f64| if k.contains("_sum{") { (a - e).abs() <= e.abs() * 1e-12 } else { a == e };
    let differing: Vec<_> =
        expected.iter().filter(|(k, e)| !sum.get(*k).is_some_and(|a| same(k, *a, **e))).map(|(k, e)| (k, sum.get(k), e)).take(10).collect();
    assert!(differing.is_empty(), "sum across instances differs from one instance: {differing:?}");
    assert_eq!(sum.len(), expected.len());
    // The all-time totals summed over the fleet equal those of one undisturbed instance (no
    // snapshot store: live totals) once every instance saved a snapshot at the end (they are
    // shown as of the last one saved).
    let families = total_families(&replay_as_live(&lines));
    let totals = all_time(&[single_text], &families);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut texts = Vec::new();
        for addr in [a2.http_addr, b.http_addr, c.http_addr] {
            texts.push(scrape_async(addr).await);
        }
        let differing = same_totals(&all_time(&texts, &families), &totals);
        if differing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the fleet's totals differ from a replay's: {differing:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(totals.len() > 500);
    for running in [a2, b, c, single] {
        running.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_drops_readiness_and_loses_nothing() {
    let (broker, mut proxy) = Broker::start_behind_proxy();
    let topic = "faults-outage";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let (lines, tick) = scenario(20_000, 8, 2_000.0);
    let messages = keyed(&lines);
    let (first, second) = messages.split_at(10_000);
    produce_all(&broker.bootstrap, topic, first).await;

    let mut config = group_config(&broker.bootstrap, topic, "outage-group");
    config.snapshots.dir = tempfile::tempdir().unwrap().keep();
    let running = ticketpulse::service::start(config).await.unwrap();
    let addr = running.http_addr;
    let ready = move || async move { tokio::task::spawn_blocking(move || http_get(addr, "/healthz/ready").map(|r| r.0)).await.unwrap() };
    let until = |status: u16| async move {
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready().await.ok() != Some(status) {
            assert!(Instant::now() < deadline, "/healthz/ready never answered {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    until(200).await;
    wait_for_async(addr, |t| stream_time(t, topic, 0).is_some()).await;

    proxy.stop();
    until(503).await;
    let body = tokio::task::spawn_blocking(move || http_get(addr, "/healthz/ready")).await.unwrap();
    if let Ok((503, text)) = body {
        assert_eq!(text, "not ready: no Kafka broker reachable\n");
    }
    assert_eq!(http_get(addr, "/healthz/live").unwrap().0, 200, "the process stays up");
    tokio::time::sleep(Duration::from_secs(3)).await;

    proxy.start();
    until(200).await;
    produce_all(&broker.bootstrap, topic, second).await;
    let text = wait_for_async(addr, move |t| stream_time(t, topic, 0) == Some(tick as f64 / 1000.0)).await;
    common::assert_same_kpis(&text, &replay_as_live(&lines));
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_with_reason_and_offset_and_never_stop_consumption() {
    let broker = Broker::start();
    let topic = "faults-poison";
    let dlq = "faults-poison-dlq";
    create_topics(&broker.bootstrap, &[(topic, 1), (dlq, 1)]).await;
    let (mut lines, tick) = scenario(3_000, 21, 1_000.0);
    let at = r#""at":"2026-01-05T09:00:00Z""#;
    let poison: Vec<(&str, String)> = vec![
        ("not_json", "this is not json".to_string()),
        ("not_object", "[1,2,3]".to_string()),
        ("missing_field", format!(r#"{{"event_id":"p1","type":"message",{at},"author":"agent"}}"#)),
        ("wrong_type", format!(r#"{{"event_id":"p2","ticket_id":"P","type":"message",{at},"author":"agent","public":"yes"}}"#)),
        ("unknown_type", format!(r#"{{"event_id":"p3","ticket_id":"P","type":"ticket_exploded",{at}}}"#)),
        (
            "bad_value",
            format!(r#"{{"event_id":"p4","ticket_id":"P","type":"ticket_created",{at},"channel":"email","priority":"critical"}}"#),
        ),
        ("bad_timestamp", r#"{"event_id":"p5","ticket_id":"P","type":"message","at":"yesterday","author":"agent"}"#.to_string()),
        ("oversized", format!(r#"{{"event_id":"p6","ticket_id":"P","type":"message",{at},"pad":"{}"}}"#, "x".repeat(70_000))),
    ];
    // Two of each, at fixed positions spread through the stream.
    let mut expected_dead: Vec<(String, i64)> = Vec::new();
    for round in 0..2 {
        for (i, (reason, line)) in poison.iter().enumerate() {
            let position = 100 + round * 1_400 + i * 150;
            lines.insert(position, line.clone());
            expected_dead.push((reason.to_string(), 0));
        }
    }
    for (i, line) in lines.iter().enumerate() {
        if let Some((reason, _)) = poison.iter().find(|(_, p)| p == line) {
            let slot = expected_dead.iter_mut().find(|(r, o)| r == reason && *o == 0).unwrap();
            slot.1 = i as i64;
        }
    }
    expected_dead.sort_by_key(|(_, offset)| *offset);
    produce_all(&broker.bootstrap, topic, &keyed(&lines)).await;

    let mut config = group_config(&broker.bootstrap, topic, "poison-group");
    config.kafka.dead_letter_topic = dlq.to_string();
    let running = ticketpulse::service::start(config).await.unwrap();
    let text = wait_for_async(running.http_addr, move |t| stream_time(t, topic, 0) == Some(tick as f64 / 1000.0)).await;
    let s = parse_exposition(&text);
    for (reason, _) in &poison {
        assert_eq!(common::value(&s, "ticketpulse_invalid_events_total", &[("reason", reason)]), 2.0, "{reason}");
    }
    common::assert_same_kpis(&text, &replay_as_live(&lines));

    let bootstrap = broker.bootstrap.clone();
    let dead = tokio::task::spawn_blocking(move || read_dead_letters(&bootstrap, dlq, 16)).await.unwrap();
    assert_eq!(dead, expected_dead);
    running.shutdown().await.unwrap();
}

/// (reason, source offset) of the first `n` dead letters.
fn read_dead_letters(bootstrap: &str, topic: &str, n: usize) -> Vec<(String, i64)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut dead = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while dead.len() < n {
        assert!(Instant::now() < deadline, "only {} dead letters arrived: {dead:?}", dead.len());
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
            let headers = m.headers().expect("dead letters carry headers");
            let header = |name: &str| {
                headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap()
            };
            dead.push((header("ticketpulse.reason"), header("ticketpulse.source.offset").parse().unwrap()));
        }
    }
    dead
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeliveries_and_bounded_disorder_through_the_broker_give_the_in_order_result() {
    let broker = Broker::start();
    let topic = "faults-disorder";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let (lines, tick) = scenario(20_000, 13, 2_000.0);
    let expected = replay_as_live(&lines);

    // Delay each event by a random 0..9.999 s (allowed lateness is 10 s) and redeliver 5%;
    // the tick stays last.
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let generated = &lines[..lines.len() - 1];
    let mut delivered: Vec<(i64, usize)> = Vec::new();
    for (i, line) in generated.iter().enumerate() {
        let at: i64 = serde_json::from_str::<serde_json::Value>(line).unwrap()["at"]
            .as_str()
            .map(|t| t.parse::<jiff::Timestamp>().unwrap().as_millisecond())
            .unwrap();
        delivered.push((at + rng.random_range(0..10_000), i));
        if rng.random_bool(0.05) {
            delivered.push((at + rng.random_range(0..10_000), i));
        }
    }
    delivered.sort();
    let redelivered = delivered.len() - generated.len();
    assert!(redelivered > 500, "5% of 20 000 are redelivered ({redelivered})");
    let mut disordered: Vec<String> = delivered.iter().map(|(_, i)| generated[*i].clone()).collect();
    disordered.push(lines.last().unwrap().clone());
    produce_all(&broker.bootstrap, topic, &keyed(&disordered)).await;

    let running = ticketpulse::service::start(group_config(&broker.bootstrap, topic, "disorder-group")).await.unwrap();
    let text = wait_for_async(running.http_addr, move |t| stream_time(t, topic, 0) == Some(tick as f64 / 1000.0)).await;
    let s = parse_exposition(&text);
    let result = |r: &str| -> f64 { s.iter().filter(|(k, _)| k.contains(&format!("result=\"{r}\""))).map(|(_, v)| v).sum() };
    assert_eq!(result("duplicate"), redelivered as f64);
    assert_eq!(result("late"), 0.0);
    common::assert_same_kpis(&text, &expected);
    running.shutdown().await.unwrap();
}
