//! The HTTP port under abuse, served from an engine without Kafka and with small limits:
//! floods of half-open connections, clients that never finish their headers or never read,
//! shutdown with a stuck client, a panicking render, the index and 404. Every count is exact;
//! times appear only as generous upper bounds on waiting.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{parse_exposition, value};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, Metric, MetricFamily, MetricType};
use ticketpulse::config::{Config, HttpConfig};
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter;
use ticketpulse::internal_events::Telemetry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z

/// Upper bound on any single wait; never reached unless something is broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// A request line and a header, without the blank line that would end the headers.
const PARTIAL: &[u8] = b"GET /healthz/live HTTP/1.1\r\nHost: x\r\n";

/// `/metrics` and the health checks of an engine holding three email tickets created at
/// START, flushed to START + 1 min, plus `extra` collectors, served with `http`.
struct Server {
    addr: SocketAddr,
    engine: Arc<Engine>,
    telemetry: Arc<Telemetry>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn serve(http: HttpConfig, extra: Vec<Box<dyn Collector>>) -> Server {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::clone(&telemetry));
    let partition = ("tickets".to_string(), 0);
    for i in 0..3 {
        let at = START + i * 1000;
        let created = format!(r#"{{"event_id":"{i}","ticket_id":"T{i}","type":"ticket_created","at":{at},"channel":"email"}}"#);
        engine.handle(&partition, created.as_bytes(), None, &"test").unwrap();
    }
    engine.finish(Some(START + 60_000));
    let engine = Arc::new(engine);
    let registry =
        exporter::Metrics::new(Arc::clone(&engine), exporter::ExportRules::new(&Config::default()), Arc::clone(&telemetry), None);
    for collector in extra {
        registry.register(collector).unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let part = (exporter::server::INDEX, exporter::server::routes(registry, Arc::clone(&telemetry)));
    let task = tokio::spawn(ticketpulse::service::serve(listener, [part], http, Arc::clone(&telemetry), async {
        let _ = stopped.await;
    }));
    Server { addr, engine, telemetry, stop: Some(stop), task }
}

fn limits(max_connections: usize, header_read_timeout: u64, request_timeout: u64) -> HttpConfig {
    HttpConfig {
        max_connections,
        header_read_timeout: Duration::from_secs(header_read_timeout),
        request_timeout: Duration::from_secs(request_timeout),
        shutdown_grace: Duration::from_secs(1),
        ..HttpConfig::default()
    }
}

/// Connections closed early so far, by reason.
fn dropped(telemetry: &Telemetry) -> BTreeMap<&'static str, u64> {
    telemetry.http_dropped_counts().into_iter().map(|(reason, n)| (reason.as_str(), n)).collect()
}

fn counts(refused: u64, evicted: u64, header_timeout: u64, request_timeout: u64, shutdown: u64) -> BTreeMap<&'static str, u64> {
    drops(&[
        ("refused", refused),
        ("evicted", evicted),
        ("header_timeout", header_timeout),
        ("request_timeout", request_timeout),
        ("shutdown", shutdown),
    ])
}

