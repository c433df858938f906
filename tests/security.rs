//! Secure Kafka: TLS end to end through a real broker (tansu behind socat's TLS terminator)
//! with the certificate verified against a CA the test generates, a wrong CA refused, the
//! librdkafka build's security features, and secrets that never reach the output.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{
    assert_within_1pct, client, config, create_topics_with, http_get, parse_exposition, produce_with, scrape_until, value, Pki, TlsBroker,
};

/// Runs the binary with `args` and extra environment, to completion.
fn ticketpulse(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(args).envs(env.iter().copied()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn version_names_librdkafka_and_its_security_features() {
    let out = ticketpulse(&["--version"], &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], concat!("ticketpulse ", env!("CARGO_PKG_VERSION")));
    let features = lines[1].strip_prefix("librdkafka 2.12.1 (builtin.features: ").and_then(|f| f.strip_suffix(')'));
    let features: Vec<&str> = features.unwrap_or_else(|| panic!("{stdout}")).split(',').collect();
    for needed in ["ssl", "sasl", "sasl_plain", "sasl_scram", "sasl_oauthbearer"] {
        assert!(features.contains(&needed), "{needed} missing from {features:?}");
    }
    assert_eq!(lines.len(), 2, "{stdout}");
}

#[test]
fn a_mistyped_property_fails_check_config_and_run_naming_it_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.toml", "[kafka.librdkafka]\n\"sasl.username\" = \"bob\"\n\"sasl.pasword\" = \"hunter2\"\n");
    let path = path.to_str().unwrap();
    for args in [["check-config", path].as_slice(), ["run", "--config", path].as_slice()] {
        let out = ticketpulse(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out),
            "error: kafka.librdkafka.sasl.pasword: No such configuration property: \"sasl.pasword\"\n",
            "{args:?}: the whole output"
        );
    }
}

#[test]
fn secret_values_are_refused_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // A secret-named property librdkafka refuses.
        ("\"ssl_key\" = \"hunter2\"\n", "kafka.librdkafka.ssl_key: Internal property \"ssl_key\" not settable"),
        // librdkafka echoes a bad value; here it is the password, pasted into the wrong field.
        (
            "\"sasl.password\" = \"hunter2\"\n\"sasl.mechanisms\" = \"PLAIN\"\n\"security.protocol\" = \"hunter2\"\n",
            "kafka.librdkafka.security.protocol: Invalid value \"[redacted]\" for configuration property \"security.protocol\"",
        ),
        // Through an environment override, the documented way to pass a secret: OIDC needs
        // libcurl, which this build leaves out.
        (
            "",
            "kafka.librdkafka.sasl.oauthbearer.assertion.private.key.passphrase: Configuration property \"sasl.oauthbearer.assertion.private.key.passphrase\" not supported in this build: OAuth/OIDC depends on libcurl",
        ),
    ];
    for (i, (properties, expected)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("{i}.toml"), &format!("[kafka.librdkafka]\n{properties}"));
        let env: &[(&str, &str)] = if properties.is_empty() {
            &[("TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__OAUTHBEARER__ASSERTION__PRIVATE__KEY__PASSPHRASE", "hunter2")]
        } else {
            &[]
        };
        let out = ticketpulse(&["check-config", path.to_str().unwrap()], env);
        assert_eq!(out.status.code(), Some(1));
        let output = text(&out);
        assert!(output.starts_with(&format!("error: {expected}")), "case {i}: {output}");
        assert!(!output.contains("hunter2"), "case {i}: {output}");
    }
}

