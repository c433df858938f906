//! The axum handlers of `/tickets` and `/api/v1/tickets`: reads take turns on a blocking
//! thread, and a crowd of readers beyond a few is told to come back.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::clock::WallClock;
use crate::config::UiConfig;
use crate::engine::{Engine, Rules};

use super::{page, scan, Answer, Query};

/// The endpoints, as `/` lists them.
pub const INDEX: &str = "/tickets        open tickets behind the SLA gauges, as a page (ticket ids: customer data)\n\
/api/v1/tickets the same as JSON\n";

/// The API and page of one service: the engine they read and the page's settings.
#[derive(Clone)]
pub struct Api {
    engine: Arc<Engine>,
    rules: Arc<Rules>,
    /// The live service's clock; `None` reads every partition at its stream time.
    clock: Option<WallClock>,
    ticket_url: Option<Arc<str>>,
    /// One read at a time: a crowd of readers queues here, not on the partitions' locks.
    turn: Arc<tokio::sync::Semaphore>,
    /// Places in that queue. A waiting request holds a connection the server cannot evict,
    /// so beyond these readers are told to come back (503) rather than left to fill the
    /// connection table and lock out liveness probes and scrapes.
    places: Arc<tokio::sync::Semaphore>,
}

/// Readers that may wait for their turn at once (the one reading included).
const MAX_QUEUED_READS: usize = 8;

/// Why a read gave no answer.
#[derive(Debug)]
enum ReadError {
    /// Too many readers already waiting: come back in a second.
    Busy,
    /// The read panicked (logged).
    Failed,
}

impl Api {
    pub fn new(engine: Arc<Engine>, clock: Option<WallClock>, config: &UiConfig) -> Self {
        let rules = engine.shared_rules();
        Self {
            engine,
            rules,
            clock,
            ticket_url: config.ticket_url.as_deref().map(Arc::from),
            turn: Arc::new(tokio::sync::Semaphore::new(1)),
            places: Arc::new(tokio::sync::Semaphore::new(MAX_QUEUED_READS)),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// `/tickets` and `/api/v1/tickets`.
    pub fn routes(&self) -> Router {
        Router::new().route("/tickets", get(page_handler)).route("/api/v1/tickets", get(api_handler)).with_state(self.clone())
    }

    /// Reads now: scans each partition under its lock in turn, answers after. Blocks.
    pub fn read_now(&self, query: &Query) -> Answer {
        let wall = self.clock.map(|c| c.now());
        let found = scan(&self.engine, wall, query);
        found.answer(&self.rules, query)
    }

    /// Takes a place in the queue (or says `Busy`), waits its turn, then reads on a blocking
    /// thread.
    async fn read(&self, query: Query) -> Result<(Answer, Query), ReadError> {
        let Ok(_place) = self.places.try_acquire() else { return Err(ReadError::Busy) };
        let _turn = self.turn.acquire().await.expect("the semaphore is never closed");
        let api = self.clone();
        tokio::task::spawn_blocking(move || (api.read_now(&query), query)).await.map_err(|error| {
            tracing::error!(%error, "reading the tickets failed");
            ReadError::Failed
        })
    }
}

async fn api_handler(State(api): State<Api>, RawQuery(raw): RawQuery) -> Response {
    let json = |status: StatusCode, body: Vec<u8>| (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    let query = match Query::parse(raw.as_deref(), &api.rules) {
        Ok(query) => query,
        Err(e) => return json(StatusCode::BAD_REQUEST, serde_json::json!({ "error": e.to_string() }).to_string().into_bytes()),
    };
    match api.read(query).await {
        Ok((answer, _)) => json(StatusCode::OK, serde_json::to_vec(&answer).expect("an answer serializes")),
        Err(ReadError::Busy) => busy(),
        Err(ReadError::Failed) => {
            json(StatusCode::INTERNAL_SERVER_ERROR, br#"{"error":"reading the tickets failed; the log says why"}"#.to_vec())
        }
    }
}

async fn page_handler(State(api): State<Api>, RawQuery(raw): RawQuery) -> Response {
    let html = |status: StatusCode, body: String| (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let query = match Query::parse(raw.as_deref(), &api.rules) {
        Ok(query) => query,
        Err(e) => return html(StatusCode::BAD_REQUEST, page::render_error(&e, &Query::new(&api.rules), &api.rules)),
    };
    match api.read(query).await {
        Ok((answer, query)) => html(StatusCode::OK, page::render(&answer, &query, &api.rules, api.ticket_url.as_deref())),
        Err(ReadError::Busy) => busy(),
        Err(ReadError::Failed) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<!DOCTYPE html><title>ticketpulse</title><p>Reading the tickets failed; the log says why.</p>\n".into(),
        ),
    }
}

/// 503 for a reader that found the queue full.
fn busy() -> Response {
    let headers = [(header::RETRY_AFTER, "1"), (header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    (StatusCode::SERVICE_UNAVAILABLE, headers, "busy: too many ticket reads waiting; retry in a second\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[tokio::test]
    async fn readers_beyond_the_queue_are_told_to_come_back_and_the_next_one_is_served() {
        let config = Config::default();
        let engine = Arc::new(Engine::new(Rules::new(&config).unwrap(), Arc::default()));
        let api = Api::new(engine, None, &config.ui);
        let get = |api: Api| api_handler(State(api), RawQuery(None));
        // Eight readers waiting: the ninth gets 503 with Retry-After, not a place in the queue.
        let waiting = api.places.try_acquire_many(MAX_QUEUED_READS as u32).unwrap();
        let busy = get(api.clone()).await;
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        drop(waiting);
        let served = get(api).await;
        assert_eq!(served.status(), StatusCode::OK);
    }
}
