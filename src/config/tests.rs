//! Loading and validation, end to end through `Config::load`.
#![allow(clippy::result_large_err)] // figment::Jail's closures return its error type by value.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::kpis::{CES_SCALE, CSAT_SCALE};
use super::load::verbatim;
use super::*;

/// Loads `toml` in a jail: tests that set environment overrides run in one too, and the
/// jail's lock keeps them from leaking into this one.
fn load_str(toml: &str) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    load_jailed(f.path())
}

fn load_jailed(path: &Path) -> Result<Config, ConfigError> {
    let mut result = None;
    figment::Jail::expect_with(|_| {
        result = Some(Config::load(Some(path)));
        Ok(())
    });
    result.expect("the jail ran")
}

#[test]
fn shipped_config_is_valid_and_matches_defaults() {
    let shipped = load_jailed(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ticketpulse.toml"))).unwrap();
    let default = Config::default();
    assert_eq!(shipped.time.windows, default.time.windows);
    assert_eq!(shipped.time.max_buffered_events, default.time.max_buffered_events);
    assert_eq!(shipped.kafka.topics, default.kafka.topics);
    assert_eq!(shipped.dimensions.channels, default.dimensions.channels);
    assert_eq!(format!("{:?}", shipped.sla), format!("{:?}", default.sla));
    assert_eq!(format!("{:?}", shipped.abandonment), format!("{:?}", default.abandonment));
    assert_eq!(format!("{:?}", shipped.kpis), format!("{:?}", default.kpis));
    assert_eq!(format!("{:?}", shipped.ui), format!("{:?}", default.ui));
    assert_eq!(format!("{:?}", shipped.intake), format!("{:?}", default.intake));
}

#[test]
fn unknown_key_is_named() {
    let err = load_str("[time]\nwindowz = [\"5m\"]\n").unwrap_err().to_string();
    assert!(err.contains("windowz"), "{err}");
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        ("[time]\nwindows = [\"7s\"]\n", "time.windows[0]"),
        ("[time]\nwindows = [\"5m\", \"5m\"]\n", "time.windows[1]"),
        ("[time]\nmax_buffered_events = 0\n", "time.max_buffered_events"),
        ("[dimensions]\nchannels = [\"Email\"]\n", "dimensions.channels[0]"),
        ("[dimensions]\nteams = [\"other\"]\n", "dimensions.teams[0]"),
        ("[kafka.librdkafka]\n\"group.id\" = \"x\"\n", "kafka.librdkafka.group.id"),
        ("[abandonment]\nwait_buckets = [\"30s\", \"10s\"]\n", "abandonment.wait_buckets[1]"),
        ("[kpis.surveys.csat]\nmin = 5.0\nmax = 1.0\ngood_from = 4.0\n", "kpis.surveys.csat.max"),
        // Only good_from given: checked against the CES default 1..=7.
        ("[kpis.surveys.ces]\ngood_from = 8.0\n", "kpis.surveys.ces.good_from"),
        ("[kpis.surveys.csat]\nmin = 6.0\n", "kpis.surveys.csat.max"),
        ("[kpis.surveys.esat]\nmin = 1.0\nmax = 5.0\ngood_from = 6.0\n", "kpis.surveys.esat.good_from"),
        ("[kpis.realtime]\nchannels = [\"chat\", \"fax\"]\n", "kpis.realtime.channels[1]"),
        ("[kpis.realtime]\nchannels = [\"chat\", \"web\"]\n", "kpis.realtime.service_level_thresholds"),
        (
            "[kpis.realtime.service_level_thresholds]\nchat = \"20s\"\nphone = \"30s\"\nmessaging = \"1m\"\nweb = \"1m\"\n",
            "kpis.realtime.service_level_thresholds.web",
        ),
        ("[kpis.topics]\ntop = 30\nmax_tracked_per_slice = 10\n", "kpis.topics.max_tracked_per_slice"),
        ("[kpis.agents]\ntop = 30\nmax_tracked_per_slice = 10\n", "kpis.agents.max_tracked_per_slice"),
        ("[kpis.agents]\ntop = 0\n", "kpis.agents.top"),
        ("[kpis.agents]\nallow = [\"a-1\", \"other\"]\n", "kpis.agents.allow[1]"),
        ("[kpis.cost]\nper_hour = -5.0\n", "kpis.cost.per_hour"),
        ("[kpis.sentiment]\nnegative_below = -2.0\n", "kpis.sentiment.negative_below"),
        ("[kpis.staffing]\nservice_level = 1.0\n", "kpis.staffing.service_level"),
        ("[kpis.staffing]\nmax_occupancy = 0.0\n", "kpis.staffing.max_occupancy"),
        ("[kpis.staffing]\ntarget_occupancy = 1.5\n", "kpis.staffing.target_occupancy"),
        ("[kpis.staffing]\nbacklog_horizon = \"0s\"\n", "kpis.staffing.backlog_horizon"),
        ("[kpis.staffing]\nmax_agents_per_slice = 0\n", "kpis.staffing.max_agents_per_slice"),
        ("[ui]\nticket_url = \"javascript:alert({ticket_id})\"\n", "ui.ticket_url"),
        ("[ui]\nticket_url = \"https://desk.example.com/tickets/\"\n", "ui.ticket_url"),
    ];
    for (toml, field) in cases {
        let err = load_str(toml).unwrap_err().to_string();
        assert!(err.starts_with(field), "{toml}: {err}");
    }
    let err = load_str("[time]\nallowed_lateness = \"soon\"\n").unwrap_err().to_string();
    assert!(err.contains("time.allowed_lateness"), "{err}");
}

