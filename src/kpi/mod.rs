//! The windowed KPIs: what a ticket reports ([`Sample`]), how one window slice accumulates it
//! ([`KpiSlice`], [`SlaSlice`]) and the configuration that classifies samples ([`KpiRules`]).
//! Each KPI is declared once, in `kpi/catalogue.rs`: its sample, slice fields, merge, exported
//! families and how they combine across instances ([`KPIS`]). `docs/metrics.md` is the
//! user-facing description of the same.
//!
//! Every window family (these two, [`crate::topic`] and [`crate::agent`]) is a [`Family`]:
//! a slice type that records what applying an event or a timer produced ([`Fact`]) into its
//! windows. The engine keeps, reads, captures and merges them all from one list
//! (`engine/families.rs`).

mod active;
mod catalogue;
mod declare;
pub mod staffing;
pub(crate) mod totals;

pub use active::ActiveAgents;

pub use catalogue::{KpiSlice, KpiTotalBounds, KpiTotals, Sample, KPIS, LAYOUT, TOTAL_DECLARATIONS};
pub use declare::{count, mean, ratio, Across, Emit, Kpi, KpiLabels, Read, TotalDecl};
pub use totals::{native_index, Cumulative, NativeBuckets, SlaTotals, TotalKpi, TotalRead, TotalRules, Totals, NATIVE_SCHEMA};

use std::fmt::Debug;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::base::{window_label, Millis};
use crate::config::Config;
use crate::dimensions::{Catalog, DimKey};
use crate::event::{EventBody, Survey};
use crate::sla::{PolicyId, SlaOutcome, SlaSample};
use crate::window::{Aggregate, Distribution, Windows};

/// What applying one event or timer to a ticket produced, as the window families record it.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    /// The event's time (a timer's: the instant it fired), and the partition's stream time.
    pub at: Millis,
    pub now: Millis,
    /// The ticket's dimensions, after the change.
    pub key: DimKey,
    /// The event applied; `None` for a timer.
    pub body: Option<&'a EventBody>,
    pub samples: &'a [Sample],
    pub sla: &'a [SlaSample],
    /// The agent of the ticket's last public reply, after the change.
    pub last_agent: Option<&'a str>,
}

/// A window family: a slice type, the key of its series, and how a [`Fact`] is recorded into
/// its windows. Reading, pruning, capturing and merging are the same for every family
/// ([`Windows`], [`crate::window::Folds`]); the engine lists the families once.
pub trait Family: Aggregate + Clone + Debug + Serialize + DeserializeOwned {
    /// What a series is kept by.
    type Key: Clone + Ord + Hash + Eq + Debug + Serialize + DeserializeOwned;
    /// The settings recording reads, resolved once (`()` when none).
    type Rules: Debug;

    fn rules(config: &Config) -> Self::Rules;

    /// Records what one event or timer produced into the slices of its time. On the hot path:
    /// no allocation beyond the slices' own.
    fn record(windows: &mut Windows<Self::Key, Self>, rules: &Self::Rules, fact: &Fact<'_>);

    /// The dimensions of a series, whose labels the exporter resolves (`None`: it has none).
    fn dims(key: &Self::Key) -> Option<DimKey>;
}

/// Every total family of the catalogue ([`TOTAL_DECLARATIONS`]) named and described: a
/// counter `<name>_total`, where the windowed family's name is `<name>`; a histogram
/// `<stem>_cumulative_seconds`, where it is `<stem>_seconds`. Built once per process.
pub static TOTALS: std::sync::LazyLock<Vec<TotalKpi>> = std::sync::LazyLock::new(|| {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    TOTAL_DECLARATIONS
        .iter()
        .flatten()
        .map(|d| {
            let name = match d.read {
                TotalRead::Histogram(..) => {
                    let stem = d.of.strip_suffix("_seconds").expect("a duration family is named in seconds");
                    leak(format!("{stem}_cumulative_seconds"))
                }
                _ => leak(format!("{}_total", d.of)),
            };
            // The windowed help without its window, then what a total is.
            let help = if d.derived {
                let base = d.help.replace(", in the window", "").replace(" in the window", "");
                leak(format!("{base} All-time total of {}, per input partition, as of its last snapshot.", d.of))
            } else {
                d.help
            };
            TotalKpi { name, help, labels: d.labels, read: d.read }
        })
        .collect()
});

/// Configuration that turns raw facts into KPI classes, resolved once.
#[derive(Debug, Clone)]
pub struct KpiRules {
    /// Abandons sooner than this after creation are short.
    pub short_abandon_ms: Millis,
    /// Upper bounds of the abandon wait buckets; one more bucket takes longer waits.
    pub abandon_wait_buckets: Vec<Millis>,
    /// Service-level threshold of each real-time channel, by channel id.
    pub realtime: Vec<(u16, Millis)>,
    pub csat_good_from: f64,
    pub ces_easy_from: f64,
    pub esat_good_from: f64,
    pub sentiment_negative_below: f64,
    /// `abandonment.ends_contact`: an abandon ends the contact (see `Ticket::apply`).
    pub abandon_ends_contact: bool,
}

impl KpiRules {
    pub fn new(config: &Config, catalog: &Catalog) -> Self {
        let ms = crate::base::millis;
        let k = &config.kpis;
        Self {
            short_abandon_ms: ms(config.abandonment.short_abandon_threshold),
            abandon_wait_buckets: config.abandonment.wait_buckets.iter().map(|d| ms(*d)).collect(),
            realtime: k.realtime.channels.iter().map(|c| (catalog.channel(c), ms(k.realtime.service_level_thresholds[c]))).collect(),
            csat_good_from: k.surveys.csat.good_from,
            ces_easy_from: k.surveys.ces.good_from,
            esat_good_from: k.surveys.esat.good_from,
            sentiment_negative_below: k.sentiment.negative_below,
            abandon_ends_contact: config.abandonment.ends_contact,
        }
    }

