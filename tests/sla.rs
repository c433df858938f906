//! SLA policies, business-hours calendars, pauses and live breach detection, with deadlines and
//! outcomes computed by hand. Policies and calendars are those of
//! `config/examples/sla-business-hours.toml` (emea: Europe/Bucharest 09:00-12:30 and
//! 13:30-17:00 on weekdays, 2026-04-13 closed; us: America/New_York 09:00-17:00 on weekdays;
//! vip-urgent 15m / 30m / 4h around the clock; standard 8h / 8h / 72h around the clock).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{parse_exposition, value};
use ticketpulse::base::Millis;
use ticketpulse::clock::WallClock;
use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter;
use ticketpulse::internal_events::Telemetry;
use ticketpulse::replay::{replay, End};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples/sla-business-hours.toml");

fn config() -> Config {
    Config::load(Some(Path::new(EXAMPLE))).unwrap()
}

fn ms(rfc3339: &str) -> Millis {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// One event of `ticket` at `at` (RFC 3339, local offsets welcome) with type-specific `fields`.
fn ev(ticket: &str, at: &str, fields: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(r#"{{"event_id":"{ticket}-{n}","ticket_id":"{ticket}","at":"{at}",{fields}}}"#)
}

fn created(team: &str, priority: &str) -> String {
    format!(r#""type":"ticket_created","channel":"email","priority":"{priority}","team":"{team}""#)
}

const REPLY: &str = r#""type":"message","author":"agent","public":true"#;
const CUSTOMER: &str = r#""type":"message","author":"customer","public":true"#;

fn status(s: &str) -> String {
    format!(r#""type":"status_changed","status":"{s}""#)
}

/// Replays `lines` in order and flushes at `end`.
fn run(lines: &[String], end: &str) -> BTreeMap<String, f64> {
    let text = replay(&config(), lines.join("\n").as_bytes(), End::Flush(Some(ms(end)))).unwrap();
    parse_exposition(&text)
}

/// Labels of a windowed SLA series (24h window, email channel).
fn win(priority: &'static str, team: &'static str, policy: &'static str, target: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("window", "24h"), ("channel", "email"), ("priority", priority), ("team", team), ("policy", policy), ("target", target)]
}

/// Labels of a current SLA series.
fn cur(priority: &'static str, team: &'static str, policy: &'static str, target: &'static str) -> Vec<(&'static str, &'static str)> {
    win(priority, team, policy, target).split_off(1)
}

fn with(mut labels: Vec<(&'static str, &'static str)>, name: &'static str, v: &'static str) -> Vec<(&'static str, &'static str)> {
    labels.push((name, v));
    labels
}

#[test]
fn friday_afternoon_ticket_with_one_business_hour_is_due_monday_0930() {
    let emea_fr = || win("normal", "emea", "emea-business", "first_response");
    // Created Friday 16:30 Bucharest: 30 min on Friday, then Monday from 09:00.
    let creation = [ev("F1", "2026-01-09T16:30:00+02:00", &created("emea", "normal"))];
    let s = run(&creation, "2026-01-09T16:45:00+02:00");
    let fr = || cur("normal", "emea", "emea-business", "first_response");
    // Due Monday 09:30 local: 2 days 16 h 45 min after Friday 16:45.
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &fr()), 233_100.0);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &fr()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(fr(), "horizon", "1h")), 0.0);
    let s = run(&creation, "2026-01-12T09:00:00+02:00");
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &fr()), 1800.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(fr(), "horizon", "1h")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(fr(), "horizon", "15m")), 0.0);

    let s = run(
        &[
            ev("F1", "2026-01-09T16:30:00+02:00", &created("emea", "normal")),
            ev("F2", "2026-01-09T16:30:00+02:00", &created("emea", "normal")),
            ev("F2", "2026-01-12T09:20:00+02:00", REPLY),
            ev("F1", "2026-01-12T09:45:00+02:00", REPLY),
        ],
        "2026-01-12T10:00:00+02:00",
    );
    // F2 met with 30 + 20 business minutes; F1 breached at 09:30 and answered after 30 + 45.
    assert_eq!(value(&s, "ticketpulse_sla_met", &emea_fr()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_breached", &emea_fr()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_count", &emea_fr()), 2.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &emea_fr()), 3000.0 + 4500.0);
    // Calendar time of the same replies: 64 h 50 min and 65 h 15 min.
    let d = [("window", "24h"), ("channel", "email"), ("priority", "normal"), ("team", "emea")];
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &d), 233_400.0 + 234_900.0);
}

