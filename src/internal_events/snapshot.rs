//! Events of snapshots: saved, restored, failed.

use crate::base::PartitionId;
use crate::lock;

use super::{InternalEvent, SnapshotOperation, Telemetry, TARGET};

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
