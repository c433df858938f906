//! The exporter's HTTP endpoints, `/metrics` and the health checks: a part of the service's
//! router (assembled by `service::router`, served by [`crate::http`]).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::internal_events::Telemetry;

use super::encoding::{accepts_protobuf, PROTOBUF_CONTENT_TYPE};
use super::{scrape, scrape_protobuf, Metrics};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
struct HttpState {
    renders: Arc<Renders>,
    /// Renders of the protobuf exposition, apart from the text ones (each shares its own).
    protobuf: Arc<Renders>,
    telemetry: Arc<Telemetry>,
}

/// The endpoints, as `/` lists them.
pub const INDEX: &str = "/metrics        Prometheus metrics\n\
/healthz/live   liveness: 200 while the process runs\n\
/healthz/ready  readiness: 200 while a partition is assigned and a Kafka broker is reachable\n";

/// `/metrics`, `/healthz/live` and `/healthz/ready`.
pub fn routes(source: Metrics, telemetry: Arc<Telemetry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz/live", get(|| async { "ok\n" }))
        .route("/healthz/ready", get(ready))
        .with_state({
            let source = Arc::new(source);
            HttpState {
                renders: Arc::new(Renders::new(Arc::clone(&source), Format::Text)),
                protobuf: Arc::new(Renders::new(source, Format::Protobuf)),
                telemetry,
            }
        })
}

/// A finished render: the exposition, or why it failed.
type Rendered = Result<Bytes, Arc<str>>;

/// Renders of `/metrics`, one at a time. A scrape is answered by a render that started after
/// it arrived; every scrape that arrived during one render shares the next. So however many
/// clients scrape, at most one render holds the engine lock and a few copies of the
/// exposition exist, and a slow reader holds only its shared bytes, never engine state.
struct Renders {
    metrics: Arc<Metrics>,
    format: Format,
    /// Renders started so far (each started while holding `latest`).
    started: AtomicU64,
    /// The newest render and its number; held for the whole of a render.
    latest: Arc<tokio::sync::Mutex<(u64, Rendered)>>,
}

impl Renders {
    fn new(metrics: Arc<Metrics>, format: Format) -> Self {
        Self { metrics, format, started: AtomicU64::new(0), latest: Arc::new(tokio::sync::Mutex::new((0, Ok(Bytes::new())))) }
    }

    async fn render(&self) -> Rendered {
        let arrived = self.started.load(Ordering::SeqCst);
        let mut latest = Arc::clone(&self.latest).lock_owned().await;
        if latest.0 > arrived {
            return latest.1.clone();
        }
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let (metrics, format) = (Arc::clone(&self.metrics), self.format);
        // The lock goes with the render: a scrape abandoned meanwhile does not let another
        // render start beside it.
        let render = tokio::task::spawn_blocking(move || {
            let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| match format {
                Format::Text => Bytes::from(scrape(&metrics)),
                Format::Protobuf => Bytes::from(scrape_protobuf(&metrics)),
            }))
            .map_err(|panic| {
                let message: Arc<str> = panic
                    .downcast_ref::<&str>()
                    .map(|s| Arc::from(*s))
                    .or_else(|| panic.downcast_ref::<String>().map(|s| Arc::from(s.as_str())))
                    .unwrap_or_else(|| Arc::from("a panic without a message"));
                tracing::error!(panic = %message, "rendering /metrics panicked; scrapes waiting for this render get 500");
                message
            });
            *latest = (number, rendered.clone());
            rendered
        });
        render.await.unwrap_or_else(|e| Err(Arc::from(e.to_string())))
    }
}

/// What a render writes.
#[derive(Clone, Copy)]
enum Format {
    Text,
    Protobuf,
}

/// The text exposition, or the protobuf one when the scraper's `Accept` asks for it (Prometheus
/// does with `--enable-feature=native-histograms`) and `kpis.histograms.native` allows it.
async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let protobuf =
        state.renders.metrics.rules.native && headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(accepts_protobuf);
    let (renders, content_type) = match protobuf {
        true => (&state.protobuf, PROTOBUF_CONTENT_TYPE),
        false => (&state.renders, "text/plain; version=0.0.4; charset=utf-8"),
    };
    match renders.render().await {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "rendering the metrics failed; the log says why\n").into_response(),
    }
}

/// Ready while the consumer owns at least one partition, reaches a broker and can write the
/// dead-letter topic.
async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    if !state.telemetry.broker_reachable() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: no Kafka broker reachable\n")
    } else if state.telemetry.assigned_count() == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: no partition assigned\n")
    } else if state.telemetry.dead_letter_blocked() {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: the dead-letter topic cannot be written (rejected events are given up)\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
