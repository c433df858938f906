//! `ticketpulse intake seed`: vendor-shaped API answers (tests/fixtures/seed, README there names
//! each shape's source) served by a scripted local HTTP server, the snapshots produced to a real
//! tansu topic and read back field by field; pagination, a 429 with `Retry-After`, a run that
//! stops after its first page and the resume from the cursor file.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{json, Value};
use ticketpulse::config::Config;
use ticketpulse::intake::seed::{self, retry_wait, SeedOptions, Seeded};
use ticketpulse::intake::Source;

use common::{create_topics, Broker};

/// The instant every page is read at (the snapshots' `at`): 2026-01-05T12:00:00Z.
const READ_AT: i64 = 1_767_614_400_000;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/seed/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// One scripted answer: status, `Retry-After`, body.
#[derive(Clone)]
struct Answer(u16, Option<&'static str>, String);

fn ok(name: &str) -> Answer {
    Answer(200, None, fixture(name))
}

/// A vendor API that answers requests with `script`, in order, and records each request's
/// path and query and its credentials header.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<Vec<Answer>>>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl Script {
    async fn serve(answers: Vec<Answer>) -> (SocketAddr, Script) {
        let script = Script { answers: Arc::new(Mutex::new(answers)), requests: Arc::default() };
        let state = script.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let state = state.clone();
            async move { state.answer(uri, headers) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, script)
    }

    fn answer(&self, uri: Uri, headers: HeaderMap) -> Response {
        let credentials = ["authorization", "api_access_token"]
            .iter()
            .find_map(|name| headers.get(*name).map(|v| format!("{name}: {}", v.to_str().unwrap())))
            .unwrap_or_default();
        self.requests.lock().unwrap().push((uri.to_string(), credentials));
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            return (StatusCode::IM_A_TEAPOT, "script exhausted").into_response();
        }
        let Answer(status, retry_after, body) = answers.remove(0);
        let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert("retry-after", seconds.parse().unwrap());
        }
        response
    }

    fn requests(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn seed_config(bootstrap: &str, topic: &str, api: SocketAddr) -> Config {
    let mut config = common::config(bootstrap, topic);
    let i = &mut config.intake;
    i.topic = topic.to_string();
    i.zendesk.api_url = format!("http://{api}/");
    i.zendesk.api_email = "seed@example.com".into();
    i.zendesk.api_token = "zendesk-api-token-for-tests".into();
    i.zendesk.group_teams = [("8447320466430", "billing"), ("8447320466431", "tech")].map(|(k, v)| (k.to_string(), v.to_string())).into();
    i.chatwoot.api_url = format!("http://{api}");
    i.chatwoot.account_id = "2".into();
    i.chatwoot.api_token = "chatwoot-access-token-for-tests".into();
    i.chatwoot.team_teams = [("7".to_string(), "billing".to_string())].into();
    i.chatwoot.inbox_teams = [("3".to_string(), "web-support".to_string())].into();
    // One retry, waiting at most 2 s: a 503 after page 1 ends the run quickly.
    i.seed.max_retries = 1;
    i.seed.max_retry_wait = Duration::from_secs(2);
    config
}

/// Every message on partition 0 of `topic` as (key, JSON), duplicates included: all that
/// was produced before the `sentinels`-th sentinel, which [`mark_end`] writes after a seed run.
/// (A sentinel rather than the high watermark: tansu reports the last batch's base offset + 1,
/// not the offset after its last message.)
fn topic_messages(bootstrap: &str, topic: &str, sentinels: usize) -> Vec<(String, Value)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&assignment).unwrap();
    let (mut out, mut seen) = (Vec::new(), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen < sentinels {
        assert!(std::time::Instant::now() < deadline, "read {} messages and {seen} of {sentinels} sentinels within 30 s", out.len());
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            if key == SENTINEL {
                seen += 1;
            } else {
                // Every snapshot is a contract v1 event the engine reads (tests/seeding.rs runs
                // such events through `run`), keyed by its ticket id.
                let payload = message.payload().unwrap();
                let event = ticketpulse::event::parse(payload, &Config::default().parse_limits(), None)
                    .unwrap_or_else(|e| panic!("not a contract event: {e:?}: {}", String::from_utf8_lossy(payload)));
                assert_eq!(event.ticket_id, key);
                out.push((key, serde_json::from_slice(payload).unwrap()));
            }
        }
    }
    out
}

