//! Day one (issue 26): a desk seeded with `ticket_snapshot`s of its open tickets, taken at T,
//! then fed the events after T, shows exactly what the same desk fed every event since the
//! tickets' creation shows: backlog, age buckets, the SLA gauges (running, paused, breached,
//! at risk, next deadline) and the `/api/v1/tickets` answer, at several instants after T.
//! And a snapshot of a ticket ticketpulse knows counts nothing in the windows, only the fields
//! it found different.
//!
//! Monday 2026-01-05, T = 10:00Z. Policies: urgent (30m / 1h / 8h, 24x7), high (2h / 4h / 24h
//! in the `office` calendar, Mon–Fri 09:00–17:00 UTC), normal (8h / 8h / 72h, 24x7); pending
//! pauses. Before T:
//! - A urgent email, created 08:00, no reply: first response due 08:30, breached; resolution
//!   due 16:00.
//! - B high chat, created 08:30: first response due 11:00 (business time starts at 09:00).
//! - C normal email, created 08:10, a1 replies 08:20, pending 08:30, open 08:50, the customer
//!   writes 09:00: next reply due 17:00; resolution 72h less the 20 min it ran, from 08:50.
//! - D normal web, created 08:40, a2 replies 08:45, pending 09:00: resolution paused after
//!   20 min (an hour paused at T).
//! - E high email, created 09:50: first response due 11:50 (two business hours).
//! - F normal email, created 08:05, solved 09:00: not open, so no snapshot.
//!
//! After T: 10:05 a1 answers B, 10:10 a1 answers C, 10:30 D open again, 10:40 a2 answers A,
//! 11:00 G (normal chat) is created, 12:00 C solved.

mod common;

use std::collections::BTreeMap;

use common::Harness;
use serde_json::{json, Value};
use ticketpulse::base::Millis;
use ticketpulse::config::Config;
use ticketpulse::ticket_api::{scan, Query};

const T: Millis = 1_767_607_200_000; // 2026-01-05T10:00:00Z
const MINUTE: Millis = 60_000;

/// Minutes from T (negative: before it).
fn at(minutes: i64) -> Millis {
    T + minutes * MINUTE
}

const CONFIG: &str = r#"
[sla.calendars.office]
time_zone = "UTC"
monday = ["09:00-17:00"]
tuesday = ["09:00-17:00"]
wednesday = ["09:00-17:00"]
thursday = ["09:00-17:00"]
friday = ["09:00-17:00"]

[[sla.policies]]
name = "urgent"
priority = ["urgent"]
first_response = "30m"
next_reply = "1h"
resolution = "8h"

[[sla.policies]]
name = "high"
priority = ["high"]
calendar = "office"
first_response = "2h"
next_reply = "4h"
resolution = "24h"

[[sla.policies]]
name = "normal"
priority = ["normal"]
first_response = "8h"
next_reply = "8h"
resolution = "72h"
"#;

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seeding.toml");
    std::fs::write(&path, CONFIG).unwrap();
    Config::load(Some(&path)).unwrap()
}

fn event(id: &str, ticket: &str, at: Millis, fields: Value) -> (Millis, String) {
    let mut e = json!({"event_id": id, "ticket_id": ticket, "at": at});
    e.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    (at, e.to_string())
}

fn created(ticket: &str, at: Millis, channel: &str, priority: &str) -> (Millis, String) {
    event(&format!("{ticket}-c"), ticket, at, json!({"type": "ticket_created", "channel": channel, "priority": priority}))
}

fn reply(ticket: &str, at: Millis, agent: &str) -> (Millis, String) {
    event(&format!("{ticket}-r{at}"), ticket, at, json!({"type": "message", "author": "agent", "agent_id": agent}))
}

fn customer(ticket: &str, at: Millis) -> (Millis, String) {
    event(&format!("{ticket}-m{at}"), ticket, at, json!({"type": "message", "author": "customer"}))
}

fn status(ticket: &str, at: Millis, status: &str) -> (Millis, String) {
    event(&format!("{ticket}-s{at}"), ticket, at, json!({"type": "status_changed", "status": status}))
}

