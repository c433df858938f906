//! Event time that a skewed clock or an absurd timestamp cannot poison: in the live service
//! stream time never passes the wall clock; `replay` rejects times outside 1970–2100 and,
//! given `--end-time`, times too far past it; durations are never negative; a partition read
//! to its end follows the wall clock at once. Engine-level tests drive the wall clock by hand;
//! the broker tests use the real wall clock with times relative to the test's start.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use common::{harness_partition as partition, parse_exposition, value, Broker, Harness};
use ticketpulse::config::Config;
use ticketpulse::internal_events::EventResult;
use ticketpulse::replay::{replay, End};

const T0: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z
const S: i64 = 1_000;
const M: i64 = 60_000;

/// An event line: `rest` holds the type-specific fields, starting with a comma.
fn ev(event_id: &str, ticket_id: &str, kind: &str, at: i64, rest: &str) -> String {
    format!(r#"{{"event_id":"{event_id}","ticket_id":"{ticket_id}","type":"{kind}","at":{at}{rest}}}"#)
}

const URGENT_CHAT: &str = r#","channel":"chat","priority":"urgent""#;
const AGENT_REPLY: &str = r#","author":"agent""#;

fn stream_time(h: &Harness) -> Option<i64> {
    h.engine.partition(&partition()).and_then(|p| p.lock().unwrap().stream_time())
}

fn fr(window: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("window", window), ("channel", "chat"), ("priority", "urgent"), ("policy", "urgent"), ("target", "first_response")]
}

/// Met and breached first responses of urgent chats over 24 h (0 when the series is absent).
fn outcomes(s: &BTreeMap<String, f64>) -> (f64, f64) {
    let get = |name: &str| s.get(&common::key(name, &fr("24h"))).copied().unwrap_or(0.0);
    (get("ticketpulse_sla_met"), get("ticketpulse_sla_breached"))
}

#[test]
fn an_event_dated_ahead_of_the_wall_clock_does_not_move_time_past_it() {
    // The issue's repro: an urgent chat (first response due in 30 min) answered at minute 29,
    // and before the reply, an unrelated event dated 299 s ahead of the wall clock.
    let live = Harness::new(&Config::default());
    assert_eq!(live.send(&ev("A-1", "A", "ticket_created", T0, URGENT_CHAT), Some(T0)), EventResult::Ok);
    let wall = T0 + 29 * M - S;
    let ahead = ev("Z-1", "Z", "ticket_created", wall + 299 * S, r#","channel":"web","priority":"low""#);
    assert_eq!(live.send(&ahead, Some(wall)), EventResult::Ok, "accepted: within max_future_skew");
    // Stream time stops at the wall clock (it would be wall + 299 s, past the 30 min deadline).
    assert_eq!(stream_time(&live), Some(wall));
    assert_eq!(outcomes(&live.scrape()), (0.0, 0.0), "nothing fired early");
    assert_eq!(live.send(&ev("A-2", "A", "message", T0 + 29 * M, AGENT_REPLY), Some(T0 + 29 * M)), EventResult::Ok, "not late");
    // 30 s without messages: the partition follows the wall clock and the reply is applied.
    live.engine.advance_idle(T0 + 29 * M + 30 * S);
    assert_eq!(stream_time(&live), Some(T0 + 29 * M + 30 * S));
    assert_eq!(outcomes(&live.scrape()), (1.0, 0.0));
    // Past the deadline and past the early event's own time: no breach, and the early event
    // is applied in its turn (two tickets created).
    live.engine.advance_idle(T0 + 40 * M);
    let s = live.scrape();
    assert_eq!(outcomes(&s), (1.0, 0.0));
    assert_eq!(value(&s, "ticketpulse_tickets_created", &[("window", "1h"), ("channel", "web"), ("priority", "low")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "late")]), 0.0);
}

