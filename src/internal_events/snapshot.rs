//! Events of snapshots: saved, restored, failed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::base::PartitionId;
use crate::lock;

use super::{InternalEvent, SnapshotOperation, Telemetry, TARGET};

/// A partition's snapshot was written: counted, its size and capture pause kept as the newest.
pub struct SnapshotSaved<'a> {
    pub partition: &'a PartitionId,
    pub bytes: usize,
    pub pause: Duration,
}

impl InternalEvent for SnapshotSaved<'_> {
    fn emit(self, t: &Telemetry) {
        let SnapshotSaved { partition, bytes, pause } = self;
        t.counters.snapshots_saved.fetch_add(1, Ordering::Relaxed);
        *lock(&t.counters.last_snapshot) = Some((bytes, pause));
        tracing::debug!(target: TARGET, ?partition, bytes, pause_ms = pause.as_millis() as u64, "snapshot saved");
    }
}

/// A partition's state was restored from the stored snapshot `name`, up to `offset`.
pub struct SnapshotRestored<'a> {
    pub partition: &'a PartitionId,
    pub name: &'a str,
    pub offset: i64,
}

impl InternalEvent for SnapshotRestored<'_> {
    fn emit(self, t: &Telemetry) {
        let SnapshotRestored { partition, name, offset } = self;
        t.counters.snapshots_restored.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: TARGET, ?partition, snapshot = name, offset, "state restored from snapshot");
    }
}

/// A snapshot could not be saved, or a stored one could not be used: `reason` is the error's
/// bounded label (`SnapshotError::reason`; the snapshot module sits above this one).
pub struct SnapshotFailed<'a> {
    pub operation: SnapshotOperation,
    pub partition: &'a PartitionId,
    pub reason: &'static str,
    pub error: &'a dyn std::fmt::Display,
}

impl InternalEvent for SnapshotFailed<'_> {
    fn emit(self, t: &Telemetry) {
        let SnapshotFailed { operation, partition, reason, error } = self;
        let op = match operation {
            SnapshotOperation::Save => "save",
            SnapshotOperation::Load => "load",
        };
        *lock(&t.counters.snapshot_failures).entry((op, reason)).or_default() += 1;
        tracing::error!(target: TARGET, ?partition, operation = op, reason, %error, "snapshot {op} failed");
    }
}
