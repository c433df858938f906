//! Fault tests against a real broker on loopback (tansu): the service is killed, partitions
//! move between instances, the broker goes away, poison arrives; when the input is drained
//! the KPIs are exactly those of an undisturbed run over the same events.

mod common;

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{create_topics, http_get, key_of, kpis, parse_exposition, produce_all, Broker};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ticketpulse::config::Config;
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A config file for the `ticketpulse` binary: idle advancement off, snapshots every 200 ms.
fn write_config(dir: &Path, bootstrap: &str, topic: &str, port: u16) -> PathBuf {
    let path = dir.join("ticketpulse.toml");
    let state = dir.join("state");
    std::fs::write(
        &path,
        format!(
            r#"[kafka]
brokers = "{bootstrap}"
topics = ["{topic}"]
group_id = "{topic}-group"
dead_letter_topic = ""
[kafka.librdkafka]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[http]
listen = "127.0.0.1:{port}"
[time]
idle_timeout = "0s"
[snapshots]
store = "local"
dir = "{}"
interval = "200ms"
"#,
            state.display()
        ),
    )
    .unwrap();
    path
}

fn spawn_service(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["run", "--config"]).arg(config).env("RUST_LOG", "warn").spawn().unwrap()
}

fn scrape(addr: SocketAddr) -> Option<String> {
    http_get(addr, "/metrics").ok().filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

fn stream_time(text: &str, topic: &str, partition: i32) -> Option<f64> {
    parse_exposition(text).get(&format!("ticketpulse_stream_time_seconds{{topic=\"{topic}\",partition=\"{partition}\"}}")).copied()
}

fn counter(text: &str, name: &str) -> f64 {
    parse_exposition(text).get(name).copied().unwrap_or(0.0)
}

/// Waits until `done` holds for a scrape, returning it.
fn wait_for(addr: SocketAddr, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(text) = scrape(addr).filter(|t| done(t)) {
            return text;
        }
        assert!(Instant::now() < deadline, "condition not reached within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
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
        let mut child = spawn_service(&config);
        // Kill at a random moment once this run has made progress of its own.
        wait_for(addr, Duration::from_secs(60), |t| stream_time(t, topic, 0).is_some_and(|s| s > progress));
        std::thread::sleep(Duration::from_millis(rng.random_range(0..1_500)));
        let last = scrape(addr).unwrap_or_default();
        let at_kill = stream_time(&last, topic, 0);
        restored += counter(&last, "ticketpulse_snapshots_restored_total");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mid_stream = at_kill.is_some_and(|t| t < tick as f64 / 1000.0);
        progress = at_kill.unwrap_or(progress);
        killed_mid_stream += usize::from(mid_stream);
        eprintln!("round {round}: killed at stream time {at_kill:?} (mid-stream: {mid_stream})");
    }
    assert!(killed_mid_stream >= 3, "only {killed_mid_stream} of 10 kills hit the stream mid-way");
    assert!(restored >= 5.0, "most restarts resume from a snapshot, not from the beginning ({restored} did)");

    let mut child = spawn_service(&config);
    let text = wait_for(addr, Duration::from_secs(120), |t| stream_time(t, topic, 0) == Some(tick as f64 / 1000.0));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(counter(&text, "ticketpulse_snapshots_restored_total"), 1.0);
    common::assert_same_kpis(&text, &expected);
    assert!(kpis(&expected).len() > 300);
}
