//! The files of deploy/, checked with the real programs: promtool on the rules and their unit
//! tests, amtool on the Alertmanager config and its routes, helm rendering the chart (and
//! promtool on the rules it renders), and the structure of the compose file and dashboard.
//! tests/ops.rs runs them: Prometheus and Alertmanager against ticketpulse.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value as Json;
use yaml_serde::Value as Yaml;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What the shipped alerts' links start with; the Helm chart replaces both.
const RUNBOOK_BASE: &str = "https://github.com/ticketpulse/ticketpulse/blob/main/docs/runbook.md";
const TICKETS_BASE: &str = "http://{{ $labels.instance }}/tickets";

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

/// The groups of both shipped rule files, alerts first (the order helm's Files.Glob reads them).
fn shipped_groups() -> Vec<Yaml> {
    ["ticketpulse-alerts.yml", "ticketpulse-recording.yml"]
        .iter()
        .flat_map(|f| yaml(&deploy("prometheus/rules").join(f))["groups"].as_sequence().unwrap().clone())
        .collect()
}

fn rules(groups: &[Yaml]) -> impl Iterator<Item = &Yaml> {
    groups.iter().flat_map(|g| g["rules"].as_sequence().unwrap())
}

/// The promtool unit test files of deploy/prometheus/tests, by name.
fn rule_test_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("prometheus/tests")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let alerts = deploy("prometheus/rules/ticketpulse-alerts.yml");
    let recording = deploy("prometheus/rules/ticketpulse-recording.yml");
    let out = run("promtool", &["check", "rules", alerts.to_str().unwrap(), recording.to_str().unwrap()]);
    assert_eq!(out.matches("SUCCESS").count(), 2, "{out}");
    let files = rule_test_files();
    let names: Vec<&str> = files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(
        names,
        ["ticketpulse-alerts-test.yml", "ticketpulse-fleet-long-test.yml", "ticketpulse-fleet-test.yml", "ticketpulse-staffing-test.yml"]
    );
    for file in &files {
        let out = run("promtool", &["test", "rules", file.to_str().unwrap()]);
        assert!(out.contains("SUCCESS"), "{}: {out}", file.display());
    }

    // Group names are unique across both files: the chart puts them in one spec.
    let groups = shipped_groups();
    let mut names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate group names: {names:?}");

    // Every alert has a unit test that fires it, and every label and annotation it must carry.
    let tests: String = rule_test_files().iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let runbook = std::fs::read_to_string(Path::new(ROOT).join("docs/runbook.md")).unwrap();
    let alert_rules: Vec<&Yaml> = rules(&groups).filter(|r| r["alert"].is_string()).collect();
    assert_eq!(alert_rules.len(), 16);
    for rule in alert_rules {
        let name = rule["alert"].as_str().unwrap();
        assert!(tests.contains(&format!("alertname: {name}\n        exp_alerts:\n          - exp_labels")), "{name} never fires in a test");
        assert!(["page", "warning"].contains(&rule["labels"]["severity"].as_str().unwrap()), "{name} severity");
        // A fixed team, or the owning team from a ticketpulse-teams recording rule.
        let expr = rule["expr"].as_str().unwrap();
        assert!(rule["labels"]["team"].is_string() || expr.contains("_team:ticketpulse_"), "{name} has no team");
        for annotation in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][annotation].is_string(), "{name} lacks {annotation}");
        }
        let url = rule["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = url.strip_prefix(&format!("{RUNBOOK_BASE}#")).unwrap_or_else(|| panic!("{name}: runbook_url {url} is not absolute"));
        assert!(
            runbook.lines().any(|l| l.starts_with("## ") && l[3..].to_lowercase().replace(' ', "-") == anchor),
            "no runbook section {anchor}"
        );
        // The SLA alerts of one instance link to the tickets behind them there.
        if name == "TicketpulseSlaBreached" || name == "TicketpulseSlaAtRisk" {
            let state = if name == "TicketpulseSlaBreached" { "breached" } else { "at_risk&horizon=15m" };
            assert_eq!(
                rule["annotations"]["tickets_url"],
                format!("{TICKETS_BASE}?state={state}&policy={{{{ $labels.policy | urlquery }}}}&target={{{{ $labels.target }}}}").as_str()
            );
        }
    }
    // Every fleet-wide recording rule is evaluated by a unit test (an expression that reads
    // it), not only fed to others as input.
    let all_tests: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let fleet: Vec<&Yaml> = groups.iter().filter(|g| g["name"].as_str().unwrap().starts_with("ticketpulse-fleet")).collect();
    assert_eq!(fleet.len(), 2);
    for rule in rules(&fleet.into_iter().cloned().collect::<Vec<_>>()) {
        let record = rule["record"].as_str().unwrap();
        assert!(
            all_tests.lines().any(|l| l.trim_start().starts_with("- expr: ") && l.contains(record)),
            "no promtool test evaluates {record}"
        );
    }
    // Every team rule keeps real teams and merges the rest into "support" without renaming in
    // place (which fails the rule when a team is really called "support").
    let teams = groups.iter().find(|g| g["name"] == "ticketpulse-teams").unwrap();
    for rule in teams["rules"].as_sequence().unwrap() {
        let expr = rule["expr"].as_str().unwrap();
        let record = rule["record"].as_str().unwrap();
        for part in [r#"team!~"|none|other|unknown|support""#, r#"team=~"|none|other|unknown|support""#, r#""team", "support", "", "")"#] {
            assert!(expr.contains(part), "{record} lacks {part}");
        }
    }
}

