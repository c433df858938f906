//! `ticketpulse intake`: vendor-shaped fixtures (tests/fixtures/intake, each noting where its
//! shape comes from) mapped to exact contract v1 events; then end to end through the real
//! broker: signed webhooks posted to the intake, consumed by `run`, KPIs read on `/metrics`;
//! and a broker outage during intake answered 503, its retry counted once.

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use ticketpulse::config::{ChatwootAuth, Config};
use ticketpulse::event::{self, ParseLimits};
use ticketpulse::intake::mapping::{Mapped, Unreadable};
use ticketpulse::intake::{chatwoot, signature, zendesk};

const LIMITS: ParseLimits = ParseLimits {
    max_message_bytes: 65536,
    max_future_skew: 300_000,
    csat_range: (1.0, 5.0),
    ces_range: (1.0, 7.0),
    esat_range: (1.0, 5.0),
};

/// A CSAT answer's time: the receipt time (Chatwoot sends none of its own).
const NOW: i64 = 1_767_610_000_000;

/// The intake's clock for the Zendesk fixtures, dated up to 12:00:01 that day: 12:00:00Z.
const ZENDESK_NOW: i64 = 1_767_614_400_000;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/intake/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn test_config() -> Config {
    let mut config = Config::default();
    let z = &mut config.intake.zendesk;
    z.group_teams = [("8447320466430", "billing"), ("8447320466431", "tech")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    z.bot_user_ids = vec!["8447388090499".into()];
    let c = &mut config.intake.chatwoot;
    c.team_teams = [("7".to_string(), "billing".to_string())].into();
    c.inbox_teams = [("3".to_string(), "web-support".to_string())].into();
    config
}

/// The events of a mapping as JSON values, each checked to parse as contract v1 and keyed by
/// its ticket id.
fn events(mapped: &Mapped) -> Vec<Value> {
    mapped
        .events
        .iter()
        .map(|e| {
            let parsed = event::parse(e.payload.as_bytes(), &LIMITS, None).expect("a valid contract v1 event");
            assert_eq!(parsed.ticket_id, e.key, "keyed by ticket id");
            assert_eq!(parsed.body.event_type(), e.event_type);
            serde_json::from_str(&e.payload).unwrap()
        })
        .collect()
}

fn zendesk_map(body: &[u8], config: &Config) -> Result<Mapped, Unreadable> {
    zendesk::map(body, &config.intake.zendesk, &LIMITS, ZENDESK_NOW)
}

fn chatwoot_map(body: &[u8], config: &Config) -> Result<Mapped, Unreadable> {
    chatwoot::map(body, &config.intake.chatwoot, &LIMITS, NOW)
}

/// A fixture with some fields replaced (`/`-separated paths).
fn edited(path: &str, edits: &[(&str, Value)]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fixture(path)).unwrap();
    for (pointer, new) in edits {
        *value.pointer_mut(pointer).unwrap_or_else(|| panic!("{path} has no {pointer}")) = new.clone();
    }
    serde_json::to_vec(&value).unwrap()
}

#[test]
fn zendesk_ticket_created_maps_channel_priority_and_group() {
    let mapped = zendesk_map(&fixture("zendesk/ticket_created.json"), &test_config()).unwrap();
    assert_eq!(mapped.kind, "ticket.created");
    assert_eq!(
        events(&mapped),
        [json!({
            "event_id": "cbe4028c-7239-495d-b020-f22348516046", "ticket_id": "zendesk-5158", "at": 1_767_603_600_672i64,
            "type": "ticket_created", "channel": "email", "priority": "high", "team": "billing"
        })]
    );
    // No priority and an unlisted group: normal, no team; `mobile_sdk` maps to messaging,
    // an unlisted channel is passed on lower case.
    let body = edited(
        "zendesk/ticket_created.json",
        &[("/detail/priority", Value::Null), ("/detail/group_id", json!("1")), ("/detail/via/channel", json!("mobile_sdk"))],
    );
    let e = &events(&zendesk_map(&body, &test_config()).unwrap())[0];
    assert_eq!((&e["priority"], &e["channel"], e.get("team")), (&json!("normal"), &json!("messaging"), None));
    let body = edited("zendesk/ticket_created.json", &[("/detail/via/channel", json!("Closed_Ticket"))]);
    assert_eq!(events(&zendesk_map(&body, &test_config()).unwrap())[0]["channel"], json!("closed_ticket"));
}

#[test]
fn zendesk_comments_by_author_and_visibility() {
    let config = test_config();
    let comment = |author: Value, public: bool| {
        let body = edited("zendesk/comment_added.json", &[("/event/comment/author", author), ("/event/comment/is_public", json!(public))]);
        events(&zendesk_map(&body, &config).unwrap()).remove(0)
    };
    assert_eq!(
        events(&zendesk_map(&fixture("zendesk/comment_added.json"), &config).unwrap()),
        [json!({
            "event_id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52", "ticket_id": "zendesk-5158", "at": 1_767_607_200_123i64,
            "type": "message", "author": "agent", "public": true, "agent_id": "8447388090495"
        })]
    );
    let private_note = comment(json!({"id": 8447388090495u64, "is_staff": true, "name": "A"}), false);
    assert_eq!(
        (&private_note["author"], &private_note["public"], &private_note["agent_id"]),
        (&json!("agent"), &json!(false), &json!("8447388090495"))
    );
    let customer = comment(json!({"id": "8447388090494", "is_staff": false, "name": "C"}), true);
    assert_eq!((&customer["author"], customer.get("agent_id")), (&json!("customer"), None));
    let bot = comment(json!({"id": "8447388090499", "is_staff": true, "name": "AI agent"}), true);
    assert_eq!((&bot["author"], bot.get("agent_id")), (&json!("bot"), None));
    let system = comment(json!({"id": -1, "is_staff": true, "name": "Zendesk"}), true);
    assert_eq!(&system["author"], &json!("system"));
}

