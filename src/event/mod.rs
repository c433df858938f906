//! The ticket lifecycle event contract, v1 (see `docs/events.md` and `docs/events.schema.json`).
//!
//! [`parse`] turns one Kafka message (or one JSON line) into an [`Event`] or an [`Invalid`]
//! with a bounded [`InvalidReason`]. Unknown fields are ignored so producers can add fields
//! without breaking older consumers.
//!
//! Parts: this file holds the contract's types; `parsing` reads and checks a message field by
//! field; `time` reads event times (RFC 3339 exactly, epoch milliseconds); `tests` the contract
//! as a whole.

mod parsing;
#[cfg(test)]
mod tests;
mod time;

use serde::{Deserialize, Serialize};

use crate::base::Millis;

pub use parsing::parse;
pub use time::parse_time_text;

/// Longest accepted `event_id` / `ticket_id`, in bytes.
pub(crate) const MAX_ID_BYTES: usize = 128;

/// Longest `topic` kept as sent, in bytes (the bound of ids). A topic becomes a label value
/// (`ticketpulse_tickets_created_by_topic`) and a policy match; a longer one is read as
/// [`OTHER_TOPIC`], so neither the exposition nor the state can grow with the input's strings
/// (25 tickets with 65 000-character topics once made a 3.6 MB scrape that Prometheus'
/// `label_value_length_limit` refuses whole). The event itself is kept: a ticket is not lost
/// over a field that only names a slice.
pub(crate) const MAX_LABEL_BYTES: usize = MAX_ID_BYTES;

/// What an over-long topic is read as: the reserved label value of every topic that is not a
/// label of its own.
pub(crate) const OTHER_TOPIC: &str = "other";

/// Most channels an `agent_status` may list (the configured channels are fewer in practice).
pub(crate) const MAX_AGENT_CHANNELS: usize = 32;

/// Largest accepted `work_logged.seconds`: 365 days.
pub(crate) const MAX_WORK_SECONDS: f64 = 31_536_000.0;

/// One validated ticket lifecycle event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Producer-assigned id, identical on every redelivery; the dedup key within a ticket.
    pub event_id: String,
    /// The ticket this event belongs to (also the Kafka message key); for an `agent_status`,
    /// its `agent_id` (the key it is sent with).
    pub ticket_id: String,
    /// Event time.
    pub at: Millis,
    /// What happened.
    pub body: EventBody,
    /// The topic sent was longer than [`MAX_LABEL_BYTES`] and is read as [`OTHER_TOPIC`]: the
    /// engine that ingests the event counts it (`ticketpulse_label_values_mapped_total`).
    pub topic_too_long: bool,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventBody {
    /// A ticket was opened.
    TicketCreated {
        /// Lower-cased channel name as sent; mapped to the configured list by the engine.
        channel: String,
        priority: Priority,
        team: Option<String>,
        topic: Option<String>,
        requester: Requester,
    },
    /// Routing fields changed; `None` means unchanged.
    TicketUpdated { priority: Option<Priority>, team: Option<String>, topic: Option<String>, channel: Option<String> },
    /// A message was added to the conversation. `sentiment` (−1..1) is computed upstream;
    /// `agent_id` names the human agent who wrote it, when the producer says.
    Message { author: Author, public: bool, sentiment: Option<f64>, agent_id: Option<String> },
    /// The ticket moved to a new status.
    StatusChanged { status: Status },
    /// The customer left a real-time contact before any agent answered.
    ContactAbandoned,
    /// A satisfaction survey was answered.
    SurveyResponse { survey: Survey, score: f64 },
    /// An agent (`agent_id`, when the producer says) logged handling time.
    WorkLogged { seconds: f64, agent_id: Option<String> },
    /// A ticket as the help desk states it at the event's `at` (seeding, drift checks); boxed,
    /// so the other events (and the reorder buffer) stay their size.
    TicketSnapshot(Box<TicketSnapshot>),
    /// An agent's availability; not about a ticket (keyed by agent id).
    AgentStatus(Box<AgentStatus>),
}

/// The fields of an `agent_status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub agent_id: String,
    pub status: Presence,
    pub team: Option<String>,
    /// Lower-cased; empty: every channel.
    pub channels: Vec<String>,
}

/// The fields of a `ticket_snapshot`, validated: every time is between `created_at` and the
/// event's `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSnapshot {
    pub created_at: Millis,
    pub status: Status,
    /// Lower-cased, as in `ticket_created`.
    pub channel: String,
    pub priority: Priority,
    pub team: Option<String>,
    pub topic: Option<String>,
    pub requester: Requester,
    /// The first public agent reply; `None`: none yet.
    pub first_response_at: Option<Millis>,
    /// The oldest customer public message not yet answered; `None`: not waiting.
    pub waiting_since: Option<Millis>,
    /// When it was solved; read only when `status` is solved or closed.
    pub solved_at: Option<Millis>,
    /// Time the resolution clock stood still in pause statuses before `at`, in the ticket's
    /// SLA calendar (milliseconds; 0 when not given).
    pub paused: Millis,
    /// The `agent_id` of the last public agent reply, when known.
    pub last_agent_id: Option<String>,
}

