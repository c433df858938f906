//! An engine fed by hand, read as `/metrics` reads it.

use std::collections::BTreeMap;

use ticketpulse::config::Config;

use super::parse_exposition;

/// The partition a [`Harness`] feeds.
pub fn harness_partition() -> ticketpulse::base::PartitionId {
    ("tickets".to_string(), 0)
}

/// An engine fed by hand on one partition, as the live service feeds it (`now` = the wall
/// clock) or as replay does (`None`), and read as `/metrics` reads it.
pub struct Harness {
    pub engine: std::sync::Arc<ticketpulse::engine::Engine>,
    pub telemetry: std::sync::Arc<ticketpulse::internal_events::Telemetry>,
    pub rules: ticketpulse::exporter::ExportRules,
}

impl Harness {
    pub fn new(config: &Config) -> Self {
        let telemetry = std::sync::Arc::new(ticketpulse::internal_events::Telemetry::default());
        let engine = ticketpulse::engine::Engine::new(ticketpulse::engine::Rules::new(config).unwrap(), std::sync::Arc::clone(&telemetry));
        Self { engine: std::sync::Arc::new(engine), telemetry, rules: ticketpulse::exporter::ExportRules::new(config) }
    }

    pub fn send(&self, line: &str, now: Option<i64>) -> ticketpulse::internal_events::EventResult {
        self.engine.handle(&harness_partition(), line.as_bytes(), now, &"test").expect("a valid event")
    }

    pub fn scrape(&self) -> BTreeMap<String, f64> {
        let registry = ticketpulse::exporter::Metrics::new(
            std::sync::Arc::clone(&self.engine),
            self.rules.clone(),
            std::sync::Arc::clone(&self.telemetry),
            None,
        );
        parse_exposition(&ticketpulse::exporter::scrape(&registry))
    }
}