#[test]
fn split_shift_skips_the_lunch_break() {
    let fr = || win("normal", "emea", "emea-business", "first_response");
    // Tuesday 12:00: 30 min to 12:30, lunch, 30 min from 13:30: due 14:00.
    let creation = [ev("L1", "2026-01-13T12:00:00+02:00", &created("emea", "normal"))];
    let s = run(&creation, "2026-01-13T13:00:00+02:00");
    let c = || cur("normal", "emea", "emea-business", "first_response");
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &c()), 3600.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(c(), "horizon", "1h")), 1.0);
    let s = run(
        &[
            ev("L1", "2026-01-13T12:00:00+02:00", &created("emea", "normal")),
            ev("L2", "2026-01-13T12:00:00+02:00", &created("emea", "normal")),
            ev("L1", "2026-01-13T13:59:00+02:00", REPLY),
            ev("L2", "2026-01-13T14:00:01+02:00", REPLY),
        ],
        "2026-01-13T15:00:00+02:00",
    );
    assert_eq!(value(&s, "ticketpulse_sla_met", &fr()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_breached", &fr()), 1.0);
    // 59 business minutes, and 60 min 1 s.
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &fr()), 3540.0 + 3601.0);
}

#[test]
fn a_holiday_is_skipped() {
    // Friday 2026-04-10 16:30 (UTC+3): 30 min on Friday; Monday 13 April is a holiday.
    let creation = [ev("H1", "2026-04-10T16:30:00+03:00", &created("emea", "normal"))];
    let s = run(&creation, "2026-04-13T12:00:00+03:00");
    let c = cur("normal", "emea", "emea-business", "first_response");
    // Due Tuesday 09:30: 21 h 30 min after Monday noon.
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &c), 77_400.0);
    let mut lines = creation.to_vec();
    lines.push(ev("H1", "2026-04-14T09:29:00+03:00", REPLY));
    let s = run(&lines, "2026-04-14T10:00:00+03:00");
    let fr = win("normal", "emea", "emea-business", "first_response");
    assert_eq!(value(&s, "ticketpulse_sla_met", &fr), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &fr), 3540.0);
}

#[test]
fn resolution_across_both_dst_changes_in_bucharest_and_new_york() {
    // emea resolution 16 h: created Friday 16:00 → 1 h Friday, 7 h Monday, 7 h Tuesday, and
    // Wednesday 09:00-10:00. The clocks change on the Sunday in between.
    // us resolution 24 h: created Friday 16:00 → 1 h Friday, 8 h Monday, 8 h Tuesday, and
    // Wednesday 09:00-16:00.
    let cases = [
        // (team, created, solved, end, met?, business seconds)
        ("emea", "2026-03-27T16:00:00+02:00", "2026-04-01T10:00:01+03:00", "2026-04-01T11:00:00+03:00", false, 57_601.0),
        ("emea", "2026-10-23T16:00:00+03:00", "2026-10-28T09:59:00+02:00", "2026-10-28T11:00:00+02:00", true, 57_540.0),
        ("us", "2026-03-06T16:00:00-05:00", "2026-03-11T16:00:00-04:00", "2026-03-11T17:00:00-04:00", true, 86_400.0),
        ("us", "2026-10-30T16:00:00-04:00", "2026-11-04T16:00:01-05:00", "2026-11-04T17:00:00-05:00", false, 86_401.0),
    ];
    for (team, created_at, solved_at, end, met, business) in cases {
        let s = run(&[ev("D", created_at, &created(team, "normal")), ev("D", solved_at, &status("solved"))], end);
        let policy = if team == "emea" { "emea-business" } else { "us-business" };
        let target = win("normal", if team == "emea" { "emea" } else { "us" }, policy, "resolution");
        let case = format!("{team} {created_at}");
        assert_eq!(value(&s, "ticketpulse_sla_met", &target), if met { 1.0 } else { 0.0 }, "{case}");
        assert_eq!(value(&s, "ticketpulse_sla_breached", &target), if met { 0.0 } else { 1.0 }, "{case}");
        assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &target), business, "{case}");
    }
}

