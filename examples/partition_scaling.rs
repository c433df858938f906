//! Partitions on separate cores, at the engine level: 4 partitions of generated events
//! (distinct seeds and ticket prefixes), held in memory, fed through the API the partition
//! workers use (`Engine::lane`, `Engine::handle_in` with offsets) by 1 thread, then by 2
//! threads owning 2 partitions each. Prints events/s of both (best of 3) and their ratio, and
//! checks that both engines export the same exposition.
//!
//! `cargo run --release --example partition_scaling [EVENTS_PER_PARTITION]` (default 250000)

use std::sync::Arc;
use std::time::{Duration, Instant};

use ticketpulse::base::PartitionId;
use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter::{self, ExportRules};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;

/// The binary's allocator (src/main.rs), so allocation costs, and how they scale across
/// threads, are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: i32 = 4;
/// Messages fed from one partition before moving to the next, as a worker takes them from
/// its queue interleaved.
const CHUNK: usize = 64;

/// One partition's messages, ticket ids prefixed so no two partitions share a ticket.
fn partition(n: i32, count: usize) -> (PartitionId, Vec<String>) {
    let options = GeneratorOptions { seed: 100 + n as u64, tickets_per_hour: 2000.0, start: 1_767_571_200_000 };
    let prefix = format!(r#""ticket_id":"p{n}-"#);
    let payloads = Generator::new(options).take(count).map(|g| g.payload.replacen(r#""ticket_id":""#, &prefix, 1)).collect();
    (("events".to_string(), n), payloads)
}

/// Feeds `partitions` interleaved in chunks, as one worker owning them does.
fn feed(engine: &Engine, partitions: &[&(PartitionId, Vec<String>)]) {
    let lanes: Vec<_> = partitions.iter().map(|(id, _)| engine.lane(id)).collect();
    let longest = partitions.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
    for start in (0..longest).step_by(CHUNK) {
        for ((id, payloads), lane) in partitions.iter().zip(&lanes) {
            for (offset, payload) in payloads.iter().enumerate().skip(start).take(CHUNK) {
                let _ = engine.handle_in(lane, id, Some(offset as i64), payload.as_bytes(), None, &"bench");
            }
        }
    }
}

/// Feeds every partition with `threads` threads (partition i to thread i mod threads), then
/// finishes; returns the time taken and the exposition.
fn run(config: &Config, input: &[(PartitionId, Vec<String>)], threads: usize) -> (Duration, String) {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(config).unwrap(), Arc::clone(&telemetry));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let mine: Vec<_> = input.iter().enumerate().filter(|(i, _)| i % threads == t).map(|(_, p)| p).collect();
            let engine = &engine;
            scope.spawn(move || feed(engine, &mine));
        }
    });
    let took = started.elapsed();
    engine.finish(None);
    (took, exporter::write_text(&engine.view(None), &ExportRules::new(config), &telemetry))
}

fn main() {
    let per_partition: usize = std::env::args().nth(1).map_or(250_000, |n| n.parse().expect("EVENTS_PER_PARTITION is a number"));
    let config = Config::default();
    let input: Vec<_> = (0..PARTITIONS).map(|n| partition(n, per_partition)).collect();
    let events = (per_partition * PARTITIONS as usize) as f64;
    let mut rates = Vec::new();
    let mut expositions = Vec::new();
    for threads in [1, 2] {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let (took, text) = run(&config, &input, threads);
            best = best.min(took);
            expositions.push(text);
        }
        rates.push(events / best.as_secs_f64());
    }
    assert!(expositions.windows(2).all(|w| w[0] == w[1]), "1 and 2 threads must give the same exposition");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{PARTITIONS} partitions x {per_partition} events, {cores} cores: 1 thread {:.0} events/s, 2 threads {:.0} events/s, ratio {:.2}",
        rates[0],
        rates[1],
        rates[1] / rates[0]
    );
}
