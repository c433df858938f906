//! Snapshots at the engine level (no broker): a restored partition continues exactly as if it
//! had never stopped; damaged or incompatible snapshots are refused by name and the previous
//! one is used; the ticket cap sheds the least recently active tickets.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{kpis, parse_exposition, value};
use ticketpulse::base::PartitionId;
use ticketpulse::checkpoint::Checkpointer;
use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter::{self, ExportRules};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;
use ticketpulse::snapshot::{LocalDirStore, SnapshotError, SnapshotStore};

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z

fn payloads(n: usize) -> Vec<String> {
    Generator::new(GeneratorOptions { seed: 7, tickets_per_hour: 600.0, start: START }).take(n).map(|g| g.payload).collect()
}

fn partition() -> PartitionId {
    ("tickets".to_string(), 0)
}

/// Feeds `payloads` as the messages at `first_offset..` of the partition.
fn feed(engine: &Engine, payloads: &[String], first_offset: i64) {
    for (i, payload) in payloads.iter().enumerate() {
        let _ = engine.handle(&partition(), payload.as_bytes(), None, &"test");
        engine.consumed(&partition(), first_offset + i as i64);
    }
}

fn exposition(engine: Engine, config: &Config, telemetry: Arc<Telemetry>) -> String {
    exporter::scrape(&exporter::Metrics::new(Arc::new(engine), exporter::ExportRules::new(config), telemetry, None))
}

/// The exposition after every one of `events`, fed in one go and flushed.
fn uninterrupted(config: &Config, events: &[String]) -> String {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(config).unwrap(), Arc::clone(&telemetry));
    feed(&engine, events, 0);
    engine.finish(None);
    exposition(engine, config, telemetry)
}