#[test]
fn amtool_accepts_the_alertmanager_config_and_routes_by_team_and_severity() {
    let config = deploy("alertmanager/alertmanager.yml");
    let config = config.to_str().unwrap();
    let out = run("amtool", &["check-config", config]);
    // One inhibition: the fast burn over the slow one. At-risk warnings are never inhibited.
    assert!(out.contains("SUCCESS") && out.contains("1 inhibit rules") && out.contains("5 receivers"), "{out}");
    let am = yaml(Path::new(config));
    assert_eq!(am["route"]["group_by"], yaml_serde::from_str::<Yaml>("[alertname, team, policy, target]").unwrap());
    for (labels, receiver) in [
        (&["alertname=TicketpulseSlaBreached", "team=support", "severity=page"][..], "support-pager"),
        (&["alertname=TicketpulseSlaBreached", "team=billing", "severity=page"], "support-pager"),
        (&["alertname=TicketpulseSlaAtRisk", "team=support", "severity=warning"], "support-chat"),
        (&["alertname=TicketpulseSlaAtRisk", "team=billing", "severity=warning"], "support-chat"),
        (&["alertname=TicketpulseRuleEvaluationFailures", "team=platform", "severity=page"], "platform-pager"),
        (&["alertname=TicketpulseNoEvents", "team=platform", "severity=warning"], "platform-chat"),
        (&["alertname=TicketpulseStaffingShort", "team=support", "severity=warning", "notify=team-lead"], "support-lead"),
    ] {
        let mut args = vec!["config", "routes", "test", "--config.file", config];
        args.extend(labels);
        // The receiver on the first line; amtool warns on stderr that the file wins over a URL.
        assert_eq!(run("amtool", &args).lines().next(), Some(receiver), "{labels:?}");
    }
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
    // Prometheus scrapes itself: TicketpulseRuleEvaluationFailures reads its counter.
    assert_eq!(prom["scrape_configs"][1]["job_name"], "prometheus");
    assert_eq!(prom["scrape_configs"][1]["static_configs"][0]["targets"][0], "localhost:9090");
    assert_eq!(prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0], "alertmanager:9093");
    let datasource = yaml(&deploy("grafana/provisioning/datasources/prometheus.yml"));
    assert_eq!(datasource["datasources"][0]["url"], "http://prometheus:9090");
    assert_eq!(datasource["datasources"][0]["uid"], "prometheus");
}

/// The SLA compliance objective of the recording rules (`vector(0.95)`).
fn compliance_objective() -> f64 {
    let groups = shipped_groups();
    let rule = rules(&groups).find(|r| r["record"] == "ticketpulse:sla_compliance_objective:ratio").unwrap();
    rule["expr"].as_str().unwrap().trim().strip_prefix("vector(").unwrap().strip_suffix(')').unwrap().parse().unwrap()
}