const SENTINEL: &str = "end-of-seed-run";

/// Writes a sentinel after everything a seed run produced (one partition: in order).
async fn mark_end(bootstrap: &str, topic: &str) {
    common::produce(bootstrap, topic, &[&format!(r#"{{"ticket_id":"{SENTINEL}"}}"#)]).await;
}

fn options(source: Source, cursor_file: &Path) -> SeedOptions {
    SeedOptions { source, cursor_file: Some(cursor_file.to_path_buf()), since: 0, include_solved: false }
}

/// The Zendesk snapshots of the two export pages, derived by hand from the fixtures with the
/// default `[intake.zendesk]` tables and the test's `group_teams`:
/// - 5101: open, `high`, `email`, group …430 → billing; first reply 25 calendar minutes after
///   08:00 → 08:25; the requester's update (09:30) is after the assignee's (08:25): waiting
///   since 09:30; event id from `updated_at` 09:30 = 1767605400000.
/// - 5102: solved: left out (no `--include-solved`).
/// - 5103: `hold` → on_hold, priority null → normal, `web_widget` → web, no group → no team;
///   first reply 90 min after 22:00 → 23:30; on hold: no waiting_since; updated 07:00.
/// - 5104: new, urgent, chat, group …431 → tech; no reply yet (calendar null); no assignee
///   update: waiting since the requester's 10:00; updated 10:00.
/// - 5105: pending, low, api, group …499 not listed → no team; first reply 12:00 + 60 min on
///   01-03; pending: no waiting_since; updated 09:00.
fn zendesk_expected() -> Vec<Value> {
    vec![
        json!({"event_id": "zendesk-5101-snapshot-1767605400000", "ticket_id": "zendesk-5101", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T08:00:00Z", "status": "open", "channel": "email",
               "priority": "high", "team": "billing", "first_response_at": "2026-01-05T08:25:00Z",
               "waiting_since": "2026-01-05T09:30:00Z"}),
        json!({"event_id": "zendesk-5103-snapshot-1767596400000", "ticket_id": "zendesk-5103", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-04T22:00:00Z", "status": "on_hold", "channel": "web",
               "priority": "normal", "first_response_at": "2026-01-04T23:30:00Z"}),
        json!({"event_id": "zendesk-5104-snapshot-1767607200000", "ticket_id": "zendesk-5104", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T10:00:00Z", "status": "new", "channel": "chat",
               "priority": "urgent", "team": "tech", "waiting_since": "2026-01-05T10:00:00Z"}),
        json!({"event_id": "zendesk-5105-snapshot-1767603600000", "ticket_id": "zendesk-5105", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-03T12:00:00Z", "status": "pending", "channel": "api",
               "priority": "low", "first_response_at": "2026-01-03T13:00:00Z"}),
    ]
}

/// Zendesk: two export pages, the second first answered 429 with `Retry-After: 1`; every
/// snapshot on the topic once, keyed by ticket id; the cursor after the end of the stream kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_export_pages_with_a_429_become_snapshots_on_the_topic() {
    let broker = Broker::start();
    let topic = "seed-zendesk";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let (api, script) = Script::serve(vec![
        ok("zendesk_export_page1.json"),
        Answer(429, Some("1"), r#"{"error":"APIRateLimitExceeded"}"#.into()),
        ok("zendesk_export_page2.json"),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("zendesk.cursor");
    let config = seed_config(&broker.bootstrap, topic, api);

    let seeded = seed::seed(&config, &options(Source::Zendesk, &cursor), &|| READ_AT).await.unwrap();

    // 2 pages; 4 snapshots (5101, 5103, 5104, 5105); 5102 solved, skipped.
    assert_eq!(seeded, Seeded { pages: 2, produced: 4, skipped: 1, unreadable: 0 });
    // Basic auth "seed@example.com/token:zendesk-api-token-for-tests", base64 by hand
    // (`printf %s 'seed@example.com/token:zendesk-api-token-for-tests' | base64`).
    let auth = "authorization: Basic c2VlZEBleGFtcGxlLmNvbS90b2tlbjp6ZW5kZXNrLWFwaS10b2tlbi1mb3ItdGVzdHM=".to_string();
    let export = "/api/v2/incremental/tickets/cursor.json";
    let rest = "per_page=100&include=metric_sets&exclude_deleted=true";
    // Page 1 from start_time 0; page 2 by page 1's `after_cursor` (`=` percent-encoded), asked
    // again after the 429.
    let page2 = format!("{export}?cursor=MTc2NzYwMzYwMC4wfHw1MTAzfA%3D%3D&{rest}");
    assert_eq!(
        script.requests(),
        [(format!("{export}?start_time=0&{rest}"), auth.clone()), (page2.clone(), auth.clone()), (page2, auth.clone())]
    );
    mark_end(&broker.bootstrap, topic).await;
    let messages = topic_messages(&broker.bootstrap, topic, 1);
    let keys: Vec<_> = messages.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["zendesk-5101", "zendesk-5103", "zendesk-5104", "zendesk-5105"]);
    let values: Vec<_> = messages.into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, zendesk_expected());
    // The end of the stream keeps page 2's `after_cursor`: the next run asks only for changes.
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(&cursor).unwrap()).unwrap(),
        json!({"source": "zendesk", "after_cursor": "MTc2NzYxMTYwMC4wfHw1MTA1fA=="})
    );
}

/// The Chatwoot snapshots, derived by hand from the fixtures with the default
/// `[intake.chatwoot]` tables, team 7 → billing and inbox 3 → web-support:
/// - 41: open, high, `Channel::Email` → email, team 7 → billing; first reply 1767604500 =
///   09:15; waiting since 1767607200 = 10:00; created 1767603600 = 09:00; event id from
///   `updated_at` 1767607200.5 s = 1767607200500 ms.
/// - 42: open, priority null → normal, `Channel::WebWidget` → chat, no team, inbox 3 →
///   web-support; first reply 0 = none; waiting since 08:00; `updated_at` 1767600000.25 →
///   1767600000250.
/// - 43: open, urgent, `Channel::Whatsapp` → messaging, inbox 5 not listed → no team; first
///   reply and waiting 0 → none; created 05:00; no `updated_at`: `timestamp` 06:00 =
///   1767592800000.
/// - 44: pending, `medium` → normal, `Channel::Api` → api, inbox 9 → no team; first reply
///   07:10; waiting 0 → none; created 07:00; updated 07:30 = 1767598200000.
fn chatwoot_expected() -> Vec<Value> {
    vec![
        json!({"event_id": "chatwoot-41-snapshot-1767607200500", "ticket_id": "chatwoot-41", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T09:00:00Z", "status": "open", "channel": "email",
               "priority": "high", "team": "billing", "first_response_at": "2026-01-05T09:15:00Z",
               "waiting_since": "2026-01-05T10:00:00Z"}),
        json!({"event_id": "chatwoot-42-snapshot-1767600000250", "ticket_id": "chatwoot-42", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T08:00:00Z", "status": "open", "channel": "chat",
               "priority": "normal", "team": "web-support", "waiting_since": "2026-01-05T08:00:00Z"}),
        json!({"event_id": "chatwoot-43-snapshot-1767592800000", "ticket_id": "chatwoot-43", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T05:00:00Z", "status": "open", "channel": "messaging",
               "priority": "urgent"}),
        json!({"event_id": "chatwoot-44-snapshot-1767598200000", "ticket_id": "chatwoot-44", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T07:00:00Z", "status": "pending", "channel": "api",
               "priority": "normal", "first_response_at": "2026-01-05T07:10:00Z"}),
    ]
}

/// Chatwoot: a run whose second page is answered 503 twice (the request and its one retry)
/// stops with page 1 produced and its cursor kept; the next run resumes at page 2, reads on
/// through pending and snoozed, and removes the cursor. Each conversation is on the topic once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatwoot_seed_that_stops_after_page_one_resumes_from_its_cursor() {
    let broker = Broker::start();
    let topic = "seed-chatwoot";
    create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let unavailable = || Answer(503, Some("0"), "maintenance".into());
    let (api, script) = Script::serve(vec![ok("chatwoot_open_page1.json"), unavailable(), unavailable()]).await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("chatwoot.cursor");
    let config = seed_config(&broker.bootstrap, topic, api);
    let auth = "api_access_token: chatwoot-access-token-for-tests".to_string();
    let list =
        |status: &str, page: u32| (format!("/api/v1/accounts/2/conversations?status={status}&assignee_type=all&page={page}"), auth.clone());

    let error = seed::seed(&config, &options(Source::Chatwoot, &cursor), &|| READ_AT).await.unwrap_err();
    assert!(error.to_string().contains("answered 503 Service Unavailable; given up after 1 retries"), "{error:#}");
    assert!(!format!("{error:#}").contains("chatwoot-access-token-for-tests"), "the token is never shown: {error:#}");
    assert_eq!(script.requests(), [list("open", 1), list("open", 2), list("open", 2)]);
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(&cursor).unwrap()).unwrap(),
        json!({"source": "chatwoot", "status": "open", "page": 2})
    );
    mark_end(&broker.bootstrap, topic).await;
    let after_stop: Vec<_> = topic_messages(&broker.bootstrap, topic, 1).into_iter().map(|(_, v)| v).collect();
    assert_eq!(after_stop, chatwoot_expected()[..2]);

    // The help desk is back: the rest of open, then pending, then snoozed (empty).
    *script.answers.lock().unwrap() = vec![
        ok("chatwoot_open_page2.json"),
        ok("chatwoot_empty_page.json"),
        ok("chatwoot_pending_page1.json"),
        ok("chatwoot_empty_page.json"),
        ok("chatwoot_empty_page.json"),
    ];
    let seeded = seed::seed(&config, &options(Source::Chatwoot, &cursor), &|| READ_AT).await.unwrap();
    // 5 pages read, 2 snapshots (43, 44): page 1 is not read again.
    assert_eq!(seeded, Seeded { pages: 5, produced: 2, skipped: 0, unreadable: 0 });
    assert_eq!(script.requests(), [list("open", 2), list("open", 3), list("pending", 1), list("pending", 2), list("snoozed", 1)]);
    assert!(!cursor.exists(), "a finished Chatwoot seed removes its cursor");
    mark_end(&broker.bootstrap, topic).await;
    let messages = topic_messages(&broker.bootstrap, topic, 2);
    let keys: Vec<_> = messages.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["chatwoot-41", "chatwoot-42", "chatwoot-43", "chatwoot-44"]);
    assert_eq!(messages.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), chatwoot_expected());
}

