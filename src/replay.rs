//! `ticketpulse replay`: JSON Lines through the same engine as the live service, then time
//! advanced to the end and the Prometheus exposition printed. No wall clock is read, so the
//! same input always gives byte-identical output: the backfill and "what would the SLA have
//! been" tool.

pub mod history;

use std::io::BufRead;
use std::sync::Arc;

use crate::base::{Millis, PartitionId};
use crate::config::Config;
use crate::engine::{Engine, Rules};
use crate::exporter;
use crate::internal_events::Telemetry;

/// Replay runs all input as one partition.
pub(crate) fn replay_partition() -> PartitionId {
    ("replay".to_string(), 0)
}

/// Where a replay stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The input is complete: apply everything, advance to this time (default: the newest
    /// event time) and fire every timer up to it.
    Flush(Option<Millis>),
    /// As the live service would stand after the last message: the watermark stays
    /// `allowed_lateness` behind the newest event time.
    AsLive,
}

/// Feeds every line of `input` to a fresh engine, stops as `end` says and returns the
/// exposition. A line longer than `events.max_message_bytes` is rejected as `oversized`
/// without being held in memory.
pub fn replay(config: &Config, input: impl BufRead, end: End) -> std::io::Result<String> {
    let telemetry = Arc::new(Telemetry::default());
    let end_time = match end {
        End::Flush(end_time) => end_time,
        End::AsLive => None,
    };
    let rules = Rules::new(config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let engine = Engine::new(rules, Arc::clone(&telemetry)).with_end_time(end_time);
    let partition = replay_partition();
    each_line(input, config, |n, line, _| {
        // Invalid lines are counted and logged by the engine; replay carries on.
        let _ = engine.handle(&partition, line, None, &format_args!("line {n}"));
        Ok(())
    })?;
    if let End::Flush(end_time) = end {
        engine.finish(end_time);
    }
    let rules = exporter::ExportRules::new(config);
    Ok(exporter::write_text(&engine.view(None), &rules, &telemetry))
}

/// Feeds `each` every line of `input` that is not blank, with its number (from 1), without
/// its newline (nor a `\r` before it), and whether it is complete: a line longer than
/// `events.max_message_bytes` is cut one byte after the limit (enough to know it is oversized)
/// and the rest skipped unread into memory.
pub(crate) fn each_line(
    mut input: impl BufRead,
    config: &Config,
    mut each: impl FnMut(u64, &[u8], bool) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let keep = config.events.max_message_bytes.saturating_add(1);
    let mut buf = Vec::new();
    let mut n = 0;
    while let Some(complete) = read_line(&mut input, &mut buf, keep)? {
        n += 1;
        let line = if complete { buf.strip_suffix(b"\r").unwrap_or(&buf) } else { &buf[..] };
        if complete && line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        each(n, line, complete)?;
    }
    Ok(())
}

/// Reads the next line into `buf` without its newline, keeping at most `keep` bytes and
/// skipping the rest unread into memory. `None` at the end of input; `Some(false)` when the
/// line was cut.
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, keep: usize) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut complete = true;
    let mut read_any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(read_any.then_some(complete));
        }
        read_any = true;
        let newline = memchr::memchr(b'\n', chunk);
        let part = &chunk[..newline.unwrap_or(chunk.len())];
        let room = keep.saturating_sub(buf.len());
        complete &= part.len() <= room;
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = newline.map_or(chunk.len(), |i| i + 1);
        input.consume(used);
        if newline.is_some() {
            return Ok(Some(complete));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], keep: usize) -> Vec<(Vec<u8>, bool)> {
        // A 4-byte buffer makes lines span several chunks.
        let mut reader = std::io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(complete) = read_line(&mut reader, &mut buf, keep).unwrap() {
            out.push((buf.clone(), complete));
        }
        out
    }

    #[test]
    fn long_lines_are_cut_at_the_limit_and_skipped_to_the_next_newline() {
        let got = lines(b"abc\nabcdefghij\n\nxyz", 5);
        let expected: Vec<(Vec<u8>, bool)> =
            vec![(b"abc".to_vec(), true), (b"abcde".to_vec(), false), (Vec::new(), true), (b"xyz".to_vec(), true)];
        assert_eq!(got, expected);
        // Exactly `keep` bytes is complete; one more is cut.
        assert_eq!(lines(b"abcde\nabcdef", 5), vec![(b"abcde".to_vec(), true), (b"abcde".to_vec(), false)]);
        assert!(lines(b"", 5).is_empty());
    }
}
