//! The families of a scrape and their text exposition. Families are built with borrowed label
//! values and written as text directly ([`write_text`]): building protobuf `MetricFamily`
//! objects with owned label strings per series and encoding them was most of a scrape's cost.
//! The output is byte for byte what `prometheus::TextEncoder` writes for the same families as
//! a registry gathers them ([`to_proto`], [`gathered`] and [`text`] are that reference; a test
//! compares them over a full exposition). [`write_protobuf`] writes the same families as
//! protobuf for a scraper that asks for it, with the cumulative histograms' native buckets.

use std::borrow::Cow;
use std::fmt::Write as _;

use prometheus::proto::{Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Encoder, TextEncoder};
use smallvec::SmallVec;

use crate::base::Millis;
use crate::kpi::Cumulative;
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

    /// The length of `f`'s text or a little more (escapes aside), so the output grows once;
    /// room reserved and never written costs no page.
    fn text_len(&self, f: &Family, timestamp: usize) -> usize {
        let series = f.series.iter().map(|s| {
            let labels: usize = self.labels_of(s).map(|(name, value)| name.len() + value.len() + 4).sum();
            let lines = match s.value {
                Value::Number(_) => 1,
                Value::Summary { quantiles, .. } => 2 + 3 * usize::from(quantiles.is_some()),
                Value::Histogram { buckets: (from, to), .. } => 3 + (to - from) as usize,
            };
            // Name and suffix, labels and braces, a quantile label, a value and the newline.
            lines * (f.name.len() + 8 + labels + 20 + 26 + timestamp)
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

/// The text exposition of `families` and the `gathered` families of other collectors, as a
/// scrape of a registry holding them all gives it (their names differ): empty families left
/// out, families by name, series by label values (both sorts stable, as the registry's),
/// escaping and numbers as `prometheus::TextEncoder` writes them.
pub fn write_text(all: Families<'_>, gathered: &[MetricFamily]) -> String {
    let mut out = String::new();
    write(all, gathered, None, &mut out);
    out
}

/// Appends `families` as OpenMetrics samples at time `at` (`# EOF` is the caller's, once
/// after the last step): the series and values of [`write_text`], in its order, each sample
/// followed by its timestamp in seconds, so that `promtool tsdb create-blocks-from openmetrics`
/// stores exactly what a scrape at `at` would have read. What differs from the text format is
/// what OpenMetrics asks: a counter family's `# TYPE` line names it without `_total` (its
/// samples keep it; one not ending in `_total` is typed `unknown`, so its samples keep their
/// name too), infinities are `+Inf` / `-Inf`, and there is no `# HELP` (optional, and with
/// a step a minute over a year it would be most of the file). One call per step writes each
/// family again; promtool's parser (Prometheus 2.42) accepts families repeated across steps.
pub fn write_openmetrics(all: Families<'_>, at: Millis, out: &mut String) {
    write(all, &[], Some(at), out);
}

/// `# EOF`, the line that ends an OpenMetrics exposition: promtool refuses a file without it
/// and anything after it.
pub const OPENMETRICS_EOF: &str = "# EOF\n";

/// [`write_text`], or [`write_openmetrics`] at time `at`.
fn write(mut all: Families<'_>, gathered: &[MetricFamily], at: Option<Millis>, out: &mut String) {
    let mut families = std::mem::take(&mut all.families);
    families.retain(|f| !f.series.is_empty());
    families.sort_by_key(|f| f.name);
    // ` <seconds>`, the same on every line of a step; OpenMetrics timestamps are seconds.
    let timestamp = at.map_or_else(String::new, |at| match (at.div_euclid(1000), at.rem_euclid(1000)) {
        (seconds, 0) => format!(" {seconds}"),
        (seconds, ms) => format!(" {seconds}.{ms:03}"),
    });
    out.reserve(families.iter().map(|f| all.text_len(f, timestamp.len())).sum());
    // As `{q}` writes each of QUANTILES, once rather than on every line.
    let quantiles_text = QUANTILES.map(|q| q.to_string());
    let mut others = gathered.iter().peekable();
    // One series' `{labels` (no closing brace), shared by a summary's lines.
    let mut labels = String::new();
    // A bucket's `le` value.
    let mut le = String::new();
    let line = Line { timestamp: &timestamp, openmetrics: at.is_some() };
    for f in &mut families {
        while let Some(other) = others.next_if(|o| o.name() < f.name) {
            out.push_str(&text(std::slice::from_ref(other)));
        }
        f.series.sort_by(|a, b| by_label_values(all.labels_of(a), all.labels_of(b)));
        if line.openmetrics {
            let (name, kind) = match (f.kind, f.name.strip_suffix("_total")) {
                (Kind::Counter, Some(name)) => (name, "counter"),
                (Kind::Counter, None) => (f.name, "unknown"),
                (kind, _) => (f.name, kind.as_str()),
            };
            let _ = writeln!(out, "# TYPE {name} {kind}");
        } else {
            let _ = write!(out, "# HELP {} ", f.name);
            escape_into(out, f.help, false);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        }
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
                Value::Number(v) => line.sample(out, f.name, "", &labels, None, v),
                Value::Summary { count, sum, quantiles } => {
                    for (q, v) in quantiles_text.iter().zip(quantiles.iter().flatten()) {
                        line.sample(out, f.name, "", &labels, Some(("quantile", q)), *v);
                    }
                    line.sample(out, f.name, "_sum", &labels, None, sum);
                    line.sample(out, f.name, "_count", &labels, None, count as f64);
                }
                Value::Histogram { count, sum, buckets: (from, to), .. } => {
                    // `le` as the text encoder writes a bound (`{}`: 3600, 0.5).
                    for (bound, n) in &all.buckets[from as usize..to as usize] {
                        le.clear();
                        let _ = write!(le, "{bound}");
                        line.sample(out, f.name, "_bucket", &labels, Some(("le", &le)), *n as f64);
                    }
                    line.sample(out, f.name, "_bucket", &labels, Some(("le", "+Inf")), count as f64);
                    line.sample(out, f.name, "_sum", &labels, None, sum);
                    line.sample(out, f.name, "_count", &labels, None, count as f64);
                }
            }
        }
    }
    for other in others {
        out.push_str(&text(std::slice::from_ref(other)));
    }
}

/// The media type of the protobuf exposition, as a scraper's `Accept` names it and the
/// response's `Content-Type` states it.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Whether an `Accept` header asks for the protobuf exposition: a media range
/// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
/// `encoding=delimited`, not refused with `q=0`. Anything else gets the text format.
pub fn accepts_protobuf(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()))
            .collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        media.eq_ignore_ascii_case("application/vnd.google.protobuf")
            && param("proto") == Some("io.prometheus.client.MetricFamily")
            && param("encoding") == Some("delimited")
            && param("q").and_then(|q| q.parse::<f64>().ok()).is_none_or(|q| q > 0.0)
    })
}

