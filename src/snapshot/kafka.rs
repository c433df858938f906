//! Snapshots in a Kafka topic, so any instance of the group can take over any partition.
//!
//! A snapshot is cut into chunks of at most `chunk_bytes` (to fit the broker's message size).
//! Chunk `i` of the snapshot of input partition `p` has the key `<group>/<topic>/<p>/<i>`
//! (compaction keeps the newest chunk per index) and a header naming its snapshot, its index
//! and the chunk count. All chunks of one input partition go to the same snapshot-topic
//! partition, so loading reads one partition and keeps the complete snapshots, newest first.
//! No transactions are needed: a snapshot missing a chunk (crash mid-write) is incomplete and
//! skipped, and the previous one is used. A chunk whose header cannot be right (a count or
//! index out of range, a count its siblings disagree with, more bytes than a snapshot may
//! have) is reported as corrupt and skipped; nothing is allocated from a header's numbers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::{check_size, safe_name, SnapshotError, SnapshotStore, Stored, MAX_SNAPSHOT_BYTES};
use crate::base::PartitionId;
use crate::internal_events::Telemetry;
use crate::kafka::{ClientLog, Secrets};
use crate::lock;

const CHUNK_MAGIC: &[u8; 4] = b"TPCK";
const CHUNK_HEADER_LEN: usize = 4 + 8 + 4 + 4;
/// Bound on any one broker round trip or on reading a snapshot partition.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most chunks a snapshot can have: [`MAX_SNAPSHOT_BYTES`] cut at the smallest
/// `snapshots.chunk_bytes` (1024).
const MAX_CHUNKS: u64 = MAX_SNAPSHOT_BYTES / 1024;

/// The snapshot producer's context: remembers the first failed delivery of the current save,
/// and logs like every other client.
struct DeliveryErrors {
    first: Mutex<Option<String>>,
    log: ClientLog,
}

impl ClientContext for DeliveryErrors {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
}

impl ProducerContext for DeliveryErrors {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            lock(&self.first).get_or_insert_with(|| error.to_string());
        }
    }
}

/// One snapshot being reassembled from its chunks.
#[derive(Default)]
struct Assembly {
    /// The chunk count every chunk of it names.
    count: u64,
    chunks: BTreeMap<u64, Vec<u8>>,
    /// Bytes held in `chunks`.
    bytes: u64,
    /// Topic offset of its newest chunk.
    newest: i64,
}

/// Reassembles the snapshots of one input partition from its chunks in topic order,
/// checking every number a chunk header gives before acting on it.
struct Assembler {
    /// The most bytes one snapshot may take ([`MAX_SNAPSHOT_BYTES`]; smaller in tests).
    limit: u64,
    snapshots: HashMap<u64, Assembly>,
    /// Chunks that cannot belong to a snapshot, by topic offset.
    corrupt: Vec<(i64, SnapshotError)>,
}

impl Assembler {
    fn new(limit: u64) -> Self {
        Self { limit, snapshots: HashMap::new(), corrupt: Vec::new() }
    }

    /// Takes the chunk stored at topic `offset` (its value, header included).
    fn add(&mut self, offset: i64, value: &[u8]) {
        if let Err(error) = self.try_add(offset, value) {
            self.corrupt.push((offset, error));
        }
    }

    fn try_add(&mut self, offset: i64, value: &[u8]) -> Result<(), SnapshotError> {
        let corrupt = |message: String| Err(SnapshotError::Corrupt(message));
        if value.len() < CHUNK_HEADER_LEN || !value.starts_with(CHUNK_MAGIC) {
            return corrupt("not a ticketpulse snapshot chunk (bad header)".into());
        }
        let word = |range: std::ops::Range<usize>| -> u64 {
            let mut buf = [0u8; 8];
            buf[..range.len()].copy_from_slice(&value[range]);
            u64::from_le_bytes(buf)
        };
        let (id, index, count) = (word(4..12), word(12..16), word(16..20));
        let chunk = &value[CHUNK_HEADER_LEN..];
        if count == 0 || count > MAX_CHUNKS {
            return corrupt(format!("chunk count {count} is outside 1..={MAX_CHUNKS}"));
        }
        if index >= count {
            return corrupt(format!("chunk index {index} is not below its count {count}"));
        }
        let assembly = self.snapshots.entry(id).or_insert_with(|| Assembly { count, ..Assembly::default() });
        if assembly.count != count {
            return corrupt(format!("chunk count {count} differs from {} of the same snapshot's other chunks", assembly.count));
        }
        // A chunk written again (a producer retry) replaces the earlier copy.
        let replaced = assembly.chunks.get(&index).map_or(0, |c| c.len() as u64);
        let bytes = assembly.bytes - replaced + chunk.len() as u64;
        if bytes > self.limit {
            return Err(SnapshotError::TooLarge { bytes, limit: self.limit });
        }
        assembly.chunks.insert(index, chunk.to_vec());
        assembly.bytes = bytes;
        assembly.newest = offset;
        Ok(())
    }

