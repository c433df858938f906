//! Prometheus's tools: `promtool check metrics`, and a Prometheus server started on a
//! configuration and a TSDB directory, killed on drop; a query string encoded for its API.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Runs `promtool check metrics` on an exposition; returns its complaints.
pub fn promtool_check_metrics(exposition: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: run ./scripts/test, which installs Debian's prometheus package");
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() || !text.is_empty(), "promtool failed without output");
    if out.status.success() {
        String::new()
    } else {
        text
    }
}

/// A child process killed on drop.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `prometheus` on `config` and the TSDB directory `tsdb` (which may hold backfilled
/// blocks), listening on `addr`; see [`wait_ready`](super::wait_ready) for `/-/ready`.
pub fn spawn_prometheus(addr: SocketAddr, config: &Path, tsdb: &Path) -> Process {
    spawn_prometheus_with(addr, config, tsdb, &[])
}

/// [`spawn_prometheus`] with more flags (`--enable-feature=native-histograms`).
pub fn spawn_prometheus_with(addr: SocketAddr, config: &Path, tsdb: &Path, flags: &[&str]) -> Process {
    Process(
        Command::new("prometheus")
            .args(flags)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (run scripts/install-test-deps)"),
    )
}

/// A query string value, percent-encoded.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
