//! Partitions on separate cores, end to end through a real broker (tansu): four partitions
//! consumed by one `run` give exactly the hand-derived KPIs and those of `ticketpulse replay`;
//! a partition revoked while its worker's queue holds messages, and a SIGTERM with messages
//! queued, lose nothing and count nothing twice.
//!
//! The backlogs of the last two tests make the partition workers the bottleneck on purpose:
//! every fifth message is rejected, and a rejected message's dead-letter write is awaited by
//! its worker (at least the 20 ms `linger.ms` the test configures), while the consumer loop
//! reads far faster. So each worker's queue is full (1024 messages) moments after the start,
//! and a revoke or a shutdown has to drain it before the snapshot. Without that drain (each
//! removed in turn from src/source/ to check), the revoke test finds A counting about a
//! thousand messages that B counts again, and the SIGTERM test a second snapshot per
//! partition, written as the instance left the group after handling the queued messages.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use common::{
    counter, create_topics, free_port, key_of, kpis, owners, parse_exposition, produce_all, scrape, spawn_run, stream_times, total_events,
    value, wait_for, Broker, RunConfig, Service,
};
use ticketpulse::generator::{Generator, GeneratorOptions};

const PARTITIONS: i32 = 4;

/// A message as `produce_all` takes it: key, payload, explicit partition.
type Message = (Option<String>, Vec<u8>, Option<i32>);

