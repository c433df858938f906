//! Per-agent KPIs (`kpis.agents`) through `ticketpulse replay`.
//!
//! tests/data/agent_scenario.jsonl, three agents (ana, ben, cy) and replies without an
//! `agent_id`, replayed to 10:00 (B = 2026-01-05T09:00Z):
//! - T1 chat at 09:00: ana replies 09:01 (first response 60 s), the customer writes, ben
//!   replies 09:03; ana logs 100 s; solved 09:05 (ben replied last); CSAT 5 (good, ben).
//! - T2 email at 09:10: ben replies 09:15 (first response 300 s), 09:20 and 09:25; ben logs
//!   200 s; solved 09:30 (ben); CSAT 2 (bad, ben).
//! - T3 email at 09:20: cy replies 09:22 (first response 120 s); ana's private note is no
//!   reply; cy logs 50 s and someone unnamed 30 s; ana replies 09:26; solved 09:30 (ana);
//!   CSAT 4 (good, ana).
//! - T4 web at 09:30: a reply without `agent_id` 09:31 (first response 60 s); solved 09:35
//!   (nobody named); CSAT 3 (bad, nobody named); the customer writes, reopened, cy replies
//!   09:45, ana logs 40 s, solved 09:50 (cy).
//!
//! Per agent: ben 4 replies + 1 work entry = activity 5; ana 2 + 2 = 4; cy 2 + 1 = 3.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{parse_exposition, promtool_check_metrics};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn replay_with(config_toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agents.toml");
    std::fs::write(&config, config_toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--end-time", "2026-01-05T10:00:00Z", &format!("{DATA}/agent_scenario.jsonl")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// One agent's row: replies, first responses, their total seconds, solves, logged work
/// seconds, CSAT responses, good CSAT responses.
type Row = (f64, f64, f64, f64, f64, f64, f64);

/// Every `agent` row of a window, read from the six families.
fn rows(text: &str, window: &str) -> BTreeMap<String, Row> {
    let s = parse_exposition(text);
    let get = |family: &str, agent: &str| {
        let key = format!("{family}{{window=\"{window}\",agent=\"{agent}\"}}");
        *s.get(&key).unwrap_or_else(|| panic!("no series {key}"))
    };
    let prefix = format!("ticketpulse_agent_replies{{window=\"{window}\",agent=\"");
    let agents: Vec<String> =
        s.keys().filter_map(|k| k.strip_prefix(&prefix)).map(|rest| rest.trim_end_matches("\"}").to_string()).collect();
    agents
        .into_iter()
        .map(|a| {
            let row = (
                get("ticketpulse_agent_replies", &a),
                get("ticketpulse_agent_first_response_time_seconds_count", &a),
                get("ticketpulse_agent_first_response_time_seconds_sum", &a),
                get("ticketpulse_agent_tickets_solved", &a),
                get("ticketpulse_agent_logged_work_seconds", &a),
                get("ticketpulse_agent_csat_responses", &a),
                get("ticketpulse_agent_csat_good_responses", &a),
            );
            (a, row)
        })
        .collect()
}

const ANA: Row = (2.0, 1.0, 60.0, 1.0, 140.0, 1.0, 1.0);
const BEN: Row = (4.0, 1.0, 300.0, 2.0, 200.0, 2.0, 1.0);
const CY: Row = (2.0, 1.0, 120.0, 1.0, 50.0, 0.0, 0.0);
const NONE: Row = (1.0, 1.0, 60.0, 1.0, 30.0, 1.0, 0.0);

fn expect(rows: &[(&str, Row)]) -> BTreeMap<String, Row> {
    rows.iter().map(|(a, r)| (a.to_string(), *r)).collect()
}

#[test]
fn top_two_agents_by_activity_and_the_rest_as_other() {
    let text = replay_with("[kpis.agents]\nenabled = true\ntop = 2\n");
    // ben (5) and ana (4) are the top 2; cy (3) is other; unnamed facts are none.
    let expected = expect(&[("ana", ANA), ("ben", BEN), ("none", NONE), ("other", CY)]);
    assert_eq!(rows(&text, "24h"), expected);
    // Every fact is from 09:01 on: the 1h window at 10:00 holds them all, the 5m window none.
    assert_eq!(rows(&text, "1h"), expected);
    // The 5m window holds no fact: the two chosen agents are there with zeros, none and
    // other are not (they are reported only with a fact).
    let zero: Row = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    assert_eq!(rows(&text, "5m"), expect(&[("ana", zero), ("ben", zero)]));
    // Per-agent figures add up to the fleet-wide ones: 9 public agent messages, 5 solves,
    // 420 s of work; CSAT: ben 1 of 2 good, ana 1 of 1.
    let s = parse_exposition(&text);
    let total =
        |family: &str| -> f64 { s.iter().filter(|(k, _)| k.starts_with(&format!("{family}{{window=\"24h\""))).map(|(_, v)| v).sum() };
    let outbound: f64 =
        s.iter().filter(|(k, _)| k.starts_with("ticketpulse_messages{window=\"24h\"") && k.contains("outbound")).map(|(_, v)| v).sum();
    assert_eq!((total("ticketpulse_agent_replies"), outbound), (9.0, 9.0));
    assert_eq!((total("ticketpulse_agent_tickets_solved"), total("ticketpulse_tickets_solved")), (5.0, 5.0));
    assert_eq!((total("ticketpulse_agent_logged_work_seconds"), total("ticketpulse_logged_work_seconds")), (420.0, 420.0));
    let (ben, ana) = (&rows(&text, "24h")["ben"], &rows(&text, "24h")["ana"]);
    assert_eq!((ben.6 / ben.5, ana.6 / ana.5), (0.5, 1.0));
    // (Two windows × four rows + two rows of 5m) × six families (the summary as _sum and _count).
    let sla = |k: &&String| k.starts_with("ticketpulse_agent_sla_");
    assert_eq!(s.keys().filter(|k| k.starts_with("ticketpulse_agent_") && !sla(k)).count(), (2 * 4 + 2) * 7);
    // SLA (policy `normal`, every target met): first responses ana T1, ben T2, cy T3, none
    // T4; next replies ben T1, cy T4; resolutions ben T1 and T2, ana T3, none T4 (nobody
    // had replied by name before its first solve), cy T4 after the reopen. cy is `other`.
    let met: BTreeMap<&str, f64> =
        s.iter().filter_map(|(k, v)| k.strip_prefix("ticketpulse_agent_sla_met{window=\"24h\",agent=\"").map(|rest| (rest, *v))).collect();
    let expected_met = BTreeMap::from([
        (r#"ana",policy="normal",target="first_response"}"#, 1.0),
        (r#"ana",policy="normal",target="resolution"}"#, 1.0),
        (r#"ben",policy="normal",target="first_response"}"#, 1.0),
        (r#"ben",policy="normal",target="next_reply"}"#, 1.0),
        (r#"ben",policy="normal",target="resolution"}"#, 2.0),
        (r#"none",policy="normal",target="first_response"}"#, 1.0),
        (r#"none",policy="normal",target="resolution"}"#, 1.0),
        (r#"other",policy="normal",target="first_response"}"#, 1.0),
        (r#"other",policy="normal",target="next_reply"}"#, 1.0),
        (r#"other",policy="normal",target="resolution"}"#, 1.0),
    ]);
    assert_eq!(met, expected_met);
    // Met and breached (all 0) for those ten, in the 24h and 1h windows; none in 5m.
    assert_eq!(s.keys().filter(sla).count(), 10 * 2 * 2);
    assert_eq!(s.iter().filter(|(k, _)| sla(k) && k.contains("_breached{")).map(|(_, v)| v).sum::<f64>(), 0.0);
    assert_eq!(promtool_check_metrics(&text), "");
}

#[test]
fn an_allow_list_names_exactly_its_agents() {
    let text = replay_with("[kpis.agents]\nenabled = true\nallow = [\"ana\", \"cy\"]\n");
    assert_eq!(rows(&text, "24h"), expect(&[("ana", ANA), ("cy", CY), ("none", NONE), ("other", BEN)]));
    assert_eq!(promtool_check_metrics(&text), "");
}

#[test]
fn off_by_default_no_agent_series_at_all() {
    let text = replay_with("");
    assert!(!text.contains("ticketpulse_agent_"), "{text}");
    // The same facts are in the fleet-wide families.
    assert!(text.contains("ticketpulse_logged_work_seconds{window=\"24h\",channel=\"email\",priority=\"normal\"} 280"), "{text}");
}

/// 2000 replies, each by an agent never seen before, on one ticket: the label set stays at
/// `none` and `other` (top 1 picks the single most active, and every id has one reply) plus
/// that one, and the counts stay exact through the per-slice bound.
#[test]
fn a_flood_of_random_agent_ids_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("flood.jsonl");
    let start = 1_767_603_600_000_i64; // 09:00
    let mut lines = vec![format!(r#"{{"event_id":"c","ticket_id":"t","type":"ticket_created","at":{start},"channel":"chat"}}"#)];
    lines.extend((1..=2000).map(|i| {
        let at = start + i * 1000;
        format!(r#"{{"event_id":"e{i}","ticket_id":"t","type":"message","at":{at},"author":"agent","agent_id":"random-{i}"}}"#)
    }));
    std::fs::write(&input, lines.join("\n")).unwrap();
    let config = dir.path().join("agents.toml");
    std::fs::write(&config, "[kpis.agents]\nenabled = true\ntop = 1\nmax_tracked_per_slice = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["replay", "--config"]).arg(&config).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let replies: BTreeMap<&str, f64> =
        s.iter().filter_map(|(k, v)| k.strip_prefix("ticketpulse_agent_replies{window=\"24h\",agent=\"").map(|a| (a, *v))).collect();
    // All tie at one reply; the first by id is random-1. The first responder is random-1 too.
    assert_eq!(replies, BTreeMap::from([("other\"}", 1999.0), ("random-1\"}", 1.0)]));
    assert_eq!(s["ticketpulse_agent_first_response_time_seconds_sum{window=\"24h\",agent=\"random-1\"}"], 1.0);
}

/// SLA outcomes per agent (policy `p`: first response 10m, next reply 10m; team a dimension),
/// three chat tickets created 09:00 by team `t`, replayed to 10:00:
/// - T1: a1 replies 09:05 (first response met, a1).
/// - T2: a1 replies 09:08 (first response met, a1).
/// - T3: no reply by 09:10 (first response breached, no agent yet: `none`); a2 replies 09:12
///   (late: no outcome), the customer writes 09:13, nobody answers by 09:23 (next reply
///   breached, credited to a2, the last agent who replied before that deadline).
#[test]
fn sla_outcomes_are_credited_to_the_fulfilling_or_last_replying_agent() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sla.jsonl");
    let at = |minute: i64| 1_767_603_600_000_i64 + minute * 60_000; // 09:00 + minutes
    let mut lines: Vec<String> = ["T1", "T2", "T3"]
        .iter()
        .map(|t| format!(r#"{{"event_id":"{t}-c","ticket_id":"{t}","type":"ticket_created","at":{},"channel":"chat","team":"t"}}"#, at(0)))
        .collect();
    let reply = |t: &str, minute: i64, agent: &str| {
        format!(
            r#"{{"event_id":"{t}-{minute}","ticket_id":"{t}","type":"message","at":{},"author":"agent","agent_id":"{agent}"}}"#,
            at(minute)
        )
    };
    lines.extend([reply("T1", 5, "a1"), reply("T2", 8, "a1"), reply("T3", 12, "a2")]);
    lines.push(format!(r#"{{"event_id":"T3-13","ticket_id":"T3","type":"message","at":{},"author":"customer"}}"#, at(13)));
    std::fs::write(&input, lines.join("\n")).unwrap();
    let config = dir.path().join("sla.toml");
    std::fs::write(
        &config,
        "[dimensions]\nlabels = [\"channel\", \"team\"]\nteams = [\"t\"]\n[kpis.agents]\nenabled = true\n\
         [[sla.policies]]\nname = \"p\"\nfirst_response = \"10m\"\nnext_reply = \"10m\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
        .args(["replay", "--config"])
        .arg(&config)
        .args(["--end-time", "2026-01-05T10:00:00Z"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let s = parse_exposition(&text);
    let sla: BTreeMap<&str, f64> = s
        .iter()
        .filter(|(k, _)| k.starts_with("ticketpulse_agent_sla_") && k.contains("window=\"1h\""))
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    let expected = BTreeMap::from([
        (r#"ticketpulse_agent_sla_breached{window="1h",agent="a1",policy="p",target="first_response"}"#, 0.0),
        (r#"ticketpulse_agent_sla_breached{window="1h",agent="a2",policy="p",target="next_reply"}"#, 1.0),
        (r#"ticketpulse_agent_sla_breached{window="1h",agent="none",policy="p",target="first_response"}"#, 1.0),
        (r#"ticketpulse_agent_sla_met{window="1h",agent="a1",policy="p",target="first_response"}"#, 2.0),
        (r#"ticketpulse_agent_sla_met{window="1h",agent="a2",policy="p",target="next_reply"}"#, 0.0),
        (r#"ticketpulse_agent_sla_met{window="1h",agent="none",policy="p",target="first_response"}"#, 0.0),
    ]);
    assert_eq!(sla, expected);
    // Per team: the fleet-wide SLA families carry `team` when it is a dimension, and the
    // per-agent ones add up to them.
    let team =
        |family: &str, target: &str| s[&format!("{family}{{window=\"1h\",channel=\"chat\",team=\"t\",policy=\"p\",target=\"{target}\"}}")];
    assert_eq!((team("ticketpulse_sla_met", "first_response"), team("ticketpulse_sla_breached", "first_response")), (2.0, 1.0));
    assert_eq!((team("ticketpulse_sla_met", "next_reply"), team("ticketpulse_sla_breached", "next_reply")), (0.0, 1.0));
    assert_eq!(promtool_check_metrics(&text), "");
}
