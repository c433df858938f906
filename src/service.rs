//! `ticketpulse run` and `ticketpulse demo`: compile the configuration, wire a source (Kafka
//! or the synthetic help desk), the engine and the exporter together on the wall clock, and
//! stop cleanly on SIGTERM / SIGINT.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::base::PartitionId;
use crate::checkpoint::Checkpointer;
use crate::clock::WallClock;
use crate::config::{Config, ConfigError, HttpConfig, OffsetReset, SnapshotStoreKind};
use crate::engine::{Engine, Rules};
use crate::exporter;
use crate::generator::{Generator, GeneratorOptions};
use crate::internal_events::Telemetry;
use crate::kafka::{client_config, Secrets, MIN_ECHO};
use crate::snapshot::{KafkaTopicStore, LocalDirStore, SnapshotStore};
use crate::source::{KafkaSource, SourceError};

/// How often idle partitions are checked for wall-clock advancement (so a breach is counted
/// at most this long after the idle timeout and lateness have passed).
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// A started service: its HTTP address and how to stop it.
pub struct Running {
    /// Where `/metrics` and the health checks are served.
    pub http_addr: SocketAddr,
    /// Where the tickets API and page are served when `ui.listen` gives them their own address.
    pub ui_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    source: JoinHandle<Result<(), SourceError>>,
    http: JoinHandle<()>,
    shutdown_timeout: Duration,
    /// What a shutdown that runs out of time leaves behind.
    kept: Kept,
}

/// What is kept of a service's state when its shutdown does not finish in time.
#[derive(Debug, Clone)]
enum Kept {
    /// The demo: nothing, and nothing to keep.
    Demo,
    /// The Kafka source with `snapshots.store = "none"`: nothing; partitions start again at
    /// `auto_offset_reset`.
    NoSnapshots(OffsetReset),
    /// The Kafka source with a snapshot store; the flag turns true once every partition was
    /// drained and snapshotted.
    Snapshots(Arc<AtomicBool>),
}

impl Kept {
    /// What `shutdown_timeout` running out means, for its error message.
    fn after_timeout(&self) -> String {
        match self {
            Kept::Demo => "the demo keeps no state".to_string(),
            Kept::NoSnapshots(reset) => {
                let from = match reset {
                    OffsetReset::Earliest => "every retained message is read again",
                    OffsetReset::Latest => "only messages produced after the restart are read",
                };
                format!(
                    "snapshots.store = \"none\": this instance's state is lost, and its partitions start again at \
                     kafka.auto_offset_reset = \"{}\" ({from})",
                    reset.as_str()
                )
            }
            Kept::Snapshots(done) if done.load(Ordering::Relaxed) => "every partition was snapshotted first, so its next owner \
                 resumes exactly there; committing offsets or leaving the group did not finish (is a Kafka broker reachable?)"
                .to_string(),
            Kept::Snapshots(_) => "input since the last snapshot will be re-read on restart".to_string(),
        }
    }
}