fn event(at: &str, ticket: &str, partition: i32, body: &str) -> (String, i32) {
    let id = format!("{ticket}@{at}");
    (format!(r#"{{"event_id":"{id}","ticket_id":"{ticket}","at":"{at}",{body}}}"#), partition)
}

fn created(channel: &str, priority: &str) -> String {
    format!(r#""type":"ticket_created","channel":"{channel}","priority":"{priority}""#)
}

const AGENT_REPLY: &str = r#""type":"message","author":"agent""#;

/// A ticket created on `partition` at `at` (Unix ms) that nothing follows: it stays in the
/// reorder buffer and moves its partition's watermark past everything before it.
fn tick_event(at: i64, partition: i32) -> String {
    let ticket = format!("TICK-{partition}");
    format!(r#"{{"event_id":"{ticket}","ticket_id":"{ticket}","type":"ticket_created","at":{at},"channel":"web","priority":"low"}}"#)
}

/// `ticketpulse replay --as-live` of `lines` (the defaults, as `run` uses them here).
fn replay_as_live(lines: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["replay", "--as-live"]).arg(&input).output().unwrap();
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_partitions_on_one_instance_give_the_hand_derived_kpis_and_those_of_replay() {
    let broker = Broker::start();
    let topic = "partitions-hand";
    create_topics(&broker.bootstrap, &[(topic, PARTITIONS)]).await;
    // Each ticket's events go to the partition named (keyed by ticket as well). Produced in
    // event-time order, so no event is late on its partition nor in replay's single one.
    let (email, chat, phone, web) =
        (created("email", "normal"), created("chat", "urgent"), created("phone", "high"), created("web", "low"));
    let events = [
        event("2026-01-05T09:00:00Z", "P0-EMAIL", 0, &email),
        event("2026-01-05T09:05:00Z", "P0-CHAT", 0, &chat),
        event("2026-01-05T09:10:00Z", "P1-EMAIL", 1, &email),
        event("2026-01-05T09:15:00Z", "P1-PHONE", 1, &phone),
        event("2026-01-05T09:20:00Z", "P0-EMAIL", 0, AGENT_REPLY), // first response 1200 s
        event("2026-01-05T09:30:00Z", "P2-CHAT", 2, &chat),
        event("2026-01-05T09:40:00Z", "P1-EMAIL", 1, AGENT_REPLY), // 1800 s
        event("2026-01-05T09:40:00Z", "P2-CHAT", 2, AGENT_REPLY),  // 600 s, within the urgent 30 min
        event("2026-01-05T09:50:00Z", "P0-CHAT", 0, AGENT_REPLY),  // 2700 s: breached at 09:35
        event("2026-01-05T10:00:00Z", "P2-EMAIL", 2, &email),
        event("2026-01-05T10:00:00Z", "P3-PHONE", 3, &phone),
        event("2026-01-05T10:10:00Z", "P3-WEB", 3, &web),
        event("2026-01-05T10:30:00Z", "P2-EMAIL", 2, AGENT_REPLY), // 1800 s
        event("2026-01-05T10:45:00Z", "P3-PHONE", 3, AGENT_REPLY), // 2700 s, within the high 2 h
    ];
    // P1-PHONE is never answered: its first response (high: 2 h) is breached at 11:15. Every
    // partition ends with a tick at 12:00:10, so each watermark stands at 12:00:00: every
    // event above is applied and every timer up to then fired, on each partition as in replay.
    let tick = 1_767_614_410_000; // 2026-01-05T12:00:10Z
    let mut lines: Vec<(String, i32)> = events.to_vec();
    lines.extend((0..PARTITIONS).map(|p| (tick_event(tick, p), p)));
    let messages: Vec<Message> = lines.iter().map(|(l, p)| (key_of(l), l.as_bytes().to_vec(), Some(*p))).collect();
    produce_all(&broker.bootstrap, topic, &messages).await;

    let mut config = common::config(&broker.bootstrap, topic);
    config.kafka.dead_letter_topic = String::new();
    let running = ticketpulse::service::start(config).await.unwrap();
    let addr = running.http_addr;
    let text = tokio::task::spawn_blocking(move || {
        wait_for(addr, Duration::from_secs(120), |t| stream_times(t, topic).values().filter(|s| **s == tick as f64 / 1000.0).count() == 4)
    })
    .await
    .unwrap();
    running.shutdown().await.unwrap();
    let s = parse_exposition(&text);

    // Each partition got its own events: its own tick, so its own stream time and watermark.
    for p in 0..PARTITIONS {
        let partition = p.to_string();
        let labels = [("topic", topic), ("partition", partition.as_str())];
        assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &labels), 1_767_614_410.0, "partition {p}");
        assert_eq!(value(&s, "ticketpulse_watermark_seconds", &labels), 1_767_614_400.0, "partition {p}");
    }
    let events_total = |t: &str| value(&s, "ticketpulse_events_total", &[("type", t), ("result", "ok")]);
    assert_eq!(events_total("ticket_created"), 12.0, "8 tickets and 4 ticks");
    assert_eq!(events_total("message"), 6.0);
    assert_eq!(total_events(&s), 18.0);

    let d24 = |c, p| [("window", "24h"), ("channel", c), ("priority", p)];
    let created = |c, p| value(&s, "ticketpulse_tickets_created", &d24(c, p));
    assert_eq!(created("email", "normal"), 3.0);
    assert_eq!(created("chat", "urgent"), 2.0);
    assert_eq!(created("phone", "high"), 2.0);
    assert_eq!(created("web", "low"), 1.0, "the ticks are still buffered");
    let first_response = |suffix: &str, c, p| value(&s, &format!("ticketpulse_first_response_time_seconds_{suffix}"), &d24(c, p));
    assert_eq!((first_response("sum", "email", "normal"), first_response("count", "email", "normal")), (4800.0, 3.0));
    assert_eq!((first_response("sum", "chat", "urgent"), first_response("count", "chat", "urgent")), (3300.0, 2.0));
    assert_eq!((first_response("sum", "phone", "high"), first_response("count", "phone", "high")), (2700.0, 1.0));
    assert_eq!(value(&s, "ticketpulse_realtime_answered_contacts", &d24("chat", "urgent")), 2.0);
    let breach = |c, p| [("window", "24h"), ("channel", c), ("priority", p), ("policy", p), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_breached", &breach("chat", "urgent")), 1.0, "P0-CHAT");
    assert_eq!(value(&s, "ticketpulse_sla_breached", &breach("phone", "high")), 1.0, "P1-PHONE");
    let breached_24h: f64 = s.iter().filter(|(k, _)| k.starts_with("ticketpulse_sla_breached{window=\"24h\"")).map(|(_, v)| v).sum();
    assert_eq!(breached_24h, 2.0, "no other target breached");
    let open = [("channel", "phone"), ("priority", "high"), ("policy", "high"), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &open), 1.0);

    // And every KPI series (self-metrics aside) is what replay makes of the same events.
    let expected = replay_as_live(&lines.into_iter().map(|(l, _)| l).collect::<Vec<_>>());
    common::assert_same_kpis(&text, &expected);
    assert_eq!(value(&parse_exposition(&expected), "ticketpulse_first_response_time_seconds_sum", &d24("email", "normal")), 4800.0);
}

/// Held by each backlog test: run together, their brokers and instances would share the two
/// cores, and B could join only after A had read a partition to its end.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z
/// Generated events in the SIGTERM test's backlog; every fourth is followed by a rejected
/// message. The revoke test's is twice as long: B takes a few seconds to join, and A must not
/// have read a partition to its end by then.
const GENERATED: usize = 8_000;

/// The partition a ticket's events are produced to: explicit, so that each partition's
/// messages (and so the offsets a snapshot may hold) are known to the test.
fn partition_of(ticket: &str) -> i32 {
    (ticket.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b))) % PARTITIONS as u32) as i32
}

