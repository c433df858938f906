//! The command line: `run`, `replay`, `demo`, `generate`, `intake`, `check-config`.

use std::io::{BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::base::Millis;
use crate::clock::WallClock;
use crate::config::Config;
use crate::generator::{self, GeneratorOptions};
use crate::replay::End;

/// Live help-desk support KPIs from ticket lifecycle events in Kafka, for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "ticketpulse", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consume events from Kafka and serve the KPIs on /metrics.
    Run {
        /// Configuration file (TOML). Default: `config/ticketpulse.toml` when it exists, else
        /// the built-in defaults; `TICKETPULSE_*` environment overrides apply either way.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Process a JSON Lines file (or `-` for stdin) and print the Prometheus exposition.
    Replay {
        /// Configuration file (TOML); defaults apply when omitted.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Advance time to this instant (RFC 3339) before printing, firing due SLA timers.
        /// Default: the newest event time. With `--history-step`: the last step is at or
        /// before it, and events dated after it are left out.
        #[arg(long, value_parser = parse_rfc3339, conflicts_with = "as_live")]
        end_time: Option<Millis>,
        /// Print the exposition at every multiple of this step of event time (`1m`, `5m`, ...;
        /// whole seconds) from the first event on, as OpenMetrics with timestamps, for
        /// `promtool tsdb create-blocks-from openmetrics`. Step t holds what `--end-time t`
        /// prints for the events dated up to t (docs/operations.md, "History from the first day").
        #[arg(long, value_parser = parse_step, conflicts_with = "as_live")]
        history_step: Option<Millis>,
        /// With `--history-step`: write one OpenMetrics file per UTC day of steps into this
        /// directory (`YYYY-MM-DD.om`, each complete once under that name) rather than one
        /// exposition to standard output: what promtool can convert for long histories.
        #[arg(long, requires = "history_step")]
        history_dir: Option<PathBuf>,
        /// Stop where the live service would be right after the last line: events within the
        /// allowed lateness of the newest one stay buffered and no timer fires past the
        /// watermark. Reproduces a live scrape of the same input exactly.
        #[arg(long)]
        as_live: bool,
        /// Input file, or `-` for standard input.
        input: String,
    },
    /// Run a synthetic help desk in process and serve its KPIs; no Kafka needed.
    Demo {
        /// Configuration file (TOML); defaults apply when omitted.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Listen address. The demo is a laptop tool, so loopback only by default; it takes
        /// the place of `http.listen`, whose default (all interfaces) is for `run`.
        #[arg(long, default_value = "127.0.0.1:9850")]
        listen: SocketAddr,
        #[command(flatten)]
        generator: GeneratorArgs,
    },
    /// Write synthetic events as JSON Lines to a file, or produce them to Kafka.
    Generate {
        /// Output file (`-` for stdout).
        #[arg(long, conflicts_with_all = ["brokers", "topic"], required_unless_present = "brokers")]
        out: Option<String>,
        /// Kafka bootstrap servers to produce to.
        #[arg(long, requires = "topic")]
        brokers: Option<String>,
        /// Kafka topic to produce to.
        #[arg(long)]
        topic: Option<String>,
        /// Number of events to write (default: unlimited with --follow, else 100000).
        #[arg(long)]
        count: Option<u64>,
        /// Keep producing in real time once the simulated clock reaches now.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        generator: GeneratorArgs,
    },
    /// Receive Zendesk and Chatwoot webhooks and produce them to Kafka as events (`[intake]`);
    /// `intake seed` produces the tickets already open, read from the help desk's API.
    Intake {
        /// Configuration file (TOML); same defaults as `run`.
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<IntakeCommand>,
    },
    /// Validate a configuration file and exit.
    CheckConfig {
        /// Configuration file (TOML).
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Read the help desk's open tickets from its API, page by page, and produce each as a
    /// `ticket_snapshot` event to `intake.topic` (docs/intake.md#seeding); then exit.
    Seed {
        /// The help desk to read (its API settings: `[intake.zendesk]` or `[intake.chatwoot]`).
        #[arg(long, value_enum)]
        source: SeedSource,
        /// Configuration file (TOML); same defaults as `run`.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Keep the position after each page produced here, and resume from it: a run that
        /// stops re-reads at most one page. Zendesk's is kept after the end (the next run
        /// reads only what changed since); Chatwoot's is removed (the next run starts over).
        #[arg(long)]
        cursor_file: Option<PathBuf>,
        /// Zendesk: tickets updated at or after this instant (RFC 3339) when no cursor is
        /// kept. Default: all tickets.
        #[arg(long, value_parser = parse_rfc3339)]
        since: Option<Millis>,
        /// Zendesk: also solved and closed tickets (to reconcile solves whose webhook was
        /// missed); by default only new, open, pending and on-hold ones.
        #[arg(long)]
        include_solved: bool,
    },
}

/// A help desk `intake seed` reads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SeedSource {
    Zendesk,
    Chatwoot,
}

/// Shape of the synthetic help desk.
#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Random seed: the same seed and start give the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Mean tickets created per hour (the day/night cycle varies it around this mean).
    #[arg(long, default_value_t = 120.0)]
    pub rate: f64,
    /// Simulated start time (RFC 3339). Default: 24 hours ago.
    #[arg(long, value_parser = parse_rfc3339)]
    pub start: Option<Millis>,
}

