//! What a `/metrics` scrape costs ingestion: replays generated input (default 200 000 events at
//! 2000 tickets an hour, every optional KPI on, and `team` a label besides `channel` and
//! `priority`, which makes about 20 000 series) into one engine behind a mutex, as the service
//! holds it. Then a thread keeps ingesting the generator's next events, message by message
//! under the lock, while 9 scrapes run as `/metrics` runs them: read the slices under the lock
//! ([`Engine::read`]), then merge (from the previous scrape's folds of closed slices) and
//! render the text after it. Reports, best and median of
//! the 9: the time under the lock, the longest gap between two ingested events during a scrape
//! (the pause as consumption sees it) and rendering after the lock (merging the slices, the
//! families, the text).
//!
//! `cargo run --release --example scrape_lock [EVENTS]`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ticketpulse::engine::{Engine, Rules, ViewFolds};
use ticketpulse::exporter::{self, ExportRules};
use ticketpulse::generator::{widest_config, Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;

/// The binary's allocator (src/main.rs), so allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SCRAPES: usize = 9;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(200_000, |a| a.parse().expect("EVENTS must be a number"));
    let config = widest_config();
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("events".to_string(), 0);
    let options = GeneratorOptions { seed: 2, tickets_per_hour: 2000.0, start: 1_767_571_200_000 };
    let mut generator = Generator::new(options);
    for g in generator.by_ref().take(n) {
        let _ = engine.handle(&partition, g.payload.as_bytes(), None, &"bench");
    }
    // Generated ahead, so the ingesting thread does nothing but ingest; enough to outlast the
    // scrapes at a million events a second.
    let more: Vec<String> = generator.take(4 * n).map(|g| g.payload).collect();
    let rules = ExportRules::new(&config);
    let engine = Arc::new(engine);

    let stop = Arc::new(AtomicBool::new(false));
    let ingest = {
        let (engine, stop, partition) = (Arc::clone(&engine), Arc::clone(&stop), partition.clone());
        std::thread::spawn(move || {
            let mut ingested = Vec::with_capacity(more.len());
            for payload in &more {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = engine.handle(&partition, payload.as_bytes(), None, &"bench");
                ingested.push(Instant::now());
            }
            ingested
        })
    };
    let (mut held, mut render, mut merging, mut scrapes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut lines, mut series) = (0, 0);
    // As `/metrics` keeps them: the folds of closed slices from the previous scrape.
    let mut folds = ViewFolds::default();
    for _ in 0..SCRAPES {
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        // The partition's lock is taken and released inside `read`.
        let locked = Instant::now();
        let reading = engine.read(None);
        let released = Instant::now();
        let view = reading.merge(&mut folds);
        let merged = Instant::now();
        let text = exporter::write_text(&view, &rules, &telemetry);
        let done = Instant::now();
        held.push(released - locked);
        render.push(done - released);
        merging.push(merged - released);
        scrapes.push((started, done));
        lines = text.lines().count();
        series = text.lines().filter(|l| !l.starts_with('#')).count();
    }
    stop.store(true, Ordering::Relaxed);
    let ingested = ingest.join().unwrap();
    let last_scrape = scrapes.last().expect("scraped").1;
    assert!(ingested.last().is_some_and(|t| *t > last_scrape), "ingestion ran out before the scrapes ended; give more EVENTS");

    // Per scrape, the longest gap between consecutive ingested events that overlaps it.
    let gaps: Vec<Duration> = scrapes
        .iter()
        .map(|(from, to)| ingested.windows(2).filter(|w| w[1] > *from && w[0] < *to).map(|w| w[1] - w[0]).max().unwrap_or_default())
        .collect();
    let outside = ingested
        .windows(2)
        .filter(|w| scrapes.iter().all(|(from, to)| w[1] <= *from || w[0] >= *to))
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    let ms = |mut d: Vec<Duration>| {
        d.sort();
        format!("{:.2} ms (median {:.2} ms)", d[0].as_secs_f64() * 1e3, d[d.len() / 2].as_secs_f64() * 1e3)
    };
    println!("{n} events, then {} more ingested during {SCRAPES} scrapes; {lines} exposition lines, {series} series:", ingested.len());
    println!("  longest gap between ingested events outside scrapes: {:.2} ms", outside.as_secs_f64() * 1e3);
    println!("  of the render after the lock, merging the slices: {}", ms(merging));
    println!("{series} series: lock held {}, ingestion paused {}, render after the lock {}", ms(held), ms(gaps), ms(render));
}
