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
use ticketpulse::exporter;
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

fn exposition(engine: Engine, telemetry: Arc<Telemetry>) -> String {
    exporter::encode(&exporter::registry(Arc::new(engine), telemetry, None))
}

#[test]
fn a_restored_partition_continues_exactly_as_an_uninterrupted_one() {
    let events = payloads(20_000);
    let mut config = Config::default();
    // Per-agent windows and each ticket's last replying agent cross the snapshot too.
    config.kpis.agents.enabled = true;

    let telemetry = Arc::new(Telemetry::default());
    let uninterrupted = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    feed(&uninterrupted, &events, 0);
    uninterrupted.finish(None);
    let expected = exposition(uninterrupted, telemetry);

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
    let actual = exposition(after, telemetry);

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
    let s = parse_exposition(&exporter::encode(&exporter::registry(Arc::clone(&engine), Arc::clone(&telemetry), None)));
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
    let s = parse_exposition(&exporter::encode(&exporter::registry(fresh, Arc::clone(&telemetry), None)));
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
    let s = parse_exposition(&exposition(engine, telemetry));
    assert_eq!(value(&s, "ticketpulse_tickets_shed_total", &[]), 50.0);
    assert_eq!(value(&s, "ticketpulse_open_tickets", &[("channel", "email"), ("priority", "normal"), ("status", "new")]), 100.0);
    // Volume is windowed history, not state: all 150 creations are still counted.
    assert_eq!(value(&s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")]), 150.0);
}
