//! Helpers shared by the integration tests: reading the exposition, scraping over HTTP and
//! starting a real Kafka-protocol broker (tansu) on loopback.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use ticketpulse::config::Config;
use ticketpulse::exporter::across;
use ticketpulse::kpi::Across;

/// Series (`name{labels}` exactly as exposed) → value, comments dropped.
pub fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("series and value");
            (series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l}")))
        })
        .collect()
}

/// The exposition key of a series: name and label pairs in exposition order.
pub fn key(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Looks a series up by name and label pairs (in exposition order), failing with the
/// neighbouring series if it is missing.
pub fn value(series: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = key(name, labels);
    match series.get(&key) {
        Some(v) => *v,
        None => {
            let similar: Vec<_> = series.keys().filter(|k| k.starts_with(name)).take(20).collect();
            panic!("no series {key}; series of that name: {similar:#?}")
        }
    }
}

/// Asserts a quantile within DDSketch's 1% relative error.
pub fn assert_within_1pct(actual: f64, expected: f64) {
    assert!((actual - expected).abs() <= expected * 0.01, "expected {expected} ±1%, got {actual}");
}

/// A plain HTTP/1.0 GET: (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// A Kafka-protocol broker for one test: `KAFKA_BROKERS` if set, else a tansu process on a
/// free loopback port with in-memory storage, killed on drop.
pub struct Broker {
    pub bootstrap: String,
    child: Option<Child>,
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
    fn spawn_tansu(port: u16, advertised: u16) -> Broker {
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

/// Self-metric families: they describe this process (message counts, positions, snapshots),
/// not the help desk, and legitimately differ between runs over the same input.
pub const SELF_METRICS: [&str; 16] = [
    "ticketpulse_events_total",
    "ticketpulse_invalid_events_total",
    "ticketpulse_dead_letter_",
    "ticketpulse_consumer_lag_messages",
    "ticketpulse_stream_time_seconds",
    "ticketpulse_watermark_seconds",
    "ticketpulse_tracked_tickets",
    "ticketpulse_buffered_events",
    "ticketpulse_tickets_shed_total",
    "ticketpulse_reorder_buffer_full_events_total",
    "ticketpulse_snapshots_saved_total",
    "ticketpulse_snapshots_restored_total",
    "ticketpulse_snapshot_failures_total",
    "ticketpulse_snapshot_size_bytes",
    "ticketpulse_snapshot_pause_seconds",
    "ticketpulse_build_info",
];

/// The KPI samples of an exposition, in order, without comments and self-metrics, nor the
/// all-time totals: they are labelled by input partition (a replay's is `replay`/`0`) and shown
/// as of the last snapshot saved, so they are compared on their own (tests/totals.rs).
pub fn kpis(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#') && !SELF_METRICS.iter().any(|m| l.starts_with(m)) && !l.contains("partition=\"")).collect()
}

/// Runs `promtool check metrics` on an exposition; returns its complaints.
pub fn promtool_check_metrics(exposition: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run ./scripts/test, which installs Debian's prometheus package");
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() || !text.is_empty(), "promtool failed without output");
    if out.status.success() {
        String::new()
    } else {
        text
    }
}

pub async fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<_> = ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let new: Vec<_> = topics.iter().map(|(name, n)| NewTopic::new(name, *n, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        result.unwrap_or_else(|(topic, e)| panic!("create {topic}: {e}"));
    }
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

/// Scrapes until `done` holds (or 60 s pass) and returns the parsed series.
pub async fn scrape_until(addr: std::net::SocketAddr, done: impl Fn(&std::collections::BTreeMap<String, f64>) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.unwrap().unwrap();
        assert_eq!(status, 200);
        if done(&parse_exposition(&body)) {
            return body;
        }
        assert!(Instant::now() < deadline, "condition not reached in 60 s; last scrape:\n{body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn total_events(s: &std::collections::BTreeMap<String, f64>) -> f64 {
    s.iter().filter(|(k, _)| k.starts_with("ticketpulse_events_total")).map(|(_, v)| v).sum()
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

/// The ticket id of a well-formed event line (its Kafka key), `None` for garbage.
pub fn key_of(line: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["ticket_id"].as_str().map(String::from))
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

/// Asserts two expositions carry the same KPI samples, listing the first differences.
pub fn assert_same_kpis(actual: &str, expected: &str) {
    let (a, e) = (kpis(actual), kpis(expected));
    if a == e {
        return;
    }
    let (sa, se): (BTreeMap<_, _>, BTreeMap<_, _>) =
        (a.iter().filter_map(|l| l.rsplit_once(' ')).collect(), e.iter().filter_map(|l| l.rsplit_once(' ')).collect());
    let mut diffs: Vec<String> = Vec::new();
    for key in sa.keys().chain(se.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (x, y) = (sa.get(key), se.get(key));
        if x != y {
            diffs.push(format!("{key}: actual {x:?}, expected {y:?}"));
        }
    }
    panic!("{} KPI samples differ, e.g.:\n{}", diffs.len(), diffs.iter().take(25).cloned().collect::<Vec<_>>().join("\n"));
}

/// One `/metrics` body, `None` unless it answered 200.
pub fn scrape(addr: SocketAddr) -> Option<String> {
    http_get(addr, "/metrics").ok().filter(|(status, _)| *status == 200).map(|(_, body)| body)
}

/// Waits until `done` holds for a scrape, returning it.
pub fn wait_for(addr: SocketAddr, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(text) = scrape(addr).filter(|t| done(t)) {
            return text;
        }
        assert!(Instant::now() < deadline, "condition not reached within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `program` in `dir` to success, failing with its output.
pub fn run_ok(dir: &std::path::Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-test-deps installs it)"));
    assert!(out.status.success(), "{program} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Test certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1
/// signed by it (`server_pem`: certificate and key, as socat wants them), and an unrelated
/// CA that did not sign it.
pub struct Pki {
    pub ca: std::path::PathBuf,
    pub server_pem: std::path::PathBuf,
    pub other_ca: std::path::PathBuf,
}

impl Pki {
    pub fn generate(dir: &std::path::Path) -> Pki {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let ca = |name: &str, cn: &str| {
            let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN={cn}"));
            let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject, "-keyout", &key, "-out", &pem];
            args.extend(ec);
            run_ok(dir, "openssl", &args);
        };
        ca("ca", "ticketpulse test CA");
        ca("other-ca", "another CA");
        let mut request = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"];
        request.extend(ec);
        run_ok(dir, "openssl", &request);
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        run_ok(
            dir,
            "openssl",
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ],
        );
        let both = [std::fs::read(dir.join("server.crt")).unwrap(), std::fs::read(dir.join("server.key")).unwrap()].concat();
        std::fs::write(dir.join("server.pem"), both).unwrap();
        Pki { ca: dir.join("ca.pem"), server_pem: dir.join("server.pem"), other_ca: dir.join("other-ca.pem") }
    }
}

/// tansu behind Debian's socat as TLS terminator: tansu advertises socat's port, so every
/// client connection is TLS with `server_pem`'s certificate. Both are killed on drop.
pub struct TlsBroker {
    /// The TLS listener.
    pub bootstrap: String,
    socat: Child,
    _broker: Broker,
}

impl TlsBroker {
    pub fn start(server_pem: &std::path::Path) -> TlsBroker {
        let (tansu_port, tls_port) = (free_port(), free_port());
        TlsBroker::terminate(server_pem, Broker::spawn_tansu(tansu_port, tls_port), tansu_port, tls_port)
    }

    /// Like [`TlsBroker::start`], with tansu requiring SASL authentication (it offers
    /// SCRAM-SHA-256 and SCRAM-SHA-512).
    pub fn start_with_authentication(server_pem: &std::path::Path) -> TlsBroker {
        let (tansu_port, tls_port) = (free_port(), free_port());
        let bin = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let child = Command::new(&bin)
            .args(["broker", "--authentication", "--storage-engine", "memory://tansu/"])
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{tansu_port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{tls_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the tansu broker ({bin}): {e}. Run ./scripts/test, which installs it"));
        let broker = Broker { bootstrap: format!("127.0.0.1:{tls_port}"), child: Some(child) };
        TlsBroker::terminate(server_pem, broker, tansu_port, tls_port)
    }

    fn terminate(server_pem: &std::path::Path, broker: Broker, tansu_port: u16, tls_port: u16) -> TlsBroker {
        let socat = Command::new("socat")
            .arg(format!("openssl-listen:{tls_port},cert={},verify=0,reuseaddr,fork", server_pem.display()))
            .arg(format!("tcp:127.0.0.1:{tansu_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start socat: {e} (scripts/install-test-deps installs it)"));
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [tansu_port, tls_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "tansu or socat did not listen on {port} within 30 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        TlsBroker { bootstrap: format!("127.0.0.1:{tls_port}"), socat, _broker: broker }
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
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

/// [`create_topics`] through a client configured by `client`.
pub async fn create_topics_with(client: &ClientConfig, topics: &[(&str, i32)]) {
    let admin: AdminClient<_> = client.create().unwrap();
    let new: Vec<_> = topics.iter().map(|(name, n)| NewTopic::new(name, *n, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await.unwrap() {
        result.unwrap_or_else(|(topic, e)| panic!("create {topic}: {e}"));
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

/// A `ticketpulse` process with its standard error collected, killed on drop.
pub struct Service {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Service {
    /// `ticketpulse run --config config` with `RUST_LOG=info`.
    pub fn spawn(config: &std::path::Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Service { child, stderr }
    }

    /// Everything it logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits until its log satisfies `done` (or `limit` passes) and returns the log.
    pub fn wait_for_log(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.stderr();
            if done(&log) {
                return log;
            }
            assert!(Instant::now() < deadline, "log condition not reached within {limit:?}; log:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The partition a [`Harness`] feeds.
pub fn harness_partition() -> ticketpulse::base::PartitionId {
    ("tickets".to_string(), 0)
}

/// An engine fed by hand on one partition, as the live service feeds it (`now` = the wall
/// clock) or as replay does (`None`), and read as `/metrics` reads it.
pub struct Harness {
    pub engine: std::sync::Arc<ticketpulse::engine::Engine>,
    pub telemetry: std::sync::Arc<ticketpulse::internal_events::Telemetry>,
    pub rules: ticketpulse::exporter::ExportRules,
}

impl Harness {
    pub fn new(config: &Config) -> Self {
        let telemetry = std::sync::Arc::new(ticketpulse::internal_events::Telemetry::default());
        let engine = ticketpulse::engine::Engine::new(ticketpulse::engine::Rules::new(config).unwrap(), std::sync::Arc::clone(&telemetry));
        Self { engine: std::sync::Arc::new(engine), telemetry, rules: ticketpulse::exporter::ExportRules::new(config) }
    }

    pub fn send(&self, line: &str, now: Option<i64>) -> ticketpulse::internal_events::EventResult {
        self.engine.handle(&harness_partition(), line.as_bytes(), now, &"test").expect("a valid event")
    }

    pub fn scrape(&self) -> BTreeMap<String, f64> {
        let registry = ticketpulse::exporter::registry(
            std::sync::Arc::clone(&self.engine),
            self.rules.clone(),
            std::sync::Arc::clone(&self.telemetry),
            None,
        );
        parse_exposition(&ticketpulse::exporter::encode(&registry))
    }
}

/// A plain HTTP/1.0 POST with extra headers: (status code, body).
pub fn http_post(addr: SocketAddr, path: &str, headers: &[(String, String)], body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // A server may answer (413) before reading all of a large body and close.
    let _ = stream.write_all(body);
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Per partition of `topic`, the stream time an instance reports.
pub fn stream_times(text: &str, topic: &str) -> BTreeMap<i32, f64> {
    let prefix = format!("ticketpulse_stream_time_seconds{{topic=\"{topic}\",partition=\"");
    parse_exposition(text)
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).and_then(|rest| rest.split('"').next()).map(|p| (p.parse().unwrap(), v)))
        .collect()
}

/// A series without labels (a counter's total), 0 when absent.
pub fn counter(text: &str, name: &str) -> f64 {
    parse_exposition(text).get(name).copied().unwrap_or(0.0)
}

/// The KPI series that combine across instances, as their families declare
/// (`ticketpulse::exporter::across`: counts and sums, maxima, minima; not quantiles, ratios,
/// means or configured values), zeros dropped.
pub fn additive(text: &str) -> BTreeMap<String, f64> {
    kpis(text)
        .into_iter()
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(k, _)| across(k).is_some_and(|a| a != Across::Never))
        .map(|(k, v)| (k.to_string(), v.parse::<f64>().unwrap()))
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

/// The one rule for combining series across instances: the [`additive`] series of several
/// instances' expositions, each value taken through `unit` first, combined as its family
/// declares (counts and sums add, an oldest age is the largest, the time to the next deadline
/// the smallest): what one instance holding every partition shows.
pub fn fleet<T: Copy + PartialOrd + std::ops::Add<Output = T>>(texts: &[String], unit: impl Fn(f64) -> T) -> BTreeMap<String, T> {
    let mut fleet: BTreeMap<String, T> = BTreeMap::new();
    for text in texts {
        for (k, v) in additive(text) {
            let (v, rule) = (unit(v), across(&k));
            fleet
                .entry(k)
                .and_modify(|total| {
                    *total = match rule {
                        Some(Across::Max) if v > *total => v,
                        Some(Across::Min) if v < *total => v,
                        Some(Across::Max | Across::Min) => *total,
                        _ => *total + v,
                    }
                })
                .or_insert(v);
        }
    }
    fleet
}
