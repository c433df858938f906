//! The Prometheus exporter. Every series is rendered at scrape time (the hot path never
//! touches a registry, and series of keys that left every window disappear) in two steps: the
//! engine fills a [`crate::engine::Reading`] under each partition's lock in turn (references
//! to window slices and the current gauges), and after the locks are released the slices are
//! merged into a [`View`]
//! and the families rendered from it and the [`ExportRules`] resolved at start, as text (or
//! as protobuf, with native histograms, for a scraper that asks for it).
//! `replay` renders the same way from its own engine's View.
//!
//! | module | what it holds |
//! |---|---|
//! | [`server`] | the routes of `/metrics` and the health checks |
//! | [`labels`] | [`ExportRules`]: label values by id and read-time settings, resolved once |
//! | [`kpi`] | the KPI families (the windowed ones declared in `src/kpi/catalogue.rs`, [`kpi::KPIS`]), topics, agents, cost |
//! | [`sla`] | the SLA families |
//! | [`staffing`] | staffing now: agents needed and available per queue (Erlang C / Erlang A), at scrape time |
//! | [`self_metrics`] | ticketpulse's own families |
//! | [`across`] | how each family's series combine across instances (sum, max, min, never) |
//! | [`encoding`] | families under construction and their text exposition (checked against the prometheus crate's encoder), and the protobuf one |
//! | [`proto`] | the `io.prometheus.client` protobuf messages of the protobuf exposition (native histograms) |
//!
//! Metric names, labels and meaning are listed in `docs/metrics.md`.

pub mod across;
pub mod encoding;
pub mod kpi;
pub(crate) mod labels;
pub mod proto;
pub(crate) mod self_metrics;
pub mod server;
pub(crate) mod sla;
pub(crate) mod staffing;

use std::sync::{Arc, Mutex};

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::Registry;

use crate::clock::WallClock;
use crate::engine::{Engine, View, ViewFolds};
use crate::internal_events::Telemetry;

pub use across::across;
pub use labels::ExportRules;

/// Every family of a View, empty ones included, in declaration order; `dims` are the
/// dimension labels of its keys ([`ExportRules::dim_labels`]).
fn families<'a>(view: &'a View, rules: &'a ExportRules, dims: &'a labels::DimLabels, telemetry: &Telemetry) -> encoding::Families<'a> {
    let mut out = encoding::Families::default();
    kpi::render_kpis(&mut out, view, rules, dims);
    kpi::render_totals(&mut out, view, rules, dims);
    kpi::render_topics(&mut out, view, rules);
    kpi::render_agents(&mut out, view, rules);
    kpi::render_cost(&mut out, view, rules);
    staffing::render_staffing(&mut out, view, rules);
    sla::render_sla(&mut out, view, rules, dims);
    self_metrics::render_self(&mut out, view, telemetry);
    out
}

/// Every family of a View as protobuf objects, empty ones included, in declaration order: the
/// form `prometheus::TextEncoder` encodes, which [`write_text`] is checked against.
pub fn render(view: &View, rules: &ExportRules, telemetry: &Telemetry) -> Vec<MetricFamily> {
    let dims = rules.dim_labels(view);
    encoding::to_proto(&families(view, rules, &dims, telemetry))
}

/// The text exposition of a View, as a scrape of [`Metrics`] gives it.
pub fn write_text(view: &View, rules: &ExportRules, telemetry: &Telemetry) -> String {
    let dims = rules.dim_labels(view);
    encoding::write_text(families(view, rules, &dims, telemetry), &[])
}

/// The text exposition of `ticketpulse intake` (its own `/metrics`), from its telemetry.
pub(crate) fn write_intake_text(telemetry: &Telemetry) -> String {
    let mut out = encoding::Families::default();
    self_metrics::render_intake(&mut out, telemetry);
    encoding::write_text(out, &[])
}

