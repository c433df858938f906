//! The families of a scrape and their text exposition. Families are built with borrowed label
//! values and written as text directly ([`write_text`]): building protobuf `MetricFamily`
//! objects with owned label strings per series and encoding them was most of a scrape's cost.
//! The output is byte for byte what `prometheus::TextEncoder` writes for the same families as
//! a registry gathers them ([`to_proto`], [`gathered`] and [`text`] are that reference; a test
//! compares them over a full exposition).

use std::borrow::Cow;
use std::fmt::Write as _;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Encoder, TextEncoder};
use smallvec::SmallVec;

use crate::base::Millis;
use crate::window::Distribution;

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
}

impl Kind {
    /// As a `# TYPE` line writes it.
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
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
}

impl<'a> Families<'a> {
    pub fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> FamilyMut<'_, 'a> {
        self.families.push(Family { name, help, kind, series: Vec::new(), extras: Vec::new() });
        FamilyMut { labels: &mut self.labels, family: self.families.last_mut().expect("just pushed") }
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

    /// The length of `f`'s text or a little more (escapes aside), so the output grows once;
    /// room reserved and never written costs no page.
    fn text_len(&self, f: &Family) -> usize {
        let series = f.series.iter().map(|s| {
            let labels: usize = self.labels_of(s).map(|(name, value)| name.len() + value.len() + 4).sum();
            let lines = match s.value {
                Value::Number(_) => 1,
                Value::Summary { quantiles, .. } => 2 + 3 * usize::from(quantiles.is_some()),
            };
            // Name and suffix, labels and braces, a quantile label, a value and the newline.
            lines * (f.name.len() + 8 + labels + 20 + 26)
        });
        f.help.len() + 2 * f.name.len() + 32 + series.sum::<usize>()
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

/// The text exposition of `families` and the `gathered` families of other collectors, as a
/// scrape of a registry holding them all gives it (their names differ): empty families left
/// out, families by name, series by label values (both sorts stable, as the registry's),
/// escaping and numbers as `prometheus::TextEncoder` writes them.
pub fn write_text(mut all: Families<'_>, gathered: &[MetricFamily]) -> String {
    let mut families = std::mem::take(&mut all.families);
    families.retain(|f| !f.series.is_empty());
    families.sort_by_key(|f| f.name);
    let mut out = String::with_capacity(families.iter().map(|f| all.text_len(f)).sum());
    // As `{q}` writes each of QUANTILES, once rather than on every line.
    let quantiles_text = QUANTILES.map(|q| q.to_string());
    let mut others = gathered.iter().peekable();
    // One series' `{labels` (no closing brace), shared by a summary's lines.
    let mut labels = String::new();
    for f in &mut families {
        while let Some(other) = others.next_if(|o| o.name() < f.name) {
            out.push_str(&text(std::slice::from_ref(other)));
        }
        f.series.sort_by(|a, b| by_label_values(all.labels_of(a), all.labels_of(b)));
        let _ = write!(out, "# HELP {} ", f.name);
        escape_into(&mut out, f.help, false);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.series {
            labels.clear();
            for (i, (name, value)) in all.labels_of(s).enumerate() {
                labels.push(if i == 0 { '{' } else { ',' });
                labels.push_str(name);
                labels.push_str("=\"");
                escape_into(&mut labels, value, true);
                labels.push('"');
            }
            match s.value {
                Value::Number(v) => sample(&mut out, f.name, "", &labels, None, v),
                Value::Summary { count, sum, quantiles } => {
                    for (q, v) in quantiles_text.iter().zip(quantiles.iter().flatten()) {
                        sample(&mut out, f.name, "", &labels, Some(q), *v);
                    }
                    sample(&mut out, f.name, "_sum", &labels, None, sum);
                    sample(&mut out, f.name, "_count", &labels, None, count as f64);
                }
            }
        }
    }
    for other in others {
        out.push_str(&text(std::slice::from_ref(other)));
    }
    out
}

/// One line: `name{labels,quantile="q"} value`, braces only when there is a label.
fn sample(out: &mut String, name: &str, suffix: &str, labels: &str, quantile: Option<&str>, value: f64) {
    out.push_str(name);
    out.push_str(suffix);
    out.push_str(labels);
    if let Some(q) = quantile {
        out.push_str(if labels.is_empty() { "{quantile=\"" } else { ",quantile=\"" });
        out.push_str(q);
        out.push('"');
    }
    if quantile.is_some() || !labels.is_empty() {
        out.push('}');
    }
    out.push(' ');
    number(out, value);
    out.push('\n');
}

/// `value` as `{value}` writes it. Counts are most values: an integer below 2^53 is written as
/// the `i64` it equals (the same digits, without the float formatting); -0 keeps its sign.
fn number(out: &mut String, value: f64) {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 && !(value == 0.0 && value.is_sign_negative()) {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Appends a HELP text (`\` and newline escaped) or a label value (`"` too), as the text
/// format wants them.
fn escape_into(out: &mut String, text: &str, quotes: bool) {
    let special = |c: char| c == '\\' || c == '\n' || (quotes && c == '"');
    if !text.contains(special) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            c if special(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// The families as protobuf `MetricFamily`s, empty ones included, in declaration order: the
/// form `prometheus::TextEncoder` encodes.
pub fn to_proto(families: &Families<'_>) -> Vec<MetricFamily> {
    families.families.iter().map(|f| family_to_proto(families, f)).collect()
}

fn family_to_proto(families: &Families<'_>, family: &Family) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(family.name.to_string());
    mf.set_help(family.help.to_string());
    mf.set_field_type(match family.kind {
        Kind::Counter => MetricType::COUNTER,
        Kind::Gauge => MetricType::GAUGE,
        Kind::Summary => MetricType::SUMMARY,
    });
    for s in &family.series {
        let mut m = Metric::default();
        m.set_label(
            families
                .labels_of(s)
                .map(|(name, value)| {
                    let mut lp = LabelPair::default();
                    lp.set_name(name.to_string());
                    lp.set_value(value.to_string());
                    lp
                })
                .collect(),
        );
        match s.value {
            Value::Number(v) if family.kind == Kind::Counter => {
                let mut c = Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            Value::Number(v) => {
                let mut g = Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
            Value::Summary { count, sum, quantiles } => {
                let mut summary = Summary::default();
                summary.set_sample_count(count);
                summary.set_sample_sum(sum);
                summary.set_quantile(
                    QUANTILES
                        .iter()
                        .zip(quantiles.iter().flatten())
                        .map(|(q, v)| {
                            let mut quantile = Quantile::default();
                            quantile.set_quantile(*q);
                            quantile.set_value(*v);
                            quantile
                        })
                        .collect(),
                );
                m.set_summary(summary);
            }
        }
        mf.mut_metric().push(m);
    }
    mf
}

/// What a scrape returns of `families`, as [`prometheus::Registry::gather`] orders them: empty
/// families left out, families by name, series by label values.
pub fn gathered(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    families.retain(|mf| !mf.get_metric().is_empty());
    families.sort_by(|a, b| a.name().cmp(b.name()));
    for mf in &mut families {
        mf.mut_metric().sort_by(|a, b| {
            let (a, b) = (a.get_label(), b.get_label());
            a.len().cmp(&b.len()).then_with(|| a.iter().map(LabelPair::value).cmp(b.iter().map(LabelPair::value)))
        });
    }
    families
}

/// Prometheus text exposition of gathered families, by `prometheus::TextEncoder`.
pub fn text(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    TextEncoder::new().encode(families, &mut buf).expect("families are well formed");
    String::from_utf8(buf).expect("the text format is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (7.0, "7"),
            (-3.0, "-3"),
            (0.25, "0.25"),
            (1e15, "1000000000000000"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            // 2^60: beyond 2^53, the shortest digits that read back, as `{}` writes them.
            (1_152_921_504_606_846_976.0, "1152921504606847000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
        ];
        for (value, text) in cases {
            let mut out = String::new();
            number(&mut out, value);
            assert_eq!((out.as_str(), format!("{value}")), (text, text.to_string()), "{value}");
        }
    }

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

    #[test]
    fn families_are_written_as_the_text_encoder_writes_them() {
        let mut families = Families::default();
        let team = families.set([("team", Cow::Borrowed("x"))]);
        let mf = &mut families.family("b_seconds", "Waits.", Kind::Summary);
        let mut d = Distribution::default();
        d.add(2.0);
        push_summary(mf, NO_LABELS, &d);
        push_count_sum(mf, team, 3, 4.5);
        families.family("c_empty", "Left out.", Kind::Gauge);
        let mf = &mut families.family("a_ratio", "A \\ back\nslash.", Kind::Gauge);
        let z = mf.set([("k", Cow::Borrowed("z"))]);
        push_gauge(mf, z, &[], f64::NAN);
        let q = mf.set([("k", Cow::Borrowed("q\"\\\n"))]);
        push_gauge(mf, q, &[("e", "1")], 0.25);
        let mf = &mut families.family("d_total", "Count.", Kind::Counter);
        push_counter(mf, NO_LABELS, 7);
        let reference = to_proto(&families);
        let written = write_text(families, &[]);
        // Families by name, series by number of labels and then label values, quantiles before `_sum` and `_count`; a
        // quantile of one value is that value within 1% (DDSketch's 2 → 1.9936...).
        let p = |q: f64| d.quantile(q).unwrap();
        let expected = format!(
            "# HELP a_ratio A \\\\ back\\nslash.\n# TYPE a_ratio gauge\n\
             a_ratio{{k=\"z\"}} NaN\na_ratio{{k=\"q\\\"\\\\\\n\",e=\"1\"}} 0.25\n\
             # HELP b_seconds Waits.\n# TYPE b_seconds summary\n\
             b_seconds{{quantile=\"0.5\"}} {}\nb_seconds{{quantile=\"0.9\"}} {}\nb_seconds{{quantile=\"0.99\"}} {}\n\
             b_seconds_sum 2\nb_seconds_count 1\n\
             b_seconds_sum{{team=\"x\"}} 4.5\nb_seconds_count{{team=\"x\"}} 3\n\
             # HELP d_total Count.\n# TYPE d_total counter\nd_total 7\n",
            p(0.5),
            p(0.9),
            p(0.99)
        );
        assert_eq!(written, expected);
        assert!((p(0.5) - 2.0).abs() <= 0.02);
        assert_eq!(written, text(&gathered(reference)));
    }
}