/// Intake secrets in the environment are taken verbatim and never printed: a numeric one
/// is a string like any other, for `check-config`, `run` and `intake` alike (one loader).
#[test]
fn numeric_intake_secrets_from_the_environment_load_and_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "4839201746582910";
    // `run` and `intake` fail after the configuration loaded, for reasons of their own: a
    // misspelt librdkafka property, and no intake source enabled.
    let after_load = write(dir.path(), "t.toml", "[kafka.librdkafka]\n\"sasl.pasword\" = \"x\"\n");
    let after_load = after_load.to_str().unwrap();
    let empty = write(dir.path(), "empty.toml", "");
    let empty = empty.to_str().unwrap();
    for variable in ["TICKETPULSE_INTAKE__CHATWOOT__SECRET", "TICKETPULSE_INTAKE__ZENDESK__SIGNING_SECRET"] {
        let env = [(variable, secret)];
        let check = ticketpulse(&["check-config", empty], &env);
        assert!(check.status.success(), "{variable}: {}", text(&check));
        assert!(!text(&check).contains(secret), "{variable}: {}", text(&check));
        let run = ticketpulse(&["run", "--config", after_load], &env);
        assert_eq!(
            text(&run),
            "error: kafka.librdkafka.sasl.pasword: No such configuration property: \"sasl.pasword\"\n",
            "{variable}: the whole output"
        );
        let intake = ticketpulse(&["intake", "--config", empty], &env);
        assert_eq!(intake.status.code(), Some(1), "{variable}: {}", text(&intake));
        assert!(text(&intake).contains("intake: enable at least one of intake.zendesk and intake.chatwoot"), "{}", text(&intake));
        assert!(!text(&intake).contains(secret), "{variable}: {}", text(&intake));
    }
}

/// In the TOML file a secret must be quoted: a number is refused naming the field, and the
/// value is not in the message.
#[test]
fn a_numeric_intake_secret_in_the_file_is_refused_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    for (section, field) in [("intake.chatwoot", "secret"), ("intake.zendesk", "signing_secret")] {
        let path = write(dir.path(), "t.toml", &format!("[{section}]\n{field} = 4839201746582910\n"));
        let out = ticketpulse(&["check-config", path.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out),
            format!("error: {section}.{field}: must be a string (in quotes); the value is not shown (from {})\n", path.display())
        );
    }
}

