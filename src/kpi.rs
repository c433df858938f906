//! The windowed KPIs: what a ticket reports ([`Sample`]) and how one window slice accumulates
//! it ([`KpiSlice`]). `docs/metrics.md` is the user-facing description of the same.

use serde::{Deserialize, Serialize};

use crate::sla::{SlaOutcome, SlaSample};
use crate::window::{Aggregate, Distribution};

/// A KPI fact produced by a ticket, counted in the window slice of its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// `ticket_created` (volume).
    Created,
    /// First public human agent reply, seconds after creation.
    FirstResponse(f64),
    /// A later public agent reply, seconds after the oldest customer message it answers.
    NextReply(f64),
    /// First `solved`, seconds after creation.
    FirstResolution(f64),
    /// Every `solved` (again after a reopen), seconds after creation.
    FullResolution(f64),
    /// `solved`/`closed` → an open status.
    Reopened,
    /// Customer left before any public agent reply; `short` when sooner than the threshold.
    Abandoned { short: bool },
}

/// Everything one slice of one series knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KpiSlice {
    pub created: u64,
    pub first_response: Distribution,
    pub next_reply: Distribution,
    pub first_resolution: Distribution,
    pub full_resolution: Distribution,
    pub reopened: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
}

impl KpiSlice {
    pub fn add(&mut self, sample: Sample) {
        match sample {
            Sample::Created => self.created += 1,
            Sample::FirstResponse(s) => self.first_response.add(s),
            Sample::NextReply(s) => self.next_reply.add(s),
            Sample::FirstResolution(s) => self.first_resolution.add(s),
            Sample::FullResolution(s) => self.full_resolution.add(s),
            Sample::Reopened => self.reopened += 1,
            Sample::Abandoned { short: false } => self.abandoned += 1,
            Sample::Abandoned { short: true } => self.short_abandoned += 1,
        }
    }
}

impl Aggregate for KpiSlice {
    fn merge(&mut self, o: &Self) {
        self.created += o.created;
        self.first_response.merge(&o.first_response);
        self.next_reply.merge(&o.next_reply);
        self.first_resolution.merge(&o.first_resolution);
        self.full_resolution.merge(&o.full_resolution);
        self.reopened += o.reopened;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
    }
}

/// One slice of the SLA series of one dimension key and policy. Arrays are indexed by
/// [`crate::sla::SlaTarget::index`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlaSlice {
    pub met: [u64; 3],
    pub breached: [u64; 3],
    /// Business time fulfilled targets took, pauses excluded.
    pub business_time: [Distribution; 3],
}

impl SlaSlice {
    pub fn add(&mut self, sample: &SlaSample) {
        let i = sample.target.index();
        match sample.outcome {
            Some(SlaOutcome::Met) => self.met[i] += 1,
            Some(SlaOutcome::Breached) => self.breached[i] += 1,
            None => {}
        }
        if let Some(s) = sample.business_seconds {
            self.business_time[i].add(s);
        }
    }
}

impl Aggregate for SlaSlice {
    fn merge(&mut self, o: &Self) {
        for i in 0..3 {
            self.met[i] += o.met[i];
            self.breached[i] += o.breached[i];
            self.business_time[i].merge(&o.business_time[i]);
        }
    }
}