impl Running {
    /// Stops fetching, finishes the message in hand, snapshots every partition, commits and
    /// stops the HTTP server, all within `shutdown_timeout`.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let stopping = async {
            let source = self.source.await.context("source task")?;
            self.http.await.context("http task")?;
            source.context("source")
        };
        match tokio::time::timeout(self.shutdown_timeout, stopping).await {
            Ok(result) => result?,
            Err(_) => anyhow::bail!(
                "shutdown_timeout: not stopped within {}; {}",
                humantime::format_duration(self.shutdown_timeout),
                self.kept.after_timeout()
            ),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The configured snapshot store, opened (and for Kafka, checked to exist) before starting.
async fn open_snapshot_store(config: &Config, telemetry: &Arc<Telemetry>) -> anyhow::Result<Option<Arc<dyn SnapshotStore>>> {
    let s = config.snapshots.clone();
    let group = config.kafka.group_id.clone();
    Ok(match s.store {
        SnapshotStoreKind::None => {
            tracing::warn!("snapshots.store = \"none\": state is lost on restart");
            None
        }
        SnapshotStoreKind::Local => Some(Arc::new(LocalDirStore::new(&s.dir, &group).context("snapshots.dir")?)),
        SnapshotStoreKind::Kafka => {
            let (client, telemetry) = (client_config(&config.kafka), Arc::clone(telemetry));
            let store = tokio::task::spawn_blocking(move || KafkaTopicStore::new(&client, &s.topic, &group, s.chunk_bytes, telemetry))
                .await?
                .context("snapshots.topic")?;
            Some(Arc::new(store))
        }
    })
}

/// The HTTP listeners, bound before anything starts so that a bad address fails at once,
/// naming its field.
pub struct Listeners {
    metrics: TcpListener,
    /// `ui.listen`, when the tickets API and page have their own address and are enabled.
    ui: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let http = config.http.listen;
        let metrics = TcpListener::bind(http).await.with_context(|| format!("http.listen: cannot bind {http}"))?;
        let ui = match config.ui.listen.filter(|_| config.ui.enabled) {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("ui.listen: cannot bind {addr}"))?),
            None => None,
        };
        Ok(Self { metrics, ui })
    }

    pub fn metrics_addr(&self) -> std::io::Result<SocketAddr> {
        self.metrics.local_addr()
    }

    pub fn ui_addr(&self) -> std::io::Result<Option<SocketAddr>> {
        self.ui.as_ref().map(TcpListener::local_addr).transpose()
    }
}

/// Serves `/metrics` and the health checks, and the tickets API and page beside them, on
/// their own listener or not at all as `[ui]` says, until `stopped` turns true.
pub fn spawn_http(
    listeners: Listeners,
    config: &Config,
    engine: Arc<Engine>,
    telemetry: Arc<Telemetry>,
    clock: Option<WallClock>,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let scraped = exporter::Metrics::new(Arc::clone(&engine), exporter::ExportRules::new(config), Arc::clone(&telemetry), clock);
    let metrics: Part = (exporter::server::INDEX, exporter::server::routes(scraped, Arc::clone(&telemetry)));
    let tickets: Option<Part> =
        config.ui.enabled.then(|| (crate::ticket_api::INDEX, crate::ticket_api::Api::new(engine, clock, &config.ui).routes()));
    let (beside, own) = match listeners.ui {
        Some(listener) => (None, tickets.map(|part| (listener, part))),
        None => (tickets, None),
    };
    let main = serve(
        listeners.metrics,
        [Some(metrics), beside].into_iter().flatten(),
        config.http.clone(),
        Arc::clone(&telemetry),
        wait_for_stop(stopped.clone()),
    );
    let http = config.http.clone();
    tokio::spawn(async move {
        match own {
            Some((listener, part)) => {
                tokio::join!(main, serve(listener, [part], http, telemetry, wait_for_stop(stopped)));
            }
            None => main.await,
        }
    })
}

/// A part of the service's HTTP endpoints: its lines of the `/` index and its routes
/// (`exporter::server`: `/metrics` and the health checks; `ticket_api`: the tickets API and page).
pub(crate) type Part = (&'static str, Router);

/// Serves `parts` on `listener` with the limits of `config` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    parts: impl IntoIterator<Item = Part>,
    config: HttpConfig,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()>,
) {
    crate::http::serve(listener, router(parts), &config, telemetry, shutdown).await
}

/// The one assembly of a listener's router from its parts: their routes, `/` listing their
/// endpoints, and a 404 that points there.
fn router(parts: impl IntoIterator<Item = Part>) -> Router {
    let mut index = String::from("ticketpulse\n");
    let mut app = Router::new();
    for (lines, routes) in parts {
        index.push_str(lines);
        app = app.merge(routes);
    }
    app.route("/", get(move || std::future::ready(index.clone())))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found; the endpoints are listed at /\n") })
}

/// The one compile step after [`Config::load`], for `check-config` and start-up alike:
/// the Kafka properties as librdkafka reads them, then the engine's rules (SLA policies and
/// calendars), each error naming its field. librdkafka's check is here, not in
/// [`Rules::new`], because the engine (and `replay`) never talk to Kafka.
pub(crate) fn compile(config: &Config) -> Result<Rules, ConfigError> {
    crate::kafka::validate(&config.kafka)?;
    crate::source::check_clients(&config.kafka)?;
    Rules::new(config)
}

