//! Event-time all-time totals: what every windowed family that adds up across instances
//! ([`super::Across::Sum`]) also exports as a Prometheus counter (`<family>_total`) or, for a
//! duration, as a cumulative histogram (`<stem>_cumulative_seconds`), per input partition.
//! Windows serve the live 5m / 1h / 24h read; totals are what Prometheus sums over fleets,
//! label values and months (`docs/metrics.md`, "Totals and cumulative histograms").
//!
//! The totals of a key are a [`super::KpiTotals`]: the KPI slice's fields, each as its
//! [`Accumulates::Total`] (the same type, except a [`Distribution`] becomes a [`Cumulative`]),
//! filled by the same `add` blocks of the catalogue and read by the same closures. They are
//! never pruned: a key's totals stay for as long as the partition's state does.

use std::collections::HashMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::dimensions::DimKey;
use crate::sla::{PolicyId, SlaOutcome, SlaSample, SlaTarget};
use crate::window::Distribution;

use super::{Fact, KpiTotalBounds, KpiTotals, SurveyTally};

/// The default bucket bounds in seconds (log-spaced, a minute to a month): 1m, 5m, 15m, 30m,
/// 1h, 2h, 4h, 8h, 24h, 48h, 7d, 30d; `kpis.histograms.buckets` replaces them.
pub const DEFAULT_BUCKETS: [f64; 12] =
    [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0, 2592000.0];

/// The `le` bounds (seconds, ascending, distinct, without `+Inf`) of a histogram of a duration
/// whose SLA targets are of the kinds `targets`: each such target of every policy, and the
/// configured (or default) buckets.
pub fn bucket_bounds(config: &Config, targets: &[SlaTarget]) -> Vec<f64> {
    let configured = config.kpis.histograms.buckets.as_deref().unwrap_or(&DEFAULT_BUCKETS);
    let of_policies = config.sla.policies.iter().flat_map(|p| {
        targets.iter().filter_map(move |t| match t {
            SlaTarget::FirstResponse => p.first_response,
            SlaTarget::NextReply => p.next_reply,
            SlaTarget::Resolution => p.resolution,
        })
    });
    let mut bounds: Vec<f64> = configured.iter().copied().chain(of_policies.map(|d| d.as_secs_f64())).collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
}

/// The schema of the native histograms (`docs/metrics.md`, "Native histograms"): each power of
/// two split into 2^3 buckets, so a bucket's bounds differ by a factor 2^(1/8) ≈ 1.0905. Finer
/// schemas cost 2^(s-3) times the buckets in state, in every scrape and in Prometheus's TSDB.
pub const NATIVE_SCHEMA: i32 = 3;

/// client_golang's `nativeHistogramBounds` for schema 3: where each of a power of two's 8
/// buckets starts, as a fraction in [0.5, 1) of `frexp`. Copied, not computed, so indexes
/// match Prometheus's to the last bit at the bounds.
const NATIVE_BOUNDS: [f64; 8] = [
    0.5,
    0.5452538663326288,
    0.5946035575013605,
    0.6484197773255048,
    0.7071067811865475,
    0.7711054127039704,
    0.8408964152537144,
    0.9170040432046711,
];

/// The native bucket index of `v` > 0 at [`NATIVE_SCHEMA`]: the `i` with
/// 2^((i-1)/8) < v <= 2^(i/8) (buckets include their upper bound), i.e. ceil(log2(v) × 8),
/// computed as client_golang does (`frexp`, then the bound table) rather than through `log2`,
/// which may round across a bound. Infinity counts in the bucket of `f64::MAX`.
pub fn native_index(v: f64) -> i32 {
    let v = if v.is_finite() { v } else { f64::MAX };
    let (frac, exp) = frexp(v);
    NATIVE_BOUNDS.partition_point(|b| *b < frac) as i32 + (exp - 1) * NATIVE_BOUNDS.len() as i32
}

/// `v` = frac × 2^exp with frac in [0.5, 1), for finite `v` > 0 (as Go's `math.Frexp`).
fn frexp(v: f64) -> (f64, i32) {
    const EXP_MASK: u64 = 0x7ff << 52;
    let bits = v.to_bits();
    let biased = ((bits & EXP_MASK) >> 52) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (frac, exp) = frexp(v * 2f64.powi(64));
        return (frac, exp - 64);
    }
    (f64::from_bits((bits & !EXP_MASK) | (1022 << 52)), biased - 1022)
}

/// Counts by consecutive native bucket index from `offset`: dense between the smallest and the
/// largest index seen (durations cluster, so few are empty), 8 bytes per index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NativeBuckets {
    offset: i32,
    counts: Vec<u64>,
}