/// A backlog on four partitions and what the test needs to know of it.
struct Backlog {
    messages: Vec<Message>,
    /// Per partition, in offset order: whether each message is rejected.
    rejected: BTreeMap<i32, Vec<bool>>,
    /// When every partition's last message (a tick) happened, in seconds.
    tick: f64,
}

impl Backlog {
    fn new(seed: u64, generated: usize) -> Backlog {
        let mut messages: Vec<Message> = Vec::new();
        let mut rejected: BTreeMap<i32, Vec<bool>> = BTreeMap::new();
        let mut push = |messages: &mut Vec<Message>, key: String, payload: String, p: i32, bad: bool| {
            messages.push((Some(key), payload.into_bytes(), Some(p)));
            rejected.entry(p).or_default().push(bad);
        };
        let mut last = START;
        for (i, g) in Generator::new(GeneratorOptions { seed, tickets_per_hour: 2_000.0, start: START }).take(generated).enumerate() {
            last = g.at;
            let ticket = key_of(&g.payload).expect("generated events name their ticket");
            let p = partition_of(&ticket);
            push(&mut messages, ticket, g.payload, p, false);
            if i % 4 == 3 {
                // Rejected (unknown_type) and dead-lettered, on each partition in turn.
                let (ticket, p) = (format!("BAD-{i}"), (i / 4 % 4) as i32);
                let bad = format!(r#"{{"event_id":"{ticket}","ticket_id":"{ticket}","type":"ticket_exploded","at":{}}}"#, g.at);
                push(&mut messages, ticket, bad, p, true);
            }
        }
        let tick = last + 60_000;
        for p in 0..PARTITIONS {
            push(&mut messages, format!("TICK-{p}"), tick_event(tick, p), p, false);
        }
        Backlog { messages, rejected, tick: tick as f64 / 1000.0 }
    }

    fn len(&self) -> usize {
        self.messages.len()
    }

    fn rejected_total(&self) -> usize {
        self.rejected.values().flatten().filter(|r| **r).count()
    }

    /// Messages, and rejected ones, from `offset` on in `partition`.
    fn remaining(&self, partition: i32, offset: i64) -> (usize, usize) {
        let rest = &self.rejected[&partition][offset as usize..];
        (rest.len(), rest.iter().filter(|r| **r).count())
    }
}

/// A `run` configuration: idle advancement off (event time only), snapshots only on revoke
/// and shutdown (the interval is an hour), on `state`; fetches that interleave the
/// partitions and slow dead-letter writes (see the module docs).
fn write_config(
    dir: &Path,
    name: &str,
    bootstrap: &str,
    topic: &str,
    group: &str,
    dead_letter: &str,
    state: &Path,
) -> (PathBuf, SocketAddr) {
    let port = free_port();
    let librdkafka = [
        // tansu answers a fetch with whole partitions up to the request's total (it ignores the
        // per-partition limit): without a small total, A would read the partitions one after the
        // other and reach the last only near the end of the backlog.
        ("fetch.max.bytes", "131072"),
        // librdkafka wants it no larger than fetch.max.bytes; the messages are a few hundred bytes.
        ("message.max.bytes", "131072"),
        // The dead-letter producer's batching delay, which each awaited rejection waits out: the
        // workers stay the bottleneck (consumers ignore it). Not much longer: a revoke drains a
        // queue of about 200 rejections; at 40 ms that took 9 s, and tansu's group handed the
        // partitions back to A and forth twice before B got them (the counts still came out exact).
        ("linger.ms", "20"),
    ];
    let config = RunConfig {
        group: group.to_string(),
        dead_letter: dead_letter.to_string(),
        client_id: Some(name.to_string()),
        librdkafka: librdkafka.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        snapshot_interval: "1h".into(),
        ..RunConfig::new(bootstrap, topic, port, state)
    };
    (config.write(&dir.join(format!("{name}.toml"))), format!("127.0.0.1:{port}").parse().unwrap())
}

/// Scrapes the instances until every partition sits at `tick` on exactly one of them.
fn wait_drained(addrs: &[SocketAddr], topic: &str, tick: f64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let texts: Vec<String> = addrs.iter().map(|a| scrape(*a).unwrap_or_default()).collect();
        let owners = owners(&texts, topic);
        if owners.len() == PARTITIONS as usize && owners.values().all(|ts| ts == &[tick]) {
            return texts;
        }
        assert!(Instant::now() < deadline, "not drained in 240 s: {owners:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What one instance shows after reading the whole backlog undisturbed (its own group, no
/// dead-letter topic: rejections change no KPI).
fn undisturbed(bootstrap: &str, topic: &str, tick: f64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (config, addr) = write_config(dir.path(), "single", bootstrap, topic, &format!("{topic}-single"), "", &dir.path().join("state"));
    let _single = Service::spawn(&config);
    wait_drained(&[addr], topic, tick).remove(0)
}

/// Waits until the instance has handled messages of every partition, and checks that it is
/// still far from the end: its workers' queues are full then (see the module docs).
fn wait_started_mid_backlog(addr: SocketAddr, topic: &str, backlog: &Backlog) -> String {
    let text = wait_for(addr, Duration::from_secs(120), |t| stream_times(t, topic).len() == PARTITIONS as usize);
    let handled = total_events(&parse_exposition(&text));
    assert!(handled < backlog.len() as f64 / 2.0, "the backlog was half read ({handled} messages) before the test went on");
    text
}

/// `(partition, offset)` of each "state restored from snapshot" line of a log.
fn restored(log: &str) -> BTreeMap<i32, i64> {
    log.lines()
        .filter(|l| l.contains("state restored from snapshot"))
        .map(|l| {
            let partition = l.split("partition=(").nth(1).and_then(|r| r.split(", ").nth(1)).and_then(|r| r.split(')').next()).unwrap();
            let offset = l.split("offset=").nth(1).and_then(|r| r.split_whitespace().next()).unwrap();
            (partition.parse().unwrap(), offset.parse().unwrap())
        })
        .collect()
}

/// Partition numbers named by the log's lines containing `what` ("partitions revoked"), all
/// together: a cooperative rebalance may log further lines naming none.
fn partitions_logged(log: &str, what: &str) -> BTreeSet<i32> {
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(what)).collect();
    assert!(!lines.is_empty(), "no \"{what}\" in the log:\n{log}");
    lines.iter().flat_map(|line| line.split("\", ").skip(1)).map(|r| r.split(')').next().unwrap().parse().unwrap()).collect()
}

/// The series that add up across instances (`common::additive`) in thousandths: every duration
/// is a whole number of milliseconds (event times are), so sums compare exactly whatever order
/// their terms were added in.
fn additive(text: &str) -> BTreeMap<String, i64> {
    common::additive(text).into_iter().map(|(k, v)| (k, thousandths(v))).collect()
}

fn thousandths(v: f64) -> i64 {
    (v * 1000.0).round() as i64
}

#[test]
fn a_partition_revoked_with_messages_queued_is_handed_over_exactly() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let broker = Broker::start();
    let topic = "partitions-revoke";
    let dead_letter = "partitions-revoke-dlq";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, PARTITIONS), (dead_letter, 1)]));
    let backlog = Backlog::new(31, 2 * GENERATED);
    rt.block_on(produce_all(&broker.bootstrap, topic, &backlog.messages));
    assert_eq!((backlog.len(), backlog.rejected_total()), (2 * GENERATED * 5 / 4 + 4, 2 * GENERATED / 4));

    // A and B: one group, one snapshot directory.
    let dir = tempfile::tempdir().unwrap();
    let (state, group) = (dir.path().join("state"), format!("{topic}-group"));
    let (config_a, addr_a) = write_config(dir.path(), "a", &broker.bootstrap, topic, &group, dead_letter, &state);
    let (config_b, addr_b) = write_config(dir.path(), "b", &broker.bootstrap, topic, &group, dead_letter, &state);
    let a = Service::spawn(&config_a);
    wait_started_mid_backlog(addr_a, topic, &backlog);
    let b = Service::spawn(&config_b);
    let texts = wait_drained(&[addr_a, addr_b], topic, backlog.tick);
    let (log_a, log_b) = (a.stderr(), b.stderr());

    // B owns what A gave up (cooperative-sticky moves only those), each restored from the
    // snapshot A took after draining its queue; A kept the rest. Together: the 4 partitions.
    let (owned_a, owned_b): (BTreeSet<i32>, BTreeSet<i32>) =
        (stream_times(&texts[0], topic).into_keys().collect(), stream_times(&texts[1], topic).into_keys().collect());
    assert!(!owned_b.is_empty(), "B was given no partition");
    assert_eq!(owned_a.len() + owned_b.len(), PARTITIONS as usize);
    assert_eq!(owned_a.union(&owned_b).count(), PARTITIONS as usize);
    assert_eq!(partitions_logged(&log_a, "partitions revoked"), owned_b);
    assert_eq!(partitions_logged(&log_b, "partitions assigned"), owned_b);
    let resumed = restored(&log_b);
    assert_eq!(resumed.keys().copied().collect::<BTreeSet<_>>(), owned_b);
    assert_eq!(counter(&texts[1], "ticketpulse_snapshots_restored_total"), owned_b.len() as f64);
    assert!(resumed.values().all(|offset| *offset > 0), "A had handled messages of each partition: {resumed:?}");
    let partition_end = |p: &i32| backlog.rejected[p].len() as i64;
    assert!(resumed.iter().all(|(p, offset)| *offset < partition_end(p)), "A had not read them to the end: {resumed:?}");

    // Every message handled once: B from each snapshot's offset on, A everything else; every
    // rejected one dead-lettered once.
    let (after, rejected_after) = resumed.iter().map(|(p, o)| backlog.remaining(*p, *o)).fold((0, 0), |(m, r), (a, b)| (m + a, r + b));
    let events = |text: &str| total_events(&parse_exposition(text));
    assert_eq!(events(&texts[1]), after as f64);
    assert_eq!(events(&texts[0]), (backlog.len() - after) as f64);
    let dead = |text: &str| counter(text, "ticketpulse_dead_letter_events_total");
    assert_eq!(dead(&texts[1]), rejected_after as f64);
    assert_eq!(dead(&texts[0]) + dead(&texts[1]), backlog.rejected_total() as f64);
    for text in &texts {
        assert_eq!(counter(text, "ticketpulse_dead_letter_failures_total"), 0.0);
    }

    // Each KPI count and sum of A and B together is exactly that of one undisturbed instance;
    // the oldest unanswered age is a maximum and the next deadline a minimum over both.
    let expected = additive(&undisturbed(&broker.bootstrap, topic, backlog.tick));
    let sum = common::fleet(&texts, thousandths);
    assert!(expected.len() > 200, "a rich backlog: {} series", expected.len());
    let differing: Vec<_> = expected.iter().filter(|(k, e)| sum.get(*k) != Some(e)).map(|(k, e)| (k, sum.get(k), e)).take(10).collect();
    assert!(differing.is_empty(), "A + B differs from one instance: {differing:?}");
    assert_eq!(
        sum.len(),
        expected.len(),
        "series only A + B have: {:?}",
        sum.keys().filter(|k| !expected.contains_key(*k)).collect::<Vec<_>>()
    );
}