#[test]
fn run_does_not_print_a_secret_librdkafka_echoes_when_creating_a_client() {
    let dir = tempfile::tempdir().unwrap();
    // Valid property by property, so check-config passes; only creating a client reads the
    // keystore, and librdkafka's error then echoes the (secret-named) property's value.
    let keystore = write(dir.path(), "hunter2.p12", "not PKCS#12");
    let toml = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[snapshots]\nstore = \"none\"\n[kafka.librdkafka]\n\"security.protocol\" = \"SSL\"\n\
         \"ssl.keystore.location\" = \"{}\"\n\"ssl.keystore.password\" = \"hunter2\"\n",
        keystore.display()
    );
    let path = write(dir.path(), "t.toml", &toml);
    let check = ticketpulse(&["check-config", path.to_str().unwrap()], &[]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains(r#""ssl.keystore.password": "[redacted]""#) && !text(&check).contains("hunter2"), "{}", text(&check));
    let out = ticketpulse(&["run", "--config", path.to_str().unwrap()], &[("RUST_LOG", "debug")]);
    assert_eq!(out.status.code(), Some(1));
    let output = text(&out);
    let expected =
        "error: could not create the Kafka consumer: Client creation error: Error reading ssl.keystore.location PKCS#12 file: [redacted]: ";
    assert!(output.contains(expected), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}

#[test]
fn a_secret_librdkafka_echoes_at_run_time_is_redacted_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    // librdkafka quotes the unparsable rest of this (sensitive) property in its error.
    let toml = format!(
        "[kafka]\nbrokers = \"127.0.0.1:{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[snapshots]\nstore = \"none\"\n[kafka.librdkafka]\n\
         \"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanisms\" = \"OAUTHBEARER\"\n\"enable.sasl.oauthbearer.unsecure.jwt\" = true\n\
         \"sasl.oauthbearer.config\" = \"principal=bob xyzzy=hunter2\"\n",
        common::free_port()
    );
    let service = common::Service::spawn(&write(dir.path(), "t.toml", &toml));
    let log = service.wait_for_log(Duration::from_secs(30), |log| log.contains("beginning at:"));
    drop(service);
    assert!(
        log.contains("Failed to acquire SASL OAUTHBEARER token: Unrecognized sasl.oauthbearer.config beginning at:[redacted]"),
        "{log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
}

/// The Helm chart's SASL settings, as the Deployment passes them (environment overrides with
/// the password from the Secret), are properties librdkafka accepts.
#[test]
fn the_helm_charts_sasl_environment_is_accepted() {
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/ticketpulse");
    let values: yaml_serde::Value = yaml_serde::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap()).unwrap();
    let deployment = std::fs::read_to_string(chart.join("templates/deployment.yaml")).unwrap();
    let lines: Vec<&str> = deployment.lines().map(str::trim).collect();
    let mut env: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = line.strip_prefix("- name: TICKETPULSE_KAFKA__LIBRDKAFKA__") else { continue };
        let value = match lines[i + 1].strip_prefix("value: {{ .Values.kafkaSasl.").and_then(|v| v.strip_suffix(" | quote }}")) {
            Some(field) => values["kafkaSasl"][field].as_str().unwrap_or_else(|| panic!("kafkaSasl.{field}")).to_string(),
            None => {
                assert_eq!(lines[i + 1], "valueFrom:", "{name}");
                "hunter2".to_string()
            }
        };
        env.push((format!("TICKETPULSE_KAFKA__LIBRDKAFKA__{name}"), value));
    }
    assert_eq!(env.len(), 4, "{env:?}");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ticketpulse.toml");
    let out = ticketpulse(&["check-config", shipped.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", text(&out));
    let shown = r#"librdkafka properties {"sasl.mechanisms": "SCRAM-SHA-512", "sasl.password": "[redacted]", "sasl.username": "ticketpulse", "security.protocol": "SASL_SSL"}"#;
    assert!(text(&out).contains(shown), "{}", text(&out));
}

/// Three email tickets answered after 10, 20 and 60 minutes, then a later ticket that moves
/// the watermark past them.
const TLS_SCENARIO: [&str; 7] = [
    r#"{"event_id":"T1-1","ticket_id":"T1","type":"ticket_created","at":"2026-01-05T09:00:00Z","channel":"email","priority":"normal"}"#,
    r#"{"event_id":"T2-1","ticket_id":"T2","type":"ticket_created","at":"2026-01-05T09:05:00Z","channel":"email","priority":"normal"}"#,
    r#"{"event_id":"T1-2","ticket_id":"T1","type":"message","at":"2026-01-05T09:10:00Z","author":"agent"}"#,
    r#"{"event_id":"T3-1","ticket_id":"T3","type":"ticket_created","at":"2026-01-05T09:10:00Z","channel":"email","priority":"normal"}"#,
    r#"{"event_id":"T2-2","ticket_id":"T2","type":"message","at":"2026-01-05T09:25:00Z","author":"agent"}"#,
    r#"{"event_id":"T3-2","ticket_id":"T3","type":"message","at":"2026-01-05T10:10:00Z","author":"agent"}"#,
    r#"{"event_id":"Z-1","ticket_id":"Z","type":"ticket_created","at":"2026-01-05T10:20:00Z","channel":"web","priority":"low"}"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_verified_broker_certificate_gives_exact_kpis() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let broker = TlsBroker::start(&pki.server_pem);
    let ca = pki.ca.to_str().unwrap();
    let tls = [("security.protocol", "SSL"), ("ssl.ca.location", ca)];
    let topic = "tickets-tls";
    let test_client = client(&broker.bootstrap, &tls);
    create_topics_with(&test_client, &[(topic, 1), ("tickets-tls-dlq", 1)]).await;
    produce_with(&test_client, topic, &TLS_SCENARIO).await;

    let mut config = config(&broker.bootstrap, topic);
    config.snapshots.store = ticketpulse::config::SnapshotStoreKind::None;
    for (key, value) in tls {
        config.kafka.librdkafka.insert(key.into(), value.into());
    }
    let running = ticketpulse::service::start(config).await.unwrap();
    let addr = running.http_addr;
    let text = scrape_until(addr, |s| common::total_events(s) == 7.0).await;
    let s = parse_exposition(&text);
    let email = [("window", "24h"), ("channel", "email"), ("priority", "normal")];
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email), 3.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_count", &email), 3.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &email), 600.0 + 1200.0 + 3600.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_max_seconds", &email), 3600.0);
    let p50 = [("window", "24h"), ("channel", "email"), ("priority", "normal"), ("quantile", "0.5")];
    assert_within_1pct(value(&s, "ticketpulse_first_response_time_seconds", &p50), 1200.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "ok")]), 4.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "ok")]), 3.0);
    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz/ready")).await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    running.shutdown().await.unwrap();
    eprintln!("TLS end to end (certificates, tansu, socat, produce, consume, scrape): {:.1?}", started.elapsed());
}

