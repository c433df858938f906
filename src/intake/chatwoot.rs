//! Chatwoot account webhooks to contract v1 events. Shapes as built in chatwoot/chatwoot:
//! `WebhookListener` merges `event` into the model's `webhook_data`; a conversation's is
//! `Conversations::EventDataPresenter#push_data` (`id` = the per-account display id,
//! `channel` = the inbox's channel type, `status`, `priority`, `meta.team`, `inbox_id`,
//! `created_at` in Unix seconds, `updated_at` in fractional Unix seconds); a message's has
//! `id`, `message_type`, `private`, `sender` (with `type`), `created_at` and `conversation`.
//! `conversation_status_changed` and `conversation_updated` add `changed_attributes`:
//! `[{"attr": {"previous_value": .., "current_value": ..}}]`.

use serde_json::{json, Value};

use super::mapping::{at, id_text, kind_label, lookup, object, optional_bool, required_id, required_time, Builder, Mapped, Unreadable};
use crate::base::Millis;
use crate::config::ChatwootIntakeConfig;
use crate::event::ParseLimits;

/// The event types read, as `type` labels.
pub(crate) const KINDS: [&str; 5] =
    ["conversation_created", "conversation_status_changed", "conversation_updated", "message_created", "message_updated"];

/// Maps one webhook body; `now` dates CSAT responses, which carry no time of their own.
pub fn map(body: &[u8], config: &ChatwootIntakeConfig, limits: &ParseLimits, now: Millis) -> Result<Mapped, Unreadable> {
    let payload = Value::Object(object(body)?);
    let type_name =
        at(&payload, &["event"]).and_then(Value::as_str).ok_or_else(|| Unreadable::new("missing_field", None, "missing `event`"))?;
    let kind = kind_label(type_name, &KINDS);
    if kind == "other" {
        return Ok(Mapped { kind, events: Vec::new() });
    }
    // A message names its conversation; a conversation's payload is the conversation.
    let conversation_id: &[&str] = if kind.starts_with("message_") { &["conversation", "id"] } else { &["id"] };
    let ticket = required_id(&payload, conversation_id, kind)?;
    let ticket_id = format!("{}{ticket}", config.ticket_prefix);
    let time_path: &[&str] = match kind {
        "conversation_created" | "message_created" => &["created_at"],
        // The change was saved at `updated_at`.
        "conversation_status_changed" | "conversation_updated" => &["updated_at"],
        _ => &[],
    };
    let time = if time_path.is_empty() { now } else { required_time(&payload, time_path, kind)? };
    let mut out = Builder { limits, now, kind, ticket_id: ticket_id.clone(), at: time, events: Vec::new() };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
    let priority = |v: Option<&Value>| priority(config, v);
    let team_of = |by_team: Option<&Value>, inbox: Option<&Value>| team(config, by_team, inbox);
    match kind {
        "conversation_created" => {
            let channel = channel(config, at(&payload, &["channel"]));
            let mut fields = json!({ "type": "ticket_created", "channel": channel, "priority": priority(at(&payload, &["priority"])) });
            if let Some(team) = team_of(at(&payload, &["meta", "team", "id"]), at(&payload, &["inbox_id"])) {
                fields["team"] = json!(team);
            }
            out.push(format!("{ticket_id}-created"), fields)?;
        }
        "conversation_status_changed" => {
            if let Some(status) = status(config, at(&payload, &["status"])) {
                out.push(format!("{ticket_id}-status-{status}-{time}"), json!({ "type": "status_changed", "status": status }))?;
            }
        }
        "conversation_updated" => {
            let changed = changed_attributes(&payload);
            let mut fields = json!({ "type": "ticket_updated" });
            if let Some(current) = changed.iter().find_map(|(name, current)| (*name == "priority").then_some(*current)) {
                fields["priority"] = json!(priority(current));
            }
            // A new team without a mapping, or none, falls back to the inbox's team and else
            // clears it ("") rather than leave the old one; without mappings, teams never change.
            let mapped = !config.team_teams.is_empty() || !config.inbox_teams.is_empty();
            if let Some(current) = changed.iter().find_map(|(name, current)| (*name == "team_id").then_some(*current)).filter(|_| mapped) {
                fields["team"] = json!(team_of(current.filter(|v| !v.is_null()), at(&payload, &["inbox_id"])).unwrap_or_default());
            }
            if fields.as_object().is_some_and(|f| f.len() > 1) {
                out.push(format!("{ticket_id}-updated-{time}"), fields)?;
            }
        }
        "message_created" => {
            let sender_type = text(at(&payload, &["sender", "type"])).unwrap_or_default();
            let author = match text(at(&payload, &["message_type"])).as_deref() {
                Some("incoming") => Some("customer"),
                Some("outgoing") => Some(match sender_type.as_str() {
                    "user" => "agent",
                    "agent_bot" | "captain_assistant" => "bot",
                    // No sender: an automation, a campaign or a template.
                    _ => "system",
                }),
                // `activity` (status notes) and `template` messages are not conversation.
                _ => None,
            };
            if let Some(author) = author {
                // Chatwoot's `messages.private` defaults to false and `private?` reads a null
                // as false; versions before `private` was in the webhook send none.
                let private = optional_bool(&payload, &["private"], kind)?.unwrap_or(false);
                let message = required_id(&payload, &["id"], kind)?;
                let mut fields = json!({ "type": "message", "author": author, "public": !private });
                if let (Some(agent), "agent") = (at(&payload, &["sender", "id"]).and_then(id_text), author) {
                    fields["agent_id"] = json!(agent);
                }
                out.push(format!("{ticket_id}-message-{message}"), fields)?;
            }
        }
        _ => {
            // message_updated: only the CSAT survey's answer matters.
            let rating =
                at(&payload, &["content_attributes", "submitted_values", "csat_survey_response", "rating"]).and_then(Value::as_f64);
            let is_survey = text(at(&payload, &["content_type"])).as_deref() == Some("input_csat");
            if let (true, Some(rating)) = (is_survey, rating) {
                let message = required_id(&payload, &["id"], kind)?;
                out.push(format!("{ticket_id}-csat-{message}"), json!({ "type": "survey_response", "survey": "csat", "score": rating }))?;
            }
        }
    }
    Ok(out.finish())
}

