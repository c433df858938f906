//! The HTTP server under `/metrics` and the health checks: hyper's HTTP/1 connections with
//! limits that keep the port answering when clients misbehave.
//!
//! Every connection is in one `Phase`, which sets its one deadline. Reading a request's
//! headers it has `header_read_timeout` (a slowloris client ends there); reading its body,
//! `body_read_timeout` from the end of the headers (a client that drips its body ends
//! there); from the headers to the last byte of the response handed to the kernel it has
//! `request_timeout` (a client that never reads ends there). At `max_connections` a
//! newcomer (a liveness probe, a scrape, a webhook) is admitted by closing the connection
//! that has waited longest on its client: for request headers or a request body first, then
//! to read a response. Work in progress is never cut short to make room; when every
//! connection is being served, the newcomer is refused. On shutdown, idle connections close
//! at once and requests in flight get `shutdown_grace`. Each early close is counted by
//! reason ([`HttpDrop`]). Every response, whatever the endpoint, carries the
//! [`SECURITY_HEADERS`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response};
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::HttpConfig;
use crate::internal_events::{HttpAcceptFailed, HttpConnectionDropped, HttpDrop, Telemetry};
use crate::lock;

/// hyper's per-connection buffer limit: request headers larger than this are answered 431,
/// and a flood of connections cannot pin more than this each.
const MAX_BUF_BYTES: usize = 16 * 1024;

/// Pause after the listener fails to accept (out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Set on every response of every listener (a handler's own value wins). Nothing served
/// runs scripts or loads anything: the `/tickets` page is HTML with an inline style sheet,
/// and its links to the help desk must not hand the page's URL (with its filters) over.
pub(crate) const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
];

/// What a connection is doing: sets its deadline and whether it may be closed to make room.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Reading a request's headers since `since`. `idle`: kept alive after a complete
    /// exchange, with no byte of a next request yet; closing it then is routine.
    Reading { since: Instant, idle: bool },
    /// A request's headers are in and its body is still arriving, by `body_deadline`; the
    /// client has been holding the connection since `since`. Stalled on the client like
    /// `Reading`: the handler can do nothing until the body is complete.
    ReadingBody { since: Instant, body_deadline: Instant, deadline: Instant },
    /// A request is being handled; its response must be written out by `deadline`.
    Handling { deadline: Instant },
    /// The response is complete and has waited since `since` for the client to take it.
    Writing { since: Instant, deadline: Instant },
    /// Closed to admit a newcomer.
    Evicted,
}

/// One open connection's phase, moved on by its socket, its requests and the table.
struct Slot {
    phase: watch::Sender<Phase>,
    request_timeout: Duration,
    body_read_timeout: Duration,
}

impl Slot {
    fn new(config: &HttpConfig) -> Self {
        Self {
            phase: watch::Sender::new(Phase::Reading { since: Instant::now(), idle: false }),
            request_timeout: config.request_timeout,
            body_read_timeout: config.body_read_timeout,
        }
    }

    /// Moves to the phase `next` gives, if any; true if it moved.
    fn advance(&self, next: impl FnOnce(Phase) -> Option<Phase>) -> bool {
        self.phase.send_if_modified(|phase| match next(*phase) {
            Some(p) => {
                *phase = p;
                true
            }
            None => false,
        })
    }

    /// Bytes of a request arrived.
    fn received(&self) {
        self.advance(|p| match p {
            Phase::Reading { since, idle: true } => Some(Phase::Reading { since, idle: false }),
            _ => None,
        });
    }

    /// A request's headers are complete and it goes to the router; `with_body` if a body
    /// is still to arrive.
    fn request_started(&self, with_body: bool) {
        let now = Instant::now();
        let deadline = now + self.request_timeout;
        let body_deadline = deadline.min(now + self.body_read_timeout);
        self.advance(|p| match p {
            Phase::Reading { since, .. } if with_body => Some(Phase::ReadingBody { since, body_deadline, deadline }),
            Phase::Reading { .. } => Some(Phase::Handling { deadline }),
            // Pipelined behind a response still being written: that deadline stands.
            Phase::Writing { deadline, .. } => Some(Phase::Handling { deadline }),
            Phase::ReadingBody { .. } | Phase::Handling { .. } | Phase::Evicted => None,
        });
    }

