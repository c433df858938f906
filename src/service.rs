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

/// Starts the Kafka consumer and the HTTP endpoint (which may be bound to port 0).
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Mutex::new(Engine::new(&config, Arc::clone(&telemetry))));
    let listener =
        TcpListener::bind(config.http.listen).await.with_context(|| format!("http.listen: cannot bind {}", config.http.listen))?;
    let http_addr = listener.local_addr()?;
    let store = open_snapshot_store(&config, &telemetry).await?;
    let checkpoints = Arc::new(Checkpointer::new(store, Arc::clone(&engine), Arc::clone(&telemetry)));
    let source = KafkaSource::new(&config.kafka, Arc::clone(&engine), checkpoints, Arc::clone(&telemetry))?;
    let (stop, stopped) = watch::channel(false);
    let clock = WallClock::system();
    let registry = exporter::registry(engine, Arc::clone(&telemetry), Some(clock));
    let http = tokio::spawn(exporter::serve(listener, registry, telemetry, config.http.clone(), wait_for_stop(stopped.clone())));
    let source = tokio::spawn(source.run(stopped, clock, IDLE_CHECK, config.snapshots.interval));
    tracing::info!(%http_addr, "serving /metrics");
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
    let telemetry = Arc::new(Telemetry::default());
    let engine = Arc::new(Mutex::new(Engine::new(&config, Arc::clone(&telemetry))));
    let listener =
        TcpListener::bind(config.http.listen).await.with_context(|| format!("http.listen: cannot bind {}", config.http.listen))?;
    let mut url = listener.local_addr()?;
    if url.ip().is_unspecified() {
        url.set_ip(if url.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    println!("ticketpulse demo: http://{url}/metrics (endpoints at http://{url}/); Ctrl-C stops it");
    let partition = ("demo".to_string(), 0);
    telemetry.partitions_assigned(std::slice::from_ref(&partition));
    let (stop, stopped) = watch::channel(false);
    let registry = exporter::registry(Arc::clone(&engine), Arc::clone(&telemetry), Some(WallClock::system()));
    let http = tokio::spawn(exporter::serve(listener, registry, telemetry, config.http.clone(), wait_for_stop(stopped)));
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
