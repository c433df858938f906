//! The ticket lifecycle event contract, v1 (see `docs/events.md` and `docs/events.schema.json`).
//!
//! [`parse`] turns one Kafka message (or one JSON line) into an [`Event`] or an [`Invalid`]
//! with a bounded [`InvalidReason`]. Unknown fields are ignored so producers can add fields
//! without breaking older consumers.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::base::{Millis, MAX_TIME};

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

/// Every field any event type may carry; validated by hand for precise reasons.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed")]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    ticket_id: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow, default, deserialize_with = "borrowed")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    at: Option<RawTime<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    channel: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    priority: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    team: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    topic: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    requester: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    author: Option<Cow<'a, str>>,
    public: Option<bool>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    survey: Option<Cow<'a, str>>,
    score: Option<f64>,
    seconds: Option<f64>,
    sentiment: Option<f64>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Option<RawTime<'a>>,
    #[serde(borrow)]
    first_response_at: Option<RawTime<'a>>,
    #[serde(borrow)]
    waiting_since: Option<RawTime<'a>>,
    #[serde(borrow)]
    solved_at: Option<RawTime<'a>>,
    paused_seconds: Option<f64>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    last_agent_id: Option<Cow<'a, str>>,
    /// Read by `agent_status` only: kept unparsed, so another event carrying a field of that
    /// name is judged as one carrying an unknown field.
    #[serde(borrow, default)]
    channels: Option<&'a serde_json::value::RawValue>,
}

/// A string field as sent, borrowed from the message unless it holds escapes. Needed because
/// `#[serde(borrow)]` does not reach through `Option` (serde-rs/serde#2016): a plain
/// `Option<Cow<str>>` field allocates every string, five or more an event.
fn borrowed<'de: 'a, 'a, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text>::deserialize(deserializer)?.map(|Text(text)| text))
}

