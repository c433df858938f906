//! How long taking a snapshot holds up consumption, as consumption sees it: builds one
//! partition with N open tickets (default 100 000; each created, answered once, with a running
//! resolution clock), then, while a thread ingests events into it without pause (messages on
//! those tickets, alternately from the customer and an agent), takes 5 snapshots as the service
//! does: the state captured under the partition's lock, then sealed (encoded, checksummed) on this
//! thread once the lock is released. For each it notes how long the lock was held and the
//! longest gap between two ingested events from the capture to the end of the seal. In turn
//! with those it seals 5 captures under the lock, a check that the gap follows what the lock
//! holds (sealing rebuilds the timers and gauges, so this is slower than the encoding under
//! the lock was before the capture).
//! Prints best / median of 5, and the longest gap outside snapshots (the machine's own noise).
//!
//! `cargo run --release --example snapshot_pause [N] [--rows]`: one line, or with `--rows` the
//! rows of `scripts/bench` (figure, value, reference, ratio; tab-separated).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::internal_events::Telemetry;

/// The binary's allocator (src/main.rs), so allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: i64 = 1_767_600_000_000;
const ROUNDS: usize = 5;
/// The ingesting thread's pace, that of a busy partition: faster, and the tickets' dedup memory
/// would grow the state from round to round.
const EVENTS_PER_SECOND: f64 = 100_000.0;
/// Gaps between ingested events shorter than this are not kept.
const GAP_FLOOR: Duration = Duration::from_micros(100);

/// One snapshot: when it started and ended, and how long it held the lock.
struct Round {
    started: Instant,
    ended: Instant,
    locked: Duration,
}