/// Event types, as written in the `type` field and used as the `type` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    TicketCreated,
    TicketUpdated,
    Message,
    StatusChanged,
    ContactAbandoned,
    SurveyResponse,
    WorkLogged,
    TicketSnapshot,
    AgentStatus,
}

impl EventType {
    /// Every type, in the order used for processing ties (see [`EventType::rank`]). A
    /// snapshot comes last: it states the ticket after every event of its instant.
    pub const ALL: [EventType; 9] = [
        EventType::TicketCreated,
        EventType::TicketUpdated,
        EventType::Message,
        EventType::ContactAbandoned,
        EventType::StatusChanged,
        EventType::WorkLogged,
        EventType::SurveyResponse,
        // Never buffered (it is about no ticket): its rank orders nothing.
        EventType::AgentStatus,
        EventType::TicketSnapshot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::TicketCreated => "ticket_created",
            EventType::TicketUpdated => "ticket_updated",
            EventType::Message => "message",
            EventType::StatusChanged => "status_changed",
            EventType::ContactAbandoned => "contact_abandoned",
            EventType::SurveyResponse => "survey_response",
            EventType::WorkLogged => "work_logged",
            EventType::TicketSnapshot => "ticket_snapshot",
            EventType::AgentStatus => "agent_status",
        }
    }

    /// Case-insensitive, like every enumerated value of the contract.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// Order of events that share a timestamp: a ticket is created before it is replied to,
    /// and replied to before it is solved, whatever order the messages arrived in.
    pub fn rank(self) -> u8 {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0) as u8
    }
}

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::TicketCreated { .. } => EventType::TicketCreated,
            EventBody::TicketUpdated { .. } => EventType::TicketUpdated,
            EventBody::Message { .. } => EventType::Message,
            EventBody::StatusChanged { .. } => EventType::StatusChanged,
            EventBody::ContactAbandoned => EventType::ContactAbandoned,
            EventBody::SurveyResponse { .. } => EventType::SurveyResponse,
            EventBody::WorkLogged { .. } => EventType::WorkLogged,
            EventBody::TicketSnapshot(_) => EventType::TicketSnapshot,
            EventBody::AgentStatus(_) => EventType::AgentStatus,
        }
    }
}

/// Defines a closed set of lower-case string values with parsing and a label form.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// How many values there are (sizes per-value arrays).
            pub const COUNT: usize = $name::ALL.len();
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Case-insensitive parse of the wire value.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

string_enum!(
    /// Ticket priority.
    Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" }
);
string_enum!(
    /// Who opened the ticket.
    Requester { Customer = "customer", Agent = "agent" }
);
string_enum!(
    /// Who wrote a message.
    Author { Customer = "customer", Agent = "agent", Bot = "bot", System = "system" }
);
string_enum!(
    /// Ticket status.
    Status { New = "new", Open = "open", Pending = "pending", OnHold = "on_hold", Solved = "solved", Closed = "closed" }
);
string_enum!(
    /// An agent's availability (`agent_status.status`).
    Presence { Online = "online", Away = "away", Offline = "offline" }
);
string_enum!(
    /// Survey kind.
    Survey { Csat = "csat", Ces = "ces", Nps = "nps", Esat = "esat" }
);

impl Status {
    /// Solved and closed tickets are resolved; every other status is open work.
    pub fn is_resolved(self) -> bool {
        matches!(self, Status::Solved | Status::Closed)
    }
}

string_enum!(
    /// Why a message was rejected: the bounded `reason` label of invalid-event metrics and the
    /// `ticketpulse.reason` header on the dead-letter topic.
    InvalidReason {
        Oversized = "oversized",
        NotJson = "not_json",
        NotObject = "not_object",
        MissingField = "missing_field",
        WrongType = "wrong_type",
        UnknownType = "unknown_type",
        BadValue = "bad_value",
        BadTimestamp = "bad_timestamp",
        FutureTimestamp = "future_timestamp",
        OutOfRange = "out_of_range",
    }
);

/// A rejected message: the reason label, the event type when it could be read, and a
/// human-readable detail for the log line.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub reason: InvalidReason,
    pub event_type: Option<EventType>,
    pub detail: String,
}

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Messages longer than this are rejected unread.
    pub max_message_bytes: usize,
    /// Reject events more than this far ahead of `now` (only when a `now` is given).
    pub max_future_skew: Millis,
    /// Valid CSAT scores, inclusive.
    pub csat_range: (f64, f64),
    /// Valid CES scores, inclusive.
    pub ces_range: (f64, f64),
    /// Valid ESAT (employee satisfaction) scores, inclusive.
    pub esat_range: (f64, f64),
}

/// Net Promoter Score surveys are always answered on 0–10.
pub(crate) const NPS_RANGE: (f64, f64) = (0.0, 10.0);

impl ParseLimits {
    fn score_range(&self, survey: Survey) -> (f64, f64) {
        match survey {
            Survey::Csat => self.csat_range,
            Survey::Ces => self.ces_range,
            Survey::Nps => NPS_RANGE,
            Survey::Esat => self.esat_range,
        }
    }
}