/// `at` as sent: read by its own visitor rather than `#[serde(untagged)]`, which buffers the
/// value and builds (and formats) an error per variant tried: a quarter of the parse time.
enum RawTime<'a> {
    EpochMillis(i64),
    /// Any other number (fractional, or beyond i64): not a time.
    Number(f64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for RawTime<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = RawTime<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("epoch milliseconds or an RFC 3339 string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawTime::EpochMillis(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(RawTime::Number(v as f64), RawTime::EpochMillis))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawTime::Number(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

fn invalid(reason: InvalidReason, event_type: Option<EventType>, detail: impl Into<String>) -> Invalid {
    Invalid { reason, event_type, detail: detail.into() }
}

/// Parses and validates one message. `now` enables the future-skew check (live mode); replay
/// passes `None` so that its output depends on the input alone.
pub fn parse(bytes: &[u8], limits: &ParseLimits, now: Option<Millis>) -> Result<Event, Invalid> {
    if bytes.len() > limits.max_message_bytes {
        let detail = format!("{} bytes > max_message_bytes {}", bytes.len(), limits.max_message_bytes);
        return Err(invalid(InvalidReason::Oversized, None, detail));
    }
    // serde would read a JSON array positionally into the struct; only objects are events.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let reason = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => InvalidReason::NotObject,
            Err(_) => InvalidReason::NotJson,
        };
        return Err(invalid(reason, None, "the message is not a JSON object"));
    }
    // Lines are valid UTF-8 in practice: checked once here, serde_json then borrows every string
    // without checking it again (a tenth of the parse). Other bytes take `from_slice`, which
    // checks the strings it reads (and only those), as before.
    let raw: RawEvent = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
    .map_err(classify_json_error)?;
    let Some(kind) = raw.kind.as_deref() else {
        return Err(invalid(InvalidReason::MissingField, None, "missing field `type`"));
    };
    let Some(event_type) = EventType::parse(kind) else {
        return Err(invalid(InvalidReason::UnknownType, None, format!("unknown type {kind:?}")));
    };
    let t = Some(event_type);
    let event_id = required_id(raw.event_id, "event_id", t)?;
    // An agent status is about an agent, keyed by its id: it has no ticket.
    let ticket_id = if event_type == EventType::AgentStatus {
        required_id(raw.agent_id.clone(), "agent_id", t)?
    } else {
        required_id(raw.ticket_id, "ticket_id", t)?
    };
    let at = match raw.at {
        None => return Err(invalid(InvalidReason::MissingField, t, "missing field `at`")),
        Some(time) => parse_time(time).map_err(|d| invalid(InvalidReason::BadTimestamp, t, format!("`at` {d}")))?,
    };
    if let Some(now) = now {
        if at > now.saturating_add(limits.max_future_skew) {
            let detail = format!("`at` is {} ms ahead of the clock", at - now);
            return Err(invalid(InvalidReason::FutureTimestamp, t, detail));
        }
    }
    let topic_too_long = raw.topic.as_ref().is_some_and(|topic| topic.len() > MAX_LABEL_BYTES);
    let body = match event_type {
        EventType::TicketCreated => EventBody::TicketCreated {
            channel: required_channel(raw.channel, t)?,
            priority: optional_enum(raw.priority, "priority", Priority::parse, t)?.unwrap_or(Priority::Normal),
            team: raw.team.map(Cow::into_owned),
            topic: raw.topic.map(bounded_topic),
            requester: optional_enum(raw.requester, "requester", Requester::parse, t)?.unwrap_or(Requester::Customer),
        },
        EventType::TicketUpdated => EventBody::TicketUpdated {
            priority: optional_enum(raw.priority, "priority", Priority::parse, t)?,
            team: raw.team.map(Cow::into_owned),
            topic: raw.topic.map(bounded_topic),
            channel: raw.channel.map(|c| c.to_ascii_lowercase()),
        },
        EventType::Message => EventBody::Message {
            author: optional_enum(raw.author, "author", Author::parse, t)?
                .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `author`"))?,
            public: raw.public.unwrap_or(true),
            sentiment: match raw.sentiment {
                None => None,
                Some(v) => Some(in_range(Some(v), "sentiment", (-1.0, 1.0), t)?),
            },
            agent_id: optional_id(raw.agent_id, "agent_id", t)?,
        },
        EventType::StatusChanged => EventBody::StatusChanged {
            status: optional_enum(raw.status, "status", Status::parse, t)?
                .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `status`"))?,
        },
        EventType::ContactAbandoned => EventBody::ContactAbandoned,
        EventType::SurveyResponse => {
            let survey = optional_enum(raw.survey, "survey", Survey::parse, t)?
                .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `survey`"))?;
            EventBody::SurveyResponse { survey, score: in_range(raw.score, "score", limits.score_range(survey), t)? }
        }
        EventType::WorkLogged => {
            let seconds = finite(raw.seconds, "seconds", t)?;
            if seconds < 0.0 {
                return Err(invalid(InvalidReason::BadValue, t, "`seconds` is negative"));
            }
            EventBody::WorkLogged {
                seconds: in_range(Some(seconds), "seconds", (0.0, MAX_WORK_SECONDS), t)?,
                agent_id: optional_id(raw.agent_id, "agent_id", t)?,
            }
        }
        EventType::TicketSnapshot => {
            let created_at = snapshot_time(raw.created_at, "created_at", None, at, t)?
                .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `created_at`"))?;
            let paused = match raw.paused_seconds {
                None => 0,
                Some(v) => (in_range(Some(v), "paused_seconds", (0.0, (at - created_at) as f64 / 1000.0), t)? * 1000.0) as Millis,
            };
            EventBody::TicketSnapshot(Box::new(TicketSnapshot {
                created_at,
                status: optional_enum(raw.status, "status", Status::parse, t)?
                    .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `status`"))?,
                channel: required_channel(raw.channel, t)?,
                priority: optional_enum(raw.priority, "priority", Priority::parse, t)?.unwrap_or(Priority::Normal),
                team: raw.team.map(Cow::into_owned),
                topic: raw.topic.map(bounded_topic),
                requester: optional_enum(raw.requester, "requester", Requester::parse, t)?.unwrap_or(Requester::Customer),
                first_response_at: snapshot_time(raw.first_response_at, "first_response_at", Some(created_at), at, t)?,
                waiting_since: snapshot_time(raw.waiting_since, "waiting_since", Some(created_at), at, t)?,
                solved_at: snapshot_time(raw.solved_at, "solved_at", Some(created_at), at, t)?,
                paused,
                last_agent_id: optional_id(raw.last_agent_id, "last_agent_id", t)?,
            }))
        }
        EventType::AgentStatus => {
            let channels: Vec<Cow<str>> = match raw.channels.filter(|c| c.get() != "null") {
                None => Vec::new(),
                Some(c) => serde_json::from_str::<Vec<Cow<str>>>(c.get())
                    .map_err(|_| invalid(InvalidReason::WrongType, t, "`channels` must be an array of strings"))?,
            };
            if channels.len() > MAX_AGENT_CHANNELS {
                let detail = format!("`channels` lists {} channels, more than {MAX_AGENT_CHANNELS}", channels.len());
                return Err(invalid(InvalidReason::BadValue, t, detail));
            }
            if let Some(c) = channels.iter().find(|c| c.is_empty() || c.len() > MAX_LABEL_BYTES) {
                let detail = format!("`channels` entries must be 1 to {MAX_LABEL_BYTES} bytes, got {}", c.len());
                return Err(invalid(InvalidReason::BadValue, t, detail));
            }
            EventBody::AgentStatus(Box::new(AgentStatus {
                agent_id: ticket_id.clone(),
                status: optional_enum(raw.status, "status", Presence::parse, t)?
                    .ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `status`"))?,
                team: raw.team.map(Cow::into_owned),
                channels: channels.iter().map(|c| c.to_ascii_lowercase()).collect(),
            }))
        }
    };
    Ok(Event { event_id, ticket_id, at, body, topic_too_long })
}

/// The channel a ticket is created or stated with: required, lower-cased.
fn required_channel(channel: Option<Cow<str>>, t: Option<EventType>) -> Result<String, Invalid> {
    channel.map(|c| c.to_ascii_lowercase()).ok_or_else(|| invalid(InvalidReason::MissingField, t, "missing field `channel`"))
}

