//! Kafka failures that must stall nothing and flood nothing, against a real broker (tansu):
//! a dead-letter topic that cannot be written, and a broker that is down.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{config, create_topics, http_get, parse_exposition, produce, scrape_until, total_events, value, Broker};

const DLQ: &str = "kf-unwritable-dlq";

/// Two email tickets answered after 5 and 15 minutes, three rejected messages between them,
/// and a later ticket that moves the watermark past them all.
const EVENTS: [&str; 8] = [
    "not json at all",
    r#"{"event_id":"K1-1","ticket_id":"K1","type":"ticket_created","at":"2026-01-05T09:00:00Z","channel":"email","priority":"normal"}"#,
    r#"{"event_id":"K1-2","ticket_id":"K1","type":"message","at":"2026-01-05T09:05:00Z","author":"agent"}"#,
    r#"{"event_id":"K9-1","ticket_id":"K9","type":"ticket_exploded","at":"2026-01-05T09:06:00Z"}"#,
    r#"{"event_id":"K2-1","ticket_id":"K2","type":"ticket_created","at":"2026-01-05T09:10:00Z","channel":"email","priority":"normal"}"#,
    "{\"truncated\": ",
    r#"{"event_id":"K2-2","ticket_id":"K2","type":"message","at":"2026-01-05T09:25:00Z","author":"agent"}"#,
    r#"{"event_id":"Z-1","ticket_id":"Z","type":"ticket_created","at":"2026-01-05T09:30:00Z","channel":"web","priority":"low"}"#,
];

async fn get(addr: std::net::SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path)).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_dead_letter_topic_is_counted_fails_readiness_and_stalls_nothing() {
    let broker = Broker::start();
    let topic = "kf-input";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    produce(&broker.bootstrap, topic, &EVENTS).await;

    // The dead-letter topic does not exist and may not be created by writing to it.
    let mut config = config(&broker.bootstrap, topic);
    config.kafka.dead_letter_topic = DLQ.into();
    config.kafka.librdkafka.insert("allow.auto.create.topics".into(), "false".into());
    // Notice the topic soon once it exists.
    config.kafka.librdkafka.insert("topic.metadata.refresh.interval.ms".into(), "1000".into());
    config.snapshots.store = ticketpulse::config::SnapshotStoreKind::None;
    let running = ticketpulse::service::start(config).await.unwrap();
    let addr = running.http_addr;

    let failures = |s: &BTreeMap<String, f64>| value(s, "ticketpulse_dead_letter_failures_total", &[]);
    let text = scrape_until(addr, |s| total_events(s) == 8.0 && failures(s) == 3.0).await;
    let s = parse_exposition(&text);
    assert_eq!(value(&s, "ticketpulse_dead_letter_events_total", &[]), 0.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "unknown"), ("result", "invalid")]), 3.0);
    // The valid events around the rejected ones are all applied, exactly.
    let email = [("window", "24h"), ("channel", "email"), ("priority", "normal")];
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email), 2.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_count", &email), 2.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &email), 300.0 + 900.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_max_seconds", &email), 900.0);
    assert_eq!(
        get(addr, "/healthz/ready").await,
        (503, "not ready: the dead-letter topic cannot be written (rejected events are given up)\n".to_string())
    );

    // Once the topic exists, the next rejected message gets through and readiness returns.
    create_topics(&broker.bootstrap, &[(DLQ, 1)]).await;
    produce(&broker.bootstrap, topic, &["still not json"]).await;
    let text = scrape_until(addr, |s| value(s, "ticketpulse_dead_letter_events_total", &[]) == 1.0).await;
    let s = parse_exposition(&text);
    assert_eq!(failures(&s), 3.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "unknown"), ("result", "invalid")]), 4.0);
    assert_eq!(get(addr, "/healthz/ready").await, (200, "ready\n".to_string()));
    running.shutdown().await.unwrap();
}

/// With no broker at all, librdkafka reports the same errors many times a second (245 log
/// lines in 20 s before they were gated); now each error code gives one line per 10 s.
#[test]
fn a_broker_that_is_down_gives_one_line_per_error_code_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (closed, http) = (common::free_port(), common::free_port());
    let toml = format!(
        "[kafka]\nbrokers = \"127.0.0.1:{closed}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n[snapshots]\ndir = \"{}\"\n",
        dir.path().join("state").display()
    );
    let path = dir.path().join("down.toml");
    std::fs::write(&path, toml).unwrap();
    let started = Instant::now();
    let service = common::Service::spawn(&path);
    service.wait_for_log(Duration::from_secs(30), |log| log.contains("AllBrokersDown"));
    std::thread::sleep(Duration::from_secs(12));
    let log = service.stderr();
    let elapsed = started.elapsed();
    drop(service);

    let mut by_code: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("Kafka client error")) {
        let code = line.split("error: ").nth(1).and_then(|e| e.split(' ').next()).unwrap_or_else(|| panic!("{line}"));
        by_code.entry(code.to_string()).or_default().push(line);
    }
    assert!(by_code.contains_key("AllBrokersDown") && by_code.contains_key("BrokerTransportFailure"), "{log}");
    // The gate's bound: one line per code when it first occurs, then one per full 10 s.
    let bound = elapsed.as_secs() as usize / 10 + 1;
    for (code, lines) in &by_code {
        assert!(lines.len() <= bound, "{code}: {} lines in {elapsed:?}:\n{log}", lines.len());
        assert!(lines[0].contains("suppressed_since_last=0"), "{}", lines[0]);
        if let Some(second) = lines.get(1) {
            assert!(!second.contains("suppressed_since_last=0"), "what was gated is counted: {second}");
        }
    }
}

