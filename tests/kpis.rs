//! The KPI catalogue (surveys, first-contact resolution, reopen and resolution rates, real-time
//! service level, handle time, messages, topics, backlog age, cost, sentiment) through
//! `ticketpulse replay`.
//!
//! tests/data/kpi_scenario.jsonl, times relative to B = 2026-01-05T09:00Z, replayed to B+5h
//! with tests/data/kpis.toml (top 2 topics, cost 100 per hour, stale after 4h):
//! - C1 chat/normal `login`: replies at 15 s and 90 s, a customer message at 60 s (sentiment
//!   −0.5), 100 s of work, solved at 120 s; CSAT 5 (sent twice), NPS 10, and a CSAT 0.
//! - C2 chat/normal `login` at 1m: reply after 25 s, 200 s of work, solved; CSAT 3, CES 6.
//! - C3 chat/normal `refund` at 2m: abandoned after 5 s (short), closed.
//! - C4 chat/normal `billing` at 3m: abandoned after 45 s, closed.
//! - C5 phone/high `refund` at 4m: reply after 30 s, customer message (sentiment 0.4), 300 s of
//!   work, solved at 6m, reopened at 7m, solved at 8m; NPS 6.
//! - E1 email/normal, no topic, at 10m: reply at 40m, pending, customer message at 1h: open.
//! - X9: a CSAT 4 for a ticket never seen. E3 email/normal `bug`: a CSAT 2 at 2h, before its
//!   creation at 2h10m; reply at 2h15m, solved at 2h30m. E2 email/normal `login` at 4h30m: open.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use common::{additive, fleet, parse_exposition, promtool_check_metrics, value};
use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter::{write_text, ExportRules};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn replay(config: &str, input: &str, end_time: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ticketpulse"));
    cmd.args(["replay", "--config", config]);
    if let Some(end) = end_time {
        cmd.args(["--end-time", end]);
    }
    let out = cmd.arg(input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn scenario() -> BTreeMap<String, f64> {
    let text = replay(&format!("{DATA}/kpis.toml"), &format!("{DATA}/kpi_scenario.jsonl"), Some("2026-01-05T14:00:00Z"));
    parse_exposition(&text)
}

type Labels = Vec<(&'static str, &'static str)>;

fn d24(channel: &'static str, priority: &'static str) -> Labels {
    vec![("window", "24h"), ("channel", channel), ("priority", priority)]
}

fn and(mut labels: Labels, name: &'static str, value: &'static str) -> Labels {
    labels.push((name, value));
    labels
}

#[test]
fn surveys_csat_ces_nps_with_unknown_tickets_and_out_of_scale_scores() {
    let s = scenario();
    let v = |name: &str, labels: &Labels| value(&s, name, labels);
    let chat = d24("chat", "normal");
    let survey = |labels: &Labels, survey: &'static str, rating: &'static str| and(and(labels.clone(), "survey", survey), "rating", rating);
    // CSAT chat: C1 5 (the redelivery counts once) is good, C2 3 is bad.
    assert_eq!(v("ticketpulse_survey_responses", &survey(&chat, "csat", "good")), 1.0);
    assert_eq!(v("ticketpulse_survey_responses", &survey(&chat, "csat", "bad")), 1.0);
    assert_eq!(v("ticketpulse_csat_ratio", &chat), 0.5);
    assert_eq!(v("ticketpulse_survey_score_mean", &and(chat.clone(), "survey", "csat")), 4.0);
    // CES: C2 6 is easy (from 5).
    assert_eq!(v("ticketpulse_survey_responses", &survey(&chat, "ces", "easy")), 1.0);
    assert_eq!(v("ticketpulse_survey_responses", &survey(&chat, "ces", "not_easy")), 0.0);
    assert_eq!(v("ticketpulse_ces_easy_ratio", &chat), 1.0);
    assert_eq!(v("ticketpulse_survey_score_mean", &and(chat.clone(), "survey", "ces")), 6.0);
    // NPS: C1 10 is a promoter (+100); C5 6 a detractor (−100).
    assert_eq!(v("ticketpulse_survey_responses", &survey(&chat, "nps", "promoter")), 1.0);
    assert_eq!(v("ticketpulse_nps_score", &chat), 100.0);
    let phone = d24("phone", "high");
    assert_eq!(v("ticketpulse_survey_responses", &survey(&phone, "nps", "detractor")), 1.0);
    assert_eq!(v("ticketpulse_survey_responses", &survey(&phone, "nps", "passive")), 0.0);
    assert_eq!(v("ticketpulse_nps_score", &phone), -100.0);
    // X9 (never seen) and E3's survey sent before its creation: channel and priority unknown.
    let unknown = d24("unknown", "unknown");
    assert_eq!(v("ticketpulse_survey_responses", &survey(&unknown, "csat", "good")), 1.0);
    assert_eq!(v("ticketpulse_survey_responses", &survey(&unknown, "csat", "bad")), 1.0);
    assert_eq!(v("ticketpulse_survey_score_mean", &and(unknown, "survey", "csat")), 3.0);
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_survey_responses{window=\"24h\",channel=\"email\"")));
    // The CSAT 0 is outside 1..=5: rejected with its reason, and nothing else is.
    assert_eq!(v("ticketpulse_invalid_events_total", &vec![("reason", "out_of_range")]), 1.0);
    assert_eq!(v("ticketpulse_events_total", &vec![("type", "survey_response"), ("result", "invalid")]), 1.0);
    assert_eq!(v("ticketpulse_events_total", &vec![("type", "survey_response"), ("result", "duplicate")]), 1.0);
    assert_eq!(v("ticketpulse_events_total", &vec![("type", "survey_response"), ("result", "ok")]), 7.0);
}

