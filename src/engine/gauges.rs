//! The current (not windowed) gauges of a partition: open tickets, SLA targets, waits and
//! backlog, kept up to date as tickets change and read at scrape time.

use std::collections::btree_map::Entry as BEntry;
use std::collections::BTreeMap;
use std::hash::Hash;

use hashbrown::hash_map::Entry as HEntry;
use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use crate::base::Millis;
use crate::dimensions::{Catalog, DimKey};
use crate::event::Status;
use crate::sla::{AsOf, PolicyId, SlaTarget, TargetGauge};
use crate::ticket::GaugeShare;

use super::Rules;

/// The key of SLA series: dimensions, policy, target.
pub type SlaKey = (DimKey, PolicyId, SlaTarget);

/// The current (not windowed) gauges of a partition, kept up to date as tickets change.
/// Deadlines and waiting times are kept as multisets of instants so that what depends on
/// "now" (at risk, overdue, next deadline, age) is read at scrape time. The series are found
/// by hash (their keys are label sets of configured values, bounded), as a read only sums
/// them into ordered maps; they are stored in key order ([`sorted`]), as when they were B-trees.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Gauges {
    /// Open tickets by status and dimensions.
    #[serde(with = "sorted")]
    pub(super) open: Series<(Status, DimKey), i64>,
    /// Open tickets no policy matches.
    #[serde(with = "sorted")]
    pub(super) unmatched: Series<DimKey, i64>,
    /// Paused targets.
    #[serde(with = "sorted")]
    pub(super) paused: Series<SlaKey, i64>,
    /// Breached targets whose work is still not done.
    #[serde(with = "sorted")]
    pub(super) breached: Series<SlaKey, i64>,
    /// Deadlines of running targets.
    #[serde(with = "sorted")]
    pub(super) deadlines: Series<SlaKey, BTreeMap<Millis, Count>>,
    /// Oldest unanswered customer message of each open ticket.
    #[serde(with = "sorted")]
    pub(super) waiting: Series<DimKey, BTreeMap<Millis, Count>>,
    /// Creation time of each open ticket (backlog by age).
    #[serde(with = "sorted")]
    pub(super) created: Series<DimKey, BTreeMap<Millis, Count>>,
}

/// Gauge series by key. Keys are bounded label sets built from configured values (never raw
/// input), so the hasher is picked for speed; aHash, as the window series use.
type Series<K, V> = HashMap<K, V, ahash::RandomState>;

/// Serde for [`Series`]: written as a map in key order, the bytes a `BTreeMap` wrote, so a
/// snapshot does not depend on hash order and older snapshots read the same.
mod sorted {
    use super::Series;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::hash::Hash;

    pub fn serialize<K: Ord + Serialize, V: Serialize, S: Serializer>(series: &Series<K, V>, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&K, &V)> = series.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        serializer.collect_map(entries)
    }

    pub fn deserialize<'de, K: Deserialize<'de> + Hash + Eq, V: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Series<K, V>, D::Error> {
        Series::deserialize(deserializer)
    }
}

impl Gauges {
    /// Moves a ticket's share from `before` to `after`, touching only what changed (the
    /// same result as taking `before` out and putting `after` in).
    pub(super) fn change(&mut self, catalog: &Catalog, before: Option<GaugeShare>, after: Option<GaugeShare>) {
        let (Some(b), Some(a)) = (before, after) else {
            self.apply(catalog, before, -1);
            self.apply(catalog, after, 1);
            return;
        };
        if b.dims != a.dims || b.policy != a.policy {
            self.apply(catalog, before, -1);
            self.apply(catalog, after, 1);
            return;
        }
        let key = catalog.key(a.dims);
        if b.status != a.status {
            bump(&mut self.open, (b.status, key), -1);
            bump(&mut self.open, (a.status, key), 1);
        }
        if b.created_at != a.created_at {
            bump_within(&mut self.created, key, b.created_at, -1);
            bump_within(&mut self.created, key, a.created_at, 1);
        }
        if b.waiting_since != a.waiting_since {
            if let Some(since) = b.waiting_since {
                bump_within(&mut self.waiting, key, since, -1);
            }
            if let Some(since) = a.waiting_since {
                bump_within(&mut self.waiting, key, since, 1);
            }
        }
        if let Some(policy) = a.policy {
            for ((target, old), new) in SlaTarget::ALL.into_iter().zip(b.targets).zip(a.targets) {
                if old != new {
                    self.target((key, policy, target), old, -1);
                    self.target((key, policy, target), new, 1);
                }
            }
        }
    }