/// `--include-solved`: the solved ticket 5102 is stated with its solve (metric `solved_at`
/// 09:10) and first reply (5 min after 09:00); no waiting_since (not new or open); `web` →
/// web; group …431 → tech; updated 09:10 = 1767604200000.
#[test]
fn a_solved_zendesk_ticket_is_stated_only_with_include_solved() {
    let page: Value = serde_json::from_str(&fixture("zendesk_export_page1.json")).unwrap();
    let config = seed_config("unused:9092", "unused", "127.0.0.1:1".parse().unwrap());
    let (ticket, metrics) = (&page["tickets"][1], &page["metric_sets"][1]);
    let without = seed::zendesk_snapshot(ticket, Some(metrics), &config.intake.zendesk, READ_AT, false).unwrap();
    assert_eq!(without, None);
    let with = seed::zendesk_snapshot(ticket, Some(metrics), &config.intake.zendesk, READ_AT, true).unwrap().unwrap();
    assert_eq!(with.key, "zendesk-5102");
    assert_eq!(
        serde_json::from_str::<Value>(&with.payload).unwrap(),
        json!({"event_id": "zendesk-5102-snapshot-1767604200000", "ticket_id": "zendesk-5102", "type": "ticket_snapshot",
               "at": "2026-01-05T12:00:00Z", "created_at": "2026-01-05T09:00:00Z", "status": "solved", "channel": "web",
               "priority": "normal", "team": "tech", "first_response_at": "2026-01-05T09:05:00Z",
               "solved_at": "2026-01-05T09:10:00Z"})
    );
}

