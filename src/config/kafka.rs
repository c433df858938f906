//! `[kafka]`: the consumer group, its topics and the librdkafka properties every client shares.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::de::{flatten_properties, list};
use super::{bad, ConfigError};
use crate::base::shown_properties;

/// Kafka consumer group settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// Consumer group id; every instance of one deployment uses the same id.
    pub group_id: String,
    /// Topics carrying ticket events.
    #[serde(deserialize_with = "list")]
    pub topics: Vec<String>,
    /// Topic receiving rejected messages with their reason and source offset in headers;
    /// an empty string disables the dead-letter path (rejections are still logged and counted).
    pub dead_letter_topic: String,
    /// Where a partition without a snapshot starts: `earliest` or `latest`. (With a snapshot,
    /// consumption resumes at the snapshot's offset; the group's committed offsets are
    /// progress reporting only.)
    pub auto_offset_reset: OffsetReset,
    /// Extra librdkafka properties passed through verbatim (e.g. `security.protocol`,
    /// `sasl.username`, `sasl.password`), checked by librdkafka at load. Values of properties
    /// named like secrets (`password`, `secret`, `key`, `token`) are never shown.
    #[serde(deserialize_with = "flatten_properties")]
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            group_id: "ticketpulse".into(),
            topics: vec!["ticket-events".into()],
            dead_letter_topic: "ticket-events-dlq".into(),
            auto_offset_reset: OffsetReset::Earliest,
            librdkafka: BTreeMap::new(),
        }
    }
}

/// Shows secret-named librdkafka properties as `[redacted]`.
impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("librdkafka", &shown_properties(&self.librdkafka))
            .finish()
    }
}

/// Where to start a partition that has no committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    Earliest,
    Latest,
}

impl OffsetReset {
    pub fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

/// librdkafka properties that ticketpulse sets itself; overriding them would break the
/// offset-after-apply guarantee.
pub const MANAGED_LIBRDKAFKA_KEYS: [&str; 5] =
    ["bootstrap.servers", "group.id", "enable.auto.offset.store", "enable.auto.commit", "auto.offset.reset"];

impl KafkaConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let k = self;
        if k.brokers.trim().is_empty() {
            return Err(bad("kafka.brokers", "must not be empty"));
        }
        if k.group_id.trim().is_empty() {
            return Err(bad("kafka.group_id", "must not be empty"));
        }
        if k.topics.is_empty() || k.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(bad("kafka.topics", "must list at least one non-empty topic"));
        }
        if k.topics.contains(&k.dead_letter_topic) {
            return Err(bad("kafka.dead_letter_topic", "must differ from the input topics"));
        }
        if let Some(key) = k.librdkafka.keys().find(|key| MANAGED_LIBRDKAFKA_KEYS.contains(&key.as_str())) {
            return Err(bad(format!("kafka.librdkafka.{key}"), "is set by ticketpulse itself; use the dedicated field"));
        }
        Ok(())
    }
}
