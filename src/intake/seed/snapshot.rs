//! A vendor's ticket as a `ticket_snapshot` event: the mapping of each desk's fields, pure
//! and apart from the reading, so tests call it on fixtures directly.

use serde_json::{json, Value};

use crate::base::Millis;
use crate::config::{ChatwootIntakeConfig, ZendeskIntakeConfig};
use crate::intake::mapping::{at, required_id, required_time, Unreadable};
use crate::intake::{chatwoot, zendesk};

use super::Snapshot;

/// A Zendesk export ticket (with its sideloaded metric set) as a snapshot; `None` for a status
/// not mapped, or solved or closed without `include_solved`.
pub fn zendesk_snapshot(
    ticket: &Value,
    metric_set: Option<&Value>,
    config: &ZendeskIntakeConfig,
    read_at: Millis,
    include_solved: bool,
) -> Result<Option<Snapshot>, Unreadable> {
    const KIND: &str = "ticket";
    let id = required_id(ticket, &["id"], KIND)?;
    let created_at = required_time(ticket, &["created_at"], KIND)?;
    let updated_at = required_time(ticket, &["updated_at"], KIND)?;
    let Some(status) = zendesk::status(config, at(ticket, &["status"])) else { return Ok(None) };
    let solved = matches!(status, "solved" | "closed");
    if solved && !include_solved {
        return Ok(None);
    }
    let ticket_id = format!("{}{id}", config.ticket_prefix);
    let mut fields = json!({
        "event_id": format!("{ticket_id}-snapshot-{updated_at}"),
        "ticket_id": ticket_id,
        "type": "ticket_snapshot",
        "at": rfc3339(read_at),
        "created_at": rfc3339(created_at),
        "status": status,
        "channel": zendesk::channel(config, at(ticket, &["via", "channel"])),
        "priority": zendesk::priority(config, at(ticket, &["priority"])),
    });
    // The group's team, else the first tag's, as the webhooks set them (group changes, added tags).
    if let Some(team) = zendesk::group_team(config, at(ticket, &["group_id"])).or_else(|| zendesk::tag_team(config, at(ticket, &["tags"])))
    {
        fields["team"] = json!(team);
    }
    if let Some(metrics) = metric_set {
        let time = |name: &str| at(metrics, &[name]).and_then(Value::as_str).and_then(|t| crate::event::parse_time_text(t).ok());
        // Zendesk keeps the first reply as whole calendar minutes after creation, not as an
        // instant: the instant is that many minutes after `created_at`.
        // Kept within creation and the read (rounding, or a value out of range, cannot place it
        // outside, where the contract would refuse the whole ticket).
        if let Some(minutes) = at(metrics, &["reply_time_in_minutes", "calendar"]).and_then(Value::as_i64) {
            let reply = minutes.checked_mul(60_000).and_then(|ms| created_at.checked_add(ms)).unwrap_or(read_at);
            fields["first_response_at"] = json!(rfc3339(reply.clamp(created_at, read_at.max(created_at))));
        }
        // Waiting on the desk since the requester's last update, unless the assignee updated
        // the ticket after it (pending and on-hold tickets wait on someone else).
        if matches!(status, "new" | "open") {
            if let Some(requester) = time("requester_updated_at") {
                if time("assignee_updated_at").is_none_or(|assignee| assignee <= requester) {
                    fields["waiting_since"] = json!(rfc3339(requester));
                }
            }
        }
        if let (true, Some(solved_at)) = (solved, time("solved_at")) {
            fields["solved_at"] = json!(rfc3339(solved_at));
        }
    }
    Ok(Some(Snapshot { key: fields["ticket_id"].as_str().unwrap_or_default().to_string(), payload: fields.to_string() }))
}

/// A Chatwoot conversation (the conversations list's shape) as a snapshot; `None` for a
/// status not mapped.
pub(crate) fn chatwoot_snapshot(
    conversation: &Value,
    config: &ChatwootIntakeConfig,
    read_at: Millis,
) -> Result<Option<Snapshot>, Unreadable> {
    const KIND: &str = "conversation";
    let id = required_id(conversation, &["id"], KIND)?;
    let created_at = required_time(conversation, &["created_at"], KIND)?;
    let Some(status) = chatwoot::status(config, at(conversation, &["status"])) else { return Ok(None) };
    // Chatwoot writes an unset time as 0 (`nil.to_i`).
    let time = |name: &str| at(conversation, &[name]).and_then(Value::as_f64).filter(|s| *s > 0.0).map(|s| (s * 1000.0).round() as Millis);
    // The event id changes when the conversation does; older versions have no `updated_at`.
    let version = time("updated_at").or_else(|| time("timestamp")).unwrap_or(created_at);
    let ticket_id = format!("{}{id}", config.ticket_prefix);
    let mut fields = json!({
        "event_id": format!("{ticket_id}-snapshot-{version}"),
        "ticket_id": ticket_id,
        "type": "ticket_snapshot",
        "at": rfc3339(read_at),
        "created_at": rfc3339(created_at),
        "status": status,
        "channel": chatwoot::channel(config, at(conversation, &["meta", "channel"])),
        "priority": chatwoot::priority(config, at(conversation, &["priority"])),
    });
    if let Some(team) = chatwoot::team(config, at(conversation, &["meta", "team", "id"]), at(conversation, &["inbox_id"])) {
        fields["team"] = json!(team);
    }
    if let Some(first) = time("first_reply_created_at") {
        fields["first_response_at"] = json!(rfc3339(first));
    }
    if let Some(waiting) = time("waiting_since") {
        fields["waiting_since"] = json!(rfc3339(waiting));
    }
    Ok(Some(Snapshot { key: fields["ticket_id"].as_str().unwrap_or_default().to_string(), payload: fields.to_string() }))
}

fn rfc3339(ms: Millis) -> String {
    crate::base::rfc3339(ms)
}
