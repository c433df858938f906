//! `ticketpulse intake`: help-desk webhooks in, contract v1 events out to the topic (see
//! `docs/intake.md`). Each webhook goes one way: a declared length over
//! `intake.max_body_bytes` refused at once (413) → the signature headers' presence and shape,
//! or the whole token, checked before any of the body is read (401) → body read within
//! `intake.max_body_bytes` (413; a client that stops short is `aborted`) and
//! `http.body_read_timeout` → signature checked on the raw bytes (401) → mapped to events,
//! each checked by the engine's parser (400 with a reason) → produced and acknowledged (503
//! if not, so the help desk retries) → 200. A webhook that carries nothing for the KPIs is
//! 200 and counted as ignored. An unauthenticated client thus holds a connection only as
//! long as it takes to send headers, and one that drips a body is closed at
//! `http.body_read_timeout` or evicted for a newcomer (see `crate::http`).
//!
//! | file | what it holds |
//! |---|---|
//! | [`signature`] | Zendesk and Chatwoot signatures, the shared token, stale timestamps |
//! | [`mapping`] | the mappings' common output and JSON helpers; every event checked by [`crate::event::parse`] |
//! | [`zendesk`] | Zendesk `zen:event-type:ticket.*` payloads → events |
//! | [`chatwoot`] | Chatwoot account webhook payloads → events |
//! | [`producer`] | the idempotent Kafka producer on the shared client configuration |
//! | [`seed`] | `intake seed`: the open tickets read from the vendors' APIs, page by page, as `ticket_snapshot` events |
//! | this file | the endpoints, the intake's own `/metrics`, `start` / `run` |

pub mod chatwoot;
pub mod mapping;
pub(crate) mod producer;
pub mod seed;
pub mod signature;
pub mod zendesk;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::base::millis;
use crate::clock::WallClock;
use crate::config::{ChatwootAuth, Config};
use crate::event::ParseLimits;
use crate::internal_events::{IntakeEventsProduced, Telemetry, WebhookAnswered};
use mapping::{Mapped, Unreadable};
use producer::Producer;
use signature::{AuthError, Credentials};

/// A help desk sending webhooks: the `source` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Zendesk,
    Chatwoot,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Zendesk => "zendesk",
            Source::Chatwoot => "chatwoot",
        }
    }
}

/// The `type` label before the payload was read.
const UNKNOWN: &str = "unknown";

/// The content type of the intake's `/metrics`: the text format, as `prometheus::TEXT_FORMAT`.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// Why a webhook's body was not read whole.
#[derive(Debug, PartialEq, Eq)]
enum BodyError {
    /// More than `intake.max_body_bytes`, declared or sent.
    TooLarge,
    /// The client stopped before the end of its body (closed, or sent a malformed chunk).
    Aborted,
}

/// Reads `body` up to `max` bytes.
async fn read_body(mut body: Body, max: usize) -> Result<Vec<u8>, BodyError> {
    use hyper::body::Body as _;
    let mut out = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyError::Aborted)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// The `Content-Length` a request declares, if it declares one it can be read as.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Everything a webhook handler needs.
struct Intake {
    config: Config,
    limits: ParseLimits,
    /// Signature timestamps are checked against it, and a CSAT answer is dated by it.
    clock: WallClock,
    producer: Producer,
    /// Its counters and log lines (`internal_events`), served on its `/metrics`.
    telemetry: Arc<Telemetry>,
}

