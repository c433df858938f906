//! The windowed KPIs: what a ticket reports ([`Sample`]), how one window slice accumulates it
//! ([`KpiSlice`], [`SlaSlice`], [`TopicSlice`]) and the configuration that classifies samples
//! ([`KpiRules`]). `docs/metrics.md` is the user-facing description of the same.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::base::{window_label, Millis};
use crate::config::Config;
use crate::dimensions::Catalog;
use crate::event::Survey;
use crate::sla::{SlaOutcome, SlaSample};
use crate::window::{Aggregate, Distribution};

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
            Survey::Nps if score >= 9.0 => 0,
            Survey::Nps if score > 6.0 => 1,
            Survey::Nps => 2,
        }
    }
}

impl Survey {
    /// Rating classes, the `rating` label: good / bad (CSAT), easy / not easy (CES),
    /// promoter / passive / detractor (NPS).
    pub fn ratings(self) -> &'static [&'static str] {
        match self {
            Survey::Csat => &["good", "bad"],
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
pub fn bucket_labels(bounds: &[Millis]) -> Vec<String> {
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

/// A KPI fact produced by a ticket, counted in the window slice of its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// `ticket_created` (volume).
    Created,
    /// First public human agent reply, seconds after creation.
    FirstResponse(f64),
    /// A later public agent reply, seconds after the oldest customer message it answers.
    NextReply(f64),
    /// First `solved`, seconds after creation.
    FirstResolution(f64),
    /// At the first `solved`: how many public agent replies the ticket had (one-touch = 1).
    FirstSolveReplies(u32),
    /// Every `solved` (again after a reopen), seconds after creation.
    FullResolution(f64),
    /// `solved`/`closed` → an open status.
    Reopened,
    /// Customer left before any public agent reply; `short` when sooner than the threshold;
    /// the wait bucket when the creation is known; `realtime` on a real-time channel.
    Abandoned { short: bool, wait_bucket: Option<u8>, realtime: bool },
    /// First public agent reply on a real-time channel: the queue wait, and whether it was
    /// within the channel's service-level threshold.
    Answered { wait: f64, within: bool },
    /// A survey answer with its rating class (see [`KpiRules::rating`]).
    Survey { survey: Survey, score: f64, rating: u8 },
    /// Agent handling time logged (`work_logged.seconds`).
    WorkLogged(f64),
    /// A public message by the customer (`inbound`) or a human agent.
    Message { inbound: bool },
    /// A customer message's upstream sentiment score.
    Sentiment { score: f64, negative: bool },
}

/// Responses to one survey kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SurveyTally {
    pub responses: u64,
    pub score_sum: f64,
    /// By rating class, per [`Survey::ratings`].
    pub ratings: [u64; 3],
}

/// Everything one slice of one series knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KpiSlice {
    pub created: u64,
    pub first_response: Distribution,
    pub next_reply: Distribution,
    pub first_resolution: Distribution,
    /// First solves by public agent replies before them: 0, 1, 2 or more.
    pub first_solves_by_replies: [u64; 3],
    pub full_resolution: Distribution,
    pub reopened: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    /// Every abandon (short ones too) by wait bucket; empty until the first.
    pub abandoned_by_wait: Vec<u64>,
    /// Real-time contacts answered, answered within the threshold, their total wait, and
    /// abandoned (short abandons excluded).
    pub realtime_answered: u64,
    pub realtime_within: u64,
    pub realtime_wait_sum: f64,
    pub realtime_abandoned: u64,
    /// Per [`Survey`] in declaration order.
    pub surveys: [SurveyTally; 3],
    pub work_seconds: f64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub sentiment_count: u64,
    pub sentiment_sum: f64,
    pub sentiment_negative: u64,
}