#[test]
fn first_contact_resolution_reopen_and_resolution_rates() {
    let s = scenario();
    let v = |name: &str, labels: &Labels| value(&s, name, labels);
    let chat = d24("chat", "normal");
    let replies = |labels: &Labels, n: &'static str| and(labels.clone(), "agent_replies", n);
    // Chat first solves: C3 and C4 (closed unanswered) zero-touch, C2 one-touch, C1 two replies.
    assert_eq!(v("ticketpulse_first_solved_tickets", &replies(&chat, "0")), 2.0);
    assert_eq!(v("ticketpulse_first_solved_tickets", &replies(&chat, "1")), 1.0);
    assert_eq!(v("ticketpulse_first_solved_tickets", &replies(&chat, "2+")), 1.0);
    assert_eq!(v("ticketpulse_first_contact_resolution_ratio", &chat), 0.5);
    assert_eq!(v("ticketpulse_tickets_solved", &chat), 4.0);
    assert_eq!(v("ticketpulse_resolution_ratio", &chat), 1.0);
    assert_eq!(v("ticketpulse_reopen_ratio", &chat), 0.0);
    // C5: one-touch at its first solve; reopened once, solved twice.
    let phone = d24("phone", "high");
    assert_eq!(v("ticketpulse_first_contact_resolution_ratio", &phone), 1.0);
    assert_eq!(v("ticketpulse_tickets_solved", &phone), 2.0);
    assert_eq!(v("ticketpulse_reopen_ratio", &phone), 0.5);
    // Email: 3 created, only E3 solved (one-touch).
    let email = d24("email", "normal");
    assert_eq!(v("ticketpulse_resolution_ratio", &email), 1.0 / 3.0);
    assert_eq!(v("ticketpulse_first_contact_resolution_ratio", &email), 1.0);
}

#[test]
fn realtime_service_level_speed_of_answer_and_abandons_by_wait() {
    let s = scenario();
    let v = |name: &str, labels: &Labels| value(&s, name, labels);
    let chat = d24("chat", "normal");
    // Chat (20 s): C1 answered in 15 s (within), C2 in 25 s; C4 abandoned after 45 s counts in
    // the denominator, C3's 5 s short abandon does not: 1 / (2 + 1).
    assert_eq!(v("ticketpulse_realtime_answered_contacts", &chat), 2.0);
    assert_eq!(v("ticketpulse_realtime_answered_within_threshold_contacts", &chat), 1.0);
    assert_eq!(v("ticketpulse_service_level_ratio", &chat), 1.0 / 3.0);
    assert_eq!(v("ticketpulse_average_speed_of_answer_seconds", &chat), 20.0);
    let by_wait = |wait: &'static str| and(chat.clone(), "wait", wait);
    assert_eq!(v("ticketpulse_abandoned_contacts_by_wait", &by_wait("0s-10s")), 1.0);
    assert_eq!(v("ticketpulse_abandoned_contacts_by_wait", &by_wait("10s-30s")), 0.0);
    assert_eq!(v("ticketpulse_abandoned_contacts_by_wait", &by_wait("30s-1m")), 1.0);
    assert_eq!(v("ticketpulse_abandoned_contacts_by_wait", &by_wait("5m+")), 0.0);
    // Phone (30 s): C5 answered at exactly 30 s is within.
    let phone = d24("phone", "high");
    assert_eq!(v("ticketpulse_service_level_ratio", &phone), 1.0);
    assert_eq!(v("ticketpulse_average_speed_of_answer_seconds", &phone), 30.0);
    // Email is not a real-time channel.
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_service_level_ratio{window=\"24h\",channel=\"email\"")));
}

