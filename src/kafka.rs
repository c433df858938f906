//! The Kafka client configuration every ticketpulse client shares (the consumer, the
//! dead-letter producer, the snapshot store, the intake producer): the brokers and the
//! passed-through `kafka.librdkafka` properties, checked by librdkafka itself before anything
//! starts; and the client callbacks they share ([`ClientLog`], and [`ClientReports`] for the
//! clients that drive readiness).
//!
//! Secrets stay secret: the value of a property whose name holds `password`, `secret`, `key`
//! or `token` (or of `sasl.oauthbearer.config`) is never printed, and every text librdkafka
//! hands back (errors, log lines) is scrubbed of those values before it is shown, since
//! librdkafka's own messages may echo them.

use std::sync::Arc;

use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::BaseProducer;
use rdkafka::{ClientContext, Statistics};

use crate::base::{is_secret, REDACTED};
use crate::config::{bad, ConfigError, KafkaConfig};
use crate::internal_events::{KafkaClientError, Telemetry};

/// Settings every Kafka client of ticketpulse shares: the brokers and the passed-through
/// `kafka.librdkafka` properties (security, SASL, ...).
pub fn client_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.brokers);
    for (key, value) in &config.librdkafka {
        client.set(key, value);
    }
    client
}

/// Has librdkafka check every property, one at a time so the error names the field:
/// unknown names, malformed values and features this build lacks are refused here, by
/// `check-config`, rather than when `run` creates its clients.
pub fn validate(config: &KafkaConfig) -> Result<(), ConfigError> {
    let secrets = Secrets::of(&client_config(config));
    let fields = std::iter::once(("kafka.brokers".to_string(), "bootstrap.servers", &config.brokers))
        .chain(config.librdkafka.iter().map(|(k, v)| (format!("kafka.librdkafka.{k}"), k.as_str(), v)));
    for (field, key, value) in fields {
        let mut single = ClientConfig::new();
        single.set(key, value);
        if let Err(error) = single.create_native_config() {
            return Err(bad(field, secrets.describe(&error)));
        }
    }
    Ok(())
}

/// The kind of client [`check_offline`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Consumer,
    Producer,
}

/// Has librdkafka create a client of `client` as `run` would, but offline, and drop it: the
/// checks librdkafka makes only then (the SASL mechanism's values, e.g. `sasl.mechanisms =
/// "SCRAM-SHA-999"` is "Unsupported hash function", SCRAM without `sasl.username` and
/// `sasl.password`, combinations such as `enable.idempotence` with `acks=1`) fail
/// `check-config` rather than `run`. Offline: without `bootstrap.servers` the client contacts
/// no broker, and with TLS turned off (`SSL` read as `PLAINTEXT`, `SASL_SSL` as
/// `SASL_PLAINTEXT`) it reads no certificate or key, files which may exist only where `run`
/// runs (a wrong path still fails `run` at once, naming it). The error names the property
/// it is about when the message quotes its name or value, else `kafka.librdkafka`; secrets
/// never show.
pub fn check_offline(client: &ClientConfig, kind: ClientKind, config: &KafkaConfig) -> Result<(), ConfigError> {
    let mut offline = client.clone();
    offline.remove("bootstrap.servers");
    if let Some(protocol) = offline.get("security.protocol").map(str::to_ascii_lowercase) {
        let without_tls = match protocol.as_str() {
            "ssl" => "plaintext",
            "sasl_ssl" => "sasl_plaintext",
            _ => &protocol,
        };
        offline.set("security.protocol", without_tls.to_string());
    }
    let created = match kind {
        ClientKind::Consumer => offline.create_with_context::<_, BaseConsumer<Offline>>(Offline).map(drop),
        ClientKind::Producer => offline.create_with_context::<_, BaseProducer<Offline>>(Offline).map(drop),
    };
    created.map_err(|error| {
        let secrets = Secrets::of(client);
        let message = match &error {
            KafkaError::ClientCreation(message) => secrets.redact(message),
            other => secrets.describe(other),
        };
        bad(property_named(&message, config), message)
    })
}

/// The `kafka.librdkafka` field a client creation error is about: the property whose name it
/// quotes, else the one whose (non-secret) value it quotes, else the section.
fn property_named(message: &str, config: &KafkaConfig) -> String {
    let by_name = config.librdkafka.keys().find(|k| message.contains(k.as_str()));
    let by_value = || {
        let quoted = config.librdkafka.iter().filter(|(k, v)| !is_secret(k) && !v.is_empty() && message.contains(v.as_str()));
        quoted.max_by_key(|(_, v)| v.len()).map(|(k, _)| k)
    };
    match by_name.or_else(by_value) {
        Some(key) => format!("kafka.librdkafka.{key}"),
        None => "kafka.librdkafka".to_string(),
    }
}

