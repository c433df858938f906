//! ticketpulse turns a help desk's ticket lifecycle events (JSON on Kafka) into live support
//! KPIs served as Prometheus metrics.
//!
//! Data flows one way: **source → engine → exporter**. A feeder (the Kafka [`source`], the
//! demo's [`generator`] wired by [`service`], or [`replay`]) pushes every message into
//! `Engine::handle`; the [`exporter`] and [`ticket_api`] read what the engine holds. The map
//! below is also the layering: a module uses only modules listed below it (`tests/layers.rs`
//! checks it), so there are no import cycles, and the foundation, [`base`], imports nothing.
//!
//! | module | what it holds |
//! |---|---|
//! | [`cli`] | the command line |
//! | [`intake`] | `intake`: Zendesk and Chatwoot webhooks, signed, mapped to events and produced to the topic; `intake seed`: their open tickets read from the APIs as snapshots |
//! | [`service`] | `run` and `demo`: `compile` (librdkafka check + `Rules::new`), one wiring of a source, the engine and the exporter on the wall clock, signals |
//! | [`replay`] | `replay`: a JSON Lines file through the same engine, exposition to stdout; `replay/history`: the exposition at every step of event time as OpenMetrics, for backfilling Prometheus |
//! | [`generator`] | the synthetic help desk behind `generate` and `demo`, following a given clock in real time |
//! | [`source`] | the Kafka consumer group and the dead-letter producer (`source/`: context, partition_worker, workers) |
//! | [`checkpoint`] | when snapshots are taken (interval, revoke, shutdown) and restored (assign) |
//! | [`exporter`] | the families rendered from the engine's [`engine::View`] after its lock is released, and the HTTP endpoints (`exporter/`: server, labels, kpi, sla, self_metrics, encoding) |
//! | [`ticket_api`] | the tickets behind the SLA gauges: `GET /api/v1/tickets` and the `/tickets` page (`ticket_api/`: query, scan, answer, routes, page) |
//! | [`http`] | the HTTP server: connection limits, timeouts, graceful shutdown |
//! | [`clock`] | the one wall clock (live service, rebalance restore, demo, `generate --follow`), read through tokio so tests can pause it |
//! | [`engine`] | `Rules::new`, the one compile step of the configuration; per-partition state, reorder buffer, watermark and timers; the single input path (`engine/`: rules, partition, gauges, capture, read) |
//! | [`snapshot`] | per-partition state snapshots with their input offset; directory and Kafka-topic stores |
//! | [`kafka`] | the Kafka client configuration every client shares, checked by librdkafka; secrets scrubbed from what it says |
//! | [`internal_events`] | ticketpulse's own counters and rate-limited log lines, each event's line and counter together, for `run`, `demo`, `replay` and `intake` alike (`internal_events/`: labels, and the event types by concern: input, snapshot, kafka, http, intake) |
//! | [`ticket`] | per-ticket state machine: events in, KPI samples and SLA deadlines out (`ticket/`: transitions, snapshot) |
//! | [`agent`] | per-agent KPIs (off by default): attribution to agents, bounded `agent` labels |
//! | [`topic`] | tickets created by topic: the recorded label, bounded `topic` labels |
//! | [`kpi`] | the KPI catalogue: each windowed KPI declared once (`kpi/catalogue.rs`: sample, slice fields, families, how they combine across instances), their classes (survey ratings, wait buckets); the window [`kpi::Family`] trait; the staffing models (`kpi/staffing.rs`: Erlang C, Erlang A) and active agents per queue |
//! | [`window`] | event-time rolling windows of epoch-aligned slices, what merges (`Aggregate`); the quantile sketch (`window/distribution.rs`) |
//! | [`dimensions`] | bounded label values (`channel`, `priority`, `team`) and series keys |
//! | [`sla`] | the SLA clock: policies compiled from `[sla]` (errors name the field), first response / next reply / resolution clocks, pauses, met / breached (`sla/`: policy, clock, classify) |
//! | [`calendar`] | business-hours calendars: time zone, split shifts, holidays; deadlines exact across DST |
//! | [`config`] | the TOML configuration schema by section (`config/`: kafka, http, stream, sla, kpis, snapshots, intake; load, de), env overrides, field checks naming the field; of the domain only `event`'s contract vocabulary (status and priority names, `ParseLimits`) |
//! | [`event`] | the event contract v1: parsing and validation, bounded rejection reasons (`event/`: parsing, time) |
//! | [`base`] | the foundation, importing nothing of the project: `Millis`, `PartitionId`, RFC 3339 text of an instant, `window` labels, reserved label values, secret redaction |

pub(crate) mod agent;
pub mod base;
pub(crate) mod calendar;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dimensions;
pub mod engine;
pub mod event;
pub mod exporter;
pub mod generator;
pub mod http;
pub mod intake;
pub mod internal_events;
pub(crate) mod kafka;
pub mod kpi;
pub mod replay;
pub mod service;
pub(crate) mod sla;
pub mod snapshot;
pub(crate) mod source;
pub(crate) mod ticket;
pub mod ticket_api;
pub(crate) mod topic;
pub mod window;

/// Locks a mutex, carrying on past poisoning: state behind a lock is only ever changed by
/// code that leaves it consistent, and serving metrics beats crashing after a panic elsewhere.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
