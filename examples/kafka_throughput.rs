//! The two halves of the Kafka end-to-end figure in `scripts/kafka-bench`:
//!
//! - `produce BROKERS TOPIC FILE`: writes each line of a JSON Lines file to `TOPIC`, keyed by
//!   its `ticket_id` as the intake does, and waits until every line is acknowledged.
//! - `consume BROKERS TOPIC N`: a bare consumer (a new group, from the earliest offset, the
//!   payload only touched) that reads `N` messages and prints how long that took from its
//!   first message (group join excluded), which is what the script compares `ticketpulse run`
//!   against.
//!
//! `cargo run --release --example kafka_throughput -- produce 127.0.0.1:9092 ticket-events FILE`

use std::io::BufRead;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["produce", brokers, topic, file] => produce(brokers, topic, file),
        ["consume", brokers, topic, n] => consume(brokers, topic, n.parse().expect("N must be a number")),
        _ => {
            eprintln!("usage: kafka_throughput produce BROKERS TOPIC FILE | consume BROKERS TOPIC N");
            std::process::exit(2);
        }
    }
}

fn produce(brokers: &str, topic: &str, file: &str) {
    let producer: ThreadedProducer<_> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    let started = Instant::now();
    let mut count = 0u64;
    for line in std::io::BufReader::new(std::fs::File::open(file).expect("open FILE")).lines() {
        let line = line.expect("read FILE");
        let key = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["ticket_id"].as_str().map(str::to_string))
            .unwrap_or_default();
        let mut record = BaseRecord::to(topic).payload(&line).key(&key);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        count += 1;
    }
    producer.flush(Duration::from_secs(120)).expect("every message acknowledged");
    println!("produced {count} messages in {:.2} s", started.elapsed().as_secs_f64());
}

fn consume(brokers: &str, topic: &str, n: u64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bare-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("partition.assignment.strategy", "cooperative-sticky")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let (mut count, mut bytes, mut started) = (0u64, 0usize, None);
    while count < n {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                started.get_or_insert_with(Instant::now);
                bytes += message.payload().map_or(0, <[u8]>::len);
                count += 1;
            }
            Some(Err(error)) => eprintln!("consumer error: {error}"),
            None => {}
        }
    }
    let secs = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    println!("{count} messages ({bytes} bytes) in {secs:.2} s: {:.0} messages/s", count as f64 / secs);
}