impl KpiSlice {
    pub fn add(&mut self, sample: Sample) {
        match sample {
            Sample::Created => self.created += 1,
            Sample::FirstResponse(s) => self.first_response.add(s),
            Sample::NextReply(s) => self.next_reply.add(s),
            Sample::FirstResolution(s) => self.first_resolution.add(s),
            Sample::FirstSolveReplies(n) => self.first_solves_by_replies[n.min(2) as usize] += 1,
            Sample::FullResolution(s) => self.full_resolution.add(s),
            Sample::Reopened => self.reopened += 1,
            Sample::Abandoned { short, wait_bucket, realtime } => {
                if short {
                    self.short_abandoned += 1;
                } else {
                    self.abandoned += 1;
                    self.realtime_abandoned += u64::from(realtime);
                }
                if let Some(b) = wait_bucket {
                    let b = usize::from(b);
                    if self.abandoned_by_wait.len() <= b {
                        self.abandoned_by_wait.resize(b + 1, 0);
                    }
                    self.abandoned_by_wait[b] += 1;
                }
            }
            Sample::Answered { wait, within } => {
                self.realtime_answered += 1;
                self.realtime_within += u64::from(within);
                self.realtime_wait_sum += wait;
            }
            Sample::Survey { survey, score, rating } => {
                let t = &mut self.surveys[survey.index()];
                t.responses += 1;
                t.score_sum += score;
                t.ratings[usize::from(rating)] += 1;
            }
            Sample::WorkLogged(s) => self.work_seconds += s,
            Sample::Message { inbound: true } => self.messages_in += 1,
            Sample::Message { inbound: false } => self.messages_out += 1,
            Sample::Sentiment { score, negative } => {
                self.sentiment_count += 1;
                self.sentiment_sum += score;
                self.sentiment_negative += u64::from(negative);
            }
        }
    }
}

impl Aggregate for KpiSlice {
    fn merge(&mut self, o: &Self) {
        self.created += o.created;
        self.first_response.merge(&o.first_response);
        self.next_reply.merge(&o.next_reply);
        self.first_resolution.merge(&o.first_resolution);
        add_all(&mut self.first_solves_by_replies, &o.first_solves_by_replies);
        self.full_resolution.merge(&o.full_resolution);
        self.reopened += o.reopened;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        if self.abandoned_by_wait.len() < o.abandoned_by_wait.len() {
            self.abandoned_by_wait.resize(o.abandoned_by_wait.len(), 0);
        }
        add_all(&mut self.abandoned_by_wait, &o.abandoned_by_wait);
        self.realtime_answered += o.realtime_answered;
        self.realtime_within += o.realtime_within;
        self.realtime_wait_sum += o.realtime_wait_sum;
        self.realtime_abandoned += o.realtime_abandoned;
        for (s, t) in self.surveys.iter_mut().zip(&o.surveys) {
            s.responses += t.responses;
            s.score_sum += t.score_sum;
            add_all(&mut s.ratings, &t.ratings);
        }
        self.work_seconds += o.work_seconds;
        self.messages_in += o.messages_in;
        self.messages_out += o.messages_out;
        self.sentiment_count += o.sentiment_count;
        self.sentiment_sum += o.sentiment_sum;
        self.sentiment_negative += o.sentiment_negative;
    }
}

/// Adds `other` into the leading entries of `into`.
fn add_all(into: &mut [u64], other: &[u64]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a += b;
    }
}

/// The `topic` label of tickets without a topic.
pub const NO_TOPIC: &str = "none";
/// The `topic` label of every topic that is not a label of its own.
pub const OTHER_TOPIC: &str = "other";

/// Tickets created by topic in one slice. At most `cap` distinct topics are kept per slice
/// (later new ones count in `overflow`), so a flood of random topics cannot grow memory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopicSlice {
    pub counts: BTreeMap<String, u64>,
    pub overflow: u64,
}

impl TopicSlice {
    /// Counts one creation under `label`; `None` counts as `other`, and so does a new label
    /// once the slice holds `cap` of them.
    pub fn add(&mut self, label: Option<&str>, cap: usize) {
        let Some(label) = label else {
            self.overflow += 1;
            return;
        };
        if let Some(n) = self.counts.get_mut(label) {
            *n += 1;
        } else if self.counts.len() < cap {
            self.counts.insert(label.to_string(), 1);
        } else {
            self.overflow += 1;
        }
    }
}