#[test]
fn pause_statuses_stop_resolution_but_not_first_response() {
    let s = run(
        &[
            // Resolution (72 h): 10 h, pending for 20 h, then 50 h more: met with 60 h.
            ev("P1", "2026-02-02T00:00:00Z", &created("none-of-them", "normal")),
            ev("P1", "2026-02-02T01:00:00Z", REPLY),
            ev("P1", "2026-02-02T10:00:00Z", &status("pending")),
            ev("P1", "2026-02-03T06:00:00Z", &status("open")),
            ev("P1", "2026-02-05T08:00:00Z", &status("solved")),
            // First response (8 h) runs on while on hold: breached at 08:00.
            ev("P2", "2026-02-05T00:00:00Z", &created("none-of-them", "normal")),
            ev("P2", "2026-02-05T01:00:00Z", &status("on_hold")),
            ev("P2", "2026-02-05T09:00:00Z", REPLY),
        ],
        "2026-02-05T10:00:00Z",
    );
    let t = |target| win("normal", "other", "standard", target);
    assert_eq!(value(&s, "ticketpulse_sla_met", &t("resolution")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &t("resolution")), 216_000.0);
    let d = [("window", "24h"), ("channel", "email"), ("priority", "normal"), ("team", "other")];
    assert_eq!(value(&s, "ticketpulse_full_resolution_time_seconds_sum", &d), 288_000.0, "calendar time includes the pause");
    assert_eq!(value(&s, "ticketpulse_sla_breached", &t("first_response")), 1.0);
    // P2's resolution is still paused (on hold): running 0, paused 1.
    let c = cur("normal", "other", "standard", "resolution");
    assert_eq!((value(&s, "ticketpulse_sla_running_targets", &c), value(&s, "ticketpulse_sla_paused_targets", &c)), (0.0, 1.0));
}

#[test]
fn reopened_ticket_continues_resolution_and_is_measured_again() {
    // vip-urgent resolution 4 h: solved after 3 h (met); reopened at 5 h with 1 h left, so
    // due at 6 h: breached by the timer; solved at 7 h after 5 business hours in all.
    let s = run(
        &[
            ev("R1", "2026-02-02T00:00:00Z", &created("vip", "urgent")),
            ev("R1", "2026-02-02T00:05:00Z", REPLY),
            ev("R1", "2026-02-02T03:00:00Z", &status("solved")),
            ev("R1", "2026-02-02T05:00:00Z", &status("open")),
            ev("R1", "2026-02-02T07:00:00Z", &status("solved")),
        ],
        "2026-02-02T08:00:00Z",
    );
    let r = win("urgent", "vip", "vip-urgent", "resolution");
    assert_eq!(value(&s, "ticketpulse_sla_met", &r), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_breached", &r), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_compliance_ratio", &r), 0.5);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &r), (3.0 + 5.0) * 3600.0);
}

