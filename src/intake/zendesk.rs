//! Zendesk event-subscription webhooks (`zen:event-type:ticket.*`, payload version
//! 2022-11-06) to contract v1 events.
//!
//! Every payload has `type`, `id` (the event's own id: our `event_id`, so a Zendesk retry is a
//! duplicate downstream), `time` (our `at`), `detail` (the ticket after the change: `id`,
//! `via.channel`, `priority`, `group_id`, ...) and `event` (what changed).

use serde_json::{json, Value};

use super::mapping::{
    at, id_text, kind_label, lookup, object, optional_bool, required_bool, required_id, required_time, Builder, Mapped, Unreadable,
};
use crate::base::Millis;
use crate::config::ZendeskIntakeConfig;
use crate::event::ParseLimits;

/// The ticket event types read, as `type` labels (without the `zen:event-type:` prefix).
pub(crate) const KINDS: [&str; 7] = [
    "ticket.created",
    "ticket.comment_added",
    "ticket.status_changed",
    "ticket.priority_changed",
    "ticket.group_assignment_changed",
    "ticket.agent_assignment_changed",
    "ticket.tags_changed",
];

const PREFIX: &str = "zen:event-type:";

/// Maps one webhook body.
pub fn map(body: &[u8], config: &ZendeskIntakeConfig, limits: &ParseLimits, now: Millis) -> Result<Mapped, Unreadable> {
    let payload = Value::Object(object(body)?);
    let type_name =
        at(&payload, &["type"]).and_then(Value::as_str).ok_or_else(|| Unreadable::new("missing_field", None, "missing `type`"))?;
    let kind = kind_label(type_name.strip_prefix(PREFIX).unwrap_or(type_name), &KINDS);
    if kind == "other" || kind == "ticket.agent_assignment_changed" {
        // Nothing for the KPIs: the contract has no assignee (replies name their agent).
        return Ok(Mapped { kind, events: Vec::new() });
    }
    let event_id = required_id(&payload, &["id"], kind)?;
    let ticket = required_id(&payload, &["detail", "id"], kind)?;
    let mut out = Builder {
        limits,
        now,
        kind,
        ticket_id: format!("{}{ticket}", config.ticket_prefix),
        at: required_time(&payload, &["time"], kind)?,
        events: Vec::new(),
    };
    let detail = &payload["detail"];
    let event = &payload["event"];
    let priority = |v: Option<&Value>| priority(config, v);
    let group_team = |v: Option<&Value>| group_team(config, v);
    match kind {
        "ticket.created" => {
            let channel = channel(config, at(detail, &["via", "channel"]));
            let mut fields = json!({ "type": "ticket_created", "channel": channel, "priority": priority(at(detail, &["priority"])) });
            if let Some(team) = group_team(at(detail, &["group_id"])) {
                fields["team"] = json!(team);
            }
            out.push(event_id, fields)?;
        }
        "ticket.comment_added" => {
            // Zendesk documents `is_public` and `author.is_staff` on every comment: a payload
            // without them is not Zendesk's, and neither is guessed (a private note guessed
            // public would count as a first response).
            let comment = at(event, &["comment"]).ok_or_else(|| Unreadable::new("missing_field", Some(kind), "missing `event.comment`"))?;
            let author_id = at(comment, &["author", "id"]).and_then(id_text);
            let staff = optional_bool(&payload, &["event", "comment", "author", "is_staff"], kind)?;
            let public = required_bool(&payload, &["event", "comment", "is_public"], kind)?;
            let listed = |ids: &[String]| author_id.as_ref().is_some_and(|id| ids.contains(id));
            let author = if listed(&config.system_user_ids) {
                "system"
            } else if listed(&config.bot_user_ids) {
                "bot"
            } else if staff.ok_or_else(|| Unreadable::new("missing_field", Some(kind), "missing `event.comment.author.is_staff`"))? {
                "agent"
            } else {
                "customer"
            };
            let mut fields = json!({ "type": "message", "author": author, "public": public });
            if let (Some(id), "agent") = (author_id, author) {
                fields["agent_id"] = json!(id);
            }
            out.push(event_id, fields)?;
        }
        "ticket.status_changed" => {
            let status = at(event, &["current"]).filter(|v| v.is_string()).or_else(|| at(detail, &["status"]));
            // Statuses not listed (deleted, archived, scrubbed) carry nothing for the KPIs.
            if let Some(status) = self::status(config, status) {
                out.push(event_id, json!({ "type": "status_changed", "status": status }))?;
            }
        }
        "ticket.priority_changed" => {
            out.push(event_id, json!({ "type": "ticket_updated", "priority": priority(at(event, &["current"])) }))?;
        }
        "ticket.group_assignment_changed" if !config.group_teams.is_empty() => {
            // The new group (`event.current`, else the ticket's `group_id`); one without a
            // team in `group_teams`, or none at all, clears the team rather than leave the old one.
            let current = match event.get("current") {
                Some(current) => Some(current),
                None => at(detail, &["group_id"]),
            };
            let team = group_team(current.filter(|v| !v.is_null())).unwrap_or_default();
            out.push(event_id, json!({ "type": "ticket_updated", "team": team }))?;
        }
        "ticket.group_assignment_changed" => {
            // Teams do not come from groups (`group_teams` is empty): nothing to change.
        }
        _ => {
            // ticket.tags_changed: the first added tag with a team sets it.
            if let Some(team) = tag_team(config, at(event, &["tags_added"])) {
                out.push(event_id, json!({ "type": "ticket_updated", "team": team }))?;
            }
        }
    }
    Ok(out.finish())
}