/// An optional time of a `ticket_snapshot`: a time (`bad_timestamp` otherwise) no later than
/// the snapshot's `at` and no earlier than `from` (`bad_value` otherwise).
fn snapshot_time(
    value: Option<RawTime>,
    field: &str,
    from: Option<Millis>,
    at: Millis,
    t: Option<EventType>,
) -> Result<Option<Millis>, Invalid> {
    let Some(value) = value else { return Ok(None) };
    let time = parse_time(value).map_err(|d| invalid(InvalidReason::BadTimestamp, t, format!("`{field}` {d}")))?;
    if time > at {
        return Err(invalid(InvalidReason::BadValue, t, format!("`{field}` is after `at`")));
    }
    if from.is_some_and(|from| time < from) {
        return Err(invalid(InvalidReason::BadValue, t, format!("`{field}` is before `created_at`")));
    }
    Ok(Some(time))
}

/// The topic as sent, or [`OTHER_TOPIC`] when it is longer than [`MAX_LABEL_BYTES`] (flagged in
/// [`Event::topic_too_long`]).
/// `channel` and `team` need no such bound: they are looked up in the configured lists and
/// never kept as sent; `status` and `priority` are enumerations; `agent_id` is an id, refused
/// beyond [`MAX_ID_BYTES`].
fn bounded_topic(topic: Cow<str>) -> String {
    if topic.len() > MAX_LABEL_BYTES {
        return OTHER_TOPIC.to_string();
    }
    topic.into_owned()
}

fn classify_json_error(e: serde_json::Error) -> Invalid {
    use serde_json::error::Category;
    let detail = e.to_string();
    let reason = match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => InvalidReason::NotJson,
        Category::Data => InvalidReason::WrongType,
    };
    invalid(reason, None, detail)
}

fn required_id(value: Option<Cow<str>>, field: &str, t: Option<EventType>) -> Result<String, Invalid> {
    match value {
        None => Err(invalid(InvalidReason::MissingField, t, format!("missing field `{field}`"))),
        Some(v) if v.is_empty() || v.len() > MAX_ID_BYTES => {
            Err(invalid(InvalidReason::BadValue, t, format!("`{field}` must be 1 to {MAX_ID_BYTES} bytes, got {}", v.len())))
        }
        Some(v) => Ok(v.into_owned()),
    }
}

/// An optional id: absent is fine, present it is bounded like the required ones.
fn optional_id(value: Option<Cow<str>>, field: &str, t: Option<EventType>) -> Result<Option<String>, Invalid> {
    value.map(|v| required_id(Some(v), field, t)).transpose()
}

fn optional_enum<T>(
    value: Option<Cow<str>>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    t: Option<EventType>,
) -> Result<Option<T>, Invalid> {
    value.map(|v| parse(&v).ok_or_else(|| invalid(InvalidReason::BadValue, t, format!("`{field}` has unknown value {v:?}")))).transpose()
}

fn finite(value: Option<f64>, field: &str, t: Option<EventType>) -> Result<f64, Invalid> {
    match value {
        None => Err(invalid(InvalidReason::MissingField, t, format!("missing field `{field}`"))),
        Some(v) if !v.is_finite() => Err(invalid(InvalidReason::BadValue, t, format!("`{field}` is not finite"))),
        Some(v) => Ok(v),
    }
}

fn in_range(value: Option<f64>, field: &str, (min, max): (f64, f64), t: Option<EventType>) -> Result<f64, Invalid> {
    let v = finite(value, field, t)?;
    if !(min..=max).contains(&v) {
        return Err(invalid(InvalidReason::OutOfRange, t, format!("`{field}` {v} is outside {min}..={max}")));
    }
    Ok(v)
}

fn parse_time(time: RawTime) -> Result<Millis, String> {
    match time {
        RawTime::EpochMillis(ms) => in_range_of_times(ms),
        RawTime::Number(n) => Err(format!("{n} is not a whole number of epoch milliseconds")),
        RawTime::Text(text) => parse_time_text(&text),
    }
}

/// An RFC 3339 instant within the accepted range of event times (also used for the command
/// line's times).
pub fn parse_time_text(text: &str) -> Result<Millis, String> {
    in_range_of_times(parse_rfc3339(text)?)
}

fn in_range_of_times(ms: Millis) -> Result<Millis, String> {
    if !(0..MAX_TIME).contains(&ms) {
        return Err(format!("{ms} ms is outside 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z"));
    }
    Ok(ms)
}