/// Waits until `/healthz/ready` answers `body` and returns its status.
fn readiness(addr: std::net::SocketAddr, body: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, got) = http_get(addr, "/healthz/ready").unwrap();
        if got == body {
            return status;
        }
        assert!(Instant::now() < deadline, "readiness: {status} {got}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A config file for the `run` subprocess: `brokers`, an HTTP port, no snapshots, and
/// `properties` under `[kafka.librdkafka]`.
fn service_config(dir: &Path, brokers: &str, port: u16, properties: &[(&str, &str)]) -> PathBuf {
    let properties: String = properties.iter().map(|(k, v)| format!("\"{k}\" = \"{v}\"\n")).collect();
    let toml = format!(
        "[kafka]\nbrokers = \"{brokers}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n[snapshots]\nstore = \"none\"\n[kafka.librdkafka]\n{properties}"
    );
    write(dir, "service.toml", &toml)
}

#[test]
fn a_broker_certificate_from_another_ca_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let broker = TlsBroker::start(&pki.server_pem);
    let port = common::free_port();
    let other_ca = pki.other_ca.to_str().unwrap();
    let config = service_config(dir.path(), &broker.bootstrap, port, &[("security.protocol", "SSL"), ("ssl.ca.location", other_ca)]);
    let mut service = common::Service::spawn(&config);
    let log = service.wait_for_log(Duration::from_secs(60), |log| log.contains("certificate verify failed"));
    let line = log.lines().find(|l| l.contains("certificate verify failed")).unwrap();
    assert!(line.contains("ERROR") && line.contains("SSL handshake failed"), "{line}");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(readiness(addr, "not ready: no Kafka broker reachable\n"), 503);
    assert_eq!(http_get(addr, "/healthz/live").unwrap().0, 200);
    assert!(service.running(), "the service stays up");
}

/// SCRAM-SHA-512 over TLS (SASL_SSL, as the Helm chart sets it) against tansu's SASL. tansu
/// cannot be given a user here: `tansu user create` speaks no SASL and a broker started with
/// `--authentication` answers it NotAuthenticated, while its memory storage does not outlive a
/// restart. So this shows the mechanism negotiated end to end through TLS, the SCRAM
/// exchange carried out, and credentials the broker does not accept refused with a clear
/// error, readiness 503 and the password nowhere in the log.
#[test]
fn scram_over_tls_with_credentials_the_broker_refuses_fails_clearly_and_readiness_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::generate(dir.path());
    let broker = TlsBroker::start_with_authentication(&pki.server_pem);
    let port = common::free_port();
    let sasl = [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", pki.ca.to_str().unwrap()),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "ticketpulse"),
        ("sasl.password", "hunter2"),
    ];
    let mut service = common::Service::spawn(&service_config(dir.path(), &broker.bootstrap, port, &sasl));
    let log = service.wait_for_log(Duration::from_secs(60), |log| log.contains("SASL SCRAM authentication failed"));
    let line = log.lines().find(|l| l.contains("Kafka client error") && l.contains("SASL SCRAM authentication failed")).unwrap();
    assert!(line.contains("ERROR") && line.contains("Authentication") && line.contains("broker responded with unknown-user"), "{line}");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(readiness(addr, "not ready: no Kafka broker reachable\n"), 503);
    assert!(service.running(), "the service stays up");
    assert!(!service.stderr().contains("hunter2"), "{}", service.stderr());
}

