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
/// The KPI slice is the exception: its layout follows its declarations and is checked on its own
/// ([`SnapshotError::Layout`]). `tests/snapshots.rs` reads a stored snapshot
/// (`tests/data/snapshot.bin`) and fails when the layout changed without a bump.
pub const FORMAT_VERSION: u32 = 10;
const MAGIC: &[u8; 8] = b"TPSNAP\0\0";
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// The largest snapshot saved or loaded. Every size read back from a store (file length,
/// chunk count, chunk index, bytes assembled) is checked against it before memory is
/// allocated for it, so a corrupt one costs nothing. Far above real snapshots: 100,000
/// tickets take about 11 MB, so the default cap of 2,000,000 tickets per partition about 220 MB.
pub(crate) const MAX_SNAPSHOT_BYTES: u64 = 4 << 30;

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
    /// Written by a build that declares other windowed KPIs (`src/kpi/catalogue.rs`): its
    /// window slices are laid out otherwise.
    #[error("snapshot was written by a build with other KPI declarations (window slices laid out otherwise); start this partition afresh")]
    Layout,
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
            SnapshotError::Version { .. } | SnapshotError::Layout => "version",
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

/// What the state's layout depends on: the configuration that shapes it and the KPI slice's
/// layout. A snapshot is only used under the same shape: window slices and dimension ids would
/// otherwise be misread, and counts taken under other classes mixed with new ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateShape {
    pub catalog: Catalog,
    pub windows: Vec<WindowSpec>,
    /// A fingerprint of each other setting that shapes stored state, by name ([`shaping`]).
    settings: Vec<(&'static str, u64)>,
    /// A fingerprint of [`crate::kpi::LAYOUT`].
    layout: u64,
}

/// A [`StateShape`] as stored: the settings by the names they had.
#[derive(Deserialize)]
struct StoredShape {
    catalog: Catalog,
    windows: Vec<WindowSpec>,
    settings: Vec<(String, u64)>,
    layout: u64,
}

/// Fingerprints of the settings that shape stored state, besides `dimensions` (the catalog)
/// and `time.windows`: tickets hold policy ids, SLA clocks and pauses; window slices hold
/// counts by class (abandons short or by wait, real-time answers within threshold, good
/// ratings, negative sentiment) and topics and agents under the labels recorded. Settings only
/// read at scrape time are not among them (`sla.at_risk_horizons`, `kpis.backlog`,
/// `kpis.topics.top`, `kpis.agents.top`, `kpis.cost`, `kpis.staffing` but for its two
/// recording settings), nor input checks (survey scales).
fn shaping(config: &Config) -> Vec<(&'static str, u64)> {
    let (sla, k) = (&config.sla, &config.kpis);
    let fingerprint = |value: &dyn std::fmt::Debug| xxh3_64(format!("{value:?}").as_bytes());
    vec![
        ("sla.policies", fingerprint(&sla.policies)),
        ("sla.calendars", fingerprint(&sla.calendars)),
        ("sla.pause_statuses", fingerprint(&sla.pause_statuses)),
        ("abandonment.short_abandon_threshold", fingerprint(&config.abandonment.short_abandon_threshold)),
        ("abandonment.wait_buckets", fingerprint(&config.abandonment.wait_buckets)),
        ("abandonment.ends_contact", fingerprint(&config.abandonment.ends_contact)),
        ("kpis.realtime", fingerprint(&k.realtime)),
        ("kpis.surveys.csat.good_from", fingerprint(&k.surveys.csat.good_from)),
        ("kpis.surveys.ces.good_from", fingerprint(&k.surveys.ces.good_from)),
        ("kpis.surveys.esat.good_from", fingerprint(&k.surveys.esat.good_from)),
        ("kpis.sentiment.negative_below", fingerprint(&k.sentiment.negative_below)),
        ("kpis.topics.allow", fingerprint(&k.topics.allow)),
        ("kpis.topics.max_tracked_per_slice", fingerprint(&k.topics.max_tracked_per_slice)),
        ("kpis.agents.enabled", fingerprint(&k.agents.enabled)),
        ("kpis.agents.allow", fingerprint(&k.agents.allow)),
        ("kpis.agents.max_tracked_per_slice", fingerprint(&k.agents.max_tracked_per_slice)),
        // Totals' histograms count by bucket: other bounds would misplace every count.
        ("kpis.histograms.buckets", fingerprint(&k.histograms.buckets)),
        ("kpis.staffing.enabled", fingerprint(&k.staffing.enabled)),
        ("kpis.staffing.max_agents_per_slice", fingerprint(&k.staffing.max_agents_per_slice)),
    ]
}

impl StateShape {
    pub fn new(config: &Config, windows: Vec<WindowSpec>) -> Self {
        Self {
            catalog: Catalog::new(&config.dimensions),
            windows,
            settings: shaping(config),
            layout: xxh3_64(crate::kpi::LAYOUT.as_bytes()),
        }
    }

