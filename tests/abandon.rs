//! Issue 27: what `contact_abandoned` does to a ticket's state. By default
//! (`abandonment.ends_contact = true`) the contact ends: not open, in no backlog or SLA gauge
//! nor the tickets API, its running targets neither met nor breached, forgotten after
//! `tickets.retention`; a later public message or status change brings it back
//! (docs/events.md and docs/sla.md, "Abandoned contacts"). The abandon KPIs are the same
//! under either setting.
//!
//! Every scenario is a `normal` chat of the default configuration (first response 8h, next
//! reply 8h, resolution 72h, around the clock; chat is real-time with a 20 s service-level
//! threshold), created at T = 2026-01-05T10:00:00Z.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{create_topics, http_get, parse_exposition, produce, scrape_until, total_events, value, Broker, Harness};
use ticketpulse::config::Config;
use ticketpulse::ticket_api::{Api, Query};

type Series = BTreeMap<String, f64>;

/// An item of the tickets API: (ticket, target, state, at_risk, deadline).
type Item = (String, Option<&'static str>, &'static str, bool, Option<String>);

fn ms(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn event(id: &str, ticket: &str, at: &str, body: &str) -> String {
    format!(r#"{{"event_id":"{id}","ticket_id":"{ticket}","type":{body},"at":"{at}"}}"#)
}

fn created(ticket: &str, at: &str) -> String {
    event(&format!("{ticket}-c"), ticket, at, r#""ticket_created","channel":"chat","priority":"normal""#)
}

fn abandoned(ticket: &str, at: &str) -> String {
    event(&format!("{ticket}-a"), ticket, at, r#""contact_abandoned""#)
}

fn agent(ticket: &str, at: &str) -> String {
    event(&format!("{ticket}-r{at}"), ticket, at, r#""message","author":"agent","public":true,"agent_id":"a-1""#)
}

fn customer(ticket: &str, at: &str) -> String {
    event(&format!("{ticket}-m{at}"), ticket, at, r#""message","author":"customer","public":true"#)
}

fn status(ticket: &str, at: &str, status: &str) -> String {
    event(&format!("{ticket}-s{at}"), ticket, at, &format!(r#""status_changed","status":"{status}""#))
}

/// The issue's reproduction, verbatim.
const ISSUE: [&str; 2] = [
    r#"{"event_id":"1","ticket_id":"C1","type":"ticket_created","at":"2026-01-05T10:00:00Z","channel":"chat","priority":"normal"}"#,
    r#"{"event_id":"2","ticket_id":"C1","type":"contact_abandoned","at":"2026-01-05T10:00:40Z"}"#,
];

fn issue() -> Vec<String> {
    ISSUE.map(String::from).to_vec()
}

/// The configuration with `abandonment.ends_contact` set.
fn config(ends_contact: bool) -> Config {
    let mut config = Config::default();
    config.abandonment.ends_contact = ends_contact;
    config
}

/// A help desk fed `lines` in replay mode, flushed to `end`.
struct Desk {
    harness: Harness,
    config: Config,
}

impl Desk {
    fn new(config: &Config, lines: &[String], end: &str) -> Desk {
        let harness = Harness::new(config);
        for line in lines {
            harness.send(line, None);
        }
        harness.engine.finish(Some(ms(end)));
        Desk { harness, config: config.clone() }
    }

    fn scrape(&self) -> Series {
        self.harness.scrape()
    }

    /// `/api/v1/tickets?state=…` as (ticket, target, state, at_risk, deadline).
    fn tickets(&self, states: &str) -> Vec<Item> {
        let api = Api::new(Arc::clone(&self.harness.engine), None, &self.config.ui);
        let query = Query::parse(Some(&format!("state={states}")), api.rules()).unwrap();
        api.read_now(&query).items.into_iter().map(|i| (i.ticket_id, i.target, i.state, i.at_risk, i.deadline)).collect()
    }
}

/// The sum of a family's series whose labels contain every one of `labels` (`name="value"`).
fn total(s: &Series, family: &str, labels: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| k.strip_prefix(family).is_some_and(|rest| rest.starts_with('{')) && labels.iter().all(|l| k.contains(l)))
        .map(|(_, v)| v)
        .sum()
}

/// The series of a family, as `name{labels}` → value.
fn family<'a>(s: &'a Series, family: &str) -> Vec<(&'a str, f64)> {
    s.iter().filter(|(k, _)| k.strip_prefix(family).is_some_and(|rest| rest.starts_with('{'))).map(|(k, v)| (k.as_str(), *v)).collect()
}

/// The series of a family that are not 0 (a gauge's row shows its other columns as 0).
fn nonzero<'a>(s: &'a Series, name: &str) -> Vec<(&'a str, f64)> {
    family(s, name).into_iter().filter(|(_, v)| *v != 0.0).collect()
}

/// The current gauges that count open tickets and their running, paused or breached targets.
const OPEN_GAUGES: [&str; 9] = [
    "ticketpulse_open_tickets",
    "ticketpulse_backlog_tickets",
    "ticketpulse_stale_open_tickets",
    "ticketpulse_oldest_unanswered_message_age_seconds",
    "ticketpulse_sla_running_targets",
    "ticketpulse_sla_paused_targets",
    "ticketpulse_sla_breached_open_tickets",
    "ticketpulse_sla_at_risk_targets",
    "ticketpulse_sla_next_deadline_seconds",
];

fn assert_nothing_open(s: &Series) {
    for name in OPEN_GAUGES {
        assert_eq!(family(s, name), [], "{name}");
    }
}

const D24: [(&str, &str); 3] = [("window", "24h"), ("channel", "chat"), ("priority", "normal")];
const CHAT: [(&str, &str); 2] = [("channel", "chat"), ("priority", "normal")];

fn with<'a>(labels: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    labels.iter().chain(more).copied().collect()
}

/// An SLA gauge's labels for a target of the `normal` policy.
fn target(t: &'static str) -> Vec<(&'static str, &'static str)> {
    with(&CHAT, &[("policy", "normal"), ("target", t)])
}

#[test]
fn the_issue_reproduction_leaves_no_open_ticket_no_backlog_and_no_breach() {
    // Verbatim: `ticketpulse replay --end-time 2026-01-07T10:00:00Z`.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("issue.jsonl");
    std::fs::write(&input, ISSUE.join("\n") + "\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "--end-time", "2026-01-07T10:00:00Z"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let s = parse_exposition(&text);
    assert_nothing_open(&s);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "contact_abandoned"), ("result", "ok")]), 1.0);
    // Still held (tickets.retention is 7 days), as a solved ticket would be.
    assert_eq!(value(&s, "ticketpulse_tracked_tickets", &[("topic", "replay"), ("partition", "0")]), 1.0);
    assert_eq!(common::promtool_check_metrics(&text), "");

    // At 20:00 the first response (due 18:00) would have breached; the windows still hold it all.
    let desk = Desk::new(&config(true), &issue(), "2026-01-05T20:00:00Z");
    let s = desk.scrape();
    assert_nothing_open(&s);
    assert_eq!(desk.tickets("open,at_risk"), []);
    assert_eq!((total(&s, "ticketpulse_sla_breached", &[]), total(&s, "ticketpulse_sla_met", &[])), (0.0, 0.0));
    // Counted once as an abandon: 40 s is above the 10 s short threshold, in the 30s-1m bucket.
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_short_abandoned_contacts", &D24), 0.0);
    assert_eq!(value(&s, "ticketpulse_abandonment_ratio", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts_by_wait", &with(&D24, &[("wait", "30s-1m")])), 1.0);
    assert_eq!(total(&s, "ticketpulse_abandoned_contacts_by_wait", &["window=\"24h\""]), 1.0);
    // Service level: nothing answered, one abandon: 0 / (0 + 1).
    assert_eq!(value(&s, "ticketpulse_service_level_ratio", &D24), 0.0);

    // Eligible for ticket retention: with 1h, forgotten at 11:00:40.
    let mut short = config(true);
    short.tickets.retention = Duration::from_secs(3600);
    let s = Desk::new(&short, &issue(), "2026-01-05T20:00:00Z").scrape();
    assert_eq!(value(&s, "ticketpulse_tracked_tickets", &[("topic", "tickets"), ("partition", "0")]), 0.0);
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts", &D24), 1.0, "the windows keep the history");
}

#[test]
fn ends_contact_false_keeps_the_abandoned_contact_open_as_before() {
    let desk = Desk::new(&config(false), &issue(), "2026-01-07T10:00:00Z");
    let s = desk.scrape();
    // Exactly the issue's three lines.
    assert_eq!(
        family(&s, "ticketpulse_open_tickets"),
        [(r#"ticketpulse_open_tickets{channel="chat",priority="normal",status="new"}"#, 1.0)]
    );
    assert_eq!(
        nonzero(&s, "ticketpulse_backlog_tickets"),
        [(r#"ticketpulse_backlog_tickets{channel="chat",priority="normal",age="24h-72h"}"#, 1.0)]
    );
    assert_eq!(
        nonzero(&s, "ticketpulse_sla_breached_open_tickets"),
        [(r#"ticketpulse_sla_breached_open_tickets{channel="chat",priority="normal",policy="normal",target="first_response"}"#, 1.0)]
    );
    // The desk asked for it: listed as breached since 18:00, resolution due at 72h.
    assert_eq!(
        desk.tickets("open"),
        [
            ("C1".to_string(), Some("first_response"), "breached", false, Some("2026-01-05T18:00:00Z".to_string())),
            ("C1".to_string(), Some("resolution"), "running", false, Some("2026-01-08T10:00:00Z".to_string())),
        ]
    );
}

#[test]
fn an_agent_reply_after_an_abandon_opens_it_again_and_meets_no_first_response() {
    let lines = [created("C1", "2026-01-05T10:00:00Z"), abandoned("C1", "2026-01-05T10:00:40Z"), agent("C1", "2026-01-05T11:00:00Z")];
    let desk = Desk::new(&config(true), &lines, "2026-01-05T11:30:00Z");
    let s = desk.scrape();
    assert_eq!(
        family(&s, "ticketpulse_open_tickets"),
        [(r#"ticketpulse_open_tickets{channel="chat",priority="normal",status="new"}"#, 1.0)]
    );
    assert_eq!(value(&s, "ticketpulse_backlog_tickets", &with(&CHAT, &[("age", "1h-4h")])), 1.0);
    assert_eq!(family(&s, "ticketpulse_oldest_unanswered_message_age_seconds"), []);
    // Resolution runs on from its 40 s: due 11:00 + 72h − 40 s, 72h − 40 s − 30 min from now.
    assert_eq!(
        family(&s, "ticketpulse_sla_running_targets"),
        [(common::key("ticketpulse_sla_running_targets", &target("resolution")).as_str(), 1.0)]
    );
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &target("resolution")), 259_200.0 - 40.0 - 1800.0);
    // First response: neither met nor breached.
    assert_eq!((total(&s, "ticketpulse_sla_met", &[]), total(&s, "ticketpulse_sla_breached", &[])), (0.0, 0.0));
    // The KPIs as ever: the follow-up is the first response (1 h) and an answered chat, not
    // within 20 s; the abandon still counts. Service level 0 / (1 + 1).
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &D24), 3600.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_count", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_realtime_answered_contacts", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_realtime_answered_within_threshold_contacts", &D24), 0.0);
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_service_level_ratio", &D24), 0.0);
    assert_eq!(desk.tickets("open"), [("C1".to_string(), Some("resolution"), "running", false, Some("2026-01-08T10:59:20Z".to_string()))]);

    // Without the rule the reply meets the first response (1 h of 8 h).
    let s = Desk::new(&config(false), &lines, "2026-01-05T11:30:00Z").scrape();
    assert_eq!(value(&s, "ticketpulse_sla_met", &with(&D24, &[("policy", "normal"), ("target", "first_response")])), 1.0);
}

#[test]
fn a_status_change_after_an_abandon_opens_it_again_and_resolution_runs_on() {
    let lines =
        [created("C1", "2026-01-05T10:00:00Z"), abandoned("C1", "2026-01-05T10:00:40Z"), status("C1", "2026-01-05T20:00:00Z", "open")];
    let desk = Desk::new(&config(true), &lines, "2026-01-05T20:00:00Z");
    let s = desk.scrape();
    assert_eq!(
        family(&s, "ticketpulse_open_tickets"),
        [(r#"ticketpulse_open_tickets{channel="chat",priority="normal",status="open"}"#, 1.0)]
    );
    assert_eq!(value(&s, "ticketpulse_backlog_tickets", &with(&CHAT, &[("age", "4h-24h")])), 1.0);
    // The customer's request is still unanswered, 10 h after creation; no first-response
    // target runs and none breached at 18:00 while the contact was ended.
    assert_eq!(value(&s, "ticketpulse_oldest_unanswered_message_age_seconds", &CHAT), 36_000.0);
    assert_eq!(
        family(&s, "ticketpulse_sla_running_targets"),
        [(common::key("ticketpulse_sla_running_targets", &target("resolution")).as_str(), 1.0)]
    );
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &target("resolution")), 259_200.0 - 40.0);
    assert_eq!(nonzero(&s, "ticketpulse_sla_breached_open_tickets"), []);
    assert_eq!(total(&s, "ticketpulse_sla_breached", &[]), 0.0);
    assert_eq!(desk.tickets("breached,at_risk"), []);
    // Without the rule: breached at 18:00, and listed.
    let other = Desk::new(&config(false), &lines, "2026-01-05T20:00:00Z");
    assert_eq!(value(&other.scrape(), "ticketpulse_sla_breached", &with(&D24, &[("policy", "normal"), ("target", "first_response")])), 1.0);
    assert_eq!(other.tickets("breached").len(), 1);

    // Pending at 20:30, a reply at 21:00 (meets nothing), solved at 22:00 while paused:
    // resolution met after 40 s + 30 min of running.
    let more = [
        status("C1", "2026-01-05T20:30:00Z", "pending"),
        agent("C1", "2026-01-05T21:00:00Z"),
        status("C1", "2026-01-05T22:00:00Z", "solved"),
    ];
    let all: Vec<String> = lines.iter().chain(&more).cloned().collect();
    let s = Desk::new(&config(true), &all, "2026-01-05T22:00:00Z").scrape();
    assert_nothing_open(&s);
    let sla = |t| with(&D24, &[("policy", "normal"), ("target", t)]);
    assert_eq!(value(&s, "ticketpulse_sla_met", &sla("resolution")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &sla("resolution")), 1840.0);
    assert_eq!(total(&s, "ticketpulse_sla_met", &["target=\"first_response\""]), 0.0);
    assert_eq!(total(&s, "ticketpulse_sla_breached", &[]), 0.0);
    assert_eq!(value(&s, "ticketpulse_first_resolution_time_seconds_sum", &D24), 43_200.0);

    // Closed a second after the abandon, as agents close a missed chat: resolution neither
    // met nor breached; the solve KPIs as ever.
    let closed =
        [created("C1", "2026-01-05T10:00:00Z"), abandoned("C1", "2026-01-05T10:00:40Z"), status("C1", "2026-01-05T10:00:41Z", "closed")];
    let s = Desk::new(&config(true), &closed, "2026-01-05T20:00:00Z").scrape();
    assert_eq!((total(&s, "ticketpulse_sla_met", &[]), total(&s, "ticketpulse_sla_breached", &[])), (0.0, 0.0));
    assert_eq!(value(&s, "ticketpulse_tickets_solved", &D24), 1.0);
    assert_eq!(value(&s, "ticketpulse_first_resolution_time_seconds_sum", &D24), 41.0);
}

#[test]
fn an_abandon_stops_a_running_next_reply_and_a_customer_coming_back_starts_a_new_one() {
    let lines = [
        created("C1", "2026-01-05T10:00:00Z"),
        agent("C1", "2026-01-05T11:00:00Z"),
        customer("C1", "2026-01-05T12:00:00Z"),
        abandoned("C1", "2026-01-05T12:30:00Z"),
    ];
    // At 21:00 the next reply (due 20:00) would have breached.
    let s = Desk::new(&config(true), &lines, "2026-01-05T21:00:00Z").scrape();
    assert_nothing_open(&s);
    let sla = |t| with(&D24, &[("policy", "normal"), ("target", t)]);
    assert_eq!(value(&s, "ticketpulse_sla_met", &sla("first_response")), 1.0);
    assert_eq!(total(&s, "ticketpulse_sla_breached", &[]), 0.0);
    // Answered before: not an abandon, and no KPI moved.
    assert_eq!(total(&s, "ticketpulse_abandoned_contacts", &[]), 0.0);
    assert_eq!(total(&s, "ticketpulse_short_abandoned_contacts", &[]), 0.0);
    let without = Desk::new(&config(false), &lines, "2026-01-05T21:00:00Z").scrape();
    assert_eq!(value(&without, "ticketpulse_sla_breached", &sla("next_reply")), 1.0);
    assert_eq!(value(&without, "ticketpulse_sla_breached_open_tickets", &target("next_reply")), 1.0);

    // The customer writes again at 13:00: open again, a next reply due 21:00 (the 20:00 one
    // never fires), resolution due 13:00 + 72h − 2h30.
    let back: Vec<String> = lines.iter().cloned().chain([customer("C1", "2026-01-05T13:00:00Z")]).collect();
    let desk = Desk::new(&config(true), &back, "2026-01-05T20:30:00Z");
    let s = desk.scrape();
    assert_eq!(
        family(&s, "ticketpulse_open_tickets"),
        [(r#"ticketpulse_open_tickets{channel="chat",priority="normal",status="new"}"#, 1.0)]
    );
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &target("next_reply")), 1800.0);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &target("next_reply")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &target("resolution")), 1.0);
    assert_eq!(total(&s, "ticketpulse_sla_breached", &[]), 0.0);
    // The 12:00 message is still the oldest unanswered: 8h30.
    assert_eq!(value(&s, "ticketpulse_oldest_unanswered_message_age_seconds", &CHAT), 30_600.0);
    assert_eq!(
        desk.tickets("open"),
        [
            ("C1".to_string(), Some("next_reply"), "running", false, Some("2026-01-05T21:00:00Z".to_string())),
            ("C1".to_string(), Some("resolution"), "running", false, Some("2026-01-08T10:30:00Z".to_string())),
        ]
    );
}

/// The generator's chat and phone heavy day: 8 hours, with the `closed` that follows each
/// abandon taken out (the issue's queue, where abandons stayed open), as (lines, abandoned
/// tickets, end).
fn queue() -> (Vec<String>, Vec<String>, String) {
    use ticketpulse::generator::{Generator, GeneratorOptions};
    let start = ms("2026-01-05T08:00:00Z");
    let events: Vec<_> = Generator::new(GeneratorOptions { seed: 27, tickets_per_hour: 400.0, start })
        .take_while(|g| g.at < start + 8 * 3_600_000)
        .collect();
    let abandoned: Vec<String> =
        events.iter().filter(|g| g.payload.contains(r#""contact_abandoned""#)).map(|g| g.ticket_id.clone()).collect();
    let lines = events
        .iter()
        .filter(|g| !(abandoned.contains(&g.ticket_id) && g.payload.contains(r#""status_changed""#)))
        .map(|g| g.payload.clone())
        .collect();
    (lines, abandoned, "2026-01-05T18:00:00Z".to_string())
}

#[test]
fn over_a_generated_queue_the_abandon_kpis_are_unchanged_and_no_abandon_is_listed() {
    let (lines, abandoned, end) = queue();
    assert!(abandoned.len() > 50, "{} abandons", abandoned.len());
    let ends = Desk::new(&config(true), &lines, &end);
    let stays = Desk::new(&config(false), &lines, &end);
    // Every windowed KPI but the SLA outcomes is the same under either setting: abandons,
    // short abandons, by wait, ratios, service level, speed of answer, volume, replies.
    let windowed = |s: &Series| -> Series {
        s.iter().filter(|(k, _)| k.contains("window=\"") && !k.starts_with("ticketpulse_sla_")).map(|(k, v)| (k.clone(), *v)).collect()
    };
    let (a, b) = (windowed(&ends.scrape()), windowed(&stays.scrape()));
    assert_eq!(a, b);
    assert!(total(&a, "ticketpulse_abandoned_contacts", &["window=\"24h\""]) > 0.0);
    assert!(total(&a, "ticketpulse_service_level_ratio", &["window=\"24h\""]) > 0.0);
    // Listed as breached or at risk: none of the abandoned contacts when they end; many as before.
    let listed = |desk: &Desk| -> usize {
        let mut ids: Vec<String> = desk.tickets("breached,at_risk").into_iter().map(|t| t.0).filter(|id| abandoned.contains(id)).collect();
        ids.dedup();
        ids.len()
    };
    assert_eq!(listed(&ends), 0);
    assert!(listed(&stays) > 10, "{}", listed(&stays));
    // And the gauges agree: the open tickets differ by exactly the abandoned ones.
    let open = |desk: &Desk| total(&desk.scrape(), "ticketpulse_open_tickets", &[]);
    assert_eq!(open(&stays) - open(&ends), abandoned.len() as f64);
}

/// Through a real broker: the abandon is consumed and snapshotted on shutdown; the restarted
/// service restores it (the contact still ended, its first-response deadline passing
/// unbreached), then an agent's reply brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_broker_across_a_snapshot_and_restore() {
    let broker = Broker::start();
    let topic = "tickets-abandon";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let mut config = common::config(&broker.bootstrap, topic);
    config.kafka.dead_letter_topic = String::new();
    config.snapshots.dir = tempfile::tempdir().unwrap().keep();
    config.snapshots.interval = Duration::from_secs(3600); // only the shutdown writes one
                                                           // A tick on another ticket (web, low: first response 24h) moves the watermark on.
    let tick = |id: &str, at: &str| event(&format!("{id}-c"), id, at, r#""ticket_created","channel":"web","priority":"low""#);
    let low = |t| [("channel", "web"), ("priority", "low"), ("policy", "low"), ("target", t)];

    let first = [created("C1", "2026-01-05T10:00:00Z"), abandoned("C1", "2026-01-05T10:00:40Z"), tick("Z1", "2026-01-05T11:00:00Z")];
    produce(&broker.bootstrap, topic, &first.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let running = ticketpulse::service::start(config.clone()).await.unwrap();
    let s = parse_exposition(&scrape_until(running.http_addr, |s| total_events(s) == 3.0).await);
    // C1 applied (the watermark is 10:59:50), Z1 still buffered: nothing open.
    assert_nothing_open(&s);
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts", &D24), 1.0);
    running.shutdown().await.unwrap();

    // Past C1's first-response deadline (18:00), then an agent's reply at 20:00.
    let second = [tick("Z2", "2026-01-05T19:00:00Z"), agent("C1", "2026-01-05T20:00:00Z"), tick("Z3", "2026-01-05T20:00:20Z")];
    produce(&broker.bootstrap, topic, &second.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let running = ticketpulse::service::start(config).await.unwrap();
    let text =
        scrape_until(running.http_addr, |s| s.get("ticketpulse_snapshots_restored_total") == Some(&1.0) && total_events(s) == 3.0).await;
    let s = parse_exposition(&text);
    // Only the new messages were read; the windows came with the snapshot.
    assert_eq!(total(&s, "ticketpulse_events_total", &["contact_abandoned"]), 0.0);
    assert_eq!(value(&s, "ticketpulse_abandoned_contacts", &D24), 1.0);
    // C1 open again (Z1 and Z2 open on web; Z3 is buffered), first response neither met nor breached.
    assert_eq!(value(&s, "ticketpulse_open_tickets", &with(&CHAT, &[("status", "new")])), 1.0);
    assert_eq!(total(&s, "ticketpulse_sla_met", &["channel=\"chat\""]), 0.0);
    assert_eq!(total(&s, "ticketpulse_sla_breached", &["channel=\"chat\""]), 0.0);
    assert_eq!(total(&s, "ticketpulse_sla_breached_open_tickets", &[]), 0.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &D24), 36_000.0);
    // Resolution ran 40 s before the snapshot: due 20:00 + 72h − 40 s, from stream time 20:00:20.
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &target("resolution")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &target("resolution")), 259_200.0 - 40.0 - 20.0);
    assert_eq!(nonzero(&s, "ticketpulse_sla_running_targets").iter().filter(|(k, _)| k.contains("chat")).count(), 1);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &low("first_response")), 2.0);
    // The tickets API agrees: C1's one item is its resolution, running.
    let addr = running.http_addr;
    let (code, body) = tokio::task::spawn_blocking(move || http_get(addr, "/api/v1/tickets?channel=chat")).await.unwrap().unwrap();
    assert_eq!(code, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items: Vec<(String, String, String)> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["ticket_id"].as_str().unwrap().into(), i["target"].as_str().unwrap().into(), i["state"].as_str().unwrap().into()))
        .collect();
    assert_eq!(items, [("C1".to_string(), "resolution".to_string(), "running".to_string())]);
    running.shutdown().await.unwrap();
}