#[test]
fn a_restored_partition_continues_exactly_as_an_uninterrupted_one() {
    let events = payloads(20_000);
    let mut config = Config::default();
    // Per-agent windows and each ticket's last replying agent cross the snapshot too.
    config.kpis.agents.enabled = true;

    let expected = uninterrupted(&config, &events);

    // Crash after 12 345 messages: only the snapshot survives.
    let before = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    feed(&before, &events[..12_345], 0);
    let (offset, bytes) = before.snapshot(&partition()).expect("a partition with input has a snapshot");
    assert_eq!(offset, 12_345);
    drop(before);

    let telemetry = Arc::new(Telemetry::default());
    let after = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    assert_eq!(after.restore(&partition(), &bytes, None).unwrap(), 12_345);
    feed(&after, &events[12_345..], 12_345);
    after.finish(None);
    let actual = exposition(after, &config, telemetry);

    assert_eq!(kpis(&actual), kpis(&expected));
    assert!(kpis(&expected).len() > 300, "open tickets, timers and windows all cross the snapshot");
    assert!(kpis(&expected).iter().any(|l| l.starts_with("ticketpulse_agent_tickets_solved{window=\"24h\",agent=\"agent-")));
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn SnapshotStore> = Arc::new(LocalDirStore::new(dir.path(), "group").unwrap());
    let events = payloads(1_000);
    let config = Config::default();

    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry)));
    let checkpoints = Checkpointer::new(Some(Arc::clone(&store)), Arc::clone(&engine), Arc::clone(&telemetry));
    feed(&engine, &events[..400], 0);
    checkpoints.checkpoint(None, true);
    checkpoints.checkpoint(None, true); // no new input: nothing is written
    feed(&engine, &events[400..700], 400);
    checkpoints.checkpoint(None, true);
    let s = parse_exposition(&exporter::scrape(&exporter::Metrics::new(
        Arc::clone(&engine),
        ExportRules::new(&config),
        Arc::clone(&telemetry),
        None,
    )));
    assert_eq!(value(&s, "ticketpulse_snapshots_saved_total", &[]), 2.0);

    // Flip one byte of the newest file.
    let newest = store.load(&partition()).unwrap()[0].name.clone();
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&newest, bytes).unwrap();

    let telemetry = Arc::new(Telemetry::default());
    let fresh = Arc::new(Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry)));
    let checkpoints = Checkpointer::new(Some(store), Arc::clone(&fresh), Arc::clone(&telemetry));
    assert_eq!(checkpoints.restore(&partition(), 0), Some(400), "the previous snapshot's offset");
    let s = parse_exposition(&exporter::scrape(&exporter::Metrics::new(fresh, ExportRules::new(&config), Arc::clone(&telemetry), None)));
    assert_eq!(value(&s, "ticketpulse_snapshot_failures_total", &[("operation", "load"), ("reason", "corrupt")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_snapshots_restored_total", &[]), 1.0);
}

#[test]
fn a_snapshot_taken_under_other_windows_is_refused_by_name() {
    let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    feed(&engine, &payloads(10), 0);
    let (_, bytes) = engine.snapshot(&partition()).unwrap();
    let mut changed = Config::default();
    changed.time.windows = vec![Duration::from_secs(3600)];
    let other = Engine::new(Rules::new(&changed).unwrap(), Arc::new(Telemetry::default()));
    let error = other.restore(&partition(), &bytes, None).unwrap_err();
    assert!(matches!(error, SnapshotError::ConfigChanged { field: "time.windows" }), "{error}");
}

#[test]
fn the_ticket_cap_sheds_the_least_recently_active() {
    let mut config = Config::default();
    config.tickets.max_per_partition = 100;
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    // 150 tickets created one minute apart; none is solved.
    for i in 0..150 {
        let at = START + i * 60_000;
        let event =
            format!(r#"{{"event_id":"c{i}","ticket_id":"T{i}","type":"ticket_created","at":{at},"channel":"email","priority":"normal"}}"#);
        engine.handle(&partition(), event.as_bytes(), None, &"test").unwrap();
    }
    engine.finish(None);
    // At 101 tickets the cap sheds 2 (1 over, plus 1% of the cap), back to 99: that happens
    // at tickets 101, 103, ..., 149 (25 times, 50 tickets); ticket 150 brings it to 100.
    assert_eq!(engine.partition(&partition()).unwrap().lock().unwrap().ticket_count(), 100);
    let s = parse_exposition(&exposition(engine, &config, telemetry));
    assert_eq!(value(&s, "ticketpulse_tickets_shed_total", &[]), 50.0);
    assert_eq!(value(&s, "ticketpulse_open_tickets", &[("channel", "email"), ("priority", "normal"), ("status", "new")]), 100.0);
    // Volume is windowed history, not state: all 150 creations are still counted.
    assert_eq!(value(&s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")]), 150.0);
}

/// Every ticket the partition holds, by id, with all its fields.
fn tickets(engine: &Engine) -> Vec<String> {
    let lane = engine.partition(&partition()).unwrap();
    let mut tickets: Vec<String> = lane.lock().unwrap().tickets().map(|(id, ticket)| format!("{id}: {ticket:?}")).collect();
    tickets.sort();
    tickets
}

#[test]
fn a_capture_is_the_state_at_capture_time_whatever_is_ingested_before_it_is_sealed() {
    let events = payloads(20_000);
    let mut config = Config::default();
    config.kpis.agents.enabled = true;

    let expected = uninterrupted(&config, &events);

    // The same 12 345 messages into a second engine, which is not snapshotted.
    let at_capture = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    feed(&at_capture, &events[..12_345], 0);

    // Captured after 12 345 messages, sealed only after 5 000 more changed its tickets.
    let live = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    feed(&live, &events[..12_345], 0);
    let capture = live.capture(&partition()).expect("a partition with input has a capture");
    feed(&live, &events[12_345..17_345], 12_345);
    assert_eq!(capture.offset(), 12_345);
    let bytes = capture.seal();

    let telemetry = Arc::new(Telemetry::default());
    let restored = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    assert_eq!(restored.restore(&partition(), &bytes, None).unwrap(), 12_345);
    // Exactly the tickets (every field), timers and buffered events held at the capture.
    assert_eq!(tickets(&restored), tickets(&at_capture));
    let (r, c) = (restored.partition(&partition()).unwrap(), at_capture.partition(&partition()).unwrap());
    {
        let (r, c) = (r.lock().unwrap(), c.lock().unwrap());
        assert_eq!((r.ticket_count(), r.timer_count(), r.buffered_count()), (c.ticket_count(), c.timer_count(), c.buffered_count()));
    }
    // And the same scrape: gauges, SLA and windows.
    assert_eq!(restored.view(None).current.open, at_capture.view(None).current.open);
    assert_eq!(restored.view(None).current.sla, at_capture.view(None).current.sla);
    // Continued from it, the partition ends exactly as the uninterrupted one.
    feed(&restored, &events[12_345..], 12_345);
    restored.finish(None);
    let actual = exposition(restored, &config, telemetry);
    assert_eq!(kpis(&actual), kpis(&expected));
    assert!(kpis(&expected).len() > 300, "open tickets, timers and windows all cross the snapshot");
}

#[test]
fn a_ticket_changed_after_the_capture_is_sealed_as_it_was() {
    let event = |id: &str, ticket: &str, body: &str, at: i64| {
        format!(r#"{{"event_id":"{id}","ticket_id":"{ticket}","at":{},{body}}}"#, START + at * 1000)
    };
    let created = |channel: &str| format!(r#""type":"ticket_created","channel":"{channel}","priority":"normal""#);
    let live = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    // T1 (email) at 0 s; T2 (chat) at 20 s moves the watermark (10 s lateness) past T1's
    // creation, which is applied; T2's waits in the reorder buffer.
    let messages = [event("c1", "T1", &created("email"), 0), event("c2", "T2", &created("chat"), 20)];
    feed(&live, &messages, 0);
    let capture = live.capture(&partition()).unwrap();
    // After the capture: T1 solved at 30 s, applied once T3's creation at 45 s moves the
    // watermark to 35 s (T2's creation at 20 s is applied too).
    let later = [event("s1", "T1", r#""type":"status_changed","status":"solved""#, 30), event("c3", "T3", &created("web"), 45)];
    feed(&live, &later, 2);
    let open = |engine: &Engine| -> Vec<(String, bool)> {
        let lane = engine.partition(&partition()).unwrap();
        let mut t: Vec<(String, bool)> = lane.lock().unwrap().tickets().map(|(id, t)| (id.to_string(), t.is_open())).collect();
        t.sort();
        t
    };
    assert_eq!(open(&live), [("T1".into(), false), ("T2".into(), true), ("T3".into(), false)], "T3 is a stub until applied");

    let bytes = capture.seal();
    let telemetry = Arc::new(Telemetry::default());
    let restored = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry));
    assert_eq!(restored.restore(&partition(), &bytes, None).unwrap(), 2);
    // T1 open as captured, T2 a stub with its creation buffered; nothing of T3.
    assert_eq!(open(&restored), [("T1".into(), true), ("T2".into(), false)]);
    let lane = restored.partition(&partition()).unwrap();
    {
        let p = lane.lock().unwrap();
        assert_eq!((p.ticket_count(), p.timer_count(), p.buffered_count()), (2, 2, 1));
    }
    // The gauges sealed with it count T1 open on email, and nothing on chat or web yet.
    let s = parse_exposition(&exporter::scrape(&exporter::Metrics::new(
        Arc::new(restored),
        ExportRules::new(&Config::default()),
        telemetry,
        None,
    )));
    let open_new = |channel| [("channel", channel), ("priority", "normal"), ("status", "new")];
    assert_eq!(value(&s, "ticketpulse_open_tickets", &open_new("email")), 1.0);
    for channel in ["chat", "web"] {
        assert!(!s.contains_key(&common::key("ticketpulse_open_tickets", &open_new(channel))), "{channel}");
    }
    // The live partition kept its own changes: T1 solved, T2 open on chat.
    let s = parse_exposition(&exposition(live, &Config::default(), Arc::new(Telemetry::default())));
    assert_eq!(value(&s, "ticketpulse_open_tickets", &open_new("chat")), 1.0);
    assert!(!s.contains_key(&common::key("ticketpulse_open_tickets", &open_new("email"))));
}

/// The stored snapshot, tests/data/snapshot.bin: the state after the first 40 events of the
/// KPI and agent scenarios (tests/data, in time order), every family recorded, with tickets,
/// SLA clocks, timers and buffered events. It must read back under this build and continue
/// exactly as a partition that never stopped, so changing the snapshot layout without bumping
/// `snapshot::FORMAT_VERSION` fails here (a changed KPI declaration is refused by the layout
/// check on its own). After a bump, or a change of the KPI declarations, rewrite it with
/// `TICKETPULSE_WRITE_SNAPSHOT=1 cargo test --test snapshots a_stored_snapshot`.
#[test]
fn a_stored_snapshot_reads_back_under_this_format_version_and_continues_exactly() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/snapshot.bin");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut lines: Vec<String> = ["kpi_scenario.jsonl", "agent_scenario.jsonl"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(format!("{data}/{f}")).unwrap().lines().map(String::from).collect::<Vec<_>>())
        .collect();
    // RFC 3339 times in UTC sort as text.
    lines.sort_by_key(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["at"].as_str().unwrap().to_string());
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    if std::env::var_os("TICKETPULSE_WRITE_SNAPSHOT").is_some() {
        let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
        feed(&engine, &lines[..40], 0);
        std::fs::write(fixture, engine.snapshot(&partition()).unwrap().1).unwrap();
    }

    let bytes = std::fs::read(fixture).unwrap();
    let telemetry = Arc::new(Telemetry::default());
    let restored = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let offset = restored.restore(&partition(), &bytes, None).unwrap_or_else(|e| {
        panic!(
            "tests/data/snapshot.bin does not read under this build ({e}). A change of the snapshot layout bumps \
             snapshot::FORMAT_VERSION; after a bump or a change of the KPI declarations, rewrite the file: \
             TICKETPULSE_WRITE_SNAPSHOT=1 cargo test --test snapshots a_stored_snapshot"
        )
    });
    assert_eq!(offset, 40);
    {
        let lane = restored.partition(&partition()).unwrap();
        let p = lane.lock().unwrap();
        let counts = (p.ticket_count(), p.timer_count(), p.buffered_count());
        assert!(counts.0 > 5 && counts.1 > 0 && counts.2 > 0, "tickets, timers and buffered events: {counts:?}");
    }
    feed(&restored, &lines[40..], 40);
    restored.finish(None);
    let actual = exposition(restored, &config, telemetry);
    let expected = uninterrupted(&config, &lines);
    assert_eq!(kpis(&actual), kpis(&expected), "restored from tests/data/snapshot.bin and continued");
    for family in
        ["ticketpulse_survey_responses", "ticketpulse_agent_replies", "ticketpulse_tickets_created_by_topic", "ticketpulse_sla_met"]
    {
        assert!(kpis(&expected).iter().any(|l| l.starts_with(family)), "{family}");
    }
}
