//! Kafka failures that must flood nothing: a broker that is down.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// With no broker at all, librdkafka reports the same errors many times a second (245 log
/// lines in 20 s before they were gated); now each error code gives one line per 10 s.
#[test]
fn a_broker_that_is_down_gives_one_line_per_error_code_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (closed, http) = (common::free_port(), common::free_port());
    let toml = format!(
        "[kafka]\nbrokers = \"127.0.0.1:{closed}\"\n[http]\nlisten = \"127.0.0.1:{http}\"\n[snapshots]\ndir = \"{}\"\n",
        dir.path().join("state").display()
    );
    let path = dir.path().join("down.toml");
    std::fs::write(&path, toml).unwrap();
    let started = Instant::now();
    let service = common::Service::spawn(&path);
    service.wait_for_log(Duration::from_secs(30), |log| log.contains("AllBrokersDown"));
    std::thread::sleep(Duration::from_secs(12));
    let log = service.stderr();
    let elapsed = started.elapsed();
    drop(service);

    let mut by_code: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("Kafka client error")) {
        let code = line.split("error: ").nth(1).and_then(|e| e.split(' ').next()).unwrap_or_else(|| panic!("{line}"));
        by_code.entry(code.to_string()).or_default().push(line);
    }
    assert!(by_code.contains_key("AllBrokersDown") && by_code.contains_key("BrokerTransportFailure"), "{log}");
    // The gate's bound: one line per code when it first occurs, then one per full 10 s.
    let bound = elapsed.as_secs() as usize / 10 + 1;
    for (code, lines) in &by_code {
        assert!(lines.len() <= bound, "{code}: {} lines in {elapsed:?}:\n{log}", lines.len());
        assert!(lines[0].contains("suppressed_since_last=0"), "{}", lines[0]);
        if let Some(second) = lines.get(1) {
            assert!(!second.contains("suppressed_since_last=0"), "what was gated is counted: {second}");
        }
    }
}
