//! The intake's Kafka producer: idempotent, on the client configuration every ticketpulse
//! client shares (TLS, SASL, redaction), and a webhook's events acknowledged before it is
//! answered.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::ClientConfig;

use super::mapping::Outgoing;
use crate::config::Config;
use crate::internal_events::Telemetry;
use crate::kafka::{client_config, ClientError, ClientReports};

/// Why a webhook's events were not all acknowledged (answered 503: the help desk retries).
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The broker refused or did not acknowledge an event within `intake.produce_timeout`.
    #[error("the broker did not acknowledge event {index}: {message}")]
    Delivery { index: usize, message: String, code: Option<RDKafkaErrorCode> },
    /// Not every acknowledgement arrived within `intake.produce_timeout`.
    #[error("no acknowledgement within intake.produce_timeout")]
    Timeout,
}

/// librdkafka's reports go to the shared [`ClientReports`]: readiness follows the brokers'
/// reachability, as the consumer's does.
type Client = FutureProducer<ClientReports>;

/// Produces events keyed by ticket id to `intake.topic`.
pub struct Producer {
    /// Replaced after a fatal error (see [`Producer::send_all`]).
    inner: RwLock<Arc<Client>>,
    client: ClientConfig,
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
        client
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .set("statistics.interval.ms", "5000");
        let inner = RwLock::new(Arc::new(create(&client, &telemetry)?));
        Ok(Self { inner, client, topic: config.intake.topic.clone(), timeout, telemetry })
    }

    fn current(&self) -> Arc<Client> {
        Arc::clone(&self.inner.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sends every event, then waits until the broker acknowledged all of them (or one
    /// failed, or `produce_timeout` passed).
    pub async fn send_all(&self, events: &[Outgoing]) -> Result<(), ProduceError> {
        let records: Vec<(&str, &str)> = events.iter().map(|e| (e.key.as_str(), e.payload.as_str())).collect();
        self.send_records(&records).await
    }

    /// [`Producer::send_all`] for (key, payload) records (`intake seed`'s snapshots).
    pub async fn send_records(&self, records: &[(&str, &str)]) -> Result<(), ProduceError> {
        let producer = self.current();
        let result = self.send_with(&producer, records).await;
        if let Err(error) = &result {
            self.replace_if_dead(&producer, error);
        }
        result
    }

    /// An idempotent producer that librdkafka declared fatally failed, or that the broker
    /// fences, fails every write from then on. Seen on tansu: once messages timed out during
    /// an outage, librdkafka bumps the producer epoch, and tansu answers every later write
    /// with `ProducerFenced` (librdkafka does not count that as fatal for a non-transactional
    /// producer). The remedy is a new instance, which gets a new producer id; what the old one
    /// still held has already failed, so those webhooks were answered 503 and are retried.
    fn replace_if_dead(&self, failed: &Arc<Client>, error: &ProduceError) {
        let fenced = matches!(
            error,
            ProduceError::Delivery { code: Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::InvalidProducerEpoch), .. }
        );
        let reason = match failed.client().fatal_error() {
            Some((code, reason)) => format!("{code:?}: {reason}"),
            None if fenced => error.to_string(),
            None => return,
        };
        let mut current = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&current, failed) {
            return; // Another webhook replaced it already.
        }
        tracing::error!(%reason, "intake producer: unusable; creating a new producer");
        match create(&self.client, &self.telemetry) {
            Ok(fresh) => *current = Arc::new(fresh),
            Err(error) => tracing::error!(%error, "intake producer: could not be recreated; retrying on the next webhook"),
        }
    }

    async fn send_with(&self, producer: &Client, records: &[(&str, &str)]) -> Result<(), ProduceError> {
        let mut deliveries = Vec::with_capacity(records.len());
        for (index, (key, payload)) in records.iter().enumerate() {
            let record = FutureRecord::to(&self.topic).key(*key).payload(*payload);
            match producer.send_result(record) {
                Ok(delivery) => deliveries.push((index, delivery)),
                Err((error, _)) => return Err(refused(index, &error)),
            }
        }
        let acknowledged = async {
            for (index, delivery) in deliveries {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((error, _))) => return Err(refused(index, &error)),
                    Err(_) => {
                        return Err(ProduceError::Delivery { index, message: "the producer closed before delivery".into(), code: None })
                    }
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
        if let Err(error) = self.current().flush(timeout) {
            tracing::warn!(%error, "intake producer: events still unacknowledged at shutdown");
        }
    }
}

fn create(client: &ClientConfig, telemetry: &Arc<Telemetry>) -> Result<Client, ClientError> {
    crate::kafka::create(client, ClientReports::new(Arc::clone(telemetry), client, "intake producer"), "intake producer")
}

fn refused(index: usize, error: &KafkaError) -> ProduceError {
    ProduceError::Delivery { index, message: error.to_string(), code: error.rdkafka_error_code() }
}