/// Ingests messages on tickets T0..T(n-1) at offsets from `first`, 50 ms of event time apart
/// after the tickets' own events, at [`EVENTS_PER_SECOND`] (catching up after a stall) until
/// `stop`; returns the gaps between consecutive events of
/// at least [`GAP_FLOOR`], and how many events it ingested.
fn ingest(engine: &Engine, n: usize, first: usize, stop: &AtomicBool) -> (Vec<(Instant, Instant)>, usize) {
    let partition = ("tickets".to_string(), 0);
    let (mut gaps, mut last, mut k) = (Vec::new(), Instant::now(), 0);
    let began = last;
    while !stop.load(Ordering::Relaxed) {
        while began.elapsed().as_secs_f64() * EVENTS_PER_SECOND < k as f64 {
            std::hint::spin_loop();
        }
        // Every ticket once per pass, in a scattered order (7919 is prime, so coprime to n
        // unless n is a multiple of it); customers on even passes, agents on odd ones.
        let ticket = (k * 7919) % n;
        let author = if (k / n) % 2 == 0 { "customer" } else { "agent" };
        let at = START + (n + k) as i64 * 50;
        let event = format!(r#"{{"event_id":"m{k}","ticket_id":"T{ticket}","type":"message","at":{at},"author":"{author}"}}"#);
        engine.handle(&partition, event.as_bytes(), None, &"bench").expect("valid event");
        engine.consumed(&partition, (first + k) as i64);
        let now = Instant::now();
        if now - last >= GAP_FLOOR {
            gaps.push((last, now));
        }
        last = now;
        k += 1;
    }
    (gaps, k)
}

/// Best and median, in milliseconds.
fn best_median(mut values: Vec<Duration>) -> (f64, f64) {
    values.sort();
    (values[0].as_secs_f64() * 1e3, values[values.len() / 2].as_secs_f64() * 1e3)
}

/// The longest gap overlapping each round.
fn longest_gaps(rounds: &[Round], gaps: &[(Instant, Instant)]) -> Vec<Duration> {
    rounds
        .iter()
        .map(|r| gaps.iter().filter(|(a, b)| *a < r.ended && *b > r.started).map(|(a, b)| *b - *a).max().unwrap_or(GAP_FLOOR))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows = args.iter().any(|a| a == "--rows");
    let n: usize = args.iter().find(|a| *a != "--rows").map_or(100_000, |a| a.parse().expect("N must be a number"));
    let config = Config::default();
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let partition = ("tickets".to_string(), 0);
    let channels = ["email", "chat", "phone", "web"];
    for i in 0..n {
        let at = START + i as i64 * 50;
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

    let engine = Arc::new(engine);
    let stop = Arc::new(AtomicBool::new(false));
    let ingesting = {
        let (engine, stop) = (Arc::clone(&engine), Arc::clone(&stop));
        thread::spawn(move || ingest(&engine, n, 2 * n, &stop))
    };
    let (mut captured, mut locked_whole) = (Vec::new(), Vec::new());
    let mut bytes = Vec::new();
    let mut seal = Vec::new();
    let began = Instant::now();
    // Alternating, so both kinds see the state at about the same size.
    for _ in 0..ROUNDS {
        for whole in [false, true] {
            thread::sleep(Duration::from_millis(300));
            let started = Instant::now();
            let locked = if whole {
                let lane = engine.partition(&partition).expect("partition has input");
                let held = lane.lock().expect("no thread panics holding the partition");
                bytes = held.capture(&partition).expect("partition has input").seal();
                started.elapsed()
            } else {
                let capture = engine.capture(&partition).expect("partition has input");
                let locked = started.elapsed();
                let sealing = Instant::now();
                bytes = capture.seal();
                seal.push(sealing.elapsed());
                locked
            };
            let round = Round { started, ended: Instant::now(), locked };
            if whole { &mut locked_whole } else { &mut captured }.push(round);
        }
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (gaps, events) = ingesting.join().expect("ingestion ran");
    let elapsed = began.elapsed();

    let started = Instant::now();
    let restored = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    restored.restore(&partition, &bytes, None).expect("own snapshot restores");
    let restore = started.elapsed().as_secs_f64() * 1e3;

    let gap = best_median(longest_gaps(&captured, &gaps));
    let lock_held = best_median(captured.iter().map(|r| r.locked).collect());
    let whole_gap = best_median(longest_gaps(&locked_whole, &gaps));
    let whole_lock = best_median(locked_whole.iter().map(|r| r.locked).collect());
    let seal = best_median(seal);
    let all: Vec<&Round> = captured.iter().chain(&locked_whole).collect();
    let quiet = gaps.iter().filter(|(a, b)| all.iter().all(|r| !(*a < r.ended && *b > r.started))).map(|(a, b)| *b - *a).max();
    let quiet = quiet.unwrap_or(GAP_FLOOR).as_secs_f64() * 1e3;
    let rate = events as f64 / elapsed.as_secs_f64();
    let mb = bytes.len() as f64 / 1e6;
    if rows {
        let ratio = |ms: f64| format!("{:.2} of target", ms / 10.0);
        println!(
            "snapshot of {n} open tickets: ingestion gap best / median of {ROUNDS}\t{:.1} / {:.1} ms\t<= 10 ms\t{}",
            gap.0,
            gap.1,
            ratio(gap.1)
        );
        println!("snapshot: partition lock held (capture) best / median\t{:.1} / {:.1} ms\t\t", lock_held.0, lock_held.1);
        println!("snapshot: seal after the lock (timers and gauges rebuilt, encoded, checksummed) best / median\t{:.0} / {:.0} ms, {mb:.1} MB at the end\t\t", seal.0, seal.1);
        println!(
            "snapshot: check, capture sealed under the lock: ingestion gap best / median\t{:.0} / {:.0} ms\tlock held {:.0} / {:.0} ms\t",
            whole_gap.0, whole_gap.1, whole_lock.0, whole_lock.1
        );
        println!("snapshot: ingestion meanwhile, longest gap outside snapshots\t{rate:.0} events/s, {quiet:.1} ms\t\t");
        println!("snapshot: restore\t{restore:.0} ms\t\t");
    } else {
        println!(
            "{n} open tickets, snapshot {mb:.1} MB: ingestion gap {:.1} / {:.1} ms (best / median of {ROUNDS}), lock held {:.1} / {:.1} ms, \
             seal {:.0} / {:.0} ms after it; check, sealed under the lock: gap {:.0} / {:.0} ms; \
             longest gap outside snapshots {quiet:.1} ms at {rate:.0} events/s; restore {restore:.0} ms",
            gap.0, gap.1, lock_held.0, lock_held.1, seal.0, seal.1, whole_gap.0, whole_gap.1
        );
    }
}