/// Appends the exposition of a View as OpenMetrics samples at time `at`: the series and
/// values [`write_text`] prints, one step of `replay --history-step`.
pub(crate) fn write_openmetrics(view: &View, rules: &ExportRules, telemetry: &Telemetry, at: crate::base::Millis, out: &mut String) {
    let dims = rules.dim_labels(view);
    encoding::write_openmetrics(families(view, rules, &dims, telemetry), at, out);
}

/// What `/metrics` renders: the engine and the telemetry, on every scrape, and the collectors
/// registered besides them (none in the service; a test adds some).
pub struct Metrics {
    engine: Arc<Engine>,
    rules: ExportRules,
    telemetry: Arc<Telemetry>,
    /// The live service's clock; `None` in replay, where time is stream time only.
    clock: Option<WallClock>,
    others: Registry,
    /// Folds of closed window slices from the previous scrape (renders run one at a time).
    folds: Mutex<ViewFolds>,
}

impl Metrics {
    /// What `/metrics` renders: `engine`'s state with the export settings `rules`.
    pub fn new(engine: Arc<Engine>, rules: ExportRules, telemetry: Arc<Telemetry>, clock: Option<WallClock>) -> Metrics {
        Metrics { engine, rules, telemetry, clock, others: Registry::new(), folds: Mutex::default() }
    }

    /// Adds a collector whose families (named apart from ticketpulse's) each scrape includes.
    pub fn register(&self, collector: Box<dyn Collector>) -> prometheus::Result<()> {
        self.others.register(collector)
    }
}

/// Prometheus text exposition of everything `/metrics` serves. Each partition's lock is held
/// only while its slices are read ([`Engine::read`]); merging (from the previous scrape's
/// folds) and rendering come after it.
pub fn scrape(metrics: &Metrics) -> String {
    scrape_with(metrics, encoding::write_text)
}

/// The protobuf exposition of everything `/metrics` serves (a scraper that asks for it, see
/// [`encoding::accepts_protobuf`]): [`scrape`]'s families and series, with the native buckets
/// of the cumulative histograms.
pub fn scrape_protobuf(metrics: &Metrics) -> Vec<u8> {
    scrape_with(metrics, encoding::write_protobuf)
}