impl NativeBuckets {
    fn add(&mut self, index: i32) {
        if self.counts.is_empty() {
            self.offset = index;
        } else if index < self.offset {
            let grow = (self.offset - index) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        }
        let at = (index - self.offset) as usize;
        if self.counts.len() <= at {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += 1;
    }

    /// The populated buckets as the protobuf exposition writes them: spans (offset from the
    /// previous span's end, or the first index; length) of consecutive non-empty buckets, and
    /// each bucket's count as the delta from the previous bucket's (the first from 0).
    pub fn spans_and_deltas(&self) -> (Vec<(i32, u32)>, Vec<i64>) {
        let (mut spans, mut deltas) = (Vec::new(), Vec::new());
        let (mut previous, mut end): (u64, Option<i32>) = (0, None);
        for (i, n) in self.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let index = self.offset + i as i32;
            match (end, spans.last_mut()) {
                (Some(e), Some((_, length))) if e == index => *length += 1,
                _ => spans.push((end.map_or(index, |e| index - e), 1)),
            }
            end = Some(index + 1);
            deltas.push(*n as i64 - previous as i64);
            previous = *n;
        }
        (spans, deltas)
    }

    /// (index, count) of the non-empty buckets, ascending.
    pub fn iter(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (self.offset + i as i32, *n))
    }
}

/// Counts of durations by bucket, their sum and count: a cumulative histogram's state. The
/// buckets are not cumulative here (one add per value) and filled lazily (empty until the first
/// value, a bucket past the last bound for longer ones). The same values are also counted in
/// native buckets at [`NATIVE_SCHEMA`] (0 in the zero bucket, whose threshold is 0).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cumulative {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
    /// Values equal to 0 (and NaN, which no bucket holds).
    zero: u64,
    positive: NativeBuckets,
    negative: NativeBuckets,
    /// The value the catalogue's `add` block gave, bucketed by [`Settle::settle`] right after
    /// (the block knows no bounds); never stored.
    #[serde(skip)]
    pending: Option<f64>,
}

impl Cumulative {
    /// What a catalogue `add` block calls, as on a [`Distribution`].
    pub fn add(&mut self, value: f64) {
        self.pending = Some(value);
    }

    /// Counts `value` in the first bucket whose bound is at least `value` (`le` is `<=`).
    pub fn observe(&mut self, value: f64, bounds: &[f64]) {
        let bucket = bounds.partition_point(|b| *b < value);
        if self.buckets.len() <= bucket {
            self.buckets.resize(bucket + 1, 0);
        }
        self.buckets[bucket] += 1;
        self.sum += value;
        self.count += 1;
        if value > 0.0 {
            self.positive.add(native_index(value));
        } else if value < 0.0 {
            self.negative.add(native_index(-value));
        } else {
            self.zero += 1;
        }
    }

    /// The native histogram: the zero bucket's count, the positive and the negative buckets.
    pub fn native(&self) -> (u64, &NativeBuckets, &NativeBuckets) {
        (self.zero, &self.positive, &self.negative)
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The cumulative count at each of `bounds` (the same the values were counted with), in
    /// order; `+Inf` is [`Cumulative::count`].
    pub fn cumulative<'a>(&'a self, bounds: &'a [f64]) -> impl Iterator<Item = (f64, u64)> + 'a {
        bounds.iter().enumerate().scan(0, |running, (i, bound)| {
            *running += self.buckets.get(i).copied().unwrap_or(0);
            Some((*bound, *running))
        })
    }
}

/// A slice field's all-time counterpart in [`KpiTotals`].
pub trait Accumulates {
    type Total: Settle + Default + Clone + Debug + Serialize + DeserializeOwned;
}

/// Finishes what a catalogue `add` block left to do on a total (only a [`Cumulative`] has
/// anything: its pending value), with the bounds of its field.
pub trait Settle {
    type Bounds: Debug + Clone;
    fn bounds(config: &Config, targets: &[SlaTarget]) -> Self::Bounds;
    fn settle(&mut self, bounds: &Self::Bounds);
}

macro_rules! same_total {
    ($($ty:ty),*) => {$(
        impl Accumulates for $ty {
            type Total = $ty;
        }
        impl Settle for $ty {
            type Bounds = ();
            fn bounds(_: &Config, _: &[SlaTarget]) {}
            #[inline(always)]
            fn settle(&mut self, _: &()) {}
        }
    )*};
}

same_total!(u64, f64, [u64; 3], Vec<u64>, [SurveyTally; 4]);

impl Accumulates for Distribution {
    type Total = Cumulative;
}

impl Settle for Cumulative {
    type Bounds = Vec<f64>;
    fn bounds(config: &Config, targets: &[SlaTarget]) -> Vec<f64> {
        bucket_bounds(config, targets)
    }
    #[inline]
    fn settle(&mut self, bounds: &Vec<f64>) {
        if let Some(value) = self.pending.take() {
            self.observe(value, bounds);
        }
    }
}

/// All-time SLA outcomes of one dimension key and policy, by [`SlaTarget::index`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlaTotals {
    pub met: [u64; 3],
    pub breached: [u64; 3],
    pub business_time: [Cumulative; 3],
}

