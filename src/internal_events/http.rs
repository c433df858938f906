//! Events of the HTTP server: connections it could not accept or closed early.

use std::sync::atomic::Ordering;

use super::{HttpDrop, InternalEvent, Telemetry, TARGET};

/// The HTTP server closed a connection early: counted by reason, and logged at most once
/// every 10 s whatever the reason (a flood is one line, not thousands).
pub struct HttpConnectionDropped(pub HttpDrop);

impl InternalEvent for HttpConnectionDropped {
    fn emit(self, t: &Telemetry) {
        let HttpConnectionDropped(reason) = self;
        t.counters.http_dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("http_dropped") {
            tracing::warn!(target: TARGET, reason = reason.as_str(), suppressed_since_last = suppressed, "HTTP connection closed early");
        }
    }
}

/// The HTTP listener could not accept a connection (e.g. out of file descriptors): logged
/// only, at most once every 10 s.
pub struct HttpAcceptFailed<'a>(pub &'a std::io::Error);

impl InternalEvent for HttpAcceptFailed<'_> {
    fn emit(self, t: &Telemetry) {
        let HttpAcceptFailed(error) = self;
        if let Some(suppressed) = t.log_allowed("http_accept") {
            tracing::error!(target: TARGET, %error, suppressed_since_last = suppressed, "HTTP listener cannot accept connections");
        }
    }
}
