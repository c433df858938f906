//! The operations kit running, with the real programs on loopback: broker → ticketpulse →
//! prometheus (the shipped rules, 1 s intervals) → alertmanager (the shipped routing and
//! inhibition) → a webhook receiver in this test; and every dashboard query against a
//! Prometheus scraping `ticketpulse demo`. tests/deploy.rs checks the files themselves.

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::routing::post;
use axum::Router;
use common::{
    create_topics, free_addr, http_get, parse_exposition, produce, produce_all, scrape_until, spawn_prometheus, total_events, urlencode,
    value, Broker, Process,
};
use serde_json::Value as Json;
use ticketpulse::config::PolicyConfig;
use ticketpulse::generator::{Generator, GeneratorOptions};
use yaml_serde::Value as Yaml;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn deploy(path: &str) -> PathBuf {
    Path::new(ROOT).join("deploy").join(path)
}

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// [`common::wait_ready`] off the async runtime, for up to 30 s.
async fn wait_ready(addr: SocketAddr, path: &'static str, what: &str) {
    let what = what.to_string();
    tokio::task::spawn_blocking(move || common::wait_ready(addr, path, &what, Duration::from_secs(30))).await.unwrap();
}

/// Notifications received, as (receiver from the URL path, Alertmanager's JSON payload).
type Inbox = Arc<Mutex<Vec<(String, Json)>>>;

async fn webhook_receiver() -> (SocketAddr, Inbox) {
    let inbox: Inbox = Arc::default();
    async fn receive(State(inbox): State<Inbox>, UrlPath(receiver): UrlPath<String>, body: String) {
        inbox.lock().unwrap().push((receiver, serde_json::from_str(&body).unwrap()));
    }
    let app = Router::new().route("/{receiver}", post(receive)).with_state(Arc::clone(&inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, inbox)
}

/// Starts Alertmanager on the shipped config with every receiver replaced by this test's
/// webhook (its name in the URL) and 1 s grouping: routing, grouping and inhibition as shipped.
async fn start_alertmanager(dir: &Path, webhook: SocketAddr) -> (Process, SocketAddr) {
    let mut am = yaml(&deploy("alertmanager/alertmanager.yml"));
    for (key, value) in [("group_wait", "1s"), ("group_interval", "1s")] {
        am["route"][key] = Yaml::from(value);
    }
    for receiver in am["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap().to_string();
        let replaced = format!("name: {name}\nwebhook_configs:\n  - url: http://{webhook}/{name}\n    send_resolved: true\n");
        *receiver = yaml_serde::from_str(&replaced).unwrap();
    }
    std::fs::write(dir.join("alertmanager.yml"), yaml_serde::to_string(&am).unwrap()).unwrap();
    let addr = free_addr();
    let process = Process(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", dir.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.join("am").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (run scripts/install-test-deps)"),
    );
    wait_ready(addr, "/-/ready", "alertmanager").await;
    (process, addr)
}

/// Starts Prometheus on the shipped prometheus.yml and rule files, scraping `target` (and
/// itself) and evaluating every second, alerting `alertmanager` if given. Its TSDB is
/// `dir/tsdb`, which may already hold backfilled blocks.
async fn start_prometheus(dir: &Path, target: SocketAddr, alertmanager: Option<SocketAddr>) -> (Process, SocketAddr) {
    let addr = free_addr();
    let mut prom = yaml(&deploy("prometheus/prometheus.yml"));
    prom["global"]["scrape_interval"] = Yaml::from("1s");
    prom["global"]["evaluation_interval"] = Yaml::from("1s");
    // The shipped rule files, each group at the global 1 s (a group's own interval, 1m for the
    // day-to-month answers, would keep them empty for a minute or more).
    for file in prom["rule_files"].as_sequence_mut().unwrap() {
        let name = file.as_str().unwrap().to_string();
        let mut rules = yaml(&deploy("prometheus").join(&name));
        for group in rules["groups"].as_sequence_mut().unwrap() {
            group.as_mapping_mut().unwrap().remove("interval");
        }
        let copy = dir.join(Path::new(&name).file_name().unwrap());
        std::fs::write(&copy, yaml_serde::to_string(&rules).unwrap()).unwrap();
        *file = Yaml::from(copy.to_str().unwrap());
    }
    match alertmanager {
        Some(am) => prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0] = Yaml::from(am.to_string()),
        None => drop(prom.as_mapping_mut().unwrap().remove("alerting")),
    }
    prom["scrape_configs"][0]["static_configs"][0]["targets"][0] = Yaml::from(target.to_string());
    prom["scrape_configs"][1]["static_configs"][0]["targets"][0] = Yaml::from(addr.to_string());
    std::fs::write(dir.join("prometheus.yml"), yaml_serde::to_string(&prom).unwrap()).unwrap();
    let process = spawn_prometheus(addr, &dir.join("prometheus.yml"), &dir.join("tsdb"));
    wait_ready(addr, "/-/ready", "prometheus").await;
    (process, addr)
}

