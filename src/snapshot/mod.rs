//! State snapshots: one Kafka partition's state together with the next input offset, so state
//! and input position always move together (as in Kafka Streams, Arroyo and Quix Streams). A
//! restart or a new owner loads the newest valid snapshot and seeks the consumer to its
//! offset: nothing is lost and nothing is counted twice.
//!
//! A snapshot is sealed as: magic, format version, length and xxh3-64 checksum of the payload,
//! then the payload (postcard). Stores keep the previous snapshot too, so a corrupt newest one
//! falls back to it instead of to an empty state.

mod kafka;
mod local;

pub use kafka::KafkaTopicStore;
pub use local::LocalDirStore;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::base::PartitionId;
use crate::config::Config;
use crate::dimensions::Catalog;
use crate::window::WindowSpec;

/// Bumped whenever the payload's shape changes; older snapshots are then refused by name.
pub const FORMAT_VERSION: u32 = 5;
const MAGIC: &[u8; 8] = b"TPSNAP\0\0";
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// The largest snapshot saved or loaded. Every size read back from a store (file length,
/// chunk count, chunk index, bytes assembled) is checked against it before memory is
/// allocated for it, so a corrupt one costs nothing. Far above real snapshots: 100,000
/// tickets take about 11 MB, so the default cap of 2,000,000 tickets per partition about 220 MB.
pub const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;

/// Why a snapshot could not be saved or used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the snapshot directory failed.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The snapshot topic could not be read or written.
    #[error("snapshot topic {topic}: {message}")]
    Kafka { topic: String, message: String },
    /// The bytes are not an intact snapshot (truncated, bad checksum, undecodable).
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    /// Written by a build with another format version.
    #[error("snapshot format version {found}; this build reads version {FORMAT_VERSION}")]
    Version { found: u32 },
    /// Taken under a configuration that shapes state differently; its series would be wrong.
    #[error("snapshot was taken with a different `{field}` configuration; restore the old setting or start this partition afresh")]
    ConfigChanged { field: &'static str },
    /// Stored under the wrong key.
    #[error("snapshot belongs to partition {found:?}")]
    WrongPartition { found: PartitionId },
    /// Larger than [`MAX_SNAPSHOT_BYTES`]: not written, or not read.
    #[error("snapshot of {bytes} bytes exceeds the limit of {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
}

impl SnapshotError {
    /// A bounded `reason` label value.
    pub fn reason(&self) -> &'static str {
        match self {
            SnapshotError::Io { .. } => "io",
            SnapshotError::Kafka { .. } => "kafka",
            SnapshotError::Corrupt(_) => "corrupt",
            SnapshotError::Version { .. } => "version",
            SnapshotError::ConfigChanged { .. } => "config_changed",
            SnapshotError::WrongPartition { .. } => "wrong_partition",
            SnapshotError::TooLarge { .. } => "too_large",
        }
    }
}

/// Refuses a snapshot size above [`MAX_SNAPSHOT_BYTES`].
fn check_size(bytes: u64) -> Result<(), SnapshotError> {
    if bytes > MAX_SNAPSHOT_BYTES {
        return Err(SnapshotError::TooLarge { bytes, limit: MAX_SNAPSHOT_BYTES });
    }
    Ok(())
}

/// A snapshot as read back from a store.
#[derive(Debug)]
pub struct Stored {
    /// Where it was found (file name or topic position), for log lines.
    pub name: String,
    /// Its bytes, or why what was found there cannot be a snapshot (too large, a corrupt
    /// chunk): reported and skipped like any unusable snapshot.
    pub bytes: Result<Vec<u8>, SnapshotError>,
}

/// Where snapshots live. Blocking: called from the snapshot writer thread and from the
/// rebalance callback, never from an async task.
pub trait SnapshotStore: Send + Sync {
    /// Durably saves `bytes` as the newest snapshot of `partition`.
    fn save(&self, partition: &PartitionId, bytes: &[u8]) -> Result<(), SnapshotError>;
    /// The stored snapshots of `partition`, newest first (at least the newest two, when
    /// there are two), with any unusable piece found on the way.
    fn load(&self, partition: &PartitionId) -> Result<Vec<Stored>, SnapshotError>;
}

/// What the state's layout depends on in the configuration. A snapshot is only used under
/// the same shape: window slices and dimension ids would otherwise be misread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateShape {
    pub catalog: Catalog,
    pub windows: Vec<WindowSpec>,
    /// A fingerprint of the `sla` section and of the KPI classes (abandon wait buckets,
    /// `kpis`): tickets hold policy ids and deadlines, and window slices hold counts by class,
    /// so a snapshot taken under other settings is not reused (the partition is rebuilt from
    /// its input instead, under the new settings).
    pub sla: u64,
}