/// The protobuf exposition (length-delimited `io.prometheus.client.MetricFamily` messages) of
/// `families` and the `gathered` families of other collectors: the families, series and
/// values of [`write_text`] in its order, each cumulative histogram with its native buckets
/// at [`crate::kpi::NATIVE_SCHEMA`] beside its classic ones (`+Inf` left out: it is the
/// count), as client_golang writes a histogram with both.
pub fn write_protobuf(mut all: Families<'_>, gathered: &[MetricFamily]) -> Vec<u8> {
    use super::proto;
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    use prost::Message as _;
    let mut families = std::mem::take(&mut all.families);
    families.retain(|f| !f.series.is_empty());
    families.sort_by_key(|f| f.name);
    let mut out = Vec::new();
    let mut others = gathered.iter().peekable();
    // One family's messages, and one series' `Metric`, reused.
    let (mut family, mut metric) = (Vec::new(), Vec::new());
    for f in &mut families {
        while let Some(other) = others.next_if(|o| o.name() < f.name) {
            from_gathered(other).encode_length_delimited(&mut out).expect("a Vec grows");
        }
        f.series.sort_by(|a, b| by_label_values(all.labels_of(a), all.labels_of(b)));
        let kind = match f.kind {
            Kind::Counter => proto::MetricType::Counter,
            Kind::Gauge => proto::MetricType::Gauge,
            Kind::Summary => proto::MetricType::Summary,
            Kind::Histogram => proto::MetricType::Histogram,
        };
        family.clear();
        let head = proto::MetricFamily {
            name: Some(f.name.to_string()),
            help: Some(f.help.to_string()),
            r#type: Some(kind as i32),
            metric: vec![],
        };
        head.encode(&mut family).expect("a Vec grows");
        for s in &f.series {
            // Labels written from the borrowed values (a `LabelPair` would own a copy of
            // each, per series), and the value by prost.
            metric.clear();
            for (name, value) in all.labels_of(s) {
                let len = |s: &str| 1 + encoded_len_varint(s.len() as u64) + s.len();
                encode_key(1, WireType::LengthDelimited, &mut metric);
                encode_varint((len(name) + len(value)) as u64, &mut metric);
                for (tag, text) in [(1, *name), (2, &**value)] {
                    encode_key(tag, WireType::LengthDelimited, &mut metric);
                    encode_varint(text.len() as u64, &mut metric);
                    metric.extend_from_slice(text.as_bytes());
                }
            }
            let mut m = proto::Metric::default();
            match s.value {
                Value::Number(v) if f.kind == Kind::Counter => m.counter = Some(proto::Counter { value: Some(v) }),
                Value::Number(v) => m.gauge = Some(proto::Gauge { value: Some(v) }),
                Value::Summary { count, sum, quantiles } => {
                    let quantile = QUANTILES
                        .iter()
                        .zip(quantiles.iter().flatten())
                        .map(|(q, v)| proto::Quantile { quantile: Some(*q), value: Some(*v) })
                        .collect();
                    m.summary = Some(proto::Summary { sample_count: Some(count), sample_sum: Some(sum), quantile });
                }
                Value::Histogram { count, sum, buckets: (from, to), native } => {
                    let bucket = all.buckets[from as usize..to as usize]
                        .iter()
                        .map(|(bound, n)| proto::Bucket { cumulative_count: Some(*n), upper_bound: Some(*bound) })
                        .collect();
                    let (zero, positive, negative) = all.natives[native as usize].native();
                    let spans = |spans: Vec<(i32, u32)>| {
                        spans.into_iter().map(|(offset, length)| proto::BucketSpan { offset: Some(offset), length: Some(length) }).collect()
                    };
                    let (positive_span, positive_delta) = positive.spans_and_deltas();
                    let (negative_span, negative_delta) = negative.spans_and_deltas();
                    m.histogram = Some(proto::Histogram {
                        sample_count: Some(count),
                        sample_sum: Some(sum),
                        bucket,
                        schema: Some(crate::kpi::NATIVE_SCHEMA),
                        zero_threshold: Some(0.0),
                        zero_count: Some(zero),
                        negative_span: spans(negative_span),
                        negative_delta,
                        positive_span: spans(positive_span),
                        positive_delta,
                    });
                }
            }
            // Fields after the labels' (tag 1), as prost orders them.
            m.encode(&mut metric).expect("a Vec grows");
            encode_key(4, WireType::LengthDelimited, &mut family);
            encode_varint(metric.len() as u64, &mut family);
            family.extend_from_slice(&metric);
        }
        encode_varint(family.len() as u64, &mut out);
        out.extend_from_slice(&family);
    }
    for other in others {
        from_gathered(other).encode_length_delimited(&mut out).expect("a Vec grows");
    }
    out
}

