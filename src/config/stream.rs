//! How the input stream is read and what it keeps: `[time]` (windows, lateness, watermark),
//! `[dimensions]` (label values), `[events]` (input limits) and `[tickets]` (per-ticket state).

use std::time::Duration;

use serde::Deserialize;

use super::de::{durations, list};
use super::{bad, check_values, ConfigError};
use crate::base::window_label;

/// Event time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeConfig {
    /// Rolling windows reported for every windowed KPI (the `window` label).
    #[serde(deserialize_with = "durations")]
    pub windows: Vec<Duration>,
    /// Each window is the newest `slices_per_window` slices of `window / slices_per_window`,
    /// aligned to the Unix epoch. More slices: smoother windows, more memory.
    pub slices_per_window: u32,
    /// How far behind the newest event time an event may arrive and still be applied in
    /// event-time order. Events are applied, and SLA timers fire, once the watermark
    /// (newest event time minus this) passes them.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// In the live service, a partition that received nothing for this long, or that was read
    /// to its end (Kafka partition EOF), advances its stream time with the wall clock so
    /// events are applied and breaches counted when traffic is quiet or stops; and between
    /// messages the current SLA gauges read stream time moved on with the wall clock. `0s`
    /// disables all of it: time then comes from events only.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Events dated further than this ahead of the wall clock (or of `replay --end-time`) are
    /// rejected (`future_timestamp`). Events dated ahead by less are accepted, but stream time
    /// never moves past the wall clock.
    #[serde(with = "humantime_serde")]
    pub max_future_skew: Duration,
    /// Events a partition's reorder buffer holds at most. When it is full the watermark moves
    /// up to the oldest buffered event, which is applied at once (counted in
    /// `ticketpulse_reorder_buffer_full_events_total`); events dated before that point then
    /// count as late. Bounds memory under a burst the allowed lateness cannot absorb.
    pub max_buffered_events: usize,
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self {
            windows: vec![Duration::from_secs(300), Duration::from_secs(3600), Duration::from_secs(86400)],
            slices_per_window: 60,
            allowed_lateness: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_future_skew: Duration::from_secs(300),
            max_buffered_events: 100_000,
        }
    }
}

/// A KPI label dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    Channel,
    Priority,
    Team,
}

/// Label dimensions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DimensionsConfig {
    /// Which of `channel`, `priority`, `team` label the KPI metrics.
    #[serde(deserialize_with = "list")]
    pub labels: Vec<Dimension>,
    /// Known channels (lower case). Any other channel is reported as `other`.
    #[serde(deserialize_with = "list")]
    pub channels: Vec<String>,
    /// Known teams. Any other team is reported as `other`, a ticket without one as `none`.
    #[serde(deserialize_with = "list")]
    pub teams: Vec<String>,
}

impl Default for DimensionsConfig {
    fn default() -> Self {
        Self {
            labels: vec![Dimension::Channel, Dimension::Priority],
            channels: ["email", "chat", "phone", "web", "messaging", "social", "api"].map(String::from).to_vec(),
            teams: Vec::new(),
        }
    }
}

/// Input limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Messages larger than this are rejected as `oversized` without being parsed.
    pub max_message_bytes: usize,
    /// Event ids remembered per ticket to drop redeliveries; the oldest is forgotten first.
    pub dedup_ids_per_ticket: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { max_message_bytes: 64 * 1024, dedup_ids_per_ticket: 256 }
    }
}

/// Per-ticket state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// Solved, closed and never-created tickets are forgotten this long (in event time) after
    /// their last event. A redelivery after that is counted again, so keep it above the
    /// longest redelivery delay you expect.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// At most this many tickets are kept per partition besides those with events in the
    /// reorder buffer; beyond it the least recently active are shed with everything they hold
    /// (counted in `ticketpulse_tickets_shed_total`) so memory stays bounded.
    pub max_per_partition: usize,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        Self { retention: Duration::from_secs(7 * 86400), max_per_partition: 2_000_000 }
    }
}

impl TimeConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let t = self;
        if t.windows.is_empty() {
            return Err(bad("time.windows", "must list at least one window"));
        }
        if t.slices_per_window == 0 || t.slices_per_window > 10_000 {
            return Err(bad("time.slices_per_window", "must be between 1 and 10000"));
        }
        if t.max_buffered_events == 0 {
            return Err(bad("time.max_buffered_events", "must be positive"));
        }
        for (i, w) in t.windows.iter().enumerate() {
            let ms = w.as_millis();
            if ms == 0 || ms % 1000 != 0 || ms % u128::from(t.slices_per_window) != 0 {
                return Err(bad(
                    format!("time.windows[{i}]"),
                    format!(
                        "{} must be whole seconds and divisible into {} equal millisecond slices",
                        window_label(*w),
                        t.slices_per_window
                    ),
                ));
            }
            if t.windows[..i].contains(w) {
                return Err(bad(format!("time.windows[{i}]"), "is listed twice"));
            }
        }
        Ok(())
    }
}

impl DimensionsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let d = self;
        for (i, dim) in d.labels.iter().enumerate() {
            if d.labels[..i].contains(dim) {
                return Err(bad(format!("dimensions.labels[{i}]"), "is listed twice"));
            }
        }
        check_values("dimensions.channels", &d.channels, true)?;
        check_values("dimensions.teams", &d.teams, false)?;
        Ok(())
    }
}
