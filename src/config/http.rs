//! `[http]` (the listener's limits) and `[ui]` (the tickets API and page served on it).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::{bad, ConfigError};

/// HTTP endpoint and its limits (see `docs/operations.md`, "The HTTP port").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address for `/metrics`, `/healthz/live` and `/healthz/ready` (`run`; `demo`
    /// listens on its `--listen`). All interfaces by default, so Prometheus and the kubelet
    /// reach it from outside the container.
    pub listen: SocketAddr,
    /// A request's headers must arrive complete within this time from the connection's start
    /// (or from the previous response on a kept-alive connection, which is closed once idle
    /// this long).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A request's body must arrive complete within this time from the end of its headers;
    /// until it has, the connection counts as stalled on its client and may be closed to
    /// make room. At most `request_timeout`.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// A response must be produced and written out within this time from its request's
    /// headers, or the connection is closed. At least your Prometheus `scrape_timeout`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Open connections at most. A newcomer beyond it closes the connection that has waited
    /// longest on its client (for request headers first, then to read a response); when
    /// every connection is being served it is refused.
    pub max_connections: usize,
    /// On shutdown, requests in flight get this long to finish; then their connections are
    /// closed. Shorter than `shutdown_timeout`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9850)),
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl HttpConfig {
    /// `shutdown_timeout` bounds the grace given to requests in flight.
    pub(super) fn validate(&self, shutdown_timeout: Duration) -> Result<(), ConfigError> {
        let h = self;
        for (field, value) in [("http.header_read_timeout", h.header_read_timeout), ("http.request_timeout", h.request_timeout)] {
            if value < Duration::from_millis(100) {
                return Err(bad(field, "must be at least 100ms"));
            }
        }
        if h.body_read_timeout < Duration::from_millis(100) || h.body_read_timeout > h.request_timeout {
            return Err(bad("http.body_read_timeout", "must be at least 100ms and at most http.request_timeout"));
        }
        if h.max_connections == 0 {
            return Err(bad("http.max_connections", "must be positive"));
        }
        if h.shutdown_grace >= shutdown_timeout {
            return Err(bad("http.shutdown_grace", "must be shorter than shutdown_timeout"));
        }
        Ok(())
    }
}

/// `GET /api/v1/tickets` and the `/tickets` page: the open tickets behind the SLA gauges
/// (see `docs/operations.md`, "The tickets behind a number"). They list ticket ids, which are
/// customer data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Serve the API and the page. `false`: both are 404 and `/` does not list them.
    pub enabled: bool,
    /// Links each ticket id on the page to the help desk: a URL with `{ticket_id}` where the
    /// id goes (URL-encoded), e.g. `https://example.zendesk.com/agent/tickets/{ticket_id}`.
    /// Unset (the default): ids are plain text.
    pub ticket_url: Option<String>,
    /// Serve the API and the page on this address instead of beside `/metrics` on
    /// `http.listen`, so the network can admit people to ticket ids and Prometheus to
    /// metrics separately. Unset (the default): on `http.listen`. The `[http]` limits apply.
    pub listen: Option<SocketAddr>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self { enabled: true, ticket_url: None, listen: None }
    }
}

/// The placeholder of `ui.ticket_url`.
pub const TICKET_ID_PLACEHOLDER: &str = "{ticket_id}";

impl UiConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.ticket_url {
            // Only web links: the page must never carry a `javascript:` or `data:` URL.
            if !(url.starts_with("https://") || url.starts_with("http://")) || !url.contains(TICKET_ID_PLACEHOLDER) {
                return Err(bad("ui.ticket_url", format!("must be an http:// or https:// URL containing {TICKET_ID_PLACEHOLDER}")));
            }
        }
        Ok(())
    }
}
