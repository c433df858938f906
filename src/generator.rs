//! A synthetic help desk for `demo` and `generate`: a realistic channel and priority mix, a
//! day/night load cycle, agent reply delays that depend on channel and priority (so some SLAs
//! breach), follow-up exchanges, private notes and bot messages, reopens, abandoned real-time
//! contacts, surveys and logged work. Seeded: the same options give the same events.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Exp, LogNormal};
use serde_json::{json, Value};

use crate::base::Millis;
use crate::clock::WallClock;
use crate::config::{Config, Dimension};

/// Shape of the simulated help desk.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorOptions {
    pub seed: u64,
    /// Mean tickets created per hour over a day.
    pub tickets_per_hour: f64,
    /// Simulated time of the first ticket.
    pub start: Millis,
}

/// One generated event: its time, its ticket (the Kafka key) and its JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Generated {
    pub at: Millis,
    pub ticket_id: String,
    pub payload: String,
}

const CHANNELS: [(&str, f64); 7] =
    [("email", 0.38), ("chat", 0.22), ("phone", 0.12), ("web", 0.12), ("messaging", 0.08), ("social", 0.05), ("api", 0.03)];
const PRIORITIES: [(&str, f64); 4] = [("low", 0.2), ("normal", 0.55), ("high", 0.18), ("urgent", 0.07)];
/// The teams of config/examples/sla-business-hours.toml, so `demo --config` with it shows each
/// of its policies: urgent VIP tickets, the EMEA and US offices' business hours, and the rest.
const TEAMS: [(&str, f64); 3] = [("emea", 0.45), ("us", 0.4), ("vip", 0.15)];
const TOPICS: [(&str, f64); 6] = [("login", 0.2), ("invoice", 0.2), ("refund", 0.15), ("bug", 0.2), ("shipping", 0.15), ("how_to", 0.1)];

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60.0 * SECOND;
const HOUR: f64 = 60.0 * MINUTE;

/// Endless, time-ordered stream of synthetic events.
pub struct Generator {
    rng: ChaCha8Rng,
    options: GeneratorOptions,
    next_ticket_at: Millis,
    tickets: u64,
    queue: BinaryHeap<Reverse<Generated>>,
}

