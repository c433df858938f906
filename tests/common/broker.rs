//! A Kafka-protocol broker for a test (tansu on loopback, or `KAFKA_BROKERS`), a proxy to cut
//! it off, topics, producing, and the in-process configuration that reads from it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use ticketpulse::config::Config;

/// A Kafka-protocol broker for one test: `KAFKA_BROKERS` if set, else a tansu process on a
/// free loopback port with in-memory storage, killed on drop.
pub struct Broker {
    pub bootstrap: String,
    pub(super) child: Option<Child>,
}

impl Broker {
    pub fn start() -> Broker {
        if let Ok(bootstrap) = std::env::var("KAFKA_BROKERS") {
            return Broker { bootstrap, child: None };
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Broker::spawn_tansu(port, port)
    }

    /// tansu listening on `port` and telling clients to connect to `advertised`.
    pub(super) fn spawn_tansu(port: u16, advertised: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised_url = format!("tcp://127.0.0.1:{advertised}");
        let bin = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &advertised_url, "--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the tansu broker ({bin}): {e}. Run ./scripts/test, which installs it, or set KAFKA_BROKERS")
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Broker { bootstrap: format!("127.0.0.1:{advertised}"), child: Some(child) }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP forwarder in front of the broker, which advertises the proxy's port: stopping it
/// is a broker outage for every client (connections reset, new ones refused).
pub struct Proxy {
    pub port: u16,
    upstream: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn new(port: u16, upstream: u16) -> Proxy {
        let mut proxy = Proxy { port, upstream, stop: Default::default(), connections: Default::default(), acceptor: None };
        proxy.start();
        proxy
    }

    /// Accepts connections again (after [`Proxy::stop`]).
    pub fn start(&mut self) {
        use std::sync::atomic::Ordering;
        self.stop.store(false, Ordering::SeqCst);
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (stop, connections, upstream) = (self.stop.clone(), self.connections.clone(), self.upstream);
        self.acceptor = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let mut guard = connections.lock().unwrap();
                guard.push(client.try_clone().unwrap());
                guard.push(server.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        }));
    }

    /// Closes the listening port and every open connection.
    pub fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.join().unwrap();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Broker {
    /// A tansu broker reachable only through a [`Proxy`] (so the test can cut it off).
    pub fn start_behind_proxy() -> (Broker, Proxy) {
        let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, proxy_port) = (free(), free());
        let broker = Broker::spawn_tansu(port, proxy_port);
        (broker, Proxy::new(proxy_port, port))
    }
}

/// A client configuration for `bootstrap` with extra librdkafka properties.
pub fn client(bootstrap: &str, properties: &[(&str, &str)]) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap);
    for (key, value) in properties {
        client.set(*key, *value);
    }
    client
}

pub async fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<_> = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let new: Vec<_> = topics.iter().map(|(name, n)| NewTopic::new(name, *n, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        result.unwrap_or_else(|(topic, e)| panic!("create {topic}: {e}"));
    }
}

/// [`create_topics`] through a client configured by `client`.
pub async fn create_topics_with(client: &ClientConfig, topics: &[(&str, i32)]) {
    let admin: AdminClient<_> = client.create().unwrap();
    let new: Vec<_> = topics.iter().map(|(name, n)| NewTopic::new(name, *n, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        result.unwrap_or_else(|(topic, e)| panic!("create {topic}: {e}"));
    }
}

/// The ticket id of a well-formed event line (its Kafka key), `None` for garbage.
pub fn key_of(line: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["ticket_id"].as_str().map(String::from))
}

pub async fn produce(bootstrap: &str, topic: &str, lines: &[&str]) {
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    for line in lines {
        // Key = ticket id when readable, as the contract asks; garbage goes unkeyed.
        let key = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["ticket_id"].as_str().map(String::from));
        let mut record = FutureRecord::<String, str>::to(topic).payload(line);
        if let Some(key) = key.as_ref() {
            record = record.key(key);
        }
        producer.send(record, Duration::from_secs(10)).await.unwrap();
    }
}

/// Produces JSON lines keyed by ticket id, in order, through a client configured by `client`.
pub async fn produce_with(client: &ClientConfig, topic: &str, lines: &[&str]) {
    let producer: FutureProducer = client.create().unwrap();
    for line in lines {
        let key = key_of(line);
        let mut record = FutureRecord::<String, str>::to(topic).payload(line);
        if let Some(key) = key.as_ref() {
            record = record.key(key);
        }
        producer.send(record, Duration::from_secs(10)).await.unwrap();
    }
}

/// Produces `(key, payload, partition)` messages in order, many in flight at once.
pub async fn produce_all(bootstrap: &str, topic: &str, messages: &[(Option<String>, Vec<u8>, Option<i32>)]) {
    // One message per record batch: tansu answers a fetch from the middle of a batch with the
    // next batch, skipping the rest of the one asked for, so resuming at an arbitrary offset
    // (what snapshots do) needs batch boundaries at every offset. Real Kafka has no such limit.
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("batch.num.messages", "1").set("max.in.flight", "1").create().unwrap();
    for batch in messages.chunks(5_000) {
        let mut deliveries = Vec::with_capacity(batch.len());
        for (key, payload, partition) in batch {
            let mut record = FutureRecord::<String, [u8]>::to(topic).payload(payload);
            if let Some(key) = key {
                record = record.key(key);
            }
            if let Some(p) = partition {
                record = record.partition(*p);
            }
            deliveries.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
        for d in deliveries {
            d.await.unwrap().unwrap();
        }
    }
}

pub fn config(bootstrap: &str, topic: &str) -> Config {
    let mut config = Config::default();
    config.kafka.brokers = bootstrap.to_string();
    config.kafka.topics = vec![topic.to_string()];
    config.kafka.dead_letter_topic = format!("{topic}-dlq");
    config.kafka.group_id = format!("{topic}-group");
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    // Stream time from events only, so the expectations do not depend on the wall clock; and
    // the scenario is dated in the past, so no future-skew rejection applies.
    config.time.idle_timeout = Duration::ZERO;
    config.snapshots.dir = std::env::temp_dir().join(format!("ticketpulse-tests-{}", std::process::id())).join(topic);
    // A restarted test instance replaces a killed one quickly.
    config.kafka.librdkafka.insert("session.timeout.ms".into(), "6000".into());
    config.kafka.librdkafka.insert("heartbeat.interval.ms".into(), "500".into());
    config
}