/// The dashboard: a fixed uid, the templated variables, a unit and a description on every
/// panel, in its rows; the compliance objective as a threshold; week-over-week lines; and
/// every KPI family the issue found unshown, shown.
#[test]
fn dashboard_has_uid_variables_units_descriptions_and_objective_thresholds() {
    let dashboard: Json = serde_json::from_str(&std::fs::read_to_string(deploy("grafana/dashboards/ticketpulse.json")).unwrap()).unwrap();
    assert_eq!(dashboard["uid"], "ticketpulse-overview");
    let variables: Vec<&str> = dashboard["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(variables, ["datasource", "window", "channel", "priority", "team"]);
    let panels = dashboard["panels"].as_array().unwrap();
    let rows: Vec<&str> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(
        rows,
        ["Overview", "Response and resolution", "SLA", "Last 7 / 30 days", "Quality", "Teams", "Agents", "Service", "Staffing now"]
    );
    let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let panels: Vec<&Json> = panels.iter().filter(|p| p["type"] != "row").collect();
    for p in &panels {
        let title = p["title"].as_str().unwrap();
        assert!(p["description"].as_str().is_some_and(|d| d.len() > 20), "{title}: no description");
        assert!(p["fieldConfig"]["defaults"]["unit"].is_string(), "{title}: no unit");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}: datasource not templated");
    }
    let panel = |title: &str| *panels.iter().find(|p| p["title"] == title).unwrap_or_else(|| panic!("no panel {title}"));
    let exprs = |p: &Json| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    // Compliance panels turn at the objective of the recording rules.
    let objective = compliance_objective();
    assert_eq!(objective, 0.95);
    for title in ["SLA compliance", "Compliance by policy and target", "SLA compliance by team", "SLA compliance, last 1 / 7 / 30 days"] {
        let steps = panel(title)["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().unwrap();
        assert_eq!(steps.last().unwrap()["value"].as_f64(), Some(objective), "{title}");
    }
    for title in ["Compliance by policy and target", "SLA compliance by team"] {
        assert_eq!(panel(title)["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"], "line", "{title}");
    }
    for title in ["Error budget left (24h)", "Error budget burn rate"] {
        assert!(exprs(panel(title))[0].contains("(1 - scalar(ticketpulse:sla_compliance_objective:ratio))"), "{title}");
    }
    // Week over week for volume and first response time; means from _sum / _count.
    for title in ["Tickets created, and a week ago", "First response time (mean), and a week ago"] {
        assert!(exprs(panel(title)).last().unwrap().contains(" offset 1w)"), "{title}");
    }
    let frt = exprs(panel("First response time (mean), and a week ago"));
    assert!(frt.iter().all(|e| e.contains("ticketpulse_first_response_time_seconds_sum{") && !e.contains("quantile")), "{frt:?}");
    // Quantiles fleet-wide, from the cumulative histograms deduplicated per partition, never a
    // max over series (of the windowed per-instance quantiles).
    for title in ["First response time by channel and priority", "First response p90 against the target"] {
        let quantiles: Vec<String> = exprs(panel(title)).into_iter().filter(|e| e.contains("histogram_quantile(")).collect();
        assert!(!quantiles.is_empty(), "{title}");
        for expr in exprs(panel(title)) {
            assert!(
                !expr.contains("max by (policy) (ticketpulse_sla_business_time_seconds") && !expr.contains("quantile=\"0."),
                "{title}: {expr}"
            );
        }
        for expr in quantiles {
            assert!(
                expr.contains("(increase(topic_partition:ticketpulse_") && expr.contains("_cumulative_seconds_bucket:max{"),
                "{title}: {expr}"
            );
        }
    }
    // Every recorded series a panel reads is recorded by the shipped rules.
    let groups = shipped_groups();
    let recorded: Vec<&str> = rules(&groups).filter_map(|r| r["record"].as_str()).collect();
    for p in &panels {
        for expr in exprs(p) {
            let names = expr.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).filter(|w| w.matches(':').count() == 2);
            for name in names {
                assert!(recorded.contains(&name), "{}: {name} is not recorded", p["title"]);
            }
        }
    }
    // The last 7 / 30 days: compliance over 1d, 7d and 30d, volume week over week, p90 over 7d.
    let long: Vec<String> = ["SLA compliance, last 1 / 7 / 30 days", "Tickets created, week over week", "First response p90, last 7 days"]
        .iter()
        .flat_map(|t| exprs(panel(t)))
        .collect();
    for name in [
        "policy_target:ticketpulse_sla_compliance:ratio1d",
        "policy_target:ticketpulse_sla_compliance:ratio7d",
        "policy_target:ticketpulse_sla_compliance:ratio30d",
        "channel:ticketpulse_tickets_created:ratio_week_over_week",
        "policy_target:ticketpulse_sla_business_time_seconds:quantile7d",
        "channel:ticketpulse_first_response_time_seconds:quantile7d",
    ] {
        assert!(long.iter().any(|e| e.contains(name)), "{name} is not in the last 7 / 30 days row");
    }
    let all: String = panels.iter().flat_map(|p| exprs(p)).collect::<Vec<_>>().join("\n");
    for family in [
        "ticketpulse_first_resolution_time_seconds",
        "ticketpulse_full_resolution_time_seconds",
        "ticketpulse_next_reply_time_seconds",
        "ticketpulse_average_speed_of_answer_seconds",
        "ticketpulse_cost_per_contact",
        "ticketpulse_cost_per_resolution",
        "ticketpulse_stale_open_tickets",
        "ticketpulse_sla_unmatched_open_tickets",
        "ticketpulse_abandoned_contacts_by_wait",
        "ticketpulse_sla_target_seconds",
        "ticketpulse_staffing_required_agents",
        "ticketpulse_staffing_available_agents",
        "ticketpulse_staffing_expected_service_level_ratio",
        "ticketpulse_staffing_expected_abandon_ratio",
        "ticketpulse_staffing_expected_wait_seconds",
        "ticketpulse_staffing_workload_agents",
        "ticketpulse_staffing_backlog_clear_agents",
    ] {
        assert!(all.contains(family), "{family} is not on the dashboard");
    }
    // The agent table: every per-agent family, by agent over instances, means from sums.
    let agents = exprs(panel("Agents"));
    assert_eq!(agents.len(), 6);
    assert!(agents.iter().all(|e| e.starts_with("sum by (agent) (ticketpulse_agent_")), "{agents:?}");
    for family in [
        "ticketpulse_agent_replies",
        "ticketpulse_agent_first_response_time_seconds_sum",
        "ticketpulse_agent_first_response_time_seconds_count",
        "ticketpulse_agent_tickets_solved",
        "ticketpulse_agent_logged_work_seconds",
        "ticketpulse_agent_csat_good_responses",
        "ticketpulse_agent_csat_responses",
    ] {
        assert!(agents.iter().any(|e| e.contains(&format!("{family}{{"))), "{family} is not in the agent table");
    }
    // The team row breaks down by team.
    assert_eq!(panels.iter().filter(|p| exprs(p).iter().all(|e| e.starts_with("sum by (team)"))).count(), 6);
}