#[test]
fn a_producer_clock_running_ahead_cannot_make_a_deadline_fire_early() {
    // Every event of this producer is dated 4 min ahead of the true time.
    let skew = 4 * M;
    let live = Harness::new(&Config::default());
    live.send(&ev("B-1", "B", "ticket_created", T0 + skew, URGENT_CHAT), Some(T0));
    // The ticket's deadline is T0 + 34 min by its own clock. At true time T0 + 30 min 20 s
    // another event dated 34 min 20 s arrives: without the cap, the watermark (34 min 10 s)
    // would pass the deadline 4 min early.
    live.send(&ev("C-1", "C", "ticket_created", T0 + 30 * M + 20 * S + skew, r#","channel":"web""#), Some(T0 + 30 * M + 20 * S));
    assert_eq!(outcomes(&live.scrape()), (0.0, 0.0));
    // It fires once the watermark (wall clock − 10 s lateness) is past T0 + 34 min.
    live.engine.advance_idle(T0 + 34 * M + 10 * S);
    assert_eq!(outcomes(&live.scrape()), (0.0, 0.0));
    live.engine.advance_idle(T0 + 34 * M + 10 * S + 1);
    assert_eq!(outcomes(&live.scrape()), (0.0, 1.0));
}

/// Replays `lines` with the default configuration.
fn replay_lines(lines: &[String], end: End) -> BTreeMap<String, f64> {
    parse_exposition(&replay(&Config::default(), Cursor::new(lines.join("\n")), end).unwrap())
}

#[test]
fn one_absurd_timestamp_does_not_ruin_the_rest_of_a_replay() {
    // 200 tickets created a minute apart, with a year-9999 event and an `at` of i64::MAX
    // after the first 100.
    let mut lines: Vec<String> =
        (0..200).map(|i| ev(&format!("c{i}"), &format!("T{i}"), "ticket_created", T0 + i * M, r#","channel":"email""#)).collect();
    lines.insert(100, ev("x", "X", "ticket_created", 0, r#","channel":"email""#).replace(r#""at":0"#, r#""at":"9999-12-31T23:59:59Z""#));
    lines.insert(101, ev("y", "Y", "ticket_created", i64::MAX, r#","channel":"email""#));
    let s = replay_lines(&lines, End::Flush(None));
    // Everything but the two is counted in order: 200 created in 24 h, none late.
    let email = |w| [("window", w), ("channel", "email"), ("priority", "normal")];
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email("24h")), 200.0);
    // The 1h window at 11:19 (the last creation) holds the 60 one-minute slices 10:20 to 11:19.
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email("1h")), 60.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "ok")]), 200.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "late")]), 0.0);
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "bad_timestamp")]), 2.0);
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &[("topic", "replay"), ("partition", "0")]), ((T0 + 199 * M) / 1000) as f64);
}

#[test]
fn with_an_end_time_replay_rejects_events_too_far_past_it() {
    let end = T0 + 200 * M;
    let mut lines: Vec<String> =
        (0..200).map(|i| ev(&format!("c{i}"), &format!("T{i}"), "ticket_created", T0 + i * M, r#","channel":"email""#)).collect();
    // max_future_skew is 5 min: 1 ms more than 5 min past the end is rejected (and so cannot
    // make the events after it late); exactly 5 min past it is accepted.
    lines.insert(50, ev("f", "F", "ticket_created", end + 5 * M + 1, r#","channel":"email""#));
    lines.push(ev("g", "G", "ticket_created", end + 5 * M, r#","channel":"email""#));
    let s = replay_lines(&lines, End::Flush(Some(end)));
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "future_timestamp")]), 1.0);
    // G is accepted but dated after the end: it stays buffered, and time stops at the end.
    assert_eq!(value(&s, "ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")]), 200.0);
    assert_eq!(value(&s, "ticketpulse_buffered_events", &[("topic", "replay"), ("partition", "0")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &[("topic", "replay"), ("partition", "0")]), (end / 1000) as f64);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "late")]), 0.0);
    // Without an end time there is nothing to compare with: F is accepted, and the 150
    // creations after it (T0 + 50 min to T0 + 199 min) are late.
    let s = replay_lines(&lines, End::Flush(None));
    assert_eq!(value(&s, "ticketpulse_invalid_events_total", &[("reason", "future_timestamp")]), 0.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "late")]), 150.0);
}

#[test]
fn an_event_after_the_end_time_does_not_move_time_past_it() {
    // An urgent chat at 09:36 (first response due 10:06) and an email at 10:09, replayed to
    // 10:05: time stops at 10:05, so the chat is not breached yet and the email not shown.
    let chat = ev("a", "A", "ticket_created", T0 + 96 * M, URGENT_CHAT);
    let email = ev("b", "B", "ticket_created", T0 + 129 * M, r#","channel":"email""#);
    let s = replay_lines(&[chat, email], End::Flush(Some(T0 + 125 * M)));
    let partition = [("topic", "replay"), ("partition", "0")];
    assert_eq!(value(&s, "ticketpulse_stream_time_seconds", &partition), ((T0 + 125 * M) / 1000) as f64);
    assert_eq!(value(&s, "ticketpulse_buffered_events", &partition), 1.0);
    assert_eq!(outcomes(&s), (0.0, 0.0));
    let current = [("channel", "chat"), ("priority", "urgent"), ("policy", "urgent"), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &current), 1.0);
    assert!(
        !s.contains_key(&common::key("ticketpulse_tickets_created", &[("window", "24h"), ("channel", "email"), ("priority", "normal")]))
    );
}

