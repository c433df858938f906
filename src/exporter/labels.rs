//! What the exporter renders with besides a [`crate::engine::View`]: label values by id and
//! the read-time settings, resolved from the configuration once at start (the engine carries
//! none of them), so a scrape neither holds the engine lock for names nor rebuilds them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::agent::AgentRules;
use crate::base::PartitionId;
use crate::base::{millis, window_label, Millis};
use crate::config::Config;
use crate::dimensions::{Catalog, DimKey};
use crate::engine::View;
use crate::kpi::{bucket_labels, KpiLabels, TotalRules};
use crate::sla::{PolicyId, SlaTarget};
use crate::window::WindowSpec;

use super::encoding::Labels;
use super::staffing::StaffingRules;

/// The exporter's share of the configuration.
#[derive(Debug, Clone)]
pub struct ExportRules {
    /// `window` label values, by window index, and each window's length.
    pub windows: Vec<String>,
    pub window_ms: Vec<Millis>,
    /// The index of the longest window, over which topics and agents are ranked.
    pub longest: usize,
    catalog: Catalog,
    /// `policy` label values, by [`PolicyId`].
    pub policies: Vec<String>,
    /// Every configured SLA target: (policy, target, length in the policy calendar's time).
    pub targets: Vec<(String, SlaTarget, Millis)>,
    /// `horizon` label values of the at-risk gauges.
    pub horizons: Vec<String>,
    /// Label values of the windowed KPIs' own labels (`wait`).
    pub kpi: KpiLabels,
    /// `age` label values of backlog age buckets.
    pub age_buckets: Vec<String>,
    /// `kpis.histograms.native`: whether `/metrics` serves the protobuf exposition when asked.
    pub native: bool,
    /// Topic labels: the allow-list (empty: the top `topics_top`).
    pub topic_allow: Vec<String>,
    pub topics_top: usize,
    pub agents: AgentRules,
    pub cost_per_hour: Option<f64>,
    /// The `le` bounds of the cumulative histograms, as the totals were recorded with.
    pub totals: TotalRules,
    /// `kpis.staffing`, when enabled.
    pub staffing: Option<StaffingRules>,
}

impl ExportRules {
    /// From a configuration the engine's rules compiled (`engine::Rules::new` checks it).
    pub fn new(config: &Config) -> Self {
        let windows = WindowSpec::configured(&config.time);
        let window_ms: Vec<Millis> = windows.iter().map(|w| w.length()).collect();
        let policies = &config.sla.policies;
        let target = |policy: &crate::config::PolicyConfig, target: SlaTarget| match target {
            SlaTarget::FirstResponse => policy.first_response,
            SlaTarget::NextReply => policy.next_reply,
            SlaTarget::Resolution => policy.resolution,
        };
        Self {
            windows: windows.iter().map(|w| w.label.clone()).collect(),
            longest: (0..window_ms.len()).max_by_key(|w| window_ms[*w]).unwrap_or(0),
            window_ms,
            catalog: Catalog::new(&config.dimensions),
            policies: policies.iter().map(|p| p.name.clone()).collect(),
            targets: policies
                .iter()
                .flat_map(|p| SlaTarget::ALL.into_iter().filter_map(move |t| Some((p.name.clone(), t, millis(target(p, t)?)))))
                .collect(),
            horizons: config.sla.at_risk_horizons.iter().map(|h| window_label(*h)).collect(),
            kpi: KpiLabels::new(config),
            native: config.kpis.histograms.native,
            age_buckets: bucket_labels(&config.kpis.backlog.age_buckets.iter().map(|d| millis(*d)).collect::<Vec<_>>()),
            topic_allow: config.kpis.topics.allow.clone(),
            topics_top: config.kpis.topics.top,
            agents: AgentRules::new(&config.kpis.agents),
            cost_per_hour: config.kpis.cost.per_hour,
            totals: TotalRules::new(config),
            staffing: config.kpis.staffing.enabled.then(|| {
                let s = &config.kpis.staffing;
                let catalog = Catalog::new(&config.dimensions);
                let realtime = &config.kpis.realtime;
                StaffingRules {
                    service_level: s.service_level,
                    max_occupancy: s.max_occupancy,
                    target_occupancy: s.target_occupancy,
                    backlog_horizon_seconds: s.backlog_horizon.as_secs_f64(),
                    realtime: realtime
                        .channels
                        .iter()
                        .map(|c| (catalog.channel(c), millis(realtime.service_level_thresholds[c])))
                        .collect(),
                }
            }),
        }
    }

    /// The dimension labels of every key `view` holds, for [`DimLabels::of`].
    pub fn dim_labels(&self, view: &View) -> DimLabels {
        let totals = view.totals.iter().flat_map(|(_, t)| t.dim_keys());
        let keys = view.windows.dim_keys().chain(view.current.dim_keys()).chain(totals);
        let mut labels = BTreeMap::new();
        for key in keys {
            labels.entry(key).or_insert_with(|| self.catalog.labels(key));
        }
        DimLabels(labels)
    }

    /// Online agents available to a queue, by their latest `agent_status`.
    pub fn available(&self, presence: &crate::engine::presence::Presences, queue: DimKey) -> usize {
        presence.available(queue, &self.catalog)
    }

    /// The labels of a queue ([`DimKey::queue`]): its dimension labels but priority.
    pub fn queue_labels(&self, key: DimKey) -> Vec<(&'static str, String)> {
        self.catalog.labels(key).into_iter().filter(|(name, _)| *name != "priority").collect()
    }

    /// `window` and then the dimension labels.
    pub fn window_dims<'a>(&'a self, dims: &'a DimLabels, window: usize, key: DimKey) -> Labels<'a> {
        let mut labels = Labels::new();
        labels.push(("window", Cow::Borrowed(self.windows[window].as_str())));
        labels.extend(dims.of(key));
        labels
    }

    /// The dimension labels of a key, then `policy` and `target`.
    pub fn sla_series<'a>(&'a self, dims: &'a DimLabels, key: DimKey, policy: PolicyId, target: SlaTarget) -> Labels<'a> {
        let mut labels: Labels<'a> = dims.of(key).collect();
        labels.push(("policy", Cow::Borrowed(self.policies[usize::from(policy)].as_str())));
        labels.push(("target", Cow::Borrowed(target.as_str())));
        labels
    }
}

/// `topic` and `partition`: the input partition a total counts.
pub fn partition_labels(partition: &PartitionId) -> [(&'static str, Cow<'_, str>); 2] {
    [("topic", Cow::Borrowed(partition.0.as_str())), ("partition", Cow::Owned(partition.1.to_string()))]
}

/// The dimension labels of the keys of one View, built once per render (a few hundred keys at
/// most), so each series borrows its label values rather than allocating them.
pub struct DimLabels(BTreeMap<DimKey, Vec<(&'static str, String)>>);

impl DimLabels {
    /// The labels of `key`, in the configured order; `key` must come from the View these were
    /// built from.
    pub fn of(&self, key: DimKey) -> impl Iterator<Item = (&'static str, Cow<'_, str>)> {
        self.0[&key].iter().map(|(name, value)| (*name, Cow::Borrowed(value.as_str())))
    }
}
