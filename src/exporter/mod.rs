//! The Prometheus exporter. Every series is rendered at scrape time (the hot path never
//! touches a registry, and series of keys that left every window disappear) in two steps: the
//! engine fills a [`View`] under its lock, and the families are rendered from that View and
//! the [`ExportRules`] resolved at start, after the lock is released. `replay` renders the
//! same way from its own engine's View.
//!
//! | module | what it holds |
//! |---|---|
//! | [`server`] | `/metrics`, the health checks and the tickets endpoints beside them |
//! | [`labels`] | [`ExportRules`]: label values by id and read-time settings, resolved once |
//! | [`kpi`] | the KPI families ([`kpi::KPIS`] declares the windowed ones), topics, agents, cost |
//! | [`sla`] | the SLA families |
//! | [`self_metrics`] | ticketpulse's own families |
//! | [`encoding`] | Prometheus protobuf plumbing |
//!
//! Metric names, labels and meaning are listed in `docs/metrics.md`.

pub mod encoding;
pub mod kpi;
pub mod labels;
pub mod self_metrics;
pub mod server;
pub mod sla;

use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::Registry;

use crate::clock::WallClock;
use crate::engine::{Engine, View};
use crate::internal_events::Telemetry;

pub use labels::ExportRules;
pub use server::serve;

/// Every family of a View, empty ones included, in declaration order.
pub fn render(view: &View, rules: &ExportRules, telemetry: &Telemetry) -> Vec<MetricFamily> {
    let mut out = encoding::Families::default();
    kpi::render_kpis(&mut out, view, rules);
    kpi::render_topics(&mut out, view, rules);
    kpi::render_agents(&mut out, view, rules);
    kpi::render_cost(&mut out, view, rules);
    sla::render_sla(&mut out, view, rules);
    self_metrics::render_self(&mut out, view, telemetry);
    out.0
}

/// The text exposition of a View, as a scrape of [`registry`] would give it.
pub fn exposition(view: &View, rules: &ExportRules, telemetry: &Telemetry) -> String {
    encoding::text(&encoding::gathered(render(view, rules, telemetry)))
}

/// Renders the engine and the telemetry on every scrape.
pub struct KpiCollector {
    engine: Arc<Engine>,
    rules: ExportRules,
    telemetry: Arc<Telemetry>,
    /// The live service's clock; `None` in replay, where time is stream time only.
    clock: Option<WallClock>,
}

impl KpiCollector {
    pub fn new(engine: Arc<Engine>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Self {
        let rules = ExportRules::new(&engine.shared_rules());
        Self { engine, rules, telemetry, clock }
    }
}

impl Collector for KpiCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Each partition's lock is held while its part of the View is filled, not while it is rendered.
        let view = self.engine.view(self.clock.map(|c| c.now()));
        render(&view, &self.rules, &self.telemetry)
    }
}

/// Builds the registry that `/metrics` encodes.
pub fn registry(engine: Arc<Engine>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Registry {
    let registry = Registry::new();
    registry.register(Box::new(KpiCollector::new(engine, telemetry, clock))).expect("a collector without descriptors always registers");
    registry
}

/// Prometheus text exposition of everything in the registry.
pub fn encode(registry: &Registry) -> String {
    encoding::text(&registry.gather())
}