/// Where events come from.
enum Input {
    /// The Kafka consumer group (`run`).
    Kafka,
    /// The synthetic help desk in process, in real time once it has caught up (`demo`).
    Demo(GeneratorOptions),
}

/// Wires `input`, the engine and the HTTP endpoints (which may be bound to port 0) together
/// on the wall clock: the one wiring of `run` and `demo`. Nothing starts unless the
/// configuration compiles, the ports bind and the source can be created.
async fn start_with(config: &Config, input: Input) -> anyhow::Result<Running> {
    let rules = compile(config)?;
    let telemetry = Arc::new(Telemetry::default());
    // With a snapshot store, totals are shown as of each partition's last snapshot saved.
    let kept = matches!(input, Input::Kafka) && !matches!(config.snapshots.store, SnapshotStoreKind::None);
    let engine = Arc::new(Engine::new(rules, Arc::clone(&telemetry)).with_totals_as_of_snapshots(kept));
    let listeners = Listeners::bind(config).await?;
    let (http_addr, ui_addr) = (listeners.metrics_addr()?, listeners.ui_addr()?);
    let clock = WallClock::system();
    let (stop, stopped) = watch::channel(false);
    let (source, kept) = match input {
        Input::Kafka => {
            if Secrets::of(&client_config(&config.kafka)).has_short() {
                tracing::warn!(
                    "a secret of kafka.librdkafka is shorter than {MIN_ECHO} characters: too short to be told apart in \
                     librdkafka's messages, it is not scrubbed from them (only where a value is quoted)"
                );
            }
            let store = open_snapshot_store(config, &telemetry).await?;
            let checkpoints = Arc::new(Checkpointer::new(store, Arc::clone(&engine), Arc::clone(&telemetry)));
            let source = KafkaSource::new(&config.kafka, Arc::clone(&engine), checkpoints, Arc::clone(&telemetry), clock)?;
            let kept = match config.snapshots.store {
                SnapshotStoreKind::None => Kept::NoSnapshots(config.kafka.auto_offset_reset),
                _ => Kept::Snapshots(source.handed_over()),
            };
            (tokio::spawn(source.run(stopped.clone(), IDLE_CHECK, config.snapshots.interval)), kept)
        }
        Input::Demo(options) => {
            let partition = ("demo".to_string(), 0);
            telemetry.partitions_assigned(std::slice::from_ref(&partition));
            let feed = feed_demo(Generator::new(options), partition, Arc::clone(&engine), clock);
            let stopped = stopped.clone();
            let source = tokio::spawn(async move {
                tokio::select! {
                    _ = feed => {}
                    _ = wait_for_stop(stopped) => {}
                }
                Ok(())
            });
            (source, Kept::Demo)
        }
    };
    let http = spawn_http(listeners, config, engine, telemetry, Some(clock), stopped);
    Ok(Running { http_addr, ui_addr, stop, source, http, shutdown_timeout: config.shutdown_timeout, kept })
}

/// Starts the Kafka consumer and the HTTP endpoints (which may be bound to port 0).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let running = start_with(&config, Input::Kafka).await?;
    let http_addr = running.http_addr;
    tracing::info!(%http_addr, "serving /metrics");
    if config.ui.enabled {
        tracing::info!(addr = %running.ui_addr.unwrap_or(http_addr), "serving /tickets and /api/v1/tickets");
    }
    Ok(running)
}

/// The service until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut running = start(config).await?;
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        // The source ends on its own only when it failed (a partition worker panicked): exit
        // with its error, so the process is restarted, rather than serve what no longer moves.
        ended = &mut running.source => {
            let _ = running.stop.send(true);
            ended.context("source task")?.context("source")?;
            anyhow::bail!("the source stopped unasked");
        }
    }
    running.shutdown().await
}

/// The demo's operating cost per hour when `kpis.cost.per_hour` is unset: 40 agents at 35.
pub(crate) const DEMO_COST_PER_HOUR: f64 = 1400.0;