impl SlaTotals {
    /// As [`super::SlaSlice::add`] counts it.
    pub fn add(&mut self, sample: &SlaSample, bounds: &[f64]) {
        let i = sample.target.index();
        match sample.outcome {
            Some(SlaOutcome::Met) => self.met[i] += 1,
            Some(SlaOutcome::Breached) => self.breached[i] += 1,
            None => {}
        }
        if let Some(s) = sample.business_seconds {
            self.business_time[i].observe(s, bounds);
        }
    }
}

/// The bounds totals are recorded with, resolved once.
#[derive(Debug, Clone)]
pub struct TotalRules {
    pub kpi: KpiTotalBounds,
    /// SLA business time: every target of every kind.
    pub sla: Vec<f64>,
}

impl TotalRules {
    pub fn new(config: &Config) -> Self {
        Self { kpi: KpiTotalBounds::new(config), sla: bucket_bounds(config, &SlaTarget::ALL) }
    }
}

/// One partition's totals: what it exposes (as of its last snapshot, see `engine/capture.rs`)
/// and stores in its snapshots. Per key, never per ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub kpi: HashMap<DimKey, KpiTotals, ahash::RandomState>,
    pub sla: HashMap<(DimKey, PolicyId), SlaTotals, ahash::RandomState>,
}

impl Totals {
    /// Counts exactly the samples the windowed families record, whatever their time: a sample
    /// older than every window still counts here.
    #[inline]
    pub fn record(&mut self, rules: &TotalRules, fact: &Fact<'_>) {
        if !fact.samples.is_empty() {
            let totals = self.kpi.entry(fact.key).or_default();
            for sample in fact.samples {
                totals.add(*sample, &rules.kpi);
            }
        }
        for sample in fact.sla {
            self.sla.entry((fact.key, sample.policy)).or_default().add(sample, &rules.sla);
        }
    }

    /// The dimension keys of every series.
    pub fn dim_keys(&self) -> impl Iterator<Item = DimKey> + '_ {
        self.kpi.keys().copied().chain(self.sla.keys().map(|(key, _)| *key))
    }
}

/// How a total family reads a key's [`KpiTotals`]; the variant is the metric type.
#[derive(Clone, Copy)]
pub enum TotalRead {
    /// A counter; no series where the value is `None`.
    Counter(fn(&KpiTotals) -> Option<f64>),
    /// A cumulative histogram: the totals, and the bounds of the same field.
    Histogram(fn(&KpiTotals) -> &Cumulative, fn(&KpiTotalBounds) -> &Vec<f64>),
    /// Counters under the family's own labels, as [`super::Read::Split`].
    Split(for<'r> fn(&KpiTotals, &'r super::KpiLabels, emit: &mut super::Emit<'r, '_>)),
}

