//! `ticketpulse run` and `ticketpulse demo`: wire a source, the engine and the exporter
//! together, and stop cleanly on SIGTERM / SIGINT.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::checkpoint::Checkpointer;
use crate::clock::WallClock;
use crate::config::{Config, SnapshotStoreKind};
use crate::engine::Engine;
use crate::exporter;
use crate::generator::{Generator, GeneratorOptions};
use crate::internal_events::Telemetry;
use crate::kafka::client_config;
use crate::snapshot::{KafkaTopicStore, LocalDirStore, SnapshotStore};
use crate::source::{now_millis, KafkaSource};

/// How often idle partitions are checked for wall-clock advancement (so a breach is counted
/// at most this long after the idle timeout and lateness have passed).
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// A started service: its HTTP address and how to stop it.
pub struct Running {
    /// Where `/metrics` and the health checks are served.
    pub http_addr: SocketAddr,
    stop: watch::Sender<bool>,
    source: JoinHandle<()>,
    http: JoinHandle<()>,
    shutdown_timeout: Duration,
}

impl Running {
    /// Stops fetching, finishes the message in hand, snapshots every partition, commits and
    /// stops the HTTP server, all within `shutdown_timeout`.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let stopping = async {
            self.source.await.context("source task")?;
            self.http.await.context("http task")
        };
        match tokio::time::timeout(self.shutdown_timeout, stopping).await {
            Ok(result) => result?,
            Err(_) => anyhow::bail!(
                "shutdown_timeout: not stopped within {}; input since the last snapshot will be re-read on restart",
                humantime::format_duration(self.shutdown_timeout)
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
    engine: Arc<Mutex<Engine>>,
    telemetry: Arc<Telemetry>,
    clock: Option<WallClock>,
    stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let registry = exporter::registry(Arc::clone(&engine), Arc::clone(&telemetry), clock);
    let api = config.ui.enabled.then(|| crate::tickets::Api::new(engine, clock, &config.ui));
    let (beside, own) = match listeners.ui {
        Some(listener) => (None, api.map(|api| (listener, api))),
        None => (api, None),
    };
    let metrics =
        exporter::serve(listeners.metrics, registry, Arc::clone(&telemetry), config.http.clone(), beside, wait_for_stop(stopped.clone()));
    let http = config.http.clone();
    tokio::spawn(async move {
        match own {
            Some((listener, api)) => {
                tokio::join!(metrics, crate::tickets::serve(listener, api, http, telemetry, wait_for_stop(stopped)));
            }
            None => metrics.await,
        }
    })
}

/// Starts the Kafka consumer and the HTTP endpoints (which may be bound to port 0).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Mutex::new(Engine::new(&config, Arc::clone(&telemetry))));
    let listeners = Listeners::bind(&config).await?;
    let (http_addr, ui_addr) = (listeners.metrics_addr()?, listeners.ui_addr()?);
    let store = open_snapshot_store(&config, &telemetry).await?;
    let checkpoints = Arc::new(Checkpointer::new(store, Arc::clone(&engine), Arc::clone(&telemetry)));
    let source = KafkaSource::new(&config.kafka, Arc::clone(&engine), checkpoints, Arc::clone(&telemetry))?;
    let (stop, stopped) = watch::channel(false);
    let clock = WallClock::system();
    let http = spawn_http(listeners, &config, engine, telemetry, Some(clock), stopped.clone());
    let source = tokio::spawn(source.run(stopped, clock, IDLE_CHECK, config.snapshots.interval));
    tracing::info!(%http_addr, "serving /metrics");
    if config.ui.enabled {
        tracing::info!(addr = %ui_addr.unwrap_or(http_addr), "serving /tickets and /api/v1/tickets");
    }
    Ok(Running { http_addr, stop, source, http, shutdown_timeout: config.shutdown_timeout })
}

/// The service until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(config).await?;
    shutdown.await;
    tracing::info!("shutting down");
    running.shutdown().await
}

/// The demo's operating cost per hour when `kpis.cost.per_hour` is unset: 40 agents at 35.
pub const DEMO_COST_PER_HOUR: f64 = 1400.0;

/// The demo: a synthetic help desk feeds the engine in process. It first catches up on the
/// simulated past (so every window has data at once), then continues in real time.
pub async fn demo(mut config: Config, options: GeneratorOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    // The demo shows every KPI, and cost per resolution needs an operating cost.
    let cost = *config.kpis.cost.per_hour.get_or_insert(DEMO_COST_PER_HOUR);
    tracing::info!(cost_per_hour = cost, "demo cost (kpis.cost.per_hour)");
    // The generator's agent ids are synthetic (`agent-N`), so the demo shows the agent table.
    config.kpis.agents.enabled = true;
    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Mutex::new(Engine::new(&config, Arc::clone(&telemetry))));
    let listeners = Listeners::bind(&config).await?;
    let url = local(listeners.metrics_addr()?);
    println!("ticketpulse demo: http://{url}/metrics (endpoints at http://{url}/); Ctrl-C stops it");
    if config.ui.enabled {
        println!("breached tickets: http://{}/tickets?state=breached", local(listeners.ui_addr()?.unwrap_or(url)));
    }
    let partition = ("demo".to_string(), 0);
    telemetry.partitions_assigned(std::slice::from_ref(&partition));
    let (stop, stopped) = watch::channel(false);
    let http = spawn_http(listeners, &config, Arc::clone(&engine), telemetry, Some(WallClock::system()), stopped);
    let feed = async {
        for event in Generator::new(options) {
            let wait = event.at - now_millis();
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            }
            let mut engine = crate::lock(&engine);
            let _ = engine.handle(&partition, event.payload.as_bytes(), Some(now_millis()), &"demo");
            engine.advance_idle(now_millis());
        }
    };
    tokio::select! {
        _ = feed => {}
        _ = shutdown => {}
    }
    let _ = stop.send(true);
    http.await?;
    Ok(())
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
pub async fn shutdown_signal() {
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