/// Teams from tags, as the webhooks set them: ticket 5101 (group …430, tags ["billing"]) is in
/// the group's team when its group is listed (billing), else in the team of its tag
/// (`tag_teams`: billing → finance); with neither, no team.
#[test]
fn a_zendesk_ticket_takes_its_groups_team_else_its_tags() {
    let page: Value = serde_json::from_str(&fixture("zendesk_export_page1.json")).unwrap();
    let mut config = seed_config("unused:9092", "unused", "127.0.0.1:1".parse().unwrap());
    let team = |config: &Config| {
        let snapshot = seed::zendesk_snapshot(&page["tickets"][0], None, &config.intake.zendesk, READ_AT, false).unwrap().unwrap();
        serde_json::from_str::<Value>(&snapshot.payload).unwrap().get("team").cloned()
    };
    config.intake.zendesk.tag_teams = [("billing".to_string(), "finance".to_string())].into();
    assert_eq!(team(&config), Some(json!("billing")));
    config.intake.zendesk.group_teams.clear();
    assert_eq!(team(&config), Some(json!("finance")));
    config.intake.zendesk.tag_teams.clear();
    assert_eq!(team(&config), None);
}

/// The wait before a retry: `Retry-After` seconds when given (cut to the cap), else 1 s
/// doubling per attempt (cut to the cap); an HTTP-date is not read (backoff instead).
#[test]
fn retry_waits_follow_retry_after_within_the_cap() {
    let cap = Duration::from_secs(120);
    let s = Duration::from_secs;
    assert_eq!(retry_wait(Some("30"), 0, cap), s(30));
    assert_eq!(retry_wait(Some(" 7 "), 4, cap), s(7));
    assert_eq!(retry_wait(Some("600"), 0, cap), s(120));
    assert_eq!(retry_wait(Some("0"), 2, cap), s(0));
    // No Retry-After: 2^attempt seconds: 1, 8; 2^10 = 1024 > 120: the cap.
    assert_eq!(retry_wait(None, 0, cap), s(1));
    assert_eq!(retry_wait(None, 3, cap), s(8));
    assert_eq!(retry_wait(None, 10, cap), s(120));
    assert_eq!(retry_wait(None, 90, cap), s(120));
    assert_eq!(retry_wait(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 1, cap), s(2));
}

