//! The text and OpenMetrics writers of the families: the hot path of a scrape and of
//! `replay/history`, apart from the model they read (`mod.rs`) and the other formats.

use std::fmt::Write as _;

use prometheus::proto::MetricFamily;

use crate::base::Millis;

use super::{by_label_values, text, Families, Family, Kind, Value, QUANTILES};

impl Families<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    use crate::exporter::encoding::*;

    use crate::window::Distribution;

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
}
