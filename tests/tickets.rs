//! The tickets behind a number: `GET /api/v1/tickets` and the `/tickets` page of a real
//! service (an in-process engine without Kafka behind the real HTTP server on loopback).
//! A hand-built scenario checks classification, order, fields, filters and errors exactly; a
//! generated one checks that the API's counts equal the gauges' series for every key at the
//! same instant; a real headless Chromium renders the page.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_get, key, parse_exposition};
use serde_json::{json, Value};
use ticketpulse::base::{Millis, PartitionId};
use ticketpulse::clock::WallClock;
use ticketpulse::config::{Config, Dimension};
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter;
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;
use ticketpulse::service::{spawn_http, Listeners};
use ticketpulse::ticket_api::{Api, Query};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const START: Millis = 1_767_600_000_000; // 2026-01-05T08:00:00Z
const MINUTE: Millis = 60_000;

const SCRIPT_ID: &str = "<script>alert('x&y')</script>";
const TICKET_URL: &str = "https://help.example.com/agent/tickets/{ticket_id}";

/// The default configuration without the `low` policy, so low-priority tickets have no SLA.
fn config() -> Config {
    let mut config = Config::default();
    config.sla.policies.retain(|p| p.name != "low");
    config.ui.ticket_url = Some(TICKET_URL.into());
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config
}

fn at(minutes: i64, seconds: i64) -> Millis {
    START + minutes * MINUTE + seconds * 1000
}

fn created(id: &str, at: Millis, channel: &str, priority: &str) -> String {
    json!({"event_id": format!("{id}/c"), "ticket_id": id, "type": "ticket_created", "at": at, "channel": channel, "priority": priority})
        .to_string()
}

fn reply(id: &str, at: Millis, agent_id: &str) -> String {
    json!({"event_id": format!("{id}/r"), "ticket_id": id, "type": "message", "at": at, "author": "agent", "public": true, "agent_id": agent_id})
        .to_string()
}

fn status(id: &str, at: Millis, status: &str) -> String {
    json!({"event_id": format!("{id}/s"), "ticket_id": id, "type": "status_changed", "at": at, "status": status}).to_string()
}

fn partition(n: i32) -> PartitionId {
    ("tickets".to_string(), n)
}

/// Two partitions, times in minutes:seconds after 08:00 (policies urgent: first response 30m,
/// resolution 8h; high: 2h, 24h; normal: 8h, 72h; low: none).
///
/// Partition 0, stream time 08:35:05, so the watermark is 08:34:55:
/// - A-1 urgent email at 00:00 and SCRIPT_ID urgent chat at 01:00: first response due 08:30 and
///   08:31, timers fired: breached (305 s and 245 s overdue);
/// - F-6 urgent email at 05:00: due 08:35, past stream time but not the watermark: breached
///   as the gauge reads it, 5 s overdue;
/// - B-2 urgent web at 12:00: due 08:42, in 415 s (at risk within 15m);
/// - C-3 high email at 07:00 (−60 min): due 09:00, in 1495 s (at risk within 1h only);
/// - D-4 normal email at 00:00, answered 05:00 by agent-7, pending at 06:00: resolution paused;
/// - E-5 low email at 10:00: no policy, unmatched;
/// - G-7 normal email at 35:05: still in the reorder buffer (newer than the watermark), so
///   counted neither by the gauges nor here.
///
/// Partition 1, stream time 08:20:00:
/// - H-8 urgent email at −05:00: due 08:25, in 300 s at its partition's time (breached at
///   partition 0's);
/// - I-9 normal chat at 20:00: buffered like G-7.
///
/// Every ticket with a first-response target running or breached has its resolution running.
fn scenario() -> Engine {
    let engine = Engine::new(Rules::new(&config()).unwrap(), Arc::new(Telemetry::default()));
    let p0 = [
        created("C-3", at(-60, 0), "email", "high"),
        created("A-1", at(0, 0), "email", "urgent"),
        created("D-4", at(0, 0), "email", "normal"),
        created(SCRIPT_ID, at(1, 0), "chat", "urgent"),
        created("F-6", at(5, 0), "email", "urgent"),
        reply("D-4", at(5, 0), "agent-7"),
        status("D-4", at(6, 0), "pending"),
        created("E-5", at(10, 0), "email", "low"),
        created("B-2", at(12, 0), "web", "urgent"),
        created("G-7", at(35, 5), "email", "normal"),
    ];
    let p1 = [created("H-8", at(-5, 0), "email", "urgent"), created("I-9", at(20, 0), "chat", "normal")];
    for (n, events) in [(0, &p0[..]), (1, &p1[..])] {
        for event in events {
            engine.handle(&partition(n), event.as_bytes(), None, &"test").unwrap();
        }
    }
    engine
}