/// A cursor file of the other source, or not a cursor, stops the seed before any request;
/// missing API settings are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_cursor_file_or_missing_settings_stop_before_any_request() {
    let (api, script) = Script::serve(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("seed.cursor");
    let config = seed_config("127.0.0.1:1", "unused", api);
    std::fs::write(&cursor, r#"{"source":"chatwoot","status":"open","page":2}"#).unwrap();
    let error = seed::seed(&config, &options(Source::Zendesk, &cursor), &|| READ_AT).await.unwrap_err();
    assert!(error.to_string().contains("a cursor of another source"), "{error:#}");
    std::fs::write(&cursor, "{}").unwrap();
    let error = seed::seed(&config, &options(Source::Chatwoot, &cursor), &|| READ_AT).await.unwrap_err();
    assert!(error.to_string().contains("not a seed cursor"), "{error:#}");
    let mut bare = config.clone();
    bare.intake.zendesk.api_email.clear();
    bare.intake.zendesk.api_token.clear();
    let error = seed::seed(&bare, &options(Source::Zendesk, &cursor), &|| READ_AT).await.unwrap_err();
    assert_eq!(error.to_string(), "intake seed --source zendesk: set intake.zendesk.api_email, intake.zendesk.api_token");
    assert_eq!(script.requests(), []);
}

/// Answers that cannot be a page stop the seed at their first request, without retries: one
/// larger than `intake.seed.max_response_bytes` (page 1 is 5 kB, the limit 1 000 bytes), and a
/// 401 (with the hint to check the credentials). Nothing is produced, no cursor written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_too_large_or_unauthorized_stops_the_seed_without_retries() {
    let page = fixture("zendesk_export_page1.json");
    assert!(page.len() > 1000, "the fixture is {} bytes", page.len());
    let (api, script) =
        Script::serve(vec![Answer(200, None, page), Answer(401, None, r#"{"error":"Couldn't authenticate you"}"#.into())]).await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("zendesk.cursor");
    let mut config = seed_config("127.0.0.1:1", "unused", api);
    config.intake.seed.max_response_bytes = 1000;
    let first = "/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=100&include=metric_sets&exclude_deleted=true";

    let error = seed::seed(&config, &options(Source::Zendesk, &cursor), &|| READ_AT).await.unwrap_err();
    assert_eq!(error.to_string(), format!("{first}: the answer is larger than intake.seed.max_response_bytes (1000)"));
    let error = seed::seed(&config, &options(Source::Zendesk, &cursor), &|| READ_AT).await.unwrap_err();
    assert_eq!(error.to_string(), format!("{first}: answered 401 Unauthorized (check the API credentials)"));
    assert_eq!(script.requests().len(), 2, "one request each, no retry");
    assert!(!cursor.exists());
}