/// GETs a Prometheus HTTP API path: its status and JSON body.
async fn prometheus_api(prometheus: SocketAddr, path: String) -> (u16, Json) {
    let (status, body) = tokio::task::spawn_blocking(move || http_get(prometheus, &path)).await.unwrap().unwrap();
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

/// Runs an instant query; the result vector.
async fn query(prometheus: SocketAddr, promql: &str) -> Vec<Json> {
    let (status, v) = prometheus_api(prometheus, format!("/api/v1/query?query={}", urlencode(promql))).await;
    assert_eq!(status, 200, "{promql}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Every rule of the shipped files evaluates without error in `prometheus`.
async fn rules_evaluate_cleanly(prometheus: SocketAddr) {
    let (_, rules) = prometheus_api(prometheus, "/api/v1/rules".into()).await;
    let groups = rules["data"]["groups"].as_array().unwrap();
    // 7 shipped before, the 2 fleet groups (day to month) and the staffing alert group.
    assert_eq!(groups.len(), 10, "{rules}");
    for group in groups {
        for rule in group["rules"].as_array().unwrap() {
            assert_eq!(rule["health"], "ok", "{} in {}: {}", rule["name"], group["name"], rule["lastError"]);
        }
    }
}

/// Waits for a notification to `receiver`, among those received from the `from`th on, about
/// `alertname` with `status` whose labels include `labels`; returns that alert.
async fn notification(
    inbox: &Inbox,
    from: usize,
    receiver: &str,
    alertname: &str,
    status: &str,
    labels: &[(&str, &str)],
    limit: Duration,
) -> Json {
    let deadline = Instant::now() + limit;
    loop {
        let found = inbox.lock().unwrap()[from..].iter().filter(|(r, _)| r == receiver).find_map(|(_, payload)| {
            payload["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| {
                    a["status"] == status
                        && a["labels"]["alertname"] == alertname
                        && labels.iter().all(|(k, v)| a["labels"][*k].as_str() == Some(v))
                })
                .cloned()
        });
        if let Some(alert) = found {
            return alert;
        }
        let seen: Vec<String> = inbox.lock().unwrap().iter().map(|(r, p)| format!("{r}: {} {}", p["status"], p["groupLabels"])).collect();
        assert!(Instant::now() < deadline, "no {status} {alertname} {labels:?} for {receiver}; received: {seen:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The dashboard's panel queries, as (panel title, description, query with the variables set
/// to 24h and All).
fn dashboard_queries() -> Vec<(String, String, String)> {
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/ticketpulse.json")).unwrap()).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            p["targets"].as_array().unwrap().iter().map(move |t| {
                let promql = t["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$window", "24h")
                    .replace("$channel", ".*")
                    .replace("$priority", ".*")
                    .replace("$team", ".*")
                    .replace("$__rate_interval", "1m");
                (p["title"].as_str().unwrap().to_string(), p["description"].as_str().unwrap().to_string(), promql)
            })
        })
        .collect()
}

/// Panels documented as empty without Kafka input.
fn kafka_only(description: &str) -> bool {
    description.contains("Kafka only")
}

/// Every query returns data from `prometheus` within a minute.
async fn queries_return_data(prometheus: SocketAddr, queries: &[(String, String, String)]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut empty = Vec::new();
        for (title, _, promql) in queries {
            if query(prometheus, promql).await.is_empty() {
                empty.push(format!("{title}: {promql}"));
            }
        }
        if empty.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "dashboard queries without data:\n{}", empty.join("\n"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn event(id: &str, ticket: &str, kind: &str, at: i64, fields: &str) -> String {
    format!(r#"{{"event_id":"{id}","ticket_id":"{ticket}","type":"{kind}","at":{at}{fields}}}"#)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A generated help desk's last two hours, then a burst of 6 tickets under policy `e2e` (first
/// response within 30 s) on 4 channel and priority pairs, half of team support and half without
/// a team, that nobody answers. Alertmanager gets the at-risk warning at once and, a minute
/// after the deadline, exactly one page for the policy and target: "6 open ticket(s)", with the
/// link to the instance's tickets. A 7th ticket of the same policy then warns while the page is
/// firing. Once all are answered and solved, the one resolved notification follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_breaches_pages_once_with_the_tickets_link_and_warnings_still_get_through() {
    let broker = Broker::start();
    let topic = "tickets-ops";
    create_topics(&broker.bootstrap, &[(topic, 2), ("tickets-ops-dlq", 1)]).await;
    let start = now_ms() - 2 * 3_600_000;
    let mut background: Vec<(Option<String>, Vec<u8>, Option<i32>)> =
        Generator::new(GeneratorOptions { seed: 5, tickets_per_hour: 600.0, start })
            .take_while(|g| g.at < now_ms() - 5_000)
            .map(|g| (Some(g.ticket_id), g.payload.into_bytes(), None))
            .collect();
    background.push((None, b"not json".to_vec(), Some(0)));
    produce_all(&broker.bootstrap, topic, &background).await;

    let mut config = common::config(&broker.bootstrap, topic);
    config.time.idle_timeout = Duration::from_secs(1);
    config.time.allowed_lateness = Duration::from_secs(1);
    config.dimensions.labels.push(ticketpulse::config::Dimension::Team);
    // The generator's teams, and "support": the team every ticket without one is paged to.
    config.dimensions.teams = ["emea", "us", "vip", "support"].map(String::from).to_vec();
    config.kpis.cost.per_hour = Some(1400.0);
    let e2e = PolicyConfig {
        name: "e2e".into(),
        topic: Some(vec!["e2e".into()]),
        first_response: Some(Duration::from_secs(30)),
        ..PolicyConfig::default()
    };
    config.sla.policies.insert(0, e2e);
    let running = ticketpulse::service::start(config).await.unwrap();
    let target = running.http_addr;
    let expected = background.len() as f64;
    scrape_until(target, |s| total_events(s) == expected).await;

    let dir = tempfile::tempdir().unwrap();
    let (webhook, inbox) = webhook_receiver().await;
    let (_alertmanager, am_addr) = start_alertmanager(dir.path(), webhook).await;
    let (_prometheus, prom_addr) = start_prometheus(dir.path(), target, Some(am_addr)).await;

    let created = now_ms();
    let burst: Vec<String> = [
        ("chat", "urgent", r#","team":"support""#),
        ("chat", "urgent", ""),
        ("email", "high", r#","team":"support""#),
        ("email", "high", ""),
        ("web", "low", r#","team":"support""#),
        ("phone", "normal", ""),
    ]
    .iter()
    .enumerate()
    .map(|(i, (channel, priority, team))| {
        let fields = format!(r#","channel":"{channel}","priority":"{priority}","topic":"e2e"{team}"#);
        event(&format!("E2E-{i}-1"), &format!("E2E-{i}"), "ticket_created", created, &fields)
    })
    .collect();
    produce(&broker.bootstrap, topic, &burst.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let instance = target.to_string();
    let labels = [("policy", "e2e"), ("target", "first_response"), ("team", "support"), ("instance", instance.as_str())];

    let warning = notification(&inbox, 0, "support-chat", "TicketpulseSlaAtRisk", "firing", &labels, Duration::from_secs(25)).await;
    assert!(now_ms() < created + 30_000, "the at-risk warning came before the deadline");
    assert_eq!(warning["labels"]["severity"], "warning");
    assert_eq!(
        warning["annotations"]["tickets_url"],
        format!("http://{target}/tickets?state=at_risk&horizon=15m&policy=e2e&target=first_response").as_str()
    );

    let page = notification(&inbox, 0, "support-pager", "TicketpulseSlaBreached", "firing", &labels, Duration::from_secs(120)).await;
    assert!(now_ms() >= created + 90_000, "no page before a minute past the deadline");
    assert_eq!(page["labels"]["severity"], "page");
    assert_eq!(page["annotations"]["summary"], "6 open ticket(s) breached the first_response SLA of policy e2e");
    assert_eq!(
        page["annotations"]["description"],
        format!("6 open ticket(s) of policy e2e on {target} are past their first_response deadline and the overdue work is not done; 0 more are due within 15 minutes.").as_str()
    );
    assert_eq!(
        page["annotations"]["tickets_url"],
        format!("http://{target}/tickets?state=breached&policy=e2e&target=first_response").as_str()
    );
    assert_eq!(
        page["annotations"]["runbook_url"],
        "https://github.com/ticketpulse/ticketpulse/blob/main/docs/runbook.md#ticketpulseslabreached"
    );

    // Another ticket of the same policy and target warns while the page is firing: the breach
    // does not inhibit it.
    let mark = inbox.lock().unwrap().len();
    let later = now_ms();
    let seventh =
        [event("E2E-6-1", "E2E-6", "ticket_created", later, r#","channel":"chat","priority":"urgent","topic":"e2e","team":"support""#)];
    produce(&broker.bootstrap, topic, &seventh.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let warning = notification(&inbox, mark, "support-chat", "TicketpulseSlaAtRisk", "firing", &labels, Duration::from_secs(25)).await;
    assert_eq!(warning["annotations"]["summary"], "1 ticket(s) will breach the first_response SLA of policy e2e within 15 minutes");
    assert!(now_ms() < later + 30_000, "the warning came before the 7th ticket's deadline");
    let firing = query(prom_addr, r#"ALERTS{alertname="TicketpulseSlaBreached",alertstate="firing",policy="e2e"}"#).await;
    assert_eq!(firing.len(), 1, "the page was still firing: {firing:?}");

    let answered = now_ms();
    let done: Vec<String> = (0..7)
        .flat_map(|i| {
            [
                event(&format!("E2E-{i}-2"), &format!("E2E-{i}"), "message", answered, r#","author":"agent","public":true"#),
                event(&format!("E2E-{i}-3"), &format!("E2E-{i}"), "status_changed", answered + 1, r#","status":"solved""#),
            ]
        })
        .collect();
    produce(&broker.bootstrap, topic, &done.iter().map(String::as_str).collect::<Vec<_>>()).await;
    notification(&inbox, mark, "support-pager", "TicketpulseSlaBreached", "resolved", &labels, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The burst paged once, and resolved once.
    let inbox = inbox.lock().unwrap().clone();
    let e2e_pages: Vec<(&str, usize)> = inbox
        .iter()
        .filter(|(r, p)| r == "support-pager" && p["groupLabels"]["policy"] == "e2e")
        .map(|(_, p)| (p["status"].as_str().unwrap(), p["alerts"].as_array().unwrap().len()))
        .collect();
    assert_eq!(e2e_pages, [("firing", 1), ("resolved", 1)]);
    // Every SLA notification, the background's too, links to the tickets behind each alert.
    let mut sla_alerts = 0;
    for (_, payload) in &inbox {
        for alert in payload["alerts"].as_array().unwrap() {
            let state = match alert["labels"]["alertname"].as_str().unwrap() {
                "TicketpulseSlaBreached" => "breached",
                "TicketpulseSlaAtRisk" => "at_risk&horizon=15m",
                _ => continue,
            };
            let l = &alert["labels"];
            let url = format!(
                "http://{}/tickets?state={state}&policy={}&target={}",
                l["instance"].as_str().unwrap(),
                l["policy"].as_str().unwrap(),
                l["target"].as_str().unwrap()
            );
            assert_eq!(alert["annotations"]["tickets_url"], url.as_str(), "{alert}");
            sla_alerts += 1;
        }
    }
    assert!(sla_alerts >= 4, "{sla_alerts} SLA alerts");
    // Teams support and none in one key, emea, us and vip besides: no rule fails.
    rules_evaluate_cleanly(prom_addr).await;
    // The dashboard panels that need Kafka have data here.
    let kafka: Vec<_> = dashboard_queries().into_iter().filter(|(_, description, _)| kafka_only(description)).collect();
    assert_eq!(kafka.iter().map(|(title, _, _)| title.as_str()).collect::<Vec<_>>(), ["Consumer lag"]);
    queries_return_data(prom_addr, &kafka).await;
    running.shutdown().await.unwrap();
}

/// The demo's current exposition as OpenMetrics a week ago, labelled as Prometheus scrapes it:
/// every series every 30 s from 10 minutes before to 10 minutes after. The history that
/// week-over-week panels read: with it the 5m steps of tickets created per channel that the
/// recording rules would have written then (1 a second: only their being there matters).
fn a_week_ago(exposition: &str, instance: SocketAddr) -> String {
    let at = now_ms() / 1000 - 7 * 86_400;
    let mut out = String::new();
    let channels: std::collections::BTreeSet<&str> = exposition
        .lines()
        .filter(|l| l.starts_with("ticketpulse_tickets_created{"))
        .filter_map(|l| l.split("channel=\"").nth(1).and_then(|rest| rest.split('"').next()))
        .collect();
    for channel in channels {
        for step in -20..=20 {
            writeln!(out, r#"channel:ticketpulse_tickets_created:rate5m{{job="ticketpulse",channel="{channel}"}} 1 {}"#, at + step * 30)
                .unwrap();
        }
    }
    for line in exposition.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let target = format!(r#"job="ticketpulse",instance="{instance}""#);
        let series = match series.split_once('{') {
            Some((name, labels)) => format!("{name}{{{target},{labels}"),
            None => format!("{series}{{{target}}}"),
        };
        for step in -20..=20 {
            writeln!(out, "{series} {value} {}", at + step * 30).unwrap();
        }
    }
    out + "# EOF\n"
}

/// `ticketpulse demo` with the example config (teams and business-hours policies), scraped by
/// Prometheus with the shipped rules and a week of backfilled history: every dashboard query
/// returns data, except the panels documented as Kafka only. The configured targets are
/// exported exactly, and every rule evaluates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_prometheus_scraping_the_demo() {
    let demo_addr = free_addr();
    let _demo = Process(
        Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
            .args(["demo", "--listen", &demo_addr.to_string(), "--config"])
            .arg(Path::new(ROOT).join("config/examples/sla-business-hours.toml"))
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap(),
    );
    wait_ready(demo_addr, "/metrics", "ticketpulse demo").await;
    // The demo has caught up on its simulated day once a 24 h window holds thousands of tickets.
    let exposition = scrape_until(demo_addr, |s| {
        s.iter().filter(|(k, _)| k.starts_with("ticketpulse_tickets_created{window=\"24h\"")).map(|(_, v)| v).sum::<f64>() > 2000.0
    })
    .await;

    // sla-business-hours.toml's targets, in seconds of each policy's calendar.
    let series = parse_exposition(&exposition);
    for (policy, targets) in [
        ("vip-urgent", [900.0, 1800.0, 14_400.0]),
        ("emea-business", [3600.0, 7200.0, 57_600.0]),
        ("us-business", [3600.0, 14_400.0, 86_400.0]),
        ("standard", [28_800.0, 28_800.0, 259_200.0]),
    ] {
        for (target, seconds) in ["first_response", "next_reply", "resolution"].into_iter().zip(targets) {
            assert_eq!(
                value(&series, "ticketpulse_sla_target_seconds", &[("policy", policy), ("target", target)]),
                seconds,
                "{policy} {target}"
            );
        }
    }
    assert_eq!(series.keys().filter(|k| k.starts_with("ticketpulse_sla_target_seconds")).count(), 12);
    // The generator's teams are the example's, so every policy has tickets.
    for policy in ["vip-urgent", "emea-business", "us-business", "standard"] {
        assert!(series.keys().any(|k| k.starts_with("ticketpulse_sla_met{") && k.contains(&format!("policy=\"{policy}\""))), "no {policy}");
    }

    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("week-ago.om");
    std::fs::write(&history, a_week_ago(&exposition, demo_addr)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let out =
        Command::new("promtool").args(["tsdb", "create-blocks-from", "openmetrics"]).arg(&history).arg(&tsdb).output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool tsdb create-blocks-from: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (_prometheus, prom_addr) = start_prometheus(dir.path(), demo_addr, None).await;
    let (kafka, demo): (Vec<_>, Vec<_>) = dashboard_queries().into_iter().partition(|(_, description, _)| kafka_only(description));
    assert_eq!(kafka.len(), 1, "only consumer lag needs Kafka: {kafka:?}");
    queries_return_data(prom_addr, &demo).await;
    for (title, _, promql) in &kafka {
        assert!(query(prom_addr, promql).await.is_empty(), "{title} has data without Kafka: is it really Kafka only?");
    }
    // Every template variable lists values.
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/ticketpulse.json")).unwrap()).unwrap();
    for var in dashboard["templating"]["list"].as_array().unwrap().iter().filter(|v| v["type"] == "query") {
        let def = var["definition"].as_str().unwrap();
        let (metric, label) = def.strip_prefix("label_values(").unwrap().strip_suffix(')').unwrap().split_once(", ").unwrap();
        let (_, values) = prometheus_api(prom_addr, format!("/api/v1/label/{label}/values?match[]={metric}")).await;
        assert!(values["data"].as_array().is_some_and(|v| !v.is_empty()), "variable {}: {def}", var["name"]);
    }
    rules_evaluate_cleanly(prom_addr).await;
}