/// The context of a client created only to be checked: what it would log is of no use (it
/// has no broker to reach), and its creation error is reported instead.
struct Offline;

impl ClientContext for Offline {
    fn log(&self, _: RDKafkaLogLevel, _: &str, _: &str) {}
    fn error(&self, _: KafkaError, _: &str) {}
}

impl ConsumerContext for Offline {}

impl rdkafka::producer::ProducerContext for Offline {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

/// The shortest secret searched for in free text (librdkafka's log lines and errors), and the
/// shortest run of a secret's characters taken for an echo of it: librdkafka sometimes echoes
/// only part of a value ("... beginning at: <the rest>"). A shorter secret is not searched
/// for: `sasl.password = "e"` would match inside every word, garbling every line (`Brok[redacted]r`)
/// and showing where the secret's letters are. Where librdkafka quotes a property's value
/// (configuration errors), a secret is redacted by property, whatever its length.
pub const MIN_ECHO: usize = 6;

/// The values of a client configuration's secret properties, to scrub from any text shown.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn of(client: &ClientConfig) -> Self {
        let values = client.config_map().into_keys().filter(|k| is_secret(k)).filter_map(|k| client.get(k));
        Self(values.filter(|v| !v.is_empty()).map(String::from).collect())
    }

    /// `text` with every run of at least [`MIN_ECHO`] characters of a secret value (of at
    /// least that length) replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let searched: Vec<&str> = self.0.iter().map(String::as_str).filter(|s| s.chars().count() >= MIN_ECHO).collect();
        if searched.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(first) = rest.chars().next() {
            let echoed = searched.iter().map(|secret| echoed_len(rest, secret)).max().unwrap_or(0);
            if echoed > 0 {
                out.push_str(REDACTED);
                rest = &rest[echoed..];
            } else {
                out.push(first);
                rest = &rest[first.len_utf8()..];
            }
        }
        out
    }

    /// A librdkafka error as it may be shown. Configuration errors give librdkafka's
    /// description only (rdkafka's own rendering appends the value, secret or not), with the
    /// value it quotes redacted when it is secret: the value of a secret property, or equal to
    /// one (a password pasted into the wrong field).
    pub fn describe(&self, error: &KafkaError) -> String {
        match error {
            KafkaError::ClientConfig(_, description, key, value) => {
                let description = description.trim_end();
                let secret = !value.is_empty() && (is_secret(key) || self.0.iter().any(|s| s == value));
                let description =
                    if secret { description.replace(&format!("\"{value}\""), &format!("\"{REDACTED}\"")) } else { description.to_string() };
                self.redact(&description)
            }
            other => self.redact(&other.to_string()),
        }
    }

    /// Whether a secret is too short for [`Secrets::redact`] to search for.
    pub fn has_short(&self) -> bool {
        self.0.iter().any(|s| s.chars().count() < MIN_ECHO)
    }
}

/// How many bytes at the start of `text` are copied from `secret`: the longest prefix found
/// in it, if at least [`MIN_ECHO`] characters long; else 0.
fn echoed_len(text: &str, secret: &str) -> usize {
    let mut longest = 0;
    for (chars, (at, c)) in text.char_indices().enumerate() {
        let end = at + c.len_utf8();
        if !secret.contains(&text[..end]) {
            break;
        }
        if chars + 1 >= MIN_ECHO {
            longest = end;
        }
    }
    longest
}

/// librdkafka refused to create a client; the message has secrets redacted.
#[derive(Debug, thiserror::Error)]
#[error("could not create the Kafka {role}: {message}")]
pub struct ClientError {
    pub role: &'static str,
    pub message: String,
}

/// Creates a client of `client` with `context`; a failure never shows a secret.
pub fn create<C: ClientContext, T: FromClientConfigAndContext<C>>(
    client: &ClientConfig,
    context: C,
    role: &'static str,
) -> Result<T, ClientError> {
    client.create_with_context(context).map_err(|error| ClientError { role, message: Secrets::of(client).describe(&error) })
}

/// How every ticketpulse Kafka client reports: librdkafka's log lines and errors, scrubbed of
/// secrets; errors, which repeat while their cause lasts, through the rate-limited log.
#[derive(Clone)]
pub struct ClientLog {
    telemetry: Arc<Telemetry>,
    secrets: Secrets,
    /// Which client, for log lines.
    role: &'static str,
}

impl ClientLog {
    pub fn new(telemetry: Arc<Telemetry>, client: &ClientConfig, role: &'static str) -> Self {
        Self { telemetry, secrets: Secrets::of(client), role }
    }
}