/// The demo: a synthetic help desk feeds the engine in process. It first catches up on the
/// simulated past (so every window has data at once), then continues in real time.
pub async fn demo(mut config: Config, options: GeneratorOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // The demo shows every KPI, and cost per resolution needs an operating cost.
    let cost = *config.kpis.cost.per_hour.get_or_insert(DEMO_COST_PER_HOUR);
    tracing::info!(cost_per_hour = cost, "demo cost (kpis.cost.per_hour)");
    // The generator's agent ids are synthetic (`agent-N`), so the demo shows the agent table.
    config.kpis.agents.enabled = true;
    // And the Staffing now row: the generator's agents work its queues.
    config.kpis.staffing.enabled = true;
    let running = start_with(&config, Input::Demo(options)).await?;
    let url = local(running.http_addr);
    println!("ticketpulse demo: http://{url}/metrics (endpoints at http://{url}/); Ctrl-C stops it");
    if config.ui.enabled {
        println!("breached tickets: http://{}/tickets?state=breached", local(running.ui_addr.unwrap_or(url)));
    }
    shutdown.await;
    running.shutdown().await
}

/// Feeds generated events to the engine as their time comes on `clock`: at once while they
/// are in the past, then in real time.
async fn feed_demo(events: Generator, partition: PartitionId, engine: Arc<Engine>, clock: WallClock) {
    let lane = engine.lane(&partition);
    for event in events {
        let wait = clock.until(event.at);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let _ = engine.handle_in(&lane, &partition, None, event.payload.as_bytes(), Some(clock.now()), &"demo");
        engine.advance_idle(clock.now());
    }
}

/// An address to open in a browser: loopback for "all interfaces".
fn local(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    addr
}

async fn wait_for_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its error type by value.
mod tests {
    use super::*;

    /// `toml` loaded (schema and field checks) in a jail, so no test's environment overrides
    /// leak in, then compiled.
    fn compiled(toml: &str) -> Result<Rules, String> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file("t.toml", toml)?;
            let config = Config::load(Some(std::path::Path::new("t.toml"))).expect("the schema and field checks pass");
            result = Some(compile(&config).map_err(|e| e.to_string()));
            Ok(())
        });
        result.expect("the jail ran")
    }

    #[test]
    fn compile_names_the_field_config_checks_cannot() {
        let err = compiled("[[sla.policies]]\nname = \"x\"\nfirst_response = \"10ms\"\n").err().unwrap();
        assert!(err.starts_with("sla.policies[0].first_response"), "{err}");
        assert_eq!(err, "sla.policies[0].first_response: must be at least 1s");
        let err = compiled("[kafka.librdkafka]\n\"sasl.pasword\" = \"hunter2\"\n").err().unwrap();
        assert_eq!(err, "kafka.librdkafka.sasl.pasword: No such configuration property: \"sasl.pasword\"");
    }

    #[test]
    fn a_shutdown_out_of_time_says_what_the_store_kept() {
        let snapshotted = Arc::new(AtomicBool::new(false));
        let kept = Kept::Snapshots(Arc::clone(&snapshotted));
        assert_eq!(kept.after_timeout(), "input since the last snapshot will be re-read on restart");
        snapshotted.store(true, Ordering::Relaxed);
        assert_eq!(
            kept.after_timeout(),
            "every partition was snapshotted first, so its next owner resumes exactly there; committing offsets or leaving the \
             group did not finish (is a Kafka broker reachable?)"
        );
        assert_eq!(
            Kept::NoSnapshots(OffsetReset::Latest).after_timeout(),
            "snapshots.store = \"none\": this instance's state is lost, and its partitions start again at \
             kafka.auto_offset_reset = \"latest\" (only messages produced after the restart are read)"
        );
        assert_eq!(Kept::Demo.after_timeout(), "the demo keeps no state");
    }

    #[test]
    fn the_defaults_compile_to_the_four_priority_policies() {
        let rules = compiled("").unwrap();
        assert_eq!(rules.ticket.policies.names().collect::<Vec<_>>(), ["urgent", "high", "normal", "low"]);
    }
}
