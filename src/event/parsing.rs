//! Parsing and validation: the message read into [`RawEvent`] (every field of every type, as
//! sent), then checked field by field into an [`Event`] or an [`Invalid`] with its reason. Apart
//! from the contract's types so those read as the contract, this as the checks.

use std::borrow::Cow;

use serde::Deserialize;

use super::time::{parse_time, RawTime};
use super::{
    AgentStatus, Author, Event, EventBody, EventType, Invalid, InvalidReason, ParseLimits, Presence, Priority, Requester, Status, Survey,
    TicketSnapshot, MAX_AGENT_CHANNELS, MAX_ID_BYTES, MAX_LABEL_BYTES, MAX_WORK_SECONDS, OTHER_TOPIC,
};
use crate::base::Millis;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
