//! Engine properties: any delivery order within the allowed lateness, with redeliveries, gives
//! exactly the in-order result; breaches fire from the clock alone; state is evicted.

mod common;

use std::io::Cursor;
use std::sync::Arc;

use common::kpis;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::generator::{Generated, Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z

fn generated(n: usize) -> Vec<Generated> {
    Generator::new(GeneratorOptions { seed: 42, tickets_per_hour: 400.0, start: START }).take(n).collect()
}

fn replay(lines: &[&str]) -> String {
    ticketpulse::replay::replay(&Config::default(), Cursor::new(lines.join("\n")), ticketpulse::replay::End::Flush(None)).unwrap()
}

#[test]
fn bounded_disorder_and_redeliveries_give_the_in_order_result() {
    let events = generated(30_000);
    let in_order: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    let expected = replay(&in_order);

    // Delay each event by a random 0..9.999 s (allowed lateness is 10 s), redeliver 5%.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut delivered: Vec<(i64, usize)> = Vec::new();
    let mut redelivered = 0;
    for (i, e) in events.iter().enumerate() {
        delivered.push((e.at + rng.random_range(0..10_000), i));
        if rng.random_bool(0.05) {
            delivered.push((e.at + rng.random_range(0..10_000), i));
            redelivered += 1;
        }
    }
    delivered.sort();
    let moved = delivered.iter().enumerate().filter(|(pos, (_, i))| pos != i).count();
    assert!(moved > 10_000, "the shuffle must actually reorder ({moved} moved)");
    let disordered: Vec<&str> = delivered.iter().map(|(_, i)| in_order[*i]).collect();
    let actual = replay(&disordered);

    assert_eq!(kpis(&actual), kpis(&expected));
    let s = common::parse_exposition(&actual);
    let result = |r: &str| -> f64 { s.iter().filter(|(k, _)| k.contains(&format!("result=\"{r}\""))).map(|(_, v)| v).sum() };
    assert_eq!(result("duplicate"), f64::from(redelivered));
    assert_eq!(result("late"), 0.0);
    assert_eq!(result("ok"), 30_000.0);
    assert!(kpis(&expected).len() > 500, "the generated day exercises many series");
}

#[test]
fn breach_fires_from_idle_wall_clock_advancement_alone() {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry));
    let p = ("tickets".to_string(), 0);
    let created =
        format!(r#"{{"event_id":"1","ticket_id":"T","type":"ticket_created","at":{START},"channel":"chat","priority":"urgent"}}"#);
    engine.handle(&p, created.as_bytes(), Some(START), &"test").unwrap();
    let counted = |engine: &Engine| engine.view(None).windows.sla.values().map(|s| s.breached[0]).max().unwrap_or(0);
    // Urgent first response: 30 min. Watermark = wall clock − 10 s lateness; the breach is
    // counted once the watermark is strictly beyond the deadline.
    let deadline = START + 1_800_000;
    engine.advance_idle(deadline + 10_000);
    assert_eq!(counted(&engine), 0);
    engine.advance_idle(deadline + 10_001);
    assert_eq!(counted(&engine), 1);
    // Counted at the deadline: inside the 5m window, which no longer holds the creation
    // 30 min earlier; the 1h window holds both.
    let view = engine.view(None);
    let created: Vec<_> = view.windows.kpi.iter().map(|((w, _), s)| (*w, s.created)).collect();
    assert_eq!(created, [(1, 1), (2, 1)], "no creation in the 5m window");
    let breached: Vec<_> = view.windows.sla.iter().map(|((w, _), s)| (*w, s.breached)).collect();
    assert_eq!(breached, [(0, [1, 0, 0]), (1, [1, 0, 0]), (2, [1, 0, 0])]);
}

