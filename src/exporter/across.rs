//! How each family's series combine across instances ([`Across`]): declared with each windowed
//! KPI in [`KPIS`], and here for the families rendered besides them. Read by the tests that
//! check a fleet's series against one instance's (tests/common), and the place a dashboard's
//! `sum` / `max` / `min` over instances is decided.

use crate::kpi::{Across, KPIS, TOTALS};

/// The families rendered besides [`KPIS`] (current gauges, topics, agents, cost, SLA) and how
/// they combine. The self-metrics describe each process and are not listed. A test checks that
/// every such family is.
const OTHERS: &[(&str, Across)] = &[
    // Current ticket gauges (exporter/kpi.rs).
    ("ticketpulse_open_tickets", Across::Sum),
    ("ticketpulse_oldest_unanswered_message_age_seconds", Across::Max),
    ("ticketpulse_backlog_tickets", Across::Sum),
    ("ticketpulse_stale_open_tickets", Across::Sum),
    // By topic and per agent: they add up when every instance reports the same labels (an
    // allow-list, or the same top N).
    ("ticketpulse_tickets_created_by_topic", Across::Sum),
    ("ticketpulse_agent_replies", Across::Sum),
    ("ticketpulse_agent_first_response_time_seconds", Across::Sum),
    ("ticketpulse_agent_tickets_solved", Across::Sum),
    ("ticketpulse_agent_logged_work_seconds", Across::Sum),
    ("ticketpulse_agent_csat_responses", Across::Sum),
    ("ticketpulse_agent_csat_good_responses", Across::Sum),
    ("ticketpulse_agent_sla_met", Across::Sum),
    ("ticketpulse_agent_sla_breached", Across::Sum),
    // Costs per unit are ratios.
    ("ticketpulse_cost_per_resolution", Across::Never),
    ("ticketpulse_cost_per_contact", Across::Never),
    // SLA (exporter/sla.rs): the configured targets are the same on every instance.
    ("ticketpulse_sla_target_seconds", Across::Never),
    ("ticketpulse_sla_met", Across::Sum),
    ("ticketpulse_sla_breached", Across::Sum),
    ("ticketpulse_sla_compliance_ratio", Across::Never),
    ("ticketpulse_sla_business_time_seconds", Across::Sum),
    ("ticketpulse_sla_running_targets", Across::Sum),
    ("ticketpulse_sla_paused_targets", Across::Sum),
    ("ticketpulse_sla_breached_open_tickets", Across::Sum),
    ("ticketpulse_sla_at_risk_targets", Across::Sum),
    ("ticketpulse_sla_next_deadline_seconds", Across::Min),
    ("ticketpulse_sla_unmatched_open_tickets", Across::Sum),
    // All-time SLA totals, per input partition (exporter/sla.rs).
    ("ticketpulse_sla_met_total", Across::Sum),
    ("ticketpulse_sla_breached_total", Across::Sum),
    ("ticketpulse_sla_business_time_cumulative_seconds", Across::Sum),
    // Staffing (exporter/staffing.rs): models of the whole queue's arrivals; an instance
    // holding some partitions sees part of them, and agents work on every partition.
    ("ticketpulse_staffing_required_agents", Across::Never),
    ("ticketpulse_staffing_available_agents", Across::Never),
    ("ticketpulse_staffing_expected_service_level_ratio", Across::Never),
    ("ticketpulse_staffing_expected_abandon_ratio", Across::Never),
    ("ticketpulse_staffing_expected_wait_seconds", Across::Never),
    ("ticketpulse_staffing_patience_seconds", Across::Never),
    ("ticketpulse_staffing_workload_agents", Across::Never),
    ("ticketpulse_staffing_backlog_clear_agents", Across::Never),
    ("ticketpulse_staffing_backlog_clear_time_seconds", Across::Never),
];

/// How a family combines; `None` for one not declared (the self-metrics).
pub(crate) fn family_across(name: &str) -> Option<Across> {
    // Totals add up: each counts its own partition's input (`kpi/totals.rs`).
    let totals = TOTALS.iter().map(|t| (t.name, Across::Sum));
    KPIS.iter()
        .map(|k| (k.name, k.across))
        .chain(totals)
        .chain(OTHERS.iter().copied())
        .find(|(family, _)| *family == name)
        .map(|(_, across)| across)
}

/// How one series of an exposition (`name{labels}` as exposed) combines across instances: its
/// family's rule, a summary's or histogram's `_count` and `_sum` (and `_bucket`) included; a quantile never combines. `None`
/// for a series of no declared family (the self-metrics).
pub fn across(series: &str) -> Option<Across> {
    let (name, labels) = series.split_once('{').unwrap_or((series, ""));
    let summary_part = || {
        name.strip_suffix("_sum").or_else(|| name.strip_suffix("_count")).or_else(|| name.strip_suffix("_bucket")).and_then(family_across)
    };
    let across = family_across(name).or_else(summary_part)?;
    let quantile = labels.starts_with("quantile=\"") || labels.contains(",quantile=\"");
    Some(if quantile { Across::Never } else { across })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::View;
    use crate::exporter::{encoding, self_metrics, ExportRules};
    use crate::internal_events::Telemetry;

    /// Every family but the self-metrics, with every optional one on, has a rule.
    #[test]
    fn every_family_rendered_declares_how_it_combines_across_instances() {
        let mut config = Config::default();
        config.kpis.agents.enabled = true;
        config.kpis.cost.per_hour = Some(1400.0);
        config.kpis.staffing.enabled = true;
        let rules = ExportRules::new(&config);
        let (view, telemetry) = (View::default(), Telemetry::default());
        let mut own = encoding::Families::default();
        self_metrics::render_self(&mut own, &view, &telemetry);
        let own: Vec<String> = encoding::to_proto(&own).iter().map(|f| f.name().to_string()).collect();
        let names: Vec<String> = crate::exporter::render(&view, &rules, &telemetry).iter().map(|f| f.name().to_string()).collect();
        let undeclared: Vec<&String> = names.iter().filter(|n| !own.contains(n) && family_across(n).is_none()).collect();
        assert_eq!(undeclared, Vec::<&String>::new());
        assert_eq!(names.len() - own.len(), KPIS.len() + TOTALS.len() + OTHERS.len(), "every declared family is rendered");
    }

    #[test]
    fn a_summary_adds_its_count_and_sum_but_never_its_quantiles() {
        let name = "ticketpulse_first_response_time_seconds";
        assert_eq!(across(&format!("{name}_count{{window=\"1h\"}}")), Some(Across::Sum));
        assert_eq!(across(&format!("{name}_sum")), Some(Across::Sum));
        assert_eq!(across(&format!("{name}{{window=\"1h\",quantile=\"0.9\"}}")), Some(Across::Never));
        assert_eq!(across("ticketpulse_abandonment_ratio{window=\"1h\"}"), Some(Across::Never));
        assert_eq!(across("ticketpulse_sla_next_deadline_seconds{policy=\"urgent\"}"), Some(Across::Min));
        assert_eq!(across("ticketpulse_events_total{type=\"message\"}"), None);
    }
}