#[test]
fn raised_priority_rematches_the_policy_and_keeps_the_start() {
    let s = run(
        &[
            // vip/normal → standard (8 h). Raised to urgent at 10 min → vip-urgent (15 min
            // from creation): breached at 15 min; the 8 h timer is stale.
            ev("V1", "2026-02-02T00:00:00Z", &created("vip", "normal")),
            ev("V1", "2026-02-02T00:10:00Z", r#""type":"ticket_updated","priority":"urgent""#),
            ev("V1", "2026-02-02T00:20:00Z", REPLY),
            // Raised at 20 min, when 15 min had already passed: due at once.
            ev("V2", "2026-02-02T00:00:00Z", &created("vip", "normal")),
            ev("V2", "2026-02-02T00:20:00Z", r#""type":"ticket_updated","priority":"urgent""#),
            ev("V2", "2026-02-02T00:30:00Z", REPLY),
        ],
        "2026-02-02T09:00:00Z",
    );
    let fr = win("urgent", "vip", "vip-urgent", "first_response");
    assert_eq!(value(&s, "ticketpulse_sla_breached", &fr), 2.0);
    assert_eq!(value(&s, "ticketpulse_sla_met", &fr), 0.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &fr), 1200.0 + 1800.0);
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_sla_breached{") && k.contains(r#"policy="standard""#)), "{s:?}");
}

#[test]
fn next_reply_measures_each_cycle_from_its_oldest_unanswered_message() {
    let s = run(
        &[
            ev("N1", "2026-02-02T00:00:00Z", &created("vip", "urgent")),
            ev("N1", "2026-02-02T00:05:00Z", REPLY),
            // Cycle 1: waits from 00:10 (not 00:20); answered at 00:35 → 25 min, met (30 min).
            ev("N1", "2026-02-02T00:10:00Z", CUSTOMER),
            ev("N1", "2026-02-02T00:20:00Z", CUSTOMER),
            ev("N1", "2026-02-02T00:35:00Z", REPLY),
            // Cycle 2: from 00:40, due 01:10, breached; answered at 01:20 → 40 min.
            ev("N1", "2026-02-02T00:40:00Z", CUSTOMER),
            ev("N1", "2026-02-02T00:50:00Z", CUSTOMER),
            ev("N1", "2026-02-02T01:20:00Z", REPLY),
        ],
        "2026-02-02T02:00:00Z",
    );
    let nr = win("urgent", "vip", "vip-urgent", "next_reply");
    assert_eq!(value(&s, "ticketpulse_sla_met", &nr), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_breached", &nr), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &nr), 1500.0 + 2400.0);
    let d = [("window", "24h"), ("channel", "email"), ("priority", "urgent"), ("team", "vip")];
    assert_eq!(value(&s, "ticketpulse_next_reply_time_seconds_count", &d), 2.0);
    assert_eq!(value(&s, "ticketpulse_next_reply_time_seconds_sum", &d), 3900.0);
}

/// An engine fed message by message, read like the live service.
struct Live {
    engine: Arc<Engine>,
    registry: exporter::Metrics,
}

impl Live {
    fn new(config: &Config, clock: Option<WallClock>) -> Self {
        let telemetry = Arc::new(Telemetry::default());
        let engine = Arc::new(Engine::new(Rules::new(config).unwrap(), Arc::clone(&telemetry)));
        let registry = exporter::Metrics::new(Arc::clone(&engine), exporter::ExportRules::new(config), telemetry, clock);
        Self { engine, registry }
    }

    fn send(&self, line: &str, now: Option<Millis>) {
        self.engine.handle(&("t".into(), 0), line.as_bytes(), now, &"test").unwrap();
    }

    fn scrape(&self) -> BTreeMap<String, f64> {
        parse_exposition(&exporter::scrape(&self.registry))
    }
}

#[test]
fn a_reply_behind_the_watermark_after_the_breach_stays_breached() {
    let live = Live::new(&config(), None);
    let fr = || win("urgent", "vip", "vip-urgent", "first_response");
    let open = || cur("urgent", "vip", "vip-urgent", "first_response");
    live.send(&ev("K1", "2026-02-02T00:00:00Z", &created("vip", "urgent")), None);
    // Stream time 00:15:05 passes the 00:15 deadline: the current gauge shows the breach at
    // once; the watermark (00:14:55) has not passed it, so it is not counted yet.
    live.send(&ev("other", "2026-02-02T00:15:05Z", &created("none", "low")), None);
    let s = live.scrape();
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &open()), 1.0);
    assert!(!s.contains_key(&common::key("ticketpulse_sla_breached", &fr())));
    // The watermark passes the deadline: counted.
    live.send(&ev("other", "2026-02-02T00:30:00Z", REPLY), None);
    assert_eq!(value(&live.scrape(), "ticketpulse_sla_breached", &fr()), 1.0);
    // A reply dated 00:14 arrives now, behind the watermark: late, still breached.
    live.send(&ev("K1", "2026-02-02T00:14:00Z", REPLY), None);
    let s = live.scrape();
    assert_eq!(value(&s, "ticketpulse_sla_breached", &fr()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_met", &fr()), 0.0);
    // The overdue work is done: no first-response target of that series is open any more.
    assert!(!s.contains_key(&common::key("ticketpulse_sla_breached_open_tickets", &open())));
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "late")]), 1.0);

    // The same reply arriving within the allowed lateness is in time: met.
    let live = Live::new(&config(), None);
    live.send(&ev("K2", "2026-02-02T00:00:00Z", &created("vip", "urgent")), None);
    live.send(&ev("other", "2026-02-02T00:15:05Z", &created("none", "low")), None);
    live.send(&ev("K2", "2026-02-02T00:14:59Z", REPLY), None);
    live.send(&ev("other", "2026-02-02T00:30:00Z", REPLY), None);
    let s = live.scrape();
    assert_eq!((value(&s, "ticketpulse_sla_met", &fr()), value(&s, "ticketpulse_sla_breached", &fr())), (1.0, 0.0));
}

