//! The protobuf exposition, with native histogram buckets, and the `Accept` negotiation that
//! chooses it: apart from the text writer, since only a scraper that asks for it reads it.

use prometheus::proto::{MetricFamily, MetricType};

use super::{by_label_values, Families, Kind, Value, QUANTILES};

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
/// values of [`write_text`](super::write_text) in its order, each cumulative histogram with its native buckets
/// at [`crate::kpi::NATIVE_SCHEMA`] beside its classic ones (`+Inf` left out: it is the
/// count), as client_golang writes a histogram with both.
pub fn write_protobuf(mut all: Families<'_>, gathered: &[MetricFamily]) -> Vec<u8> {
    use crate::exporter::proto;
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
fn from_gathered(mf: &MetricFamily) -> crate::exporter::proto::MetricFamily {
    use crate::exporter::proto;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    use prometheus::proto::{Gauge, Metric, MetricFamily, MetricType};

    use crate::exporter::encoding::*;
    use crate::kpi::Cumulative;

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
        use crate::exporter::proto;
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
}
