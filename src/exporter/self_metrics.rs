//! ticketpulse's own families: the [`Telemetry`] counters and the per-partition clocks of a
//! [`View`].

use std::borrow::Cow;

use crate::base::PartitionId;
use crate::engine::{PartitionClock, View};
use crate::internal_events::Telemetry;

use super::encoding::{push_counter, push_gauge, seconds, Families, Kind, NO_LABELS};

/// Reads one per-partition progress value.
type ClockValue = fn(&PartitionClock) -> f64;

fn partition_labels((topic, partition): &PartitionId) -> [(&'static str, Cow<'_, str>); 2] {
    [("topic", Cow::Borrowed(topic.as_str())), ("partition", Cow::Owned(partition.to_string()))]
}

pub fn render_self<'a>(out: &mut Families<'a>, view: &'a View, telemetry: &Telemetry) {
    let mf = &mut out.family(
        "ticketpulse_events_total",
        "Input messages by event type and result (ok, duplicate, invalid, late).",
        Kind::Counter,
    );
    for (event_type, result, n) in telemetry.event_counts() {
        let labels = mf.set([("type", Cow::Borrowed(event_type)), ("result", Cow::Borrowed(result.as_str()))]);
        push_counter(mf, labels, n);
    }
    let mf = &mut out.family("ticketpulse_invalid_events_total", "Rejected input messages by reason.", Kind::Counter);
    for (reason, n) in telemetry.invalid_counts() {
        let labels = mf.set([("reason", Cow::Borrowed(reason.as_str()))]);
        push_counter(mf, labels, n);
    }
    let mf = &mut out.family(
        "ticketpulse_label_values_mapped_total",
        "Input values read as `other` rather than become a label value, by event field and reason (too_long: over 128 bytes).",
        Kind::Counter,
    );
    for (field, reason, n) in telemetry.label_values_mapped_counts() {
        let labels = mf.set([("field", Cow::Borrowed(field)), ("reason", Cow::Borrowed(reason))]);
        push_counter(mf, labels, n);
    }
    let mf = &mut out.family(
        "ticketpulse_ticket_snapshot_differences_total",
        "Fields a ticket_snapshot of a known ticket found different from ticketpulse's state (then adopted), by field.",
        Kind::Counter,
    );
    for (field, n) in telemetry.snapshot_difference_counts() {
        let labels = mf.set([("field", Cow::Borrowed(field))]);
        push_counter(mf, labels, n);
    }
    let (dead_lettered, failed) = telemetry.dead_letter_counts();
    let mf = &mut out.family("ticketpulse_dead_letter_events_total", "Rejected messages written to the dead-letter topic.", Kind::Counter);
    push_counter(mf, NO_LABELS, dead_lettered);
    let mf = &mut out.family(
        "ticketpulse_dead_letter_failures_total",
        "Rejected messages that could not be written to the dead-letter topic.",
        Kind::Counter,
    );
    push_counter(mf, NO_LABELS, failed);

    let mf = &mut out.family(
        "ticketpulse_consumer_lag_messages",
        "Messages between the consumer position and the end of the partition.",
        Kind::Gauge,
    );
    for (p, lag) in telemetry.lags() {
        let labels = mf.set([("topic", Cow::Owned(p.0)), ("partition", Cow::Owned(p.1.to_string()))]);
        push_gauge(mf, labels, &[], lag as f64);
    }
    let clock_families: [(&'static str, &'static str, ClockValue); 4] = [
        ("ticketpulse_stream_time_seconds", "Newest event time seen on the partition (Unix time).", |c| seconds(c.stream_time)),
        (
            "ticketpulse_watermark_seconds",
            "Stream time minus allowed lateness: events and SLA timers up to here are applied (Unix time).",
            |c| seconds(c.watermark),
        ),
        ("ticketpulse_tracked_tickets", "Tickets whose state the partition holds (open, recently resolved, or awaiting creation).", |c| {
            c.tickets as f64
        }),
        ("ticketpulse_buffered_events", "Events waiting in the partition's reorder buffer for the watermark to pass them.", |c| {
            c.buffered as f64
        }),
    ];
    for (name, help, value) in clock_families {
        let mf = &mut out.family(name, help, Kind::Gauge);
        for c in &view.clocks {
            let labels = mf.set(partition_labels(&c.partition));
            push_gauge(mf, labels, &[], value(c));
        }
    }
    let mf = &mut out.family(
        "ticketpulse_events_without_creation_total",
        "Events applied to a ticket whose ticket_created the partition has not seen, since this instance took the partition.",
        Kind::Counter,
    );
    for c in &view.clocks {
        let labels = mf.set(partition_labels(&c.partition));
        push_counter(mf, labels, c.uncreated_events);
    }
    let mf = &mut out.family(
        "ticketpulse_tickets_shed_total",
        "Tickets dropped from state because a partition reached tickets.max_per_partition.",
        Kind::Counter,
    );
    push_counter(mf, NO_LABELS, telemetry.shed_count());
    let mf = &mut out.family(
        "ticketpulse_reorder_buffer_full_events_total",
        "Events applied before the watermark passed them because a reorder buffer held time.max_buffered_events.",
        Kind::Counter,
    );
    push_counter(mf, NO_LABELS, telemetry.reorder_buffer_full_count());
    let stats = telemetry.snapshot_stats();
    let mf = &mut out.family("ticketpulse_snapshots_saved_total", "Partition state snapshots saved.", Kind::Counter);
    push_counter(mf, NO_LABELS, stats.saved);
    let mf = &mut out.family("ticketpulse_snapshots_restored_total", "Partitions whose state was restored from a snapshot.", Kind::Counter);
    push_counter(mf, NO_LABELS, stats.restored);
    let mf = &mut out.family(
        "ticketpulse_snapshot_failures_total",
        "Snapshots that could not be saved, or stored snapshots that could not be used, by operation and reason.",
        Kind::Counter,
    );
    for ((operation, reason), n) in stats.failures {
        let labels = mf.set([("operation", Cow::Borrowed(operation)), ("reason", Cow::Borrowed(reason))]);
        push_counter(mf, labels, n);
    }
    if let Some((bytes, pause)) = stats.newest {
        let mf = &mut out.family("ticketpulse_snapshot_size_bytes", "Size of the newest snapshot.", Kind::Gauge);
        push_gauge(mf, NO_LABELS, &[], bytes as f64);
        let mf = &mut out.family(
            "ticketpulse_snapshot_pause_seconds",
            "How long capturing the newest snapshot's state held up consumption (it is encoded and written after).",
            Kind::Gauge,
        );
        push_gauge(mf, NO_LABELS, &[], pause.as_secs_f64());
    }
    render_http_drops(out, telemetry);
    let mf = &mut out.family("ticketpulse_build_info", "Build information; always 1.", Kind::Gauge);
    let labels = mf.set([("version", Cow::Borrowed(env!("CARGO_PKG_VERSION")))]);
    push_gauge(mf, labels, &[], 1.0);
}

