//! Tickets created by topic (`kpis.topics`): the label a creation is recorded under
//! ([`TopicRules::label`]), the window slice that counts them with a bounded number of topics
//! ([`TopicSlice`]) and which topics are reported with a label of their own ([`chosen_topics`]).
//! Like agents: an allow-list, or the top N topics over the longest window, the rest `other`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::dimensions::DimKey;
use crate::event::EventBody;
use crate::kpi::{Fact, Family, Sample};
use crate::window::{Aggregate, Windows};

/// The `topic` label of tickets without a topic.
pub const NO_TOPIC: &str = "none";
/// The `topic` label of every topic that is not a label of its own.
pub const OTHER_TOPIC: &str = "other";

/// What recording topics reads of `kpis.topics`, resolved once.
#[derive(Debug, Clone)]
pub struct TopicRules {
    /// The allow-list; empty: every topic is recorded (the top N are picked at read time).
    pub allow: Vec<String>,
    /// Distinct topics kept per slice.
    pub per_slice: usize,
}

impl TopicRules {
    /// The label a creation counts under: `none` without a topic; with an allow-list, the
    /// topic if listed and `other` (`None`) if not; otherwise the topic itself (the top N are
    /// picked at read time). A topic literally named `none` or `other` counts as `other`, so a
    /// reserved label value never stands for two things.
    pub fn label<'a>(&self, topic: Option<&'a str>) -> Option<&'a str> {
        match topic {
            None => Some(NO_TOPIC),
            Some(NO_TOPIC | OTHER_TOPIC) => None,
            Some(t) if self.allow.is_empty() || self.allow.iter().any(|a| a == t) => Some(t),
            Some(_) => None,
        }
    }
}

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

/// One series (no dimensions: topics × dimensions would be too many series); a creation is
/// counted under its topic's label.
impl Family for TopicSlice {
    type Key = ();
    type Rules = TopicRules;

    fn rules(config: &Config) -> TopicRules {
        TopicRules { allow: config.kpis.topics.allow.clone(), per_slice: config.kpis.topics.max_tracked_per_slice }
    }

    /// Inlined: for every event but a creation it is one test on the hot path.
    #[inline]
    fn record(windows: &mut Windows<(), Self>, rules: &TopicRules, fact: &Fact<'_>) {
        if let Some(EventBody::TicketCreated { topic, .. }) = fact.body {
            if fact.samples.contains(&Sample::Created) {
                let label = rules.label(topic.as_deref());
                windows.record(&(), fact.at, fact.now, |slice| slice.add(label, rules.per_slice));
            }
        }
    }

    fn dims(_: &()) -> Option<DimKey> {
        None
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
