//! The exporter's families against docs/metrics.md, and the replay path against a scrape.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ticketpulse::config::Config;
use ticketpulse::engine::{Engine, Rules, View};
use ticketpulse::exporter::{encoding, kpi, render, scrape, write_text, ExportRules, Metrics};
use ticketpulse::generator::{Generator, GeneratorOptions};
use ticketpulse::internal_events::{SnapshotFailed, SnapshotOperation, SnapshotSaved, Telemetry};
use ticketpulse::replay::{replay, End};
use ticketpulse::snapshot::SnapshotError;

/// Family names in the first column of docs/metrics.md's tables, up to the "Intake" section
/// (the intake is its own process with its own /metrics; tests/intake.rs reads those).
fn documented() -> BTreeSet<String> {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"));
    let doc = doc.split("\n## Intake").next().expect("split yields one");
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `ticketpulse_").map(|_| line.split('|').nth(1).expect("a table cell")))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).filter(|s| s.starts_with("ticketpulse_")))
        .map(|name| name.split('{').next().expect("split yields one").to_string())
        .collect()
}

/// Family names of a text exposition, from its `# TYPE` lines.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().expect("a name").to_string()).collect()
}

#[test]
fn a_view_renders_exactly_what_a_scrape_of_the_registry_gives() {
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("events".to_string(), 0);
    let options = GeneratorOptions { seed: 3, tickets_per_hour: 60.0, start: 1_767_571_200_000 };
    for g in Generator::new(options).take(2_000) {
        engine.handle(&partition, g.payload.as_bytes(), None, &"test").expect("generated events are valid");
    }
    let text = write_text(&engine.view(None), &ExportRules::new(&config), &telemetry);
    let scraped = scrape(&Metrics::new(Arc::new(engine), ExportRules::new(&config), telemetry, None));
    assert_eq!(text, scraped);
    assert!(text.contains("# TYPE ticketpulse_agent_replies gauge"), "the optional families are in both");
}