    pub(super) fn apply(&mut self, catalog: &Catalog, share: Option<GaugeShare>, delta: i64) {
        let Some(share) = share else { return };
        let key = catalog.key(share.dims);
        bump(&mut self.open, (share.status, key), delta);
        bump_within(&mut self.created, key, share.created_at, delta);
        if let Some(since) = share.waiting_since {
            bump_within(&mut self.waiting, key, since, delta);
        }
        let Some(policy) = share.policy else {
            bump(&mut self.unmatched, key, delta);
            return;
        };
        for (target, gauge) in SlaTarget::ALL.into_iter().zip(share.targets) {
            self.target((key, policy, target), gauge, delta);
        }
    }

    fn target(&mut self, sla_key: SlaKey, gauge: Option<TargetGauge>, delta: i64) {
        match gauge {
            Some(TargetGauge::Running(deadline)) => bump_within(&mut self.deadlines, sla_key, deadline, delta),
            Some(TargetGauge::Paused) => bump(&mut self.paused, sla_key, delta),
            Some(TargetGauge::Breached) => bump(&mut self.breached, sla_key, delta),
            None => {}
        }
    }

    /// Adds these gauges, read at time `now`, into `view`; SLA targets as [`AsOf`] classifies them.
    pub(super) fn read_into(&self, now: Millis, rules: &Rules, view: &mut Current) {
        let horizons = rules.ticket.policies.horizons();
        let at = AsOf(now);
        for (k, v) in &self.open {
            *view.open.entry(*k).or_default() += v;
        }
        for (k, v) in &self.unmatched {
            *view.unmatched.entry(*k).or_default() += v;
        }
        fn row<'a>(sla: &'a mut BTreeMap<SlaKey, SlaRow>, key: &SlaKey, horizons: usize) -> &'a mut SlaRow {
            sla.entry(*key).or_insert_with(|| SlaRow { at_risk: vec![0; horizons], ..SlaRow::default() })
        }
        for (k, v) in &self.paused {
            row(&mut view.sla, k, horizons.len()).paused += v;
        }
        for (k, v) in &self.breached {
            row(&mut view.sla, k, horizons.len()).breached += v;
        }
        for (k, deadlines) in &self.deadlines {
            let r = row(&mut view.sla, k, horizons.len());
            let overdue: i64 = deadlines.range(at.overdue()).map(|(_, n)| n).sum();
            let total: i64 = deadlines.values().sum();
            r.breached += overdue;
            r.running += total - overdue;
            for ((_, horizon), count) in horizons.iter().zip(r.at_risk.iter_mut()) {
                *count += deadlines.range(at.due_within(*horizon)).map(|(_, n)| n).sum::<i64>();
            }
            if let Some((next, _)) = deadlines.range(at.ahead()).next() {
                let due_in = next - now;
                r.next_deadline = Some(r.next_deadline.map_or(due_in, |d| d.min(due_in)));
            }
        }
        for (k, created) in &self.created {
            let ages = view.backlog.entry(*k).or_insert_with(|| vec![0; rules.backlog_buckets.len() + 1]);
            for (at, n) in created {
                let age = now - at;
                ages[rules.backlog_buckets.iter().position(|b| age <= *b).unwrap_or(rules.backlog_buckets.len())] += n;
            }
            *view.stale.entry(*k).or_default() += created.range(..now - rules.stale_after).map(|(_, n)| n).sum::<i64>();
        }
        for (k, waiting) in &self.waiting {
            if let Some((oldest, _)) = waiting.first_key_value() {
                let age = (now - oldest).max(0);
                let entry = view.oldest_unanswered.entry(*k).or_insert(age);
                *entry = (*entry).max(age);
            }
        }
    }
}

/// One SLA series of the current gauges.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SlaRow {
    /// Running targets not yet due.
    pub running: i64,
    pub paused: i64,
    /// Breached (or overdue) and not yet fulfilled.
    pub breached: i64,
    /// Running targets due within each configured horizon.
    pub at_risk: Vec<i64>,
    /// Milliseconds until the earliest running deadline.
    pub next_deadline: Option<Millis>,
}