/// The HTTP server's dropped connections, a family of `run`'s port and of the intake's alike.
fn render_http_drops(out: &mut Families<'_>, telemetry: &Telemetry) {
    let mf = &mut out.family(
        "ticketpulse_http_connections_dropped_total",
        "HTTP connections closed before a complete exchange, by reason (limits and timeouts of [http]).",
        Kind::Counter,
    );
    for (reason, n) in telemetry.http_dropped_counts() {
        let labels = mf.set([("reason", Cow::Borrowed(reason.as_str()))]);
        push_counter(mf, labels, n);
    }
}

/// `ticketpulse intake`'s families, its whole `/metrics`: webhooks, events produced and its
/// listener's dropped connections. Label names in alphabetical order, as before (when a
/// `prometheus::Registry` sorted them).
pub fn render_intake(out: &mut Families<'_>, telemetry: &Telemetry) {
    let mf =
        &mut out.family("ticketpulse_intake_webhooks_total", "Webhooks received, by source, vendor event type and result.", Kind::Counter);
    for ((source, kind, result), n) in telemetry.intake_webhook_counts() {
        let labels = mf.set([("result", Cow::Borrowed(result)), ("source", Cow::Borrowed(source)), ("type", Cow::Borrowed(kind))]);
        push_counter(mf, labels, n);
    }
    let mf = &mut out.family(
        "ticketpulse_intake_events_produced_total",
        "Contract v1 events the broker acknowledged, by source and type.",
        Kind::Counter,
    );
    for ((source, event_type), n) in telemetry.intake_produced_counts() {
        let labels = mf.set([("source", Cow::Borrowed(source)), ("type", Cow::Borrowed(event_type))]);
        push_counter(mf, labels, n);
    }
    render_http_drops(out, telemetry);
}