impl GeneratorArgs {
    fn options(&self, clock: &WallClock) -> GeneratorOptions {
        GeneratorOptions { seed: self.seed, tickets_per_hour: self.rate, start: self.start.unwrap_or_else(|| clock.now() - 86_400_000) }
    }
}

/// The same rules as an event's `at`: RFC 3339, from 1970 to 2100.
fn parse_rfc3339(s: &str) -> Result<Millis, String> {
    crate::event::parse_time_text(s)
}

/// A history step: a whole number of seconds, at least one (OpenMetrics timestamps are
/// seconds; promtool reads fractions through a float).
fn parse_step(s: &str) -> Result<Millis, String> {
    let step = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if step.subsec_nanos() != 0 || step.as_secs() == 0 {
        return Err("a whole number of seconds, at least 1s".into());
    }
    Millis::try_from(step.as_millis()).map_err(|_| "too long".into())
}

/// What `--version` prints after the name: this build and the librdkafka it links, whose
/// `builtin.features` say which security protocols and SASL mechanisms work.
pub(crate) fn long_version() -> String {
    format!("{}\n{}", env!("CARGO_PKG_VERSION"), crate::kafka::librdkafka_build())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Computed once per process; clap keeps a `&'static str`.
    let version: &'static str = Box::leak(long_version().into_boxed_str());
    let matches = Cli::command().long_version(version).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run { config } => {
            let config = Config::load(run_config_path(config).as_deref())?;
            block_on(crate::service::run(config, crate::service::shutdown_signal()))?
        }
        Command::Replay { config, end_time, as_live: _, input, history_step: Some(step), history_dir } => {
            use crate::replay::history::{history, DailyFiles, Steps};
            let config = Config::load(config.as_deref())?;
            let steps = Steps { step, end_time };
            let input: Box<dyn std::io::BufRead> = if input == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(BufReader::new(std::fs::File::open(&input).map_err(|e| anyhow::anyhow!("{input}: {e}"))?))
            };
            let written = match history_dir {
                Some(dir) => history(&config, input, steps, DailyFiles::new(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?)?,
                None => history(&config, input, steps, std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))?,
            };
            let time = |t: Option<Millis>| t.map_or_else(|| "-".to_string(), crate::base::rfc3339);
            tracing::info!(steps = written.steps, first = %time(written.first), last = %time(written.last), "history written");
            if written.too_late > 0 {
                tracing::warn!(
                    events = written.too_late,
                    "events dated at or before a step already written (out of order by more than time.allowed_lateness): only later steps include them"
                );
            }
            if written.after_end > 0 {
                tracing::info!(events = written.after_end, "events dated after --end-time left out");
            }
            Ok(())
        }
        Command::Replay { config, end_time, as_live, input, history_step: None, .. } => {
            let config = Config::load(config.as_deref())?;
            let end = if as_live { End::AsLive } else { End::Flush(end_time) };
            let text = if input == "-" {
                crate::replay::replay(&config, std::io::stdin().lock(), end)?
            } else {
                let file = std::fs::File::open(&input).map_err(|e| anyhow::anyhow!("{input}: {e}"))?;
                crate::replay::replay(&config, BufReader::new(file), end)?
            };
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
        Command::Demo { config, listen, generator } => {
            let mut config = Config::load(config.as_deref())?;
            config.http.listen = listen;
            let options = generator.options(&WallClock::system());
            block_on(crate::service::demo(config, options, crate::service::shutdown_signal()))?
        }
        Command::Generate { out, brokers, topic, count, follow, generator } => {
            let clock = WallClock::system();
            let options = generator.options(&clock);
            let count = count.or((!follow).then_some(100_000));
            let follow = follow.then_some(clock);
            match (out, brokers, topic) {
                (Some(out), _, _) => generator::write_file(&out, options, count, follow),
                (None, Some(brokers), Some(topic)) => block_on(generator::produce(&brokers, &topic, options, count, follow))?,
                _ => anyhow::bail!("give --out FILE, or --brokers B and --topic T"),
            }
        }
        Command::Intake { config, action: None } => {
            let config = Config::load(run_config_path(config).as_deref())?;
            block_on(crate::intake::run(config, crate::service::shutdown_signal()))?
        }
        Command::Intake { config: outer, action: Some(IntakeCommand::Seed { source, config, cursor_file, since, include_solved }) } => {
            let config = Config::load(run_config_path(config.or(outer)).as_deref())?;
            let source = match source {
                SeedSource::Zendesk => crate::intake::Source::Zendesk,
                SeedSource::Chatwoot => crate::intake::Source::Chatwoot,
            };
            let options = crate::intake::seed::SeedOptions { source, cursor_file, since: since.unwrap_or(0), include_solved };
            block_on(async move {
                let clock = WallClock::system();
                crate::intake::seed::seed(&config, &options, &|| clock.now()).await.map(drop)
            })?
        }
        Command::CheckConfig { config } => {
            let loaded = Config::load(Some(&config))?;
            crate::service::compile(&loaded)?;
            println!(
                "{}: ok ({} topic(s), librdkafka properties {:?}, windows {:?}, labels {:?}, SLA policies {:?}, calendars {:?})",
                config.display(),
                loaded.kafka.topics.len(),
                crate::base::shown_properties(&loaded.kafka.librdkafka),
                loaded.time.windows.iter().map(|w| crate::base::window_label(*w)).collect::<Vec<_>>(),
                loaded.dimensions.labels,
                loaded.sla.policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                loaded.sla.calendars.keys().collect::<Vec<_>>(),
            );
            Ok(())
        }
    }
}

/// Where `run` reads its configuration: the file given, else the repository's default file
/// when started from the repository, else none (defaults and environment overrides), which is
/// how containers are usually configured.
fn run_config_path(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG);
        if default.exists() {
            return Some(default);
        }
        tracing::info!("no --config given and {DEFAULT_CONFIG} not found here: running on the defaults and TICKETPULSE_* overrides");
        None
    })
}

/// The configuration file `run` reads when started from the repository without `--config`.
const DEFAULT_CONFIG: &str = "config/ticketpulse.toml";

/// Runs `future` on a fresh runtime. Blocking work still running afterwards (a Kafka client
/// that cannot finish closing because the broker is gone) is abandoned after a second, so the
/// process exits within its `shutdown_timeout` instead of waiting on it forever.
fn block_on<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(output)
}