/// A service on loopback: the engine, `/metrics` and the tickets endpoints as `config` says.
struct Service {
    addr: SocketAddr,
    ui_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
}

impl Service {
    async fn start(engine: Engine, config: &Config) -> Service {
        let telemetry = Arc::new(Telemetry::default());
        let listeners = Listeners::bind(config).await.unwrap();
        let (addr, ui_addr) = (listeners.metrics_addr().unwrap(), listeners.ui_addr().unwrap());
        let (stop, stopped) = watch::channel(false);
        let http = spawn_http(listeners, config, Arc::new(engine), telemetry, Some(WallClock::system()), stopped);
        Service { addr, ui_addr, stop, http }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.http).await.expect("stopped").unwrap();
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || http_get(addr, &path)).await.unwrap().unwrap()
}

async fn api(addr: SocketAddr, query: &str) -> Value {
    let (status, body) = get(addr, &format!("/api/v1/tickets?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// (ticket id, target or state) of each item, in order.
fn listed(answer: &Value) -> Vec<(String, String)> {
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["ticket_id"].as_str().unwrap().to_string(), i["target"].as_str().unwrap_or(i["state"].as_str().unwrap()).to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_exactly_the_tickets_behind_each_gauge_in_order() {
    let service = Service::start(scenario(), &config()).await;
    let addr = service.addr;

    let breached = api(addr, "state=breached").await;
    let read_at = breached["read_at"].as_str().unwrap();
    assert!(read_at.parse::<jiff::Timestamp>().is_ok(), "{read_at}");
    assert_eq!(
        breached["partitions"],
        json!([
            {"topic": "tickets", "partition": 0, "current_time": "2026-01-05T08:35:05Z"},
            {"topic": "tickets", "partition": 1, "current_time": "2026-01-05T08:20:00Z"},
        ])
    );
    assert_eq!((&breached["horizon"], &breached["total"], &breached["limit"]), (&json!("15m"), &json!(3), &json!(100)));
    // Most overdue first; the fired timers keep the deadline they missed.
    let fields = |id: &str, channel: &str, deadline: &str, seconds: f64, created: &str| {
        json!({
            "ticket_id": id, "policy": "urgent", "target": "first_response", "state": "breached", "at_risk": false,
            "deadline": deadline, "seconds_to_deadline": seconds,
            "dimensions": {"channel": channel, "priority": "urgent"},
            "status": "new", "created_at": created, "waiting_since": created, "last_agent": null,
        })
    };
    assert_eq!(
        breached["items"],
        json!([
            fields("A-1", "email", "2026-01-05T08:30:00Z", -305.0, "2026-01-05T08:00:00Z"),
            fields(SCRIPT_ID, "chat", "2026-01-05T08:31:00Z", -245.0, "2026-01-05T08:01:00Z"),
            fields("F-6", "email", "2026-01-05T08:35:00Z", -5.0, "2026-01-05T08:05:00Z"),
        ])
    );

    // The gauges of the same service count the same tickets.
    let (status, metrics) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let series = parse_exposition(&metrics);
    let sla = |channel, family: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("channel", channel), ("priority", "urgent"), ("policy", "urgent"), ("target", "first_response")];
        labels.extend_from_slice(extra);
        common::value(&series, family, &labels)
    };
    assert_eq!(sla("email", "ticketpulse_sla_breached_open_tickets", &[]), 2.0);
    assert_eq!(sla("chat", "ticketpulse_sla_breached_open_tickets", &[]), 1.0);
    assert_eq!(sla("email", "ticketpulse_sla_at_risk_targets", &[("horizon", "15m")]), 1.0);
    assert_eq!(sla("web", "ticketpulse_sla_at_risk_targets", &[("horizon", "15m")]), 1.0);

    // At risk within the smallest horizon by default; H-8 is judged at its own partition's time.
    let at_risk = api(addr, "state=at_risk").await;
    assert_eq!(listed(&at_risk), pairs(&[("H-8", "first_response"), ("B-2", "first_response")]));
    assert_eq!(at_risk["items"][0]["seconds_to_deadline"], json!(300.0));
    assert_eq!((&at_risk["items"][0]["state"], &at_risk["items"][0]["at_risk"]), (&json!("running"), &json!(true)));
    let within_1h = api(addr, "state=at_risk&horizon=1h").await;
    assert_eq!(within_1h["horizon"], "1h");
    assert_eq!(listed(&within_1h), pairs(&[("H-8", "first_response"), ("B-2", "first_response"), ("C-3", "first_response")]));

    let running = api(addr, "state=running").await;
    eprintln!("RUNNING {:?}", listed(&running));
    assert_eq!(running["total"], 9);
    assert_eq!(
        listed(&running),
        pairs(&[
            ("H-8", "first_response"), // 300 s
            ("B-2", "first_response"), // 415 s
            ("C-3", "first_response"), // 1495 s
            ("A-1", "resolution"),     // 16:00, 26 695 s
            (SCRIPT_ID, "resolution"), // 16:01, 26 755 s
            ("F-6", "resolution"),     // 16:05, 26 995 s
            ("H-8", "resolution"),     // 15:55 at 08:20, 27 300 s
            ("B-2", "resolution"),     // 16:12, 27 415 s
            ("C-3", "resolution"),     // 07:00 tomorrow, 80 695 s
        ])
    );
    assert!(running["items"].as_array().unwrap()[3..].iter().all(|i| i["at_risk"] == false));

    let paused = api(addr, "state=paused").await;
    assert_eq!(listed(&paused), pairs(&[("D-4", "resolution")]));
    assert_eq!(
        (&paused["items"][0]["deadline"], &paused["items"][0]["status"], &paused["items"][0]["waiting_since"]),
        (&Value::Null, &json!("pending"), &Value::Null)
    );
    assert_eq!(paused["items"][0]["last_agent"], "agent-7");
    let (status, page) = get(addr, "/tickets?state=paused").await;
    assert_eq!(status, 200);
    assert!(page.contains("<th>Waiting since</th><th>Last agent</th></tr>"), "{page}");
    assert!(
        page.contains(
            "<td>pending</td><td><time datetime=\"2026-01-05T08:00:00Z\">01-05 08:00:00</time></td><td>—</td><td>agent-7</td></tr>"
        ),
        "{page}"
    );
    let unmatched = api(addr, "state=unmatched").await;
    assert_eq!(
        unmatched["items"],
        json!([{
            "ticket_id": "E-5", "policy": null, "target": null, "state": "unmatched", "at_risk": false,
            "deadline": null, "seconds_to_deadline": null, "dimensions": {"channel": "email", "priority": "low"},
            "status": "new", "created_at": "2026-01-05T08:10:00Z", "waiting_since": "2026-01-05T08:10:00Z", "last_agent": null,
        }])
    );

    // Everything open is the four states; the limit keeps the most urgent, the total counts all.
    let open = api(addr, "").await;
    assert_eq!((&open["total"], open["items"].as_array().unwrap().len()), (&json!(14), 14));
    assert_eq!(
        listed(&open)[..4],
        pairs(&[("A-1", "first_response"), (SCRIPT_ID, "first_response"), ("F-6", "first_response"), ("H-8", "first_response")])
    );
    assert_eq!(listed(&open)[12..], pairs(&[("D-4", "resolution"), ("E-5", "unmatched")]), "no deadline: oldest first");
    let two = api(addr, "state=open&limit=2").await;
    assert_eq!((&two["total"], listed(&two)), (&json!(14), pairs(&[("A-1", "first_response"), (SCRIPT_ID, "first_response")])));
    let none = api(addr, "limit=0").await;
    assert_eq!((&none["total"], &none["items"]), (&json!(14), &json!([])));

    // Filters: repeated and comma-separated states, policy, target, dimensions.
    let both = api(addr, "state=breached&state=paused,unmatched&channel=email").await;
    assert_eq!(listed(&both), pairs(&[("A-1", "first_response"), ("F-6", "first_response"), ("D-4", "resolution"), ("E-5", "unmatched")]));
    let chat = api(addr, "channel=chat").await;
    assert_eq!(listed(&chat), pairs(&[(SCRIPT_ID, "first_response"), (SCRIPT_ID, "resolution")]));
    let urgent = api(addr, "priority=urgent&target=resolution").await;
    assert_eq!(
        listed(&urgent),
        pairs(&[("A-1", "resolution"), (SCRIPT_ID, "resolution"), ("F-6", "resolution"), ("H-8", "resolution"), ("B-2", "resolution")])
    );
    let alert_link = api(addr, "state=breached&policy=urgent&target=first_response&channel=email&priority=urgent").await;
    assert_eq!(listed(&alert_link), pairs(&[("A-1", "first_response"), ("F-6", "first_response")]));
    assert_eq!(api(addr, "policy=high&target=next_reply").await["total"], 0);

    // Bad parameters: 400 naming the parameter.
    for (query, error) in [
        ("state=late", r#"state: "late" is not one of "breached", "at_risk", "running", "paused", "unmatched", "open""#),
        ("policy=low", r#"policy: "low" is not one of "urgent", "high", "normal""#),
        ("team=billing", "team: is not in dimensions.labels, so neither the gauges nor the tickets are told apart by it"),
        ("horizon=2h", r#"horizon: "2h" is not one of sla.at_risk_horizons: "15m", "1h""#),
        ("limit=5000", r#"limit: "5000" is not a whole number from 0 to 1000"#),
        ("ticket=A-1", "ticket: unknown parameter; expected one of state, policy, target, channel, priority, team, agent, horizon, limit"),
    ] {
        let (status, body) = get(addr, &format!("/api/v1/tickets?{query}")).await;
        assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (400, json!({ "error": error })), "{query}");
    }
    let (status, page) = get(addr, "/tickets?limit=lots").await;
    assert_eq!(status, 400);
    assert!(page.contains(r#"<p class="error">limit: &quot;lots&quot; is not a whole number from 0 to 1000</p>"#), "{page}");
    service.stop().await;
}

/// `agent=ID`: the open tickets whose last public agent message was ID's. Normal email
/// tickets (first response 8h, resolution 72h), created at 08:00 + n minutes:
/// K-1 (n = 1) answered by a1; K-2 (2) by a1, then a2; K-3 (3) by a2; K-4 (4) unanswered;
/// K-5 (5) answered by a1 and solved (not open). Answered tickets have only resolution running.
#[test]
fn the_agent_filter_lists_the_open_tickets_whose_last_agent_it_is() {
    let config = config();
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let message = |id: &str, minute: i64, agent: &str| {
        json!({"event_id": format!("{id}/{agent}"), "ticket_id": id, "type": "message", "at": at(minute, 30), "author": "agent", "public": true, "agent_id": agent})
            .to_string()
    };
    let events = [
        created("K-1", at(1, 0), "email", "normal"),
        created("K-2", at(2, 0), "email", "normal"),
        created("K-3", at(3, 0), "email", "normal"),
        created("K-4", at(4, 0), "email", "normal"),
        created("K-5", at(5, 0), "email", "normal"),
        message("K-1", 6, "a1"),
        message("K-2", 6, "a1"),
        message("K-5", 6, "a1"),
        message("K-2", 7, "a2"),
        message("K-3", 7, "a2"),
        status("K-5", at(8, 0), "solved"),
        // Moves stream time on so everything before is past the watermark.
        created("K-9", at(30, 0), "email", "normal"),
    ];
    for event in events {
        engine.handle(&partition(0), event.as_bytes(), None, &"test").unwrap();
    }
    let tickets = Api::new(Arc::new(engine), None, &config.ui);
    let read = |query: &str| serde_json::to_value(tickets.read_now(&Query::parse(Some(query), tickets.rules()).unwrap())).unwrap();
    assert_eq!(listed(&read("agent=a1")), pairs(&[("K-1", "resolution")]));
    assert_eq!(listed(&read("agent=a2")), pairs(&[("K-2", "resolution"), ("K-3", "resolution")]));
    assert_eq!(read("agent=a2")["items"][0]["last_agent"], "a2");
    assert_eq!(read("agent=a3")["total"], 0);
    // Combined with the other filters.
    assert_eq!(read("agent=a2&target=first_response")["total"], 0);
    assert_eq!(read("agent=a2&state=running&channel=email&limit=1")["total"], 2);
    // Bounded as event ids are: up to 128 bytes.
    let long = "x".repeat(129);
    assert_eq!(
        Query::parse(Some(&format!("agent={long}")), tickets.rules()).unwrap_err().to_string(),
        "agent: must be at most 128 bytes, got 129"
    );
    assert!(Query::parse(Some(&format!("agent={}", "x".repeat(128))), tickets.rules()).is_ok());
    // Carried into the page's links and form.
    let query = Query::parse(Some("agent=a%202"), tickets.rules()).unwrap();
    assert_eq!(query.to_query_string(tickets.rules()), "state=open&agent=a%202&horizon=15m&limit=100");
    let query = Query::parse(Some("agent=%3Ca1"), tickets.rules()).unwrap();
    let page = ticketpulse::ticket_api::page::render(&tickets.read_now(&query), &query, tickets.rules(), None);
    assert!(page.contains(r#"<input type="text" name="agent" maxlength="128" value="&lt;a1" placeholder="any">"#), "{page}");
}

/// Every current SLA gauge series of an exposition, by family and labels, zeros left out.
fn gauge_series(exposition: &str) -> BTreeMap<String, f64> {
    const FAMILIES: [&str; 5] = [
        "ticketpulse_sla_breached_open_tickets",
        "ticketpulse_sla_running_targets",
        "ticketpulse_sla_paused_targets",
        "ticketpulse_sla_at_risk_targets",
        "ticketpulse_sla_unmatched_open_tickets",
    ];
    parse_exposition(exposition)
        .into_iter()
        .filter(|(k, v)| *v != 0.0 && FAMILIES.iter().any(|f| k.starts_with(&format!("{f}{{"))))
        .collect()
}

/// The same series counted from the API's items: `state` (and `horizon`) picks the family.
fn counted(answers: &[(&str, Option<&str>, &Value)]) -> BTreeMap<String, f64> {
    let mut series = BTreeMap::new();
    for (family, horizon, answer) in answers {
        assert_eq!(answer["total"].as_u64().unwrap() as usize, answer["items"].as_array().unwrap().len(), "{family}: raise the limit");
        for item in answer["items"].as_array().unwrap() {
            let mut labels: Vec<(&str, &str)> =
                item["dimensions"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
            if let (Some(policy), Some(target)) = (item["policy"].as_str(), item["target"].as_str()) {
                labels.extend([("policy", policy), ("target", target)]);
            }
            labels.extend(horizon.map(|h| ("horizon", h)));
            *series.entry(key(family, &labels)).or_default() += 1.0;
        }
    }
    series
}

/// The current SLA gauges and the API read from one engine at the same fixed wall-clock
/// instant (tokio's clock is paused) on a generated help desk: 4000 events over three
/// partitions whose messages arrived 0, 2 and 9 minutes after their event time, so each
/// partition is read at its own current time; policies leave `low` unmatched; team is a label.
#[tokio::test(start_paused = true)]
async fn on_a_generated_help_desk_the_api_counts_equal_the_gauges_for_every_key() {
    let mut config = config();
    config.dimensions.labels.push(Dimension::Team);
    config.dimensions.teams = ["support", "billing", "technical"].map(String::from).to_vec();
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let lags = [0, 2 * MINUTE, 9 * MINUTE];
    let mut last = 0;
    for event in Generator::new(GeneratorOptions { seed: 13, tickets_per_hour: 240.0, start: START }).take(4000) {
        let n = event.ticket_id.bytes().map(usize::from).sum::<usize>() % 3;
        engine.handle(&partition(n as i32), event.payload.as_bytes(), Some(event.at + lags[n]), &"generated").unwrap();
        last = event.at;
    }
    let wall = last + 10 * MINUTE;
    let engine = Arc::new(engine);
    let clock = Some(WallClock::starting_at(wall));
    let exposition = exporter::scrape(&exporter::Metrics::new(Arc::clone(&engine), exporter::ExportRules::new(&config), telemetry, clock));
    let tickets = Api::new(engine, clock, &config.ui);
    let read = |query: &str| serde_json::to_value(tickets.read_now(&Query::parse(Some(query), tickets.rules()).unwrap())).unwrap();

    let breached = read("state=breached&limit=1000");
    assert_eq!(breached["read_at"], ticketpulse::base::rfc3339(wall));
    // Each partition at its own time: the wall clock less how late its messages came.
    let times: Vec<&str> = breached["partitions"].as_array().unwrap().iter().map(|p| p["current_time"].as_str().unwrap()).collect();
    let expected: Vec<String> = lags.iter().map(|lag| ticketpulse::base::rfc3339(wall - lag)).collect();
    assert_eq!(times, expected);
    let answers = [
        ("ticketpulse_sla_breached_open_tickets", None, breached),
        ("ticketpulse_sla_running_targets", None, read("state=running&limit=1000")),
        ("ticketpulse_sla_paused_targets", None, read("state=paused&limit=1000")),
        ("ticketpulse_sla_at_risk_targets", Some("15m"), read("state=at_risk&horizon=15m&limit=1000")),
        ("ticketpulse_sla_at_risk_targets", Some("1h"), read("state=at_risk&horizon=1h&limit=1000")),
        ("ticketpulse_sla_unmatched_open_tickets", None, read("state=unmatched&limit=1000")),
    ];
    let gauges = gauge_series(&exposition);
    let api = counted(&answers.iter().map(|(f, h, a)| (*f, *h, a)).collect::<Vec<_>>());
    // Not vacuous: every family has tickets, across several keys.
    for (family, horizon, answer) in &answers {
        assert!(answer["total"].as_u64().unwrap() > 0, "{family} {horizon:?} lists nothing");
    }
    assert!(gauges.len() > 30, "{gauges:#?}");
    assert_eq!(api, gauges);
    // `open` is the four states together.
    let open = read("state=open&limit=1000");
    let parts: u64 = [0, 1, 2, 5].iter().map(|i| answers[*i].2["total"].as_u64().unwrap()).sum();
    assert_eq!(open["total"].as_u64().unwrap(), parts);
}

/// Runs Chromium headless on `url` with `args`; its standard output.
fn chromium(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::from(out.reopen().unwrap()))
        .stderr(Stdio::from(err.reopen().unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({e}): run scripts/install-test-deps, which installs Debian's chromium"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(err.path()).unwrap();
    assert!(status.success(), "chromium failed ({status}): {stderr}");
    std::fs::read_to_string(out.path()).unwrap()
}

/// The text of each `<td class="ticket">` of a serialized DOM, entities decoded.
fn ticket_cells(dom: &str) -> Vec<String> {
    dom.split(r#"<td class="ticket">"#)
        .skip(1)
        .map(|cell| {
            let cell = &cell[..cell.find("</td>").expect("a closed cell")];
            let mut text = String::new();
            let mut in_tag = false;
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_breached_tickets_page_with_escaped_ids_and_help_desk_links() {
    let service = Service::start(scenario(), &config()).await;
    let url = format!("http://{}/tickets?state=breached", service.addr);
    let dom = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || chromium(&["--dump-dom"], &url)).await.unwrap()
    };
    assert_eq!(ticket_cells(&dom), ["A-1", SCRIPT_ID, "F-6"], "{dom}");
    // The id is text, never markup: the only script element would be the id's.
    assert!(!dom.contains("<script"), "{dom}");
    assert!(
        dom.contains(r#"<a href="https://help.example.com/agent/tickets/%3Cscript%3Ealert%28%27x%26y%27%29%3C%2Fscript%3E">"#),
        "{dom}"
    );
    assert!(dom.contains(r#"<a href="https://help.example.com/agent/tickets/A-1">A-1</a>"#), "{dom}");
    assert!(dom.contains(r#"<meta http-equiv="refresh" content="30">"#), "{dom}");
    assert!(dom.contains(r#"<form method="get" action="tickets">"#), "{dom}");
    assert!(dom.contains(r#"<input type="checkbox" name="state" value="breached" checked="">"#), "{dom}");
    assert!(dom.contains(r#"<input type="checkbox" name="state" value="open">"#), "{dom}");
    assert!(dom.contains("<strong>3</strong> matching, 3 shown"), "{dom}");
    assert!(dom.contains(r#"<span class="overdue">overdue 5m 05s</span>"#), "{dom}");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot: PathBuf = artifacts.join("tickets.png");
    let _ = std::fs::remove_file(&screenshot);
    let arg = format!("--screenshot={}", screenshot.display());
    tokio::task::spawn_blocking(move || chromium(&[&arg, "--window-size=1280,900", "--hide-scrollbars"], &url)).await.unwrap();
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dimension = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1280, 900), "IHDR width and height");
    service.stop().await;
}

const INDEX: &str = "ticketpulse\n\
/metrics        Prometheus metrics\n\
/healthz/live   liveness: 200 while the process runs\n\
/healthz/ready  readiness: 200 while a partition is assigned and a Kafka broker is reachable\n";

const TICKETS_INDEX: &str = "/tickets        open tickets behind the SLA gauges, as a page (ticket ids: customer data)\n\
/api/v1/tickets the same as JSON\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoints_are_listed_beside_metrics_switched_off_or_on_their_own_address() {
    // Default: beside /metrics, and listed.
    let service = Service::start(scenario(), &config()).await;
    assert_eq!(get(service.addr, "/").await, (200, format!("{INDEX}{TICKETS_INDEX}")));
    assert_eq!(get(service.addr, "/tickets").await.0, 200);
    assert_eq!(api(service.addr, "state=paused").await["total"], 1);
    service.stop().await;

    // Switched off: 404 and not listed.
    let mut off = config();
    off.ui.enabled = false;
    let service = Service::start(scenario(), &off).await;
    assert_eq!(service.ui_addr, None);
    assert_eq!(get(service.addr, "/").await, (200, INDEX.to_string()));
    for path in ["/tickets", "/api/v1/tickets", "/tickets?state=breached"] {
        assert_eq!(get(service.addr, path).await, (404, "not found; the endpoints are listed at /\n".to_string()), "{path}");
    }
    service.stop().await;

    // Their own address: only there, and /metrics only on the metrics port.
    let mut own = config();
    own.ui.listen = Some("127.0.0.1:0".parse().unwrap());
    let service = Service::start(scenario(), &own).await;
    let ui = service.ui_addr.expect("bound");
    assert_eq!(get(service.addr, "/").await, (200, INDEX.to_string()));
    assert_eq!(get(service.addr, "/api/v1/tickets").await.0, 404);
    assert_eq!(get(service.addr, "/metrics").await.0, 200);
    assert_eq!(get(ui, "/").await, (200, format!("ticketpulse\n{TICKETS_INDEX}")));
    assert_eq!(api(ui, "state=breached").await["total"], 3);
    assert_eq!(get(ui, "/tickets?state=breached").await.0, 200);
    assert_eq!(get(ui, "/metrics").await, (404, "not found; the endpoints are listed at /\n".to_string()));
    service.stop().await;
}

#[test]
fn ui_settings_are_validated_naming_the_field_and_the_shipped_section_equals_the_defaults() {
    let shipped = Config::load(Some(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ticketpulse.toml")))).unwrap();
    let d = ticketpulse::config::UiConfig::default();
    assert_eq!(format!("{:?}", shipped.ui), format!("{d:?}"));
    assert_eq!((d.enabled, d.ticket_url, d.listen), (true, None, None));
    let load = |toml: &str| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), toml).unwrap();
        Config::load(Some(file.path())).map_err(|e| e.to_string())
    };
    let must = "ui.ticket_url: must be an http:// or https:// URL containing {ticket_id}";
    assert_eq!(load("[ui]\nticket_url = \"javascript:alert({ticket_id})\"\n").unwrap_err(), must);
    assert_eq!(load("[ui]\nticket_url = \"https://desk.example.com/\"\n").unwrap_err(), must);
    assert!(load("[ui]\nlisten = \"nowhere\"\n").unwrap_err().starts_with("ui.listen: "));
    assert!(load("[ui]\nenable = false\n").unwrap_err().starts_with("ui.enable: unknown field"));
    let ok = load("[ui]\nenabled = false\nticket_url = \"https://desk.example.com/t/{ticket_id}\"\nlisten = \"127.0.0.1:9851\"\n").unwrap();
    assert_eq!(
        (ok.ui.enabled, ok.ui.ticket_url.as_deref(), ok.ui.listen),
        (false, Some("https://desk.example.com/t/{ticket_id}"), Some("127.0.0.1:9851".parse().unwrap()))
    );
}

/// Issue 24 (5): ids that would act on the page. Four low-priority tickets (no policy, so
/// `unmatched`, listed oldest first) with ids an attacker can choose: a right-to-left override
/// that made `\u{202E}gnp.exe` read "exe.png", the dot segments `.` and `..` that a browser
/// resolves out of `…/tickets/..?x=1`, and NUL and ESC, which went into the HTML raw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_with_bidi_overrides_dot_segments_and_control_characters_neither_act_on_the_page_nor_mislead_links() {
    const RLO: &str = "\u{202E}gnp.exe";
    const CONTROLS: &str = "A\u{0}B\u{1b}C";
    let mut config = config();
    config.ui.ticket_url = Some("https://desk.example.com/agent/tickets/{ticket_id}?x=1".into());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    for (i, id) in [RLO, ".", "..", CONTROLS].iter().enumerate() {
        engine.handle(&partition(0), created(id, at(i as i64, 0), "email", "low").as_bytes(), None, &"test").unwrap();
    }
    // Moves the watermark past the four; itself newer than it, so buffered and not listed.
    engine.handle(&partition(0), created("Z", at(10, 0), "email", "low").as_bytes(), None, &"test").unwrap();
    let service = Service::start(engine, &config).await;

    // The API carries the ids exactly (JSON escapes the control characters).
    let (status, body) = get(service.addr, "/api/v1/tickets?state=unmatched").await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""ticket_id":"A\u0000B\u001bC""#), "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = answer["items"].as_array().unwrap().iter().map(|i| i["ticket_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [RLO, ".", "..", CONTROLS]);

    // The HTML, exactly: code points shown, ids isolated, no link for the dot segments.
    let (status, page) = get(service.addr, "/tickets?state=unmatched").await;
    assert_eq!(status, 200);
    let cells: Vec<&str> = page.split(r#"<td class="ticket">"#).skip(1).map(|c| &c[..c.find("</td>").unwrap()]).collect();
    assert_eq!(
        cells,
        [
            r#"<bdi><a href="https://desk.example.com/agent/tickets/%E2%80%AEgnp.exe?x=1">[U+202E]gnp.exe</a></bdi>"#,
            "<bdi>.</bdi>",
            "<bdi>..</bdi>",
            r#"<bdi><a href="https://desk.example.com/agent/tickets/A%00B%1BC?x=1">A[U+0000]B[U+001B]C</a></bdi>"#,
        ]
    );
    for c in ['\u{0}', '\u{1b}', '\u{202E}'] {
        assert!(!page.contains(c), "{c:?} in the page");
    }

    // As a browser builds it: the same text, no override or control character in the DOM.
    let url = format!("http://{}/tickets?state=unmatched", service.addr);
    let dom = tokio::task::spawn_blocking(move || chromium(&["--dump-dom"], &url)).await.unwrap();
    assert_eq!(ticket_cells(&dom), ["[U+202E]gnp.exe", ".", "..", "A[U+0000]B[U+001B]C"], "{dom}");
    assert!(!dom.contains('\u{202E}') && !dom.contains('\u{1b}') && !dom.contains('\u{FFFD}'), "{dom}");
    assert_eq!(dom.matches("<a href=\"https://desk.example.com/").count(), 2, "{dom}");

    // A leading `+` is no number, for the API and the page alike.
    let (status, body) = get(service.addr, "/api/v1/tickets?limit=%2B5").await;
    assert_eq!((status, body.as_str()), (400, r#"{"error":"limit: \"+5\" is not a whole number from 0 to 1000"}"#));
    let (status, page) = get(service.addr, "/tickets?limit=%2B5").await;
    assert_eq!(status, 400);
    assert!(page.contains(r#"<p class="error">limit: &quot;+5&quot; is not a whole number from 0 to 1000</p>"#), "{page}");
    service.stop().await;
}