#[test]
fn handle_time_messages_sentiment_and_cost() {
    let s = scenario();
    let v = |name: &str, labels: &Labels| value(&s, name, labels);
    let chat = d24("chat", "normal");
    let phone = d24("phone", "high");
    // Work: chat 100 + 200 s over 4 solves; phone 300 s over 2 solves.
    assert_eq!(v("ticketpulse_logged_work_seconds", &chat), 300.0);
    assert_eq!(v("ticketpulse_average_handle_time_seconds", &chat), 75.0);
    assert_eq!(v("ticketpulse_average_handle_time_seconds", &phone), 150.0);
    // Public messages: chat 1 in (C1) and 3 out (C1 ×2, C2); email 1 in, 2 out.
    assert_eq!(v("ticketpulse_messages", &and(chat.clone(), "direction", "inbound")), 1.0);
    assert_eq!(v("ticketpulse_messages", &and(chat.clone(), "direction", "outbound")), 3.0);
    let email = d24("email", "normal");
    assert_eq!(v("ticketpulse_messages", &and(email.clone(), "direction", "inbound")), 1.0);
    assert_eq!(v("ticketpulse_messages", &and(email.clone(), "direction", "outbound")), 2.0);
    // Sentiment: −0.5 (negative, below −0.3) on chat, 0.4 on phone; none on email.
    assert_eq!(v("ticketpulse_customer_sentiment_mean", &chat), -0.5);
    assert_eq!(v("ticketpulse_negative_sentiment_ratio", &chat), 1.0);
    assert_eq!(v("ticketpulse_customer_sentiment_messages", &phone), 1.0);
    assert_eq!(v("ticketpulse_negative_sentiment_ratio", &phone), 0.0);
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_customer_sentiment_mean{window=\"24h\",channel=\"email\"")));
    // Cost: 100 per hour × 24 h = 2400 over 7 solves and 8 tickets created. In the last hour:
    // 100 over E2 alone, and no solve, so no cost per resolution.
    assert_eq!(v("ticketpulse_cost_per_resolution", &vec![("window", "24h")]), 2400.0 / 7.0);
    assert_eq!(v("ticketpulse_cost_per_contact", &vec![("window", "24h")]), 300.0);
    assert_eq!(v("ticketpulse_cost_per_contact", &vec![("window", "1h")]), 100.0);
    assert!(!s.contains_key("ticketpulse_cost_per_resolution{window=\"1h\"}"));
}