/// Issue 24 (6): with the broker gone and `snapshots.store = "none"`, SIGTERM ran into
/// `shutdown_timeout` (the final commit and leaving the group wait for a broker) and said
/// "input since the last snapshot will be re-read", which no snapshot backs. It now says what
/// is true for that store.
#[test]
fn a_shutdown_that_runs_out_of_time_without_snapshots_says_the_state_is_lost() {
    let (broker, mut proxy) = Broker::start_behind_proxy();
    let topic = "kf-sigterm";
    tokio::runtime::Runtime::new().unwrap().block_on(create_topics(&broker.bootstrap, &[(topic, 1)]));
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "shutdown_timeout = \"3s\"\n[kafka]\nbrokers = \"127.0.0.1:{}\"\ntopics = [\"{topic}\"]\ngroup_id = \"{topic}-group\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"1s\"\n[snapshots]\nstore = \"none\"\n",
        proxy.port
    );
    let path = dir.path().join("sigterm.toml");
    std::fs::write(&path, toml).unwrap();
    let log_file = dir.path().join("stderr.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log_file).unwrap();
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !read_log().contains(what) {
            assert!(Instant::now() < deadline, "no {what:?} within 60 s: {}", read_log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("partitions assigned");
    // One message consumed, so there is an offset to commit at the end.
    tokio::runtime::Runtime::new().unwrap().block_on(produce(&broker.bootstrap, topic, &[EVENTS[1]]));
    let log = read_log();
    let addr = log.split("http_addr=").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::scrape(addr).is_none_or(|text| total_events(&parse_exposition(&text)) != 1.0) {
        assert!(Instant::now() < deadline, "the message was not consumed within 60 s: {}", read_log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The broker goes away under the running instance.
    proxy.stop();
    wait_for("AllBrokersDown");
    let signalled = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("did not exit within 60 s of SIGTERM: {}", read_log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = signalled.elapsed();
    let log = read_log();
    assert_eq!(status.code(), Some(1), "{log}");
    let expected = "error: shutdown_timeout: not stopped within 3s; snapshots.store = \"none\": this instance's state is lost, \
                    and its partitions start again at kafka.auto_offset_reset = \"earliest\" (every retained message is read again)";
    assert!(log.contains(expected), "{log}");
    assert!(!log.contains("re-read"), "{log}");
    // The 3 s timeout, then at most a second for the runtime's blocking threads.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// Issue 24 (6): while the dead-letter topic seems writable each write is waited for, up to
/// 5 s; a SIGTERM meanwhile waited for it too, so a drain could run past `shutdown_timeout`
/// (here 2 s, shorter than that 5 s). Now a stop waits for no dead-letter write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_write_being_waited_for_does_not_hold_a_shutdown_past_its_timeout() {
    let broker = Broker::start();
    let topic = "kf-drain";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let mut config = config(&broker.bootstrap, topic);
    // The dead-letter topic does not exist and may not be created by writing to it: the
    // producer retries until its 5 s message timeout.
    config.kafka.librdkafka.insert("allow.auto.create.topics".into(), "false".into());
    config.snapshots.store = ticketpulse::config::SnapshotStoreKind::None;
    config.shutdown_timeout = Duration::from_secs(2);
    config.http.shutdown_grace = Duration::from_millis(500);
    let running = ticketpulse::service::start(config).await.unwrap();
    let addr = running.http_addr;
    produce(&broker.bootstrap, topic, &["not json at all"]).await;
    // Counted as rejected, not yet given up on: its dead-letter write is being waited for.
    let invalid = |s: &BTreeMap<String, f64>| value(s, "ticketpulse_events_total", &[("type", "unknown"), ("result", "invalid")]);
    let text = scrape_until(addr, |s| invalid(s) == 1.0).await;
    assert_eq!(value(&parse_exposition(&text), "ticketpulse_dead_letter_failures_total", &[]), 0.0);
    let started = Instant::now();
    let stopped = running.shutdown().await;
    let elapsed = started.elapsed();
    assert!(stopped.is_ok(), "{stopped:?} after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}
