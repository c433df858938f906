//! `[snapshots]`: where and how often partition state is saved.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{bad, ConfigError, KafkaConfig};

/// State snapshots. Each partition's state is saved together with the next offset to read,
/// so a restart or a new owner resumes exactly where the state left off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotsConfig {
    /// `local` (a directory: one instance, or instances sharing a volume), `kafka` (a topic:
    /// any instance of the group can take over any partition) or `none` (state is lost on
    /// restart and input is re-read from `kafka.auto_offset_reset`).
    pub store: SnapshotStoreKind,
    /// How often each partition with new input is snapshotted (also on revoke and shutdown).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Directory for `store = "local"`; created if missing.
    pub dir: PathBuf,
    /// Topic for `store = "kafka"`. It must exist; on Kafka give it `cleanup.policy=compact`.
    pub topic: String,
    /// Largest piece of a snapshot written as one Kafka message; keep it below the broker's
    /// `message.max.bytes`.
    pub chunk_bytes: usize,
}

impl Default for SnapshotsConfig {
    fn default() -> Self {
        Self {
            store: SnapshotStoreKind::Local,
            interval: Duration::from_secs(10),
            dir: PathBuf::from("ticketpulse-state"),
            topic: "ticketpulse-snapshots".into(),
            chunk_bytes: 512 * 1024,
        }
    }
}

/// Where snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStoreKind {
    Local,
    Kafka,
    None,
}

impl SnapshotsConfig {
    /// A snapshot topic must not be one `kafka` reads or dead-letters to.
    pub(super) fn validate(&self, k: &KafkaConfig) -> Result<(), ConfigError> {
        let s = self;
        if s.interval < Duration::from_millis(100) {
            return Err(bad("snapshots.interval", "must be at least 100ms"));
        }
        match s.store {
            SnapshotStoreKind::Local if s.dir.as_os_str().is_empty() => return Err(bad("snapshots.dir", "must not be empty")),
            SnapshotStoreKind::Kafka if s.topic.trim().is_empty() => return Err(bad("snapshots.topic", "must not be empty")),
            SnapshotStoreKind::Kafka if k.topics.contains(&s.topic) || s.topic == k.dead_letter_topic => {
                return Err(bad("snapshots.topic", "must differ from the input and dead-letter topics"))
            }
            _ => {}
        }
        if s.chunk_bytes < 1024 {
            return Err(bad("snapshots.chunk_bytes", "must be at least 1024"));
        }
        Ok(())
    }
}