/// Reads the engine, merges and renders its families, and writes them with `write`.
fn scrape_with<T>(metrics: &Metrics, write: impl for<'a> FnOnce(encoding::Families<'a>, &[prometheus::proto::MetricFamily]) -> T) -> T {
    let others = metrics.others.gather();
    let reading = metrics.engine.read(metrics.clock.map(|c| c.now()));
    let view = reading.merge(&mut crate::lock(&metrics.folds));
    let dims = metrics.rules.dim_labels(&view);
    write(families(&view, &metrics.rules, &dims, &metrics.telemetry), &others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::Rules;

    /// Families of other collectors (none in the service) take their place by name.
    #[test]
    fn collectors_registered_beside_the_engine_are_listed_among_its_families_by_name() {
        let telemetry = Arc::new(Telemetry::default());
        let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry));
        let metrics = Metrics::new(Arc::new(engine), ExportRules::new(&Config::default()), telemetry, None);
        let gauge = prometheus::Gauge::new("ticketpulse_tickets_extra", "Sorts between two of ours.").unwrap();
        gauge.set(2.5);
        metrics.register(Box::new(gauge)).unwrap();
        let text = scrape(&metrics);
        // An engine without input still has its configured SLA targets and self-metrics.
        let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        let at = names.iter().position(|n| *n == "ticketpulse_tickets_extra gauge").expect("listed");
        assert_eq!(
            names[at - 1..=at + 1],
            [
                "ticketpulse_ticket_snapshot_differences_total counter",
                "ticketpulse_tickets_extra gauge",
                "ticketpulse_tickets_shed_total counter"
            ]
        );
        assert!(text.contains("# HELP ticketpulse_tickets_extra Sorts between two of ours.\n# TYPE ticketpulse_tickets_extra gauge\nticketpulse_tickets_extra 2.5\n"));
    }

    /// The intake's `/metrics` through the telemetry is byte for byte what its own
    /// `prometheus::Registry` served: label names sorted, only the combinations seen, every
    /// drop reason.
    #[test]
    fn the_intake_exposition_keeps_its_families_labels_and_order() {
        use crate::event::EventType;
        use crate::internal_events::{HttpConnectionDropped, HttpDrop, IntakeEventsProduced, WebhookAnswered};
        let t = Telemetry::default();
        t.emit(WebhookAnswered { source: "zendesk", kind: "ticket.created", result: "produced", refusal: None });
        t.emit(WebhookAnswered { source: "zendesk", kind: "ticket.created", result: "produced", refusal: None });
        t.emit(WebhookAnswered { source: "chatwoot", kind: "unknown", result: "too_large", refusal: None });
        t.emit(IntakeEventsProduced { source: "zendesk", types: [EventType::TicketCreated, EventType::Message] });
        t.emit(HttpConnectionDropped(HttpDrop::Evicted));
        let text = write_intake_text(&t);
        let expected = "\
# HELP ticketpulse_http_connections_dropped_total HTTP connections closed before a complete exchange, by reason (limits and timeouts of [http]).
# TYPE ticketpulse_http_connections_dropped_total counter
ticketpulse_http_connections_dropped_total{reason=\"body_timeout\"} 0
ticketpulse_http_connections_dropped_total{reason=\"evicted\"} 1
ticketpulse_http_connections_dropped_total{reason=\"header_timeout\"} 0
ticketpulse_http_connections_dropped_total{reason=\"refused\"} 0
ticketpulse_http_connections_dropped_total{reason=\"request_timeout\"} 0
ticketpulse_http_connections_dropped_total{reason=\"shutdown\"} 0
# HELP ticketpulse_intake_events_produced_total Contract v1 events the broker acknowledged, by source and type.
# TYPE ticketpulse_intake_events_produced_total counter
ticketpulse_intake_events_produced_total{source=\"zendesk\",type=\"message\"} 1
ticketpulse_intake_events_produced_total{source=\"zendesk\",type=\"ticket_created\"} 1
# HELP ticketpulse_intake_webhooks_total Webhooks received, by source, vendor event type and result.
# TYPE ticketpulse_intake_webhooks_total counter
ticketpulse_intake_webhooks_total{result=\"produced\",source=\"zendesk\",type=\"ticket.created\"} 2
ticketpulse_intake_webhooks_total{result=\"too_large\",source=\"chatwoot\",type=\"unknown\"} 1
";
        assert_eq!(text, expected);

        // The two intake families as the registry it replaces gathered them.
        let registry = prometheus::Registry::new();
        let webhooks = prometheus::IntCounterVec::new(
            prometheus::Opts::new("ticketpulse_intake_webhooks_total", "Webhooks received, by source, vendor event type and result."),
            &["source", "type", "result"],
        )
        .unwrap();
        let events = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "ticketpulse_intake_events_produced_total",
                "Contract v1 events the broker acknowledged, by source and type.",
            ),
            &["source", "type"],
        )
        .unwrap();
        registry.register(Box::new(webhooks.clone())).unwrap();
        registry.register(Box::new(events.clone())).unwrap();
        webhooks.with_label_values(&["zendesk", "ticket.created", "produced"]).inc_by(2);
        webhooks.with_label_values(&["chatwoot", "unknown", "too_large"]).inc();
        events.with_label_values(&["zendesk", "ticket_created"]).inc();
        events.with_label_values(&["zendesk", "message"]).inc();
        let intake_part = &text[text.find("# HELP ticketpulse_intake_events_produced_total").unwrap()..];
        assert_eq!(intake_part, encoding::text(&registry.gather()));
    }
}