#[test]
fn zendesk_status_priority_group_and_tags() {
    let config = test_config();
    let status = |current: &str| {
        let body = edited("zendesk/status_changed.json", &[("/event/current", json!(current))]);
        events(&zendesk_map(&body, &config).unwrap()).first().map(|e| e["status"].clone())
    };
    let statuses: Vec<_> = ["NEW", "OPEN", "PENDING", "HOLD", "SOLVED", "CLOSED", "DELETED"].map(status).to_vec();
    let expected = [Some("new"), Some("open"), Some("pending"), Some("on_hold"), Some("solved"), Some("closed"), None];
    assert_eq!(statuses, expected.map(|s| s.map(|s| json!(s))).to_vec());
    assert_eq!(
        events(&zendesk_map(&fixture("zendesk/status_changed.json"), &config).unwrap()),
        [
            json!({"event_id": "a8b9c1d2-3e4f-5a6b-7c8d-9e0f1a2b3c4d", "ticket_id": "zendesk-5158", "at": 1_767_614_400_987i64, "type": "status_changed", "status": "solved"})
        ]
    );
    assert_eq!(
        events(&zendesk_map(&fixture("zendesk/priority_changed.json"), &config).unwrap()),
        [
            json!({"event_id": "b1c2d3e4-5f60-4718-8293-a4b5c6d7e8f9", "ticket_id": "zendesk-5158", "at": 1_767_604_200_000i64, "type": "ticket_updated", "priority": "urgent"})
        ]
    );
    let group = zendesk_map(&fixture("zendesk/group_assignment_changed.json"), &config).unwrap();
    assert_eq!((group.kind, events(&group)[0]["team"].clone()), ("ticket.group_assignment_changed", json!("tech")));
    // A move to a group without a team, or out of every group, clears the team ("" is no
    // team); the old one must not stay. Without group_teams, groups never set teams.
    let team_after = |current: Value, config: &Config| {
        let body = edited("zendesk/group_assignment_changed.json", &[("/event/current", current), ("/detail/group_id", json!("99"))]);
        events(&zendesk_map(&body, config).unwrap()).first().map(|e| e["team"].clone())
    };
    assert_eq!(team_after(json!(99), &config), Some(json!("")));
    assert_eq!(team_after(Value::Null, &config), Some(json!("")));
    assert_eq!(team_after(json!(8447320466430u64), &config), Some(json!("billing")));
    let mut no_groups = test_config();
    no_groups.intake.zendesk.group_teams.clear();
    assert_eq!(team_after(json!(99), &no_groups), None);
    // A tag change with no team mapping carries nothing; with one it sets the team.
    let tags = zendesk_map(&fixture("zendesk/tags_changed.json"), &config).unwrap();
    assert_eq!((tags.kind, tags.events.len()), ("ticket.tags_changed", 0));
    let mut mapped_tags = test_config();
    mapped_tags.intake.zendesk.tag_teams = [("refund".to_string(), "billing".to_string())].into();
    assert_eq!(events(&zendesk_map(&fixture("zendesk/tags_changed.json"), &mapped_tags).unwrap())[0]["team"], json!("billing"));
    let assignment = zendesk_map(&fixture("zendesk/agent_assignment_changed.json"), &config).unwrap();
    assert_eq!((assignment.kind, assignment.events.len()), ("ticket.agent_assignment_changed", 0));
    let other = zendesk_map(
        br#"{"type":"zen:event-type:ticket.subject_changed","id":"x","time":"2026-01-05T09:00:00Z","detail":{"id":"1"}}"#,
        &config,
    )
    .unwrap();
    assert_eq!((other.kind, other.events.len()), ("other", 0));
}

#[test]
fn zendesk_payloads_that_cannot_be_read_say_why() {
    let config = test_config();
    let reason = |body: &[u8]| zendesk_map(body, &config).unwrap_err();
    assert_eq!(reason(b"not json").reason, "not_json");
    assert_eq!(reason(b"[1]").reason, "wrong_type");
    assert_eq!(reason(br#"{"id":"x"}"#).detail, "missing `type`");
    let no_ticket = edited("zendesk/status_changed.json", &[("/detail/id", Value::Null)]);
    assert_eq!(reason(&no_ticket), Unreadable::new("missing_field", Some("ticket.status_changed"), "missing `detail.id`"));
    let bad_time = edited("zendesk/status_changed.json", &[("/time", json!("yesterday"))]);
    assert_eq!((reason(&bad_time).reason, reason(&bad_time).kind), ("bad_value", Some("ticket.status_changed")));
    // The engine's own parser guards what leaves: a 129-byte ticket id is refused here.
    let long = edited("zendesk/status_changed.json", &[("/detail/id", json!("9".repeat(121)))]);
    let refused = reason(&long);
    assert_eq!(refused.reason, "bad_value");
    assert!(refused.detail.starts_with("bad_value: `ticket_id` must be 1 to 128 bytes, got 129"), "{}", refused.detail);
    // Dated more than max_future_skew (5 min) after the intake's clock (ZENDESK_NOW, 12:00):
    // `run` would dead-letter it, so the intake refuses it; 12:05:00 is exactly the skew.
    let ahead = edited("zendesk/status_changed.json", &[("/time", json!("2026-01-05T12:05:00.001Z"))]);
    let refused = reason(&ahead);
    assert_eq!(refused.reason, "bad_value");
    assert!(refused.detail.starts_with("future_timestamp:"), "{}", refused.detail);
    let at_skew = edited("zendesk/status_changed.json", &[("/time", json!("2026-01-05T12:05:00Z"))]);
    assert_eq!(zendesk_map(&at_skew, &config).unwrap().events.len(), 1);
}

#[test]
fn chatwoot_conversations_map_channel_priority_team_and_status() {
    let config = test_config();
    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/conversation_created.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-created", "ticket_id": "chatwoot-42", "at": 1_767_603_600_000i64, "type": "ticket_created", "channel": "chat", "priority": "normal", "team": "web-support"})
        ]
    );
    let channel = |channel_type: &str| {
        let body = edited("chatwoot/conversation_created.json", &[("/channel", json!(channel_type))]);
        events(&chatwoot_map(&body, &config).unwrap())[0]["channel"].clone()
    };
    let channels = ["Channel::Email", "Channel::Whatsapp", "Channel::Api", "Channel::FacebookPage", "Channel::Fax"].map(channel);
    assert_eq!(channels, [json!("email"), json!("messaging"), json!("api"), json!("social"), json!("channel::fax")]);
    let with_team = edited(
        "chatwoot/conversation_created.json",
        &[("/meta/team", json!({"id": 7, "name": "billing"})), ("/priority", json!("medium"))],
    );
    let e = &events(&chatwoot_map(&with_team, &config).unwrap())[0];
    assert_eq!((&e["team"], &e["priority"]), (&json!("billing"), &json!("normal")));

    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/conversation_status_changed.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-status-solved-1767605400250", "ticket_id": "chatwoot-42", "at": 1_767_605_400_250i64, "type": "status_changed", "status": "solved"})
        ]
    );
    let status = |s: &str| {
        let body = edited("chatwoot/conversation_status_changed.json", &[("/status", json!(s))]);
        events(&chatwoot_map(&body, &config).unwrap()).first().map(|e| e["status"].clone())
    };
    assert_eq!(
        ["open", "pending", "snoozed", "resolved", "archived"].map(status),
        [Some(json!("open")), Some(json!("pending")), Some(json!("on_hold")), Some(json!("solved")), None]
    );
    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/conversation_updated.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-updated-1767603900500", "ticket_id": "chatwoot-42", "at": 1_767_603_900_500i64, "type": "ticket_updated", "priority": "urgent", "team": "billing"})
        ]
    );
    // Only a label changed: nothing for the KPIs.
    let labels = edited(
        "chatwoot/conversation_updated.json",
        &[("/changed_attributes", json!([{"label_list": {"previous_value": [], "current_value": ["vip"]}}]))],
    );
    let ignored = chatwoot_map(&labels, &config).unwrap();
    assert_eq!((ignored.kind, ignored.events.len()), ("conversation_updated", 0));
    // A new team without a mapping, or none: the inbox's team (inbox 3 -> web-support), else
    // no team (""); never the old team left in place.
    let team_after = |current: Value, inbox: Value| {
        let body = edited(
            "chatwoot/conversation_updated.json",
            &[("/changed_attributes", json!([{"team_id": {"previous_value": 7, "current_value": current}}])), ("/inbox_id", inbox)],
        );
        events(&chatwoot_map(&body, &config).unwrap()).first().map(|e| e["team"].clone())
    };
    assert_eq!(team_after(json!(99), json!(3)), Some(json!("web-support")));
    assert_eq!(team_after(Value::Null, json!(3)), Some(json!("web-support")));
    assert_eq!(team_after(json!(99), json!(4)), Some(json!("")));
    assert_eq!(team_after(json!(7), json!(4)), Some(json!("billing")));
}

