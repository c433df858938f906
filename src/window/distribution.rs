//! The quantile sketch behind every duration KPI: [`Distribution`].

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

use super::Aggregate;

/// A distribution of durations in seconds: exact count, sum and max, and quantiles within
/// 1% relative error (DDSketch). Empty distributions allocate nothing, and neither do those
/// of one value: most slices of the short windows see one sample per series, and building a
/// sketch for it was a fifth of the per-event cost. The sketch is built, from the same values
/// in the same order, when a second value comes or when read, so every figure is the one a
/// sketch from the first value on gives.
#[derive(Clone, Default)]
pub struct Distribution(Values);

#[derive(Clone, Default)]
enum Values {
    #[default]
    Empty,
    One(f64),
    Sketch(Box<DDSketch>),
}

impl std::fmt::Debug for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distribution").field("count", &self.count()).field("sum", &self.sum()).finish()
    }
}

fn sketch_of(value: f64) -> DDSketch {
    let mut sketch = DDSketch::new(SketchConfig::defaults());
    sketch.add(value);
    sketch
}

impl Distribution {
    pub fn add(&mut self, value: f64) {
        match &mut self.0 {
            Values::Empty => self.0 = Values::One(value),
            Values::One(first) => {
                let mut sketch = sketch_of(*first);
                sketch.add(value);
                self.0 = Values::Sketch(Box::new(sketch));
            }
            Values::Sketch(s) => s.add(value),
        }
    }

    /// The sketch these values make (`None` when empty), built for the call when needed.
    fn sketch(&self) -> Option<std::borrow::Cow<'_, DDSketch>> {
        match &self.0 {
            Values::Empty => None,
            Values::One(v) => Some(std::borrow::Cow::Owned(sketch_of(*v))),
            Values::Sketch(s) => Some(std::borrow::Cow::Borrowed(s)),
        }
    }

    /// Count, sum and max of one value are read without building its sketch (a scrape reads
    /// them for thousands of series), as the sketch gives them: 1, `0.0 + v` and `v` (the sketch
    /// keeps its initial max, -inf, for a NaN).
    pub fn count(&self) -> u64 {
        match &self.0 {
            Values::Empty => 0,
            Values::One(_) => 1,
            Values::Sketch(s) => s.count() as u64,
        }
    }

    pub fn sum(&self) -> f64 {
        match &self.0 {
            Values::Empty => 0.0,
            Values::One(v) => 0.0 + v,
            Values::Sketch(s) => s.sum().unwrap_or(0.0),
        }
    }

    pub fn max(&self) -> Option<f64> {
        match &self.0 {
            Values::Empty => None,
            Values::One(v) => Some(if f64::NEG_INFINITY < *v { *v } else { f64::NEG_INFINITY }),
            Values::Sketch(s) => s.max(),
        }
    }

    /// The value at quantile `q` (0..=1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles([q])[0]
    }

    /// The values at several quantiles, building the sketch of one value once for all.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> [Option<f64>; N] {
        let sketch = self.sketch();
        qs.map(|q| sketch.as_ref().and_then(|s| s.quantile(q).ok().flatten()))
    }
}

impl Aggregate for Distribution {
    /// Merging the sketch of one value is adding that value (the same count, sum, min, max and
    /// bin), so a value of one is added rather than built into a sketch to merge.
    fn merge(&mut self, other: &Self) {
        let mut sketch = match std::mem::take(&mut self.0) {
            Values::Empty => {
                self.0 = other.0.clone();
                return;
            }
            Values::One(v) if matches!(other.0, Values::Empty) => {
                self.0 = Values::One(v);
                return;
            }
            Values::One(v) => Box::new(sketch_of(v)),
            Values::Sketch(s) => s,
        };
        match &other.0 {
            Values::Empty => {}
            Values::One(v) => sketch.add(*v),
            // Both use the default config, so merging cannot fail.
            Values::Sketch(o) => sketch.merge(o).expect("sketches share one config"),
        }
        self.0 = Values::Sketch(sketch);
    }
}

/// Stored as the sketch (`Option<Box<DDSketch>>`, as before values of one were kept apart),
/// so snapshots read the same either way.
impl Serialize for Distribution {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct("Distribution", &self.sketch().as_deref())
    }
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename = "Distribution")]
        struct Stored(Option<Box<DDSketch>>);
        let Stored(sketch) = Stored::deserialize(deserializer)?;
        Ok(Self(sketch.map_or(Values::Empty, Values::Sketch)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_reads_merges_and_is_stored_as_its_sketch() {
        let mut one = Distribution::default();
        one.add(90.0);
        assert!(matches!(one.0, Values::One(_)), "one value needs no sketch");
        assert_eq!((one.count(), one.sum(), one.max()), (1, 90.0, Some(90.0)));
        let p50 = one.quantile(0.5).unwrap();
        assert!((p50 - 90.0).abs() <= 0.9, "{p50}");
        let mut two = one.clone();
        two.add(30.0);
        assert_eq!((two.count(), two.sum(), two.max()), (2, 120.0, Some(90.0)));
        let mut merged = Distribution::default();
        for d in [&one, &one, &two] {
            merged.merge(d);
        }
        assert_eq!((merged.count(), merged.sum(), merged.max()), (4, 300.0, Some(90.0)));
        // Stored exactly as the sketch of that one value, and read back as one.
        let sketch = Distribution(Values::Sketch(Box::new(sketch_of(90.0))));
        let bytes = postcard::to_stdvec(&one).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&sketch).unwrap());
        let back: Distribution = postcard::from_bytes(&bytes).unwrap();
        assert_eq!((back.count(), back.sum(), back.max()), (1, 90.0, Some(90.0)));
        assert_eq!(postcard::to_stdvec(&Distribution::default()).unwrap(), [0], "empty: `None`");
    }

    #[test]
    fn one_value_reads_as_its_sketch_reads_to_the_bit() {
        for v in [0.0, -0.0, 1e-12, 90.0, 86_400.5] {
            let one = Distribution(Values::One(v));
            let sketch = Distribution(Values::Sketch(Box::new(sketch_of(v))));
            let bits = |d: &Distribution| {
                let [p50, p99] = d.quantiles([0.5, 0.99]).map(|q| q.map(f64::to_bits));
                (d.count(), d.sum().to_bits(), d.max().map(f64::to_bits), p50, p99)
            };
            assert_eq!(bits(&one), bits(&sketch), "{v}");
        }
    }

    #[test]
    fn distribution_is_exact_for_count_sum_max_and_within_one_percent_for_quantiles() {
        let mut d = Distribution::default();
        for v in 1..=100 {
            d.add(f64::from(v) * 60.0);
        }
        let mut merged = Distribution::default();
        merged.merge(&d);
        assert_eq!(merged.count(), 100);
        assert_eq!(merged.sum(), 303_000.0);
        assert_eq!(merged.max(), Some(6000.0));
        // Rank floor(0.9 × 99) = 89 → the 90th value, 5400 s.
        let p90 = merged.quantile(0.9).unwrap();
        assert!((p90 - 5400.0).abs() <= 54.0, "{p90}");
        assert_eq!(Distribution::default().quantile(0.5), None);
    }
}