/// What became of one webhook: its answer, its labels, and for a refusal worth a log line its
/// reason and detail.
struct Outcome {
    status: StatusCode,
    kind: &'static str,
    result: &'static str,
    text: String,
    refusal: Option<(&'static str, String)>,
}

impl Intake {
    /// One webhook from `source`, start to answer.
    async fn receive(&self, source: Source, headers: &HeaderMap, query: Option<&str>, body: Body) -> Outcome {
        let outcome = |status, kind, result, text: String| Outcome { status, kind, result, text, refusal: None };
        let max = self.config.intake.max_body_bytes;
        let too_large =
            || outcome(StatusCode::PAYLOAD_TOO_LARGE, UNKNOWN, "too_large", format!("body larger than intake.max_body_bytes ({max})\n"));
        // Refused before a byte of the body is waited for: nobody sends a body this large.
        if declared_length(headers).is_some_and(|length| length > max as u64) {
            return too_large();
        }
        let credentials = match self.credentials(source, headers, query) {
            Ok(credentials) => credentials,
            Err(error) => return self.unauthorized(error),
        };
        let body = match read_body(body, max).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => return too_large(),
            Err(BodyError::Aborted) => {
                return outcome(StatusCode::BAD_REQUEST, UNKNOWN, "aborted", "the body ended before it was complete\n".into());
            }
        };
        let (now, max_age) = (self.clock.now(), millis(self.config.intake.max_signature_age));
        if let Err(error) = credentials.verify(self.secret(source), &body, now, max_age) {
            return self.unauthorized(error);
        }
        let mapped = match self.map(source, &body) {
            Ok(mapped) => mapped,
            Err(Unreadable { reason, kind, detail }) => {
                let text = format!("{reason}: {detail}\n");
                return Outcome {
                    refusal: Some((reason, detail)),
                    ..outcome(StatusCode::BAD_REQUEST, kind.unwrap_or(UNKNOWN), "unreadable", text)
                };
            }
        };
        if mapped.events.is_empty() {
            return outcome(StatusCode::OK, mapped.kind, "ignored", "ignored: nothing for the KPIs\n".into());
        }
        match self.producer.send_all(&mapped.events).await {
            Ok(()) => {
                self.telemetry.emit(IntakeEventsProduced { source: source.as_str(), types: mapped.events.iter().map(|e| e.event_type) });
                outcome(StatusCode::OK, mapped.kind, "produced", format!("produced {} event(s)\n", mapped.events.len()))
            }
            Err(error) => {
                let text = format!("{error}; retry later\n");
                Outcome {
                    refusal: Some(("unavailable", error.to_string())),
                    ..outcome(StatusCode::SERVICE_UNAVAILABLE, mapped.kind, "unavailable", text)
                }
            }
        }
    }

    fn unauthorized(&self, error: AuthError) -> Outcome {
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            kind: UNKNOWN,
            result: error.label(),
            text: format!("{}\n", error.detail()),
            refusal: Some((error.label(), error.detail().to_string())),
        }
    }

    /// `source`'s signing secret (or shared token).
    fn secret(&self, source: Source) -> &str {
        match source {
            Source::Zendesk => &self.config.intake.zendesk.signing_secret,
            Source::Chatwoot => &self.config.intake.chatwoot.secret,
        }
    }

    /// What the headers (and the query, for a token) say, before the body is read.
    fn credentials(&self, source: Source, headers: &HeaderMap, query: Option<&str>) -> Result<Credentials, AuthError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match source {
            Source::Zendesk => Credentials::zendesk(header(signature::ZENDESK_SIGNATURE), header(signature::ZENDESK_TIMESTAMP)),
            Source::Chatwoot => match self.config.intake.chatwoot.auth {
                ChatwootAuth::Signature => {
                    Credentials::chatwoot(header(signature::CHATWOOT_SIGNATURE), header(signature::CHATWOOT_TIMESTAMP))
                }
                ChatwootAuth::Token => {
                    let from_query = query_token(query);
                    Credentials::token(self.secret(source), header(signature::TOKEN_HEADER).or(from_query.as_deref()))
                }
            },
        }
    }

    fn map(&self, source: Source, body: &[u8]) -> Result<Mapped, Unreadable> {
        match source {
            Source::Zendesk => zendesk::map(body, &self.config.intake.zendesk, &self.limits, self.clock.now()),
            Source::Chatwoot => chatwoot::map(body, &self.config.intake.chatwoot, &self.limits, self.clock.now()),
        }
    }
}

