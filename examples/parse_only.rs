//! The denominator of the replay throughput figure: a parse-only serde_json pass over a JSON
//! Lines file, each line into a struct of the event contract's fields with borrowed strings,
//! nothing validated or kept. Prints the lines per second of the best of `RUNS` passes.
//!
//! `cargo run --release --example parse_only FILE [RUNS]`

use std::time::Instant;

use serde::Deserialize;

/// The binary's allocator (src/main.rs), so allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
#[allow(dead_code)] // read to be parsed, never used
struct Contract<'a> {
    event_id: Option<&'a str>,
    ticket_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    at: Option<&'a str>,
    channel: Option<&'a str>,
    priority: Option<&'a str>,
    team: Option<&'a str>,
    topic: Option<&'a str>,
    requester: Option<&'a str>,
    author: Option<&'a str>,
    public: Option<bool>,
    status: Option<&'a str>,
    survey: Option<&'a str>,
    score: Option<f64>,
    seconds: Option<f64>,
    sentiment: Option<f64>,
    agent_id: Option<&'a str>,
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_only FILE [RUNS]");
    let runs: usize = std::env::args().nth(2).map_or(3, |a| a.parse().expect("RUNS must be a number"));
    let input = std::fs::read(&path).expect("readable input");
    let mut best = f64::MAX;
    let mut lines = 0usize;
    for _ in 0..runs {
        let started = Instant::now();
        lines = 0;
        for line in input.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let parsed: Result<Contract, _> = serde_json::from_slice(line);
            lines += usize::from(std::hint::black_box(parsed).is_ok());
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!("{lines} lines in {best:.3} s: {:.0} lines/s", lines as f64 / best);
}