// The value mappings, shared by the webhooks and `intake seed` (a snapshot states a
// conversation as its webhooks would have).

/// An inbox's channel type (`Channel::Email`) as a contract channel: listed in `channels`,
/// else passed on lower case; none is `unknown`.
pub fn channel(config: &ChatwootIntakeConfig, channel_type: Option<&Value>) -> String {
    let channel = channel_type.and_then(Value::as_str).unwrap_or("unknown");
    lookup(&config.channels, channel).map(String::from).unwrap_or_else(|| channel.to_ascii_lowercase())
}

/// A Chatwoot priority as a contract priority; none or unlisted is `normal`.
pub fn priority(config: &ChatwootIntakeConfig, value: Option<&Value>) -> String {
    value.and_then(Value::as_str).and_then(|p| lookup(&config.priorities, p).map(String::from)).unwrap_or_else(|| "normal".into())
}

/// A Chatwoot status as a contract status; `None` for statuses not listed.
pub fn status<'a>(config: &'a ChatwootIntakeConfig, value: Option<&Value>) -> Option<&'a str> {
    lookup(&config.statuses, value.and_then(Value::as_str)?)
}

/// The team of a conversation: its Chatwoot team in `team_teams`, else its inbox in
/// `inbox_teams`.
pub fn team(config: &ChatwootIntakeConfig, team: Option<&Value>, inbox: Option<&Value>) -> Option<String> {
    let by_team = team.and_then(id_text).and_then(|id| lookup(&config.team_teams, &id));
    by_team.or_else(|| inbox.and_then(id_text).and_then(|id| lookup(&config.inbox_teams, &id))).map(String::from)
}

/// `changed_attributes` as (name, current value) pairs.
fn changed_attributes(payload: &Value) -> Vec<(&str, Option<&Value>)> {
    let list = at(payload, &["changed_attributes"]).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .filter_map(Value::as_object)
        .flat_map(|change| change.iter().map(|(name, v)| (name.as_str(), at(v, &["current_value"]))))
        .collect()
}