#[test]
fn chatwoot_messages_by_type_sender_and_privacy_and_the_csat_answer() {
    let config = test_config();
    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/message_created_incoming.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-message-1001", "ticket_id": "chatwoot-42", "at": 1_767_603_610_000i64, "type": "message", "author": "customer", "public": true})
        ]
    );
    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/message_created_outgoing.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-message-1002", "ticket_id": "chatwoot-42", "at": 1_767_603_670_000i64, "type": "message", "author": "agent", "public": true, "agent_id": "9"})
        ]
    );
    let outgoing = |sender: Value, private: bool, message_type: &str| {
        let body = edited(
            "chatwoot/message_created_outgoing.json",
            &[("/sender", sender), ("/private", json!(private)), ("/message_type", json!(message_type))],
        );
        events(&chatwoot_map(&body, &config).unwrap()).first().map(|e| (e["author"].clone(), e["public"].clone()))
    };
    assert_eq!(outgoing(json!({"id": 9, "type": "user"}), true, "outgoing"), Some((json!("agent"), json!(false))), "a private note");
    assert_eq!(outgoing(json!({"id": 2, "name": "Captain", "type": "agent_bot"}), false, "outgoing"), Some((json!("bot"), json!(true))));
    assert_eq!(outgoing(Value::Null, false, "outgoing"), Some((json!("system"), json!(true))), "an automation or campaign");
    assert_eq!(outgoing(Value::Null, false, "activity"), None, "status notes are not conversation");
    assert_eq!(outgoing(Value::Null, false, "template"), None);

    assert_eq!(
        events(&chatwoot_map(&fixture("chatwoot/message_updated_csat.json"), &config).unwrap()),
        [
            json!({"event_id": "chatwoot-42-csat-1003", "ticket_id": "chatwoot-42", "at": NOW, "type": "survey_response", "survey": "csat", "score": 4.0})
        ]
    );
    let unanswered = edited("chatwoot/message_updated_csat.json", &[("/content_attributes", json!({}))]);
    assert_eq!(chatwoot_map(&unanswered, &config).unwrap().events, []);
    let other = chatwoot_map(br#"{"event":"contact_created","id":5}"#, &config).unwrap();
    assert_eq!((other.kind, other.events.len()), ("other", 0));
}

/// A message without its conversation names the missing field (was ``missing `id` ``).
#[test]
fn a_chatwoot_message_without_its_conversation_names_what_is_missing() {
    let config = test_config();
    let refused = |conversation: Value| {
        let body = edited("chatwoot/message_created_incoming.json", &[("/conversation", conversation)]);
        chatwoot_map(&body, &config).unwrap_err()
    };
    let unreadable = |reason, detail: &str| Unreadable::new(reason, Some("message_created"), detail);
    assert_eq!(refused(Value::Null), unreadable("missing_field", "missing `conversation`"));
    assert_eq!(refused(json!({"status": "open"})), unreadable("missing_field", "missing `conversation.id`"));
    assert_eq!(refused(json!("42")), unreadable("wrong_type", "`conversation` is not an object"));
    assert_eq!(refused(json!({"id": true})), unreadable("wrong_type", "`conversation.id` is not an id"));
    let mut without = serde_json::from_slice::<Value>(&fixture("chatwoot/message_created_incoming.json")).unwrap();
    without.as_object_mut().unwrap().remove("conversation");
    assert_eq!(
        chatwoot_map(&serde_json::to_vec(&without).unwrap(), &config).unwrap_err(),
        unreadable("missing_field", "missing `conversation`")
    );
}

/// A fixture with the field at `pointer` removed.
fn without(path: &str, pointer: &str) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fixture(path)).unwrap();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value.pointer_mut(parent).and_then(Value::as_object_mut).unwrap().remove(key).unwrap_or_else(|| panic!("{path} has no {pointer}"));
    serde_json::to_vec(&value).unwrap()
}

/// `is_public` and `is_staff` are booleans Zendesk documents on every comment: anything else is
/// refused naming the field, and so is their absence, rather than a guess that turns a private
/// note into a public reply or an agent into a customer.
#[test]
fn zendesk_comment_booleans_are_refused_when_not_booleans_or_missing() {
    let config = test_config();
    let comment = "zendesk/comment_added.json";
    let result = |body: Vec<u8>| zendesk_map(&body, &config).map(|m| events(&m).remove(0)).map_err(|e| (e.reason, e.detail));
    let wrong_public = Err(("wrong_type", "`event.comment.is_public` is not true or false".to_string()));
    for value in [json!("yes"), json!("no"), json!("false"), json!(0), json!(1), json!([]), json!({})] {
        assert_eq!(result(edited(comment, &[("/event/comment/is_public", value.clone())])), wrong_public, "{value}");
    }
    let missing_public = Err(("missing_field", "missing `event.comment.is_public`".to_string()));
    assert_eq!(result(edited(comment, &[("/event/comment/is_public", Value::Null)])), missing_public);
    assert_eq!(result(without(comment, "/event/comment/is_public")), missing_public);
    let public = |body| result(body).map(|e| (e["author"].clone(), e["public"].clone()));
    assert_eq!(public(edited(comment, &[("/event/comment/is_public", json!(false))])), Ok((json!("agent"), json!(false))));

    let wrong_staff = Err(("wrong_type", "`event.comment.author.is_staff` is not true or false".to_string()));
    for value in [json!("yes"), json!("true"), json!(1), json!(0)] {
        assert_eq!(result(edited(comment, &[("/event/comment/author/is_staff", value.clone())])), wrong_staff, "{value}");
    }
    let missing_staff = Err(("missing_field", "missing `event.comment.author.is_staff`".to_string()));
    assert_eq!(result(edited(comment, &[("/event/comment/author/is_staff", Value::Null)])), missing_staff);
    assert_eq!(result(without(comment, "/event/comment/author/is_staff")), missing_staff);
    assert_eq!(public(edited(comment, &[("/event/comment/author/is_staff", json!(false))])), Ok((json!("customer"), json!(true))));
    // An author listed as a bot (8447388090499) or the system (-1) needs no `is_staff`, but
    // one that is there must still be a boolean.
    let listed = |id: Value, staff: Option<Value>| {
        let mut author = json!({"id": id, "name": "n"});
        if let Some(staff) = staff {
            author["is_staff"] = staff;
        }
        result(edited(comment, &[("/event/comment/author", author)])).map(|e| e["author"].clone())
    };
    assert_eq!(listed(json!("8447388090499"), None), Ok(json!("bot")));
    assert_eq!(listed(json!(-1), None), Ok(json!("system")));
    assert_eq!(
        listed(json!(-1), Some(json!("yes"))),
        Err(("wrong_type", "`event.comment.author.is_staff` is not true or false".to_string()))
    );
}