#[test]
fn a_survey_scale_with_only_good_from_keeps_the_other_defaults() {
    // Issue 26: `[kpis.surveys.csat]` with only good_from was refused (missing field `min`).
    let c = load_str("[kpis.surveys.csat]\ngood_from = 3.0\n").unwrap();
    assert_eq!(c.kpis.surveys.csat, ScaleConfig { min: 1.0, max: 5.0, good_from: 3.0 });
    assert_eq!(c.kpis.surveys.ces, CES_SCALE, "the other survey untouched");
    let c = load_str("[kpis.surveys.ces]\nmax = 10.0\n").unwrap();
    assert_eq!(c.kpis.surveys.ces, ScaleConfig { min: 1.0, max: 10.0, good_from: 5.0 });
    assert!(load_str("[kpis.surveys.ces]\ngood = 5.0\n").unwrap_err().to_string().contains("good"), "unknown keys refused");
    figment::Jail::expect_with(|jail| {
        jail.set_env("TICKETPULSE_KPIS__SURVEYS__CES__GOOD_FROM", "4.5");
        let c = Config::load(None).unwrap();
        // CES default 1..=7 around it; CSAT untouched.
        assert_eq!(c.kpis.surveys.ces, ScaleConfig { min: 1.0, max: 7.0, good_from: 4.5 });
        assert_eq!(c.kpis.surveys.csat, CSAT_SCALE);
        Ok(())
    });
}

#[test]
fn librdkafka_properties_flatten_dotted_keys() {
    let c = load_str("[kafka.librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\nsasl.password = \"s3cret\"\n\"fetch.wait.max.ms\" = 50\n")
        .unwrap();
    let keys: Vec<_> = c.kafka.librdkafka.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(keys, ["fetch.wait.max.ms=50", "sasl.password=s3cret", "security.protocol=SASL_SSL"]);
}

#[test]
fn lists_from_the_environment_take_the_comma_form() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TICKETPULSE_TIME__WINDOWS", "5m, 1h");
        jail.set_env("TICKETPULSE_KAFKA__TOPICS", "a,b");
        jail.set_env("TICKETPULSE_DIMENSIONS__LABELS", "channel,team");
        jail.set_env("TICKETPULSE_KPIS__TOPICS__ALLOW", "");
        let c = Config::load(None).unwrap();
        assert_eq!(c.time.windows, [Duration::from_secs(300), Duration::from_secs(3600)]);
        assert_eq!(c.kafka.topics, ["a", "b"]);
        assert_eq!(c.dimensions.labels, [Dimension::Channel, Dimension::Team]);
        assert!(c.kpis.topics.allow.is_empty());
        jail.set_env("TICKETPULSE_TIME__WINDOWS", r#"["5m","24h"]"#);
        assert_eq!(Config::load(None).unwrap().time.windows, [Duration::from_secs(300), Duration::from_secs(86400)]);
        Ok(())
    });
}

#[test]
fn librdkafka_overrides_from_the_environment_are_taken_verbatim() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD", "007123");
        jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__CLIENT__ID", " {x=1} ");
        jail.set_env("TICKETPULSE_KAFKA__LIBRDKAFKA__FETCH__WAIT__MAX__MS", "50");
        let c = Config::load(None).unwrap();
        let props: Vec<_> = c.kafka.librdkafka.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(props, ["client.id= {x=1} ", "fetch.wait.max.ms=50", "sasl.password=007123"]);
        Ok(())
    });
}

