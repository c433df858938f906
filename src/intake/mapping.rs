//! What every source's mapping produces: contract v1 events, keyed by ticket id, each checked
//! by the engine's own parser before it leaves; and the JSON helpers the mappings share.

use serde_json::{json, Map, Value};

use crate::base::Millis;
use crate::event::{self, EventType, ParseLimits};

/// One contract v1 event ready to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The ticket id: the Kafka key.
    pub key: String,
    /// The event as JSON.
    pub payload: String,
    /// Its contract type (the `type` label of produced events).
    pub event_type: EventType,
}

/// A webhook read: its bounded type label and the events it carries (none: ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The vendor's event type as a bounded label value (`other` for types not handled).
    pub kind: &'static str,
    pub events: Vec<Outgoing>,
}

/// A webhook that cannot be read (answered 400 with the reason and detail).
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// The bounded reason: `not_json`, `missing_field`, `wrong_type`, `bad_value`.
    pub reason: &'static str,
    /// The vendor type label, when it was read.
    pub kind: Option<&'static str>,
    pub detail: String,
}

impl Unreadable {
    pub fn new(reason: &'static str, kind: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { reason, kind, detail: detail.into() }
    }
}

/// The vendor label for `type` among `known`, else `other`.
pub(crate) fn kind_label(type_name: &str, known: &[&'static str]) -> &'static str {
    known.iter().copied().find(|k| *k == type_name).unwrap_or("other")
}

/// Reads a JSON object body.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, Unreadable> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Unreadable::new("wrong_type", None, "the body is not a JSON object")),
        Err(e) => Err(Unreadable::new("not_json", None, format!("the body is not JSON: {e}"))),
    }
}

/// The value at `path` (object keys), if every step exists and is not null.
pub fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key)).filter(|v| !v.is_null())
}

/// An id that vendors send as a string or a number, as text.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The value at `path`, or why there is none: `missing_field` naming the first step that is
/// absent or null (`missing \`conversation\`` when there is no conversation at all, not
/// `missing \`conversation.id\``), `wrong_type` naming a step that is not an object.
pub fn required<'a>(value: &'a Value, path: &[&str], kind: &'static str) -> Result<&'a Value, Unreadable> {
    let mut here = value;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = here else {
            return Err(Unreadable::new("wrong_type", Some(kind), format!("`{}` is not an object", path[..i].join("."))));
        };
        here = match map.get(*key) {
            Some(next) if !next.is_null() => next,
            _ => return Err(Unreadable::new("missing_field", Some(kind), format!("missing `{}`", path[..=i].join(".")))),
        };
    }
    Ok(here)
}

/// A required id at `path`.
pub(crate) fn required_id(value: &Value, path: &[&str], kind: &'static str) -> Result<String, Unreadable> {
    let found = required(value, path, kind)?;
    id_text(found).ok_or_else(|| Unreadable::new("wrong_type", Some(kind), format!("`{}` is not an id", path.join("."))))
}

/// A boolean at `path`, if there is one: absent or null is `None`; anything but `true` or
/// `false` (`"yes"`, `"false"`, `0`, `1`) is `wrong_type` naming the field, never guessed.
pub(crate) fn optional_bool(value: &Value, path: &[&str], kind: &'static str) -> Result<Option<bool>, Unreadable> {
    match at(value, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Unreadable::new("wrong_type", Some(kind), format!("`{}` is not true or false", path.join(".")))),
    }
}

/// A boolean at `path` that must be there: absent or null is `missing_field`.
pub(crate) fn required_bool(value: &Value, path: &[&str], kind: &'static str) -> Result<bool, Unreadable> {
    optional_bool(value, path, kind)?.ok_or_else(|| Unreadable::new("missing_field", Some(kind), format!("missing `{}`", path.join("."))))
}

/// A required RFC 3339 time at `path`.
pub(crate) fn required_time(value: &Value, path: &[&str], kind: &'static str) -> Result<Millis, Unreadable> {
    let field = path.join(".");
    match at(value, path) {
        None => Err(Unreadable::new("missing_field", Some(kind), format!("missing `{field}`"))),
        Some(Value::String(text)) => {
            event::parse_time_text(text).map_err(|e| Unreadable::new("bad_value", Some(kind), format!("`{field}` {e}")))
        }
        Some(Value::Number(n)) => {
            seconds(n.as_f64()).ok_or_else(|| Unreadable::new("bad_value", Some(kind), format!("`{field}` is not a time")))
        }
        Some(_) => Err(Unreadable::new("wrong_type", Some(kind), format!("`{field}` is not a time"))),
    }
}

/// Unix seconds (possibly fractional) as milliseconds.
fn seconds(value: Option<f64>) -> Option<Millis> {
    value.filter(|s| s.is_finite() && *s >= 0.0).map(|s| (s * 1000.0).round() as Millis)
}

/// Looks `key` up in a mapping table, by its lower-case form too.
pub(crate) fn lookup<'a>(table: &'a std::collections::BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    table.get(key).or_else(|| table.get(&key.to_ascii_lowercase())).map(String::as_str)
}

/// Builds contract events for one webhook: common fields, then each event checked by the
/// engine's parser, so nothing leaves that `run` would reject as malformed.
pub(crate) struct Builder<'a> {
    pub limits: &'a ParseLimits,
    pub kind: &'static str,
    pub ticket_id: String,
    pub at: Millis,
    /// The intake's wall clock: an event dated more than `time.max_future_skew` after it is
    /// refused here, as `run` would refuse it.
    pub now: Millis,
    pub events: Vec<Outgoing>,
}

impl Builder<'_> {
    /// Adds an event of `type_name` with `fields` besides the common ones.
    pub fn push(&mut self, event_id: String, fields: Value) -> Result<(), Unreadable> {
        let mut object = json!({ "event_id": event_id, "ticket_id": self.ticket_id, "at": self.at });
        if let (Value::Object(common), Value::Object(rest)) = (&mut object, fields) {
            common.extend(rest);
        }
        let payload = object.to_string();
        let parsed = event::parse(payload.as_bytes(), self.limits, Some(self.now))
            .map_err(|invalid| Unreadable::new("bad_value", Some(self.kind), format!("{}: {}", invalid.reason.as_str(), invalid.detail)))?;
        self.events.push(Outgoing { key: self.ticket_id.clone(), payload, event_type: parsed.body.event_type() });
        Ok(())
    }

    pub fn finish(self) -> Mapped {
        Mapped { kind: self.kind, events: self.events }
    }
}
