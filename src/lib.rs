//! ticketpulse turns a help desk's ticket lifecycle events (JSON on Kafka) into live support
//! KPIs served as Prometheus metrics.
//!
//! Data flows one way: **source → engine → exporter**.
//!
//! | module | what it holds |
//! |---|---|
//! | [`event`] | the event contract v1: parsing and validation, bounded rejection reasons |
//! | [`config`] | the TOML configuration, env overrides, validation naming the field |
//! | [`dimensions`] | bounded label values (`channel`, `priority`, `team`) and series keys |
//! | [`ticket`] | per-ticket state machine: events in, KPI samples and SLA deadlines out |
//! | [`sla`] | the SLA clock: ordered policies, first response / next reply / resolution clocks, pauses, met / breached |
//! | [`calendar`] | business-hours calendars: time zone, split shifts, holidays; deadlines exact across DST |
//! | [`clock`] | the live service's wall clock, read through tokio so tests can pause it |
//! | [`kpi`] | the KPI catalogue: samples, their classes (survey ratings, wait buckets), and the slices that accumulate them |
//! | [`agent`] | per-agent KPIs (off by default): attribution to agents, bounded `agent` labels |
//! | [`window`] | event-time rolling windows of epoch-aligned slices; the quantile sketch |
//! | [`engine`] | per-partition state, reorder buffer, watermark and timers; the single input path |
//! | [`internal_events`] | ticketpulse's own counters and rate-limited log lines |
//! | [`exporter`] | scrape-time Prometheus collector and the HTTP endpoints |
//! | [`http`] | the HTTP server: connection limits, timeouts, graceful shutdown |
//! | [`kafka`] | the Kafka client configuration every client shares, checked by librdkafka; secrets redacted |
//! | [`tickets`] | the tickets behind the SLA gauges: `GET /api/v1/tickets` and the `/tickets` page |
//! | [`snapshot`] | per-partition state snapshots with their input offset; directory and Kafka-topic stores |
//! | [`checkpoint`] | when snapshots are taken (interval, revoke, shutdown) and restored (assign) |
//! | [`source`] | the Kafka consumer group and the dead-letter producer |
//! | [`service`] | `run`: wires source, engine and exporter, handles signals |
//! | [`replay`] | `replay`: a JSON Lines file through the same engine, exposition to stdout |
//! | [`intake`] | `intake`: Zendesk and Chatwoot webhooks, signed, mapped to events and produced to the topic |
//! | [`generator`] | the synthetic help desk behind `generate` and `demo` |
//! | [`cli`] | the command line |

pub mod agent;
pub mod calendar;
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
pub mod kafka;
pub mod kpi;
pub mod replay;
pub mod service;
pub mod sla;
pub mod snapshot;
pub mod source;
pub mod ticket;
pub mod tickets;
pub mod window;

/// Locks a mutex, carrying on past poisoning: state behind a lock is only ever changed by
/// code that leaves it consistent, and serving metrics beats crashing after a panic elsewhere.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