#[test]
fn docs_metrics_md_lists_exactly_the_families_emitted() {
    // Every optional KPI on.
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    config.kpis.cost.per_hour = Some(1400.0);
    config.kpis.staffing.enabled = true;
    // Without the policy of low priority, low-priority tickets have no SLA (unmatched).
    config.sla.policies.retain(|p| p.name != "low");
    let options = GeneratorOptions { seed: 7, tickets_per_hour: 30.0, start: 1_767_571_200_000 };
    let generated: Vec<_> = Generator::new(options).take(5_000).collect();
    let mut input: String = generated.iter().map(|g| g.payload.clone() + "\n").collect();
    // The generator answers no ESAT survey: one, at the newest event time.
    let last = generated.iter().map(|g| g.at).max().unwrap();
    input += &format!(r#"{{"event_id":"esat-1","ticket_id":"esat","type":"survey_response","at":{last},"survey":"esat","score":4}}"#);
    input += "\n";
    let mut emitted = BTreeSet::new();
    // As live some SLA targets still run (next deadline); flushed, old tickets are stale.
    for end in [End::AsLive, End::Flush(None)] {
        emitted.extend(exposed(&replay(&config, input.as_bytes(), end).expect("replay reads a string")));
    }
    // The self-metrics a replay has no series for: lag and snapshots.
    let telemetry = Telemetry::default();
    let partition = ("tickets".to_string(), 0);
    telemetry.partitions_assigned(std::slice::from_ref(&partition));
    telemetry.set_lag(partition.clone(), 3);
    telemetry.emit(SnapshotSaved { partition: &partition, bytes: 1024, pause: Duration::from_millis(2) });
    let corrupt = SnapshotError::Corrupt("bad checksum".into());
    telemetry.emit(SnapshotFailed { operation: SnapshotOperation::Load, partition: &partition, reason: corrupt.reason(), error: &corrupt });
    let families = render(&View::default(), &ExportRules::new(&config), &telemetry);
    emitted.extend(exposed(&encoding::text(&encoding::gathered(families))));

    let documented = documented();
    let undocumented: Vec<_> = emitted.difference(&documented).collect();
    let never_emitted: Vec<_> = documented.difference(&emitted).collect();
    assert_eq!((undocumented, never_emitted), (vec![], vec![]), "emitted but not in docs/metrics.md, and the reverse");
    // Every KPI and total the catalogue declares is emitted (so documented). No count is
    // pinned here: a new KPI is its catalogue entry, its ticket logic and its row in
    // docs/metrics.md, and a family dropped from the code but not the docs fails the
    // comparison above.
    let declared = kpi::KPIS.iter().map(|k| k.name).chain(kpi::TOTALS.iter().map(|t| t.name));
    let not_emitted: Vec<_> = declared.filter(|name| !emitted.contains(*name)).collect();
    assert_eq!(not_emitted, Vec::<&str>::new(), "declared in the catalogue but not emitted");
}

/// Needs every escape of the text format in a label value: a quote, a backslash, a newline.
const TOPIC: &str = "say \"hi\" C:\\x\nnext ✓";
const AGENT: &str = "a\"b\\c";

#[test]
fn the_exposition_is_byte_for_byte_what_the_prometheus_text_encoder_writes() {
    let mut config = Config::default();
    config.kpis.agents.enabled = true;
    config.kpis.agents.allow = vec![AGENT.to_string()];
    config.kpis.cost.per_hour = Some(1400.0);
    config.kpis.topics.allow = vec![TOPIC.to_string()];
    // Low-priority tickets without a policy: the unmatched gauge has series too.
    config.sla.policies.retain(|p| p.name != "low");
    let telemetry = Arc::new(Telemetry::default());
    let engine = Engine::new(Rules::new(&config).unwrap(), Arc::clone(&telemetry));
    let partition = ("events".to_string(), 0);
    let options = GeneratorOptions { seed: 7, tickets_per_hour: 30.0, start: 1_767_571_200_000 };
    let mut last = 0;
    for g in Generator::new(options).take(5_000) {
        engine.handle(&partition, g.payload.as_bytes(), None, &"test").expect("generated events are valid");
        last = g.at;
    }
    let escaped = |s: &str| serde_json::to_string(s).unwrap();
    let created =
        format!(r#"{{"event_id":"x1","ticket_id":"X","type":"ticket_created","at":{last},"channel":"email","topic":{}}}"#, escaped(TOPIC));
    let reply =
        format!(r#"{{"event_id":"x2","ticket_id":"X","type":"message","at":{last},"author":"agent","agent_id":{}}}"#, escaped(AGENT));
    for event in [created, reply] {
        engine.handle(&partition, event.as_bytes(), None, &"test").expect("valid");
    }
    engine.finish(None);
    telemetry.partitions_assigned(std::slice::from_ref(&partition));
    telemetry.set_lag(partition.clone(), 3);
    telemetry.emit(SnapshotSaved { partition: &partition, bytes: 1024, pause: Duration::from_millis(2) });
    let corrupt = SnapshotError::Corrupt("bad checksum".into());
    telemetry.emit(SnapshotFailed { operation: SnapshotOperation::Load, partition: &partition, reason: corrupt.reason(), error: &corrupt });

    let view = engine.view(None);
    let rules = ExportRules::new(&config);
    let text = write_text(&view, &rules, &telemetry);
    assert_eq!(text, encoding::text(&encoding::gathered(render(&view, &rules, &telemetry))));
    // The one ticket of that topic, in every window; the agent's one reply.
    for window in ["1h", "24h", "5m"] {
        let topic = format!("ticketpulse_tickets_created_by_topic{{window=\"{window}\",topic=\"say \\\"hi\\\" C:\\\\x\\nnext ✓\"}} 1\n");
        assert!(text.contains(&topic), "{topic}");
        let agent = format!("ticketpulse_agent_replies{{window=\"{window}\",agent=\"a\\\"b\\\\c\"}} 1\n");
        assert!(text.contains(&agent), "{agent}");
    }
    for line in [
        "ticketpulse_consumer_lag_messages{topic=\"events\",partition=\"0\"} 3\n",
        "ticketpulse_snapshot_size_bytes 1024\n",
        "ticketpulse_snapshot_failures_total{operation=\"load\",reason=\"corrupt\"} 1\n",
    ] {
        assert!(text.contains(line), "{line}");
    }
}
