//! The reference the text writer is checked against: the same families as the prometheus
//! crate's `MetricFamily`s, gathered and encoded by its `TextEncoder`; apart because only tests
//! and collectors gathered from a registry use it.

use prometheus::proto::{Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary};
use prometheus::{Encoder, TextEncoder};

use super::{Families, Family, Kind, Value, QUANTILES};

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
    use std::borrow::Cow;

    use crate::exporter::encoding::*;

    use crate::window::Distribution;

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