    /// The complete snapshots and the corrupt chunks, newest first, each named by `name`
    /// from its topic offset. Incomplete snapshots (a crash mid-write) are left out.
    fn finish(self, name: impl Fn(i64) -> String) -> Vec<Stored> {
        let complete = self
            .snapshots
            .into_values()
            .filter(|a| a.chunks.len() as u64 == a.count)
            .map(|a| (a.newest, Ok(a.chunks.into_values().collect::<Vec<_>>().concat())));
        let mut found: Vec<(i64, Result<Vec<u8>, SnapshotError>)> =
            complete.chain(self.corrupt.into_iter().map(|(offset, error)| (offset, Err(error)))).collect();
        found.sort_by_key(|(offset, _)| std::cmp::Reverse(*offset));
        found.into_iter().map(|(offset, bytes)| Stored { name: name(offset), bytes }).collect()
    }
}

/// A snapshot topic.
pub struct KafkaTopicStore {
    producer: BaseProducer<DeliveryErrors>,
    reader_config: ClientConfig,
    reader_log: ClientLog,
    /// Secret values of the client configuration, kept out of error messages.
    secrets: Secrets,
    topic: String,
    group: String,
    partitions: i32,
    chunk_bytes: usize,
    /// Serialises saves, so one save's delivery errors are not another's.
    save_lock: Mutex<()>,
}

impl KafkaTopicStore {
    /// Connects to `topic` (which must exist) with the client settings of `base`; its clients
    /// log through `telemetry`.
    pub fn new(
        base: &ClientConfig,
        topic: &str,
        group: &str,
        chunk_bytes: usize,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, SnapshotError> {
        let secrets = Secrets::of(base);
        let error = |message: String| SnapshotError::Kafka { topic: topic.to_string(), message };
        let mut producer_config = base.clone();
        producer_config.set("acks", "all").set("message.max.bytes", (chunk_bytes + 64 * 1024).to_string());
        let context = DeliveryErrors { first: Mutex::new(None), log: ClientLog::new(Arc::clone(&telemetry), base, "snapshot producer") };
        let producer: BaseProducer<DeliveryErrors> =
            producer_config.create_with_context(context).map_err(|e| error(secrets.describe(&e)))?;
        let metadata = producer.client().fetch_metadata(Some(topic), TIMEOUT).map_err(|e| error(secrets.describe(&e)))?;
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
            reader_log: ClientLog::new(telemetry, base, "snapshot reader"),
            secrets,
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
        SnapshotError::Kafka { topic: self.topic.clone(), message: self.secrets.redact(&message.to_string()) }
    }
}

impl SnapshotStore for KafkaTopicStore {
    fn save(&self, partition: &PartitionId, bytes: &[u8]) -> Result<(), SnapshotError> {
        check_size(bytes.len() as u64)?;
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
        match lock(&self.producer.context().first).take() {
            Some(message) => Err(self.error(message)),
            None => Ok(()),
        }
    }

    fn load(&self, partition: &PartitionId) -> Result<Vec<Stored>, SnapshotError> {
        let prefix = self.key_prefix(partition);
        let home = self.home(&prefix);
        let consumer: BaseConsumer<ClientLog> =
            self.reader_config.create_with_context(self.reader_log.clone()).map_err(|e| self.error(e))?;
        let (low, high) = consumer.fetch_watermarks(&self.topic, home, TIMEOUT).map_err(|e| self.error(e))?;
        if high <= low {
            return Ok(Vec::new());
        }
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&self.topic, home, Offset::Offset(low)).map_err(|e| self.error(e))?;
        consumer.assign(&assignment).map_err(|e| self.error(e))?;