#[test]
fn topics_backlog_by_age_and_stale_tickets() {
    let s = scenario();
    let v = |name: &str, labels: &Labels| value(&s, name, labels);
    let topic = |window: &'static str, topic: &'static str| vec![("window", window), ("topic", topic)];
    // 24h: login 3 (C1, C2, E2), refund 2 (C3, C5) are the top 2; billing and bug are other;
    // E1 has no topic.
    let in_24h: Vec<&String> = s.keys().filter(|k| k.starts_with("ticketpulse_tickets_created_by_topic{window=\"24h\"")).collect();
    assert_eq!(in_24h.len(), 4, "{in_24h:?}");
    assert_eq!(v("ticketpulse_tickets_created_by_topic", &topic("24h", "login")), 3.0);
    assert_eq!(v("ticketpulse_tickets_created_by_topic", &topic("24h", "refund")), 2.0);
    assert_eq!(v("ticketpulse_tickets_created_by_topic", &topic("24h", "other")), 2.0);
    assert_eq!(v("ticketpulse_tickets_created_by_topic", &topic("24h", "none")), 1.0);
    // The last hour holds E2 only.
    let in_1h: Vec<&String> = s.keys().filter(|k| k.starts_with("ticketpulse_tickets_created_by_topic{window=\"1h\"")).collect();
    assert_eq!(in_1h, ["ticketpulse_tickets_created_by_topic{window=\"1h\",topic=\"login\"}"]);
    // At B+5h: E1 is 4h50m old (4h-24h, stale after 4h), E2 30m (0s-1h).
    let age = |age: &'static str| vec![("channel", "email"), ("priority", "normal"), ("age", age)];
    assert_eq!(v("ticketpulse_backlog_tickets", &age("0s-1h")), 1.0);
    assert_eq!(v("ticketpulse_backlog_tickets", &age("1h-4h")), 0.0);
    assert_eq!(v("ticketpulse_backlog_tickets", &age("4h-24h")), 1.0);
    assert_eq!(v("ticketpulse_backlog_tickets", &age("72h+")), 0.0);
    assert_eq!(v("ticketpulse_stale_open_tickets", &vec![("channel", "email"), ("priority", "normal")]), 1.0);
    assert!(!s.keys().any(|k| k.starts_with("ticketpulse_backlog_tickets{channel=\"chat\"")));
}

#[test]
fn scenario_exposition_is_promtool_clean() {
    let text = replay(&format!("{DATA}/kpis.toml"), &format!("{DATA}/kpi_scenario.jsonl"), Some("2026-01-05T14:00:00Z"));
    assert_eq!(promtool_check_metrics(&text), "");
}

/// 3000 tickets, one a second: every even one has one of 3 hot topics, every odd one a topic
/// never seen before. The label set stays at the 3 hot topics plus `other`, and the counts
/// stay exact: each hot topic is tracked in every slice before the slice fills up.
#[test]
fn a_flood_of_random_topics_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flood.jsonl");
    let hot = ["login", "refund", "invoice"];
    let lines: Vec<String> = (0..3000)
        .map(|i| {
            let topic = if i % 2 == 0 { hot[i % 3].to_string() } else { format!("random-{i}") };
            let at = 1_767_603_600_000_i64 + i as i64 * 1000;
            format!(r#"{{"event_id":"e{i}","ticket_id":"t{i}","type":"ticket_created","at":{at},"channel":"email","topic":"{topic}"}}"#)
        })
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let config = dir.path().join("topics.toml");
    std::fs::write(&config, "[kpis.topics]\ntop = 3\nmax_tracked_per_slice = 50\n").unwrap();
    let s = parse_exposition(&replay(config.to_str().unwrap(), input.to_str().unwrap(), None));
    let topics: BTreeMap<&str, f64> = s
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("ticketpulse_tickets_created_by_topic{window=\"24h\",topic=\"").map(|t| (t, *v)))
        .collect();
    // i ≡ 0 (mod 6) → login, 2 → invoice, 4 → refund: 500 each.
    assert_eq!(topics, BTreeMap::from([("invoice\"}", 500.0), ("login\"}", 500.0), ("other\"}", 1500.0), ("refund\"}", 500.0)]));
    assert_eq!(s.keys().filter(|k| k.starts_with("ticketpulse_tickets_created_by_topic")).count(), 12, "4 topics × 3 windows");
}