impl Generator {
    pub fn new(options: GeneratorOptions) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(options.seed), next_ticket_at: options.start, options, tickets: 0, queue: BinaryHeap::new() }
    }

    fn pick(&mut self, table: &[(&'static str, f64)]) -> &'static str {
        let mut x: f64 = self.rng.random();
        for (value, weight) in table {
            if x < *weight {
                return value;
            }
            x -= weight;
        }
        table[table.len() - 1].0
    }

    /// A log-normal delay in ms with the given median and spread.
    fn delay(&mut self, median_ms: f64, sigma: f64) -> Millis {
        LogNormal::new(median_ms.ln(), sigma).expect("valid parameters").sample(&mut self.rng).max(SECOND) as Millis
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    /// A customer's mood after waiting `waited` ms where `median` is usual: mostly mild, worse
    /// the longer the wait, within −1..1, rounded to 2 decimals.
    fn sentiment(&mut self, waited: Millis, median: f64) -> f64 {
        let patience = (waited as f64 / median / 4.0).min(1.0);
        let mood: f64 = self.rng.random_range(-0.6..0.8) - 0.6 * patience;
        (mood.clamp(-1.0, 1.0) * 100.0).round() / 100.0
    }

    /// Load follows the working day: ~3× more tickets at 14:00 UTC than at 02:00.
    fn arrival_gap(&mut self) -> Millis {
        let hour = (self.next_ticket_at as f64 / HOUR) % 24.0;
        let load = 1.0 + 0.5 * (std::f64::consts::TAU * (hour - 8.0) / 24.0).sin();
        let rate_per_ms = self.options.tickets_per_hour * load / HOUR;
        Exp::new(rate_per_ms).expect("positive rate").sample(&mut self.rng).max(1.0) as Millis
    }

    /// Scripts the whole life of the next ticket into the queue.
    fn script_ticket(&mut self) {
        let mut events = Vec::new();
        self.script(&mut events);
        self.queue.extend(events.into_iter().map(Reverse));
    }

    fn script(&mut self, events: &mut Vec<Generated>) {
        self.tickets += 1;
        let id = format!("T{:07}", self.tickets);
        let t0 = self.next_ticket_at;
        self.next_ticket_at += self.arrival_gap();
        let channel = self.pick(&CHANNELS);
        let priority = self.pick(&PRIORITIES);
        let team = self.pick(&TEAMS);
        let topic = self.pick(&TOPICS);
        let realtime = matches!(channel, "chat" | "phone" | "messaging");
        let by_agent = !realtime && self.chance(0.04);
        let mut n = 0;
        let mut emit = |at: Millis, kind: &str, mut fields: Value| {
            n += 1;
            let base = json!({
                "event_id": format!("{id}-{n}"),
                "ticket_id": id,
                "type": kind,
                "at": jiff::Timestamp::from_millisecond(at).map(|t| t.to_string()).unwrap_or_default(),
            });
            if let (Some(obj), Value::Object(base)) = (fields.as_object_mut(), base) {
                obj.extend(base);
            }
            events.push(Generated { at, ticket_id: id.clone(), payload: fields.to_string() });
        };
        emit(
            t0,
            "ticket_created",
            json!({"channel": channel, "priority": priority, "team": team, "topic": topic,
                   "requester": if by_agent { "agent" } else { "customer" }}),
        );
        let agent = |rng: &mut ChaCha8Rng| format!("agent-{}", rng.random_range(1..=40));
        let mut t = t0;
        if by_agent {
            emit(t0, "message", json!({"author": "agent", "public": true, "agent_id": agent(&mut self.rng)}));
        }
        if matches!(channel, "email" | "web") && self.rng.random::<f64>() < 0.3 {
            emit(t0 + 2_000, "message", json!({"author": "bot", "public": true}));
        }
        // First reply: seconds on real-time channels, minutes to hours elsewhere.
        let median = if realtime {
            match channel {
                "chat" => 25.0 * SECOND,
                "phone" => 40.0 * SECOND,
                _ => 3.0 * MINUTE,
            }
        } else {
            match priority {
                "urgent" => 12.0 * MINUTE,
                "high" => 45.0 * MINUTE,
                "normal" => 2.5 * HOUR,
                _ => 6.0 * HOUR,
            }
        };
        let first_reply = self.delay(median, 0.9);
        if realtime && self.rng.random::<f64>() < 0.09 {
            let left = self.delay(first_reply as f64 * 0.6, 0.8);
            emit(t0 + left, "contact_abandoned", json!({}));
            emit(t0 + left + 1_000, "status_changed", json!({"status": "closed"}));
            return;
        }
        if !realtime && self.rng.random::<f64>() < 0.05 {
            emit(t0 + 10 * MINUTE as Millis, "ticket_updated", json!({"priority": "urgent"}));
        }
        t += first_reply;
        if self.rng.random::<f64>() < 0.2 {
            emit(t0 + first_reply / 2, "message", json!({"author": "agent", "public": false, "agent_id": agent(&mut self.rng)}));
        }
        emit(t, "message", json!({"author": "agent", "public": true, "agent_id": agent(&mut self.rng)}));
        emit(t + 500, "status_changed", json!({"status": if realtime { "open" } else { "pending" }}));
        let handle = self.rng.random_range(60.0..900.0_f64).round();
        emit(t + 1_000, "work_logged", json!({"seconds": handle, "agent_id": agent(&mut self.rng)}));
        // Follow-up exchanges.
        let exchanges = self.rng.random_range(0..=2);
        for _ in 0..exchanges {
            t += self.delay(if realtime { 40.0 * SECOND } else { 3.0 * HOUR }, 0.8);
            let sentiment = self.sentiment(t - t0, median);
            emit(t, "message", json!({"author": "customer", "public": true, "sentiment": sentiment}));
            emit(t + 500, "status_changed", json!({"status": "open"}));
            t += self.delay(if realtime { 30.0 * SECOND } else { median }, 0.9);
            emit(t, "message", json!({"author": "agent", "public": true, "agent_id": agent(&mut self.rng)}));
        }
        t += self.delay(if realtime { 2.0 * MINUTE } else { 2.0 * HOUR }, 0.7);
        emit(t, "status_changed", json!({"status": "solved"}));
        if self.rng.random::<f64>() < 0.35 {
            let score = [5, 5, 5, 4, 4, 3, 2, 1][self.rng.random_range(0..8)];
            emit(t + self.delay(HOUR, 1.0), "survey_response", json!({"survey": "csat", "score": score}));
        }
        if self.rng.random::<f64>() < 0.1 {
            let score = self.rng.random_range(0..=10);
            emit(t + self.delay(2.0 * HOUR, 1.0), "survey_response", json!({"survey": "nps", "score": score}));
        }
        if self.rng.random::<f64>() < 0.15 {
            let score = [7, 6, 6, 5, 5, 4, 3, 2][self.rng.random_range(0..8)];
            emit(t + self.delay(HOUR, 1.0), "survey_response", json!({"survey": "ces", "score": score}));
        }
        if self.rng.random::<f64>() < 0.07 {
            t += self.delay(6.0 * HOUR, 1.0);
            emit(t, "message", json!({"author": "customer", "public": true}));
            emit(t + 500, "status_changed", json!({"status": "open"}));
            t += self.delay(median, 0.9);
            emit(t, "message", json!({"author": "agent", "public": true, "agent_id": agent(&mut self.rng)}));
            emit(t + 60_000, "status_changed", json!({"status": "solved"}));
        } else if self.rng.random::<f64>() < 0.3 {
            emit(t + 24 * HOUR as Millis, "status_changed", json!({"status": "closed"}));
        }
    }
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        // Script tickets until nothing queued can come before the next creation.
        while self.queue.peek().is_none_or(|Reverse(g)| g.at >= self.next_ticket_at) {
            self.script_ticket();
        }
        self.queue.pop().map(|Reverse(g)| g)
    }
}

/// The configuration that makes generated input's widest exposition, as the scrape
/// benchmarks use it: every optional KPI on, and the generator's teams a label besides channel
/// and priority (200 000 events make about 20 000 series).
pub fn widest_config() -> Config {
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    config.kpis.cost.per_hour = Some(1400.0);
    config.dimensions.labels = vec![Dimension::Channel, Dimension::Priority, Dimension::Team];
    config.dimensions.teams = TEAMS.map(|(team, _)| team.to_string()).to_vec();
    config.kpis.staffing.enabled = true;
    config.kpis.topics.top = 10;
    // The most bounds configurable: 30, from 10 s up by half each time to about 15 days.
    config.kpis.histograms.buckets = Some((0..30).map(|i| (10.0 * 1.5_f64.powi(i)).round()).collect());
    config
}

/// `generate --out`: JSON Lines to a file or stdout. With `follow` (`--follow`), each event
/// is written when its time comes on that clock.
pub(crate) fn write_file(path: &str, options: GeneratorOptions, count: Option<u64>, follow: Option<WallClock>) -> anyhow::Result<()> {
    let sink: Box<dyn Write> = if path == "-" { Box::new(std::io::stdout().lock()) } else { Box::new(std::fs::File::create(path)?) };
    let mut out = std::io::BufWriter::new(sink);
    for event in Generator::new(options).take(count.unwrap_or(u64::MAX) as usize) {
        let wait = follow.map_or(Duration::ZERO, |clock| clock.until(event.at));
        if !wait.is_zero() {
            out.flush()?;
            std::thread::sleep(wait);
        }
        out.write_all(event.payload.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `generate --brokers --topic`: produce to Kafka, keyed by ticket id. With `follow`
/// (`--follow`), each event is produced when its time comes on that clock.
pub async fn produce(
    brokers: &str,
    topic: &str,
    options: GeneratorOptions,
    count: Option<u64>,
    follow: Option<WallClock>,
) -> anyhow::Result<()> {
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let producer: FutureProducer = rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).set("linger.ms", "20").create()?;
    let mut events = Generator::new(options).take(count.unwrap_or(u64::MAX) as usize);
    let mut sent = 0u64;
    loop {
        // Real time: one event when its time comes; otherwise batches of 1000 in flight.
        let batch: Vec<Generated> = events.by_ref().take(if follow.is_some() { 1 } else { 1000 }).collect();
        let Some(first) = batch.first() else { break };
        if let Some(clock) = follow {
            tokio::time::sleep(clock.until(first.at)).await;
        }
        // `send_result` enqueues at once (an unpolled `send` future would not), so the whole
        // batch is in flight together.
        let mut deliveries = Vec::with_capacity(batch.len());
        for e in &batch {
            let record = FutureRecord::to(topic).key(&e.ticket_id).payload(&e.payload);
            deliveries.push(producer.send_result(record).map_err(|(e, _)| anyhow::anyhow!("enqueue to {topic}: {e}"))?);
        }
        for delivery in deliveries {
            delivery.await?.map_err(|(e, _)| anyhow::anyhow!("produce to {topic}: {e}"))?;
        }
        sent += batch.len() as u64;
    }
    producer.flush(rdkafka::util::Timeout::After(Duration::from_secs(30)))?;
    tracing::info!(sent, topic, "produced");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_in_time_order() {
        let options = GeneratorOptions { seed: 7, tickets_per_hour: 300.0, start: 1_767_600_000_000 };
        let a: Vec<_> = Generator::new(options).take(2000).collect();
        let b: Vec<_> = Generator::new(options).take(2000).collect();
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(a[0].at, options.start);
        let limits = crate::engine::Rules::new(&crate::config::Config::default()).unwrap().limits;
        for g in &a {
            crate::event::parse(g.payload.as_bytes(), &limits, None).unwrap_or_else(|e| panic!("{}: {e:?}", g.payload));
        }
    }
}