/// Chatwoot's `private` is a boolean; its model defaults it to false and reads a null as
/// false, and versions before it was in the webhook send none: absent or null is public.
#[test]
fn chatwoot_private_is_refused_when_not_a_boolean_and_absent_means_public() {
    let config = test_config();
    let message = "chatwoot/message_created_outgoing.json";
    let result =
        |body: Vec<u8>| chatwoot_map(&body, &config).map(|m| events(&m).remove(0)["public"].clone()).map_err(|e| (e.reason, e.detail));
    for value in [json!("yes"), json!("no"), json!("false"), json!(0), json!(1)] {
        assert_eq!(
            result(edited(message, &[("/private", value.clone())])),
            Err(("wrong_type", "`private` is not true or false".to_string())),
            "{value}"
        );
    }
    assert_eq!(result(edited(message, &[("/private", json!(true))])), Ok(json!(false)));
    assert_eq!(result(edited(message, &[("/private", json!(false))])), Ok(json!(true)));
    assert_eq!(result(edited(message, &[("/private", Value::Null)])), Ok(json!(true)));
    assert_eq!(result(without(message, "/private")), Ok(json!(true)));
}

#[test]
fn intake_config_is_validated_and_secrets_never_shown() {
    let mut config = Config::default();
    config.intake.zendesk.enabled = true;
    config.intake.zendesk.signing_secret = "short".into();
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "intake.zendesk.signing_secret: must be at least 16 bytes when the source is enabled"
    );
    config.intake.zendesk.signing_secret = "a-long-enough-signing-secret".into();
    config.intake.chatwoot.statuses.insert("snoozed".into(), "sleeping".into());
    assert_eq!(config.validate().unwrap_err().to_string(), "intake.chatwoot.statuses.snoozed: \"sleeping\" is not a contract status");
    config.intake.chatwoot.statuses.insert("snoozed".into(), "on_hold".into());
    config.intake.produce_timeout = Duration::from_secs(10);
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "intake.produce_timeout: must be at least 100ms and shorter than http.request_timeout"
    );
    config.intake.produce_timeout = Duration::from_secs(5);
    config.intake.chatwoot.ticket_prefix = "zendesk-".into();
    assert_eq!(config.validate().unwrap_err().to_string(), "intake.chatwoot.ticket_prefix: must differ from intake.zendesk.ticket_prefix");
    config.intake.chatwoot.ticket_prefix = "c".repeat(65);
    assert_eq!(config.validate().unwrap_err().to_string(), "intake.chatwoot.ticket_prefix: must be at most 64 bytes");
    config.intake.chatwoot.ticket_prefix = "c".repeat(64);
    config.intake.chatwoot.secret = "chatwoot-secret-value".into();
    config.intake.chatwoot.auth = ChatwootAuth::Token;
    assert!(config.validate().is_ok());
    let shown = format!("{config:?}");
    assert!(!shown.contains("a-long-enough-signing-secret") && !shown.contains("chatwoot-secret-value"), "{shown}");
    assert!(shown.contains("signing_secret: \"[redacted]\"") && shown.contains("secret: \"[redacted]\""), "{shown}");
}

// End to end through the real broker.

use common::{config, create_topics, http_get, http_post, parse_exposition, scrape_until, total_events, value, Broker};

const ZENDESK_SECRET: &str = "zendesk-signing-secret-for-tests";
const CHATWOOT_SECRET: &str = "chatwoot-webhook-secret-for-tests";

fn intake_config(bootstrap: &str, topic: &str) -> Config {
    let mut config = config(bootstrap, topic);
    let i = &mut config.intake;
    i.listen = "127.0.0.1:0".parse().unwrap();
    i.topic = topic.to_string();
    i.zendesk.enabled = true;
    i.zendesk.signing_secret = ZENDESK_SECRET.into();
    i.chatwoot.enabled = true;
    i.chatwoot.secret = CHATWOOT_SECRET.into();
    config
}

/// Posts `body` to `/webhooks/{source}`, signed as the help desk signs it `age` ago.
async fn post_signed(addr: std::net::SocketAddr, source: &str, body: Vec<u8>, age: Duration) -> (u16, String) {
    let signed_at = jiff::Timestamp::now() - jiff::SignedDuration::try_from(age).unwrap();
    let headers = match source {
        "zendesk" => {
            let ts = signed_at.to_string();
            vec![
                (signature::ZENDESK_SIGNATURE.to_string(), signature::sign_zendesk(ZENDESK_SECRET, &ts, &body)),
                (signature::ZENDESK_TIMESTAMP.to_string(), ts),
            ]
        }
        _ => {
            let ts = signed_at.as_second().to_string();
            vec![
                (signature::CHATWOOT_SIGNATURE.to_string(), signature::sign_chatwoot(CHATWOOT_SECRET, &ts, &body)),
                (signature::CHATWOOT_TIMESTAMP.to_string(), ts),
            ]
        }
    };
    post(addr, source, headers, body).await
}