#[test]
fn idle_advancement_waits_for_idle_timeout() {
    let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    let p = ("tickets".to_string(), 0);
    let created = format!(r#"{{"event_id":"1","ticket_id":"T","type":"ticket_created","at":{START},"channel":"chat"}}"#);
    // The event arrives at wall time START + 1 h (a backlog being consumed).
    let arrival = START + 3_600_000;
    engine.handle(&p, created.as_bytes(), Some(arrival), &"test").unwrap();
    engine.advance_idle(arrival + 29_999); // idle 30 s not reached: stream time stays
    assert_eq!(engine.partition(&p).unwrap().lock().unwrap().stream_time(), Some(START));
    engine.advance_idle(arrival + 30_000);
    assert_eq!(engine.partition(&p).unwrap().lock().unwrap().stream_time(), Some(arrival + 30_000));
}

#[test]
fn resolved_and_orphan_tickets_are_evicted_after_retention() {
    let mut config = Config::default();
    config.tickets.retention = std::time::Duration::from_secs(3600);
    let mut engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let p = ("tickets".to_string(), 0);
    let send = |engine: &mut Engine, id: &str, ticket: &str, at: i64, rest: &str| {
        let json = format!(r#"{{"event_id":"{id}","ticket_id":"{ticket}","at":{at},{rest}}}"#);
        engine.handle(&p, json.as_bytes(), None, &"test").unwrap();
    };
    let h = 3_600_000;
    send(&mut engine, "1", "solved", START, r#""type":"ticket_created","channel":"email""#);
    send(&mut engine, "2", "solved", START + 60_000, r#""type":"status_changed","status":"solved""#);
    send(&mut engine, "3", "open", START, r#""type":"ticket_created","channel":"email""#);
    send(&mut engine, "4", "orphan", START, r#""type":"message","author":"customer""#);
    send(&mut engine, "5", "clock", START + h + 70_000, r#""type":"ticket_created","channel":"web""#);
    // Watermark START + 1 h + 60 s: the orphan (quiet since START) is gone; the solved ticket
    // stays until START + 1 min + 1 h is passed; open tickets stay.
    assert_eq!(engine.partition(&p).unwrap().lock().unwrap().ticket_count(), 3);
    send(&mut engine, "6", "clock", START + h + 80_000, r#""type":"message","author":"customer""#);
    assert_eq!(engine.partition(&p).unwrap().lock().unwrap().ticket_count(), 2);
}

/// A producer that does not key by ticket id: T is created on partition 0, answered and solved
/// on partition 1. Partition 1 applies 2 events to a ticket it never saw created (counted and
/// logged, the ticket under channel/priority "unknown"); partition 0 applies none. Both
/// partitions' later events (at 10:10, still buffered) keep the watermark past them.
#[test]
fn events_of_a_ticket_created_on_another_partition_are_counted_per_partition() {
    let config = Config::default();
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let (p0, p1) = (("events".to_string(), 0), ("events".to_string(), 1));
    let send = |p: &(String, i32), line: &str| engine.handle(p, line.as_bytes(), None, &"test").unwrap();
    send(&p0, r#"{"event_id":"1","ticket_id":"T","type":"ticket_created","at":"2026-01-05T10:00:00Z","channel":"email"}"#);
    send(&p1, r#"{"event_id":"2","ticket_id":"T","type":"message","at":"2026-01-05T10:01:00Z","author":"agent"}"#);
    send(&p1, r#"{"event_id":"3","ticket_id":"T","type":"status_changed","at":"2026-01-05T10:02:00Z","status":"solved"}"#);
    // A help desk's statement of a ticket (seeding) is how a partition learns of it: not counted.
    send(
        &p0,
        r#"{"event_id":"4","ticket_id":"S","type":"ticket_snapshot","at":"2026-01-05T10:03:00Z","created_at":"2026-01-05T09:00:00Z","status":"open","channel":"email"}"#,
    );
    for p in [&p0, &p1] {
        send(
            p,
            &format!(
                r#"{{"event_id":"x{}","ticket_id":"U{}","type":"ticket_created","at":"2026-01-05T10:10:00Z","channel":"email"}}"#,
                p.1, p.1
            ),
        );
    }
    let text = ticketpulse::exporter::write_text(&engine.view(None), &ticketpulse::exporter::ExportRules::new(&config), &telemetry);
    let s = common::parse_exposition(&text);
    let uncreated = |p: &str| common::value(&s, "ticketpulse_events_without_creation_total", &[("topic", "events"), ("partition", p)]);
    assert_eq!((uncreated("0"), uncreated("1")), (0.0, 2.0));
}
