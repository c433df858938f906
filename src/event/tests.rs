//! The event contract as a whole, through [`parse`]: each type with its defaults, every
//! rejection reason, times, bounds, and the JSON schema listing the same values as the parser.

use super::*;
use crate::base::{millis, MAX_TIME};

const LIMITS: ParseLimits =
    ParseLimits { max_message_bytes: 512, max_future_skew: 300_000, csat_range: (1.0, 5.0), ces_range: (1.0, 7.0), esat_range: (1.0, 5.0) };

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
    assert_eq!(reason(r#"{"event_id":"e","ticket_id":"t","type":"contact_abandoned","at":1700000300001}"#), InvalidReason::FutureTimestamp);
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