/// A generated day: every catalogue KPI is present, and the rates land where the generator's
/// distributions put them.
#[test]
fn a_generated_day_shows_every_kpi_with_plausible_values() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("day.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["generate", "--count", "30000", "--seed", "11", "--rate", "150", "--start", "2026-01-05T00:00:00Z", "--out"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = dir.path().join("cost.toml");
    std::fs::write(&config, "[kpis.cost]\nper_hour = 1400.0\n").unwrap();
    let text = replay(config.to_str().unwrap(), input.to_str().unwrap(), None);
    assert_eq!(promtool_check_metrics(&text), "");
    let s = parse_exposition(&text);
    // Sums over every 24h series of a family (with the given extra label).
    let total = |name: &str, extra: &str| -> f64 {
        s.iter().filter(|(k, _)| k.starts_with(&format!("{name}{{window=\"24h\"")) && k.contains(extra)).map(|(_, v)| v).sum()
    };
    let share = |survey: &str, rating: &str| {
        total("ticketpulse_survey_responses", &format!("survey=\"{survey}\",rating=\"{rating}\""))
            / total("ticketpulse_survey_responses", &format!("survey=\"{survey}\""))
    };
    // CSAT scores are drawn from [5,5,5,4,4,3,2,1]: 5/8 good. CES from [7,6,6,5,5,4,3,2]: 5/8
    // easy. NPS uniform on 0..=10: 2/11 promoters − 7/11 detractors = −45.
    let csat = share("csat", "good");
    let ces = share("ces", "easy");
    let nps = 100.0 * (share("nps", "promoter") - share("nps", "detractor"));
    assert!((0.55..0.70).contains(&csat), "csat {csat}");
    assert!((0.55..0.70).contains(&ces), "ces {ces}");
    assert!((-60.0..-30.0).contains(&nps), "nps {nps}");
    let fcr = total("ticketpulse_first_solved_tickets", "agent_replies=\"1\"")
        / (total("ticketpulse_first_solved_tickets", "agent_replies=\"1\"")
            + total("ticketpulse_first_solved_tickets", "agent_replies=\"2+\""));
    assert!((0.2..0.6).contains(&fcr), "fcr {fcr}");
    let reopen = total("ticketpulse_tickets_reopened", "") / total("ticketpulse_tickets_solved", "");
    assert!((0.01..0.1).contains(&reopen), "reopen {reopen}");
    let service_level = total("ticketpulse_realtime_answered_within_threshold_contacts", "channel=\"chat\"")
        / (total("ticketpulse_realtime_answered_contacts", "channel=\"chat\"")
            + total("ticketpulse_abandoned_contacts", "channel=\"chat\""));
    assert!((0.2..0.7).contains(&service_level), "chat service level {service_level}");
    let aht = total("ticketpulse_logged_work_seconds", "") / total("ticketpulse_tickets_solved", "");
    assert!((300.0..700.0).contains(&aht), "aht {aht}");
    let inbound = total("ticketpulse_messages", "direction=\"inbound\"");
    let outbound = total("ticketpulse_messages", "direction=\"outbound\"");
    assert!(inbound > 0.0 && outbound > inbound, "messages in {inbound} out {outbound}");
    assert!(total("ticketpulse_customer_sentiment_messages", "") > 0.0, "sentiment is reported");
    // Every family of the catalogue has at least one series.
    for family in [
        "ticketpulse_resolution_ratio",
        "ticketpulse_reopen_ratio",
        "ticketpulse_first_contact_resolution_ratio",
        "ticketpulse_service_level_ratio",
        "ticketpulse_average_speed_of_answer_seconds",
        "ticketpulse_abandoned_contacts_by_wait",
        "ticketpulse_survey_score_mean",
        "ticketpulse_csat_ratio",
        "ticketpulse_ces_easy_ratio",
        "ticketpulse_nps_score",
        "ticketpulse_average_handle_time_seconds",
        "ticketpulse_customer_sentiment_mean",
        "ticketpulse_negative_sentiment_ratio",
        "ticketpulse_tickets_created_by_topic",
        "ticketpulse_backlog_tickets",
        "ticketpulse_stale_open_tickets",
        "ticketpulse_cost_per_resolution",
        "ticketpulse_cost_per_contact",
    ] {
        assert!(s.keys().any(|k| k.starts_with(&format!("{family}{{"))), "{family} has no series");
    }
    // The generator's 6 topics are all under the default top 20.
    let topics = s.keys().filter(|k| k.starts_with("ticketpulse_tickets_created_by_topic{window=\"24h\"")).count();
    assert_eq!(topics, 6);
}

