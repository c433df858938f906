//! The windowed KPIs: what a ticket reports ([`Sample`]) and how one window slice accumulates
//! it ([`KpiSlice`]). `docs/metrics.md` is the user-facing description of the same.

use serde::{Deserialize, Serialize};

use crate::sla::SlaOutcome;
use crate::window::{Aggregate, Distribution};

/// A KPI fact produced by a ticket, counted in the window slice of its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// `ticket_created` (volume).
    Created,
    /// First public human agent reply, seconds after creation.
    FirstResponse(f64),
    /// First `solved`, seconds after creation.
    FirstResolution(f64),
    /// Every `solved` (again after a reopen), seconds after creation.
    FullResolution(f64),
    /// `solved`/`closed` → an open status.
    Reopened,
    /// Customer left before any public agent reply; `short` when sooner than the threshold.
    Abandoned { short: bool },
    /// An SLA target was met or breached.
    Sla(SlaOutcome),
}

/// Everything one slice of one series knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KpiSlice {
    pub created: u64,
    pub first_response: Distribution,
    pub first_resolution: Distribution,
    pub full_resolution: Distribution,
    pub reopened: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    /// Indexed by [`crate::sla::SlaTarget::index`].
    pub sla_met: [u64; 2],
    pub sla_breached: [u64; 2],
}

impl KpiSlice {
    pub fn add(&mut self, sample: Sample) {
        match sample {
            Sample::Created => self.created += 1,
            Sample::FirstResponse(s) => self.first_response.add(s),
            Sample::FirstResolution(s) => self.first_resolution.add(s),
            Sample::FullResolution(s) => self.full_resolution.add(s),
            Sample::Reopened => self.reopened += 1,
            Sample::Abandoned { short: false } => self.abandoned += 1,
            Sample::Abandoned { short: true } => self.short_abandoned += 1,
            Sample::Sla(SlaOutcome::Met(t)) => self.sla_met[t.index()] += 1,
            Sample::Sla(SlaOutcome::Breached(t)) => self.sla_breached[t.index()] += 1,
        }
    }
}

impl Aggregate for KpiSlice {
    fn merge(&mut self, o: &Self) {
        self.created += o.created;
        self.first_response.merge(&o.first_response);
        self.first_resolution.merge(&o.first_resolution);
        self.full_resolution.merge(&o.full_resolution);
        self.reopened += o.reopened;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        for i in 0..2 {
            self.sla_met[i] += o.sla_met[i];
            self.sla_breached[i] += o.sla_breached[i];
        }
    }
}
