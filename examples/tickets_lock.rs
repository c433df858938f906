//! How long a `/api/v1/tickets` read holds a partition lock: builds one partition with N open
//! tickets (default 100 000, one every 50 ms; every tenth urgent and unanswered, so its first
//! response breaches after 30 min; the rest answered, resolution running), then times the
//! scan done under the lock, and the sorting and naming done after it, for a few queries.
//!
//! `cargo run --release --example tickets_lock [N]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::internal_events::Telemetry;
use ticketpulse::ticket_api::{scan, Query};

/// The binary's allocator (src/main.rs), so allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).map_or(100_000, |a| a.parse().expect("N must be a number"));
    let config = Config::default();
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::new(Telemetry::default()));
    let partition = ("tickets".to_string(), 0);
    let start = 1_767_600_000_000i64;
    let channels = ["email", "chat", "phone", "web"];
    for i in 0..n {
        let at = start + i as i64 * 50;
        let (channel, priority) = (channels[i % channels.len()], if i % 10 == 0 { "urgent" } else { "normal" });
        let created = format!(
            r#"{{"event_id":"c{i}","ticket_id":"T{i:07}","type":"ticket_created","at":{at},"channel":"{channel}","priority":"{priority}"}}"#
        );
        engine.handle(&partition, created.as_bytes(), None, &"bench").expect("valid event");
        if priority != "urgent" {
            let reply = format!(r#"{{"event_id":"r{i}","ticket_id":"T{i:07}","type":"message","at":{},"author":"agent"}}"#, at + 20);
            engine.handle(&partition, reply.as_bytes(), None, &"bench").expect("valid event");
        }
    }
    let rules = engine.shared_rules();
    println!("{n} open tickets; the lock is held for the scan only (best and median of 9 reads):");
    for raw in ["state=breached", "state=breached&policy=urgent&target=first_response&channel=email", "state=open&limit=1000"] {
        let query = Query::parse(Some(raw), &rules).expect("a valid query");
        let mut held = Vec::new();
        let mut after = Vec::new();
        let mut answer = None;
        for _ in 0..9 {
            let started = Instant::now();
            let found = scan(&engine, None, &query);
            held.push(started.elapsed());
            let started = Instant::now();
            answer = Some(found.answer(&rules, &query));
            after.push(started.elapsed());
        }
        let answer = answer.expect("read");
        held.sort();
        after.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  {raw}: {} matched, {} listed; lock held {:.1} ms (median {:.1} ms); after the lock {:.2} ms",
            answer.total,
            answer.items.len(),
            ms(held[0]),
            ms(held[held.len() / 2]),
            ms(after[after.len() / 2]),
        );
    }
}
