//! Memory that the caps really bound: shedding a ticket takes everything it holds (its timer,
//! gauge share and dedup memory) and never picks a ticket whose events are still buffered;
//! the reorder buffer holds at most `time.max_buffered_events`. In replay and in `run`.

mod common;

use common::{harness_partition as partition, parse_exposition, value, Broker, Harness};
use ticketpulse::config::Config;
use ticketpulse::internal_events::EventResult;

const T0: i64 = 1_767_600_000_000; // 2026-01-05T08:00:00Z
const M: i64 = 60_000;

fn created(i: i64, at: i64, channel: &str) -> String {
    format!(r#"{{"event_id":"T{i}-1","ticket_id":"T{i}","type":"ticket_created","at":{at},"channel":"{channel}","priority":"urgent"}}"#)
}

/// (tickets, timers, buffered events) of the partition.
fn held(h: &Harness) -> (usize, usize, usize) {
    let lane = h.engine.partition(&partition()).unwrap();
    let p = lane.lock().unwrap();
    (p.ticket_count(), p.timer_count(), p.buffered_count())
}

#[test]
fn shedding_takes_the_tickets_timers_and_gauge_shares_with_it() {
    let mut config = Config::default();
    config.tickets.max_per_partition = 100;
    let h = Harness::new(&config);
    // 1000 urgent chats a minute apart, never answered: each waits in the reorder buffer until
    // the next arrives, so the cap is 100 tickets besides 1 buffered. At 102 it sheds the 2
    // oldest (1 over, plus 1% of 102): at tickets 102, 104, ..., 1000, 450 times.
    for i in 0..1000 {
        h.send(&created(i, T0 + i * M, "chat"), None);
        let (tickets, timers, buffered) = held(&h);
        assert!(tickets <= 101 + buffered && timers <= tickets, "{i}: {tickets} tickets, {timers} timers");
    }
    h.engine.finish(None);
    // Tickets 900 to 999 are left, each with one timer (its next SLA deadline).
    assert_eq!(held(&h), (100, 100, 0));
    let s = h.scrape();
    assert_eq!(value(&s, "ticketpulse_tickets_shed_total", &[]), 900.0);
    assert_eq!(value(&s, "ticketpulse_tracked_tickets", &[("topic", "tickets"), ("partition", "0")]), 100.0);
    let current = [("channel", "chat"), ("priority", "urgent"), ("policy", "urgent"), ("target", "first_response")];
    assert_eq!(value(&s, "ticketpulse_open_tickets", &[("channel", "chat"), ("priority", "urgent"), ("status", "new")]), 100.0);
    // At 999 min, the first responses of 900 to 968 are overdue; 969's is due right now.
    assert_eq!(value(&s, "ticketpulse_sla_breached_open_tickets", &current), 69.0);
    assert_eq!(value(&s, "ticketpulse_sla_running_targets", &current), 31.0);
    // Each ticket was held 100 min, past its 30 min deadline: tickets 0 to 968 were breached
    // (969's deadline is the end). Shed tickets' resolution deadlines (8 h) never fire.
    let mut fr = vec![("window", "24h"), ("channel", "chat"), ("priority", "urgent"), ("policy", "urgent")];
    fr.push(("target", "first_response"));
    assert_eq!(value(&s, "ticketpulse_sla_breached", &fr), 969.0);
    fr[4] = ("target", "resolution");
    assert!(!s.contains_key(&common::key("ticketpulse_sla_breached", &fr)));
}

#[test]
fn tickets_with_buffered_events_are_never_shed_so_their_dedup_memory_stays() {
    let mut config = Config::default();
    config.tickets.max_per_partition = 10;
    let h = Harness::new(&config);
    // 100 tickets 10 ms apart: all within the 10 s lateness, so all wait in the buffer.
    for i in 0..100 {
        h.send(&created(i, T0 + i * 10, "email"), None);
    }
    assert_eq!(held(&h), (100, 100, 100), "nothing shed: every ticket has a buffered event");
    assert_eq!(h.send(&created(0, T0, "email"), None), EventResult::Duplicate, "the redelivery is recognised");
    // An event 20 s later moves the watermark past all of them: applied, they may be shed.
    // 101 tickets, 1 buffered: 90 over the cap (10 besides the buffered one), plus 1% of 101.
    h.send(&created(100, T0 + 20_000, "web"), None);
    assert_eq!(held(&h), (10, 10, 1));
    let s = h.scrape();
    assert_eq!(value(&s, "ticketpulse_tickets_shed_total", &[]), 91.0);
    // The 91 least recently active (T0 to T90) went, with their dedup memory: a redelivery of
    // one of them counts again; one of the 9 kept is still recognised.
    assert_eq!(h.send(&created(95, T0 + 950, "email"), None), EventResult::Duplicate);
    assert_eq!(h.send(&created(5, T0 + 50, "email"), None), EventResult::Late);
    assert_eq!(value(&h.scrape(), "ticketpulse_events_total", &[("type", "ticket_created"), ("result", "duplicate")]), 2.0);
}

#[test]
fn a_full_reorder_buffer_moves_the_watermark_up_to_its_oldest_event() {
    let mut config = Config::default();
    config.time.max_buffered_events = 5;
    let h = Harness::new(&config);
    // 8 tickets 1 s apart: all within the 10 s lateness. The 6th, 7th and 8th each find the
    // buffer full: the watermark moves to the oldest buffered creation (T0, T0 + 1 s,
    // T0 + 2 s), which is applied.
    for i in 0..8 {
        assert_eq!(h.send(&created(i, T0 + i * 1000, "email"), None), EventResult::Ok);
    }
    assert_eq!(held(&h), (8, 8, 5));
    let s = h.scrape();
    let p = [("topic", "tickets"), ("partition", "0")];
    assert_eq!(value(&s, "ticketpulse_reorder_buffer_full_events_total", &[]), 3.0);
    assert_eq!(value(&s, "ticketpulse_buffered_events", &p), 5.0);
    assert_eq!(value(&s, "ticketpulse_watermark_seconds", &p), (T0 + 2000) as f64 / 1000.0);
    let email = [("window", "5m"), ("channel", "email"), ("priority", "urgent")];
    assert_eq!(value(&s, "ticketpulse_tickets_created", &email), 3.0);
    // Behind the pushed watermark is late, even within the lateness of the newest event.
    // (T0 + 2 s itself is not: it would wait in the buffer.)
    let reply = format!(r#"{{"event_id":"T1-2","ticket_id":"T1","type":"message","at":{},"author":"agent"}}"#, T0 + 1500);
    assert_eq!(h.send(&reply, None), EventResult::Late);
    h.engine.finish(None);
    assert_eq!(value(&h.scrape(), "ticketpulse_tickets_created", &email), 8.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_service_sheds_exactly_as_replay_does() {
    // 2000 urgent chats a minute apart, cap 100: as in the replay test above, the cap sheds
    // 2 at tickets 102, 104, ..., 2000 (950 times), and the last creation stays buffered.
    let lines: Vec<String> = (0..2000).map(|i| created(i, T0 + i * M, "chat")).collect();
    let mut config = Config::default();
    config.tickets.max_per_partition = 100;
    let expected = ticketpulse::replay::replay(&config, std::io::Cursor::new(lines.join("\n")), ticketpulse::replay::End::AsLive).unwrap();

    let broker = Broker::start();
    let topic = "memory-cap";
    common::create_topics(&broker.bootstrap, &[(topic, 1)]).await;
    let messages: Vec<(Option<String>, Vec<u8>, Option<i32>)> =
        lines.iter().enumerate().map(|(i, l)| (Some(format!("T{i}")), l.clone().into_bytes(), None)).collect();
    common::produce_all(&broker.bootstrap, topic, &messages).await;
    let mut live = common::config(&broker.bootstrap, topic);
    live.kafka.dead_letter_topic = String::new();
    live.tickets.max_per_partition = 100;
    let running = ticketpulse::service::start(live).await.unwrap();
    let text = common::scrape_until(running.http_addr, |s| common::total_events(s) == 2000.0).await;
    let s = parse_exposition(&text);
    let p = [("topic", topic), ("partition", "0")];
    assert_eq!(value(&s, "ticketpulse_tickets_shed_total", &[]), 1900.0);
    assert_eq!(value(&s, "ticketpulse_tracked_tickets", &p), 100.0);
    assert_eq!(value(&s, "ticketpulse_buffered_events", &p), 1.0);
    assert_eq!(
        value(&s, "ticketpulse_tickets_shed_total", &[]),
        value(&parse_exposition(&expected), "ticketpulse_tickets_shed_total", &[])
    );
    common::assert_same_kpis(&text, &expected);
    running.shutdown().await.unwrap();
}

#[test]
fn a_full_buffer_of_events_dated_ahead_does_not_move_time_past_the_wall_clock() {
    let mut config = Config::default();
    config.time.max_buffered_events = 2;
    let h = Harness::new(&config);
    let w = T0 + 29 * M;
    let send = |line: &str, now: i64| h.engine.handle(&partition(), line.as_bytes(), Some(now), &"test").unwrap();
    // An urgent chat created at T0: first response due at T0 + 30 min = w + 1 min.
    send(&created(0, T0, "chat"), T0);
    // At wall time w, three events dated 10, 20 and 30 s ahead: the third overflows the buffer.
    for i in 1..=3 {
        assert_eq!(send(&created(i, w + i * 10_000, "web"), w), EventResult::Ok);
    }
    let s = h.scrape();
    let p = [("topic", "tickets"), ("partition", "0")];
    assert_eq!(value(&s, "ticketpulse_reorder_buffer_full_events_total", &[]), 1.0);
    // The watermark moved only to the wall clock (not to the event 10 s ahead, which was
    // applied all the same), and the deadline 1 min ahead has not fired. The creation counts
    // in the windows whose newest slice reaches it: the 1h window's (w to w + 1 min), not the
    // 5m window's (w to w + 5 s).
    assert_eq!(value(&s, "ticketpulse_watermark_seconds", &p), (w / 1000) as f64);
    let web = |window| common::key("ticketpulse_tickets_created", &[("window", window), ("channel", "web"), ("priority", "urgent")]);
    assert_eq!((s.get(&web("1h")), s.get(&web("5m"))), (Some(&1.0), None));
    let fr = [("window", "1h"), ("channel", "chat"), ("priority", "urgent"), ("policy", "urgent"), ("target", "first_response")];
    assert!(!s.contains_key(&common::key("ticketpulse_sla_breached", &fr)));
    // It fires at its true instant: once the wall clock is 10 s (the lateness) past it.
    h.engine.advance_idle(w + M + 10_000);
    assert!(!h.scrape().contains_key(&common::key("ticketpulse_sla_breached", &fr)));
    h.engine.advance_idle(w + M + 10_001);
    assert_eq!(value(&h.scrape(), "ticketpulse_sla_breached", &fr), 1.0);
}