fn before_t() -> Vec<(Millis, String)> {
    vec![
        created("A", at(-120), "email", "urgent"),
        created("F", at(-115), "email", "normal"),
        created("C", at(-110), "email", "normal"),
        reply("C", at(-100), "a1"),
        status("C", at(-90), "pending"),
        created("B", at(-90), "chat", "high"),
        created("D", at(-80), "web", "normal"),
        reply("D", at(-75), "a2"),
        status("C", at(-70), "open"),
        customer("C", at(-60)),
        status("D", at(-60), "pending"),
        status("F", at(-60), "solved"),
        created("E", at(-10), "email", "high"),
    ]
}

fn after_t() -> Vec<(Millis, String)> {
    vec![
        reply("B", at(5), "a1"),
        reply("C", at(10), "a1"),
        status("D", at(30), "open"),
        reply("A", at(40), "a2"),
        created("G", at(60), "chat", "normal"),
        status("C", at(120), "solved"),
    ]
}

fn time(ms: Millis) -> String {
    ticketpulse::base::rfc3339(ms)
}

/// The open tickets as the help desk states them at T (what `ticketpulse intake seed` produces).
fn snapshots(tag: &str) -> Vec<(Millis, String)> {
    let snapshot = |ticket: &str, fields: Value| {
        let mut f = json!({"type": "ticket_snapshot"});
        f.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        event(&format!("{ticket}-snapshot-{tag}"), ticket, T, f)
    };
    vec![
        snapshot(
            "A",
            json!({"created_at": time(at(-120)), "status": "new", "channel": "email", "priority": "urgent", "waiting_since": time(at(-120))}),
        ),
        snapshot(
            "B",
            json!({"created_at": time(at(-90)), "status": "new", "channel": "chat", "priority": "high", "waiting_since": time(at(-90))}),
        ),
        snapshot(
            "C",
            json!({"created_at": time(at(-110)), "status": "open", "channel": "email", "priority": "normal",
                   "first_response_at": time(at(-100)), "waiting_since": time(at(-60)), "paused_seconds": 1200, "last_agent_id": "a1"}),
        ),
        snapshot(
            "D",
            json!({"created_at": time(at(-80)), "status": "pending", "channel": "web", "priority": "normal",
                   "first_response_at": time(at(-75)), "paused_seconds": 3600, "last_agent_id": "a2"}),
        ),
        snapshot(
            "E",
            json!({"created_at": time(at(-10)), "status": "new", "channel": "email", "priority": "high", "waiting_since": time(at(-10))}),
        ),
    ]
}

/// The families read at the current time, not over a window.
const CURRENT: [&str; 10] = [
    "ticketpulse_open_tickets{",
    "ticketpulse_oldest_unanswered_message_age_seconds{",
    "ticketpulse_backlog_tickets{",
    "ticketpulse_stale_open_tickets{",
    "ticketpulse_sla_running_targets{",
    "ticketpulse_sla_paused_targets{",
    "ticketpulse_sla_breached_open_tickets{",
    "ticketpulse_sla_at_risk_targets{",
    "ticketpulse_sla_next_deadline_seconds{",
    "ticketpulse_sla_unmatched_open_tickets{",
];

struct Read {
    current: BTreeMap<String, f64>,
    all: BTreeMap<String, f64>,
    tickets: Value,
}

/// Feeds `events` (those up to `until`) in time order, as replay does, and reads at `until`.
fn run(events: &[(Millis, String)], until: Millis) -> Read {
    let config = config();
    let h = Harness::new(&config);
    let mut events: Vec<&(Millis, String)> = events.iter().filter(|(at, _)| *at <= until).collect();
    events.sort_by_key(|(at, _)| *at);
    for (_, line) in events {
        h.send(line, None);
    }
    h.engine.finish(Some(until));
    let all = h.scrape();
    let current = all.iter().filter(|(k, _)| CURRENT.iter().any(|c| k.starts_with(c))).map(|(k, v)| (k.clone(), *v)).collect();
    let query = Query::new(h.engine.rules());
    let tickets = serde_json::to_value(scan(&h.engine, None, &query).answer(h.engine.rules(), &query)).unwrap();
    Read { current, all, tickets }
}

fn sum(s: &BTreeMap<String, f64>, prefix: &str, containing: &str) -> f64 {
    s.iter().filter(|(k, _)| k.starts_with(prefix) && k.contains(containing)).map(|(_, v)| v).sum()
}

fn row<'a>(tickets: &'a Value, ticket: &str, target: &str) -> &'a Value {
    tickets["items"].as_array().unwrap().iter().find(|i| i["ticket_id"] == ticket && i["target"] == target).unwrap()
}