impl StateShape {
    pub fn new(config: &Config, windows: Vec<WindowSpec>) -> Self {
        let classes = format!("{:?}{:?}{:?}", config.sla, config.abandonment, config.kpis);
        Self { catalog: Catalog::new(&config.dimensions), windows, sla: xxh3_64(classes.as_bytes()) }
    }
}

#[derive(Serialize, Deserialize)]
struct Body<S> {
    partition: PartitionId,
    shape: StateShape,
    state: S,
}

/// Encodes and seals a partition's state. The payload is written after room for the header,
/// which is filled in last, so the payload is never copied.
pub fn encode<S: Serialize>(partition: &PartitionId, shape: &StateShape, state: &S) -> Vec<u8> {
    let body = Body { partition: partition.clone(), shape: shape.clone(), state };
    let mut out = postcard::to_io(&body, vec![0; HEADER_LEN]).expect("in-memory state always serializes");
    let (header, payload) = out.split_at_mut(HEADER_LEN);
    let checksum = xxh3_64(payload);
    header[..8].copy_from_slice(MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    header[20..].copy_from_slice(&checksum.to_le_bytes());
    out
}

/// Checks and decodes a sealed snapshot of `partition` taken under `shape`.
pub fn decode<S: DeserializeOwned>(bytes: &[u8], partition: &PartitionId, shape: &StateShape) -> Result<S, SnapshotError> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(SnapshotError::Corrupt("not a ticketpulse snapshot (bad header)".into()));
    }
    let word = |range: std::ops::Range<usize>| -> u64 {
        let mut buf = [0u8; 8];
        buf[..range.len()].copy_from_slice(&bytes[range]);
        u64::from_le_bytes(buf)
    };
    let version = word(8..12) as u32;
    if version != FORMAT_VERSION {
        return Err(SnapshotError::Version { found: version });
    }
    let (len, checksum) = (word(12..20), word(20..28));
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(SnapshotError::Corrupt(format!("payload is {} bytes, header says {len}", payload.len())));
    }
    if xxh3_64(payload) != checksum {
        return Err(SnapshotError::Corrupt("checksum mismatch".into()));
    }
    let body: Body<S> = postcard::from_bytes(payload).map_err(|e| SnapshotError::Corrupt(e.to_string()))?;
    if body.partition != *partition {
        return Err(SnapshotError::WrongPartition { found: body.partition });
    }
    if body.shape.catalog != shape.catalog {
        return Err(SnapshotError::ConfigChanged { field: "dimensions" });
    }
    if body.shape.windows != shape.windows {
        return Err(SnapshotError::ConfigChanged { field: "time.windows" });
    }
    if body.shape.sla != shape.sla {
        return Err(SnapshotError::ConfigChanged { field: "sla" });
    }
    Ok(body.state)
}

/// A file- and key-safe rendering of a name (Kafka group ids may hold any character).
fn safe_name(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::WindowSpec;

    fn shape() -> StateShape {
        StateShape::new(&Config::default(), vec![WindowSpec::new(std::time::Duration::from_secs(60), 6)])
    }

    #[test]
    fn round_trip_and_every_kind_of_damage_is_named() {
        let p: PartitionId = ("events".into(), 3);
        let sealed = encode(&p, &shape(), &vec![1u32, 2, 3]);
        assert_eq!(decode::<Vec<u32>>(&sealed, &p, &shape()).unwrap(), vec![1, 2, 3]);

        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(decode::<Vec<u32>>(&flipped, &p, &shape()), Err(SnapshotError::Corrupt(m)) if m == "checksum mismatch"));
        let truncated = &sealed[..sealed.len() - 1];
        assert!(matches!(decode::<Vec<u32>>(truncated, &p, &shape()), Err(SnapshotError::Corrupt(_))));
        let mut future = sealed.clone();
        future[8] = 9;
        assert!(matches!(decode::<Vec<u32>>(&future, &p, &shape()), Err(SnapshotError::Version { found: 9 })));
        let other: PartitionId = ("events".into(), 4);
        assert!(matches!(decode::<Vec<u32>>(&sealed, &other, &shape()), Err(SnapshotError::WrongPartition { .. })));
        let mut changed = shape();
        changed.windows[0] = WindowSpec::new(std::time::Duration::from_secs(120), 6);
        assert!(matches!(decode::<Vec<u32>>(&sealed, &p, &changed), Err(SnapshotError::ConfigChanged { field: "time.windows" })));
    }

    #[test]
    fn safe_names_escape_separators() {
        assert_eq!(safe_name("group/a b"), "group%2Fa%20b");
        assert_eq!(safe_name("ticket-events.v1_x"), "ticket-events.v1_x");
    }
}