    /// Why a snapshot stored under `stored` cannot be read under this shape, naming the first
    /// setting that differs.
    fn refuse(&self, stored: &StoredShape) -> Option<SnapshotError> {
        if stored.catalog != self.catalog {
            return Some(SnapshotError::ConfigChanged { field: "dimensions" });
        }
        if stored.windows != self.windows {
            return Some(SnapshotError::ConfigChanged { field: "time.windows" });
        }
        for (name, fingerprint) in &self.settings {
            if !stored.settings.iter().any(|(n, f)| n == name && f == fingerprint) {
                return Some(SnapshotError::ConfigChanged { field: name });
            }
        }
        (stored.layout != self.layout).then_some(SnapshotError::Layout)
    }
}

#[derive(Serialize)]
struct Body<'a, S> {
    partition: &'a PartitionId,
    shape: &'a StateShape,
    state: &'a S,
}

/// Encodes and seals a partition's state. The payload is written after room for the header,
/// which is filled in last, so the payload is never copied.
pub(crate) fn encode<S: Serialize>(partition: &PartitionId, shape: &StateShape, state: &S) -> Vec<u8> {
    let body = Body { partition, shape, state };
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
pub(crate) fn decode<S: DeserializeOwned>(bytes: &[u8], partition: &PartitionId, shape: &StateShape) -> Result<S, SnapshotError> {
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
    // The partition and the shape first, so a state laid out otherwise is refused by name
    // rather than misread.
    let corrupt = |e: postcard::Error| SnapshotError::Corrupt(e.to_string());
    let ((found, stored), state): ((PartitionId, StoredShape), _) = postcard::take_from_bytes(payload).map_err(corrupt)?;
    if found != *partition {
        return Err(SnapshotError::WrongPartition { found });
    }
    if let Some(refusal) = shape.refuse(&stored) {
        return Err(refusal);
    }
    postcard::from_bytes(state).map_err(corrupt)
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
        future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert!(matches!(decode::<Vec<u32>>(&future, &p, &shape()), Err(SnapshotError::Version { found }) if found == FORMAT_VERSION + 1));
        let other: PartitionId = ("events".into(), 4);
        assert!(matches!(decode::<Vec<u32>>(&sealed, &other, &shape()), Err(SnapshotError::WrongPartition { .. })));
        let mut changed = shape();
        changed.windows[0] = WindowSpec::new(std::time::Duration::from_secs(120), 6);
        assert!(matches!(decode::<Vec<u32>>(&sealed, &p, &changed), Err(SnapshotError::ConfigChanged { field: "time.windows" })));
    }

    /// Settings only read at scrape time keep the shape; each that shapes stored state is
    /// named when it changed, and so is a build with other KPI declarations.
    #[test]
    fn a_refusal_names_the_setting_that_shapes_state_and_reading_settings_shape_nothing() {
        let windows = vec![WindowSpec::new(std::time::Duration::from_secs(60), 6)];
        let base = Config::default();
        let mut reading = base.clone();
        reading.kpis.cost.per_hour = Some(90.0);
        reading.kpis.topics.top = 3;
        reading.kpis.agents.top = 3;
        reading.kpis.backlog.stale_after = std::time::Duration::from_secs(60);
        reading.kpis.backlog.age_buckets.pop();
        reading.sla.at_risk_horizons.pop();
        reading.kpis.surveys.csat.max = 10.0;
        // Native buckets are counted either way; the setting only picks the format served.
        reading.kpis.histograms.native = false;
        assert_eq!(StateShape::new(&reading, windows.clone()), StateShape::new(&base, windows.clone()));

        let p: PartitionId = ("events".into(), 0);
        let sealed = encode(&p, &StateShape::new(&base, windows.clone()), &1u8);
        let refusal = |change: &dyn Fn(&mut Config)| {
            let mut changed = base.clone();
            change(&mut changed);
            match decode::<u8>(&sealed, &p, &StateShape::new(&changed, windows.clone())) {
                Err(SnapshotError::ConfigChanged { field }) => field,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(refusal(&|c| c.abandonment.wait_buckets.pop().map(drop).unwrap()), "abandonment.wait_buckets");
        assert_eq!(refusal(&|c| c.abandonment.ends_contact = false), "abandonment.ends_contact");
        assert_eq!(refusal(&|c| c.sla.policies[0].first_response = Some(std::time::Duration::from_secs(60))), "sla.policies");
        assert_eq!(refusal(&|c| c.kpis.topics.allow = vec!["billing".into()]), "kpis.topics.allow");
        assert_eq!(refusal(&|c| c.kpis.agents.enabled = true), "kpis.agents.enabled");
        assert_eq!(refusal(&|c| c.kpis.surveys.csat.good_from = 5.0), "kpis.surveys.csat.good_from");

        let mut other_build = StateShape::new(&base, windows);
        other_build.layout ^= 1;
        assert!(matches!(decode::<u8>(&sealed, &p, &other_build), Err(SnapshotError::Layout)));
    }

    #[test]
    fn safe_names_escape_separators() {
        assert_eq!(safe_name("group/a b"), "group%2Fa%20b");
        assert_eq!(safe_name("ticket-events.v1_x"), "ticket-events.v1_x");
    }
}
