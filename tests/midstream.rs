//! Tickets first seen mid-stream (issue 26 §1): their `ticket_created` was never read, so they
//! carry `channel="unknown"`, `priority="unknown"`. What needs no creation time is counted
//! (solves, reopens, messages, work, surveys, sentiment, abandons, per-agent replies, solves,
//! work and CSAT, cost per resolution); what needs it is not (volume, first response and real-time
//! answers, next reply, first and full resolution time, first-contact resolution, the current
//! gauges and SLA). docs/metrics.md "Tickets first seen mid-stream" has the table this checks.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{parse_exposition, promtool_check_metrics};

const CONFIG: &str = "[kpis.agents]\nenabled = true\nallow = [\"a1\", \"a2\"]\n\n[kpis.cost]\nper_hour = 1200\n";

fn replay(events: &str, end: &str) -> (String, BTreeMap<String, f64>) {
    let dir = tempfile::tempdir().unwrap();
    let (config, input) = (dir.path().join("c.toml"), dir.path().join("e.jsonl"));
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(&input, events).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--end-time", end])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(promtool_check_metrics(&text), "");
    let series = parse_exposition(&text);
    (text, series)
}

const UNKNOWN_1H: &str = "window=\"1h\",channel=\"unknown\",priority=\"unknown\"";

/// The value of `name{window="1h",channel="unknown",priority="unknown"<extra>}`, if present.
fn unknown(s: &BTreeMap<String, f64>, name: &str, extra: &str) -> Option<f64> {
    s.get(&format!("{name}{{{UNKNOWN_1H}{extra}}}")).copied()
}

fn agent(s: &BTreeMap<String, f64>, name: &str, agent: &str) -> Option<f64> {
    s.get(&format!("{name}{{window=\"1h\",agent=\"{agent}\"}}")).copied()
}

/// Families that need the creation time: no series at all for a ticket never created.
const NEED_CREATION: [&str; 10] = [
    "ticketpulse_first_response_time_seconds_count",
    "ticketpulse_first_response_time_max_seconds",
    "ticketpulse_next_reply_time_seconds_count",
    "ticketpulse_first_resolution_time_seconds_count",
    "ticketpulse_full_resolution_time_seconds_count",
    "ticketpulse_full_resolution_time_max_seconds",
    "ticketpulse_resolution_ratio",
    "ticketpulse_first_contact_resolution_ratio",
    "ticketpulse_realtime_answered_contacts",
    "ticketpulse_abandonment_ratio",
];

/// The current gauges: a ticket never created is in none of them.
const CURRENT: [&str; 6] = [
    "ticketpulse_open_tickets{",
    "ticketpulse_backlog_tickets{",
    "ticketpulse_sla_running_targets{",
    "ticketpulse_sla_breached_open_tickets{",
    "ticketpulse_oldest_unanswered_message_age_seconds{",
    "ticketpulse_stale_open_tickets{",
];

