//! Events of the Kafka clients: their errors, and the dead-letter topic's writes.

use std::sync::atomic::Ordering;

use crate::event::InvalidReason;

use super::{InternalEvent, Telemetry, TARGET};

/// A rejected message could not be written to the dead-letter topic and was given up on:
/// counted, readiness fails until a write succeeds, and logged at most once every 10 s with
/// the message's origin so it can be found in the input.
pub struct DeadLetterFailed<'a> {
    pub topic: &'a str,
    pub origin: &'a dyn std::fmt::Display,
    pub reason: InvalidReason,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for DeadLetterFailed<'_> {
    fn emit(self, t: &Telemetry) {
        let DeadLetterFailed { topic, origin, reason, error } = self;
        t.counters.dead_letter_failures.fetch_add(1, Ordering::Relaxed);
        t.consumer.dead_letter_blocked.store(true, Ordering::Relaxed);
        if let Some(suppressed) = t.log_allowed("dead_letter_failed") {
            tracing::error!(
                target: TARGET,
                topic,
                %origin,
                reason = reason.as_str(),
                %error,
                suppressed_since_last = suppressed,
                "could not write a rejected event to the dead-letter topic; given up (find it in the input at its origin)"
            );
        }
    }
}