/// An RFC 3339 `date-time` (section 5.6) exactly, in milliseconds since the epoch:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` with `T`/`t` and `Z`/`z`, any number of
/// fraction digits (truncated to the millisecond), offset hours 00–23 and minutes 00–59, no
/// seconds in the offset. A leap second (`:60`) counts as `:59`, as jiff reads it. jiff's own
/// parser is more lenient (offsets up to ±25:59:59, no seconds, a space separator) and stops
/// at nine fraction digits, so the grammar is checked here and jiff only does the calendar.
fn parse_rfc3339(text: &str) -> Result<Millis, String> {
    let expected = || format!("{:?} is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM)", Truncated(text));
    let b = text.as_bytes();
    let number = |from: usize, len: usize| -> Option<i16> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i16, |n, d| d.is_ascii_digit().then(|| n * 10 + i16::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || separators.iter().any(|&(i, c)| b[i] != c) {
        return Err(expected());
    }
    let fields = (number(0, 4), number(5, 2), number(8, 2), number(11, 2), number(14, 2), number(17, 2));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields else { return Err(expected()) };
    let mut rest = &b[19..];
    let mut fraction_ms = 0;
    if let [b'.', digits @ ..] = rest {
        let count = digits.iter().take_while(|d| d.is_ascii_digit()).count();
        if count == 0 {
            return Err(expected());
        }
        fraction_ms = (0..3).fold(0, |ms, i| ms * 10 + digits.get(i).filter(|_| i < count).map_or(0, |d| Millis::from(d - b'0')));
        rest = &digits[count..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i32::from(a - b'0') * 10 + i32::from(b - b'0'));
            let (Some(h), Some(m)) = (two(*h1, *h2), two(*m1, *m2)) else { return Err(expected()) };
            if h > 23 || m > 59 {
                return Err(format!("{:?} has an offset beyond ±23:59", Truncated(text)));
            }
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return Err(expected()),
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{:?} has no such time of day", Truncated(text)));
    }
    let date = jiff::civil::Date::new(year, month as i8, day as i8).map_err(|_| format!("{:?} has no such date", Truncated(text)))?;
    let time = jiff::civil::Time::new(hour as i8, minute as i8, second.min(59) as i8, 0).map_err(|e| e.to_string())?;
    let offset = jiff::tz::Offset::from_seconds(offset_minutes * 60).map_err(|e| e.to_string())?;
    let instant = offset.to_timestamp(date.to_datetime(time)).map_err(|e| e.to_string())?;
    Ok(instant.as_millisecond() + fraction_ms)
}

/// A value for a log line, cut to its first 64 characters.
struct Truncated<'a>(&'a str);