/// Every label value of a text exposition, unescaped enough to measure (`\"`, `\\`, `\n`).
fn label_values(exposition: &str) -> Vec<String> {
    let mut values = Vec::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let Some(labels) = line.split_once('{').map(|(_, rest)| rest) else { continue };
        let mut chars = labels.chars();
        while chars.by_ref().any(|c| c == '"') {
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            values.push(value);
        }
    }
    values
}

/// Issue 24 (3): 25 tickets with 65 000-character topics once made a 3.6 MB exposition (20
/// topics × 3 windows × 65 KB) that a Prometheus with `label_value_length_limit` refuses
/// whole. Now no label value from input is longer than 128 bytes: the topics are read as
/// `other` and counted; over-long channels and teams are `other` by the configured lists; an
/// over-long `agent_id` is refused like any id.
#[test]
fn label_values_from_input_are_at_most_128_bytes_and_the_mapped_ones_are_counted() {
    use std::sync::Arc;
    use ticketpulse::engine::{Engine, Rules};
    use ticketpulse::internal_events::Telemetry;

    let mut config = ticketpulse::config::Config::default();
    config.dimensions.labels.push(ticketpulse::config::Dimension::Team);
    config.dimensions.teams = vec!["billing".into()];
    config.kpis.agents.enabled = true;
    // Room for T0's long channel and team beside its topic (the default is 64 KiB).
    config.events.max_message_bytes = 80_000;
    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry)));
    let partition = ("tickets".to_string(), 0);
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let at = 1_767_600_000_000i64; // 2026-01-05T08:00:00Z
    for i in 0..25u8 {
        // 25 distinct topics of 65 000 characters.
        let topic = long(char::from(b'a' + i), 65_000);
        let (channel, team) = if i == 0 { (long('c', 1000), long('t', 1000)) } else { ("email".into(), "billing".into()) };
        let created = serde_json::json!({"event_id": format!("T{i}/c"), "ticket_id": format!("T{i}"), "type": "ticket_created",
            "at": at + i64::from(i) * 1000, "channel": channel, "team": team, "topic": topic});
        engine.handle(&partition, created.to_string().as_bytes(), None, &"test").expect("a long topic is no reason to refuse a ticket");
    }
    // Moves the watermark (stream time − 10 s) past the 25; itself buffered, in no window.
    let later = serde_json::json!({"event_id": "Z/c", "ticket_id": "Z", "type": "ticket_created", "at": at + 40_000, "channel": "web"});
    engine.handle(&partition, later.to_string().as_bytes(), None, &"test").unwrap();
    let reply = serde_json::json!({"event_id": "T0/r", "ticket_id": "T0", "type": "message", "at": at + 60_000, "author": "agent",
        "agent_id": long('a', 1000)});
    let refused = engine.handle(&partition, reply.to_string().as_bytes(), None, &"test").unwrap_err();
    assert_eq!((refused.reason.as_str(), refused.detail.as_str()), ("bad_value", "`agent_id` must be 1 to 128 bytes, got 1000"));

    let text = ticketpulse::exporter::scrape(&ticketpulse::exporter::Metrics::new(
        engine,
        ticketpulse::exporter::ExportRules::new(&config),
        telemetry,
        None,
    ));
    let longest = label_values(&text).into_iter().map(|v| v.len()).max().unwrap();
    assert!(longest <= 128, "a label value of {longest} bytes");
    let s = parse_exposition(&text);
    // All 25 created within the first 25 s, so in every window: all `other`, and no other series.
    let by_topic: Vec<(&str, f64)> =
        s.iter().filter(|(k, _)| k.starts_with("ticketpulse_tickets_created_by_topic{")).map(|(k, v)| (k.as_str(), *v)).collect();
    let other = |window| common::key("ticketpulse_tickets_created_by_topic", &[("window", window), ("topic", "other")]);
    assert_eq!(by_topic, [(other("1h").as_str(), 25.0), (other("24h").as_str(), 25.0), (other("5m").as_str(), 25.0)]);
    // T0's channel and team are outside the configured lists: `other`; the 24 others are listed.
    let created = |channel, team| {
        value(&s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", channel), ("priority", "normal"), ("team", team)])
    };
    assert_eq!((created("other", "other"), created("email", "billing")), (1.0, 24.0));
    // Counted by the engine that ingested them (not process-wide): these 25 topics, and none
    // in another engine's telemetry of the same process (replay and tests run several).
    assert_eq!(value(&s, "ticketpulse_label_values_mapped_total", &[("field", "topic"), ("reason", "too_long")]), 25.0);
    assert_eq!(ticketpulse::internal_events::Telemetry::default().label_values_mapped_counts(), [("topic", "too_long", 0)]);
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "bad_value")]), 1.0);
}