/// The current gauges of every partition, read at each partition's current time.
#[derive(Debug, Default, Clone)]
pub struct Current {
    pub open: BTreeMap<(Status, DimKey), i64>,
    pub unmatched: BTreeMap<DimKey, i64>,
    pub sla: BTreeMap<SlaKey, SlaRow>,
    /// Milliseconds since the oldest unanswered customer message of an open ticket.
    pub oldest_unanswered: BTreeMap<DimKey, Millis>,
    /// Open tickets by age bucket ([`Rules::backlog_buckets`], then older).
    pub backlog: BTreeMap<DimKey, Vec<i64>>,
    /// Open tickets older than [`Rules::stale_after`].
    pub stale: BTreeMap<DimKey, i64>,
}

impl Current {
    /// The dimension keys of every current series, whose labels the exporter resolves.
    pub fn dim_keys(&self) -> impl Iterator<Item = DimKey> + '_ {
        (self.open.keys().map(|(_, key)| *key))
            .chain(self.unmatched.keys().copied())
            .chain(self.sla.keys().map(|(key, _, _)| *key))
            .chain(self.oldest_unanswered.keys().copied())
            .chain(self.backlog.keys().copied())
            .chain(self.stale.keys().copied())
    }
}

/// How many open tickets share one instant of a multiset: 4 bytes, as a B-tree entry costs
/// per open ticket (counts are per partition, far below 2^31). It adds up into `i64`s, and
/// postcard writes it as it wrote the `i64` before (a zigzag varint), so snapshots read the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Count(i32);

impl<'a> std::iter::Sum<&'a Count> for i64 {
    fn sum<I: Iterator<Item = &'a Count>>(iter: I) -> i64 {
        iter.map(|c| i64::from(c.0)).sum()
    }
}

impl std::ops::AddAssign<&Count> for i64 {
    fn add_assign(&mut self, c: &Count) {
        *self += i64::from(c.0);
    }
}

/// [`bump`] on the multiset of instants under `key`, dropping the multiset when it empties.
fn bump_within<K: Hash + Eq>(map: &mut Series<K, BTreeMap<Millis, Count>>, key: K, at: Millis, delta: i64) {
    match map.entry(key) {
        HEntry::Occupied(mut set) => {
            match set.get_mut().entry(at) {
                BEntry::Occupied(mut e) => {
                    e.get_mut().0 += delta as i32;
                    if e.get().0 == 0 {
                        e.remove();
                    }
                }
                BEntry::Vacant(e) => {
                    e.insert(Count(delta as i32));
                }
            }
            if set.get().is_empty() {
                set.remove();
            }
        }
        HEntry::Vacant(set) => {
            set.insert(BTreeMap::from([(at, Count(delta as i32))]));
        }
    }
}

/// Adds `delta`, dropping entries that reach zero so their series disappear.
fn bump<K: Hash + Eq>(map: &mut Series<K, i64>, key: K, delta: i64) {
    match map.entry(key) {
        HEntry::Occupied(mut e) => {
            *e.get_mut() += delta;
            if *e.get() == 0 {
                e.remove();
            }
        }
        HEntry::Vacant(e) => {
            e.insert(delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::TargetState;

    /// A deadline at the instant is still running (a reply exactly at it meets it) and at risk;
    /// one a millisecond before is breached; the horizon's end is inclusive.
    #[test]
    fn a_target_is_breached_from_just_after_its_deadline_and_at_risk_up_to_the_horizon() {
        let at = AsOf(1_000);
        let states = [999, 1_000, 1_060, 1_061].map(|d| (at.state(TargetGauge::Running(d)), at.at_risk(TargetGauge::Running(d), 60)));
        assert_eq!(
            states,
            [(TargetState::Breached, false), (TargetState::Running, true), (TargetState::Running, true), (TargetState::Running, false)]
        );
        assert_eq!((at.state(TargetGauge::Paused), at.at_risk(TargetGauge::Paused, 60)), (TargetState::Paused, false));
        assert_eq!(at.state(TargetGauge::Breached), TargetState::Breached);
        // The gauges count the same deadlines by the ranges.
        let deadlines = BTreeMap::from([(999, Count(1)), (1_000, Count(2)), (1_060, Count(4)), (1_061, Count(8))]);
        let sum = |range: std::collections::btree_map::Range<'_, Millis, Count>| range.map(|(_, n)| i64::from(n.0)).sum::<i64>();
        let counts = (sum(deadlines.range(at.overdue())), sum(deadlines.range(at.due_within(60))), sum(deadlines.range(at.ahead())));
        assert_eq!(counts, (1, 6, 14));
    }
}
