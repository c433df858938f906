//! Prometheus protobuf plumbing: metric families under construction, series of each type,
//! and the order the text exposition lists them in.

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Encoder, TextEncoder};

use crate::base::Millis;
use crate::window::Distribution;

/// Quantiles reported for every duration distribution.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// The labels of one series: names are fixed, values come from configuration and state.
pub type Labels = Vec<(&'static str, String)>;

/// Metric families under construction, in declaration order.
#[derive(Default)]
pub struct Families(pub Vec<MetricFamily>);

impl Families {
    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(kind);
        self.0.push(mf);
        self.0.last_mut().expect("just pushed")
    }
}

/// A series with the labels `labels` and then `extra`.
pub fn metric(labels: &[(&str, String)], extra: &[(&str, &str)]) -> Metric {
    let pair = |name: &str, value: &str| {
        let mut lp = LabelPair::default();
        lp.set_name(name.to_string());
        lp.set_value(value.to_string());
        lp
    };
    let pairs = labels.iter().map(|(name, value)| pair(name, value)).chain(extra.iter().map(|(name, value)| pair(name, value))).collect();
    let mut m = Metric::default();
    m.set_label(pairs);
    m
}

pub fn push_gauge(mf: &mut MetricFamily, labels: &[(&str, String)], extra: &[(&str, &str)], value: f64) {
    let mut m = metric(labels, extra);
    let mut g = Gauge::default();
    g.set_value(value);
    m.set_gauge(g);
    mf.mut_metric().push(m);
}

pub fn push_counter(mf: &mut MetricFamily, labels: &[(&str, String)], value: u64) {
    let mut m = metric(labels, &[]);
    let mut c = Counter::default();
    c.set_value(value as f64);
    m.set_counter(c);
    mf.mut_metric().push(m);
}

/// A summary of a distribution: its count, sum and [`QUANTILES`].
pub fn push_summary(mf: &mut MetricFamily, labels: &[(&str, String)], d: &Distribution) {
    let mut m = metric(labels, &[]);
    let mut s = Summary::default();
    s.set_sample_count(d.count());
    s.set_sample_sum(d.sum());
    s.set_quantile(
        QUANTILES
            .iter()
            .map(|q| {
                let mut quantile = Quantile::default();
                quantile.set_quantile(*q);
                quantile.set_value(d.quantile(*q).unwrap_or(f64::NAN));
                quantile
            })
            .collect(),
    );
    m.set_summary(s);
    mf.mut_metric().push(m);
}

/// A summary of a count and a sum only, without quantiles.
pub fn push_count_sum(mf: &mut MetricFamily, labels: &[(&str, String)], count: u64, sum: f64) {
    let mut m = metric(labels, &[]);
    let mut s = Summary::default();
    s.set_sample_count(count);
    s.set_sample_sum(sum);
    m.set_summary(s);
    mf.mut_metric().push(m);
}

/// A gauge family of one series per row whose value is `Some`.
pub fn windowed<'a, T: Copy + 'a>(
    out: &mut Families,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = &'a (Labels, T)>,
    value: impl Fn(T) -> Option<f64>,
) {
    let mf = out.family(name, help, MetricType::GAUGE);
    for (labels, item) in rows {
        if let Some(v) = value(*item) {
            push_gauge(mf, labels, &[], v);
        }
    }
}

pub fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

pub fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
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

/// Prometheus text exposition of gathered families.
pub fn text(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    TextEncoder::new().encode(families, &mut buf).expect("families are well formed");
    String::from_utf8(buf).expect("the text format is UTF-8")
}
