//! Events of `intake`: webhooks answered and events the broker acknowledged.

use crate::event::EventType;
use crate::lock;

use super::{InternalEvent, Telemetry, TARGET};

/// A webhook answered, counted by source, vendor type and result; a refused one (`refusal`:
/// its reason and detail) also logged, at most once per source and reason every 10 s.
pub struct WebhookAnswered<'a> {
    pub source: &'static str,
    pub kind: &'static str,
    pub result: &'static str,
    pub refusal: Option<(&'a str, &'a str)>,
}

impl InternalEvent for WebhookAnswered<'_> {
    fn emit(self, t: &Telemetry) {
        let WebhookAnswered { source, kind, result, refusal } = self;
        if let Some((reason, detail)) = refusal {
            if let Some(suppressed) = t.log_allowed(&format!("intake {source} {reason}")) {
                tracing::warn!(target: TARGET, source, reason, detail, suppressed_since_last = suppressed, "webhook refused");
            }
        }
        *lock(&t.counters.intake_webhooks).entry((source, kind, result)).or_default() += 1;
    }
}

/// The broker acknowledged these events of one webhook from `source`: counted by type.
pub struct IntakeEventsProduced<I> {
    pub source: &'static str,
    pub types: I,
}

impl<I: IntoIterator<Item = EventType>> InternalEvent for IntakeEventsProduced<I> {
    fn emit(self, t: &Telemetry) {
        let mut produced = lock(&t.counters.intake_produced);
        for event_type in self.types {
            *produced.entry((self.source, event_type.as_str())).or_default() += 1;
        }
    }
}