/// A total family, declared with (or derived from) a windowed KPI of the catalogue.
pub struct TotalKpi {
    /// Without `_total` for a counter, the whole name for a histogram.
    pub name: &'static str,
    pub help: &'static str,
    /// Labels of its own, after the dimensions, `topic` and `partition`.
    pub labels: &'static [&'static str],
    pub read: TotalRead,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Default policies' targets unioned with the defaults, sorted and deduplicated; an
    /// override replaces the defaults but never the targets.
    #[test]
    fn bounds_are_the_targets_of_the_kind_and_the_buckets_sorted_and_distinct() {
        let mut config = Config::default();
        config.sla.policies.truncate(1);
        let p = &mut config.sla.policies[0];
        // 600 s (not a default bound), 3600 s (a default one: counted once), 30 m.
        p.first_response = Some(Duration::from_secs(600));
        p.next_reply = Some(Duration::from_secs(3600));
        p.resolution = Some(Duration::from_secs(1800));
        let defaults = DEFAULT_BUCKETS.to_vec();
        let mut with_600 = defaults.clone();
        with_600.insert(2, 600.0);
        assert_eq!(bucket_bounds(&config, &[SlaTarget::FirstResponse]), with_600);
        assert_eq!(bucket_bounds(&config, &[SlaTarget::NextReply]), defaults);
        assert_eq!(bucket_bounds(&config, &SlaTarget::ALL), with_600);
        // Override [7200, 10, 10]: sorted, deduplicated, the 600 s target added.
        config.kpis.histograms.buckets = Some(vec![7200.0, 10.0, 10.0]);
        assert_eq!(bucket_bounds(&config, &[SlaTarget::FirstResponse]), [10.0, 600.0, 7200.0]);
        assert_eq!(bucket_bounds(&config, &[SlaTarget::Resolution]), [10.0, 1800.0, 7200.0]);
    }

    /// Indexes at the bounds Prometheus defines (2^(i/8) is the upper, inclusive, bound of
    /// bucket i) and just past them.
    #[test]
    fn native_indexes_include_their_upper_bound() {
        let next = |v: f64| f64::from_bits(v.to_bits() + 1);
        let cases = [
            (1.0, 0),
            (next(1.0), 1),
            (2.0, 8),
            (next(2.0), 9),
            (0.5, -8),
            (4.0, 16),
            // 2^(1/8) and 2^(4/8) as the bound table has them (× 2 is exact).
            (2.0 * NATIVE_BOUNDS[1], 1),
            (next(2.0 * NATIVE_BOUNDS[1]), 2),
            (2.0 * NATIVE_BOUNDS[4], 4),
            (next(2.0 * NATIVE_BOUNDS[4]), 5),
            // 2^(15/8) ≈ 3.668 and just below 4: bucket 16 ends at 4.
            (4.0 * NATIVE_BOUNDS[7], 15),
            (3.9, 16),
            // 60 s = 2^5.9069: ceil(47.25) = 48; 3600 s = 2^11.8138: ceil(94.51) = 95.
            (60.0, 48),
            (3600.0, 95),
            (0.001, -79),
            (f64::MIN_POSITIVE, -8176),
            (f64::INFINITY, 8192),
        ];
        for (v, index) in cases {
            assert_eq!(native_index(v), index, "{v}");
        }
        // ceil(log2(v) × 8) away from the bounds.
        for v in [0.3, 7.0, 59.0, 61.0, 1234.5, 86_400.0, 2_592_000.0] {
            assert_eq!(native_index(v), (v.log2() * 8.0).ceil() as i32, "{v}");
        }
    }

    /// Spans break at every empty bucket; deltas run across spans; 0 goes to the zero bucket
    /// and a negative value to the negative buckets by its magnitude.
    #[test]
    fn native_buckets_as_spans_and_deltas() {
        let mut c = Cumulative::default();
        // Indexes: 60 → 48 (twice), 61 → 48, 64 → 48 (2^6 is 48's bound), 65 → 49, 3600 → 95,
        // 0.9 → -1 (added after higher ones: the buckets grow at the front).
        for v in [60.0, 3600.0, 61.0, 64.0, 65.0, 60.0, 0.9, 0.0, -2.0] {
            c.observe(v, &[60.0]);
        }
        let (zero, positive, negative) = c.native();
        assert_eq!(zero, 1);
        assert_eq!(positive.iter().collect::<Vec<_>>(), [(-1, 1), (48, 4), (49, 1), (95, 1)]);
        // Span at -1 (length 1); 48 is 48 past its end (0); 95 is 45 past 50.
        assert_eq!(positive.spans_and_deltas(), (vec![(-1, 1), (48, 2), (45, 1)], vec![1, 3, -3, 0]));
        assert_eq!(negative.spans_and_deltas(), (vec![(8, 1)], vec![1]));
        assert_eq!((c.count(), c.sum()), (9, 60.0 + 3600.0 + 61.0 + 64.0 + 65.0 + 60.0 + 0.9 - 2.0));
    }

    /// A value equal to a bound is in that bucket (`le` is `<=`), just above it in the next.
    #[test]
    fn a_value_equal_to_a_bound_is_in_its_bucket() {
        let bounds = [600.0, 1800.0, 3600.0];
        let mut c = Cumulative::default();
        for v in [600.0, 600.5, 1800.0, 5400.0] {
            c.observe(v, &bounds);
        }
        // le=600: 600 → 1; le=1800: + 600.5, 1800 → 3; le=3600: 3; +Inf: 4.
        assert_eq!(c.cumulative(&bounds).collect::<Vec<_>>(), [(600.0, 1), (1800.0, 3), (3600.0, 3)]);
        assert_eq!((c.count(), c.sum()), (4, 8400.5));
        // Through a catalogue-style `add` and its settle.
        let mut d = Cumulative::default();
        d.add(3600.0);
        d.settle(&bounds.to_vec());
        assert_eq!(d.cumulative(&bounds).collect::<Vec<_>>(), [(600.0, 0), (1800.0, 0), (3600.0, 1)]);
    }
}
