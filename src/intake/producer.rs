//! The intake's Kafka producer: idempotent, on the client configuration every ticketpulse
//! client shares (TLS, SASL, redaction), and a webhook's events acknowledged before it is
//! answered.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::ClientContext;

use super::mapping::Outgoing;
use crate::config::Config;
use crate::internal_events::Telemetry;
use crate::kafka::{client_config, ClientError, ClientLog};

/// Why a webhook's events were not all acknowledged (answered 503: the help desk retries).
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The broker refused or did not acknowledge an event within `intake.produce_timeout`.
    #[error("the broker did not acknowledge event {index}: {message}")]
    Delivery { index: usize, message: String },
    /// Not every acknowledgement arrived within `intake.produce_timeout`.
    #[error("no acknowledgement within intake.produce_timeout")]
    Timeout,
}

/// librdkafka's reports, through the shared log; readiness follows the brokers' reachability.
#[derive(Clone)]
struct ProducerContext {
    log: ClientLog,
    telemetry: Arc<Telemetry>,
}

impl ClientContext for ProducerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.telemetry.set_broker_reachable(false);
        }
        self.log.error(error, reason);
    }
}

/// Produces events keyed by ticket id to `intake.topic`.
pub struct Producer {
    inner: FutureProducer<ProducerContext>,
    topic: String,
    timeout: Duration,
    telemetry: Arc<Telemetry>,
}

impl Producer {
    pub fn new(config: &Config, telemetry: Arc<Telemetry>) -> Result<Self, ClientError> {
        let timeout = config.intake.produce_timeout;
        let mut client = client_config(&config.kafka);
        // Idempotence: a librdkafka retry after a lost acknowledgement is not written twice
        // (it implies acks=all). A help desk's own retries are deduplicated by event_id.
        client.set("enable.idempotence", "true").set("message.timeout.ms", timeout.as_millis().to_string());
        let context =
            ProducerContext { log: ClientLog::new(Arc::clone(&telemetry), &client, "intake producer"), telemetry: Arc::clone(&telemetry) };
        let inner = crate::kafka::create(&client, context, "intake producer")?;
        Ok(Self { inner, topic: config.intake.topic.clone(), timeout, telemetry })
    }

    /// Sends every event, then waits until the broker acknowledged all of them (or one
    /// failed, or `produce_timeout` passed).
    pub async fn send_all(&self, events: &[Outgoing]) -> Result<(), ProduceError> {
        let mut deliveries = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            let record = FutureRecord::to(&self.topic).key(&event.key).payload(&event.payload);
            match self.inner.send_result(record) {
                Ok(delivery) => deliveries.push((index, delivery)),
                Err((error, _)) => return Err(ProduceError::Delivery { index, message: error.to_string() }),
            }
        }
        let acknowledged = async {
            for (index, delivery) in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((error, _))) => return Err(ProduceError::Delivery { index, message: error.to_string() }),
                    Err(_) => return Err(ProduceError::Delivery { index, message: "the producer closed before delivery".into() }),
                }
            }
            Ok(())
        };
        // librdkafka fails each message after message.timeout.ms itself; this bounds the wait
        // even if a report were lost.
        let result =
            tokio::time::timeout(self.timeout + Duration::from_millis(500), acknowledged).await.unwrap_or(Err(ProduceError::Timeout));
        if result.is_ok() {
            self.telemetry.set_broker_reachable(true);
        }
        result
    }

    /// Waits up to `timeout` for events still in flight (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        if let Err(error) = self.inner.flush(timeout) {
            tracing::warn!(%error, "intake producer: events still unacknowledged at shutdown");
        }
    }
}