/// Renders the chart with helm (installed by scripts/install-test-deps); the documents by kind.
fn helm_template(args: &[&str]) -> Vec<Yaml> {
    let chart = deploy("kubernetes/ticketpulse");
    let mut all = vec!["template", "t", chart.to_str().unwrap()];
    all.extend(args);
    let out = Command::new("helm").args(&all).output().expect("helm (run scripts/install-test-deps)");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "helm {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    yaml_serde::Deserializer::from_str(&text).map(|d| Yaml::deserialize(d).unwrap()).filter(|d| !d.is_null()).collect()
}

fn kind<'a>(docs: &'a [Yaml], kind: &str) -> &'a Yaml {
    docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

/// Writes the rendered PrometheusRule's groups as a rule file; `promtool check rules` on it.
fn promtool_check_rendered(groups: &Yaml, dir: &Path) -> PathBuf {
    let path = dir.join("rendered-rules.yml");
    let mut file = yaml_serde::Mapping::new();
    file.insert("groups".into(), groups.clone());
    std::fs::write(&path, yaml_serde::to_string(&file).unwrap()).unwrap();
    let out = run("promtool", &["check", "rules", path.to_str().unwrap()]);
    let rules = rules(&shipped_groups()).count();
    assert!(out.contains(&format!("SUCCESS: {rules} rules found")), "{out}");
    path
}

