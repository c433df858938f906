//! How long a `/metrics` scrape holds the engine lock: replays generated input (default
//! 200 000 events at 2000 tickets an hour, every optional KPI on) into one engine, then times
//! filling the View (under the lock) and rendering the families from it (after the lock).
//!
//! `cargo run --release --example scrape_lock [EVENTS]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter::{self, encoding, ExportRules};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::Telemetry;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(200_000, |a| a.parse().expect("EVENTS must be a number"));
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    config.kpis.cost.per_hour = Some(1400.0);
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("events".to_string(), 0);
    let options = GeneratorOptions { seed: 2, tickets_per_hour: 2000.0, start: 1_767_571_200_000 };
    for g in Generator::new(options).take(n) {
        let _ = engine.handle(&partition, g.payload.as_bytes(), None, &"bench");
    }
    let rules = ExportRules::new(engine.rules());
    let (mut held, mut render, mut encode) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines = 0;
    for _ in 0..9 {
        let started = Instant::now();
        let view = engine.view(None);
        held.push(started.elapsed());
        let started = Instant::now();
        let families = exporter::render(&view, &rules, &telemetry);
        render.push(started.elapsed());
        let started = Instant::now();
        let text = encoding::text(&encoding::gathered(families));
        encode.push(started.elapsed());
        lines = text.lines().count();
    }
    let ms = |mut d: Vec<Duration>| {
        d.sort();
        format!("{:.2} ms (median {:.2} ms)", d[0].as_secs_f64() * 1e3, d[d.len() / 2].as_secs_f64() * 1e3)
    };
    let tickets = engine.partition(&partition).map_or(0, |p| p.lock().unwrap().ticket_count());
    println!("{n} events, {tickets} tickets held, {lines} exposition lines (best and median of 9 scrapes):");
    println!("  lock held to fill the View: {}", ms(held));
    println!("  after the lock: rendering the families {}, encoding the text {}", ms(render), ms(encode));
}