    /// The service-level threshold of a channel, `None` unless it is a real-time channel.
    pub fn realtime_threshold(&self, channel: u16) -> Option<Millis> {
        self.realtime.iter().find(|(c, _)| *c == channel).map(|(_, t)| *t)
    }

    /// The wait bucket of an abandon after `wait` ms.
    pub fn wait_bucket(&self, wait: Millis) -> u8 {
        self.abandon_wait_buckets.iter().position(|b| wait <= *b).unwrap_or(self.abandon_wait_buckets.len()) as u8
    }

    /// The rating class of a score, an index into [`Survey::ratings`].
    pub fn rating(&self, survey: Survey, score: f64) -> u8 {
        match survey {
            Survey::Csat => u8::from(score < self.csat_good_from),
            Survey::Ces => u8::from(score < self.ces_easy_from),
            Survey::Esat => u8::from(score < self.esat_good_from),
            Survey::Nps if score >= 9.0 => 0,
            Survey::Nps if score > 6.0 => 1,
            Survey::Nps => 2,
        }
    }
}

impl Survey {
    /// Rating classes, the `rating` label: good / bad (CSAT, ESAT), easy / not easy (CES),
    /// promoter / passive / detractor (NPS).
    pub fn ratings(self) -> &'static [&'static str] {
        match self {
            Survey::Csat | Survey::Esat => &["good", "bad"],
            Survey::Ces => &["easy", "not_easy"],
            Survey::Nps => &["promoter", "passive", "detractor"],
        }
    }

    /// Position in [`Survey::ALL`], the index of per-survey arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Label values of `count + 1` buckets bounded by `bounds` (ms): `0s-10s`, ..., `5m+`.
pub(crate) fn bucket_labels(bounds: &[Millis]) -> Vec<String> {
    let label = |ms: Millis| window_label(std::time::Duration::from_millis(ms as u64));
    let mut lower = "0s".to_string();
    let mut out = Vec::new();
    for b in bounds {
        let upper = label(*b);
        out.push(format!("{lower}-{upper}"));
        lower = upper;
    }
    out.push(format!("{lower}+"));
    out
}

impl KpiLabels {
    pub fn new(config: &Config) -> Self {
        Self { wait: bucket_labels(&config.abandonment.wait_buckets.iter().map(|d| crate::base::millis(*d)).collect::<Vec<_>>()) }
    }
}

/// Responses to one survey kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SurveyTally {
    pub responses: u64,
    pub score_sum: f64,
    /// By rating class, per [`Survey::ratings`].
    pub ratings: [u64; 3],
}

impl Aggregate for SurveyTally {
    fn merge(&mut self, o: &Self) {
        self.responses += o.responses;
        self.score_sum += o.score_sum;
        self.ratings.merge(&o.ratings);
    }
}

/// The KPIs by dimensions: every sample of a change goes to one slice, in the order produced.
impl Family for KpiSlice {
    type Key = DimKey;
    type Rules = ();

    fn rules(_: &Config) {}

    #[inline]
    fn record(windows: &mut Windows<DimKey, Self>, _: &(), fact: &Fact<'_>) {
        // One visit of the slices for all samples: each slice takes them in the same order.
        if !fact.samples.is_empty() {
            windows.record(&fact.key, fact.at, fact.now, |slice| fact.samples.iter().for_each(|sample| slice.add(*sample)));
        }
    }

    fn dims(key: &DimKey) -> Option<DimKey> {
        Some(*key)
    }
}

/// One slice of the SLA series of one dimension key and policy. Arrays are indexed by
/// [`crate::sla::SlaTarget::index`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlaSlice {
    pub met: [u64; 3],
    pub breached: [u64; 3],
    /// Business time fulfilled targets took, pauses excluded.
    pub business_time: [Distribution; 3],
}