#[test]
fn a_reply_or_solve_dated_before_the_creation_counts_as_zero() {
    let email = |w| [("window", w), ("channel", "email"), ("priority", "normal")];
    let lines = [
        ev("n1", "N", "ticket_created", T0 + 10 * M, r#","channel":"email""#),
        // Another ticket moves the watermark to T0 + 19 min 50 s ...
        ev("o1", "O", "ticket_created", T0 + 20 * M, r#","channel":"web""#),
        // ... so these, dated 5 and 6 min before N's creation, arrive late and are applied
        // after it.
        ev("n2", "N", "message", T0 + 5 * M, AGENT_REPLY),
        ev("n3", "N", "status_changed", T0 + 6 * M, r#","status":"solved""#),
    ];
    let s = replay_lines(&lines, End::Flush(None));
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "late")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "status_changed"), ("result", "late")]), 1.0);
    for kpi in ["first_response_time", "first_resolution_time", "full_resolution_time"] {
        assert_eq!(value(&s, &format!("ticketpulse_{kpi}_seconds_count"), &email("24h")), 1.0, "{kpi}");
        assert_eq!(value(&s, &format!("ticketpulse_{kpi}_seconds_sum"), &email("24h")), 0.0, "{kpi}");
        assert_eq!(value(&s, &format!("ticketpulse_{kpi}_max_seconds"), &email("24h")), 0.0, "{kpi}");
    }
    let resolution = [("window", "24h"), ("channel", "email"), ("priority", "normal"), ("policy", "normal"), ("target", "resolution")];
    assert_eq!(value(&s, "ticketpulse_sla_business_time_seconds_sum", &resolution), 0.0);
    assert_eq!(value(&s, "ticketpulse_sla_met", &resolution), 1.0);
}