#[tokio::test(start_paused = true)]
async fn live_breach_is_declared_at_the_deadline_with_no_further_events() {
    let start = ms("2026-02-02T00:00:00Z");
    let clock = WallClock::starting_at(start);
    let live = Live::new(&config(), Some(clock));
    live.send(&ev("Z1", "2026-02-02T00:00:00Z", &created("vip", "urgent")), Some(clock.now()));
    let open = || cur("urgent", "vip", "vip-urgent", "first_response");
    let fr = || win("urgent", "vip", "vip-urgent", "first_response");
    // The idle tick of the live service, every 250 ms.
    let tick = |live: &Live| live.engine.advance_idle(clock.now());

    tokio::time::advance(Duration::from_millis(15 * 60_000 - 1)).await;
    tick(&live);
    let s = live.scrape();
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &open()), 0.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(open(), "horizon", "15m")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &open()), 0.001);

    // 1 ms after the deadline, with no event since creation: declared.
    tokio::time::advance(Duration::from_millis(2)).await;
    tick(&live);
    let s = live.scrape();
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &open()), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &open()), 0.0);
    // Counted in the windows once the watermark (wall clock − 10 s lateness) passes it.
    assert!(!s.contains_key(&common::key("ticketpulse_sla_breached", &fr())));
    let mut waited = Duration::ZERO;
    while !live.scrape().contains_key(&common::key("ticketpulse_sla_breached", &fr())) {
        tokio::time::advance(Duration::from_millis(250)).await;
        waited += Duration::from_millis(250);
        tick(&live);
    }
    // The watermark passes the deadline at wall time deadline + 10.001 s: 40 ticks after
    // the deadline + 1 ms.
    assert_eq!(waited, Duration::from_millis(10_000));
    assert_eq!(value(&live.scrape(), "ticketpulse_sla_breached", &fr()), 1.0);
}

#[test]
fn tickets_no_policy_matches_are_counted() {
    let mut config = config();
    config.sla.policies.retain(|p| p.name == "vip-urgent");
    let live = Live::new(&config, None);
    live.send(&ev("U1", "2026-02-02T00:00:00Z", &created("emea", "normal")), None);
    live.send(&ev("U2", "2026-02-02T00:00:00Z", &created("vip", "urgent")), None);
    live.engine.finish(None);
    let s = live.scrape();
    let d = [("channel", "email"), ("priority", "normal"), ("team", "emea")];
    assert_eq!(value(&s, "ticketpulse_sla_unmatched_open_tickets", &d), 1.0);
    assert_eq!(s.keys().filter(|k| k.starts_with("ticketpulse_sla_unmatched_open_tickets{")).count(), 1);
}

