//! `ticketpulse replay` on a hand-built scenario (tests/data/scenario.jsonl, times relative to
//! B = 2026-01-05T09:00Z, end time B+5h), asserting hand-derived values.

mod common;

use std::process::Command;

use common::{assert_within_1pct, parse_exposition, value};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/scenario.jsonl");

fn replay_cli(extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "--end-time", "2026-01-05T14:00:00Z"])
        .args(extra)
        .arg(SCENARIO)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn scenario_kpis_match_hand_derived_values() {
    let text = replay_cli(&[]);
    let s = parse_exposition(&text);
    let d24 = |channel: &'static str, priority: &'static str| [("window", "24h"), ("channel", channel), ("priority", priority)];
    let email = d24("email", "normal");
    let v = |name: &str, labels: &[(&str, &str)]| value(&s, name, labels);

    // Volume: A, B (channel "Email" lower-cased), C on email/normal; F, G, H on chat/normal.
    assert_eq!(v("ticketpulse_tickets_created", &email), 3.0);
    assert_eq!(v("ticketpulse_tickets_created", &d24("chat", "normal")), 3.0);
    assert_eq!(v("ticketpulse_tickets_created", &d24("chat", "urgent")), 1.0);
    assert_eq!(v("ticketpulse_tickets_created", &d24("phone", "high")), 1.0);

    // FRT email/normal: A 1800 s (bot and private note ignored, redelivery ignored), B 600 s,
    // C 3600 s. p50 and p90 both sit at rank floor(q × 2) = 1 → 1800 s.
    assert_eq!(v("ticketpulse_first_response_time_seconds_count", &email), 3.0);
    assert_eq!(v("ticketpulse_first_response_time_seconds_sum", &email), 6000.0);
    assert_eq!(v("ticketpulse_first_response_time_max_seconds", &email), 3600.0);
    let q = |q: &'static str| [("window", "24h"), ("channel", "email"), ("priority", "normal"), ("quantile", q)];
    assert_within_1pct(v("ticketpulse_first_response_time_seconds", &q("0.5")), 1800.0);
    assert_within_1pct(v("ticketpulse_first_response_time_seconds", &q("0.9")), 1800.0);
    // H's reply arrived before its creation (within the lateness): FRT 5 s.
    assert_eq!(v("ticketpulse_first_response_time_seconds_sum", &d24("chat", "normal")), 5.0);
    // D's reply came 40 min after creation, 10 min after the breach.
    assert_eq!(v("ticketpulse_first_response_time_seconds_sum", &d24("chat", "urgent")), 2400.0);

    // Resolution: A solved at 2 h, reopened at 3 h, solved again at 4 h.
    assert_eq!(v("ticketpulse_first_resolution_time_seconds_count", &email), 1.0);
    assert_eq!(v("ticketpulse_first_resolution_time_seconds_sum", &email), 7200.0);
    assert_eq!(v("ticketpulse_full_resolution_time_seconds_count", &email), 2.0);
    assert_eq!(v("ticketpulse_full_resolution_time_seconds_sum", &email), 21600.0);
    assert_eq!(v("ticketpulse_full_resolution_time_max_seconds", &email), 14400.0);
    assert_eq!(v("ticketpulse_tickets_reopened", &email), 1.0);
    // F and G closed without solve: solved at close time, 6 s and 61 s.
    assert_eq!(v("ticketpulse_first_resolution_time_seconds_sum", &d24("chat", "normal")), 67.0);

    // Abandonment chat/normal: G after 60 s counts, F after 5 s is short; ratio 1 / 3 created.
    assert_eq!(v("ticketpulse_abandoned_contacts", &d24("chat", "normal")), 1.0);
    assert_eq!(v("ticketpulse_short_abandoned_contacts", &d24("chat", "normal")), 1.0);
    assert_eq!(v("ticketpulse_abandonment_ratio", &d24("chat", "normal")), 1.0 / 3.0);

    // SLA: email/normal first response met ×3; resolution met ×2 (A at 2 h, and again after
    // its reopen at 3 h total: 2 h before the reopen + 1 h after, within 72 h). D (urgent, 30 min)
    // breached at 1:30 by timer and stays breached after the 1:40 reply; E (high, 2 h) breached
    // at 4:00 with no reply at all.
    // The default policies are named after the priority they match.
    let t = |labels: [(&'static str, &'static str); 3], target: &'static str| {
        let mut l = labels.to_vec();
        l.push(("policy", labels[2].1));
        l.push(("target", target));
        l
    };
    assert_eq!(v("ticketpulse_sla_met", &t(email, "first_response")), 3.0);
    assert_eq!(v("ticketpulse_sla_met", &t(email, "resolution")), 2.0);
    assert_eq!(v("ticketpulse_sla_business_time_seconds_sum", &t(email, "resolution")), 7200.0 + 10800.0);
    assert_eq!(v("ticketpulse_sla_compliance_ratio", &t(email, "first_response")), 1.0);
    assert_eq!(v("ticketpulse_sla_breached", &t(d24("chat", "urgent"), "first_response")), 1.0);
    assert_eq!(v("ticketpulse_sla_met", &t(d24("chat", "urgent"), "first_response")), 0.0);
    assert_eq!(v("ticketpulse_sla_compliance_ratio", &t(d24("chat", "urgent"), "first_response")), 0.0);
    assert_eq!(v("ticketpulse_sla_breached", &t(d24("phone", "high"), "first_response")), 1.0);
    // F and G were closed after their abandons, which had ended the contacts: resolution is
    // neither met nor breached (docs/sla.md#abandoned-contacts).
    for outcome in ["ticketpulse_sla_met", "ticketpulse_sla_breached"] {
        assert!(!s.contains_key(&common::key(outcome, &t(d24("chat", "normal"), "resolution"))), "{outcome}");
    }
    assert!(!s.contains_key(
        r#"ticketpulse_sla_compliance_ratio{window="24h",channel="phone",priority="high",policy="high",target="resolution"}"#
    ));

    // Current gauges: only E is breached and still unanswered.
    let breached: Vec<_> = s.iter().filter(|(k, v)| k.starts_with("ticketpulse_sla_breached_open_tickets") && **v > 0.0).collect();
    assert_eq!(
        breached,
        [(
            &r#"ticketpulse_sla_breached_open_tickets{channel="phone",priority="high",policy="high",target="first_response"}"#.to_string(),
            &1.0
        )]
    );
    // At 14:00: C's resolution runs (due 9:10 + 72 h, in 67 h 10 min), B's is paused
    // (pending). D's resolution is due at 18:00: not at risk within 1 h.
    let current = |c: &'static str, p: &'static str, target| [("channel", c), ("priority", p), ("policy", p), ("target", target)];
    assert_eq!(v("ticketpulse_sla_running_targets", &current("email", "normal", "resolution")), 1.0);
    assert_eq!(v("ticketpulse_sla_paused_targets", &current("email", "normal", "resolution")), 1.0);
    assert_eq!(v("ticketpulse_sla_next_deadline_seconds", &current("email", "normal", "resolution")), 241_800.0);
    assert_eq!(v("ticketpulse_sla_next_deadline_seconds", &current("chat", "urgent", "resolution")), 14_400.0);
    let mut at_risk = current("chat", "urgent", "resolution").to_vec();
    at_risk.push(("horizon", "1h"));
    assert_eq!(v("ticketpulse_sla_at_risk_targets", &at_risk), 0.0);
    // B's customer message at 10:00 (after the agent's 9:15 reply) and E's creation at 11:00
    // are unanswered.
    let age = |c, p| value(&s, "ticketpulse_oldest_unanswered_message_age_seconds", &[("channel", c), ("priority", p)]);
    assert_eq!(age("email", "normal"), 14_400.0);
    assert_eq!(age("phone", "high"), 10_800.0);
    assert_eq!(s.keys().filter(|k| k.starts_with("ticketpulse_oldest_unanswered_message_age_seconds{")).count(), 2);
    let open = |c, p, st| value(&s, "ticketpulse_open_tickets", &[("channel", c), ("priority", p), ("status", st)]);
    assert_eq!(open("email", "normal", "new"), 1.0); // C
    assert_eq!(open("email", "normal", "pending"), 1.0); // B
    assert_eq!(open("chat", "urgent", "new"), 1.0); // D
    assert_eq!(open("phone", "high", "new"), 1.0); // E
    assert_eq!(open("chat", "normal", "new"), 1.0); // H
    assert_eq!(s.keys().filter(|k| k.starts_with("ticketpulse_open_tickets{")).count(), 5);

    // Windows at T = 14:00: the 1h window starts 13:01, the 5m window 13:55:05.
    let w = |window, channel, priority| [("window", window), ("channel", channel), ("priority", priority)];
    assert_eq!(v("ticketpulse_tickets_created", &w("1h", "chat", "normal")), 3.0);
    assert_eq!(v("ticketpulse_tickets_created", &w("5m", "chat", "normal")), 1.0); // H only
    assert_eq!(v("ticketpulse_abandoned_contacts", &w("5m", "chat", "normal")), 1.0); // G at 13:56
    assert_eq!(v("ticketpulse_abandonment_ratio", &w("5m", "chat", "normal")), 1.0);
    assert!(!s.keys().any(|k| k.contains(r#"window="1h",channel="phone""#)), "E's breach at 13:00 is outside the 1h window");

    // Self-metrics: 27 lines = 8 + 7 + 6 + 2 ok, 1 duplicate, 1 late, 2 invalid.
    let events = |t, r| value(&s, "ticketpulse_events_total", &[("type", t), ("result", r)]);
    assert_eq!(events("ticket_created", "ok"), 8.0);
    assert_eq!(events("message", "ok"), 7.0);
    assert_eq!(events("message", "duplicate"), 1.0);
    assert_eq!(events("message", "late"), 1.0);
    assert_eq!(events("status_changed", "ok"), 6.0);
    assert_eq!(events("contact_abandoned", "ok"), 2.0);
    assert_eq!(events("unknown", "invalid"), 2.0);
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "not_json")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "unknown_type")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &[("topic", "replay"), ("partition", "0")]), 1_767_621_600.0);
}