/// Issue 24 (6): each property was checked on its own, so `check-config` passed a mechanism
/// librdkafka refuses only when `run` creates its clients ("Unsupported hash function"). Now
/// the clients are created offline at check time; the TLS files need not exist there.
#[test]
fn check_config_refuses_a_sasl_mechanism_librdkafka_refuses_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let properties = |mechanism: &str| {
        format!(
            "[kafka.librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.mechanisms\" = \"{mechanism}\"\n\
             \"sasl.username\" = \"bob\"\n\"sasl.password\" = \"hunter2\"\n\"ssl.ca.location\" = \"/nonexistent/ca.pem\"\n"
        )
    };
    let bad = write(dir.path(), "bad.toml", &properties("SCRAM-SHA-999"));
    let out = ticketpulse(&["check-config", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out), "error: kafka.librdkafka.sasl.mechanisms: Unsupported hash function: SCRAM-SHA-999 (try SCRAM-SHA-512)\n");
    let good = write(dir.path(), "good.toml", &properties("SCRAM-SHA-256"));
    let out = ticketpulse(&["check-config", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));
}

/// Issue 24 (6): with `sasl.password = "e"` the log redaction rewrote every `e`
/// (`sasl_plaint[redacted]xt … Brok[redacted]r`), garbling the log and showing where the
/// secret's letters are. A secret under 6 characters is now not searched for; `run` warns.
#[test]
fn a_one_letter_password_garbles_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let closed = common::free_port();
    let toml = format!(
        "[kafka]\nbrokers = \"127.0.0.1:{closed}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[snapshots]\nstore = \"none\"\n\
         [kafka.librdkafka]\n\"security.protocol\" = \"SASL_PLAINTEXT\"\n\"sasl.mechanisms\" = \"PLAIN\"\n\
         \"sasl.username\" = \"bob\"\n\"sasl.password\" = \"e\"\n"
    );
    let service = common::Service::spawn(&write(dir.path(), "t.toml", &toml));
    let bootstrap = format!("sasl_plaintext://127.0.0.1:{closed}/bootstrap");
    let log = service.wait_for_log(Duration::from_secs(30), |log| log.contains("BrokerTransportFailure"));
    drop(service);
    assert!(log.contains(&bootstrap), "librdkafka's broker name, whole: {log}");
    assert!(!log.contains("[redacted]"), "{log}");
    assert!(log.contains("a secret of kafka.librdkafka is shorter than 6 characters"), "{log}");
}