/// Every reason, with the counts given and zero for the others.
fn drops(given: &[(&'static str, u64)]) -> BTreeMap<&'static str, u64> {
    let mut all: BTreeMap<&'static str, u64> =
        ["refused", "evicted", "header_timeout", "body_timeout", "request_timeout", "shutdown"].into_iter().map(|r| (r, 0)).collect();
    all.extend(given.iter().copied());
    all
}

/// An HTTP/1.0 GET on a fresh connection: (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("response within the upper bound").unwrap();
    split(&response)
}

fn split(response: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(response);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    parse_exposition(&body)
}

/// True once the server has closed `stream` without sending anything more (EOF or reset).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(timeout(PATIENCE, stream.read(&mut byte)).await.expect("closed within the upper bound"), Ok(n) if n > 0)
}

fn tickets_created(series: &BTreeMap<String, f64>) -> f64 {
    value(series, "ticketpulse_tickets_created", &[("window", "5m"), ("channel", "email"), ("priority", "normal")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_half_open_connections_evicts_the_oldest_and_the_port_keeps_answering() {
    // Header timeout far away: only eviction can make room.
    let server = serve(limits(16, 120, 120), Vec::new()).await;
    let mut flood = Vec::new();
    for _ in 0..48 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(PARTIAL).await.unwrap();
        flood.push(stream);
    }
    // 16 fit; each of the other 32 evicts the oldest, and so does the probe: 33 evicted.
    assert_eq!(get(server.addr, "/healthz/live").await, (200, "ok\n".to_string()));
    assert_eq!(dropped(&server.telemetry), counts(0, 33, 0, 0, 0));
    // 15 flood connections are left: the scrape finds room without evicting.
    let series = scrape(server.addr).await;
    assert_eq!(tickets_created(&series), 3.0);
    assert_eq!(value(&series, "ticketpulse_http_connections_dropped_total", &[("reason", "evicted")]), 33.0);
    assert_eq!(value(&series, "ticketpulse_http_connections_dropped_total", &[("reason", "refused")]), 0.0);
    // The evicted are exactly the 33 oldest; the 15 youngest still complete their request.
    for stream in &mut flood[..33] {
        assert!(closed_by_server(stream).await);
    }
    for stream in &mut flood[33..] {
        stream.write_all(b"Connection: close\r\n\r\n").await.unwrap();
        let mut response = Vec::new();
        timeout(PATIENCE, stream.read_to_end(&mut response)).await.unwrap().unwrap();
        assert_eq!(split(&response), (200, "ok\n".to_string()));
    }
    assert_eq!(dropped(&server.telemetry), counts(0, 33, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_closed_after_the_header_timeout_and_counted_idle_keep_alive_is_not() {
    let server = serve(limits(16, 1, 120), Vec::new()).await;
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial.write_all(PARTIAL).await.unwrap();
    assert!(closed_by_server(&mut partial).await);
    assert_eq!(dropped(&server.telemetry), counts(0, 0, 1, 0, 0));

    // A connection that never sends a byte is a stalled request too.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(closed_by_server(&mut silent).await);
    assert_eq!(dropped(&server.telemetry), counts(0, 0, 2, 0, 0));

    // A kept-alive connection idle after a complete exchange is closed as routine, uncounted.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    kept.write_all(b"GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\nok\n") {
        let mut chunk = [0u8; 512];
        let n = timeout(PATIENCE, kept.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "closed before the response: {}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&chunk[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(closed_by_server(&mut kept).await);
    assert_eq!(dropped(&server.telemetry), counts(0, 0, 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_a_stuck_client_after_the_grace_period() {
    let mut server = serve(limits(16, 120, 120), Vec::new()).await;
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck.write_all(PARTIAL).await.unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz/live HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 17];
    timeout(PATIENCE, idle.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");

    server.stop.take().unwrap().send(()).unwrap();
    // Without the grace period the stuck client would hold shutdown for its 120 s header timeout.
    timeout(PATIENCE, &mut server.task).await.expect("shutdown within the grace period").unwrap();
    // The idle connection closed at once, uncounted; the stuck one when the 1 s grace ran out.
    assert_eq!(dropped(&server.telemetry), counts(0, 0, 0, 0, 1));
    assert!(closed_by_server(&mut stuck).await);
    let mut rest = Vec::new();
    timeout(PATIENCE, idle.read_to_end(&mut rest)).await.unwrap().unwrap();
    assert!(rest.ends_with(b"\r\n\r\nok\n"), "{}", String::from_utf8_lossy(&rest));
    assert!(TcpStream::connect(server.addr).await.is_err(), "the listener is closed");
}

/// A descriptor: the registry tells collectors apart by theirs.
fn desc(name: &str) -> Desc {
    Desc::new(name.into(), "test".into(), Vec::new(), Default::default()).unwrap()
}

/// Panics on its first collection only.
struct PanicsOnce(Desc, AtomicBool);

impl Collector for PanicsOnce {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if !self.1.swap(true, Ordering::SeqCst) {
            panic!("a collector bug");
        }
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_render_is_a_500_and_the_next_scrape_works() {
    let server = serve(limits(16, 5, 10), vec![Box::new(PanicsOnce(desc("panics_once"), AtomicBool::new(false)))]).await;
    assert_eq!(get(server.addr, "/metrics").await, (500, "rendering the metrics failed; the log says why\n".to_string()));
    let series = scrape(server.addr).await;
    assert_eq!(tickets_created(&series), 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_lists_the_endpoints_and_unknown_paths_are_404() {
    let server = serve(HttpConfig::default(), Vec::new()).await;
    let index = "ticketpulse\n\
                 /metrics        Prometheus metrics\n\
                 /healthz/live   liveness: 200 while the process runs\n\
                 /healthz/ready  readiness: 200 while a partition is assigned and a Kafka broker is reachable\n";
    assert_eq!(get(server.addr, "/").await, (200, index.to_string()));
    assert_eq!(get(server.addr, "/nope").await, (404, "not found; the endpoints are listed at /\n".to_string()));
    assert_eq!(get(server.addr, "/metrics/extra").await.0, 404);
    // No partition assigned: not ready.
    assert_eq!(get(server.addr, "/healthz/ready").await, (503, "not ready: no partition assigned\n".to_string()));
}

/// One gauge family whose help text is `bytes` long: an exposition larger than the socket
/// buffers of both ends together, so a client that stops reading leaves it half written.
struct Large(Desc, usize);

impl Collector for Large {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut family = MetricFamily::default();
        family.set_name("large".into());
        family.set_help("x".repeat(self.1));
        family.set_field_type(MetricType::GAUGE);
        let mut metric = Metric::default();
        metric.set_gauge(Gauge::default());
        family.mut_metric().push(metric);
        vec![family]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_holds_no_engine_state_and_is_closed_after_the_request_timeout() {
    let server = serve(limits(16, 5, 5), vec![Box::new(Large(desc("large"), 8 << 20))]).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(server.addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut received = Vec::new();
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 256];
        let n = timeout(PATIENCE, slow.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0);
        received.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&received).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    assert!(length > 8 << 20);

    // The response is half written and its reader stalled: the engine is free, and other
    // clients are served in full.
    assert!(server.engine.lanes().iter().all(|(_, lane)| lane.try_lock().is_ok()), "a slow reader holds the engine lock");
    assert_eq!(get(server.addr, "/healthz/live").await, (200, "ok\n".to_string()));
    assert_eq!(tickets_created(&scrape(server.addr).await), 3.0);

    // The 5 s request timeout closes it; only then does the client read again, and it gets
    // what the socket buffers held, not the whole response.
    timeout(PATIENCE, async {
        while dropped(&server.telemetry)["request_timeout"] == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("closed by the request timeout");
    let mut rest = Vec::new();
    let _ = timeout(PATIENCE, slow.read_to_end(&mut rest)).await.unwrap();
    let body_received = received.len() + rest.len() - (head.find("\r\n\r\n").unwrap() + 4);
    assert!(body_received < length, "received all {length} bytes");
    assert_eq!(dropped(&server.telemetry), counts(0, 0, 0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_slow_reader_makes_room_for_a_probe() {
    let server = serve(limits(1, 120, 120), vec![Box::new(Large(desc("large"), 8 << 20))]).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(server.addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 17];
    timeout(PATIENCE, slow.read_exact(&mut head)).await.unwrap().unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    // The only place is held by a response its client does not read: the probe takes it.
    assert_eq!(get(server.addr, "/healthz/live").await, (200, "ok\n".to_string()));
    assert_eq!(dropped(&server.telemetry), counts(0, 1, 0, 0, 0));
    let mut rest = Vec::new();
    let _ = timeout(PATIENCE, slow.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.len() < 8 << 20, "the evicted reader got the whole response");
}

/// Blocks its first collection until released, saying when it has started.
struct Blocks {
    desc: Desc,
    entered: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Collector for Blocks {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Some(entered) = self.entered.lock().unwrap().take() {
            entered.send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_request_being_handled_is_never_cut_the_newcomer_is_refused() {
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let blocks = Blocks { desc: desc("blocks"), entered: Mutex::new(Some(entered_tx)), release: Mutex::new(release_rx) };
    let server = serve(limits(1, 120, 120), vec![Box::new(blocks)]).await;
    let addr = server.addr;
    let scrape = tokio::spawn(async move { scrape(addr).await });
    tokio::task::spawn_blocking(move || entered.recv_timeout(PATIENCE)).await.unwrap().expect("the render started");
    // The only place is rendering /metrics: the probe is closed unanswered.
    let mut probe = TcpStream::connect(addr).await.unwrap();
    probe.write_all(b"GET /healthz/live HTTP/1.0\r\n\r\n").await.unwrap();
    assert!(closed_by_server(&mut probe).await);
    assert_eq!(dropped(&server.telemetry), counts(1, 0, 0, 0, 0));
    release.send(()).unwrap();
    assert_eq!(tickets_created(&scrape.await.unwrap()), 3.0);
    assert_eq!(get(addr, "/healthz/live").await, (200, "ok\n".to_string()));
}

fn load(toml: &str) -> Result<Config, String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    Config::load(Some(file.path())).map_err(|e| e.to_string())
}

#[test]
fn http_settings_are_validated_naming_the_field() {
    let cases = [
        ("[http]\nheader_read_timeout = \"10ms\"\n", "http.header_read_timeout: must be at least 100ms"),
        ("[http]\nrequest_timeout = \"0s\"\n", "http.request_timeout: must be at least 100ms"),
        ("[http]\nmax_connections = 0\n", "http.max_connections: must be positive"),
        ("[http]\nshutdown_grace = \"30s\"\n", "http.shutdown_grace: must be shorter than shutdown_timeout"),
    ];
    for (toml, error) in cases {
        assert_eq!(load(toml).unwrap_err(), error, "{toml}");
    }
    let err = load("[http]\nheader_read_timeout = \"soon\"\n").unwrap_err();
    assert!(err.contains("http.header_read_timeout"), "{err}");
}

#[test]
fn shipped_http_section_equals_the_defaults() {
    let shipped = Config::load(Some(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ticketpulse.toml")))).unwrap();
    assert_eq!(format!("{:?}", shipped.http), format!("{:?}", HttpConfig::default()));
    let d = HttpConfig::default();
    assert_eq!(
        (d.listen.to_string(), d.header_read_timeout, d.body_read_timeout, d.request_timeout, d.max_connections, d.shutdown_grace),
        ("0.0.0.0:9850".to_string(), Duration::from_secs(5), Duration::from_secs(5), Duration::from_secs(10), 256, Duration::from_secs(5))
    );
}

/// The response head of `request` sent on a fresh connection: status line and headers, lower case.
async fn head(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("response within the upper bound").unwrap();
    let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
    text.split_once("\r\n\r\n").map(|(h, _)| h.to_string()).unwrap_or(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_of_every_endpoint_carries_the_security_headers() {
    let server = serve(HttpConfig::default(), Vec::new()).await;
    let requests = [
        ("GET / HTTP/1.0\r\n\r\n", "200"),
        ("GET /metrics HTTP/1.0\r\n\r\n", "200"),
        ("GET /healthz/live HTTP/1.0\r\n\r\n", "200"),
        ("GET /healthz/ready HTTP/1.0\r\n\r\n", "503"),
        ("GET /nope HTTP/1.0\r\n\r\n", "404"),
        ("POST /metrics HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", "405"),
    ];
    for (request, status) in requests {
        let head = head(server.addr, request).await;
        assert!(head.starts_with(&format!("http/1.0 {status} ")), "{request:?}: {head}");
        for line in [
            "x-content-type-options: nosniff",
            "content-security-policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            "referrer-policy: no-referrer",
        ] {
            assert_eq!(head.lines().filter(|l| *l == line).count(), 1, "{request:?}: {line} missing in\n{head}");
        }
    }
}

/// A server whose `POST /upload` reads the whole body and answers its length, saying on
/// `started` each time it begins to wait for a body; and `/healthz/live`.
async fn upload_server(http: HttpConfig) -> (SocketAddr, Arc<Telemetry>, tokio::sync::mpsc::UnboundedReceiver<()>) {
    use axum::routing::{get as get_route, post};
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().route("/healthz/live", get_route(|| async { "ok\n" })).route(
        "/upload",
        post(move |body: axum::body::Body| {
            let started = started_tx.clone();
            async move {
                let _ = started.send(());
                match axum::body::to_bytes(body, 1 << 20).await {
                    Ok(bytes) => format!("{} bytes\n", bytes.len()),
                    Err(_) => "body error\n".to_string(),
                }
            }
        }),
    );
    let telemetry = Arc::new(Telemetry::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::clone(&telemetry);
    tokio::spawn(async move { ticketpulse::http::serve(listener, router, &http, served, std::future::pending()).await });
    (addr, telemetry, started)
}

/// An upload that declares 100 bytes and sends 6: the server waits for the other 94.
const DRIP: &[u8] = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n123456";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_completes_is_closed_at_the_body_timeout_not_the_request_timeout() {
    // Defaults: the body has 5 s from the end of the headers, the request 10 s; the header
    // timeout (5 s from the connection's start) no longer applies once the headers are in.
    let (addr, telemetry, mut started) = upload_server(HttpConfig::default()).await;
    let mut drip = TcpStream::connect(addr).await.unwrap();
    drip.write_all(DRIP).await.unwrap();
    timeout(PATIENCE, started.recv()).await.unwrap().unwrap();
    assert!(closed_by_server(&mut drip).await);
    assert_eq!(dropped(&telemetry), drops(&[("body_timeout", 1)]));
    // A body sent whole is read and answered.
    let mut whole = TcpStream::connect(addr).await.unwrap();
    whole.write_all(b"POST /upload HTTP/1.0\r\nContent-Length: 6\r\n\r\n123456").await.unwrap();
    let mut response = Vec::new();
    timeout(PATIENCE, whole.read_to_end(&mut response)).await.unwrap().unwrap();
    assert_eq!(split(&response), (200, "6 bytes\n".to_string()));
    assert_eq!(dropped(&telemetry), drops(&[("body_timeout", 1)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_a_connection_still_reading_a_body_makes_room_for_a_probe() {
    // One place; header and request timeouts far away: only eviction can make room.
    let (addr, telemetry, mut started) = upload_server(limits(1, 120, 120)).await;
    let mut drip = TcpStream::connect(addr).await.unwrap();
    drip.write_all(DRIP).await.unwrap();
    timeout(PATIENCE, started.recv()).await.unwrap().unwrap();
    // The only place is held by a body that does not come: the probe takes it.
    assert_eq!(get(addr, "/healthz/live").await, (200, "ok\n".to_string()));
    assert_eq!(dropped(&telemetry), drops(&[("evicted", 1)]));
    assert!(closed_by_server(&mut drip).await);
    // A complete upload, once in, is being handled: the next newcomer takes no place from
    // it, and it is answered. (Its body is read at once, so it is never seen stalled.)
    let mut whole = TcpStream::connect(addr).await.unwrap();
    whole.write_all(b"POST /upload HTTP/1.0\r\nContent-Length: 6\r\n\r\n123456").await.unwrap();
    let mut response = Vec::new();
    timeout(PATIENCE, whole.read_to_end(&mut response)).await.unwrap().unwrap();
    assert_eq!(split(&response), (200, "6 bytes\n".to_string()));
    assert_eq!(dropped(&telemetry), drops(&[("evicted", 1)]));
}

#[test]
fn the_body_read_timeout_is_validated_naming_the_field() {
    let error = "http.body_read_timeout: must be at least 100ms and at most http.request_timeout";
    assert_eq!(load("[http]\nbody_read_timeout = \"10ms\"\n").unwrap_err(), error);
    assert_eq!(load("[http]\nbody_read_timeout = \"11s\"\nrequest_timeout = \"10s\"\n").unwrap_err(), error);
    assert_eq!(
        load("[http]\nbody_read_timeout = \"10s\"\nrequest_timeout = \"10s\"\n").unwrap().http.body_read_timeout,
        Duration::from_secs(10)
    );
}