impl SlaSlice {
    pub fn add(&mut self, sample: &SlaSample) {
        let i = sample.target.index();
        match sample.outcome {
            Some(SlaOutcome::Met) => self.met[i] += 1,
            Some(SlaOutcome::Breached) => self.breached[i] += 1,
            None => {}
        }
        if let Some(s) = sample.business_seconds {
            self.business_time[i].add(s);
        }
    }
}

impl Aggregate for SlaSlice {
    fn merge(&mut self, o: &Self) {
        for i in 0..3 {
            self.met[i] += o.met[i];
            self.breached[i] += o.breached[i];
            self.business_time[i].merge(&o.business_time[i]);
        }
    }
}

/// SLA outcomes by dimensions and policy.
impl Family for SlaSlice {
    type Key = (DimKey, PolicyId);
    type Rules = ();

    fn rules(_: &Config) {}

    #[inline]
    fn record(windows: &mut Windows<(DimKey, PolicyId), Self>, _: &(), fact: &Fact<'_>) {
        for sample in fact.sla {
            windows.record(&(fact.key, sample.policy), fact.at, fact.now, |slice| slice.add(sample));
        }
    }

    fn dims((key, _): &(DimKey, PolicyId)) -> Option<DimKey> {
        Some(*key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> KpiRules {
        let config = Config::default();
        KpiRules::new(&config, &Catalog::new(&config.dimensions))
    }

    #[test]
    fn bucket_bounds_are_inclusive_and_labelled_as_ranges() {
        let r = rules();
        // Default bounds 10s, 30s, 1m, 2m, 5m.
        let buckets: Vec<u8> = [0, 10_000, 10_001, 30_000, 299_999, 300_000, 300_001].map(|ms| r.wait_bucket(ms)).to_vec();
        assert_eq!(buckets, [0, 0, 1, 1, 4, 4, 5]);
        assert_eq!(bucket_labels(&r.abandon_wait_buckets), ["0s-10s", "10s-30s", "30s-1m", "1m-2m", "2m-5m", "5m+"]);
    }

    #[test]
    fn rating_classes_at_their_boundaries() {
        let r = rules();
        let ratings = |survey: Survey, scores: &[f64]| -> Vec<&str> {
            scores.iter().map(|s| survey.ratings()[usize::from(r.rating(survey, *s))]).collect()
        };
        assert_eq!(ratings(Survey::Csat, &[1.0, 3.0, 3.5, 4.0, 5.0]), ["bad", "bad", "bad", "good", "good"]);
        assert_eq!(ratings(Survey::Ces, &[4.0, 5.0, 7.0]), ["not_easy", "easy", "easy"]);
        // ESAT: CSAT's classes and default bounds, good from 4.
        assert_eq!(ratings(Survey::Esat, &[1.0, 3.5, 4.0, 5.0]), ["bad", "bad", "good", "good"]);
        assert_eq!(
            ratings(Survey::Nps, &[0.0, 6.0, 6.5, 7.0, 8.0, 9.0, 10.0]),
            ["detractor", "detractor", "passive", "passive", "passive", "promoter", "promoter"]
        );
    }

    /// ESAT 5, 4 and 2 with good from 4: 2 good of 3, ratio 2/3; mean (5 + 4 + 2) / 3 = 11/3.
    #[test]
    fn esat_ratio_and_mean_from_its_responses() {
        let r = rules();
        let mut s = KpiSlice::default();
        for score in [5.0, 4.0, 2.0] {
            s.add(Sample::Survey { survey: Survey::Esat, score, rating: r.rating(Survey::Esat, score) });
        }
        let gauge = |name: &str| match KPIS.iter().find(|k| k.name == name).unwrap().read {
            Read::Gauge(read) => read(&s),
            _ => unreachable!("{name} is a gauge"),
        };
        assert_eq!(gauge("ticketpulse_esat_ratio"), Some(2.0 / 3.0));
        // CSAT has no responses: no series, ESAT's do not leak into it.
        assert_eq!(gauge("ticketpulse_csat_ratio"), None);
        let t = &s.surveys[Survey::Esat.index()];
        assert_eq!((t.responses, t.score_sum, t.ratings), (3, 11.0, [2, 1, 0]));
    }

    #[test]
    fn abandons_by_wait_merge_across_slices_of_different_lengths() {
        let mut a = KpiSlice::default();
        a.add(Sample::Abandoned { short: false, wait_bucket: Some(3), wait: 100.0, realtime: true });
        let mut b = KpiSlice::default();
        b.add(Sample::Abandoned { short: true, wait_bucket: Some(0), wait: 5.0, realtime: true });
        b.merge(&a);
        assert_eq!(b.abandoned_by_wait, [1, 0, 0, 1]);
        // Short abandons stay out of the service-level denominator.
        assert_eq!((b.abandoned, b.short_abandoned, b.realtime_abandoned), (1, 1, 1));
        // And out of the patience estimate's total wait: only the long abandon's 100 s.
        assert_eq!(b.realtime_abandoned_wait_sum, 100.0);
    }
}