        let mut assembler = Assembler::new(MAX_SNAPSHOT_BYTES);
        let started = Instant::now();
        let mut next = low;
        while next < high {
            if started.elapsed() > TIMEOUT {
                return Err(self.error(format!("reading partition {home} timed out at offset {next} of {high}")));
            }
            let Some(message) = consumer.poll(Duration::from_millis(500)) else { continue };
            let message = message.map_err(|e| self.error(e))?;
            next = message.offset() + 1;
            // The partition holds other input partitions' chunks too; a payload-less message
            // is a deletion marker, not a chunk.
            if let Some(value) = message.payload().filter(|_| message.key().is_some_and(|k| k.starts_with(prefix.as_bytes()))) {
                assembler.add(message.offset(), value);
            }
        }
        Ok(assembler.finish(|offset| format!("{}/{home}@{offset}", self.topic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: u64, index: u32, count: u32, payload: &[u8]) -> Vec<u8> {
        [CHUNK_MAGIC.as_slice(), &id.to_le_bytes(), &index.to_le_bytes(), &count.to_le_bytes(), payload].concat()
    }

    /// (name, bytes or error text) of what a load would return.
    fn finish(assembler: Assembler) -> Vec<(String, Result<Vec<u8>, String>)> {
        assembler.finish(|offset| format!("@{offset}")).into_iter().map(|s| (s.name, s.bytes.map_err(|e| e.to_string()))).collect()
    }

    #[test]
    fn chunks_reassemble_newest_first_and_incomplete_snapshots_are_left_out() {
        let mut a = Assembler::new(MAX_SNAPSHOT_BYTES);
        a.add(0, &chunk(1, 1, 2, b"world"));
        a.add(1, &chunk(1, 0, 2, b"hello "));
        a.add(2, &chunk(2, 0, 1, b"newer"));
        a.add(3, &chunk(3, 0, 2, b"crashed mid-write"));
        a.add(4, &chunk(2, 0, 1, b"newer")); // a producer retry
        assert_eq!(finish(a), [("@4".into(), Ok(b"newer".to_vec())), ("@1".into(), Ok(b"hello world".to_vec()))]);
    }

    #[test]
    fn crafted_headers_are_skipped_as_corrupt_before_anything_is_allocated() {
        let mut a = Assembler::new(MAX_SNAPSHOT_BYTES);
        a.add(0, &chunk(1, 0, 1, b"good"));
        // What a corrupt count used to allocate 24 bytes per chunk for: about 96 GiB.
        a.add(1, &chunk(2, 0, u32::MAX, b"x"));
        a.add(2, &chunk(3, 0, 0, b"x"));
        a.add(3, &chunk(4, 2, 2, b"x"));
        a.add(4, &chunk(5, 0, 2, b"first"));
        a.add(5, &chunk(5, 1, 3, b"second"));
        a.add(6, b"TPCK short");
        assert_eq!(
            finish(a),
            [
                ("@6".into(), Err("corrupt snapshot: not a ticketpulse snapshot chunk (bad header)".into())),
                ("@5".into(), Err("corrupt snapshot: chunk count 3 differs from 2 of the same snapshot's other chunks".into())),
                ("@3".into(), Err("corrupt snapshot: chunk index 2 is not below its count 2".into())),
                ("@2".into(), Err("corrupt snapshot: chunk count 0 is outside 1..=4194304".into())),
                ("@1".into(), Err("corrupt snapshot: chunk count 4294967295 is outside 1..=4194304".into())),
                ("@0".into(), Ok(b"good".to_vec())),
            ]
        );
    }

    #[test]
    fn a_snapshot_larger_than_the_limit_is_refused_as_it_grows() {
        let mut a = Assembler::new(10);
        a.add(0, &chunk(1, 0, 3, b"12345"));
        a.add(1, &chunk(1, 1, 3, b"67890"));
        a.add(2, &chunk(1, 2, 3, b"!"));
        assert_eq!(
            finish(a),
            [("@2".into(), Err("snapshot of 11 bytes exceeds the limit of 10 bytes".into()))],
            "the 11th byte is refused, and the snapshot stays incomplete"
        );
    }
}
