//! Snapshots in a Kafka topic, so any instance of the group can take over any partition.
//!
//! A snapshot is cut into chunks of at most `chunk_bytes` (to fit the broker's message size).
//! Chunk `i` of the snapshot of input partition `p` has the key `<group>/<topic>/<p>/<i>`
//! (compaction keeps the newest chunk per index) and a header naming its snapshot, its index
//! and the chunk count. All chunks of one input partition go to the same snapshot-topic
//! partition, so loading reads one partition and keeps the complete snapshots, newest first.
//! No transactions are needed: a snapshot missing a chunk (crash mid-write) is incomplete and
//! skipped, and the previous one is used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::{safe_name, SnapshotError, SnapshotStore, Stored};
use crate::internal_events::PartitionId;
use crate::lock;

const CHUNK_MAGIC: &[u8; 4] = b"TPCK";
const CHUNK_HEADER_LEN: usize = 4 + 8 + 4 + 4;
/// Bound on any one broker round trip or on reading a snapshot partition.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Remembers the first failed delivery of the current save.
#[derive(Default)]
struct DeliveryErrors(Mutex<Option<String>>);

impl ClientContext for DeliveryErrors {}

impl ProducerContext for DeliveryErrors {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            lock(&self.0).get_or_insert_with(|| error.to_string());
        }
    }
}

/// One snapshot being reassembled: its chunks so far, and the topic offset of its newest one.
type Assembly = (Vec<Option<Vec<u8>>>, i64);

/// A snapshot topic.
pub struct KafkaTopicStore {
    producer: BaseProducer<DeliveryErrors>,
    reader_config: ClientConfig,
    topic: String,
    group: String,
    partitions: i32,
    chunk_bytes: usize,
    /// Serialises saves, so one save's delivery errors are not another's.
    save_lock: Mutex<()>,
}

impl KafkaTopicStore {
    /// Connects to `topic` (which must exist) with the client settings of `base`.
    pub fn new(base: &ClientConfig, topic: &str, group: &str, chunk_bytes: usize) -> Result<Self, SnapshotError> {
        let error = |message: String| SnapshotError::Kafka { topic: topic.to_string(), message };
        let mut producer_config = base.clone();
        producer_config.set("acks", "all").set("message.max.bytes", (chunk_bytes + 64 * 1024).to_string());
        let producer: BaseProducer<DeliveryErrors> =
            producer_config.create_with_context(DeliveryErrors::default()).map_err(|e| error(e.to_string()))?;
        let metadata = producer.client().fetch_metadata(Some(topic), TIMEOUT).map_err(|e| error(e.to_string()))?;
        let partitions = metadata.topics().iter().find(|t| t.name() == topic).map_or(0, |t| t.partitions().len() as i32);
        if partitions == 0 {
            return Err(error("topic does not exist; create it (compacted) before starting".into()));
        }
        let mut reader_config = base.clone();
        reader_config
            .set("group.id", format!("{group}.snapshot-reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.message.max.bytes", (chunk_bytes + 64 * 1024).to_string());
        Ok(Self {
            producer,
            reader_config,
            topic: topic.to_string(),
            group: group.to_string(),
            partitions,
            chunk_bytes,
            save_lock: Mutex::new(()),
        })
    }

    fn key_prefix(&self, (topic, partition): &PartitionId) -> String {
        format!("{}/{}/{}/", safe_name(&self.group), safe_name(topic), partition)
    }

    /// The snapshot-topic partition holding every chunk of one input partition.
    fn home(&self, prefix: &str) -> i32 {
        (xxh3_64(prefix.as_bytes()) % self.partitions as u64) as i32
    }

    fn error(&self, message: impl ToString) -> SnapshotError {
        SnapshotError::Kafka { topic: self.topic.clone(), message: message.to_string() }
    }
}

impl SnapshotStore for KafkaTopicStore {
    fn save(&self, partition: &PartitionId, bytes: &[u8]) -> Result<(), SnapshotError> {
        let _one_at_a_time = lock(&self.save_lock);
        let prefix = self.key_prefix(partition);
        let home = self.home(&prefix);
        // Unique per save: the same state saved twice still gets two ids.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let id = xxh3_64_with_seed(bytes, nanos);
        let chunks: Vec<&[u8]> = bytes.chunks(self.chunk_bytes).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            let mut value = Vec::with_capacity(CHUNK_HEADER_LEN + chunk.len());
            value.extend_from_slice(CHUNK_MAGIC);
            value.extend_from_slice(&id.to_le_bytes());
            value.extend_from_slice(&(index as u32).to_le_bytes());
            value.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
            value.extend_from_slice(chunk);
            let key = format!("{prefix}{index}");
            let mut record = BaseRecord::to(&self.topic).key(&key).payload(&value).partition(home);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        self.producer.poll(Duration::from_millis(50));
                    }
                    Err((e, _)) => return Err(self.error(e)),
                }
            }
        }
        self.producer.flush(TIMEOUT).map_err(|e| self.error(e))?;
        match lock(&self.producer.context().0).take() {
            Some(message) => Err(self.error(message)),
            None => Ok(()),
        }
    }

    fn load(&self, partition: &PartitionId) -> Result<Vec<Stored>, SnapshotError> {
        let prefix = self.key_prefix(partition);
        let home = self.home(&prefix);
        let consumer: BaseConsumer = self.reader_config.create().map_err(|e| self.error(e))?;
        let (low, high) = consumer.fetch_watermarks(&self.topic, home, TIMEOUT).map_err(|e| self.error(e))?;
        if high <= low {
            return Ok(Vec::new());
        }
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&self.topic, home, Offset::Offset(low)).map_err(|e| self.error(e))?;
        consumer.assign(&assignment).map_err(|e| self.error(e))?;

        let mut snapshots: HashMap<u64, Assembly> = HashMap::new();
        let started = Instant::now();
        let mut next = low;
        while next < high {
            if started.elapsed() > TIMEOUT {
                return Err(self.error(format!("reading partition {home} timed out at offset {next} of {high}")));
            }
            let Some(message) = consumer.poll(Duration::from_millis(500)) else { continue };
            let message = message.map_err(|e| self.error(e))?;
            next = message.offset() + 1;
            let is_ours = message.key().is_some_and(|k| k.starts_with(prefix.as_bytes()));
            let Some(value) = message.payload().filter(|v| is_ours && v.len() >= CHUNK_HEADER_LEN && v.starts_with(CHUNK_MAGIC)) else {
                continue;
            };
            let id = u64::from_le_bytes(value[4..12].try_into().expect("8 bytes"));
            let index = u32::from_le_bytes(value[12..16].try_into().expect("4 bytes")) as usize;
            let count = u32::from_le_bytes(value[16..20].try_into().expect("4 bytes")) as usize;
            let entry = snapshots.entry(id).or_insert_with(|| (vec![None; count], 0));
            if index < entry.0.len() {
                entry.0[index] = Some(value[CHUNK_HEADER_LEN..].to_vec());
                entry.1 = message.offset();
            }
        }
        let mut complete: Vec<(i64, Vec<u8>)> = snapshots
            .into_values()
            .filter_map(|(chunks, newest)| chunks.into_iter().collect::<Option<Vec<_>>>().map(|c| (newest, c.concat())))
            .collect();
        complete.sort_by_key(|(newest, _)| std::cmp::Reverse(*newest));
        Ok(complete.into_iter().map(|(offset, bytes)| Stored { name: format!("{}/{home}@{offset}", self.topic), bytes }).collect())
    }
}