#[test]
fn sigterm_with_messages_queued_snapshots_them_and_a_restart_ends_exact() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let broker = Broker::start();
    let topic = "partitions-sigterm";
    let dead_letter = "partitions-sigterm-dlq";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, PARTITIONS), (dead_letter, 1)]));
    let backlog = Backlog::new(47, GENERATED);
    rt.block_on(produce_all(&broker.bootstrap, topic, &backlog.messages));

    let dir = tempfile::tempdir().unwrap();
    let (state, group) = (dir.path().join("state"), format!("{topic}-group"));
    let (config, addr) = write_config(dir.path(), "instance", &broker.bootstrap, topic, &group, dead_letter, &state);
    let mut child = spawn_run(&config);
    let before = wait_started_mid_backlog(addr, topic, &backlog);
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    // The interval is an hour: the shutdown wrote one snapshot per partition.
    for p in 0..PARTITIONS {
        let files = std::fs::read_dir(state.join(&group).join(topic).join(p.to_string())).unwrap().count();
        assert_eq!(files, 1, "partition {p}");
    }
    // Offsets are stored as each message is handled, and committed after the snapshots and
    // again on leaving the group: equal to the snapshots' offsets only if nothing was handled
    // after them.
    let group_reader: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &broker.bootstrap).set("group.id", &group).create().unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition(topic, p);
    }
    let committed: BTreeMap<i32, Offset> = group_reader
        .committed_offsets(list, Duration::from_secs(10))
        .unwrap()
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect();
    drop(group_reader);

    let restarted = Service::spawn(&config);
    let text = wait_drained(&[addr], topic, backlog.tick).remove(0);
    let resumed = restored(&restarted.stderr());
    assert_eq!(resumed.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(committed, resumed.iter().map(|(p, o)| (*p, Offset::Offset(*o))).collect(), "committed offsets and snapshots");
    assert_eq!(counter(&text, "ticketpulse_snapshots_restored_total"), 4.0);
    // The snapshots hold at least what had been handled when SIGTERM came (the queued
    // messages were handled before them), and the restart read exactly the rest.
    let at_offsets: i64 = resumed.values().sum();
    assert!(at_offsets as f64 >= total_events(&parse_exposition(&before)), "{resumed:?}");
    assert!((at_offsets as usize) < backlog.len(), "stopped mid-backlog: {resumed:?}");
    let (after, rejected_after) = resumed.iter().map(|(p, o)| backlog.remaining(*p, *o)).fold((0, 0), |(m, r), (a, b)| (m + a, r + b));
    assert_eq!(total_events(&parse_exposition(&text)), after as f64);
    assert_eq!(counter(&text, "ticketpulse_dead_letter_events_total"), rejected_after as f64);

    // Every KPI series is exactly that of one undisturbed instance.
    let expected = undisturbed(&broker.bootstrap, topic, backlog.tick);
    common::assert_same_kpis(&text, &expected);
    assert!(kpis(&expected).len() > 300);
}
