//! The Kafka client configuration every ticketpulse client shares (the consumer, the
//! dead-letter producer, the snapshot store): the brokers and the passed-through
//! `kafka.librdkafka` properties, checked by librdkafka itself before anything starts.
//!
//! Secrets stay secret: the value of a property whose name holds `password`, `secret`, `key`
//! or `token` (or of `sasl.oauthbearer.config`) is never printed, and every text librdkafka
//! hands back (errors, log lines) is scrubbed of those values before it is shown, since
//! librdkafka's own messages may echo them.

use std::sync::Arc;

use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::base::{is_secret, REDACTED};
use crate::config::{bad, ConfigError, KafkaConfig};
use crate::internal_events::Telemetry;

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

/// A run of at least this many characters copied from a secret value is redacted wherever it
/// appears: librdkafka sometimes echoes only part of a value ("... beginning at: <the rest>").
/// A shorter secret is redacted where it appears whole.
const MIN_ECHO: usize = 6;

/// The values of a client configuration's secret properties, to scrub from any text shown.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn of(client: &ClientConfig) -> Self {
        let values = client.config_map().into_keys().filter(|k| is_secret(k)).filter_map(|k| client.get(k));
        Self(values.filter(|v| !v.is_empty()).map(String::from).collect())
    }

    /// `text` with every run of a secret value's characters (of at least [`MIN_ECHO`], or the
    /// whole of a shorter secret) replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(first) = rest.chars().next() {
            let echoed = self.0.iter().map(|secret| echoed_len(rest, secret)).max().unwrap_or(0);
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
    /// description only (rdkafka's own rendering appends the value, secret or not).
    pub fn describe(&self, error: &KafkaError) -> String {
        match error {
            KafkaError::ClientConfig(_, description, _, _) => self.redact(description.trim_end()),
            other => self.redact(&other.to_string()),
        }
    }
}

/// How many bytes at the start of `text` are copied from `secret`: the longest prefix found
/// in it, if at least [`MIN_ECHO`] characters long (or all of a shorter secret); else 0.
fn echoed_len(text: &str, secret: &str) -> usize {
    let shortest = MIN_ECHO.min(secret.chars().count());
    let mut longest = 0;
    for (chars, (at, c)) in text.char_indices().enumerate() {
        let end = at + c.len_utf8();
        if !secret.contains(&text[..end]) {
            break;
        }
        if chars + 1 >= shortest {
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
        self.telemetry.kafka_error(self.role, &error, &self.secrets.redact(reason));
    }
}

/// The snapshot reader is a consumer outside any group rebalance.
impl ConsumerContext for ClientLog {}

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
        // Five characters of a long secret are not an echo; a short secret is, whole.
        assert_eq!(secrets.redact("hunte;xyzzy;abc;ab"), "hunte;xyzzy;[redacted];ab");
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
    fn creation_failures_are_redacted() {
        // Only rd_kafka_new reads the keystore; librdkafka names its path in the error.
        let properties = [("security.protocol", "SSL"), ("ssl.keystore.location", "/dev/null"), ("ssl.keystore.password", "hunter2")];
        let client = client_config(&kafka(&properties));
        let log = ClientLog::new(Arc::default(), &client, "test");
        let err = create::<_, rdkafka::producer::FutureProducer<ClientLog>>(&client, log, "test producer").err().unwrap().to_string();
        assert!(err.starts_with("could not create the Kafka test producer: Client creation error: Error reading ssl.keystore.location PKCS#12 file: [redacted]: "), "{err}");
    }
}
