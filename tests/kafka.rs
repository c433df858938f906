//! The live service against a real Kafka-protocol broker on loopback (tansu, or `KAFKA_BROKERS`):
//! the scenario of tests/data/scenario.jsonl is produced to a topic, the service consumes it,
//! and `/metrics`, the dead-letter topic and the health checks are checked exactly.

mod common;

use std::time::{Duration, Instant};

use common::{config, create_topics, http_get, parse_exposition, produce, scrape_until, total_events, value, Broker};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message};

const SCENARIO: &str = include_str!("data/scenario.jsonl");

/// A later event on another ticket so the watermark passes every scenario event (the live
/// service, unlike replay, never assumes the input is complete).
const CLOCK_TICK: &str =
    r#"{"event_id":"Z-1","ticket_id":"Z","type":"ticket_created","at":"2026-01-05T14:00:20Z","channel":"web","priority":"low"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_the_scenario_exactly_and_dead_letters_bad_input() {
    let broker = Broker::start();
    let topic = "tickets-scenario";
    create_topics(&broker.bootstrap, &[(topic, 1), ("tickets-scenario-dlq", 1)]).await;
    let mut lines: Vec<&str> = SCENARIO.lines().collect();
    lines.push(CLOCK_TICK);
    produce(&broker.bootstrap, topic, &lines).await;

    let running = ticketpulse::service::start(config(&broker.bootstrap, topic)).await.unwrap();
    let addr = running.http_addr;
    assert_eq!(tokio::task::spawn_blocking(move || http_get(addr, "/healthz/live")).await.unwrap().unwrap().0, 200);
    let text = scrape_until(addr, |s| total_events(s) == 28.0).await;
    let s = parse_exposition(&text);
    let d24 = |c, p| [("window", "24h"), ("channel", c), ("priority", p)];

    assert_eq!(value(&s, "ticketpulse_tickets_created", &d24("email", "normal")), 3.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &d24("email", "normal")), 6000.0);
    assert_eq!(value(&s, "ticketpulse_full_resolution_time_seconds_sum", &d24("email", "normal")), 21600.0);
    assert_eq!(value(&s, "ticketpulse_abandonment_ratio", &d24("chat", "normal")), 1.0 / 3.0);
    let breach = |c, p| [("window", "24h"), ("channel", c), ("priority", p), ("policy", p), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_breached", &breach("chat", "urgent")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_breached", &breach("phone", "high")), 1.0);
    assert_eq!(
        value(
            &s,
            "ticketpulse_sla_breached_open_tickets",
            &[("channel", "phone"), ("priority", "high"), ("policy", "high"), ("target", "first_response")]
        ),
        1.0
    );
    let events = |t, r| value(&s, "ticketpulse_events_total", &[("type", t), ("result", r)]);
    assert_eq!(events("ticket_created", "ok"), 9.0);
    assert_eq!(events("message", "duplicate"), 1.0);
    assert_eq!(events("message", "late"), 1.0);
    assert_eq!(events("unknown", "invalid"), 2.0);
    let partition = [("topic", topic), ("partition", "0")];
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &partition), 1_767_621_620.0);
    assert_eq!(value(&s, "ticketpulse_watermark_seconds", &partition), 1_767_621_610.0);
    assert_eq!(common::promtool_check_metrics(&text), "");

    // Both rejected messages are on the dead-letter topic with reason and source offset.
    let text = scrape_until(addr, |s| value(s, "ticketpulse_dead_letter_events_total", &[]) == 2.0).await;
    assert_eq!(value(&parse_exposition(&text), "ticketpulse_dead_letter_failures_total", &[]), 0.0);
    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&["tickets-scenario-dlq"]).unwrap();
    let mut dead = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while dead.len() < 2 && Instant::now() < deadline {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(500)) {
            let headers = m.headers().expect("headers");
            let header = |name: &str| {
                headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap()
            };
            dead.push((header("ticketpulse.reason"), header("ticketpulse.source.offset"), m.payload().map(|p| p.len())));
        }
    }
    let lines: Vec<&str> = SCENARIO.lines().collect();
    assert_eq!(
        dead,
        [
            ("not_json".to_string(), "24".to_string(), Some(lines[24].len())),
            ("unknown_type".to_string(), "25".to_string(), Some(lines[25].len()))
        ]
    );

    let (status, _) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz/ready")).await.unwrap().unwrap();
    assert_eq!(status, 200);
    running.shutdown().await.unwrap();
}

