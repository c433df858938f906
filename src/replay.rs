//! `ticketpulse replay`: JSON Lines through the same engine as the live service, then time
//! advanced to the end and the Prometheus exposition printed. No wall clock is read, so the
//! same input always gives byte-identical output: the backfill and "what would the SLA have
//! been" tool.

use std::io::BufRead;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::engine::Engine;
use crate::event::Millis;
use crate::exporter;
use crate::internal_events::{PartitionId, Telemetry};

/// Replay runs all input as one partition.
pub fn replay_partition() -> PartitionId {
    ("replay".to_string(), 0)
}

/// Where a replay stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The input is complete: apply everything, advance to this time (default: the newest
    /// event time) and fire every timer up to it.
    Flush(Option<Millis>),
    /// As the live service would stand after the last message: the watermark stays
    /// `allowed_lateness` behind the newest event time.
    AsLive,
}

/// Feeds every line of `input` to a fresh engine, stops as `end` says and returns the
/// exposition.
pub fn replay(config: &Config, input: impl BufRead, end: End) -> std::io::Result<String> {
    let telemetry = Arc::new(Telemetry::default());
    let mut engine = Engine::new(config, Arc::clone(&telemetry));
    let partition = replay_partition();
    for (n, line) in input.split(b'\n').enumerate() {
        let line = line?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Invalid lines are counted and logged by the engine; replay carries on.
        let _ = engine.handle(&partition, line, None, &format_args!("line {}", n + 1));
    }
    if let End::Flush(end_time) = end {
        engine.finish(end_time);
    }
    let registry = exporter::registry(Arc::new(Mutex::new(engine)), telemetry, None);
    Ok(exporter::encode(&registry))
}