#[test]
fn a_seeded_desk_shows_what_a_desk_that_read_everything_shows() {
    let full: Vec<_> = [before_t(), after_t()].concat();
    let seeded: Vec<_> = [snapshots("t"), after_t()].concat();
    for until in [T, at(20), at(60), at(150), at(600)] {
        let (f, s) = (run(&full, until), run(&seeded, until));
        assert!(!f.current.is_empty());
        assert_eq!(s.current, f.current, "current gauges at {}", time(until));
        assert_eq!(s.tickets, f.tickets, "/api/v1/tickets at {}", time(until));
        // The seeded desk counted nothing before T: no volume, no first response, no solve.
        let created_24h = |r: &Read| sum(&r.all, "ticketpulse_tickets_created{window=\"24h\"", "");
        assert_eq!(created_24h(&s), created_24h(&f) - 6.0 * f64::from(until >= T), "A B C D E F before T");
    }

    // Hand-derived at 10:20. Open: A, B, E new; C open; D pending (F was solved).
    let s = run(&seeded, at(20));
    assert_eq!(sum(&s.current, "ticketpulse_open_tickets{", ""), 5.0);
    assert_eq!(sum(&s.current, "ticketpulse_open_tickets{", "status=\"new\""), 3.0);
    // Ages: A 2h20, B 1h50, C 2h10, D 1h40 are 1h-4h; E 30 min is 0s-1h.
    assert_eq!(sum(&s.current, "ticketpulse_backlog_tickets{", "age=\"1h-4h\""), 4.0);
    assert_eq!(sum(&s.current, "ticketpulse_backlog_tickets{", "age=\"0s-1h\""), 1.0);
    // A's first response breached at 08:30; D's resolution paused; running: A's, B's, C's and
    // E's resolution and E's first response (B answered 10:05, C's next reply met 10:10).
    assert_eq!(sum(&s.current, "ticketpulse_sla_breached_open_tickets{", ""), 1.0);
    assert_eq!(sum(&s.current, "ticketpulse_sla_breached_open_tickets{", "policy=\"urgent\",target=\"first_response\""), 1.0);
    assert_eq!(sum(&s.current, "ticketpulse_sla_paused_targets{", "policy=\"normal\",target=\"resolution\""), 1.0);
    assert_eq!(sum(&s.current, "ticketpulse_sla_running_targets{", ""), 5.0);
    assert_eq!(sum(&s.current, "ticketpulse_sla_running_targets{", "target=\"first_response\""), 1.0);
    // E's first response: 10 business minutes ran by T, 110 to go: 11:50, 90 min after 10:20,
    // so at risk within neither 15m nor 1h; nothing else is due within the hour.
    assert_eq!(sum(&s.current, "ticketpulse_sla_at_risk_targets{", ""), 0.0);
    assert_eq!(row(&s.tickets, "E", "first_response")["deadline"], "2026-01-05T11:50:00Z");
    assert_eq!(row(&s.tickets, "A", "first_response")["deadline"], "2026-01-05T08:30:00Z");
    assert_eq!(row(&s.tickets, "A", "first_response")["state"], "breached");
    // C: 110 min since creation less 20 paused = 90 min of 72 h by T: due 08:30 three days on.
    assert_eq!(row(&s.tickets, "C", "resolution")["deadline"], "2026-01-08T08:30:00Z");
    assert_eq!(row(&s.tickets, "C", "resolution")["last_agent"], "a1");
    // B (office hours): 24 business hours from 08:30 Monday: Mon 8 + Tue 8 + Wed 8, Wed 17:00.
    assert_eq!(row(&s.tickets, "B", "resolution")["deadline"], "2026-01-07T17:00:00Z");
    // At 11:00 E's first response (11:50) is at risk within 1h.
    let s = run(&seeded, at(60));
    assert_eq!(sum(&s.current, "ticketpulse_sla_at_risk_targets{", "policy=\"high\",target=\"first_response\",horizon=\"1h\""), 1.0);
}

