//! How long taking a snapshot holds up consumption: builds one partition with N open tickets
//! (default 100 000; each created, answered once, with a running resolution clock), then
//! times encoding a snapshot (done under the engine lock) and restoring it.
//!
//! `cargo run --release --example snapshot_pause [N]`

use std::sync::Arc;
use std::time::Instant;

use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::internal_events::Telemetry;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(100_000, |a| a.parse().expect("N must be a number"));
    let config = Config::default();
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let partition = ("tickets".to_string(), 0);
    let start = 1_767_600_000_000i64;
    let channels = ["email", "chat", "phone", "web"];
    for i in 0..n {
        let at = start + i as i64 * 50;
        let channel = channels[i % channels.len()];
        let created = format!(
            r#"{{"event_id":"c{i}","ticket_id":"T{i}","type":"ticket_created","at":{at},"channel":"{channel}","priority":"normal"}}"#
        );
        let reply = format!(r#"{{"event_id":"r{i}","ticket_id":"T{i}","type":"message","at":{},"author":"agent"}}"#, at + 20);
        for (offset, event) in [created, reply].iter().enumerate() {
            engine.handle(&partition, event.as_bytes(), None, &"bench").expect("valid event");
            engine.consumed(&partition, (2 * i + offset) as i64);
        }
    }
    let mut best = f64::MAX;
    let mut bytes = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (_, b) = engine.snapshot(&partition).expect("partition has input");
        best = best.min(started.elapsed().as_secs_f64());
        bytes = b;
    }
    let started = Instant::now();
    let restored = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    restored.restore(&partition, &bytes, None).expect("own snapshot restores");
    let restore = started.elapsed().as_secs_f64();
    println!(
        "{n} open tickets: snapshot {:.1} MB, encode pause {:.0} ms (best of 5), restore {:.0} ms",
        bytes.len() as f64 / 1e6,
        best * 1e3,
        restore * 1e3
    );
}
