//! Configuration: TOML (`config/ticketpulse.toml` documents every field), overridden by
//! `TICKETPULSE_<SECTION>__<FIELD>` environment variables. Unknown keys are errors, and
//! [`Config::validate`] names the offending field before anything starts.
//!
//! This module is the schema and its field checks, one file per section (`kafka`, `http` with
//! `ui`, `stream`: time, dimensions, events and tickets, `sla`, `kpis` with abandonment,
//! `snapshots`, `intake`); `load` reads the file and the environment, `de` holds the field
//! readers the sections share. Of the domain it imports only `event`'s contract vocabulary:
//! the status and priority names the intake maps must point to, and the `ParseLimits` it
//! builds. What needs the rest of the domain to be checked (SLA policies and calendars
//! compiled, the Kafka properties as librdkafka reads them) is checked where it is used, by
//! `engine::Rules::new` and `kafka::validate`: `service::compile` runs both, for
//! `check-config` and start-up alike.

use std::time::Duration;

use serde::Deserialize;

use crate::base::RESERVED_LABEL_VALUES;

mod de;
mod http;
mod intake;
mod kafka;
mod kpis;
mod load;
mod sla;
mod snapshots;
mod stream;
#[cfg(test)]
mod tests;

pub use http::{HttpConfig, UiConfig, TICKET_ID_PLACEHOLDER};
pub use intake::{
    ChatwootAuth, ChatwootIntakeConfig, IntakeConfig, SeedConfig, ZendeskIntakeConfig, MAX_TICKET_PREFIX_BYTES, MIN_INTAKE_SECRET_BYTES,
};
pub use kafka::{KafkaConfig, OffsetReset, MANAGED_LIBRDKAFKA_KEYS};
pub use kpis::{
    AbandonmentConfig, AgentsConfig, BacklogConfig, CostConfig, HistogramsConfig, KpisConfig, RealtimeConfig, ScaleConfig, SentimentConfig,
    StaffingConfig, SurveysConfig, TopicsConfig,
};
pub use sla::{CalendarConfig, PolicyConfig, SlaConfig, ALWAYS_OPEN};
pub use snapshots::{SnapshotStoreKind, SnapshotsConfig};
pub use stream::{Dimension, DimensionsConfig, EventsConfig, TicketsConfig, TimeConfig};

/// A configuration problem, always naming the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` does not exist.
    #[error("config file {0} does not exist")]
    Missing(String),
    /// The TOML or an environment override could not be read into the schema; the message
    /// names the field and where its value came from.
    #[error("{0}")]
    Parse(String),
    /// A value parsed but is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

pub(crate) fn bad(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), message: message.into() }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where events come from and where bad ones go.
    pub kafka: KafkaConfig,
    /// The HTTP endpoint serving `/metrics` and health checks.
    pub http: HttpConfig,
    /// Event time, windows and lateness.
    pub time: TimeConfig,
    /// Which label dimensions KPI metrics carry and their allowed values.
    pub dimensions: DimensionsConfig,
    /// Input limits.
    pub events: EventsConfig,
    /// SLA policies, business-hours calendars and pause statuses.
    pub sla: SlaConfig,
    /// Abandoned-contact accounting.
    pub abandonment: AbandonmentConfig,
    /// The rest of the KPI catalogue: surveys, real-time channels, backlog age, topics, cost
    /// and sentiment (see `docs/metrics.md`).
    pub kpis: KpisConfig,
    /// Per-ticket state retention and limits.
    pub tickets: TicketsConfig,
    /// State snapshots: crash recovery and partition handover.
    pub snapshots: SnapshotsConfig,
    /// The tickets API and page: which open tickets are behind the SLA gauges.
    pub ui: UiConfig,
    /// On SIGTERM: stop fetching, finish in-flight events, snapshot, commit and exit within
    /// this time (exit status 1 if it runs out).
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// `ticketpulse intake`: help-desk webhooks into the topic.
    pub intake: IntakeConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            kafka: KafkaConfig::default(),
            http: HttpConfig::default(),
            time: TimeConfig::default(),
            dimensions: DimensionsConfig::default(),
            events: EventsConfig::default(),
            sla: SlaConfig::default(),
            abandonment: AbandonmentConfig::default(),
            kpis: KpisConfig::default(),
            tickets: TicketsConfig::default(),
            snapshots: SnapshotsConfig::default(),
            ui: UiConfig::default(),
            shutdown_timeout: Duration::from_secs(30),
            intake: IntakeConfig::default(),
        }
    }
}

impl Config {
    /// What the event parser accepts, read from `[events]`, `[time]` and `[kpis.surveys]`: the
    /// engine and the intake check events against the same limits.
    pub fn parse_limits(&self) -> crate::event::ParseLimits {
        let surveys = &self.kpis.surveys;
        crate::event::ParseLimits {
            max_message_bytes: self.events.max_message_bytes,
            max_future_skew: crate::base::millis(self.time.max_future_skew),
            csat_range: (surveys.csat.min, surveys.csat.max),
            ces_range: (surveys.ces.min, surveys.ces.max),
            esat_range: (surveys.esat.min, surveys.esat.max),
        }
    }

    /// Checks what serde cannot, field by field: ranges, duplicates, reserved values. SLA
    /// policies and the librdkafka properties are checked when compiled (`service::compile`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kafka.validate()?;
        self.http.validate(self.shutdown_timeout)?;
        self.time.validate()?;
        self.dimensions.validate()?;
        if self.events.max_message_bytes == 0 {
            return Err(bad("events.max_message_bytes", "must be positive"));
        }
        if self.tickets.retention < Duration::from_secs(1) {
            return Err(bad("tickets.retention", "must be at least 1s"));
        }
        if self.tickets.max_per_partition == 0 {
            return Err(bad("tickets.max_per_partition", "must be positive"));
        }
        if self.events.dedup_ids_per_ticket == 0 {
            return Err(bad("events.dedup_ids_per_ticket", "must be positive"));
        }
        self.snapshots.validate(&self.kafka)?;
        self.abandonment.validate()?;
        self.ui.validate()?;
        self.kpis.validate(&self.dimensions)?;
        self.intake.validate(&self.http)
    }
}

/// Bucket bounds: 1 to 20 positive durations, strictly ascending.
fn check_buckets(field: &str, bounds: &[Duration]) -> Result<(), ConfigError> {
    if bounds.is_empty() || bounds.len() > 20 {
        return Err(bad(field, "must list 1 to 20 durations"));
    }
    for (i, b) in bounds.iter().enumerate() {
        if b.is_zero() || (i > 0 && *b <= bounds[i - 1]) {
            return Err(bad(format!("{field}[{i}]"), "must be positive and greater than the bound before it"));
        }
    }
    Ok(())
}

fn check_values(field: &str, values: &[String], lowercase: bool) -> Result<(), ConfigError> {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || RESERVED_LABEL_VALUES.contains(&v.as_str()) {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} is empty or reserved ({RESERVED_LABEL_VALUES:?})")));
        }
        if lowercase && v.to_ascii_lowercase() != *v {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} must be lower case")));
        }
        if values[..i].contains(v) {
            return Err(bad(format!("{field}[{i}]"), format!("{v:?} is listed twice")));
        }
    }
    Ok(())
}