    /// The request body was read to its end, or the handler let go of it: the request is
    /// being handled.
    fn body_done(&self) {
        self.advance(|p| match p {
            Phase::ReadingBody { deadline, .. } => Some(Phase::Handling { deadline }),
            _ => None,
        });
    }

    /// hyper is done with the response body: the response is complete.
    fn response_complete(&self) {
        self.advance(|p| match p {
            Phase::Handling { deadline } | Phase::ReadingBody { deadline, .. } => Some(Phase::Writing { since: Instant::now(), deadline }),
            _ => None,
        });
    }

    /// The socket flushed: a complete response is all with the kernel.
    fn flushed(&self) {
        self.advance(|p| match p {
            Phase::Writing { .. } => Some(Phase::Reading { since: Instant::now(), idle: true }),
            _ => None,
        });
    }

    /// Eviction order, lowest first: waiting for a request's headers or body, then for the
    /// client to read, each the longest wait first. `None` while a request is being handled.
    fn stall(&self) -> Option<(u8, Instant)> {
        match *self.phase.borrow() {
            Phase::Reading { since, .. } | Phase::ReadingBody { since, .. } => Some((0, since)),
            Phase::Writing { since, .. } => Some((1, since)),
            Phase::Handling { .. } | Phase::Evicted => None,
        }
    }

    /// Marks the connection evicted unless it has started handling a request meanwhile.
    fn evict(&self) -> bool {
        self.advance(|p| matches!(p, Phase::Reading { .. } | Phase::ReadingBody { .. } | Phase::Writing { .. }).then_some(Phase::Evicted))
    }
}

/// The open connections, at most `max`.
struct Table {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    max: usize,
}

impl Table {
    /// Registers a new connection, first evicting the most stalled one if the table is full.
    /// False if every connection is being served: the newcomer is refused.
    fn admit(&self, id: u64, slot: &Arc<Slot>, telemetry: &Telemetry) -> bool {
        let mut slots = lock(&self.slots);
        while slots.len() >= self.max {
            let victim = slots.iter().filter_map(|(id, s)| s.stall().map(|(rank, since)| (rank, since, *id))).min();
            let Some((_, _, victim)) = victim else {
                telemetry.emit(HttpConnectionDropped(HttpDrop::Refused));
                return false;
            };
            // Otherwise it began handling a request since `stall`: look again.
            if slots[&victim].evict() {
                slots.remove(&victim);
                telemetry.emit(HttpConnectionDropped(HttpDrop::Evicted));
            }
        }
        slots.insert(id, Arc::clone(slot));
        true
    }

    fn release(&self, id: u64) {
        lock(&self.slots).remove(&id);
    }
}

/// A connection's socket, telling its slot when request bytes arrive and when output is
/// flushed. It leaves the table before the socket closes (shut down or dropped), so a client
/// that saw the close never finds its connection still counted.
struct Watched {
    stream: TcpStream,
    slot: Arc<Slot>,
    table: Arc<Table>,
    id: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.table.release(self.id);
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.slot.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then queues a response body's bytes instead of copying them.
        self.stream.is_write_vectored()
    }

    // hyper flushes the socket only once its own buffer is empty.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        if let Poll::Ready(Ok(())) = polled {
            self.slot.flushed();
        }
        polled
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.table.release(self.id);
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router, telling the connection's slot when a request starts and its response ends.
struct Routed {
    router: TowerToHyperService<Router>,
    slot: Arc<Slot>,
}

