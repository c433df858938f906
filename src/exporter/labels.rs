//! What the exporter renders with besides a [`crate::engine::View`]: label values by id and
//! the read-time settings, resolved from the rules once at start, so a scrape neither holds
//! the engine lock for names nor rebuilds them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::agent::AgentRules;
use crate::base::Millis;
use crate::dimensions::{Catalog, DimKey};
use crate::engine::{Rules, View};
use crate::kpi::{bucket_labels, KpiLabels};
use crate::sla::{PolicyId, SlaTarget};

use super::encoding::Labels;

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
    /// Topic labels: the allow-list (empty: the top `topics_top`).
    pub topic_allow: Vec<String>,
    pub topics_top: usize,
    pub agents: AgentRules,
    pub cost_per_hour: Option<f64>,
}

impl ExportRules {
    pub fn new(rules: &Rules) -> Self {
        let policies = &rules.ticket.policies;
        let window_ms: Vec<Millis> = rules.windows.iter().map(|w| w.length()).collect();
        Self {
            windows: rules.windows.iter().map(|w| w.label.clone()).collect(),
            longest: (0..window_ms.len()).max_by_key(|w| window_ms[*w]).unwrap_or(0),
            window_ms,
            catalog: rules.ticket.catalog.clone(),
            policies: policies.names().map(String::from).collect(),
            targets: policies.targets().map(|(policy, target, ms)| (policy.to_string(), target, ms)).collect(),
            horizons: policies.horizons().iter().map(|(label, _)| label.clone()).collect(),
            kpi: KpiLabels { wait: bucket_labels(&rules.ticket.kpi.abandon_wait_buckets) },
            age_buckets: bucket_labels(&rules.backlog_buckets),
            topic_allow: rules.families.topic.allow.clone(),
            topics_top: rules.topics_top,
            agents: rules.families.agent.clone(),
            cost_per_hour: rules.cost_per_hour,
        }
    }

    /// The dimension labels of every key `view` holds, for [`DimLabels::of`].
    pub fn dim_labels(&self, view: &View) -> DimLabels {
        let keys = view.windows.dim_keys().chain(view.current.dim_keys());
        let mut labels = BTreeMap::new();
        for key in keys {
            labels.entry(key).or_insert_with(|| self.catalog.labels(key));
        }
        DimLabels(labels)
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
