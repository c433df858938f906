//! The engine as a whole through its input path: totals counted from a committed offset, and
//! a sealed capture equal to the partition state; apart because they drive every part at once.

use super::*;
use crate::config::Config;

/// A help desk's day, sorted by time: a ticket every 6 s on cycling channels and
/// priorities; every third answered by one of 5 agents after a minute, every fourth put on
/// hold after two, every fifth solved after half an hour; the rest wait and breach.
fn desk(tickets: usize) -> Vec<String> {
    let (channels, priorities) = (["email", "chat", "phone", "web"], ["urgent", "high", "normal", "low"]);
    let mut events = Vec::new();
    for i in 0..tickets {
        let at = 1_767_600_000_000 + i as i64 * 6_000;
        let (channel, priority) = (channels[i % 4], priorities[(i / 4) % 4]);
        let ticket = format!(r#""ticket_id":"T{i}""#);
        events.push((
            at,
            format!(r#"{{"event_id":"c{i}",{ticket},"type":"ticket_created","at":{at},"channel":"{channel}","priority":"{priority}"}}"#),
        ));
        if i % 3 == 0 {
            let (at, agent) = (at + 60_000, i % 5);
            events
                .push((at, format!(r#"{{"event_id":"r{i}",{ticket},"type":"message","at":{at},"author":"agent","agent_id":"a{agent}"}}"#)));
        }
        if i % 4 == 1 {
            let at = at + 120_000;
            events.push((at, format!(r#"{{"event_id":"p{i}",{ticket},"type":"status_changed","at":{at},"status":"pending"}}"#)));
        }
        if i % 5 == 2 {
            let at = at + 1_800_000;
            events.push((at, format!(r#"{{"event_id":"s{i}",{ticket},"type":"status_changed","at":{at},"status":"solved"}}"#)));
        }
    }
    events.sort_by_key(|(at, _)| *at);
    events.into_iter().map(|(_, event)| event).collect()
}

/// After `count_totals_from(7)`, what handling messages 0..7 produces rebuilds the tickets
/// and windows but adds nothing to the totals; what handling 7 on produces counts, as the
/// previous owner, stopped after offset 6, did not count it. 10 creations at offsets 0..10
/// (email/normal, a minute apart), then a rejected message: 10 tickets, totals 4 (the
/// creation at offset 6 was still in the reorder buffer at the commit: offset 7's arrival
/// applies it, then 7, 8 and 9). A snapshot taken before offset 7 keeps the boundary.
#[test]
fn totals_count_from_the_committed_offset_only() {
    let engine = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    let id: PartitionId = ("tickets".into(), 0);
    engine.count_totals_from(&id, 7);
    let created = |engine: &Engine| -> (u64, u64) {
        let lane = engine.partition(&id).unwrap();
        let p = lock(&lane);
        let totals = p.state.totals.kpi.values().map(|t| t.created).sum();
        let windowed = p.state.tickets.len() as u64;
        (totals, windowed)
    };
    let at = 1_767_603_600_000_i64;
    let event = |i: i64| {
        format!(
            r#"{{"event_id":"c{i}","ticket_id":"T{i}","type":"ticket_created","at":{},"channel":"email","priority":"normal"}}"#,
            at + i * 60_000
        )
    };
    let mut snapshot = None;
    for i in 0..10 {
        engine.handle_in(&engine.lane(&id), &id, Some(i), event(i).as_bytes(), None, &"test").unwrap();
        if i == 4 {
            snapshot = engine.snapshot(&id);
        }
    }
    engine.finish(Some(at + 3_600_000));
    assert_eq!(created(&engine), (4, 10));
    // Restored from offset 5: 5..7 still rebuild only, 7..10 count.
    let restored = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    let (offset, bytes) = snapshot.unwrap();
    assert_eq!(restored.restore(&id, &bytes, None).unwrap(), 5);
    for i in 5..10 {
        restored.handle_in(&restored.lane(&id), &id, Some(i), event(i).as_bytes(), None, &"test").unwrap();
    }
    assert!(restored.handle_in(&restored.lane(&id), &id, Some(10), b"not json", None, &"test").is_err());
    restored.finish(Some(at + 3_600_000));
    assert_eq!((offset, created(&restored)), (5, (4, 10)));
    // Read to the end with the gate set: what the advance to the wall clock fires (the
    // buffered creations) was the previous owner's to count; the next message counts.
    let caught = Engine::new(Rules::new(&Config::default()).unwrap(), Arc::new(Telemetry::default()));
    caught.count_totals_from(&id, 3);
    for i in 0..3 {
        caught.handle_in(&caught.lane(&id), &id, Some(i), event(i).as_bytes(), None, &"test").unwrap();
    }
    caught.caught_up(&id, at + 7_200_000);
    assert_eq!(created(&caught), (0, 3));
    caught.handle_in(&caught.lane(&id), &id, Some(3), event(3).as_bytes(), None, &"test").unwrap();
    caught.finish(Some(at + 7_200_000));
    assert_eq!(created(&caught), (1, 4));
    // A committed offset the state is already past changes nothing.
    restored.count_totals_from(&id, 3);
    restored.handle_in(&restored.lane(&id), &id, Some(11), event(11).as_bytes(), None, &"test").unwrap();
    restored.finish(Some(at + 3_600_000));
    assert_eq!(created(&restored), (5, 11));
}

/// A sealed capture is byte for byte the encoding of the partition's own state at capture
/// time: the timer queue and the gauges rebuilt from the tickets are the ones kept up to
/// date event by event, through SLA breaches, solved tickets evicted after the retention,
/// per-agent windows and tickets shed at the cap.
#[test]
fn a_sealed_capture_encodes_exactly_the_partition_state() {
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    config.tickets.retention = std::time::Duration::from_secs(3600);
    config.tickets.max_per_partition = 1000;
    let events = desk(12_000);
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let id: PartitionId = ("tickets".into(), 0);
    // Which gauges the comparisons saw non-empty: breached, paused, running deadlines.
    let mut seen = [false; 3];
    for (offset, event) in events.iter().enumerate() {
        let _ = engine.handle(&id, event.as_bytes(), None, &"test");
        engine.consumed(&id, offset as i64);
        if offset % 5_000 == 4_999 {
            let lane = engine.partition(&id).unwrap();
            let partition = lock(&lane);
            let direct = snapshot::encode(&id, &engine.rules.shape, &partition.state);
            let capture = partition.capture(&id).unwrap();
            assert_eq!(capture.offset(), offset as i64 + 1);
            assert!(direct == capture.seal(), "after {} events", offset + 1);
            let g = &partition.state.gauges;
            for (seen, empty) in seen.iter_mut().zip([g.breached.is_empty(), g.paused.is_empty(), g.deadlines.is_empty()]) {
                *seen |= !empty;
            }
        }
    }
    assert_eq!(seen, [true; 3]);
    assert!(telemetry.shed_count() > 0, "the cap shed tickets");
}
