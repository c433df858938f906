//! Snapshots as files: `<dir>/<group>/<topic>/<partition>/<sequence>.snap`, written to a
//! temporary file, fsynced and renamed into place, so a crash leaves either the old or the new
//! snapshot, never half of one. The newest two are kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{check_size, safe_name, SnapshotError, SnapshotStore, Stored};
use crate::base::PartitionId;

/// How many snapshots per partition are kept (the newest and its fallback).
const KEEP: usize = 2;
const SUFFIX: &str = ".snap";

/// A snapshot directory.
#[derive(Debug)]
pub struct LocalDirStore {
    root: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.display().to_string(), source }
}

impl LocalDirStore {
    /// Snapshots of consumer group `group` under `dir`.
    pub fn new(dir: &Path, group: &str) -> Result<Self, SnapshotError> {
        let root = dir.join(safe_name(group));
        fs::create_dir_all(&root).map_err(io_error(&root))?;
        Ok(Self { root })
    }

    fn partition_dir(&self, (topic, partition): &PartitionId) -> PathBuf {
        self.root.join(safe_name(topic)).join(partition.to_string())
    }

    /// Sequence numbers of the stored snapshots, oldest first.
    fn sequences(dir: &Path) -> Result<Vec<u64>, SnapshotError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(dir)(e)),
        };
        let mut sequences = Vec::new();
        for entry in entries {
            let name = entry.map_err(io_error(dir))?.file_name();
            if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)).and_then(|n| n.parse().ok()) {
                sequences.push(seq);
            }
        }
        sequences.sort_unstable();
        Ok(sequences)
    }
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}{SUFFIX}")
}

impl SnapshotStore for LocalDirStore {
    fn save(&self, partition: &PartitionId, bytes: &[u8]) -> Result<(), SnapshotError> {
        check_size(bytes.len() as u64)?;
        let dir = self.partition_dir(partition);
        fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let sequences = Self::sequences(&dir)?;
        let seq = sequences.last().map_or(1, |s| s + 1);
        let temp = dir.join(format!(".{}.tmp", file_name(seq)));
        let mut file = fs::File::create(&temp).map_err(io_error(&temp))?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io_error(&temp))?;
        let path = dir.join(file_name(seq));
        fs::rename(&temp, &path).map_err(io_error(&path))?;
        // The rename is durable once the directory entry is.
        fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io_error(&dir))?;
        for old in sequences.iter().rev().skip(KEEP - 1) {
            let old = dir.join(file_name(*old));
            if let Err(error) = fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), %error, "could not remove an old snapshot");
            }
        }
        Ok(())
    }

    fn load(&self, partition: &PartitionId) -> Result<Vec<Stored>, SnapshotError> {
        let dir = self.partition_dir(partition);
        let mut stored = Vec::new();
        for seq in Self::sequences(&dir)?.into_iter().rev() {
            let path = dir.join(file_name(seq));
            let size = fs::metadata(&path).map_err(io_error(&path))?.len();
            let bytes = match check_size(size) {
                Ok(()) => Ok(fs::read(&path).map_err(io_error(&path))?),
                Err(too_large) => Err(too_large),
            };
            stored.push(Stored { name: path.display().to_string(), bytes });
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::MAX_SNAPSHOT_BYTES;

    #[test]
    fn keeps_the_newest_two_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path(), "group/1").unwrap();
        let p: PartitionId = ("events".into(), 0);
        assert!(store.load(&p).unwrap().is_empty());
        for n in 1..=3u8 {
            store.save(&p, &[n; 4]).unwrap();
        }
        let loaded: Vec<Vec<u8>> = store.load(&p).unwrap().into_iter().map(|s| s.bytes.unwrap()).collect();
        assert_eq!(loaded, vec![vec![3; 4], vec![2; 4]]);
        let files = fs::read_dir(dir.path().join("group%2F1/events/0")).unwrap().count();
        assert_eq!(files, 2, "no temporary file or third snapshot is left behind");
        assert!(store.load(&("events".into(), 1)).unwrap().is_empty());
    }

    #[test]
    fn a_file_larger_than_the_limit_is_reported_and_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path(), "group").unwrap();
        let p: PartitionId = ("events".into(), 0);
        store.save(&p, b"older").unwrap();
        // A sparse file: its length is what a corrupt or foreign file could claim.
        let huge = fs::File::create(dir.path().join("group/events/0").join(file_name(2))).unwrap();
        huge.set_len(MAX_SNAPSHOT_BYTES + 1).unwrap();
        let loaded: Vec<Result<Vec<u8>, String>> =
            store.load(&p).unwrap().into_iter().map(|s| s.bytes.map_err(|e| e.to_string())).collect();
        assert_eq!(
            loaded,
            [
                Err(format!("snapshot of {} bytes exceeds the limit of {MAX_SNAPSHOT_BYTES} bytes", MAX_SNAPSHOT_BYTES + 1)),
                Ok(b"older".to_vec())
            ]
        );
    }
}