/// A family gathered from another collector (the prometheus crate's model) in prost's.
// The model reads an untyped value only through methods it deprecates.
#[allow(deprecated)]
fn from_gathered(mf: &MetricFamily) -> super::proto::MetricFamily {
    use super::proto;
    let kind = match mf.get_field_type() {
        MetricType::COUNTER => proto::MetricType::Counter,
        MetricType::GAUGE => proto::MetricType::Gauge,
        MetricType::SUMMARY => proto::MetricType::Summary,
        MetricType::HISTOGRAM => proto::MetricType::Histogram,
        MetricType::UNTYPED => proto::MetricType::Untyped,
    };
    let metric = mf
        .get_metric()
        .iter()
        .map(|m| proto::Metric {
            label: m
                .get_label()
                .iter()
                .map(|l| proto::LabelPair { name: Some(l.name().to_string()), value: Some(l.value().to_string()) })
                .collect(),
            counter: (kind == proto::MetricType::Counter).then(|| proto::Counter { value: Some(m.get_counter().get_value()) }),
            gauge: (kind == proto::MetricType::Gauge).then(|| proto::Gauge { value: Some(m.get_gauge().get_value()) }),
            untyped: (kind == proto::MetricType::Untyped).then(|| proto::Untyped { value: Some(m.get_untyped().get_value()) }),
            summary: (kind == proto::MetricType::Summary).then(|| {
                let s = m.get_summary();
                proto::Summary {
                    sample_count: Some(s.sample_count()),
                    sample_sum: Some(s.sample_sum()),
                    quantile: s
                        .get_quantile()
                        .iter()
                        .map(|q| proto::Quantile { quantile: Some(q.quantile()), value: Some(q.value()) })
                        .collect(),
                }
            }),
            histogram: (kind == proto::MetricType::Histogram).then(|| {
                let h = m.get_histogram();
                proto::Histogram {
                    sample_count: Some(h.get_sample_count()),
                    sample_sum: Some(h.get_sample_sum()),
                    bucket: h
                        .get_bucket()
                        .iter()
                        .map(|b| proto::Bucket { cumulative_count: Some(b.cumulative_count()), upper_bound: Some(b.upper_bound()) })
                        .collect(),
                    ..Default::default()
                }
            }),
            timestamp_ms: (m.timestamp_ms() != 0).then(|| m.timestamp_ms()),
        })
        .collect();
    proto::MetricFamily { name: Some(mf.name().to_string()), help: Some(mf.help().to_string()), r#type: Some(kind as i32), metric }
}

/// How a sample line ends: after its value, nothing (text format) or the step's timestamp.
struct Line<'t> {
    timestamp: &'t str,
    openmetrics: bool,
}