fn sum_of(s: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    s.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

/// The issue's minimal case, verbatim with its configuration and end time.
#[test]
fn the_issues_case_counts_the_solve_and_credits_a1() {
    let events = r#"{"event_id":"1","ticket_id":"X","type":"message","at":"2026-01-05T10:00:00Z","author":"agent","public":true,"agent_id":"a1"}
{"event_id":"2","ticket_id":"X","type":"work_logged","at":"2026-01-05T10:00:30Z","seconds":600,"agent_id":"a1"}
{"event_id":"3","ticket_id":"X","type":"status_changed","at":"2026-01-05T10:01:00Z","status":"solved"}
{"event_id":"4","ticket_id":"X","type":"status_changed","at":"2026-01-05T10:02:00Z","status":"open"}
"#;
    let (_, s) = replay(events, "2026-01-05T10:03:00Z");
    // One solve (10:01) and one reopen (10:02), both within the 1h window at 10:03.
    assert_eq!(unknown(&s, "ticketpulse_tickets_solved", ""), Some(1.0));
    assert_eq!(unknown(&s, "ticketpulse_tickets_reopened", ""), Some(1.0));
    // 1 reopen / 1 solve; 600 s of work / 1 solve.
    assert_eq!(unknown(&s, "ticketpulse_reopen_ratio", ""), Some(1.0));
    assert_eq!(unknown(&s, "ticketpulse_logged_work_seconds", ""), Some(600.0));
    assert_eq!(unknown(&s, "ticketpulse_average_handle_time_seconds", ""), Some(600.0));
    assert_eq!(unknown(&s, "ticketpulse_messages", ",direction=\"outbound\""), Some(1.0));
    // a1 replied last before the solve: the solve is a1's; a1 replied once and logged 600 s.
    assert_eq!(agent(&s, "ticketpulse_agent_tickets_solved", "a1"), Some(1.0));
    assert_eq!(agent(&s, "ticketpulse_agent_replies", "a1"), Some(1.0));
    assert_eq!(agent(&s, "ticketpulse_agent_logged_work_seconds", "a1"), Some(600.0));
    // No first response: the ticket's creation is not known.
    assert_eq!(agent(&s, "ticketpulse_agent_first_response_time_seconds_count", "a1"), Some(0.0));
    // a2, allow-listed, did nothing: a row of zeros (every allow-listed agent in every window).
    assert_eq!(agent(&s, "ticketpulse_agent_tickets_solved", "a2"), Some(0.0));
    assert_eq!(agent(&s, "ticketpulse_agent_replies", "a2"), Some(0.0));
    // Cost per resolution: 1200 per hour × window hours / 1 solve: 1h 1200, 5m 100, 24h 28 800.
    // No ticket created: no cost per contact.
    assert_eq!(s.get("ticketpulse_cost_per_resolution{window=\"1h\"}"), Some(&1200.0));
    assert_eq!(s.get("ticketpulse_cost_per_resolution{window=\"5m\"}"), Some(&100.0));
    assert_eq!(s.get("ticketpulse_cost_per_resolution{window=\"24h\"}"), Some(&28_800.0));
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_cost_per_contact")));
    // Not created: volume 0, no duration of any kind, in no current gauge.
    assert_eq!(unknown(&s, "ticketpulse_tickets_created", ""), Some(0.0));
    for name in NEED_CREATION {
        assert!(!s.keys().any(|k| k.starts_with(&format!("{name}{{"))), "{name}");
    }
    for prefix in CURRENT {
        assert_eq!(sum_of(&s, prefix), 0.0, "{prefix}");
    }
}

/// Every other KPI with tickets first seen mid-stream: Y (a conversation, surveys, closed)
/// and Z (only an abandon), B = 2026-01-05T10:00Z, read at 10:05.
#[test]
fn every_kpi_of_a_ticket_first_seen_mid_stream() {
    let events = r#"{"event_id":"y1","ticket_id":"Y","type":"message","at":"2026-01-05T10:00:00Z","author":"customer","public":true,"sentiment":-0.5}
{"event_id":"y2","ticket_id":"Y","type":"message","at":"2026-01-05T10:01:00Z","author":"agent","public":true,"agent_id":"a2"}
{"event_id":"z1","ticket_id":"Z","type":"contact_abandoned","at":"2026-01-05T10:01:30Z"}
{"event_id":"y3","ticket_id":"Y","type":"survey_response","at":"2026-01-05T10:02:00Z","survey":"csat","score":5}
{"event_id":"y4","ticket_id":"Y","type":"survey_response","at":"2026-01-05T10:02:10Z","survey":"ces","score":6}
{"event_id":"y5","ticket_id":"Y","type":"survey_response","at":"2026-01-05T10:02:20Z","survey":"nps","score":10}
{"event_id":"y6","ticket_id":"Y","type":"status_changed","at":"2026-01-05T10:02:30Z","status":"closed"}
{"event_id":"y7","ticket_id":"Y","type":"work_logged","at":"2026-01-05T10:03:00Z","seconds":120,"agent_id":"a1"}
"#;
    let (text, s) = replay(events, "2026-01-05T10:05:00Z");
    let u = |name: &str, extra: &str| unknown(&s, name, extra);
    // Volume: nothing created.
    assert_eq!(u("ticketpulse_tickets_created", ""), Some(0.0));
    // Messages: y1 inbound, y2 outbound; y1's sentiment −0.5 is below the −0.3 default.
    assert_eq!(u("ticketpulse_messages", ",direction=\"inbound\""), Some(1.0));
    assert_eq!(u("ticketpulse_messages", ",direction=\"outbound\""), Some(1.0));
    assert_eq!(u("ticketpulse_customer_sentiment_messages", ""), Some(1.0));
    assert_eq!(u("ticketpulse_customer_sentiment_mean", ""), Some(-0.5));
    assert_eq!(u("ticketpulse_negative_sentiment_ratio", ""), Some(1.0));
    // Surveys: CSAT 5 good (from 4), CES 6 easy (from 5), NPS 10 a promoter: 100 × (1 − 0) / 1.
    assert_eq!(u("ticketpulse_survey_responses", ",survey=\"csat\",rating=\"good\""), Some(1.0));
    assert_eq!(u("ticketpulse_csat_ratio", ""), Some(1.0));
    assert_eq!(u("ticketpulse_ces_easy_ratio", ""), Some(1.0));
    assert_eq!(u("ticketpulse_nps_score", ""), Some(100.0));
    assert_eq!(u("ticketpulse_survey_score_mean", ",survey=\"ces\""), Some(6.0));
    // The close is a solve (closed without solved counts as solved); work 120 s / 1 solve.
    assert_eq!(u("ticketpulse_tickets_solved", ""), Some(1.0));
    assert_eq!(u("ticketpulse_tickets_reopened", ""), Some(0.0));
    assert_eq!(u("ticketpulse_reopen_ratio", ""), Some(0.0));
    assert_eq!(u("ticketpulse_logged_work_seconds", ""), Some(120.0));
    assert_eq!(u("ticketpulse_average_handle_time_seconds", ""), Some(120.0));
    // Z: an abandon with no public agent message seen; its wait is not known, so it is never
    // short, in no wait bucket, and (channel unknown) not a real-time contact.
    assert_eq!(u("ticketpulse_abandoned_contacts", ""), Some(1.0));
    assert_eq!(u("ticketpulse_short_abandoned_contacts", ""), Some(0.0));
    assert!(!text.contains("ticketpulse_abandoned_contacts_by_wait{"), "no wait bucket");
    assert!(!text.contains("ticketpulse_service_level_ratio{"), "not real-time");
    // y2 is a reply, not a first response (the creation is not known) nor a next reply (the
    // reply before it, if any, is not known either); y6 no first solve, so no first solves by
    // replies.
    for name in NEED_CREATION {
        assert!(!s.keys().any(|k| k.starts_with(&format!("{name}{{"))), "{name}");
    }
    assert!(!text.contains("ticketpulse_first_solved_tickets{"));
    // Per agent: a2 replied last before the close, so the solve and the CSAT are a2's; a1
    // logged the 120 s.
    assert_eq!(agent(&s, "ticketpulse_agent_replies", "a2"), Some(1.0));
    assert_eq!(agent(&s, "ticketpulse_agent_first_response_time_seconds_count", "a2"), Some(0.0));
    assert_eq!(agent(&s, "ticketpulse_agent_tickets_solved", "a2"), Some(1.0));
    assert_eq!(agent(&s, "ticketpulse_agent_csat_good_responses", "a2"), Some(1.0));
    assert_eq!(agent(&s, "ticketpulse_agent_logged_work_seconds", "a1"), Some(120.0));
    // Cost per resolution over the 1h window: 1200 × 1 / 1 solve.
    assert_eq!(s.get("ticketpulse_cost_per_resolution{window=\"1h\"}"), Some(&1200.0));
    // Neither is open: in no current gauge, no SLA outcome.
    for prefix in CURRENT {
        assert_eq!(sum_of(&s, prefix), 0.0, "{prefix}");
    }
    assert!(!text.contains("ticketpulse_sla_met{") && !text.contains("ticketpulse_sla_breached{"));
}
