//! The `ticketpulse run` process and the configuration file the process tests give it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `ticketpulse run` configuration file as the process tests write it: one topic, a
/// group, loopback HTTP, stream time from events only (`idle_timeout = "0s"`), local
/// snapshots. Fields not set keep the defaults of [`RunConfig::new`].
pub struct RunConfig {
    pub bootstrap: String,
    pub topic: String,
    /// Default `{topic}-group`.
    pub group: String,
    /// Default none (`""`).
    pub dead_letter: String,
    /// librdkafka's `client.id`, so a broker log tells the instances apart; default unset.
    pub client_id: Option<String>,
    /// More librdkafka properties, after the session and heartbeat timeouts every test sets.
    pub librdkafka: Vec<(String, String)>,
    pub port: u16,
    pub state: PathBuf,
    /// Default `200ms`.
    pub snapshot_interval: String,
    /// TOML appended as is (e.g. `[[sla.policies]]`).
    pub extra: String,
}

impl RunConfig {
    pub fn new(bootstrap: &str, topic: &str, port: u16, state: &Path) -> RunConfig {
        RunConfig {
            bootstrap: bootstrap.to_string(),
            topic: topic.to_string(),
            group: format!("{topic}-group"),
            dead_letter: String::new(),
            client_id: None,
            librdkafka: Vec::new(),
            port,
            state: state.to_path_buf(),
            snapshot_interval: "200ms".into(),
            extra: String::new(),
        }
    }

    /// Writes the file at `path` and returns it.
    pub fn write(&self, path: &Path) -> PathBuf {
        let RunConfig { bootstrap, topic, group, dead_letter, port, snapshot_interval, .. } = self;
        // A restarted instance replaces a killed one quickly.
        let mut properties = vec![("session.timeout.ms".to_string(), "6000".to_string()), ("heartbeat.interval.ms".into(), "500".into())];
        properties.extend(self.client_id.iter().map(|id| ("client.id".to_string(), id.clone())));
        properties.extend(self.librdkafka.iter().cloned());
        let properties: String = properties.iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect();
        let text = format!(
            r#"[kafka]
brokers = "{bootstrap}"
topics = ["{topic}"]
group_id = "{group}"
dead_letter_topic = "{dead_letter}"
[kafka.librdkafka]
{properties}[http]
listen = "127.0.0.1:{port}"
[time]
idle_timeout = "0s"
[snapshots]
store = "local"
dir = "{}"
interval = "{snapshot_interval}"
{}"#,
            self.state.display(),
            self.extra
        );
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

/// `ticketpulse run --config config` with `RUST_LOG=warn` and its output on the test's, for
/// tests that read only its metrics; the caller kills it.
pub fn spawn_run(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ticketpulse")).args(["run", "--config"]).arg(config).env("RUST_LOG", "warn").spawn().unwrap()
}

/// A `ticketpulse` process with its standard error collected, killed on drop.
pub struct Service {
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Service {
    /// `ticketpulse run --config config` with `RUST_LOG=info`.
    pub fn spawn(config: &std::path::Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ticketpulse"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (mut pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Service { child, stderr }
    }

    /// Everything it logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Kills it (SIGKILL) and reaps it: a crash at this moment.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits until its log satisfies `done` (or `limit` passes) and returns the log.
    pub fn wait_for_log(&self, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.stderr();
            if done(&log) {
                return log;
            }
            assert!(Instant::now() < deadline, "log condition not reached within {limit:?}; log:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
