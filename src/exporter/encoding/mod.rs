//! The families of a scrape and their text exposition. Families are built with borrowed label
//! values and written as text directly ([`write_text`]): building protobuf `MetricFamily`
//! objects with owned label strings per series and encoding them was most of a scrape's cost.
//! The output is byte for byte what `prometheus::TextEncoder` writes for the same families as
//! a registry gathers them ([`to_proto`], [`gathered`] and [`text()`] are that reference; a test
//! compares them over a full exposition). [`write_protobuf`] writes the same families as
//! protobuf for a scraper that asks for it, with the cumulative histograms' native buckets.
//!
//! Here: the family model every writer shares. `text.rs` writes the text and OpenMetrics
//! formats, `protobuf.rs` the protobuf exposition, `reference.rs` the prometheus-crate reference.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::base::Millis;
use crate::kpi::Cumulative;
use crate::window::Distribution;

mod protobuf;
mod reference;
mod text;

pub use protobuf::{accepts_protobuf, write_protobuf, PROTOBUF_CONTENT_TYPE};
pub use reference::{gathered, text, to_proto};
pub use text::{write_openmetrics, write_text, OPENMETRICS_EOF};

/// Quantiles reported for every duration distribution.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// The labels of one series: names are fixed, values come from configuration and state (and
/// are borrowed from them where they can be). Six fit inline: the most any family has.
pub type Labels<'a> = SmallVec<[(&'static str, Cow<'a, str>); 6]>;

/// A family's metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Summary,
    Histogram,
}

impl Kind {
    /// As a `# TYPE` line writes it.
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
            Kind::Histogram => "histogram",
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// A counter's or a gauge's.
    Number(f64),
    /// A summary's count and sum, and its [`QUANTILES`] when it reports them.
    Summary { count: u64, sum: f64, quantiles: Option<[f64; 3]> },
    /// A histogram's count and sum, and its buckets: a range of [`Families`]' `buckets`
    /// (bound, cumulative count), `+Inf` left out (it is the count); `native`, the index of
    /// its state in [`Families`]' `natives`, for the native buckets of the protobuf exposition.
    Histogram { count: u64, sum: f64, buckets: (u32, u32), native: u32 },
}

/// Labels stored once in [`Families`] (a range of its `labels`), for any number of series:
/// a KPI row's labels serve the series of every KPI family.
#[derive(Debug, Clone, Copy)]
pub struct LabelSet(u32, u32);

/// No labels.
pub const NO_LABELS: LabelSet = LabelSet(0, 0);

/// One series: a label set, its own labels after it, and its value. Small (72 bytes against
/// 300 with its labels inline), as a scrape builds and sorts 20 000 of them.
#[derive(Debug)]
struct Series {
    labels: LabelSet,
    extra: LabelSet,
    value: Value,
}

/// One metric family under construction.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    series: Vec<Series>,
    /// The sets of own labels stored for its series, so a few values (`survey`, `wait`, `status`,
    /// ...) are each stored once rather than once per series.
    extras: Vec<LabelSet>,
}

/// Metric families under construction, in declaration order, and the labels of their series.
#[derive(Default)]
pub struct Families<'a> {
    labels: Vec<(&'static str, Cow<'a, str>)>,
    families: Vec<Family>,
    /// The buckets of every histogram series, (bound, cumulative count).
    buckets: Vec<(f64, u64)>,
    /// The state of every histogram series, read for its native buckets.
    natives: Vec<&'a Cumulative>,
}

impl<'a> Families<'a> {
    pub fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> FamilyMut<'_, 'a> {
        self.families.push(Family { name, help, kind, series: Vec::new(), extras: Vec::new() });
        FamilyMut {
            labels: &mut self.labels,
            family: self.families.last_mut().expect("just pushed"),
            buckets: &mut self.buckets,
            natives: &mut self.natives,
        }
    }

    /// Stores `labels` for series to share.
    pub fn set(&mut self, labels: impl IntoIterator<Item = (&'static str, Cow<'a, str>)>) -> LabelSet {
        store(&mut self.labels, labels)
    }

    /// The labels of `s`: its set's, then its own.
    fn labels_of(&self, s: &Series) -> impl ExactSizeIterator<Item = &(&'static str, Cow<'a, str>)> + Clone {
        let range = |set: LabelSet| &self.labels[set.0 as usize..set.1 as usize];
        let (set, extra) = (range(s.labels), range(s.extra));
        // A chain of slices does not know its length; this one does.
        (0..set.len() + extra.len()).map(move |i| if i < set.len() { &set[i] } else { &extra[i - set.len()] })
    }
}

fn store<'a>(into: &mut Vec<(&'static str, Cow<'a, str>)>, labels: impl IntoIterator<Item = (&'static str, Cow<'a, str>)>) -> LabelSet {
    let start = into.len() as u32;
    into.extend(labels);
    LabelSet(start, into.len() as u32)
}

/// The family [`Families::family`] added last, to add series to.
pub struct FamilyMut<'f, 'a> {
    labels: &'f mut Vec<(&'static str, Cow<'a, str>)>,
    family: &'f mut Family,
    buckets: &'f mut Vec<(f64, u64)>,
    natives: &'f mut Vec<&'a Cumulative>,
}

