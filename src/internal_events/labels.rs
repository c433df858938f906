//! The bounded label values of the counters (`result`, `reason`, `operation`): what a caller
//! names an outcome with, apart from how it is counted.

/// What became of one input message: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventResult {
    /// Accepted and applied (or waiting in the reorder buffer to be applied in order).
    Ok,
    /// Same `event_id` already seen for the ticket: ignored.
    Duplicate,
    /// Rejected; see the reason counter and the dead-letter topic.
    Invalid,
    /// Arrived behind the watermark: applied at once, out of event-time order.
    Late,
}

impl EventResult {
    pub const ALL: [EventResult; 4] = [EventResult::Ok, EventResult::Duplicate, EventResult::Invalid, EventResult::Late];

    /// Position in [`EventResult::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Ok => "ok",
            EventResult::Duplicate => "duplicate",
            EventResult::Invalid => "invalid",
            EventResult::Late => "late",
        }
    }
}

/// Why the HTTP server closed a connection before a complete exchange: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpDrop {
    /// At `http.max_connections` with no connection stalled on its client: the newcomer was closed.
    Refused,
    /// At `http.max_connections`: closed to admit a newcomer, having waited longest on its client.
    Evicted,
    /// Request headers not complete within `http.header_read_timeout`.
    HeaderTimeout,
    /// Request body not complete within `http.body_read_timeout` of its headers.
    BodyTimeout,
    /// Response not written out within `http.request_timeout` of its request.
    RequestTimeout,
    /// Still open when `http.shutdown_grace` ran out.
    Shutdown,
}

impl HttpDrop {
    pub const ALL: [HttpDrop; 6] = [
        HttpDrop::Refused,
        HttpDrop::Evicted,
        HttpDrop::HeaderTimeout,
        HttpDrop::BodyTimeout,
        HttpDrop::RequestTimeout,
        HttpDrop::Shutdown,
    ];

    /// Position in [`HttpDrop::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HttpDrop::Refused => "refused",
            HttpDrop::Evicted => "evicted",
            HttpDrop::HeaderTimeout => "header_timeout",
            HttpDrop::BodyTimeout => "body_timeout",
            HttpDrop::RequestTimeout => "request_timeout",
            HttpDrop::Shutdown => "shutdown",
        }
    }
}

/// A snapshot operation, the `operation` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotOperation {
    Save,
    Load,
}