/// The topics reported with a label of their own, given the longest window: the allow-list,
/// or the `top` most frequent (ties by name); and `none`.
pub fn chosen_topics<'a>(longest: &'a TopicSlice, allow: &'a [String], top: usize) -> Vec<&'a str> {
    if !allow.is_empty() {
        return allow.iter().map(String::as_str).chain([NO_TOPIC]).collect();
    }
    let mut ranked: Vec<(&String, &u64)> = longest.counts.iter().filter(|(t, _)| *t != NO_TOPIC).collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    ranked.into_iter().take(top).map(|(t, _)| t.as_str()).chain([NO_TOPIC]).collect()
}

impl TopicSlice {
    /// The rows to report: each of the `chosen` topics present, then `other` (every topic not
    /// chosen, and the overflow) unless it is 0.
    pub fn fold<'a>(&'a self, chosen: &[&'a str]) -> Vec<(&'a str, u64)> {
        let other = self.overflow + self.counts.iter().filter(|(t, _)| !chosen.contains(&t.as_str())).map(|(_, n)| n).sum::<u64>();
        let mut rows: Vec<(&str, u64)> = chosen.iter().filter_map(|t| self.counts.get(*t).map(|n| (*t, *n))).collect();
        if other > 0 {
            rows.push((OTHER_TOPIC, other));
        }
        rows
    }
}

impl Aggregate for TopicSlice {
    fn merge(&mut self, o: &Self) {
        for (topic, n) in &o.counts {
            *self.counts.entry(topic.clone()).or_default() += n;
        }
        self.overflow += o.overflow;
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
        assert_eq!(
            ratings(Survey::Nps, &[0.0, 6.0, 6.5, 7.0, 8.0, 9.0, 10.0]),
            ["detractor", "detractor", "passive", "passive", "passive", "promoter", "promoter"]
        );
    }

    #[test]
    fn a_full_topic_slice_counts_new_topics_as_overflow() {
        let mut slice = TopicSlice::default();
        for topic in ["a", "b", "a", "c", "b", "d"] {
            slice.add(Some(topic), 2);
        }
        slice.add(None, 2);
        assert_eq!(slice.counts, BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 2)]));
        assert_eq!(slice.overflow, 3, "c and d, and the unlabelled one");
        let mut merged = TopicSlice::default();
        merged.merge(&slice);
        merged.merge(&slice);
        assert_eq!((merged.counts["a"], merged.overflow), (4, 6));
    }

    #[test]
    fn topics_are_the_top_n_by_count_or_the_allow_list_and_the_rest_is_other() {
        let mut longest = TopicSlice::default();
        for topic in ["billing", "login", "billing", "refund", "login", "billing", "api"] {
            longest.add(Some(topic), 10);
        }
        longest.add(Some(NO_TOPIC), 10);
        longest.overflow = 2;
        // billing 3, login 2; refund and api tie at 1 and go by name.
        let top = chosen_topics(&longest, &[], 3);
        assert_eq!(top, ["billing", "login", "api", NO_TOPIC]);
        assert_eq!(longest.fold(&top), [("billing", 3), ("login", 2), ("api", 1), (NO_TOPIC, 1), (OTHER_TOPIC, 3)]);
        let allow = ["refund".to_string(), "shipping".to_string()];
        let listed = chosen_topics(&longest, &allow, 3);
        assert_eq!(listed, ["refund", "shipping", NO_TOPIC]);
        // billing 3 + login 2 + api 1 + the overflow 2 are other; shipping has no series.
        assert_eq!(longest.fold(&listed), [("refund", 1), (NO_TOPIC, 1), (OTHER_TOPIC, 8)]);
        assert_eq!(TopicSlice::default().fold(&listed), []);
    }

    #[test]
    fn abandons_by_wait_merge_across_slices_of_different_lengths() {
        let mut a = KpiSlice::default();
        a.add(Sample::Abandoned { short: false, wait_bucket: Some(3), realtime: true });
        let mut b = KpiSlice::default();
        b.add(Sample::Abandoned { short: true, wait_bucket: Some(0), realtime: true });
        b.merge(&a);
        assert_eq!(b.abandoned_by_wait, [1, 0, 0, 1]);
        // Short abandons stay out of the service-level denominator.
        assert_eq!((b.abandoned, b.short_abandoned, b.realtime_abandoned), (1, 1, 1));
    }
}
