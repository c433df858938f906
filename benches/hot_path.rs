//! The per-event hot path, piece by piece: parsing one message, ingesting messages into one
//! partition (parse, dedup, reorder buffer, ticket state, gauges, window slices), and
//! recording samples into window slices; and a scrape's render after the engine lock.
//! Input: the synthetic help desk of `generate`.
//!
//! `cargo bench --bench hot_path` (scripts/bench prints the end-to-end figures).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ticketpulse::config::Config;
use ticketpulse::dimensions::{Catalog, Dims};
use ticketpulse::engine::{Engine, Rules, ViewFolds};
use ticketpulse::event::{self, Priority};
use ticketpulse::exporter::{self, ExportRules};
use ticketpulse::generator::{widest_config, Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;
use ticketpulse::kpi::{KpiSlice, Sample};
use ticketpulse::window::{WindowSpec, Windows};

/// The binary's allocator (src/main.rs), so allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-01-05T00:00:00Z.
const START: i64 = 1_767_571_200_000;

fn lines(count: usize) -> Vec<String> {
    let options = GeneratorOptions { seed: 1, tickets_per_hour: 2000.0, start: START };
    Generator::new(options).take(count).map(|g| g.payload).collect()
}

fn parse(c: &mut Criterion) {
    let lines = lines(10_000);
    let config = Config::default();
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let limits = engine.rules().limits;
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("generated events", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(event::parse(line.as_bytes(), &limits, None).expect("generated events are valid"));
            }
        })
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    let lines = lines(50_000);
    let config = Config::default();
    let partition = ("bench".to_string(), 0);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20);
    group.bench_function("generated events into one partition", |b| {
        b.iter_batched(
            || Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default())),
            |engine| {
                for line in &lines {
                    engine.handle(&partition, line.as_bytes(), None, &"bench").expect("generated events are valid");
                }
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn window_record(c: &mut Criterion) {
    let config = Config::default();
    let catalog = Catalog::new(&config.dimensions);
    let specs: Vec<WindowSpec> = config.time.windows.iter().map(|w| WindowSpec::new(*w, config.time.slices_per_window)).collect();
    let channels = ["email", "chat", "phone", "web"];
    let keys: Vec<_> = channels
        .iter()
        .flat_map(|c| {
            Priority::ALL.iter().map(|p| catalog.key(Dims { channel: catalog.channel(c), priority: Some(*p), team: catalog.team(None) }))
        })
        .collect();
    const EVENTS: i64 = 100_000;
    let mut group = c.benchmark_group("window record");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("a creation and a first response, 16 series, 1 event/s", |b| {
        b.iter_batched(
            || Windows::<_, KpiSlice>::new(specs.clone()),
            |mut windows| {
                for i in 0..EVENTS {
                    let at = START + i * 1000;
                    let key = &keys[i as usize % keys.len()];
                    let response = Sample::FirstResponse((i % 3600) as f64);
                    windows.record(key, at, at, |slice| {
                        slice.add(Sample::Created);
                        slice.add(response);
                    });
                }
                windows
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// A scrape after the engine lock: the slices read merged into a View, and its text (every
/// optional KPI on, `team` a label too: about 20 000 series; examples/scrape_lock measures
/// the lock and the pause).
fn render(c: &mut Criterion) {
    let config = widest_config();
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("bench".to_string(), 0);
    let options = GeneratorOptions { seed: 2, tickets_per_hour: 2000.0, start: START };
    for g in Generator::new(options).take(200_000) {
        engine.handle(&partition, g.payload.as_bytes(), None, &"bench").expect("generated events are valid");
    }
    let rules = ExportRules::new(&config);
    let mut group = c.benchmark_group("render");
    group.sample_size(20);
    // As `/metrics` keeps them: the folds of closed slices from the previous scrape.
    let mut folds = ViewFolds::default();
    group.bench_function("merge and write 20k series", |b| {
        b.iter_batched(
            || engine.read(None),
            |reading| exporter::write_text(&reading.merge(&mut folds), &rules, &telemetry),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, parse, ingest, window_record, render);
criterion_main!(benches);