impl hyper::service::Service<Request<Incoming>> for Routed {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let with_body = !request.body().is_end_stream();
        self.slot.request_started(with_body);
        let slot = Arc::clone(&self.slot);
        let response = self.router.call(request.map(|body| Uploading { body, slot: Arc::clone(&slot), done: !with_body }));
        Box::pin(async move {
            let mut response = response.await?;
            let headers = response.headers_mut();
            for (name, value) in SECURITY_HEADERS {
                headers.entry(name).or_insert(HeaderValue::from_static(value));
            }
            Ok(response.map(|body| Tracked { body, slot }))
        })
    }
}

/// A request body that tells its slot when it has been read to its end or let go of.
struct Uploading {
    body: Incoming,
    slot: Arc<Slot>,
    done: bool,
}

impl Uploading {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            self.slot.body_done();
        }
    }
}

impl HttpBody for Uploading {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.body.is_end_stream() {
            self.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Uploading {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A response body that tells its slot when hyper is done with it.
struct Tracked {
    body: Body,
    slot: Arc<Slot>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.slot.response_complete();
    }
}

/// Serves `router` on `listener` with the limits of `config` until `shutdown` resolves, then
/// gives requests in flight `shutdown_grace` and closes what is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    // Header reading is bounded by the connection's own deadline, which knows idle from stalled.
    builder.header_read_timeout(None).max_buf_size(MAX_BUF_BYTES);
    let router = TowerToHyperService::new(router);
    let table = Arc::new(Table { slots: Mutex::default(), max: config.max_connections });
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut next_id = 0u64;
    loop {
        let stream = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    telemetry.emit(HttpAcceptFailed(&error));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        next_id += 1;
        let slot = Arc::new(Slot::new(config));
        if !table.admit(next_id, &slot, &telemetry) {
            continue;
        }
        let io = TokioIo::new(Watched { stream, slot: Arc::clone(&slot), table: Arc::clone(&table), id: next_id });
        let connection = builder.serve_connection(io, Routed { router: router.clone(), slot: Arc::clone(&slot) });
        let (telemetry, stopping) = (Arc::clone(&telemetry), stopping.clone());
        let header_read_timeout = config.header_read_timeout;
        connections.spawn(async move { drive(pin!(connection), &slot, header_read_timeout, stopping, &telemetry).await });
    }
    drop(listener);
    let _ = stop.send(());
    let drained = tokio::time::timeout(config.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        for _ in 0..connections.len() {
            telemetry.emit(HttpConnectionDropped(HttpDrop::Shutdown));
        }
        connections.shutdown().await;
    }
}

type Connection = http1::Connection<TokioIo<Watched>, Routed>;

/// Runs one connection until it ends, its deadline passes or it is evicted. When `stopping`
/// fires it finishes the request in hand and closes (an idle connection closes at once).
async fn drive(
    mut connection: Pin<&mut Connection>,
    slot: &Slot,
    header_read_timeout: Duration,
    mut stopping: watch::Receiver<()>,
    telemetry: &Telemetry,
) {
    let mut phase = slot.phase.subscribe();
    let mut stop_requested = false;
    loop {
        let (deadline, expired) = match *phase.borrow_and_update() {
            Phase::Reading { since, idle } => (since + header_read_timeout, (!idle).then_some(HttpDrop::HeaderTimeout)),
            Phase::ReadingBody { body_deadline, .. } => (body_deadline, Some(HttpDrop::BodyTimeout)),
            Phase::Handling { deadline } | Phase::Writing { deadline, .. } => (deadline, Some(HttpDrop::RequestTimeout)),
            // Counted by the table.
            Phase::Evicted => return,
        };
        tokio::select! {
            biased;
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            // The slot lives as long as this driver: `changed` cannot fail.
            _ = phase.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                if let Some(reason) = expired {
                    telemetry.emit(HttpConnectionDropped(reason));
                }
                return;
            }
            _ = stopping.changed(), if !stop_requested => {
                stop_requested = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Errors of one incoming connection (it went away before it was accepted), not of the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset)
}
