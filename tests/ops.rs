//! The operations kit in deploy/, checked with the real programs: promtool on the rules and
//! their unit tests, amtool on the Alertmanager config, and an end-to-end run of broker →
//! ticketpulse → prometheus (the shipped rules, 1 s intervals) → alertmanager (the shipped
//! routing and inhibition) → a webhook receiver in this test. The dashboard's queries run
//! against that Prometheus; the compose file and the Helm chart are checked for structure.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::routing::post;
use axum::Router;
use common::{create_topics, http_get, produce, produce_all, scrape_until, total_events, Broker};
use serde_json::Value as Json;
use ticketpulse::config::PolicyConfig;
use ticketpulse::generator::{Generator, GeneratorOptions};
use yaml_serde::Value as Yaml;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn deploy(path: &str) -> PathBuf {
    Path::new(ROOT).join("deploy").join(path)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e} (run scripts/install-test-deps)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

fn yaml(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let alerts = deploy("prometheus/rules/ticketpulse-alerts.yml");
    let recording = deploy("prometheus/rules/ticketpulse-recording.yml");
    let out = run("promtool", &["check", "rules", alerts.to_str().unwrap(), recording.to_str().unwrap()]);
    assert_eq!(out.matches("SUCCESS").count(), 2, "{out}");
    let out = run("promtool", &["test", "rules", deploy("prometheus/tests/ticketpulse-alerts-test.yml").to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Every alert has a unit test that fires it, and every label and annotation it must carry.
    let tests = std::fs::read_to_string(deploy("prometheus/tests/ticketpulse-alerts-test.yml")).unwrap();
    let runbook = std::fs::read_to_string(Path::new(ROOT).join("docs/runbook.md")).unwrap();
    for rule in yaml(&alerts)["groups"].as_sequence().unwrap().iter().flat_map(|g| g["rules"].as_sequence().unwrap()) {
        let name = rule["alert"].as_str().unwrap();
        assert!(tests.contains(&format!("alertname: {name}\n        exp_alerts:\n          - exp_labels")), "{name} never fires in a test");
        assert!(["page", "warning"].contains(&rule["labels"]["severity"].as_str().unwrap()), "{name} severity");
        let expr = rule["expr"].as_str().unwrap();
        assert!(rule["labels"]["team"].is_string() || expr.contains("\"team\", \"support\""), "{name} has no team");
        for annotation in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][annotation].is_string(), "{name} lacks {annotation}");
        }
        let anchor = rule["annotations"]["runbook_url"].as_str().unwrap().strip_prefix("docs/runbook.md#").unwrap();
        assert!(
            runbook.lines().any(|l| l.starts_with("## ") && l[3..].to_lowercase().replace(' ', "-") == anchor),
            "no runbook section {anchor}"
        );
    }
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let out = run("amtool", &["check-config", deploy("alertmanager/alertmanager.yml").to_str().unwrap()]);
    assert!(out.contains("SUCCESS") && out.contains("2 inhibit rules") && out.contains("4 receivers"), "{out}");
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `addr` answers `path` with 200.
async fn wait_ready(addr: SocketAddr, path: &'static str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Ok((200, _))) = tokio::task::spawn_blocking(move || http_get(addr, path)).await {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not become ready on {addr}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

/// The shipped Alertmanager config with every receiver replaced by this test's webhook (its
/// name in the URL) and 1 s grouping: routing, grouping and inhibition stay as shipped.
fn alertmanager_config(webhook: SocketAddr) -> String {
    let mut am = yaml(&deploy("alertmanager/alertmanager.yml"));
    for (key, value) in [("group_wait", "1s"), ("group_interval", "1s")] {
        am["route"][key] = Yaml::from(value);
    }
    for receiver in am["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap().to_string();
        let replaced = format!("name: {name}\nwebhook_configs:\n  - url: http://{webhook}/{name}\n    send_resolved: true\n");
        *receiver = yaml_serde::from_str(&replaced).unwrap();
    }
    yaml_serde::to_string(&am).unwrap()
}

/// The shipped prometheus.yml scraping `target` and alerting `alertmanager` every second,
/// with the shipped rule files.
fn prometheus_config(target: SocketAddr, alertmanager: SocketAddr) -> String {
    let mut prom = yaml(&deploy("prometheus/prometheus.yml"));
    prom["global"]["scrape_interval"] = Yaml::from("1s");
    prom["global"]["evaluation_interval"] = Yaml::from("1s");
    for file in prom["rule_files"].as_sequence_mut().unwrap() {
        *file = Yaml::from(deploy("prometheus").join(file.as_str().unwrap()).to_str().unwrap());
    }
    prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0] = Yaml::from(alertmanager.to_string());
    prom["scrape_configs"][0]["static_configs"][0]["targets"][0] = Yaml::from(target.to_string());
    yaml_serde::to_string(&prom).unwrap()
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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits for a notification to `receiver` about `alertname` with `status` whose labels include
/// `labels`; returns that alert.
async fn notification(inbox: &Inbox, receiver: &str, alertname: &str, status: &str, labels: &[(&str, &str)], limit: Duration) -> Json {
    let deadline = Instant::now() + limit;
    loop {
        let found = inbox.lock().unwrap().iter().filter(|(r, _)| r == receiver).find_map(|(_, payload)| {
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

/// Every panel query and template variable of the dashboard returns data from `prometheus`.
async fn dashboard_queries_return_data(prometheus: SocketAddr) {
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/ticketpulse.json")).unwrap()).unwrap();
    let exprs: Vec<(String, String)> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| {
            p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |t| (p["title"].as_str().unwrap().to_string(), t["expr"].as_str().unwrap().to_string()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut empty = Vec::new();
        for (title, expr) in &exprs {
            let promql = expr
                .replace("$window", "24h")
                .replace("$channel", ".*")
                .replace("$priority", ".*")
                .replace("$team", ".*")
                .replace("$__rate_interval", "1m");
            if query(prometheus, &promql).await.is_empty() {
                empty.push(format!("{title}: {promql}"));
            }
        }
        for var in dashboard["templating"]["list"].as_array().unwrap().iter().filter(|v| v["type"] == "query") {
            let def = var["definition"].as_str().unwrap();
            let (metric, label) = def.strip_prefix("label_values(").unwrap().strip_suffix(')').unwrap().split_once(", ").unwrap();
            let (_, values) = prometheus_api(prometheus, format!("/api/v1/label/{label}/values?match[]={metric}")).await;
            if values["data"].as_array().is_none_or(|v| v.is_empty()) {
                empty.push(format!("variable {}: {def}", var["name"]));
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

/// A generated help desk's last two hours, then a chat ticket of policy `e2e` (first response
/// within 30 s) that nobody answers: Alertmanager gets the at-risk warning at once, the
/// breach page 30 s later with the ticket's policy, channel and priority, and the resolved
/// notification once the ticket is answered and solved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_first_response_warns_then_pages_then_resolves_through_prometheus_and_alertmanager() {
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
    config.dimensions.teams = ["support", "billing", "technical", "sales"].map(String::from).to_vec();
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
    let am_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(dir.path().join("alertmanager.yml"), alertmanager_config(webhook)).unwrap();
    let _alertmanager = Process(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", dir.path().join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", dir.path().join("am").display()))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (run scripts/install-test-deps)"),
    );
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), prometheus_config(target, am_addr)).unwrap();
    let _prometheus = Process(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (run scripts/install-test-deps)"),
    );
    wait_ready(am_addr, "/-/ready", "alertmanager").await;
    wait_ready(prom_addr, "/-/ready", "prometheus").await;

    let created = now_ms();
    let ticket = [event("E2E-1", "E2E", "ticket_created", created, r#","channel":"chat","priority":"urgent","topic":"e2e""#)];
    produce(&broker.bootstrap, topic, &ticket.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let labels = [("policy", "e2e"), ("channel", "chat"), ("priority", "urgent"), ("target", "first_response"), ("team", "support")];

    let warning = notification(&inbox, "support-chat", "TicketpulseSlaAtRisk", "firing", &labels, Duration::from_secs(25)).await;
    assert!(now_ms() < created + 30_000, "the at-risk warning came before the deadline");
    assert_eq!(warning["labels"]["severity"], "warning");
    assert_eq!(warning["annotations"]["summary"], "1 ticket(s) will breach the first_response SLA of policy e2e within 15 minutes");

    let page = notification(&inbox, "support-pager", "TicketpulseSlaBreached", "firing", &labels, Duration::from_secs(60)).await;
    assert!(now_ms() >= created + 30_000, "no page before the deadline");
    assert_eq!(page["labels"]["severity"], "page");
    assert_eq!(page["annotations"]["summary"], "1 open ticket(s) breached the first_response SLA of policy e2e");
    assert_eq!(page["annotations"]["runbook_url"], "docs/runbook.md#ticketpulseslabreached");

    dashboard_queries_return_data(prom_addr).await;

    let answered = now_ms();
    let done = [
        event("E2E-2", "E2E", "message", answered, r#","author":"agent","public":true"#),
        event("E2E-3", "E2E", "status_changed", answered + 1, r#","status":"solved""#),
    ];
    produce(&broker.bootstrap, topic, &done.iter().map(String::as_str).collect::<Vec<_>>()).await;
    notification(&inbox, "support-pager", "TicketpulseSlaBreached", "resolved", &labels, Duration::from_secs(60)).await;
    running.shutdown().await.unwrap();
}

/// Runs `ticketpulse check-config` on `toml` with `env` set.
fn check_config(toml: &str, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticketpulse.toml");
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ticketpulse")).arg("check-config").arg(&path).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "check-config with {env:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// No Docker engine runs here, so the compose file is checked for structure: the services of
/// the stack, healthchecks, mounts that exist, addresses that match the shipped configs, and a
/// ticketpulse environment its own check-config accepts.
#[test]
fn docker_compose_file_is_consistent() {
    let compose = yaml(&deploy("docker-compose.yml"));
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["kafka", "kafka-init", "ticketpulse", "generator", "prometheus", "alertmanager", "grafana"]);
    let service = |name: &str| &compose["services"][name];
    assert!(service("kafka")["image"].as_str().unwrap().starts_with("apache/kafka:"));
    assert_eq!(service("kafka")["environment"]["KAFKA_PROCESS_ROLES"], "broker,controller", "KRaft, one node");
    for name in ["kafka", "ticketpulse", "prometheus", "alertmanager", "grafana"] {
        assert!(service(name)["healthcheck"]["test"].is_sequence(), "{name} has no healthcheck");
    }
    for (name, spec) in services {
        for (dependency, condition) in spec["depends_on"].as_mapping().into_iter().flatten() {
            assert!(names.contains(&dependency.as_str().unwrap()), "{name:?} depends on unknown {dependency:?}");
            let condition = condition["condition"].as_str().unwrap();
            assert!(["service_healthy", "service_started", "service_completed_successfully"].contains(&condition));
        }
        for volume in spec["volumes"].as_sequence().into_iter().flatten() {
            let host = volume.as_str().unwrap().split(':').next().unwrap();
            assert!(deploy(host).exists(), "{name:?} mounts missing {host}");
        }
    }
    // The generator writes where ticketpulse reads; the shipped configs point at these services.
    let generate = service("generator")["command"].as_sequence().unwrap();
    assert_eq!(generate[..5], ["generate", "--brokers", "kafka:9092", "--topic", "ticket-events"].map(Yaml::from));
    let env: Vec<(&str, &str)> = service("ticketpulse")["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap(), v.as_str().unwrap()))
        .collect();
    check_config(&std::fs::read_to_string(Path::new(ROOT).join("config/ticketpulse.toml")).unwrap(), &env);
    let default = ticketpulse::config::Config::default();
    assert_eq!(default.kafka.topics, ["ticket-events"]);
    assert_eq!(service("ticketpulse")["ports"][0], format!("{0}:{0}", default.http.listen.port()).as_str());
    let prom = yaml(&deploy("prometheus/prometheus.yml"));
    assert_eq!(
        prom["scrape_configs"][0]["static_configs"][0]["targets"][0],
        format!("ticketpulse:{}", default.http.listen.port()).as_str()
    );
    assert_eq!(prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0], "alertmanager:9093");
    let datasource = yaml(&deploy("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(datasource["datasources"][0]["url"], "http://prometheus:9090");
    assert_eq!(datasource["datasources"][0]["uid"], "prometheus");
}

/// The dashboard: a fixed uid, the templated variables, and a unit and a description on
/// every panel, in the four rows.
#[test]
fn dashboard_has_uid_variables_units_and_descriptions() {
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/ticketpulse.json")).unwrap()).unwrap();
    assert_eq!(dashboard["uid"], "ticketpulse-overview");
    let variables: Vec<&str> = dashboard["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(variables, ["datasource", "window", "channel", "priority", "team"]);
    let panels = dashboard["panels"].as_array().unwrap();
    let rows: Vec<&str> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(rows, ["Overview", "SLA", "Quality", "Service"]);
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let title = p["title"].as_str().unwrap();
        assert!(p["description"].as_str().is_some_and(|d| d.len() > 20), "{title}: no description");
        assert!(p["fieldConfig"]["defaults"]["unit"].is_string(), "{title}: no unit");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}: datasource not templated");
    }
}

/// Without helm on the build machines (Debian does not package it), the chart is checked for
/// structure: each template, with its template actions blanked, is a Kubernetes object; every
/// value it reads exists; the probes hit the health endpoints; the rule files are the shipped
/// ones; and the default config passes check-config.
#[test]
fn helm_chart_is_structurally_valid() {
    let chart = deploy("kubernetes/ticketpulse");
    assert_eq!(yaml(&chart.join("Chart.yaml"))["apiVersion"], "v2");
    let values = yaml(&chart.join("values.yaml"));
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".Values.") {
            let reference: String = rest[i + 8..].chars().take_while(|c| c.is_alphanumeric() || *c == '.').collect();
            let found = reference.split('.').try_fold(&values, |v, key| v.get(key));
            assert!(found.is_some(), "{}: .Values.{reference} is not in values.yaml", path.display());
            rest = &rest[i + 8..];
        }
        if path.extension().is_some_and(|e| e == "tpl") {
            continue;
        }
        let blanked: String = text
            .lines()
            .filter(|l| !(l.trim_start().starts_with("{{") && l.trim_end().ends_with("}}")))
            .map(|l| {
                let mut out = String::new();
                let mut s = l;
                while let Some(start) = s.find("{{") {
                    let end = s[start..].find("}}").map(|e| start + e + 2).unwrap_or(s.len());
                    out.push_str(&s[..start]);
                    out.push('x');
                    s = &s[end..];
                }
                out + s + "\n"
            })
            .collect();
        let object: Yaml = yaml_serde::from_str(&blanked).unwrap_or_else(|e| panic!("{}: {e}\n{blanked}", path.display()));
        assert!(object["apiVersion"].is_string() && object["metadata"]["name"].is_string(), "{}", path.display());
        let kind = object["kind"].as_str().unwrap().to_string();
        if kind == "Deployment" {
            let container = &object["spec"]["template"]["spec"]["containers"][0];
            assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz/live");
            assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz/ready");
            assert!(text.contains("secretKeyRef") && text.contains("TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD"));
            assert!(values["resources"]["requests"]["memory"].is_string());
        }
        kinds.push(kind);
    }
    kinds.sort();
    assert_eq!(kinds, ["ConfigMap", "Deployment", "PrometheusRule", "Secret", "Service", "ServiceMonitor"]);
    for rules in ["ticketpulse-alerts.yml", "ticketpulse-recording.yml"] {
        let shipped = std::fs::read_to_string(deploy("prometheus/rules").join(rules)).unwrap();
        assert_eq!(
            std::fs::read_to_string(chart.join("rules").join(rules)).unwrap(),
            shipped,
            "chart rules/{rules} differs from deploy/prometheus"
        );
    }
    check_config(values["config"].as_str().unwrap(), &[]);
}
