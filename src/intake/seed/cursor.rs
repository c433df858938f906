//! The cursor file: where the next run resumes, written atomically after each page is
//! acknowledged; apart because it is the one state `seed` keeps on disk.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use crate::intake::Source;

use super::{Cursor, CHATWOOT_STATUSES};

pub(super) fn read_cursor(path: &Path, source: Source) -> anyhow::Result<Option<Cursor>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("{}: {e}", path.display())),
    };
    let cursor: Cursor = serde_json::from_slice(&text).with_context(|| format!("{}: not a seed cursor", path.display()))?;
    let matches = matches!((&cursor, source), (Cursor::Zendesk { .. }, Source::Zendesk) | (Cursor::Chatwoot { .. }, Source::Chatwoot));
    if !matches {
        bail!("{}: a cursor of another source; give each source its own --cursor-file", path.display());
    }
    if let Cursor::Chatwoot { status, .. } = &cursor {
        if !CHATWOOT_STATUSES.contains(&status.as_str()) {
            bail!("{}: status {status:?} is not one read ({CHATWOOT_STATUSES:?})", path.display());
        }
    }
    Ok(Some(cursor))
}

/// Replaces the cursor file whole: written beside it, flushed to disk, renamed over it, and the
/// directory flushed, so a crash leaves the old cursor or the new one, never a torn file.
pub(super) fn write_cursor(path: &Path, cursor: &Cursor) -> anyhow::Result<()> {
    use std::io::Write;
    let context = || format!("{}: writing the seed cursor", path.display());
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary).with_context(context)?;
    file.write_all(&serde_json::to_vec(cursor)?).with_context(context)?;
    file.sync_all().with_context(context)?;
    std::fs::rename(&temporary, path).with_context(context)?;
    sync_parent(path);
    Ok(())
}

pub(super) fn remove_cursor(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!("{}: removing the finished seed cursor: {e}", path.display())),
    }
}

/// Flushes the directory entry of a rename (best effort: not every file system allows it).
fn sync_parent(path: &Path) {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}
