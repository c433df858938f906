//! Unit tests of the whole: the log gate, the counters and the events through `Telemetry`.

use super::*;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::sync::Arc;

/// The log lines `f` writes.
fn logged(f: impl FnOnce()) -> Vec<String> {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).without_time().finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(lock(&buffer.0).clone()).unwrap();
    text.lines().map(String::from).collect()
}

#[test]
fn the_gate_passes_one_line_per_kind_per_interval_and_counts_the_rest() {
    let t = Telemetry::default();
    let start = Instant::now();
    let at = |s| start + Duration::from_secs(s);
    let calls = [("a", 0), ("a", 3), ("b", 3), ("a", 9), ("a", 10), ("a", 12), ("b", 12), ("a", 25)];
    let gated: Vec<Option<u64>> = calls.iter().map(|(kind, s)| t.log_allowed_at(kind, at(*s))).collect();
    assert_eq!(gated, [Some(0), None, Some(0), None, Some(2), None, None, Some(1)]);
}

#[test]
fn events_count_under_their_type_and_result_and_unreadable_ones_as_unknown() {
    let t = Telemetry::default();
    t.emit(EventProcessed { event_type: Some(EventType::SurveyResponse), result: EventResult::Late });
    t.emit(EventProcessed { event_type: Some(EventType::SurveyResponse), result: EventResult::Late });
    t.emit(EventProcessed { event_type: Some(EventType::TicketCreated), result: EventResult::Duplicate });
    t.emit(EventProcessed { event_type: None, result: EventResult::Invalid });
    let counts = t.event_counts();
    assert_eq!(counts.len(), 10 * 4, "9 types and unknown, by 4 results, zeros included");
    let nonzero: Vec<_> = counts.into_iter().filter(|(_, _, n)| *n > 0).collect();
    assert_eq!(
        nonzero,
        [("ticket_created", EventResult::Duplicate, 1), ("survey_response", EventResult::Late, 2), ("unknown", EventResult::Invalid, 1)]
    );
}

#[test]
fn a_broker_outage_logs_one_line_per_error_code() {
    let t = Telemetry::default();
    let lines = logged(|| {
        // What one outage repeats many times a second: the error callback and the
        // consumer's poll report the same code.
        for _ in 0..100 {
            t.emit(KafkaClientError {
                client: "consumer",
                error: &KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
                reason: "1/1 brokers are down",
            });
            t.emit(KafkaClientError {
                client: "consumer",
                error: &KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown),
                reason: "",
            });
            t.emit(KafkaClientError {
                client: "dead-letter producer",
                error: &KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
                reason: "1/1 brokers are down",
            });
        }
        t.emit(KafkaClientError {
            client: "consumer",
            error: &KafkaError::Global(RDKafkaErrorCode::SSL),
            reason: "SSL handshake failed: certificate verify failed",
        });
        t.emit(KafkaClientError {
            client: "consumer",
            error: &KafkaError::Global(RDKafkaErrorCode::SSL),
            reason: "SSL handshake failed: certificate verify failed",
        });
    });
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("Kafka client error") && lines[0].contains("AllBrokersDown"), "{}", lines[0]);
    assert!(lines[0].contains("reason=\"1/1 brokers are down\" suppressed_since_last=0"), "{}", lines[0]);
    assert!(lines[1].contains("SSL") && lines[1].contains("certificate verify failed"), "{}", lines[1]);
    let gate = lock(&t.log_gate);
    assert_eq!(gate.get("kafka AllBrokersDown").map(|(_, n)| *n), Some(299), "suppressed, counted for the next line");
    assert_eq!(gate.get("kafka SSL").map(|(_, n)| *n), Some(1));
}

#[test]
fn an_end_of_partition_on_the_client_queue_is_no_error() {
    let t = Telemetry::default();
    let reason = "Fetch from broker 111 reached end of partition at offset 28 (HighwaterMark 28)";
    let lines =
        logged(|| t.emit(KafkaClientError { client: "consumer", error: &KafkaError::Global(RDKafkaErrorCode::PartitionEOF), reason }));
    assert_eq!(lines, Vec::<String>::new());
    assert!(lock(&t.log_gate).is_empty(), "nothing counted as suppressed");
}

#[test]
fn dead_letter_failures_block_readiness_until_a_write_succeeds() {
    let t = Telemetry::default();
    let lines = logged(|| {
        for offset in 0..3 {
            let origin = format!("events/0@{offset}");
            t.emit(DeadLetterFailed { topic: "dlq", origin: &origin, reason: InvalidReason::ALL[0], error: &"Message timed out" });
        }
    });
    assert_eq!(t.dead_letter_counts(), (0, 3));
    assert!(t.dead_letter_blocked());
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("origin=events/0@0") && lines[0].contains("Message timed out"), "{}", lines[0]);
    t.emit(DeadLettered);
    assert_eq!(t.dead_letter_counts(), (1, 3));
    assert!(!t.dead_letter_blocked());
}

#[test]
fn every_event_logs_under_the_target_operators_filter_on_whichever_file_writes_it() {
    let t = Telemetry::default();
    let partition = ("tickets".to_string(), 3);
    let lines = logged(|| {
        t.emit(TicketsShed { partition: &partition, count: 2, cap: 10 });
        t.emit(HttpConnectionDropped(HttpDrop::Refused));
    });
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with(" WARN ticketpulse::internal_events: ticket cap reached"), "{}", lines[0]);
    assert!(lines[1].starts_with(" WARN ticketpulse::internal_events: HTTP connection closed early"), "{}", lines[1]);
    assert_eq!(t.shed_count(), 2);
}