#[test]
fn sigterm_snapshots_commits_and_exits_0_and_a_restart_reads_nothing_twice() {
    let broker = Broker::start();
    let topic = "tickets-sigterm";
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topics(&broker.bootstrap, &[(topic, 1)]));
    let mut lines: Vec<&str> = SCENARIO.lines().collect();
    lines.push(CLOCK_TICK);
    rt.block_on(produce(&broker.bootstrap, topic, &lines));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticketpulse.toml");
    let state = dir.path().join("state");
    std::fs::write(
        &path,
        format!(
            "[kafka]\nbrokers = \"{}\"\ntopics = [\"{topic}\"]\ngroup_id = \"sigterm\"\ndead_letter_topic = \"\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[time]\nidle_timeout = \"0s\"\n[snapshots]\ndir = \"{}\"\ninterval = \"1h\"\n",
            broker.bootstrap,
            state.display()
        ),
    )
    .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let scrape_until = |done: &dyn Fn(&std::collections::BTreeMap<String, f64>) -> bool| {
        parse_exposition(&common::wait_for(addr, Duration::from_secs(60), |t| done(&parse_exposition(t))))
    };
    let created = |s: &std::collections::BTreeMap<String, f64>| {
        value(s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")])
    };

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["run", "--config"]).arg(&path).spawn().unwrap();
    let before = scrape_until(&|s| total_events(s) == 28.0);
    assert_eq!(created(&before), 3.0);
    // The snapshot interval is an hour: only the shutdown can have written the snapshot.
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    let snapshots = std::fs::read_dir(state.join("sigterm").join(topic).join("0")).unwrap().count();
    assert_eq!(snapshots, 1, "one snapshot, written on shutdown");
    let group: BaseConsumer = ClientConfig::new().set("bootstrap.servers", &broker.bootstrap).set("group.id", "sigterm").create().unwrap();
    let mut partitions = rdkafka::TopicPartitionList::new();
    partitions.add_partition(topic, 0);
    let committed = group.committed_offsets(partitions, Duration::from_secs(10)).unwrap();
    assert_eq!(committed.find_partition(topic, 0).unwrap().offset(), rdkafka::Offset::Offset(28), "progress committed");
    drop(group);

    // The restart restores it and resumes after the last message: nothing is read again.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["run", "--config"]).arg(&path).spawn().unwrap();
    let after = scrape_until(&|s| s.get("ticketpulse_snapshots_restored_total") == Some(&1.0));
    std::thread::sleep(Duration::from_secs(2));
    let after = if let Ok((200, body)) = http_get(addr, "/metrics") { parse_exposition(&body) } else { after };
    assert_eq!(total_events(&after), 0.0);
    assert_eq!(created(&after), 3.0);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_feeds_a_three_partition_topic_and_every_event_is_counted_once() {
    let broker = Broker::start();
    let topic = "tickets-generated";
    create_topics(&broker.bootstrap, &[(topic, 3), ("tickets-generated-dlq", 1)]).await;
    let bootstrap = broker.bootstrap.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
            .args(["generate", "--brokers", &bootstrap, "--topic", topic, "--count", "3000", "--start", "2026-01-05T08:00:00Z"])
            .status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());

    let running = ticketpulse::service::start(config(&broker.bootstrap, topic)).await.unwrap();
    let text = scrape_until(running.http_addr, |s| total_events(s) >= 3000.0).await;
    let s = parse_exposition(&text);
    assert_eq!(total_events(&s), 3000.0);
    let ok: f64 = s.iter().filter(|(k, _)| k.starts_with("ticketpulse_events_total") && k.contains(r#"result="ok""#)).map(|(_, v)| v).sum();
    assert_eq!(ok, 3000.0, "generated events are valid, unique and keyed by ticket, so none is late or duplicate");
    let partitions = s.keys().filter(|k| k.starts_with("ticketpulse_stream_time_seconds{")).count();
    assert_eq!(partitions, 3);
    running.shutdown().await.unwrap();
}