#[test]
fn intake_secrets_from_the_environment_are_taken_verbatim() {
    // Each value as the help desk issued it: digits only, with its own quotes, with spaces
    // around it. figment's Env would make the first a number and strip or trim the others.
    for value in ["4839201746582910", "\"quoted-secret-0123\"", "  spaced-secret-0123  "] {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TICKETPULSE_INTAKE__CHATWOOT__SECRET", value);
            jail.set_env("TICKETPULSE_INTAKE__ZENDESK__SIGNING_SECRET", value);
            jail.set_env("TICKETPULSE_INTAKE__ZENDESK__ENABLED", "true");
            let c = Config::load(None).unwrap();
            assert_eq!((c.intake.chatwoot.secret.as_str(), c.intake.zendesk.signing_secret.as_str()), (value, value));
            // Other fields still read the typed way.
            assert!(c.intake.zendesk.enabled);
            Ok(())
        });
    }
}

#[test]
fn secret_named_overrides_are_strings_and_unknown_ones_are_named_without_their_value() {
    assert!(["intake__chatwoot__secret", "intake__zendesk__signing_secret", "kafka__librdkafka__sasl__password", "a__api_key", "a__token"]
        .iter()
        .all(|k| verbatim(k)));
    assert!(!["intake__zendesk__enabled", "http__max_connections", "kpis__agents__top"].iter().any(|k| verbatim(k)));
    figment::Jail::expect_with(|jail| {
        jail.set_env("TICKETPULSE_INTAKE__ZENDESK__SECRET", "4839201746582910");
        let err = Config::load(None).unwrap_err().to_string();
        assert!(err.starts_with("intake.zendesk.secret: unknown field; expected one of enabled, signing_secret,"), "{err}");
        assert!(err.ends_with("(from TICKETPULSE_INTAKE__ZENDESK__SECRET)"), "{err}");
        assert!(!err.contains("4839201746582910"), "{err}");
        Ok(())
    });
}

#[test]
fn a_number_for_a_secret_in_the_file_is_refused_naming_the_field_not_the_value() {
    for (toml, field) in [
        ("[intake.chatwoot]\nsecret = 4839201746582910\n", "intake.chatwoot.secret"),
        ("[intake.zendesk]\nsigning_secret = 4839201746582910\n", "intake.zendesk.signing_secret"),
        ("[intake.zendesk]\nsigning_secret = true\n", "intake.zendesk.signing_secret"),
    ] {
        let err = load_str(toml).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{field}: must be a string (in quotes); the value is not shown (from ")), "{err}");
        assert!(!err.contains("4839201746582910") && !err.contains("true"), "{err}");
    }
    let c = load_str("[intake.chatwoot]\nsecret = \"4839201746582910\"\n").unwrap();
    assert_eq!(c.intake.chatwoot.secret, "4839201746582910");
}

#[test]
fn a_parse_error_is_told_once_with_its_field_and_origin() {
    let err = load_str("[kafka]\nbrokerz = \"x\"\n").unwrap_err().to_string();
    let (message, origin) = err.split_once(" (from ").unwrap();
    assert_eq!(
        message,
        "kafka.brokerz: unknown field; expected one of brokers, group_id, topics, dead_letter_topic, auto_offset_reset, librdkafka"
    );
    assert!(origin.starts_with(std::env::temp_dir().to_str().unwrap()) && origin.ends_with(')'), "{err}");
    figment::Jail::expect_with(|jail| {
        jail.set_env("TICKETPULSE_TIME__ALLOWED_LATENESS", "soon");
        let err = Config::load(None).unwrap_err().to_string();
        assert!(err.starts_with("time.allowed_lateness: "), "{err}");
        assert!(err.ends_with("(from TICKETPULSE_TIME__ALLOWED_LATENESS)"), "{err}");
        assert!(!err.contains("default."), "{err}");
        Ok(())
    });
}

#[test]
fn a_toml_syntax_error_does_not_quote_the_line_it_is_on() {
    let err = load_str("[kafka.librdkafka]\n\"sasl.password\" = \"Hunter2Secret\n").unwrap_err().to_string();
    assert!(err.ends_with(": TOML parse error at line 2, column 33; invalid basic string"), "{err}");
    let err = load_str("[kafka.librdkafka]\n\"sasl.password\" = \"a\"\n\"sasl.password\" = \"Hunter2Secret\"\n").unwrap_err().to_string();
    assert!(err.ends_with(": TOML parse error at line 3, column 1; duplicate key `sasl.password` in table `kafka.librdkafka`"), "{err}");
}