async fn post(addr: std::net::SocketAddr, source: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> (u16, String) {
    let path = format!("/webhooks/{source}");
    tokio::task::spawn_blocking(move || http_post(addr, &path, &headers, &body)).await.unwrap().unwrap()
}

/// 2026-01-05 at `hh:mm:ss` UTC.
fn t(hms: &str) -> String {
    format!("2026-01-05T{hms}Z")
}

fn epoch(hms: &str) -> i64 {
    event::parse_time_text(&t(hms)).unwrap() / 1000
}

/// Zendesk webhooks of the scripted day.
fn zd_created(ticket: &str, at: &str, channel: &str, priority: &str) -> Vec<u8> {
    edited(
        "zendesk/ticket_created.json",
        &[
            ("/id", json!(format!("zd-{ticket}-created"))),
            ("/time", json!(t(at))),
            ("/detail/id", json!(ticket)),
            ("/detail/via/channel", json!(channel)),
            ("/detail/priority", json!(priority)),
        ],
    )
}

fn zd_comment(ticket: &str, id: &str, at: &str, staff: bool, public: bool) -> Vec<u8> {
    let author = if staff {
        json!({"id": "77", "is_staff": true, "name": "Agent"})
    } else {
        json!({"id": "55", "is_staff": false, "name": "Customer"})
    };
    edited(
        "zendesk/comment_added.json",
        &[
            ("/id", json!(id)),
            ("/time", json!(t(at))),
            ("/detail/id", json!(ticket)),
            ("/event/comment/author", author),
            ("/event/comment/is_public", json!(public)),
        ],
    )
}

fn zd_status(ticket: &str, at: &str, status: &str) -> Vec<u8> {
    edited(
        "zendesk/status_changed.json",
        &[
            ("/id", json!(format!("zd-{ticket}-{status}"))),
            ("/time", json!(t(at))),
            ("/detail/id", json!(ticket)),
            ("/event/current", json!(status)),
        ],
    )
}

/// Chatwoot webhooks of the scripted day.
fn cw_created(conversation: u64, at: &str, channel: &str, priority: Value) -> Vec<u8> {
    edited(
        "chatwoot/conversation_created.json",
        &[("/id", json!(conversation)), ("/created_at", json!(epoch(at))), ("/channel", json!(channel)), ("/priority", priority)],
    )
}

fn cw_message(conversation: u64, id: u64, at: &str, message_type: &str, sender: Value) -> Vec<u8> {
    edited(
        "chatwoot/message_created_outgoing.json",
        &[
            ("/id", json!(id)),
            ("/conversation/id", json!(conversation)),
            ("/created_at", json!(format!("{}.000Z", &t(at)[..19]))),
            ("/message_type", json!(message_type)),
            ("/sender", sender),
        ],
    )
}

fn cw_resolved(conversation: u64, at: &str) -> Vec<u8> {
    edited("chatwoot/conversation_status_changed.json", &[("/id", json!(conversation)), ("/updated_at", json!(epoch(at) as f64))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_day_of_signed_webhooks_gives_the_kpis_on_metrics() {
    let broker = Broker::start();
    let topic = "intake-day";
    create_topics(&broker.bootstrap, &[(topic, 1), ("intake-day-dlq", 1)]).await;
    let config = intake_config(&broker.bootstrap, topic);
    let intake = ticketpulse::intake::start(config.clone()).await.unwrap();
    let addr = intake.addr;
    let agent = json!({"id": 9, "name": "Radu", "type": "user"});
    let contact = json!({"id": 204, "name": "Ana", "type": "contact"});
    let bot = json!({"id": 2, "name": "Captain", "type": "agent_bot"});
    // (source, body, expected answer), in the day's order.
    let day: Vec<(&str, Vec<u8>, &str)> = vec![
        // Z101, email, high: first response 1 h, solved after 3 h.
        ("zendesk", zd_created("101", "09:00:00", "email", "HIGH"), "produced 1 event(s)\n"),
        ("zendesk", zd_comment("101", "zd-101-c1", "09:00:00", false, true), "produced 1 event(s)\n"),
        ("chatwoot", cw_created(42, "09:00:00", "Channel::WebWidget", Value::Null), "produced 1 event(s)\n"),
        ("chatwoot", cw_message(42, 1001, "09:00:10", "incoming", contact.clone()), "produced 1 event(s)\n"),
        ("chatwoot", cw_message(42, 1002, "09:00:20", "outgoing", bot), "produced 1 event(s)\n"),
        ("chatwoot", cw_message(42, 1003, "09:01:10", "outgoing", agent.clone()), "produced 1 event(s)\n"),
        (
            "zendesk",
            edited("zendesk/tags_changed.json", &[("/detail/id", json!("101")), ("/time", json!(t("09:05:00")))]),
            "ignored: nothing for the KPIs\n",
        ),
        ("zendesk", edited("zendesk/agent_assignment_changed.json", &[("/detail/id", json!("101"))]), "ignored: nothing for the KPIs\n"),
        ("chatwoot", cw_resolved(42, "09:30:00"), "produced 1 event(s)\n"),
        ("zendesk", zd_created("102", "09:30:00", "web", "NORMAL"), "produced 1 event(s)\n"),
        ("zendesk", zd_comment("102", "zd-102-note", "09:45:00", true, false), "produced 1 event(s)\n"),
        ("zendesk", zd_comment("101", "zd-101-reply", "10:00:00", true, true), "produced 1 event(s)\n"),
        // Zendesk retries a delivery: the same event id, counted once downstream.
        ("zendesk", zd_comment("101", "zd-101-reply", "10:00:00", true, true), "produced 1 event(s)\n"),
        ("zendesk", zd_created("103", "10:00:00", "email", "URGENT"), "produced 1 event(s)\n"),
        ("zendesk", zd_comment("103", "zd-103-reply", "11:00:00", true, true), "produced 1 event(s)\n"),
        ("zendesk", zd_comment("102", "zd-102-reply", "11:30:00", true, true), "produced 1 event(s)\n"),
        ("zendesk", zd_status("101", "12:00:00", "SOLVED"), "produced 1 event(s)\n"),
        ("chatwoot", cw_created(43, "12:00:00", "Channel::Whatsapp", json!("high")), "produced 1 event(s)\n"),
        ("chatwoot", cw_message(43, 2001, "12:00:30", "incoming", contact), "produced 1 event(s)\n"),
        ("chatwoot", cw_message(43, 2002, "12:30:00", "outgoing", agent), "produced 1 event(s)\n"),
        ("zendesk", zd_status("102", "13:30:00", "SOLVED"), "produced 1 event(s)\n"),
        ("zendesk", zd_status("103", "14:00:00", "SOLVED"), "produced 1 event(s)\n"),
        ("chatwoot", cw_resolved(43, "15:00:00"), "produced 1 event(s)\n"),
        // Moves the watermark past every event above.
        ("chatwoot", cw_created(44, "16:00:00", "Channel::Email", Value::Null), "produced 1 event(s)\n"),
    ];
    for (source, body, expected) in day {
        assert_eq!(post_signed(addr, source, body, Duration::ZERO).await, (200, expected.to_string()), "{source}");
    }
    // Refused: a wrong secret, no signature, a stale one, too large, unreadable.
    let body = zd_created("999", "16:00:00", "email", "LOW");
    let ts = jiff::Timestamp::now().to_string();
    let forged = vec![
        (signature::ZENDESK_SIGNATURE.to_string(), signature::sign_zendesk("not-the-signing-secret", &ts, &body)),
        (signature::ZENDESK_TIMESTAMP.to_string(), ts),
    ];
    assert_eq!(post(addr, "zendesk", forged, body.clone()).await, (401, "signature or token does not match\n".into()));
    assert_eq!(post(addr, "zendesk", vec![], body.clone()).await, (401, "missing signature, timestamp or token\n".into()));
    assert_eq!(
        post_signed(addr, "zendesk", body, Duration::from_secs(301)).await,
        (401, "signature timestamp outside intake.max_signature_age\n".into())
    );
    let huge = vec![b' '; config.intake.max_body_bytes + 1];
    assert_eq!(post_signed(addr, "chatwoot", huge, Duration::ZERO).await.0, 413);
    let (status, text) = post_signed(addr, "chatwoot", b"{\"event\":".to_vec(), Duration::ZERO).await;
    assert_eq!(status, 400);
    assert!(text.starts_with("not_json: the body is not JSON: EOF while parsing"), "{text}");

    // The intake's own counters.
    let (status, text) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(common::promtool_check_metrics(&text), "");
    let m = parse_exposition(&text);
    let webhooks =
        |source, kind, result| value(&m, "ticketpulse_intake_webhooks_total", &[("result", result), ("source", source), ("type", kind)]);
    assert_eq!(webhooks("zendesk", "ticket.created", "produced"), 3.0);
    assert_eq!(webhooks("zendesk", "ticket.comment_added", "produced"), 6.0);
    assert_eq!(webhooks("zendesk", "ticket.status_changed", "produced"), 3.0);
    assert_eq!(webhooks("zendesk", "ticket.tags_changed", "ignored"), 1.0);
    assert_eq!(webhooks("zendesk", "ticket.agent_assignment_changed", "ignored"), 1.0);
    assert_eq!(webhooks("zendesk", "unknown", "unauthorized"), 2.0);
    assert_eq!(webhooks("zendesk", "unknown", "stale"), 1.0);
    assert_eq!(webhooks("chatwoot", "conversation_created", "produced"), 3.0);
    assert_eq!(webhooks("chatwoot", "message_created", "produced"), 5.0);
    assert_eq!(webhooks("chatwoot", "conversation_status_changed", "produced"), 2.0);
    assert_eq!(webhooks("chatwoot", "unknown", "too_large"), 1.0);
    assert_eq!(webhooks("chatwoot", "unknown", "unreadable"), 1.0);
    let produced = |source, kind| value(&m, "ticketpulse_intake_events_produced_total", &[("source", source), ("type", kind)]);
    assert_eq!(
        [produced("zendesk", "ticket_created"), produced("zendesk", "message"), produced("zendesk", "status_changed")],
        [3.0, 6.0, 3.0]
    );
    assert_eq!(
        [produced("chatwoot", "ticket_created"), produced("chatwoot", "message"), produced("chatwoot", "status_changed")],
        [3.0, 5.0, 2.0]
    );

    // `run` consumes the topic: 22 messages, one of them Zendesk's retry.
    let running = ticketpulse::service::start(config).await.unwrap();
    let text = scrape_until(running.http_addr, |s| total_events(s) == 22.0).await;
    let s = parse_exposition(&text);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "duplicate")]), 1.0);
    let d = |c, p| [("window", "24h"), ("channel", c), ("priority", p)];
    // Conversation 44 (16:00) waits in the reorder buffer: the watermark is 15:59:50.
    let created: Vec<f64> = [("email", "high"), ("web", "normal"), ("email", "urgent"), ("chat", "normal"), ("messaging", "high")]
        .iter()
        .map(|(c, p)| value(&s, "ticketpulse_tickets_created", &d(c, p)))
        .collect();
    assert_eq!(created, [1.0; 5]);
    assert_eq!(value(&s, "ticketpulse_buffered_events", &[("topic", topic), ("partition", "0")]), 1.0);
    // First response: the bot's message and the private note do not count.
    let frt = |c, p| value(&s, "ticketpulse_first_response_time_seconds_sum", &d(c, p));
    assert_eq!(
        [frt("email", "high"), frt("web", "normal"), frt("email", "urgent"), frt("chat", "normal"), frt("messaging", "high")],
        [3600.0, 7200.0, 3600.0, 70.0, 1800.0]
    );
    let resolution = |c, p| value(&s, "ticketpulse_first_resolution_time_seconds_sum", &d(c, p));
    assert_eq!(
        [
            resolution("email", "high"),
            resolution("web", "normal"),
            resolution("email", "urgent"),
            resolution("chat", "normal"),
            resolution("messaging", "high")
        ],
        [10800.0, 14400.0, 14400.0, 1800.0, 10800.0]
    );
    let sla = |name, c, p: &str, target| {
        value(&s, name, &[("window", "24h"), ("channel", c), ("priority", p), ("policy", p), ("target", target)])
    };
    // Urgent: first response due 10:30, answered 11:00.
    assert_eq!(sla("ticketpulse_sla_breached", "email", "urgent", "first_response"), 1.0);
    assert_eq!(sla("ticketpulse_sla_met", "email", "urgent", "resolution"), 1.0);
    assert_eq!(sla("ticketpulse_sla_met", "email", "high", "first_response"), 1.0);
    assert_eq!(sla("ticketpulse_sla_met", "chat", "normal", "first_response"), 1.0);
    assert_eq!(sla("ticketpulse_sla_met", "messaging", "high", "resolution"), 1.0);
    let messages = |c, p, direction| {
        value(&s, "ticketpulse_messages", &[("window", "24h"), ("channel", c), ("priority", p), ("direction", direction)])
    };
    assert_eq!([messages("chat", "normal", "inbound"), messages("chat", "normal", "outbound")], [1.0, 1.0]);
    assert_eq!(messages("web", "normal", "outbound"), 1.0, "the private note is not a public message");
    running.shutdown().await.unwrap();
    intake.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_answers_503_and_the_retry_after_recovery_counts_once() {
    let (broker, mut proxy) = Broker::start_behind_proxy();
    let topic = "intake-outage";
    create_topics(&broker.bootstrap, &[(topic, 1), ("intake-outage-dlq", 1)]).await;
    let mut config = intake_config(&broker.bootstrap, topic);
    config.intake.produce_timeout = Duration::from_secs(2);
    let intake = ticketpulse::intake::start(config.clone()).await.unwrap();
    let addr = intake.addr;
    let ok = (200, "produced 1 event(s)\n".to_string());
    assert_eq!(post_signed(addr, "zendesk", zd_created("201", "09:00:00", "email", "NORMAL"), Duration::ZERO).await, ok);

    proxy.stop();
    let reply = zd_comment("201", "zd-201-reply", "09:20:00", true, true);
    let (status, text) = post_signed(addr, "zendesk", reply.clone(), Duration::ZERO).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.ends_with("; retry later\n"), "{text}");
    let mut unavailable = 1.0;
    proxy.start();
    // Zendesk retries until it gets a 2xx; librdkafka reconnects meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let answer = post_signed(addr, "zendesk", reply.clone(), Duration::ZERO).await;
        if answer == ok {
            break;
        }
        assert_eq!(answer.0, 503, "{answer:?}");
        unavailable += 1.0;
        assert!(std::time::Instant::now() < deadline, "no 2xx within 60 s of the broker's return");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(post_signed(addr, "zendesk", zd_created("202", "10:00:00", "web", "LOW"), Duration::ZERO).await, ok);

    let (_, text) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.unwrap().unwrap();
    let m = parse_exposition(&text);
    let webhooks =
        |kind, result| value(&m, "ticketpulse_intake_webhooks_total", &[("result", result), ("source", "zendesk"), ("type", kind)]);
    assert_eq!(webhooks("ticket.comment_added", "unavailable"), unavailable);
    assert_eq!(webhooks("ticket.comment_added", "produced"), 1.0);
    assert_eq!(webhooks("ticket.created", "produced"), 2.0);

    // Whatever reached the topic during the outage, the reply counts once.
    let running = ticketpulse::service::start(config).await.unwrap();
    // Ticket 202 (10:00) moves the watermark past the reply and waits in the reorder buffer.
    let text = scrape_until(running.http_addr, |s| {
        s.get("ticketpulse_buffered_events{topic=\"intake-outage\",partition=\"0\"}") == Some(&1.0)
            && s.get("ticketpulse_first_response_time_seconds_count{window=\"24h\",channel=\"email\",priority=\"normal\"}").is_some()
    })
    .await;
    let s = parse_exposition(&text);
    let email = [("window", "24h"), ("channel", "email"), ("priority", "normal")];
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email), 1.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_count", &email), 1.0);
    assert_eq!(value(&s, "ticketpulse_first_response_time_seconds_sum", &email), 1200.0);
    assert_eq!(
        value(&s, "ticketpulse_messages", &[("window", "24h"), ("channel", "email"), ("priority", "normal"), ("direction", "outbound")]),
        1.0
    );
    running.shutdown().await.unwrap();
    intake.shutdown().await.unwrap();
}