// The value mappings, shared by the webhooks and `intake seed` (a snapshot states a ticket
// as its webhooks would have).

/// A ticket's `via.channel` as a contract channel: listed in `channels`, else passed on lower
/// case; none is `unknown`.
pub fn channel(config: &ZendeskIntakeConfig, via_channel: Option<&Value>) -> String {
    let channel = via_channel.and_then(Value::as_str).map(str::to_ascii_lowercase).unwrap_or_else(|| "unknown".into());
    lookup(&config.channels, &channel).map(String::from).unwrap_or(channel)
}

/// A Zendesk priority as a contract priority: a missing or unlisted one is `normal`, as in
/// Zendesk's own SLA matching.
pub fn priority(config: &ZendeskIntakeConfig, value: Option<&Value>) -> String {
    let text = value.and_then(Value::as_str).map(str::to_ascii_lowercase);
    text.and_then(|p| lookup(&config.priorities, &p).map(String::from)).unwrap_or_else(|| "normal".into())
}

/// A Zendesk status as a contract status; `None` for statuses not listed (deleted, archived,
/// scrubbed).
pub fn status<'a>(config: &'a ZendeskIntakeConfig, value: Option<&Value>) -> Option<&'a str> {
    let text = value.and_then(Value::as_str)?.to_ascii_lowercase();
    lookup(&config.statuses, &text)
}

/// A group (id or object) as its team in `group_teams`, if listed.
pub(crate) fn group_team(config: &ZendeskIntakeConfig, value: Option<&Value>) -> Option<String> {
    value.and_then(group_id).and_then(|g| lookup(&config.group_teams, &g).map(String::from))
}

/// The team of the first tag of `tags` (an array) listed in `tag_teams`, if any.
pub(crate) fn tag_team(config: &ZendeskIntakeConfig, tags: Option<&Value>) -> Option<String> {
    let tags = tags.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    tags.iter().filter_map(Value::as_str).find_map(|tag| lookup(&config.tag_teams, tag)).map(String::from)
}

/// A group as Zendesk writes it: an id (string or number) or an object with one.
fn group_id(value: &Value) -> Option<String> {
    id_text(value).or_else(|| value.get("id").and_then(id_text))
}