impl<'a> FamilyMut<'_, 'a> {
    /// Stores `labels` for series to share.
    pub fn set(&mut self, labels: impl IntoIterator<Item = (&'static str, Cow<'a, str>)>) -> LabelSet {
        store(self.labels, labels)
    }

    /// Appends a series of `labels` and then `extra`.
    fn push(&mut self, labels: LabelSet, extra: &[(&'static str, &'a str)], value: Value) {
        let extra = if extra.is_empty() { NO_LABELS } else { self.extra(extra) };
        self.family.series.push(Series { labels, extra, value });
    }

    /// `extra` as a set: one stored for an earlier series if it is among the last few, else a new one.
    fn extra(&mut self, extra: &[(&'static str, &'a str)]) -> LabelSet {
        let labels = &*self.labels;
        let same = |set: &&LabelSet| {
            labels[set.0 as usize..set.1 as usize].iter().map(|(name, value)| (*name, &**value)).eq(extra.iter().copied())
        };
        if let Some(set) = self.family.extras.iter().rev().take(16).find(same) {
            return *set;
        }
        let set = store(self.labels, extra.iter().map(|(name, value)| (*name, Cow::Borrowed(*value))));
        self.family.extras.push(set);
        set
    }

    /// Room for `series` more series, so the vector grows once.
    pub fn reserve(&mut self, series: usize) {
        self.family.series.reserve(series);
    }
}

pub fn push_gauge<'a>(mf: &mut FamilyMut<'_, 'a>, labels: LabelSet, extra: &[(&'static str, &'a str)], value: f64) {
    mf.push(labels, extra, Value::Number(value));
}

pub fn push_counter(mf: &mut FamilyMut<'_, '_>, labels: LabelSet, value: u64) {
    mf.push(labels, &[], Value::Number(value as f64));
}

/// A summary of a distribution: its count, sum and [`QUANTILES`].
pub fn push_summary(mf: &mut FamilyMut<'_, '_>, labels: LabelSet, d: &Distribution) {
    let quantiles = d.quantiles(QUANTILES).map(|v| v.unwrap_or(f64::NAN));
    mf.push(labels, &[], Value::Summary { count: d.count(), sum: d.sum(), quantiles: Some(quantiles) });
}

/// A cumulative histogram: its buckets at `bounds` (those it was counted with), `+Inf`, sum
/// and count.
pub fn push_histogram<'a>(
    mf: &mut FamilyMut<'_, 'a>,
    labels: LabelSet,
    extra: &[(&'static str, &'a str)],
    bounds: &[f64],
    c: &'a Cumulative,
) {
    let from = mf.buckets.len() as u32;
    mf.buckets.extend(c.cumulative(bounds));
    let buckets = (from, mf.buckets.len() as u32);
    mf.natives.push(c);
    let native = mf.natives.len() as u32 - 1;
    mf.push(labels, extra, Value::Histogram { count: c.count(), sum: c.sum(), buckets, native });
}

/// A summary of a count and a sum only, without quantiles.
pub fn push_count_sum(mf: &mut FamilyMut<'_, '_>, labels: LabelSet, count: u64, sum: f64) {
    mf.push(labels, &[], Value::Summary { count, sum, quantiles: None });
}

/// A gauge family of one series per row whose value is `Some`.
pub fn windowed<T: Copy>(
    out: &mut Families<'_>,
    name: &'static str,
    help: &'static str,
    rows: &[(LabelSet, T)],
    value: impl Fn(T) -> Option<f64>,
) {
    let mf = &mut out.family(name, help, Kind::Gauge);
    mf.reserve(rows.len());
    for (labels, item) in rows {
        if let Some(v) = value(*item) {
            push_gauge(mf, *labels, &[], v);
        }
    }
}

pub fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// The order a registry gathers series in: by number of labels, then by label values.
fn by_label_values<'l, 'a: 'l>(
    a: impl ExactSizeIterator<Item = &'l (&'static str, Cow<'a, str>)>,
    b: impl ExactSizeIterator<Item = &'l (&'static str, Cow<'a, str>)>,
) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.map(|(_, v)| v).cmp(b.map(|(_, v)| v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_labels_repeated_in_a_family_are_stored_once() {
        let mut families = Families::default();
        let (x, y) = (families.set([("team", Cow::Borrowed("x"))]), families.set([("team", Cow::Borrowed("y"))]));
        let mf = &mut families.family("m", "M.", Kind::Gauge);
        push_gauge(mf, y, &[("s", "a")], 1.0);
        push_gauge(mf, x, &[("s", "b")], 2.0);
        push_gauge(mf, x, &[("s", "a")], 3.0);
        // Two team sets, then `s="a"` and `s="b"` once each.
        assert_eq!(families.labels.len(), 4);
        let expected = "# HELP m M.\n# TYPE m gauge\nm{team=\"x\",s=\"a\"} 3\nm{team=\"x\",s=\"b\"} 2\nm{team=\"y\",s=\"a\"} 1\n";
        assert_eq!(write_text(families, &[]), expected);
    }
}