impl std::fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = self.0.char_indices().nth(64).map_or(self.0, |(i, _)| &self.0[..i]);
        write!(f, "{cut:?}{}", if cut.len() < self.0.len() { "…" } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::millis;

    const LIMITS: ParseLimits = ParseLimits {
        max_message_bytes: 512,
        max_future_skew: 300_000,
        csat_range: (1.0, 5.0),
        ces_range: (1.0, 7.0),
        esat_range: (1.0, 5.0),
    };

    fn ok(json: &str) -> Event {
        parse(json.as_bytes(), &LIMITS, None).expect("valid event")
    }

    fn reason(json: &str) -> InvalidReason {
        parse(json.as_bytes(), &LIMITS, Some(1_700_000_000_000)).expect_err("invalid event").reason
    }

    #[test]
    fn created_with_defaults_and_rfc3339_offset() {
        let e = ok(
            r#"{"event_id":"e1","ticket_id":"t1","type":"ticket_created","at":"2026-01-05T10:00:00+02:00","channel":"EMail","extra":{"x":1}}"#,
        );
        assert_eq!(e.at, 1_767_600_000_000); // 2026-01-05T08:00:00Z
        assert_eq!(
            e.body,
            EventBody::TicketCreated {
                channel: "email".into(),
                priority: Priority::Normal,
                team: None,
                topic: None,
                requester: Requester::Customer
            }
        );
    }

    #[test]
    fn agent_status_is_keyed_by_agent_id_and_checked_like_the_other_events() {
        let e = ok(
            r#"{"event_id":"s1","type":"agent_status","at":1,"agent_id":"a1","status":"Online","team":"billing","channels":["Chat","email"]}"#,
        );
        assert_eq!(e.ticket_id, "a1", "the key is the agent id");
        let status = AgentStatus {
            agent_id: "a1".into(),
            status: Presence::Online,
            team: Some("billing".into()),
            channels: vec!["chat".into(), "email".into()],
        };
        assert_eq!(e.body, EventBody::AgentStatus(Box::new(status)));
        // Team and channels are optional; a ticket_id is not needed (and not read).
        let e = ok(r#"{"event_id":"s2","ticket_id":"t","type":"agent_status","at":1,"agent_id":"a2","status":"away"}"#);
        let status = AgentStatus { agent_id: "a2".into(), status: Presence::Away, team: None, channels: vec![] };
        assert_eq!((e.ticket_id.as_str(), e.body), ("a2", EventBody::AgentStatus(Box::new(status))));
        let bad = |fields: &str| {
            let json = format!(r#"{{"event_id":"s","type":"agent_status","at":1{fields}}}"#);
            let e = parse(json.as_bytes(), &LIMITS, None).expect_err("invalid agent_status");
            (e.reason, e.event_type, e.detail)
        };
        let t = Some(EventType::AgentStatus);
        assert_eq!(bad(r#","agent_id":"a","status":"busy""#), (InvalidReason::BadValue, t, "`status` has unknown value \"busy\"".into()));
        assert_eq!(bad(r#","agent_id":"a""#), (InvalidReason::MissingField, t, "missing field `status`".into()));
        assert_eq!(bad(r#","status":"online""#), (InvalidReason::MissingField, t, "missing field `agent_id`".into()));
        assert_eq!(bad(r#","agent_id":"","status":"online""#).0, InvalidReason::BadValue);
        assert_eq!(bad(r#","agent_id":"a","status":"online","channels":"chat""#).0, InvalidReason::WrongType);
        assert_eq!(
            bad(r#","agent_id":"a","status":"online","channels":["chat",""]"#),
            (InvalidReason::BadValue, t, "`channels` entries must be 1 to 128 bytes, got 0".into())
        );
        let many = vec!["\"c\""; MAX_AGENT_CHANNELS + 1].join(",");
        assert_eq!(
            bad(&format!(r#","agent_id":"a","status":"online","channels":[{many}]"#)),
            (InvalidReason::BadValue, t, "`channels` lists 33 channels, more than 32".into())
        );
    }

    #[test]
    fn epoch_millis_and_message_defaults() {
        let e = ok(r#"{"event_id":"e2","ticket_id":"t1","type":"message","at":1700000000123,"author":"agent"}"#);
        assert_eq!(e.at, 1_700_000_000_123);
        assert_eq!(e.body, EventBody::Message { author: Author::Agent, public: true, sentiment: None, agent_id: None });
        let e = ok(r#"{"event_id":"e3","ticket_id":"t1","type":"message","at":1,"author":"customer","sentiment":-1}"#);
        assert_eq!(e.body, EventBody::Message { author: Author::Customer, public: true, sentiment: Some(-1.0), agent_id: None });
    }

    #[test]
    fn scores_and_sentiment_outside_their_scale_are_out_of_range() {
        let survey = |kind: &str, score: &str| {
            format!(r#"{{"event_id":"e","ticket_id":"t","type":"survey_response","at":1,"survey":"{kind}","score":{score}}}"#)
        };
        for (kind, score) in [("csat", "0"), ("csat", "5.5"), ("ces", "8"), ("nps", "-1"), ("nps", "11"), ("esat", "0"), ("esat", "6")] {
            assert_eq!(reason(&survey(kind, score)), InvalidReason::OutOfRange, "{kind} {score}");
        }
        for (kind, score) in [("csat", "1"), ("csat", "5"), ("ces", "7"), ("nps", "0"), ("nps", "10"), ("esat", "1"), ("esat", "5")] {
            assert_eq!(ok(&survey(kind, score)).body.event_type(), EventType::SurveyResponse, "{kind} {score}");
        }
        let err = parse(survey("csat", "6").as_bytes(), &LIMITS, None).unwrap_err();
        assert_eq!(err.detail, "`score` 6 is outside 1..=5");
        let sentiment = r#"{"event_id":"e","ticket_id":"t","type":"message","at":1,"author":"customer","sentiment":1.2}"#;
        assert_eq!(reason(sentiment), InvalidReason::OutOfRange);
    }

    #[test]
    fn strings_are_borrowed_from_the_message_unless_escaped() {
        let json = r#"{"event_id":"e-1","ticket_id":"T\u0031","type":"ticket_created","channel":null}"#;
        let raw: RawEvent = serde_json::from_str(json).unwrap();
        assert!(matches!(raw.event_id, Some(Cow::Borrowed("e-1"))));
        assert!(matches!(raw.kind, Some(Cow::Borrowed("ticket_created"))));
        assert!(matches!(raw.ticket_id.as_deref(), Some("T1")) && matches!(raw.ticket_id, Some(Cow::Owned(_))), "unescaped into a copy");
        assert!(raw.channel.is_none() && raw.priority.is_none(), "null and absent are both none");
        let wrong = serde_json::from_str::<RawEvent>(r#"{"channel":5}"#).err().unwrap().to_string();
        assert_eq!(wrong, "invalid type: integer `5`, expected a string at line 1 column 12");
    }

    #[test]
    fn every_reason() {
        let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(600));
        assert_eq!(reason(&big), InvalidReason::Oversized);
        assert_eq!(reason("{not json"), InvalidReason::NotJson);
        assert_eq!(reason("[1,2]"), InvalidReason::NotObject);
        assert_eq!(reason(" \"text\""), InvalidReason::NotObject);
        assert_eq!(reason(""), InvalidReason::NotJson);
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","at":1}"#), InvalidReason::MissingField);
        assert_eq!(
            reason(r#"{"event_id":"e","ticket_id":"t","type":"message","at":1,"public":"yes","author":"agent"}"#),
            InvalidReason::WrongType
        );
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"exploded","at":1}"#), InvalidReason::UnknownType);
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"status_changed","at":1,"status":"done"}"#), InvalidReason::BadValue);
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"work_logged","at":1,"seconds":-1}"#), InvalidReason::BadValue);
        assert_eq!(reason(r#"{"event_id":"","ticket_id":"t","type":"contact_abandoned","at":1}"#), InvalidReason::BadValue);
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":"yesterday"}"#), InvalidReason::BadTimestamp);
        assert_eq!(
            reason(r#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":"2026-01-05T10:00:00"}"#),
            InvalidReason::BadTimestamp
        );
        assert_eq!(
            reason(r#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":1700000300001}"#),
            InvalidReason::FutureTimestamp
        );
        assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"ticket_created","at":1}"#), InvalidReason::MissingField);
    }

    /// The `at` of a `contact_abandoned` event written as `at` (JSON).
    fn at(at: &str) -> Result<Millis, InvalidReason> {
        let json = format!(r#"{{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":{at}}}"#);
        parse(json.as_bytes(), &LIMITS, None).map(|e| e.at).map_err(|e| e.reason)
    }

    #[test]
    fn rfc3339_exactly_as_section_5_6_writes_it() {
        const TEN: Millis = 1_767_607_200_000; // 2026-01-05T10:00:00Z
        let accepted = [
            ("2026-01-05T10:00:00Z", TEN),
            ("2026-01-05t10:00:00z", TEN),
            ("2026-01-05T12:00:00+02:00", TEN),
            ("2026-01-05T10:00:00-00:00", TEN),
            // Any number of fraction digits, truncated to the millisecond.
            ("2026-01-05T10:00:00.1Z", TEN + 100),
            ("2026-01-05T10:00:00.123456789012Z", TEN + 123),
            // The widest offsets: 10:00 at +23:59 is 2026-01-04T10:01Z, at -23:59 2026-01-06T09:59Z.
            ("2026-01-05T10:00:00+23:59", 1_767_520_860_000),
            ("2026-01-05T10:00:00-23:59", TEN + 86_340_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            // A leap second counts as :59.
            ("2016-12-31T23:59:60.5Z", 1_483_228_799_500),
        ];
        for (text, ms) in accepted {
            assert_eq!(at(&format!("{text:?}")), Ok(ms), "{text}");
        }
        let rejected = [
            "2026-01-05T10:00:00+25:00",
            "2026-01-05T10:00:00+24:00",
            "2026-01-05T10:00:00+05:60",
            "2026-01-05T10:00:00+05:30:17",
            "2026-01-05T10:00:00+0530",
            "2026-01-05T10:00:00+05",
            "2026-01-05T10:00:00",
            "2026-01-05 10:00:00Z",
            "2026-01-05T10:00Z",
            "2026-01-05T10:00:00.Z",
            "2026-01-05T10:00:00,5Z",
            "2026-01-05T24:00:00Z",
            "2026-01-05T10:60:00Z",
            "2026-01-05T10:00:61Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-1-05T10:00:00Z",
            "+2026-01-05T10:00:00Z",
            "2026-01-05T10:00:00Z ",
            "2026-01-05T10:00:00+02:00[Europe/Bucharest]",
        ];
        for text in rejected {
            assert_eq!(at(&format!("{text:?}")), Err(InvalidReason::BadTimestamp), "{text}");
        }
        let err = parse(br#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":"2026-01-05T10:00:00+25:00"}"#, &LIMITS, None);
        assert_eq!(err.unwrap_err().detail, r#"`at` "2026-01-05T10:00:00+25:00" has an offset beyond ±23:59"#);
    }

    #[test]
    fn times_outside_1970_to_2100_and_non_integer_millis_are_bad_timestamps() {
        assert_eq!(at("0"), Ok(0));
        assert_eq!(at("4102444799999"), Ok(MAX_TIME - 1));
        assert_eq!(at(r#""2099-12-31T23:59:59.999Z""#), Ok(MAX_TIME - 1));
        for value in ["-1", "4102444800000", "9223372036854775807", "18446744073709551615", "1.7e12", "1767607200000.5"] {
            assert_eq!(at(value), Err(InvalidReason::BadTimestamp), "{value}");
        }
        for text in [r#""2100-01-01T00:00:00Z""#, r#""9999-12-31T23:59:59Z""#, r#""1969-12-31T23:59:59.999Z""#] {
            assert_eq!(at(text), Err(InvalidReason::BadTimestamp), "{text}");
        }
        let err = parse(br#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":9223372036854775807}"#, &LIMITS, None);
        assert_eq!(err.unwrap_err().detail, "`at` 9223372036854775807 ms is outside 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z");
        // The future-skew check cannot overflow either.
        let json = br#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":1}"#;
        assert!(parse(json, &LIMITS, Some(Millis::MAX)).is_ok());
    }

    #[test]
    fn configured_durations_saturate_at_the_range_of_event_times() {
        assert_eq!(millis(std::time::Duration::from_secs(7 * 86_400)), 604_800_000);
        assert_eq!(millis(std::time::Duration::MAX), MAX_TIME);
    }

    #[test]
    fn types_and_enumerated_values_are_case_insensitive() {
        let e = ok(r#"{"event_id":"e","ticket_id":"t","type":"TICKET_CREATED","at":1,"channel":"Chat","priority":"URGENT"}"#);
        assert_eq!(e.body.event_type(), EventType::TicketCreated);
        let e = ok(r#"{"event_id":"e","ticket_id":"t","type":"Status_Changed","at":1,"status":"On_Hold"}"#);
        assert_eq!(e.body, EventBody::StatusChanged { status: Status::OnHold });
    }

    #[test]
    fn logged_work_is_bounded_to_a_year() {
        let work = |seconds: &str| {
            let json = format!(r#"{{"event_id":"e","ticket_id":"t","type":"work_logged","at":1,"seconds":{seconds}}}"#);
            parse(json.as_bytes(), &LIMITS, None).map(|e| e.body).map_err(|e| e.reason)
        };
        assert_eq!(work("31536000"), Ok(EventBody::WorkLogged { seconds: 31_536_000.0, agent_id: None }));
        assert_eq!(work("31536000.001"), Err(InvalidReason::OutOfRange));
        assert_eq!(work("1.7e308"), Err(InvalidReason::OutOfRange));
        assert_eq!(work("-0.5"), Err(InvalidReason::BadValue));
    }

    #[test]
    fn long_ids_are_rejected() {
        let id = "x".repeat(MAX_ID_BYTES + 1);
        let json = format!(r#"{{"event_id":"e","ticket_id":"{id}","type":"contact_abandoned","at":1}}"#);
        let err = parse(json.as_bytes(), &ParseLimits { max_message_bytes: 4096, ..LIMITS }, None).unwrap_err();
        assert_eq!(err.reason, InvalidReason::BadValue);
        assert_eq!(err.event_type, Some(EventType::ContactAbandoned));
    }

    #[test]
    fn topics_longer_than_a_label_value_may_be_are_read_as_other_and_counted() {
        let limits = ParseLimits { max_message_bytes: 4096, ..LIMITS };
        let topic = |kind: &str, topic: &str| {
            let json = format!(r#"{{"event_id":"e","ticket_id":"t","type":"{kind}","at":1,"channel":"email","topic":"{topic}"}}"#);
            let event = parse(json.as_bytes(), &limits, None).expect("valid");
            match event.body {
                EventBody::TicketCreated { topic, .. } | EventBody::TicketUpdated { topic, .. } => (topic, event.topic_too_long),
                other => panic!("{other:?}"),
            }
        };
        // 64 two-byte characters are 128 bytes: kept; one byte more is not (and is flagged).
        let at_bound = "é".repeat(64);
        assert_eq!(topic("ticket_created", &at_bound), (Some(at_bound.clone()), false));
        assert_eq!(topic("ticket_created", &format!("{at_bound}x")), (Some("other".to_string()), true));
        assert_eq!(topic("ticket_updated", &"x".repeat(3000)), (Some("other".to_string()), true));
    }

    #[test]
    fn agent_ids_are_carried_and_bounded_like_other_ids() {
        let e = ok(r#"{"event_id":"e","ticket_id":"t","type":"message","at":1,"author":"agent","agent_id":"a-7"}"#);
        assert_eq!(e.body, EventBody::Message { author: Author::Agent, public: true, sentiment: None, agent_id: Some("a-7".into()) });
        let e = ok(r#"{"event_id":"e","ticket_id":"t","type":"work_logged","at":1,"seconds":30,"agent_id":"a-7"}"#);
        assert_eq!(e.body, EventBody::WorkLogged { seconds: 30.0, agent_id: Some("a-7".into()) });
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for json in [
            r#"{"event_id":"e","ticket_id":"t","type":"message","at":1,"author":"agent","agent_id":""}"#.to_string(),
            format!(r#"{{"event_id":"e","ticket_id":"t","type":"work_logged","at":1,"seconds":1,"agent_id":"{long}"}}"#),
        ] {
            let err = parse(json.as_bytes(), &ParseLimits { max_message_bytes: 4096, ..LIMITS }, None).unwrap_err();
            assert_eq!(err.reason, InvalidReason::BadValue, "{json}");
            assert!(err.detail.starts_with("`agent_id` must be 1 to 128 bytes"), "{}", err.detail);
        }
    }

    #[test]
    fn json_schema_lists_the_same_types_and_values_as_the_parser() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.schema.json"))).unwrap();
        let strings =
            |v: &serde_json::Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
        let types: Vec<String> = EventType::ALL.iter().map(|t| t.as_str().to_string()).collect();
        let mut listed = strings(&schema["properties"]["type"]["enum"]);
        listed.sort();
        let mut expected = types.clone();
        expected.sort();
        assert_eq!(listed, expected);
        let then = |t: &str, field: &str| {
            let branch = schema["allOf"].as_array().unwrap().iter().find(|b| b["if"]["properties"]["type"]["const"] == t).unwrap();
            strings(&branch["then"]["properties"][field]["enum"])
        };
        let names = |all: &[&'static str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(then("status_changed", "status"), names(&Status::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        assert_eq!(then("message", "author"), names(&Author::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        assert_eq!(then("ticket_created", "priority"), names(&Priority::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        assert_eq!(then("survey_response", "survey"), names(&Survey::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
        assert_eq!(then("agent_status", "status"), names(&Presence::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_judged_as_serde_json_reads_them() {
        // Not UTF-8 in a field the contract reads: not JSON.
        let bad_id = b"{\"event_id\":\"e\xff\",\"ticket_id\":\"t\",\"type\":\"contact_abandoned\",\"at\":1}";
        assert_eq!(parse(bad_id, &LIMITS, None).unwrap_err().reason, InvalidReason::NotJson);
        // In an unknown field, which is skipped unread: the event is valid.
        let bad_extra = b"{\"event_id\":\"e\",\"ticket_id\":\"t\",\"type\":\"contact_abandoned\",\"at\":1,\"x\":\"\xff\"}";
        let e = parse(bad_extra, &LIMITS, None).expect("unknown fields are not read");
        assert_eq!((e.event_id.as_str(), e.ticket_id.as_str(), e.at, e.body), ("e", "t", 1, EventBody::ContactAbandoned));
    }

    /// `channels` is read by `agent_status` only: on any other event it is an unknown field.
    #[test]
    fn channels_on_another_event_is_not_read() {
        for channels in [r#""email""#, "[1,2]", "{}"] {
            let line = format!(r#"{{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":1,"channels":{channels}}}"#);
            let e = parse(line.as_bytes(), &LIMITS, None).expect("not read");
            assert_eq!(e.body, EventBody::ContactAbandoned);
        }
    }

    #[test]
    fn same_timestamp_order_puts_creation_first_and_solve_after_reply() {
        assert!(EventType::TicketCreated.rank() < EventType::Message.rank());
        assert!(EventType::Message.rank() < EventType::StatusChanged.rank());
        // A snapshot states the ticket after everything of its instant.
        assert!(EventType::ALL.iter().all(|t| t.rank() <= EventType::TicketSnapshot.rank()));
    }

    #[test]
    fn ticket_snapshot_with_defaults_and_its_times_bounded_by_creation_and_at() {
        let snapshot = |extra: &str| {
            format!(
                r#"{{"event_id":"s","ticket_id":"t","type":"ticket_snapshot","at":"2026-01-05T10:00:00Z","created_at":"2026-01-05T08:00:00Z","status":"Open","channel":"Email"{extra}}}"#
            )
        };
        let e = ok(&snapshot(""));
        // 08:00Z is 1 767 600 000 000 ms; priority normal and requester customer by default.
        let base = TicketSnapshot {
            created_at: 1_767_600_000_000,
            status: Status::Open,
            channel: "email".into(),
            priority: Priority::Normal,
            team: None,
            topic: None,
            requester: Requester::Customer,
            first_response_at: None,
            waiting_since: None,
            solved_at: None,
            paused: 0,
            last_agent_id: None,
        };
        assert_eq!(e.body, EventBody::TicketSnapshot(Box::new(base.clone())));
        let e = ok(&snapshot(
            r#","priority":"high","team":"billing","first_response_at":"2026-01-05T08:30:00Z","waiting_since":1767605400000,"paused_seconds":90.5,"last_agent_id":"a1""#,
        ));
        let full = TicketSnapshot {
            priority: Priority::High,
            team: Some("billing".into()),
            first_response_at: Some(1_767_601_800_000),
            // 09:30Z as epoch milliseconds.
            waiting_since: Some(1_767_605_400_000),
            paused: 90_500,
            last_agent_id: Some("a1".into()),
            ..base
        };
        assert_eq!(e.body, EventBody::TicketSnapshot(Box::new(full)));
        let bad = |extra: &str| parse(snapshot(extra).as_bytes(), &ParseLimits { max_message_bytes: 4096, ..LIMITS }, None).unwrap_err();
        // 08:00 to 10:00 is 7200 s: no more can have been paused.
        assert_eq!(bad(r#","paused_seconds":7201"#).reason, InvalidReason::OutOfRange);
        assert_eq!(bad(r#","waiting_since":"2026-01-05T10:00:01Z""#).detail, "`waiting_since` is after `at`");
        assert_eq!(bad(r#","first_response_at":"2026-01-05T07:59:59Z""#).detail, "`first_response_at` is before `created_at`");
        assert_eq!(bad(r#","solved_at":"yesterday""#).reason, InvalidReason::BadTimestamp);
        let no_created = r#"{"event_id":"s","ticket_id":"t","type":"ticket_snapshot","at":1,"status":"open","channel":"chat"}"#;
        assert_eq!(parse(no_created.as_bytes(), &LIMITS, None).unwrap_err().detail, "missing field `created_at`");
        let late = r#"{"event_id":"s","ticket_id":"t","type":"ticket_snapshot","at":1,"created_at":2,"status":"open","channel":"chat"}"#;
        assert_eq!(parse(late.as_bytes(), &LIMITS, None).unwrap_err().detail, "`created_at` is after `at`");
        for missing in ["status", "channel"] {
            let json = snapshot("").replace(&format!(r#","{}":"#, missing), r#","x":"#);
            assert_eq!(parse(json.as_bytes(), &LIMITS, None).unwrap_err().detail, format!("missing field `{missing}`"));
        }
    }
}