/// The `token` parameter of a query string, decoded.
fn query_token(query: Option<&str>) -> Option<String> {
    let pair = query?.split('&').find_map(|pair| pair.strip_prefix("token="))?;
    Some(percent_encoding::percent_decode_str(pair).decode_utf8_lossy().into_owned())
}

async fn webhook(intake: Arc<Intake>, source: Source, headers: HeaderMap, query: Option<String>, body: Body) -> Response {
    let outcome = intake.receive(source, &headers, query.as_deref(), body).await;
    let refusal = outcome.refusal.as_ref().map(|(reason, detail)| (*reason, detail.as_str()));
    intake.telemetry.emit(WebhookAnswered { source: source.as_str(), kind: outcome.kind, result: outcome.result, refusal });
    let mut response = (outcome.status, outcome.text).into_response();
    if outcome.status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    response
}

async fn metrics(State(intake): State<Arc<Intake>>) -> Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], crate::exporter::write_intake_text(&intake.telemetry)).into_response()
}

async fn ready(State(intake): State<Arc<Intake>>) -> Response {
    if intake.telemetry.broker_reachable() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no Kafka broker reachable\n").into_response()
    }
}

fn router(intake: Arc<Intake>) -> Router {
    let mut router =
        Router::new().route("/metrics", get(metrics)).route("/healthz/live", get(|| async { "ok\n" })).route("/healthz/ready", get(ready));
    for source in enabled_sources(&intake.config) {
        let path = format!("/webhooks/{}", source.as_str());
        router = router.route(
            &path,
            post(move |State(intake): State<Arc<Intake>>, headers: HeaderMap, RawQuery(query): RawQuery, body: Body| {
                webhook(intake, source, headers, query, body)
            }),
        );
    }
    router.with_state(intake)
}

/// A started intake: its address and how to stop it.
pub struct Running {
    /// Where the webhooks, `/metrics` and the health checks are served.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    intake: Arc<Intake>,
}

impl Running {
    /// Stops accepting webhooks, lets those in flight finish (within `http.shutdown_grace`)
    /// and waits for the broker to acknowledge what is still queued.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.http.await.context("intake http task")?;
        let intake = self.intake;
        tokio::task::spawn_blocking(move || intake.producer.flush(intake.config.intake.produce_timeout)).await?;
        Ok(())
    }
}

/// The sources whose endpoint is served.
fn enabled_sources(config: &Config) -> Vec<Source> {
    let i = &config.intake;
    [(Source::Zendesk, i.zendesk.enabled), (Source::Chatwoot, i.chatwoot.enabled)]
        .into_iter()
        .filter_map(|(s, on)| on.then_some(s))
        .collect()
}

/// Binds `intake.listen`, creates the producer and serves (the address may be port 0).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let sources: Vec<_> = enabled_sources(&config).into_iter().map(Source::as_str).collect();
    if sources.is_empty() {
        anyhow::bail!("intake: enable at least one of intake.zendesk and intake.chatwoot");
    }
    let telemetry = Arc::new(Telemetry::default());
    let listen = config.intake.listen;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("intake.listen: cannot bind {listen}"))?;
    let addr = listener.local_addr()?;
    let producer = Producer::new(&config, Arc::clone(&telemetry))?;
    let limits = config.parse_limits();
    let intake = Arc::new(Intake { config, limits, clock: WallClock::system(), producer, telemetry: Arc::clone(&telemetry) });
    let (stop, mut stopped) = watch::channel(false);
    let (router, http) = (router(Arc::clone(&intake)), intake.config.http.clone());
    let http = tokio::spawn(async move {
        crate::http::serve(listener, router, &http, telemetry, async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })
        .await
    });
    tracing::info!(%addr, topic = %intake.config.intake.topic, ?sources, "intake: serving /webhooks/<source>");
    Ok(Running { addr, stop, http, intake })
}

/// The intake until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(config).await?;
    shutdown.await;
    tracing::info!("intake: shutting down");
    running.shutdown().await
}
