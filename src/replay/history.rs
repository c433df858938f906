//! `replay --history-step`: the exposition at every step of event time, as OpenMetrics with
//! timestamps, for `promtool tsdb create-blocks-from openmetrics`. A team starting ticketpulse
//! loads its retained topic or a help desk export and has the past weeks on the dashboard.
//!
//! **What step `t` holds.** Exactly what `ticketpulse replay --end-time t` prints for the
//! input's events dated at or before `t`: every such event applied, every SLA timer due
//! before `t` fired (a reply exactly at a deadline meets it), nothing dated after `t`. One
//! engine runs over the input once, through the same input path and exporter as `replay`:
//! before the first event dated after `t` is fed, [`Engine::finish`] at `t` (which applies
//! what is buffered up to `t` and fires the timers before it, as the end of a replay does)
//! and the View is written. Stepping is no different from stopping: events reach the engine
//! in time order, so it applies events and fires timers in the same order either way.
//!
//! **Out-of-order input.** Lines are put in time order here, in a buffer that holds each
//! valid event until one dated more than `time.allowed_lateness` after it has been read (or
//! `time.max_buffered` events wait): input out of order by up to the allowed lateness, the
//! disorder the live service absorbs, gives exactly the steps of sorted input. An event
//! dated at or before a step already written (more out of order than that) is applied as the
//! live service would apply it, and the steps after it include it; the ones before cannot,
//! and [`Written::too_late`] counts them. Invalid lines have no time: they are counted
//! (`ticketpulse_invalid_events_total`) from the first step written after they are read.
//!
//! Memory is the engine's (as for `replay`) and one step's text: steps are streamed.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::base::{Millis, PartitionId};
use crate::config::Config;
use crate::engine::{Engine, Rules};
use crate::exporter::{self, encoding, ExportRules};
use crate::internal_events::Telemetry;

use super::{each_line, replay_partition};

/// Which steps to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steps {
    /// Time between steps, in ms; steps are its multiples since the Unix epoch.
    pub step: Millis,
    /// The last step is at or before this; events dated after it are left out. Default: the
    /// first step at or after the newest event.
    pub end_time: Option<Millis>,
}

/// What a history run wrote, and the events the steps could not show.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Steps written.
    pub steps: u64,
    /// The first and the last step's time.
    pub first: Option<Millis>,
    pub last: Option<Millis>,
    /// Events dated at or before a step already written: the steps from the next one on
    /// include them, the ones before do not.
    pub too_late: u64,
    /// Events dated after `end_time`: not applied.
    pub after_end: u64,
}

/// Where the steps go.
pub trait Sink {
    /// Takes the text of the step at `t`.
    fn step(&mut self, t: Millis, text: &[u8]) -> std::io::Result<()>;
    /// The last step was written.
    fn end(&mut self) -> std::io::Result<()>;
}

/// Any writer takes the steps as one OpenMetrics exposition, `# EOF` last.
impl<W: Write> Sink for W {
    fn step(&mut self, _: Millis, text: &[u8]) -> std::io::Result<()> {
        self.write_all(text)
    }

    fn end(&mut self) -> std::io::Result<()> {
        self.write_all(encoding::OPENMETRICS_EOF.as_bytes())?;
        self.flush()
    }
}

/// One OpenMetrics file per UTC day of steps in a directory, `YYYY-MM-DD.om`: promtool parses
/// its whole input once per block it writes (2 h by default) and maps it into memory, so a
/// year in one file (hundreds of GB at a 1-minute step) is beyond it, and a day is not. Each
/// file appears under its name only once complete (written as `.om.tmp`, then renamed), so a
/// loop converting and deleting them can run alongside and keep the disk use to a few days.
pub(crate) struct DailyFiles {
    dir: std::path::PathBuf,
    /// The day being written: its number since the epoch, the file and its final name.
    open: Option<(Millis, std::io::BufWriter<std::fs::File>, std::path::PathBuf)>,
}

impl DailyFiles {
    /// Writes into `dir`, which is created if missing.
    pub fn new(dir: impl Into<std::path::PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, open: None })
    }

    fn close(&mut self) -> std::io::Result<()> {
        if let Some((_, mut file, path)) = self.open.take() {
            Sink::end(&mut file)?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(path.with_extension("om.tmp"), &path)?;
        }
        Ok(())
    }
}

impl Sink for DailyFiles {
    fn step(&mut self, t: Millis, text: &[u8]) -> std::io::Result<()> {
        const DAY: Millis = 86_400_000;
        let day = t.div_euclid(DAY);
        if self.open.as_ref().is_none_or(|(open, ..)| *open != day) {
            self.close()?;
            let name = jiff::Timestamp::from_millisecond(day * DAY).map(|d| d.strftime("%Y-%m-%d.om").to_string()).unwrap_or_default();
            let path = self.dir.join(name);
            let file = std::fs::File::create(path.with_extension("om.tmp"))?;
            self.open = Some((day, std::io::BufWriter::with_capacity(1 << 20, file), path));
        }
        let (_, file, _) = self.open.as_mut().expect("opened above");
        file.write_all(text)
    }

    fn end(&mut self) -> std::io::Result<()> {
        self.close()
    }
}