/// helm renders the chart: every object, the probes, the SASL secret, the PrometheusRule with
/// exactly the shipped groups, which promtool accepts and which pass the same unit tests; the
/// runbook and ticket links follow the values, and operators' selector labels land on the
/// ServiceMonitor and PrometheusRule.
#[test]
fn helm_renders_the_chart_and_promtool_accepts_its_rules() {
    let chart = deploy("kubernetes/ticketpulse");
    let lint = run("helm", &["lint", chart.to_str().unwrap()]);
    assert!(lint.contains("1 chart(s) linted, 0 chart(s) failed"), "{lint}");
    let values = yaml(&chart.join("values.yaml"));
    // Every value a template reads exists (helm renders a missing one as empty).
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
    }

    let docs = helm_template(&["--set", "kafkaSasl.enabled=true", "--set", "kafkaSasl.password=secret"]);
    let mut kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["ConfigMap", "Deployment", "PrometheusRule", "Secret", "Service", "ServiceMonitor"]);
    let container = &kind(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz/live");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/healthz/ready");
    let password =
        container["env"].as_sequence().unwrap().iter().find(|e| e["name"] == "TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD").unwrap();
    assert_eq!(password["valueFrom"]["secretKeyRef"]["name"], kind(&docs, "Secret")["metadata"]["name"]);
    assert_eq!(kind(&docs, "Secret")["stringData"]["password"], "secret");
    assert!(values["resources"]["requests"]["memory"].is_string());
    check_config(kind(&docs, "ConfigMap")["data"]["ticketpulse.toml"].as_str().unwrap(), &[]);
    for rules in ["ticketpulse-alerts.yml", "ticketpulse-recording.yml"] {
        let shipped = std::fs::read_to_string(deploy("prometheus/rules").join(rules)).unwrap();
        assert_eq!(
            std::fs::read_to_string(chart.join("rules").join(rules)).unwrap(),
            shipped,
            "chart rules/{rules} differs from deploy/prometheus"
        );
    }

    // With the default values the rendered groups are the shipped ones, and pass their tests.
    let dir = tempfile::tempdir().unwrap();
    let groups = &kind(&docs, "PrometheusRule")["spec"]["groups"];
    assert_eq!(groups.as_sequence().unwrap(), &shipped_groups());
    let rendered = promtool_check_rendered(groups, dir.path());
    let shipped_files = "rule_files:\n  - ../rules/ticketpulse-recording.yml\n  - ../rules/ticketpulse-alerts.yml\n";
    for file in rule_test_files() {
        let tests = std::fs::read_to_string(&file).unwrap();
        assert!(tests.contains(shipped_files), "{}", file.display());
        let tests = tests.replace(shipped_files, &format!("rule_files:\n  - {}\n", rendered.display()));
        std::fs::write(dir.path().join("tests.yml"), tests).unwrap();
        let out = run("promtool", &["test", "rules", dir.path().join("tests.yml").to_str().unwrap()]);
        assert!(out.contains("SUCCESS"), "{}: {out}", file.display());
    }

    // Links and selector labels from the values.
    let docs = helm_template(&[
        "--set",
        "prometheusRule.runbookBaseUrl=https://wiki.example.com/ticketpulse/runbook",
        "--set-string",
        "prometheusRule.ticketsBaseUrl=https://ticketpulse.example.com/{{ $labels.namespace }}/{{ $labels.pod }}",
        "--set",
        "prometheusRule.labels.release=kube-prometheus-stack",
        "--set",
        "serviceMonitor.labels.release=kube-prometheus-stack",
    ]);
    for kind_name in ["PrometheusRule", "ServiceMonitor"] {
        let labels = &kind(&docs, kind_name)["metadata"]["labels"];
        assert_eq!(labels["release"], "kube-prometheus-stack", "{kind_name}");
        assert_eq!(labels["app.kubernetes.io/name"], "ticketpulse", "{kind_name}");
    }
    let groups = &kind(&docs, "PrometheusRule")["spec"]["groups"];
    promtool_check_rendered(groups, dir.path());
    let alerts: Vec<&Yaml> = rules(groups.as_sequence().unwrap()).filter(|r| r["alert"].is_string()).collect();
    let shipped = shipped_groups();
    let shipped: Vec<&Yaml> = rules(&shipped).filter(|r| r["alert"].is_string()).collect();
    assert_eq!(alerts.len(), shipped.len());
    let mut links = 0;
    for (rule, shipped) in alerts.into_iter().zip(shipped) {
        let anchor = shipped["annotations"]["runbook_url"].as_str().unwrap().strip_prefix(RUNBOOK_BASE).unwrap();
        assert_eq!(rule["annotations"]["runbook_url"], format!("https://wiki.example.com/ticketpulse/runbook{anchor}").as_str());
        if let Some(url) = rule["annotations"]["tickets_url"].as_str() {
            assert!(url.starts_with("https://ticketpulse.example.com/{{ $labels.namespace }}/{{ $labels.pod }}/tickets?state="), "{url}");
            links += 1;
        }
    }
    assert_eq!(links, 2, "SlaBreached and SlaAtRisk link to their tickets");
}