#[test]
fn a_partition_read_to_its_end_follows_the_wall_clock_until_its_next_message() {
    let live = Harness::new(&Config::default());
    let w = T0;
    live.send(&ev("c1", "C", "ticket_created", w - S, r#","channel":"email""#), Some(w));
    live.engine.caught_up(&partition(), w + 100);
    assert_eq!(stream_time(&live), Some(w + 100), "at once, not after the 30 s idle timeout");
    let created = |live: &Harness| {
        live.scrape()
            .get(&common::key("ticketpulse_tickets_created", &[("window", "5m"), ("channel", "email"), ("priority", "normal")]))
            .copied()
    };
    // The idle tick keeps it following; the creation (at w − 1 s) is applied once the
    // watermark (wall clock − 10 s) is past it.
    live.engine.advance_idle(w + 9 * S);
    assert_eq!((stream_time(&live), created(&live)), (Some(w + 9 * S), None));
    live.engine.advance_idle(w + 9 * S + 1);
    assert_eq!(created(&live), Some(1.0));
    // A message means the partition may be behind again: event time rules until the next
    // end of partition (or the idle timeout).
    live.send(&ev("c2", "D", "ticket_created", w + 9 * S + 500, r#","channel":"email""#), Some(w + 10 * S));
    live.engine.advance_idle(w + 20 * S);
    assert_eq!(stream_time(&live), Some(w + 9 * S + 500));
    live.engine.caught_up(&partition(), w + 21 * S);
    assert_eq!(stream_time(&live), Some(w + 21 * S));

    // idle_timeout = 0s: time from events only, end of partition or not.
    let mut config = Config::default();
    config.time.idle_timeout = Duration::ZERO;
    let events_only = Harness::new(&config);
    events_only.send(&ev("c1", "C", "ticket_created", w - S, r#","channel":"email""#), Some(w));
    events_only.engine.caught_up(&partition(), w + 100);
    events_only.engine.advance_idle(w + 60 * S);
    assert_eq!(stream_time(&events_only), Some(w - S));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Produces lines keyed by ticket, one message per record batch.
async fn produce(bootstrap: &str, topic: &str, lines: &[String]) {
    let messages: Vec<(Option<String>, Vec<u8>, Option<i32>)> =
        lines.iter().map(|l| (common::key_of(l), l.clone().into_bytes(), None)).collect();
    common::produce_all(bootstrap, topic, &messages).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_broker_an_early_event_does_not_breach_a_ticket_answered_in_time() {
    let broker = Broker::start();
    let topic = "time-skew";
    common::create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    // Times relative to now: the reply is dated 25 s ahead (so it is in time however long the
    // service takes to start), 29 min after the creation; the deadline is 1 min after it.
    let now0 = now_ms();
    let reply_at = now0 + 25 * S;
    let lines = [
        ev("A-1", "A", "ticket_created", reply_at - 29 * M, URGENT_CHAT),
        ev("Z-1", "Z", "ticket_created", now0 + 299 * S, r#","channel":"web","priority":"low""#),
        ev("A-2", "A", "message", reply_at, AGENT_REPLY),
    ];
    produce(&broker.bootstrap, topic, &lines).await;
    let mut config = common::config(&broker.bootstrap, topic);
    config.kafka.dead_letter_topic = String::new();
    config.time.idle_timeout = Duration::from_secs(1);
    config.time.allowed_lateness = Duration::from_secs(2);
    let running = ticketpulse::service::start(config).await.unwrap();
    // Until the reply is applied (wall clock past it plus the lateness) or the target breached.
    let text = common::scrape_until(running.http_addr, |s| outcomes(s) != (0.0, 0.0)).await;
    let wall = now_ms();
    let s = parse_exposition(&text);
    assert_eq!(outcomes(&s), (1.0, 0.0), "met, not breached");
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "ok")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "late")]), 0.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "ok")]), 2.0);
    // The early event is accepted but held: stream time is not past the wall clock.
    let stream_time = value(&s, "ticketpulse_stream_time_seconds", &[("topic", topic), ("partition", "0")]);
    assert!(stream_time * 1000.0 <= wall as f64 && stream_time * 1000.0 >= (reply_at + 2 * S) as f64, "{stream_time}");
    assert_eq!(value(&s, "ticketpulse_buffered_events", &[("topic", topic), ("partition", "0")]), 1.0, "Z waits for its time");
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_broker_a_backlog_is_read_in_event_time_and_then_new_tickets_show_within_the_lateness() {
    let broker = Broker::start();
    let topic = "time-freshness";
    common::create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    // A backlog from 3 h ago: 200 urgent chats 10 s apart; the even ones answered after
    // 29 min (met), the odd ones never (breached 30 min after creation).
    let base = now_ms() - 3 * 3_600 * S;
    let mut backlog = Vec::new();
    for i in 0..200 {
        backlog.push(ev(&format!("B{i}-1"), &format!("B{i}"), "ticket_created", base + i * 10 * S, URGENT_CHAT));
        if i % 2 == 0 {
            backlog.push(ev(&format!("B{i}-2"), &format!("B{i}"), "message", base + i * 10 * S + 29 * M, AGENT_REPLY));
        }
    }
    backlog.sort_by_key(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["at"].as_i64().unwrap());
    produce(&broker.bootstrap, topic, &backlog).await;

    let mut config = common::config(&broker.bootstrap, topic);
    config.kafka.dead_letter_topic = String::new();
    // The idle timeout never comes into play: only the end of the partition moves time on.
    config.time.idle_timeout = Duration::from_secs(3600);
    config.time.allowed_lateness = Duration::from_secs(1);
    // Small fetches: the backlog arrives in many pieces, and only the last reaches the end.
    config.kafka.librdkafka.insert("max.partition.fetch.bytes".into(), "4096".into());
    let running = ticketpulse::service::start(config).await.unwrap();
    let text = common::scrape_until(running.http_addr, |s| outcomes(s).1 == 100.0).await;
    let s = parse_exposition(&text);
    // Every reply was in time and applied in order: none late. While the backlog was read,
    // the watermark stayed with the events (1 s behind the newest); after it, the partition
    // followed the wall clock and the last four unanswered tickets breached too.
    assert_eq!(outcomes(&s), (100.0, 100.0));
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "message"), ("result", "late")]), 0.0);
    assert_eq!(common::total_events(&s), 300.0);

    // A ticket created now shows once the watermark (wall clock − 1 s) passes it, not after
    // the hour-long idle timeout.
    let created = now_ms() - 100;
    produce(&broker.bootstrap, topic, &[ev("F-1", "F", "ticket_created", created, r#","channel":"email""#)]).await;
    let email = [("window", "5m"), ("channel", "email"), ("priority", "normal")];
    let text = common::scrape_until(running.http_addr, |s| s.contains_key(&common::key("ticketpulse_tickets_created", &email))).await;
    let wall = now_ms();
    let s = parse_exposition(&text);
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email), 1.0);
    assert_eq!(value(&s, "ticketpulse_open_tickets", &[("channel", "email"), ("priority", "normal"), ("status", "new")]), 1.0);
    assert_eq!(value(&s, "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "ok")]), 201.0);
    let watermark = value(&s, "ticketpulse_watermark_seconds", &[("topic", topic), ("partition", "0")]) * 1000.0;
    assert!(watermark > created as f64 && watermark <= (wall - S) as f64, "{watermark}");
    running.shutdown().await.unwrap();
}