impl ClientContext for ClientLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        // librdkafka folds repeated connection failures together itself ("N identical
        // error(s) suppressed"); the error callback below is what repeats.
        let message = self.secrets.redact(message);
        let client = self.role;
        match level {
            RDKafkaLogLevel::Debug => tracing::debug!(client, facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Info | RDKafkaLogLevel::Notice => tracing::info!(client, facility, "librdkafka: {message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(client, facility, "librdkafka: {message}"),
            _ => tracing::error!(client, facility, "librdkafka: {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.telemetry.emit(KafkaClientError { client: self.role, error: &error, reason: &self.secrets.redact(reason) });
    }
}

/// The snapshot reader is a consumer outside any group rebalance.
impl ConsumerContext for ClientLog {}

/// The callbacks of a client whose brokers' reachability drives readiness (the consumer and
/// the intake producer): [`ClientLog`]'s log lines and errors, brokers unreachable on
/// `AllBrokersDown` and reachable again by the statistics, and consumer lag per partition
/// from them (a producer's statistics have none). One implementation for both.
#[derive(Clone)]
pub struct ClientReports {
    log: ClientLog,
    telemetry: Arc<Telemetry>,
}

impl ClientReports {
    pub fn new(telemetry: Arc<Telemetry>, client: &ClientConfig, role: &'static str) -> Self {
        Self { log: ClientLog::new(Arc::clone(&telemetry), client, role), telemetry }
    }
}

impl ClientContext for ClientReports {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.telemetry.set_broker_reachable(false);
        }
        self.log.error(error, reason);
    }

    /// Readiness comes back when a broker is up again, not only when a message gets through:
    /// a load balancer that routes on readiness would otherwise never send the intake one.
    fn stats(&self, statistics: Statistics) {
        self.telemetry.set_broker_reachable(statistics.brokers.values().any(|b| b.nodeid >= 0 && b.state == "UP"));
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                if partition >= 0 && p.consumer_lag >= 0 {
                    self.telemetry.set_lag((topic.clone(), partition), p.consumer_lag);
                }
            }
        }
    }
}