/// Feeds `input` through a fresh engine and gives the OpenMetrics exposition at every step to
/// `out`. A line longer than `events.max_message_bytes` is rejected as `oversized` without
/// being held in memory, as in [`super::replay`].
pub fn history(config: &Config, input: impl BufRead, steps: Steps, out: impl Sink) -> std::io::Result<Written> {
    if steps.step <= 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the history step must be positive"));
    }
    let rules = Rules::new(config).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let (lateness, max_buffered, limits) = (rules.allowed_lateness, rules.max_buffered, rules.limits);
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(rules, Arc::clone(&telemetry));
    let mut stepper = Stepper {
        export: ExportRules::new(config),
        engine,
        telemetry,
        partition: replay_partition(),
        steps,
        next: None,
        newest: None,
        written: Written::default(),
        text: String::new(),
        out,
    };
    // Valid events by (time, line number), waiting to be fed in time order.
    let mut waiting: BTreeMap<(Millis, u64), Vec<u8>> = BTreeMap::new();
    let mut newest = Millis::MIN;
    each_line(input, config, |n, line, complete| {
        // Parsed here for its time only; the engine parses it again, as every line.
        match complete.then(|| crate::event::parse(line, &limits, None).ok()).flatten() {
            Some(event) => {
                newest = newest.max(event.at);
                waiting.insert((event.at, n), line.to_vec());
                // What the engine would no longer buffer: older than the allowed lateness.
                while waiting
                    .first_key_value()
                    .is_some_and(|((at, _), _)| *at < newest.saturating_sub(lateness) || waiting.len() > max_buffered)
                {
                    let ((at, n), line) = waiting.pop_first().expect("peeked");
                    stepper.feed(Some(at), &line, n)?;
                }
            }
            // Invalid: counted and logged by the engine at once.
            None => stepper.feed(None, line, n)?,
        }
        Ok(())
    })?;
    while let Some(((at, n), line)) = waiting.pop_first() {
        stepper.feed(Some(at), &line, n)?;
    }
    stepper.end()
}

/// The engine and the steps still to write.
struct Stepper<W> {
    engine: Engine,
    export: ExportRules,
    telemetry: Arc<Telemetry>,
    partition: PartitionId,
    steps: Steps,
    /// The next step to write, from the first event on.
    next: Option<Millis>,
    /// The newest event time fed.
    newest: Option<Millis>,
    written: Written,
    /// One step's text, reused.
    text: String,
    out: W,
}

impl<W: Sink> Stepper<W> {
    /// Writes every step before `at`, then feeds the line (an event dated `at`, or an invalid
    /// line without a time) to the engine.
    fn feed(&mut self, at: Option<Millis>, line: &[u8], n: u64) -> std::io::Result<()> {
        if let Some(at) = at {
            if self.steps.end_time.is_some_and(|end| at > end) {
                self.written.after_end += 1;
                return Ok(());
            }
            self.next.get_or_insert_with(|| ceil(at, self.steps.step));
            self.write_steps_before(at)?;
            if self.written.last.is_some_and(|last| at <= last) {
                self.written.too_late += 1;
            }
            self.newest = Some(self.newest.map_or(at, |t| t.max(at)));
        }
        // Invalid lines are counted and logged by the engine; history carries on.
        let _ = self.engine.handle(&self.partition, line, None, &format_args!("line {n}"));
        Ok(())
    }

    /// Writes the steps before `at`, up to the end time.
    fn write_steps_before(&mut self, at: Millis) -> std::io::Result<()> {
        while let Some(t) = self.next.filter(|t| *t < at && self.steps.end_time.is_none_or(|end| *t <= end)) {
            self.write_step(t)?;
        }
        Ok(())
    }

    /// Advances the engine to `t` (buffered events up to it applied, timers before it fired)
    /// and writes its exposition there.
    fn write_step(&mut self, t: Millis) -> std::io::Result<()> {
        self.engine.finish(Some(t));
        let view = self.engine.view(None);
        exporter::write_openmetrics(&view, &self.export, &self.telemetry, t, &mut self.text);
        self.out.step(t, self.text.as_bytes())?;
        self.text.clear();
        self.written.steps += 1;
        self.written.first.get_or_insert(t);
        self.written.last = Some(t);
        self.next = Some(t + self.steps.step);
        Ok(())
    }

    /// The input is complete: the steps up to the end time (default: the first step at or
    /// after the newest event), then the end of the output.
    fn end(mut self) -> std::io::Result<Written> {
        let last = match (self.steps.end_time, self.newest) {
            (Some(end), _) => Some(end),
            (None, Some(newest)) => Some(ceil(newest, self.steps.step)),
            (None, None) => None,
        };
        if let Some(last) = last {
            self.write_steps_before(last.saturating_add(1))?;
        }
        self.out.end()?;
        Ok(self.written)
    }
}

/// The first multiple of `step` at or after `at`.
fn ceil(at: Millis, step: Millis) -> Millis {
    at + (step - at.rem_euclid(step)) % step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_multiples_of_the_step_since_the_epoch() {
        assert_eq!(ceil(120_000, 60_000), 120_000);
        assert_eq!(ceil(120_001, 60_000), 180_000);
        assert_eq!(ceil(-1, 60_000), 0);
        assert_eq!(ceil(-60_001, 60_000), -60_000);
    }

    /// Steps at 23:59 and 00:00 go to the files of their UTC days, each ending with `# EOF`,
    /// and no `.tmp` file is left.
    #[test]
    fn daily_files_hold_each_utc_days_steps() {
        let dir = std::env::temp_dir().join(format!("ticketpulse-history-{}", std::process::id()));
        let mut files = DailyFiles::new(&dir).unwrap();
        // 2026-11-02T23:59:00Z and 2026-11-03T00:00:00Z.
        files.step(1_793_663_940_000, b"a 1 1793663940\n").unwrap();
        files.step(1_793_664_000_000, b"a 2 1793664000\n").unwrap();
        files.end().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["2026-11-02.om", "2026-11-03.om"]);
        assert_eq!(std::fs::read_to_string(dir.join("2026-11-02.om")).unwrap(), "a 1 1793663940\n# EOF\n");
        assert_eq!(std::fs::read_to_string(dir.join("2026-11-03.om")).unwrap(), "a 2 1793664000\n# EOF\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
