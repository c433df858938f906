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

use std::sync::{Arc, Mutex};

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
    engine: Arc<Mutex<Engine>>,
    rules: ExportRules,
    telemetry: Arc<Telemetry>,
    /// The live service's clock; `None` in replay, where time is stream time only.
    clock: Option<WallClock>,
}

impl KpiCollector {
    pub fn new(engine: Arc<Mutex<Engine>>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Self {
        let rules = ExportRules::new(&crate::lock(&engine).shared_rules());
        Self { engine, rules, telemetry, clock }
    }
}

impl Collector for KpiCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // The lock is held while the View is filled, not while it is rendered.
        let view = crate::lock(&self.engine).view(self.clock.map(|c| c.now()));
        render(&view, &self.rules, &self.telemetry)
    }
}

/// Builds the registry that `/metrics` encodes.
pub fn registry(engine: Arc<Mutex<Engine>>, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Registry {
    let registry = Registry::new();
    registry.register(Box::new(KpiCollector::new(engine, telemetry, clock))).expect("a collector without descriptors always registers");
    registry
}

/// Prometheus text exposition of everything in the registry.
pub fn encode(registry: &Registry) -> String {
    encoding::text(&registry.gather())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use super::*;
    use crate::config::Config;
    use crate::generator::{Generator, GeneratorOptions};
    use crate::internal_events::SnapshotOperation;
    use crate::replay::{replay, End};
    use crate::snapshot::SnapshotError;

    /// Family names in the first column of docs/metrics.md's tables.
    fn documented() -> BTreeSet<String> {
        let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"));
        doc.lines()
            .filter_map(|line| line.strip_prefix("| `ticketpulse_").map(|_| line.split('|').nth(1).expect("a table cell")))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2).filter(|s| s.starts_with("ticketpulse_")))
            .map(|name| name.split('{').next().expect("split yields one").to_string())
            .collect()
    }

    /// Family names of a text exposition, from its `# TYPE` lines.
    fn exposed(text: &str) -> BTreeSet<String> {
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().expect("a name").to_string()).collect()
    }

    #[test]
    fn a_view_renders_exactly_what_a_scrape_of_the_registry_gives() {
        let mut config = Config::default();
        config.kpis.agents.enabled = true;
        let telemetry = Arc::new(Telemetry::default());
        let mut engine = Engine::new(&config, Arc::clone(&telemetry));
        let partition = ("events".to_string(), 0);
        let options = GeneratorOptions { seed: 3, tickets_per_hour: 60.0, start: 1_767_571_200_000 };
        for g in Generator::new(options).take(2_000) {
            engine.handle(&partition, g.payload.as_bytes(), None, &"test").expect("generated events are valid");
        }
        let text = exposition(&engine.view(None), &ExportRules::new(engine.rules()), &telemetry);
        let scraped = encode(&registry(Arc::new(Mutex::new(engine)), telemetry, None));
        assert_eq!(text, scraped);
        assert!(text.contains("# TYPE ticketpulse_agent_replies gauge"), "the optional families are in both");
    }

    #[test]
    fn docs_metrics_md_lists_exactly_the_families_emitted() {
        // Every optional KPI on.
        let mut config = Config::default();
        config.kpis.agents.enabled = true;
        config.kpis.cost.per_hour = Some(1400.0);
        // Without the policy of low priority, low-priority tickets have no SLA (unmatched).
        config.sla.policies.retain(|p| p.name != "low");
        let options = GeneratorOptions { seed: 7, tickets_per_hour: 30.0, start: 1_767_571_200_000 };
        let input: String = Generator::new(options).take(5_000).map(|g| g.payload + "\n").collect();
        let mut emitted = BTreeSet::new();
        // As live some SLA targets still run (next deadline); flushed, old tickets are stale.
        for end in [End::AsLive, End::Flush(None)] {
            emitted.extend(exposed(&replay(&config, input.as_bytes(), end).expect("replay reads a string")));
        }
        // The self-metrics a replay has no series for: lag and snapshots.
        let telemetry = Telemetry::default();
        let partition = ("tickets".to_string(), 0);
        telemetry.partitions_assigned(std::slice::from_ref(&partition));
        telemetry.set_lag(partition.clone(), 3);
        telemetry.snapshot_saved(&partition, 1024, Duration::from_millis(2));
        telemetry.snapshot_failed(SnapshotOperation::Load, &partition, &SnapshotError::Corrupt("bad checksum".into()));
        let engine = Engine::new(&config, Arc::new(Telemetry::default()));
        let families = render(&View::default(), &ExportRules::new(engine.rules()), &telemetry);
        emitted.extend(exposed(&encoding::text(&encoding::gathered(families))));

        let documented = documented();
        let undocumented: Vec<_> = emitted.difference(&documented).collect();
        let never_emitted: Vec<_> = documented.difference(&emitted).collect();
        assert_eq!((undocumented, never_emitted), (vec![], vec![]), "emitted but not in docs/metrics.md, and the reverse");
        // 34 windowed KPIs (every one of the table), 4 current, 1 by topic, 6 per agent, 2 cost,
        // 11 SLA, 18 self-metrics.
        assert_eq!(kpi::KPIS.len(), 34);
        assert!(kpi::KPIS.iter().all(|k| emitted.contains(k.name)));
        assert_eq!(emitted.len(), 76);
    }
}