/// librdkafka's version and its `builtin.features`, as `--version` prints them.
pub fn librdkafka_build() -> String {
    let (_, version) = rdkafka::util::get_rdkafka_version();
    let features =
        ClientConfig::new().create_native_config().and_then(|c| c.get("builtin.features")).unwrap_or_else(|e| format!("unknown ({e})"));
    format!("librdkafka {version} (builtin.features: {features})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(properties: &[(&str, &str)]) -> KafkaConfig {
        KafkaConfig { librdkafka: properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..KafkaConfig::default() }
    }

    #[test]
    fn librdkafka_refuses_unknown_names_and_bad_values_naming_the_field() {
        let err = validate(&kafka(&[("sasl.pasword", "hunter2")])).unwrap_err().to_string();
        assert_eq!(err, "kafka.librdkafka.sasl.pasword: No such configuration property: \"sasl.pasword\"");
        let err = validate(&kafka(&[("fetch.wait.max.ms", "soon")])).unwrap_err().to_string();
        assert_eq!(err, "kafka.librdkafka.fetch.wait.max.ms: Invalid value for configuration property \"fetch.wait.max.ms\"");
        let err = validate(&kafka(&[("security.protocol", "SSLX")])).unwrap_err().to_string();
        assert_eq!(err, "kafka.librdkafka.security.protocol: Invalid value \"SSLX\" for configuration property \"security.protocol\"");
        assert!(validate(&kafka(&[("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "SCRAM-SHA-512")])).is_ok());
    }

    #[test]
    fn a_secret_echoed_by_librdkafka_is_redacted() {
        // The same value under a secret name and a checked one: librdkafka echoes the latter.
        let err = validate(&kafka(&[("sasl.password", "hunter2"), ("security.protocol", "hunter2")])).unwrap_err().to_string();
        assert_eq!(
            err,
            "kafka.librdkafka.security.protocol: Invalid value \"[redacted]\" for configuration property \"security.protocol\""
        );
        // A secret-named property librdkafka refuses: named, never echoed.
        let err = validate(&kafka(&[("ssl_key", "hunter2")])).unwrap_err().to_string();
        assert_eq!(err, "kafka.librdkafka.ssl_key: Internal property \"ssl_key\" not settable");
    }

    #[test]
    fn redaction_covers_whole_and_partial_echoes() {
        let client = client_config(&kafka(&[
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "hunter2-long"),
            ("sasl.oauthbearer.config", "principal=bob xyzzy=s3cr3t"),
            ("ssl.keystore.password", "abc"),
            ("sasl.username", "bob"),
        ]));
        let secrets = Secrets::of(&client);
        assert_eq!(secrets.redact("bob: hunter2-long / hunter2 / hunter"), "bob: [redacted] / [redacted] / [redacted]");
        assert_eq!(
            secrets.redact("Unrecognized sasl.oauthbearer.config beginning at: xyzzy=s3cr3t"),
            "Unrecognized sasl.oauthbearer.config beginning at:[redacted]",
            "the space before the echo is part of the secret too"
        );
        // Five characters of a long secret are not an echo; a secret shorter than six
        // characters is not searched for (issue 24: it garbled every line).
        assert_eq!(secrets.redact("hunte;xyzzy;abc;ab"), "hunte;xyzzy;abc;ab");
        assert_eq!(Secrets::default().redact("hunter2"), "hunter2");
        let config = kafka(&[("sasl.password", "hunter2"), ("sasl.username", "bob")]);
        assert_eq!(
            format!("{:?}", crate::base::shown_properties(&config.librdkafka)),
            r#"{"sasl.password": "[redacted]", "sasl.username": "bob"}"#
        );
        let debug = format!("{config:?}");
        assert!(debug.contains(r#"librdkafka: {"sasl.password": "[redacted]", "sasl.username": "bob"}"#), "{debug}");
    }

    #[test]
    fn a_short_secret_garbles_no_line_and_is_redacted_where_its_property_is_quoted() {
        let config = kafka(&[("sasl.password", "e"), ("security.protocol", "e")]);
        let secrets = Secrets::of(&client_config(&config));
        assert!(secrets.has_short());
        // What librdkafka logs with the broker down: unchanged, not `sasl_plaint[redacted]xt`.
        let line = "sasl_plaintext://127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused";
        assert_eq!(secrets.redact(line), line);
        // The value librdkafka quotes for a property is redacted whole, by property.
        let err = validate(&config).unwrap_err().to_string();
        assert_eq!(
            err,
            "kafka.librdkafka.security.protocol: Invalid value \"[redacted]\" for configuration property \"security.protocol\""
        );
        let long = Secrets::of(&client_config(&kafka(&[("sasl.password", "hunter2")])));
        assert!(!long.has_short());
    }

    #[test]
    fn a_client_created_offline_refuses_values_only_a_client_checks() {
        let scram = |mechanism: &str| {
            kafka(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", mechanism),
                ("sasl.username", "bob"),
                ("sasl.password", "hunter2"),
                // Read only when TLS is on: the check runs with TLS off, so it need not exist.
                ("ssl.ca.location", "/nonexistent/ca.pem"),
            ])
        };
        let bad = scram("SCRAM-SHA-999");
        assert!(validate(&bad).is_ok(), "every property is fine on its own");
        for kind in [ClientKind::Consumer, ClientKind::Producer] {
            let mut client = client_config(&bad);
            client.set("group.id", "g");
            let err = check_offline(&client, kind, &bad).unwrap_err().to_string();
            assert_eq!(err, "kafka.librdkafka.sasl.mechanisms: Unsupported hash function: SCRAM-SHA-999 (try SCRAM-SHA-512)", "{kind:?}");
            let good = scram("SCRAM-SHA-512");
            let mut client = client_config(&good);
            client.set("group.id", "g");
            assert!(check_offline(&client, kind, &good).is_ok(), "{kind:?}");
        }
        // SCRAM without its password (say, an environment override missing where it runs).
        let missing = kafka(&[("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanisms", "SCRAM-SHA-256"), ("sasl.username", "bob")]);
        let err = check_offline(&client_config(&missing), ClientKind::Producer, &missing).unwrap_err().to_string();
        assert_eq!(err, "kafka.librdkafka.sasl.username: sasl.username and sasl.password must be set");
    }

    #[test]
    fn creation_failures_are_redacted() {
        // Only rd_kafka_new reads the keystore; librdkafka names its path in the error.
        let properties = [("security.protocol", "SSL"), ("ssl.keystore.location", "/dev/null"), ("ssl.keystore.password", "hunter2")];
        let client = client_config(&kafka(&properties));
        let log = ClientLog::new(Arc::default(), &client, "test");
        let err = create::<_, rdkafka::producer::FutureProducer<ClientLog>>(&client, log, "test producer").err().unwrap().to_string();
        assert!(err.starts_with("could not create the Kafka test producer: Client creation error: Error reading ssl.keystore.location PKCS#12 file: [redacted]: "), "{err}");
    }

    /// The consumer and the intake producer share one context: all brokers down makes the
    /// process unready; any other error only logs.
    #[test]
    fn client_reports_drop_readiness_only_when_every_broker_is_down() {
        let telemetry = Arc::new(Telemetry::default());
        let reports = ClientReports::new(Arc::clone(&telemetry), &client_config(&KafkaConfig::default()), "consumer");
        reports.error(KafkaError::Global(RDKafkaErrorCode::SSL), "SSL handshake failed");
        assert!(telemetry.broker_reachable());
        reports.error(KafkaError::Global(RDKafkaErrorCode::AllBrokersDown), "1/1 brokers are down");
        assert!(!telemetry.broker_reachable());
    }
}