impl Line<'_> {
    /// One line: `name{labels,quantile="q"} value` (or `le`), braces only when there is a label.
    fn sample(&self, out: &mut String, name: &str, suffix: &str, labels: &str, quantile: Option<(&str, &str)>, value: f64) {
        out.push_str(name);
        out.push_str(suffix);
        out.push_str(labels);
        if let Some((label, q)) = quantile {
            out.push(if labels.is_empty() { '{' } else { ',' });
            out.push_str(label);
            out.push_str("=\"");
            out.push_str(q);
            out.push('"');
        }
        if quantile.is_some() || !labels.is_empty() {
            out.push('}');
        }
        out.push(' ');
        match value {
            // OpenMetrics spells the infinities so; Rust's `{}` writes `inf`.
            f64::INFINITY if self.openmetrics => out.push_str("+Inf"),
            f64::NEG_INFINITY if self.openmetrics => out.push_str("-Inf"),
            value => number(out, value),
        }
        out.push_str(self.timestamp);
        out.push('\n');
    }
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
        Kind::Histogram => MetricType::HISTOGRAM,
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
            Value::Histogram { count, sum, buckets: (from, to), .. } => {
                let mut histogram = Histogram::default();
                histogram.set_sample_count(count);
                histogram.set_sample_sum(sum);
                histogram.set_bucket(
                    families.buckets[from as usize..to as usize]
                        .iter()
                        .map(|(bound, n)| {
                            let mut bucket = Bucket::default();
                            bucket.set_upper_bound(*bound);
                            bucket.set_cumulative_count(*n);
                            bucket
                        })
                        .collect(),
                );
                m.set_histogram(histogram);
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

    /// One step of OpenMetrics: the text format's series and values in its order, each with
    /// the step's time in seconds; `# TYPE` only, a counter's without `_total`.
    #[test]
    fn a_step_of_openmetrics_is_the_text_formats_samples_at_one_time() {
        let build = || {
            let mut families = Families::default();
            let team = families.set([("team", Cow::Borrowed("x\"y"))]);
            let mf = &mut families.family("b_seconds", "Waits.", Kind::Summary);
            push_count_sum(mf, team, 3, 4.5);
            let mut d = Distribution::default();
            d.add(2.0);
            push_summary(mf, NO_LABELS, &d);
            let mf = &mut families.family("a_ratio", "A \"ratio\".", Kind::Gauge);
            push_gauge(mf, team, &[("e", "1")], f64::NAN);
            push_gauge(mf, NO_LABELS, &[("e", "2")], f64::INFINITY);
            push_gauge(mf, NO_LABELS, &[("e", "3")], f64::NEG_INFINITY);
            push_gauge(mf, NO_LABELS, &[("e", "4")], 0.25);
            families.family("c_empty", "Left out.", Kind::Gauge);
            push_counter(&mut families.family("d_total", "Count.", Kind::Counter), NO_LABELS, 7);
            push_counter(&mut families.family("e_count", "A counter not named _total.", Kind::Counter), NO_LABELS, 2);
            (families, d)
        };
        let (families, d) = build();
        let mut out = String::from("before\n");
        // 2026-01-05T08:01:00.250Z: 1767600060 s and 250 ms.
        write_openmetrics(families, 1_767_600_060_250, &mut out);
        let p = |q: f64| d.quantile(q).unwrap();
        let expected = format!(
            "before\n# TYPE a_ratio gauge\n\
             a_ratio{{e=\"2\"}} +Inf 1767600060.250\na_ratio{{e=\"3\"}} -Inf 1767600060.250\na_ratio{{e=\"4\"}} 0.25 1767600060.250\n\
             a_ratio{{team=\"x\\\"y\",e=\"1\"}} NaN 1767600060.250\n\
             # TYPE b_seconds summary\n\
             b_seconds{{quantile=\"0.5\"}} {} 1767600060.250\nb_seconds{{quantile=\"0.9\"}} {} 1767600060.250\n\
             b_seconds{{quantile=\"0.99\"}} {} 1767600060.250\nb_seconds_sum 2 1767600060.250\nb_seconds_count 1 1767600060.250\n\
             b_seconds_sum{{team=\"x\\\"y\"}} 4.5 1767600060.250\nb_seconds_count{{team=\"x\\\"y\"}} 3 1767600060.250\n\
             # TYPE d counter\nd_total 7 1767600060.250\n# TYPE e_count unknown\ne_count 2 1767600060.250\n",
            p(0.5),
            p(0.9),
            p(0.99)
        );
        assert_eq!(out, expected);
        // The sample lines are the text format's with ` <seconds>` appended (infinities aside),
        // in the same order; a whole second has no fraction.
        let (families, _) = build();
        let mut step = String::new();
        write_openmetrics(families, 1_767_600_060_000, &mut step);
        let text = write_text(build().0, &[]);
        let samples = |s: &str, suffix: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.strip_suffix(suffix).unwrap().replace("+Inf", "inf").replace("-Inf", "-inf"))
                .collect()
        };
        assert_eq!(samples(&step, " 1767600060"), samples(&text, ""));
        // 4 ratios, 3 quantiles + 2 sums + 2 counts, 2 counters.
        assert_eq!(samples(&text, "").len(), 13);
    }

    /// Prometheus 2.42's `Accept` with native histograms on, and ranges that are not ours.
    #[test]
    fn the_protobuf_exposition_is_served_to_a_scraper_that_asks_for_it() {
        let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(accepts_protobuf(prometheus));
        assert!(accepts_protobuf("Application/Vnd.Google.Protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=delimited"));
        for accept in [
            "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0",
            "",
        ] {
            assert!(!accepts_protobuf(accept), "{accept}");
        }
    }

    /// What is encoded decodes with prost to exactly the families, order, labels and values
    /// of the text format, a histogram with its classic and native buckets.
    #[test]
    fn the_protobuf_exposition_decodes_to_the_families_with_native_buckets() {
        use super::super::proto;
        use prost::Message as _;
        let mut c = Cumulative::default();
        // Native indexes: 0 → zero bucket; 1 → 0; 1.5 → ceil(4.68) = 5; 1.6 → ceil(5.42) = 6;
        // 60 → 48 (twice). Classic at [1, 60]: 2 (0 and 1), 6, +Inf 6.
        for v in [0.0, 1.0, 1.5, 1.6, 60.0, 60.0] {
            c.observe(v, &[1.0, 60.0]);
        }
        let mut families = Families::default();
        let team = families.set([("team", Cow::Borrowed("x"))]);
        let mf = &mut families.family("b_cumulative_seconds", "Durations.", Kind::Histogram);
        push_histogram(mf, team, &[], &[1.0, 60.0], &c);
        let mf = &mut families.family("a_total", "Count.", Kind::Counter);
        push_counter(mf, team, 7);
        push_counter(mf, NO_LABELS, 2);
        let mf = &mut families.family("c_seconds", "Waits.", Kind::Summary);
        push_count_sum(mf, NO_LABELS, 3, 4.5);
        families.family("d_empty", "Left out.", Kind::Gauge);
        let gauge = |name: &str, value: f64| {
            let mut g = MetricFamily::default();
            g.set_name(name.to_string());
            g.set_help("Other.".to_string());
            g.set_field_type(MetricType::GAUGE);
            let mut m = Metric::default();
            let mut v = Gauge::default();
            v.set_value(value);
            m.set_gauge(v);
            g.mut_metric().push(m);
            g
        };
        let bytes = write_protobuf(families, &[gauge("b_other", 2.5), gauge("z_other", -1.0)]);
        let mut buf = bytes.as_slice();
        let mut decoded = Vec::new();
        while !buf.is_empty() {
            decoded.push(proto::MetricFamily::decode_length_delimited(&mut buf).unwrap());
        }
        let label = |n: &str, v: &str| proto::LabelPair { name: Some(n.into()), value: Some(v.into()) };
        let family = |name: &str, help: &str, kind: proto::MetricType, metric: Vec<proto::Metric>| proto::MetricFamily {
            name: Some(name.into()),
            help: Some(help.into()),
            r#type: Some(kind as i32),
            metric,
        };
        let other = |name: &str, v: f64| {
            family(
                name,
                "Other.",
                proto::MetricType::Gauge,
                vec![proto::Metric { gauge: Some(proto::Gauge { value: Some(v) }), ..Default::default() }],
            )
        };
        let counter = |labels: Vec<proto::LabelPair>, v: f64| proto::Metric {
            label: labels,
            counter: Some(proto::Counter { value: Some(v) }),
            ..Default::default()
        };
        let histogram = proto::Histogram {
            sample_count: Some(6),
            sample_sum: Some(124.1),
            bucket: vec![
                proto::Bucket { cumulative_count: Some(2), upper_bound: Some(1.0) },
                proto::Bucket { cumulative_count: Some(6), upper_bound: Some(60.0) },
            ],
            schema: Some(3),
            zero_threshold: Some(0.0),
            zero_count: Some(1),
            negative_span: vec![],
            negative_delta: vec![],
            // Index 0 (count 1); 5 and 6 (1, 1) 4 past 1; 48 (2) 41 past 7.
            positive_span: vec![
                proto::BucketSpan { offset: Some(0), length: Some(1) },
                proto::BucketSpan { offset: Some(4), length: Some(2) },
                proto::BucketSpan { offset: Some(41), length: Some(1) },
            ],
            positive_delta: vec![1, 0, 0, 1],
        };
        let expected = vec![
            // Series by number of labels, then values.
            family("a_total", "Count.", proto::MetricType::Counter, vec![counter(vec![], 2.0), counter(vec![label("team", "x")], 7.0)]),
            family(
                "b_cumulative_seconds",
                "Durations.",
                proto::MetricType::Histogram,
                vec![proto::Metric { label: vec![label("team", "x")], histogram: Some(histogram), ..Default::default() }],
            ),
            other("b_other", 2.5),
            family(
                "c_seconds",
                "Waits.",
                proto::MetricType::Summary,
                vec![proto::Metric {
                    summary: Some(proto::Summary { sample_count: Some(3), sample_sum: Some(4.5), quantile: vec![] }),
                    ..Default::default()
                }],
            ),
            other("z_other", -1.0),
        ];
        assert_eq!(decoded, expected);
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
