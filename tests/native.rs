//! Native histograms end to end: an engine fed by hand with ten first responses of known
//! durations, served on `/metrics`, scraped by the real Prometheus (Debian's 2.42) with
//! `--enable-feature=native-histograms`, which asks for the protobuf exposition. What it
//! answers over the native series equals what is derived by hand from the values; the other
//! families read as they do from the text format.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_addr, http_get, spawn_prometheus_with, urlencode};
use prost::Message as _;
use serde_json::Value as Json;
use ticketpulse::config::{Config, HttpConfig};
use ticketpulse::engine::{Engine, Rules};
use ticketpulse::exporter::{self, proto};
use ticketpulse::internal_events::Telemetry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z

/// What Prometheus 2.42 with `--enable-feature=native-histograms` sends.
const PROMETHEUS_ACCEPT: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// First-response times (s) of the ten tickets: count 10, sum 11,010.
const FIRST_RESPONSES: [i64; 10] = [30, 60, 120, 300, 600, 900, 1200, 1800, 2400, 3600];

/// `/metrics` of an engine holding one email ticket per value of [`FIRST_RESPONSES`], each
/// answered by an agent that many seconds after its creation.
async fn serve(config: Config) -> SocketAddr {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("tickets".to_string(), 0);
    for (i, seconds) in FIRST_RESPONSES.iter().enumerate() {
        let at = START + i as i64 * 1000;
        let created = format!(r#"{{"event_id":"c{i}","ticket_id":"T{i}","type":"ticket_created","at":{at},"channel":"email"}}"#);
        let reply = at + seconds * 1000;
        let answered = format!(r#"{{"event_id":"m{i}","ticket_id":"T{i}","type":"message","at":{reply},"author":"agent","public":true}}"#);
        engine.handle(&partition, created.as_bytes(), None, &"test").unwrap();
        engine.handle(&partition, answered.as_bytes(), None, &"test").unwrap();
    }
    engine.finish(Some(START + 2 * 3_600_000));
    let registry = exporter::Metrics::new(Arc::new(engine), exporter::ExportRules::new(&config), Arc::clone(&telemetry), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let part = (exporter::server::INDEX, exporter::server::routes(registry, Arc::clone(&telemetry)));
    tokio::spawn(ticketpulse::service::serve(listener, [part], HttpConfig::default(), telemetry, std::future::pending()));
    addr
}

/// A GET of `/metrics` with `accept`: (Content-Type, body).
async fn get_metrics(addr: SocketAddr, accept: &str) -> (String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: x\r\nAccept: {accept}\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..end]).to_string();
    let content_type = head.lines().find_map(|l| l.strip_prefix("content-type: ")).unwrap().to_string();
    (content_type, response[end + 4..].to_vec())
}

/// An instant query's result vector, once it has one (Prometheus scrapes every second).
async fn query(prometheus: SocketAddr, promql: &str) -> Vec<Json> {
    let path = format!("/api/v1/query?query={}", urlencode(promql));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let path = path.clone();
        let (status, body) = tokio::task::spawn_blocking(move || http_get(prometheus, &path)).await.unwrap().unwrap();
        assert_eq!(status, 200, "{promql}: {body}");
        let v: Json = serde_json::from_str(&body).unwrap();
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if !result.is_empty() || Instant::now() > deadline {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The value of a one-element instant vector.
async fn scalar(prometheus: SocketAddr, promql: &str) -> f64 {
    let result = query(prometheus, promql).await;
    assert_eq!(result.len(), 1, "{promql}: {result:?}");
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_the_cumulative_histograms_as_native_histograms() {
    let target = serve(Config::default()).await;

    // Content negotiation: Prometheus's Accept gets protobuf, anything else today's text.
    let (content_type, text) = get_metrics(target, "text/plain;version=0.0.4;q=0.3,*/*;q=0.2").await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("ticketpulse_first_response_time_cumulative_seconds_bucket{channel=\"email\",priority=\"normal\",topic=\"tickets\",partition=\"0\",le=\"3600\"} 10\n"), "{text}");
    let (content_type, body) = get_metrics(target, PROMETHEUS_ACCEPT).await;
    assert_eq!(content_type, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
    let mut buf = body.as_slice();
    let mut families = Vec::new();
    while !buf.is_empty() {
        families.push(proto::MetricFamily::decode_length_delimited(&mut buf).unwrap());
    }
    // Every family of the text format, in its order.
    let text_names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(families.iter().map(|f| f.name.as_deref().unwrap()).collect::<Vec<_>>(), text_names);
    let frt = families.iter().find(|f| f.name.as_deref() == Some("ticketpulse_first_response_time_cumulative_seconds")).unwrap();
    let h = frt.metric[0].histogram.as_ref().unwrap();
    // Indexes ceil(log2(v) × 8): 30 → 40, 60 → 48, 120 → 56, 300 → 66, 600 → 74, 900 → 79,
    // 1200 → 82, 1800 → 87, 2400 → 90, 3600 → 95: one each, no two adjacent.
    let spans: Vec<(i32, u32)> = h.positive_span.iter().map(|s| (s.offset.unwrap(), s.length.unwrap())).collect();
    assert_eq!(spans, [(40, 1), (7, 1), (7, 1), (9, 1), (7, 1), (4, 1), (2, 1), (4, 1), (2, 1), (4, 1)]);
    assert_eq!(h.positive_delta, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((h.schema, h.zero_count, h.sample_count, h.sample_sum), (Some(3), Some(0), Some(10), Some(11_010.0)));

    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ticketpulse\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let _prometheus =
        spawn_prometheus_with(addr, &dir.path().join("prometheus.yml"), &dir.path().join("tsdb"), &["--enable-feature=native-histograms"]);
    tokio::task::spawn_blocking(move || common::wait_ready(addr, "/-/ready", "prometheus", Duration::from_secs(30))).await.unwrap();

    let series = "ticketpulse_first_response_time_cumulative_seconds";
    assert_eq!(scalar(addr, &format!("histogram_count(sum({series}))")).await, 10.0);
    assert_eq!(scalar(addr, &format!("histogram_sum(sum({series}))")).await, 11_010.0);
    // Rank 0.9 × 10 = 9 is reached in bucket 90, (2^(89/8), 2^(90/8)], which holds one value:
    // Prometheus interpolates to its upper bound, 2^(90/8) = 0.5946035575013605 × 2^12 (its
    // bound table). The true p90 (the 9th of 10 values) is 2400: 1.48 % below, within the
    // factor 2^(1/8) a bucket spans.
    let p90 = scalar(addr, &format!("histogram_quantile(0.9, sum({series}))")).await;
    assert_eq!(p90, 0.5946035575013605 * 4096.0);
    assert!(p90 / 2400.0 - 1.0 < 2f64.powf(1.0 / 8.0) - 1.0);
    // `max`, the classic rules' one series per partition, does not aggregate native
    // histograms in 2.42: a float 0 (docs/metrics.md).
    assert_eq!(scalar(addr, &format!("max({series})")).await, 0.0);
    // The other families read as in the text format: a counter and a windowed summary.
    assert_eq!(scalar(addr, "sum(ticketpulse_tickets_created_total)").await, 10.0);
    assert_eq!(scalar(addr, "sum(ticketpulse_first_response_time_seconds_count{window=\"24h\"})").await, 10.0);
    // Prometheus 2.42 stores a histogram with native buckets as the native series only: its
    // classic `_bucket`, `_sum` and `_count` series are not stored from a protobuf scrape
    // (2.45+ keeps both with `scrape_classic_histograms: true`; docs/metrics.md).
    for suffix in ["_bucket", "_sum", "_count"] {
        let path = format!("/api/v1/query?query={}", urlencode(&format!("{series}{suffix}")));
        let (_, body) = tokio::task::spawn_blocking(move || http_get(addr, &path)).await.unwrap().unwrap();
        let v: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(v["data"]["result"], Json::Array(vec![]), "{suffix}");
    }
}

/// `kpis.histograms.native = false`: a scraper that asks for protobuf gets the same text as
/// one that does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_native_histograms_every_scraper_gets_the_text_format() {
    let mut config = Config::default();
    config.kpis.histograms.native = false;
    let target = serve(config).await;
    let (content_type, body) = get_metrics(target, PROMETHEUS_ACCEPT).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let (_, text) = get_metrics(target, "text/plain").await;
    assert_eq!(String::from_utf8(body).unwrap(), String::from_utf8(text).unwrap());
}