// The intake's port under unauthenticated load: refusals before the body, body deadlines,
// eviction, the security headers and its own connection counters. The broker is needed
// only where a webhook must be produced.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on any single wait; never reached unless something is broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// A loopback port nothing listens on: a broker that never answers.
fn no_broker() -> String {
    format!("127.0.0.1:{}", common::free_port())
}

/// Sends `request` on a fresh connection and reads the whole answer: (status, head in lower
/// case, body). Status 0 if the connection was closed without one.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("answered or closed within the upper bound");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// A webhook's request head (HTTP/1.0: one request per connection) declaring `length` bytes.
fn webhook_head(source: &str, length: u64, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("POST /webhooks/{source} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A Zendesk signature of the right shape (base64 of 32 bytes) that matches nothing.
const FORGED_ZENDESK: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

async fn intake_metrics(addr: std::net::SocketAddr) -> std::collections::BTreeMap<String, f64> {
    let (status, text) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics")).await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert_eq!(common::promtool_check_metrics(&text), "");
    parse_exposition(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_that_would_be_refused_are_answered_before_their_body_is_sent() {
    let mut config = intake_config(&no_broker(), "unused");
    config.http.header_read_timeout = Duration::from_secs(1);
    let intake = ticketpulse::intake::start(config).await.unwrap();
    let addr = intake.addr;
    let now = jiff::Timestamp::now().to_string();
    let seconds = jiff::Timestamp::now().as_second().to_string();
    // Each request is only a head declaring a body that never comes: every answer below is
    // given without waiting for it (the body deadline, 5 s, would otherwise close it unanswered).
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("zendesk", webhook_head("zendesk", 999_999_999_999, &[]), 413, "body larger than intake.max_body_bytes (262144)\n"),
        ("zendesk", webhook_head("zendesk", 262_145, &[]), 413, "body larger than intake.max_body_bytes (262144)\n"),
        ("zendesk", webhook_head("zendesk", 100, &[]), 401, "missing signature, timestamp or token\n"),
        (
            "zendesk",
            webhook_head("zendesk", 100, &[(signature::ZENDESK_SIGNATURE, "not base64!"), (signature::ZENDESK_TIMESTAMP, &now)]),
            401,
            "signature or token does not match\n",
        ),
        (
            "zendesk",
            webhook_head("zendesk", 100, &[(signature::ZENDESK_SIGNATURE, "AAAA"), (signature::ZENDESK_TIMESTAMP, &now)]),
            401,
            "signature or token does not match\n",
        ),
        (
            "zendesk",
            webhook_head(
                "zendesk",
                100,
                &[(signature::ZENDESK_SIGNATURE, FORGED_ZENDESK), (signature::ZENDESK_TIMESTAMP, "1767607200000")],
            ),
            401,
            "signature timestamp is not RFC 3339 (Zendesk) or Unix seconds (Chatwoot)\n",
        ),
        (
            "chatwoot",
            webhook_head("chatwoot", 100, &[(signature::CHATWOOT_SIGNATURE, "sha256=zz"), (signature::CHATWOOT_TIMESTAMP, &seconds)]),
            401,
            "signature or token does not match\n",
        ),
        (
            "chatwoot",
            webhook_head(
                "chatwoot",
                100,
                &[
                    (signature::CHATWOOT_SIGNATURE, &format!("sha256={}", "0".repeat(64))),
                    (signature::CHATWOOT_TIMESTAMP, "2026-01-05T10:00:00Z"),
                ],
            ),
            401,
            "signature timestamp is not RFC 3339 (Zendesk) or Unix seconds (Chatwoot)\n",
        ),
    ];
    for (i, (_, request, status, text)) in cases.iter().enumerate() {
        let (got, head, body) = exchange(addr, request).await;
        assert_eq!((got, body.as_str()), (*status, *text), "case {i}");
        assert!(
            head.contains("\r\nx-content-type-options: nosniff\r\n") && head.contains("\r\nreferrer-policy: no-referrer\r\n"),
            "case {i}: {head}"
        );
        assert!(
            head.contains("\r\ncontent-security-policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'\r\n"),
            "case {i}: {head}"
        );
    }
    // A correctly signed webhook whose timestamp is in epoch milliseconds: a timestamp error,
    // not "does not match".
    let body = zd_created("1", "09:00:00", "email", "LOW");
    let millis = jiff::Timestamp::now().as_millisecond().to_string();
    let signed = vec![
        (signature::ZENDESK_SIGNATURE.to_string(), signature::sign_zendesk(ZENDESK_SECRET, &millis, &body)),
        (signature::ZENDESK_TIMESTAMP.to_string(), millis),
    ];
    assert_eq!(
        post(addr, "zendesk", signed, body).await,
        (401, "signature timestamp is not RFC 3339 (Zendesk) or Unix seconds (Chatwoot)\n".into())
    );
    // The liveness probe carries the headers too.
    let (status, head, _) = exchange(addr, b"GET /healthz/live HTTP/1.0\r\n\r\n").await;
    assert!(status == 200 && head.contains("\r\nx-content-type-options: nosniff\r\n"), "{head}");

    // Unfinished headers: closed after the 1 s header timeout, counted on the intake's own
    // /metrics as the main port counts them.
    let mut partial = TcpStream::connect(addr).await.unwrap();
    partial.write_all(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(tokio::time::timeout(PATIENCE, partial.read(&mut byte)).await.unwrap().unwrap_or(0), 0);
    let m = intake_metrics(addr).await;
    let dropped = |reason| value(&m, "ticketpulse_http_connections_dropped_total", &[("reason", reason)]);
    assert_eq!(
        ["refused", "evicted", "header_timeout", "body_timeout", "request_timeout", "shutdown"].map(dropped),
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
    let webhooks =
        |source, result| value(&m, "ticketpulse_intake_webhooks_total", &[("result", result), ("source", source), ("type", "unknown")]);
    // Cases 0-1 too large; 2-5 and the epoch-millisecond one unauthorized; 6-7 Chatwoot's.
    assert_eq!(
        [webhooks("zendesk", "too_large"), webhooks("zendesk", "unauthorized"), webhooks("chatwoot", "unauthorized")],
        [2.0, 5.0, 2.0]
    );
    intake.shutdown().await.unwrap();

    // A shared token is compared whole before the body is read.
    let mut config = intake_config(&no_broker(), "unused");
    config.intake.chatwoot.auth = ChatwootAuth::Token;
    let intake = ticketpulse::intake::start(config).await.unwrap();
    let wrong = webhook_head("chatwoot", 100, &[(signature::TOKEN_HEADER, "not-the-shared-token")]);
    assert_eq!(exchange(intake.addr, &wrong).await.0, 401);
    let (status, _, body) = exchange(intake.addr, b"POST /webhooks/chatwoot?token=nope HTTP/1.0\r\nContent-Length: 100\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (401, "signature or token does not match\n"));
    intake.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_its_client_abandons_is_counted_as_aborted_not_too_large() {
    let intake = ticketpulse::intake::start(intake_config(&no_broker(), "unused")).await.unwrap();
    let addr = intake.addr;
    let now = jiff::Timestamp::now().to_string();
    // Three clients declare 100 bytes, send 6 and close.
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request =
            webhook_head("zendesk", 100, &[(signature::ZENDESK_SIGNATURE, FORGED_ZENDESK), (signature::ZENDESK_TIMESTAMP, &now)]);
        request.extend_from_slice(b"{\"id\":");
        stream.write_all(&request).await.unwrap();
        drop(stream);
    }
    // Counted once each handler has seen its body end early.
    let webhooks = |m: &std::collections::BTreeMap<String, f64>| -> Vec<(String, f64)> {
        m.iter().filter(|(k, _)| k.starts_with("ticketpulse_intake_webhooks_total{")).map(|(k, v)| (k.clone(), *v)).collect()
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    let counted = loop {
        let counted = webhooks(&intake_metrics(addr).await);
        if counted.iter().map(|(_, v)| v).sum::<f64>() >= 3.0 {
            break counted;
        }
        assert!(std::time::Instant::now() < deadline, "three webhooks not counted: {counted:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(counted, [("ticketpulse_intake_webhooks_total{result=\"aborted\",source=\"zendesk\",type=\"unknown\"}".to_string(), 3.0)]);
    intake.shutdown().await.unwrap();
}

/// One client of the flood: `POST /webhooks/zendesk` declaring 100,000 bytes, with a forged
/// signature of the right shape (so the headers alone do not refuse it), then a byte a
/// second; reconnects whenever the server closes it, until `stop`. Returns how many
/// connections it opened.
async fn slow_body_client(addr: std::net::SocketAddr, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u64 {
    use std::sync::atomic::Ordering;
    let mut opened = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        opened += 1;
        let now = jiff::Timestamp::now().to_string();
        let head =
            webhook_head("zendesk", 100_000, &[(signature::ZENDESK_SIGNATURE, FORGED_ZENDESK), (signature::ZENDESK_TIMESTAMP, &now)]);
        if stream.write_all(&head).await.is_err() {
            continue;
        }
        let mut byte = [0u8; 64];
        while !stop.load(Ordering::Relaxed) {
            tokio::select! {
                // Any answer or close ends this connection.
                _ = stream.read(&mut byte) => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if stream.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    opened
}

/// The slow-body flood of issue 24, bounded: 96 clients (reconnecting when closed) against
/// an intake with room for 64 connections, for 8 s, loopback only. Before: once their
/// headers were read they could not be evicted, so the probes and signed webhooks were
/// refused. Now every probe and every signed webhook is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_flood_leaves_liveness_and_signed_webhooks_answered() {
    let broker = Broker::start();
    let topic = "intake-flood";
    create_topics(&broker.bootstrap, &[(topic, 1), ("intake-flood-dlq", 1)]).await;
    let mut config = intake_config(&broker.bootstrap, topic);
    config.http.max_connections = 64;
    let intake = ticketpulse::intake::start(config).await.unwrap();
    let addr = intake.addr;
    // The broker is ready before the flood: one webhook produced.
    let ok = (200, "produced 1 event(s)\n".to_string());
    assert_eq!(post_signed(addr, "zendesk", zd_created("300", "09:00:00", "email", "LOW"), Duration::ZERO).await, ok);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..96).map(|_| tokio::spawn(slow_body_client(addr, std::sync::Arc::clone(&stop)))).collect();
    // Let the flood fill the table (64 places, 96 clients).
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Each probe and webhook is written in one piece, as a help desk's would arrive.
    let mut answers = Vec::new();
    for i in 0..6 {
        let (status, _, body) = exchange(addr, b"GET /healthz/live HTTP/1.0\r\n\r\n").await;
        answers.push(("live", (status, body)));
        let reply = zd_comment("300", &format!("zd-300-flood-{i}"), "09:10:00", true, true);
        let ts = jiff::Timestamp::now().to_string();
        let signature = signature::sign_zendesk(ZENDESK_SECRET, &ts, &reply);
        let mut request =
            webhook_head("zendesk", reply.len() as u64, &[(signature::ZENDESK_SIGNATURE, &signature), (signature::ZENDESK_TIMESTAMP, &ts)]);
        request.extend_from_slice(&reply);
        let (status, _, body) = exchange(addr, &request).await;
        answers.push(("webhook", (status, body)));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut opened = 0;
    for client in flood {
        opened += client.await.unwrap();
    }
    let expected: Vec<_> = (0..6).flat_map(|_| [("live", (200, "ok\n".to_string())), ("webhook", ok.clone())]).collect();
    assert_eq!(answers, expected);
    // The flood was really there: more connections than places, and they were cut short.
    assert!(opened > 96, "{opened} connections");
    let m = intake_metrics(addr).await;
    let dropped = |reason| value(&m, "ticketpulse_http_connections_dropped_total", &[("reason", reason)]);
    assert!(dropped("evicted") + dropped("body_timeout") > 0.0, "{m:?}");
    assert_eq!(dropped("refused"), 0.0, "a handled webhook never had to refuse a newcomer");
    intake.shutdown().await.unwrap();
}