#[test]
fn check_config_names_the_bad_sla_field() {
    let cases = [
        ("[[sla.policies]]\nname = \"a\"\ncalendar = \"emae\"\n", "sla.policies[0].calendar"),
        ("[sla.calendars.x]\ntime_zone = \"Europe/Bucharestt\"\nmonday = [\"09:00-17:00\"]\n", "sla.calendars.x.time_zone"),
        ("[sla.calendars.x]\ntime_zone = \"UTC\"\nmonday = [\"09:00-13:00\", \"12:00-17:00\"]\n", "sla.calendars.x.monday[1]"),
        ("[sla.calendars.x]\ntime_zone = \"UTC\"\nfriday = [\"17:00-09:00\"]\n", "sla.calendars.x.friday[0]"),
    ];
    for (toml, field) in cases {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse")).arg("check-config").arg(file.path()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(field), "{toml}: {stderr}");
    }
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["check-config", EXAMPLE]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

/// A week of mixed policies (tests/data/sla_scenario.jsonl, 26 events in arrival order) ending
/// with a tick at 2026-02-04T18:00Z.
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sla_scenario.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_service_through_a_real_broker_shows_what_replay_shows() {
    let text = std::fs::read_to_string(SCENARIO).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let expected = replay(&config(), text.as_bytes(), End::AsLive).unwrap();
    let s = parse_exposition(&expected);
    // S6 (vip-urgent, 15 min) breached at 10:15; its reply dated 10:14 arrived behind the
    // watermark and only records its 14 min.
    let s6 = vec![("window", "24h"), ("channel", "chat"), ("priority", "urgent"), ("team", "vip"), ("policy", "vip-urgent")];
    assert_eq!(value(&s, "ticketpulse_sla_breached", &with(s6.clone(), "target", "first_response")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &with(s6, "target", "first_response")), 840.0);
    // S1 (emea, 16 h): Monday 16:30-17:00, Tuesday 7 h, Wednesday 09:00-11:00: met in 9.5 h.
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &win("normal", "emea", "emea-business", "resolution")), 34_200.0);
    // S2 (us, 24 h): 15 min before pending, Tuesday 10:00-17:00, Wednesday 09:00-12:00.
    let s2 = vec![("window", "24h"), ("channel", "chat"), ("priority", "normal"), ("team", "us"), ("policy", "us-business")];
    assert_eq!(value(&s, "ticketpulse_sla_met", &with(s2.clone(), "target", "resolution")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &with(s2, "target", "resolution")), 36_900.0);
    // Current, at 18:00 (stream time): S7's first response (8 h from 10:30) is due in 30 min.
    let s7 = vec![("channel", "web"), ("priority", "normal"), ("team", "none"), ("policy", "standard"), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_next_deadline_seconds", &s7), 1800.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(s7.clone(), "horizon", "1h")), 1.0);
    assert_eq!(value(&s, "ticketpulse_sla_at_risk_targets", &with(s7, "horizon", "15m")), 0.0);
    let s5 = [("channel", "phone"), ("priority", "high"), ("team", "none"), ("policy", "standard"), ("target", "resolution")];
    assert_eq!(value(&s, "ticketpulse_sla_paused_targets", &s5), 1.0);
    let s4 = [("channel", "web"), ("priority", "low"), ("team", "none"), ("policy", "standard"), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &s4), 1.0);

    let broker = common::Broker::start();
    let topic = "sla-scenario";
    common::create_topics(&broker.bootstrap, &[(topic, 1), ("sla-scenario-dlq", 1)]).await;
    common::produce(&broker.bootstrap, topic, &lines).await;
    let mut live = common::config(&broker.bootstrap, topic);
    let example = config();
    (live.sla, live.dimensions) = (example.sla, example.dimensions);
    let running = ticketpulse::service::start(live).await.unwrap();
    let text = common::scrape_until(running.http_addr, |s| common::total_events(s) == 26.0).await;
    common::assert_same_kpis(&text, &expected);
    assert_eq!(common::promtool_check_metrics(&text), "");
    running.shutdown().await.unwrap();
}