#[test]
fn a_snapshot_of_a_known_ticket_counts_nothing_but_its_differences() {
    let full: Vec<_> = [before_t(), after_t()].concat();
    let expected = run(&full, at(600));
    // The same desk with a daily check at T that agrees with it: every figure but the input
    // counters is unchanged, and no difference is counted.
    let checked = run(&[full.clone(), snapshots("t")].concat(), at(600));
    let without_input = |r: &Read| -> BTreeMap<String, f64> {
        r.all.iter().filter(|(k, _)| !k.starts_with("ticketpulse_events_total")).map(|(k, v)| (k.clone(), *v)).collect()
    };
    assert_eq!(without_input(&checked), without_input(&expected));
    assert_eq!(sum(&checked.all, "ticketpulse_ticket_snapshot_differences_total{", ""), 0.0);
    assert_eq!(checked.tickets, expected.tickets);

    // Drift: the desk says at T that D is open (ticketpulse missed its reopening from pending)
    // and urgent (a missed priority change). Both adopted, each counted once, nothing else.
    let drift = event(
        "D-drift",
        "D",
        T,
        json!({"type": "ticket_snapshot", "created_at": time(at(-80)), "status": "open", "channel": "web", "priority": "urgent",
               "first_response_at": time(at(-75)), "last_agent_id": "a2"}),
    );
    let r = run(&[before_t(), vec![drift]].concat(), at(1));
    let field = |f: &str| r.all[&format!("ticketpulse_ticket_snapshot_differences_total{{field=\"{f}\"}}")];
    assert_eq!((field("status"), field("priority")), (1.0, 1.0));
    assert_eq!(field("channel") + field("team") + field("created_at") + field("first_response"), 0.0);
    // D is now urgent and open: its resolution (8 h, 20 min spent before the pause) runs again
    // from T, due 17:40.
    assert_eq!(row(&r.tickets, "D", "resolution")["deadline"], "2026-01-05T17:40:00Z");
    assert_eq!(row(&r.tickets, "D", "resolution")["status"], "open");
    // Nothing counted: the windows are those of the same events without the snapshot.
    let plain = run(&before_t(), at(1));
    let windowed = |r: &Read| -> BTreeMap<String, f64> {
        r.all.iter().filter(|(k, _)| k.contains("window=\"") && !k.contains("priority=")).map(|(k, v)| (k.clone(), *v)).collect()
    };
    assert_eq!(windowed(&r), windowed(&plain));
    let created = |r: &Read| sum(&r.all, "ticketpulse_tickets_created{window=\"24h\"", "");
    assert_eq!(created(&r), created(&plain));
}

/// Through a real broker: the snapshots and the events after T on a topic, read by `run`,
/// give the same current gauges and tickets as the desk that read everything. A survey on a
/// ticket never created, at 12:30, moves the watermark past every event (12:29:50) and is in
/// no current gauge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_broker_a_seeded_topic_shows_what_a_desk_that_read_everything_shows() {
    let broker = common::Broker::start();
    let topic = "tickets-seeding";
    common::create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let service = common::config(&broker.bootstrap, topic);
    let mut config = config();
    config.kafka = service.kafka;
    config.kafka.dead_letter_topic = String::new();
    config.http = service.http;
    config.time.idle_timeout = service.time.idle_timeout;
    config.snapshots.dir = tempfile::tempdir().unwrap().keep();
    let tick = event("tick", "Z", at(150), json!({"type": "survey_response", "survey": "nps", "score": 9}));
    let mut seeded: Vec<(Millis, String)> = [snapshots("t"), after_t(), vec![tick.clone()]].concat();
    seeded.sort_by_key(|(at, _)| *at);
    let lines: Vec<&str> = seeded.iter().map(|(_, l)| l.as_str()).collect();
    common::produce(&broker.bootstrap, topic, &lines).await;
    let running = ticketpulse::service::start(config).await.unwrap();
    let n = lines.len() as f64;
    let text = common::scrape_until(running.http_addr, |s| common::total_events(s) == n).await;
    let live = common::parse_exposition(&text);
    let current: BTreeMap<String, f64> =
        live.iter().filter(|(k, _)| CURRENT.iter().any(|c| k.starts_with(c))).map(|(k, v)| (k.clone(), *v)).collect();
    let expected = run(&[before_t(), after_t(), vec![tick]].concat(), at(150));
    assert_eq!(current, expected.current);
    let addr = running.http_addr;
    let (code, body) = tokio::task::spawn_blocking(move || common::http_get(addr, "/api/v1/tickets")).await.unwrap().unwrap();
    assert_eq!(code, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["items"], expected.tickets["items"]);
    // At 12:30: A, B, E and G (created 11:00) new, D open again; C solved.
    assert_eq!(sum(&current, "ticketpulse_open_tickets{", ""), 5.0);
    running.shutdown().await.unwrap();
}
