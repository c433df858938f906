//! [`Rules`]: the configuration the engine needs, compiled once.

use crate::base::Millis;
use crate::config::{Config, ConfigError};
use crate::dimensions::Catalog;
use crate::event::ParseLimits;
use crate::kpi::{KpiRules, TotalRules};
use crate::sla::SlaPolicies;
use crate::snapshot::StateShape;
use crate::ticket::TicketRules;
use crate::window::WindowSpec;

use super::families::FamilyRules;

/// Configuration the engine needs, resolved once.
#[derive(Debug)]
pub struct Rules {
    pub ticket: TicketRules,
    pub windows: Vec<WindowSpec>,
    pub allowed_lateness: Millis,
    pub idle_timeout: Millis,
    pub retention: Millis,
    pub limits: ParseLimits,
    pub dedup_ids_per_ticket: usize,
    pub max_tickets: usize,
    /// Events a partition's reorder buffer holds at most.
    pub max_buffered: usize,
    /// What recording each window family reads.
    pub families: FamilyRules,
    /// The bounds all-time totals are recorded with.
    pub totals: TotalRules,
    /// Upper bounds of the backlog age buckets, and the age from which a ticket is stale.
    pub backlog_buckets: Vec<Millis>,
    pub stale_after: Millis,
    /// What snapshots are checked against before use.
    pub shape: StateShape,
    /// Agents whose `agent_status` a partition keeps (`kpis.staffing.max_agents_per_slice`);
    /// `None`: staffing is off and statuses are not kept.
    pub presence_cap: Option<usize>,
}

impl Rules {
    /// Compiles a configuration that passed [`Config::validate`]: the one place SLA policies
    /// and calendars are built, naming the field of the first problem.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let ms = crate::base::millis;
        let windows = WindowSpec::configured(&config.time);
        let catalog = Catalog::new(&config.dimensions);
        Ok(Self {
            ticket: TicketRules { kpi: KpiRules::new(config, &catalog), catalog, policies: SlaPolicies::new(&config.sla)? },
            windows: windows.clone(),
            allowed_lateness: ms(config.time.allowed_lateness),
            idle_timeout: ms(config.time.idle_timeout),
            retention: ms(config.tickets.retention),
            limits: config.parse_limits(),
            dedup_ids_per_ticket: config.events.dedup_ids_per_ticket,
            max_tickets: config.tickets.max_per_partition,
            max_buffered: config.time.max_buffered_events,
            families: FamilyRules::new(config),
            totals: TotalRules::new(config),
            presence_cap: config.kpis.staffing.enabled.then_some(config.kpis.staffing.max_agents_per_slice),
            backlog_buckets: config.kpis.backlog.age_buckets.iter().map(|d| ms(*d)).collect(),
            stale_after: ms(config.kpis.backlog.stale_after),
            shape: StateShape::new(config, windows),
        })
    }
}