#[test]
fn replay_is_byte_identical_and_promtool_clean() {
    let first = replay_cli(&[]);
    assert_eq!(first, replay_cli(&[]));
    assert_eq!(common::promtool_check_metrics(&first), "");
}

#[test]
fn replay_reads_stdin_and_uses_the_newest_event_time_by_default() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(SCENARIO).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    let s = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    // Newest event time is H's reply at 13:58:05.
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &[("topic", "replay"), ("partition", "0")]), 1_767_621_485.0);
}

fn replay_lines(config: &ticketpulse::config::Config, input: &str) -> String {
    ticketpulse::replay::replay(config, std::io::Cursor::new(input), ticketpulse::replay::End::Flush(None)).unwrap()
}

fn created_with_topic(n: usize, topic: Option<&str>) -> String {
    let topic = topic.map(|t| format!(r#","topic":"{t}""#)).unwrap_or_default();
    format!(r#"{{"event_id":"c{n}","ticket_id":"T{n}","type":"ticket_created","at":"2026-01-05T09:00:{n:02}Z","channel":"email"{topic}}}"#)
}

#[test]
fn topics_named_like_a_reserved_label_count_as_other_and_never_collide() {
    let mut config = ticketpulse::config::Config::default();
    config.kpis.topics.top = 2;
    // billing ×3, a real topic "other" ×2, refund ×1, a real topic "none" ×1, no topic ×1.
    let topics = [Some("billing"), Some("other"), Some("billing"), Some("refund"), Some("other"), Some("none"), None, Some("billing")];
    let lines: Vec<String> = topics.iter().enumerate().map(|(n, t)| created_with_topic(n, *t)).collect();
    let text = replay_lines(&config, &lines.join("\n"));
    let s = parse_exposition(&text);
    // The top 2 real topics are billing and refund; "other" is the two real "other"s and the
    // real "none"; "none" is only the ticket without a topic.
    let topic = |t| value(&s, "ticketpulse_tickets_created_by_topic", &[("window", "24h"), ("topic", t)]);
    assert_eq!((topic("billing"), topic("refund"), topic("other"), topic("none")), (3.0, 1.0, 3.0, 1.0));
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("ticketpulse_tickets_created_by_topic{window=\"24h\"")).collect();
    assert_eq!(series.len(), 4, "one series per label: {series:?}");
    assert_eq!(common::promtool_check_metrics(&text), "");
}

#[test]
fn an_oversized_line_is_rejected_and_skipped_to_the_next_newline() {
    let mut config = ticketpulse::config::Config::default();
    config.events.max_message_bytes = 1024;
    let big = "x".repeat(200_000);
    // A valid line, a 200 kB line, a valid line, then 200 kB without a final newline.
    let input = format!("{}\n{big}\n{}\n{{\"pad\":\"{big}", created_with_topic(1, None), created_with_topic(2, None));
    let s = parse_exposition(&replay_lines(&config, &input));
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "oversized")]), 2.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "ok")]), 2.0);
    assert_eq!(value(&s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")]), 2.0);
}