/// Two engines holding two partitions each show, combined as every family declares
/// (`ticketpulse::exporter::across`), exactly what one engine holding all four shows: the rule
/// tests/faults.rs and tests/partitions.rs apply to instances of a fleet, checked in process.
#[test]
fn engines_holding_part_of_the_partitions_combine_into_one_as_each_family_declares() {
    let mut config = Config::default();
    // Every agent and topic with a label of its own, so each engine reports the same labels.
    config.kpis.agents.enabled = true;
    config.kpis.agents.top = 50;
    let engine = || Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let (one, a, b) = (engine(), engine(), engine());
    let options = GeneratorOptions { seed: 5, tickets_per_hour: 90.0, start: 1_767_571_200_000 };
    for g in Generator::new(options).take(30_000) {
        let p = g.ticket_id.bytes().map(i32::from).sum::<i32>() % 4;
        let partition = ("tickets".to_string(), p);
        for engine in [&one, if p < 2 { &a } else { &b }] {
            engine.handle(&partition, g.payload.as_bytes(), None, &"test").expect("generated events are valid");
        }
    }
    let rules = ExportRules::new(&config);
    let text = |engine: &Engine| write_text(&engine.view(None), &rules, &Telemetry::default());
    // Thousandths: every duration is whole milliseconds, so sums compare exactly in any order.
    let thousandths = |v: f64| (v * 1000.0).round() as i64;
    let expected: BTreeMap<String, i64> = additive(&text(&one)).into_iter().map(|(k, v)| (k, thousandths(v))).collect();
    let combined = fleet(&[text(&a), text(&b)], thousandths);
    let differing: Vec<_> =
        expected.iter().filter(|(k, e)| combined.get(*k) != Some(e)).map(|(k, e)| (k, combined.get(k), e)).take(10).collect();
    assert!(differing.is_empty(), "a + b differs from one engine: {differing:?}");
    assert_eq!(combined.len(), expected.len());
    for family in [
        "ticketpulse_first_response_time_seconds_count",
        "ticketpulse_first_response_time_max_seconds",
        "ticketpulse_oldest_unanswered_message_age_seconds",
        "ticketpulse_sla_next_deadline_seconds",
        "ticketpulse_agent_replies",
        "ticketpulse_tickets_created_by_topic",
    ] {
        assert!(expected.keys().any(|k| k.starts_with(family)), "{family} is compared");
    }
}

/// A team change to an unlisted team is `other`; to `""` (the help desk unassigned the group,
/// what the intake sends then) the ticket has no team (`none`), and a team-bound policy lets it
/// go. Teams billing; policy "vip-billing" (team billing, first response 10m), then "normal".
/// A, B, C created at 10:00 in billing; at 10:01 A moves to "sales", B to "", C's update names
/// no team. At 10:05: billing 1 (C), other 1 (A), none 1 (B); only C is still under
/// vip-billing, so vip-billing first response running 1 and normal running 2.
#[test]
fn a_team_change_to_an_unlisted_or_empty_team_moves_the_ticket_out_of_its_team() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        r#"
[dimensions]
labels = ["team"]
teams = ["billing"]

[[sla.policies]]
name = "vip-billing"
team = ["billing"]
first_response = "10m"

[[sla.policies]]
name = "normal"
first_response = "1h"
"#,
    )
    .unwrap();
    let input = dir.path().join("e.jsonl");
    let created = |id: &str| {
        format!(
            r#"{{"event_id":"c{id}","ticket_id":"{id}","type":"ticket_created","at":"2026-01-05T10:00:00Z","channel":"email","team":"billing"}}"#
        )
    };
    let updated = |id: &str, team: &str| {
        format!(r#"{{"event_id":"u{id}","ticket_id":"{id}","type":"ticket_updated","at":"2026-01-05T10:01:00Z"{team}}}"#)
    };
    let lines = [
        created("A"),
        created("B"),
        created("C"),
        updated("A", r#","team":"sales""#),
        updated("B", r#","team":"""#),
        updated("C", r#","priority":"high""#),
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let s = parse_exposition(&replay(config.to_str().unwrap(), input.to_str().unwrap(), Some("2026-01-05T10:05:00Z")));
    let open = |team| value(&s, "ticketpulse_open_tickets", &[("team", team), ("status", "new")]);
    assert_eq!((open("billing"), open("other"), open("none")), (1.0, 1.0, 1.0));
    let running = |team, policy| {
        s.get(&common::key("ticketpulse_sla_running_targets", &[("team", team), ("policy", policy), ("target", "first_response")])).copied()
    };
    assert_eq!(
        (running("billing", "vip-billing"), running("other", "normal"), running("none", "normal")),
        (Some(1.0), Some(1.0), Some(1.0))
    );
}
