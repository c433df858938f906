//! Event-time rolling windows.
//!
//! A window of length W is the newest `n` slices of `W / n`, aligned to the Unix epoch, the
//! newest being the slice that holds the stream time T. Recording touches exactly one slice
//! per window (O(1) per event); reading merges a window's slices (at scrape time). The same
//! mechanism serves counters and quantile sketches because every aggregate only needs
//! [`Aggregate::merge`] (Flink-style slicing with merge on read).
//!
//! Slices are shared (triomphe's `Arc`: without a weak count, an update checks that a slice
//! is unshared with one load; copy on write), so a read under the engine lock only takes
//! references to the slices a window covers ([`Windows::read_into`]); they are merged after
//! the lock ([`Folds::merge`], which keeps the fold of closed slices for the next scrape). A
//! slice still referenced by a scrape being rendered, or by those folds, is copied the next
//! time an event updates it.

mod distribution;

pub use distribution::Distribution;

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use triomphe::Arc;

use crate::base::{window_label, Millis};
use crate::config::TimeConfig;

/// An aggregate that can be combined with another of its kind.
pub trait Aggregate: Default {
    fn merge(&mut self, other: &Self);
}

/// A count adds.
impl Aggregate for u64 {
    fn merge(&mut self, other: &Self) {
        *self += other;
    }
}

/// A sum adds.
impl Aggregate for f64 {
    fn merge(&mut self, other: &Self) {
        *self += other;
    }
}

/// Element by element.
impl<T: Aggregate, const N: usize> Aggregate for [T; N]
where
    [T; N]: Default,
{
    fn merge(&mut self, other: &Self) {
        for (a, b) in self.iter_mut().zip(other) {
            a.merge(b);
        }
    }
}

/// Element by element, as long as the longer of the two (buckets filled lazily).
impl<T: Aggregate + Clone> Aggregate for Vec<T> {
    fn merge(&mut self, other: &Self) {
        if self.len() < other.len() {
            self.resize(other.len(), T::default());
        }
        for (a, b) in self.iter_mut().zip(other) {
            a.merge(b);
        }
    }
}

/// One configured window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// The `window` label value, e.g. `1h`.
    pub label: String,
    pub slice_ms: Millis,
    pub slices: usize,
}

impl WindowSpec {
    /// The configured windows (`time.windows`, each of `time.slices_per_window` slices).
    pub fn configured(time: &TimeConfig) -> Vec<Self> {
        time.windows.iter().map(|w| Self::new(*w, time.slices_per_window)).collect()
    }

    pub fn new(window: Duration, slices: u32) -> Self {
        Self { label: window_label(window), slice_ms: crate::base::millis(window) / Millis::from(slices), slices: slices as usize }
    }

    /// The window's length.
    pub fn length(&self) -> Millis {
        self.slice_ms * self.slices as Millis
    }

    fn slice_of(&self, at: Millis) -> i64 {
        at.div_euclid(self.slice_ms)
    }

    /// Whether slice `index` is one of the window's slices at stream time `now`.
    fn covers(&self, index: i64, now: Millis) -> bool {
        let newest = self.slice_of(now);
        index <= newest && index > newest - self.slices as i64
    }
}

/// Per key, one ring of slices per window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize + Hash + Eq, A: Serialize", deserialize = "K: Deserialize<'de> + Hash + Eq, A: Deserialize<'de>"))]
pub struct Windows<K, A> {
    specs: Vec<WindowSpec>,
    /// Keys are label sets built from configured values (bounded, never raw input), so the
    /// hasher is picked for speed; aHash, as the ticket table uses.
    series: HashMap<K, Vec<Ring<A>>, ahash::RandomState>,
}

/// `slots[i % n]` holds slice `i` (tagged with `i` so stale slots are recognised). Stored as
/// the slice itself (triomphe's `serde`), so snapshots read the same as before slices were shared.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ring<A> {
    slots: Vec<Option<(i64, Arc<A>)>>,
}

/// The slices of one series in one window as reads found them, in merge order, and how many
/// of the first were closed (older than their window's newest slice) when read.
#[derive(Debug)]
pub struct Slices<A> {
    slices: Vec<Arc<A>>,
    closed: usize,
    /// Whether an open slice was met: the slices after it are not counted in `closed`.
    open_seen: bool,
}

impl<A> Default for Slices<A> {
    fn default() -> Self {
        Self { slices: Vec::new(), closed: 0, open_seen: false }
    }
}

impl<A> Slices<A> {
    fn push(&mut self, slice: &Arc<A>, open: bool) {
        self.slices.push(Arc::clone(slice));
        self.open_seen |= open;
        if !self.open_seen {
            self.closed += 1;
        }
    }
}

/// The folds of series' leading closed slices, kept from one merge to the next. A series whose
/// leading slices are the same shared slices as last time starts from their fold and merges
/// only the rest: the same arithmetic in the same order as merging them all (float sums
/// depend on the order), without merging the sketches of a day of closed slices every scrape.
/// The same pointer is the same content: the slices held here are copied by an update.
#[derive(Debug)]
pub(crate) struct Folds<K, A>(HashMap<K, (Vec<Arc<A>>, A)>);

impl<K, A> Default for Folds<K, A> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<K: Hash + Eq + Clone, A: Aggregate + Clone> Folds<K, A> {
    /// Merges each series' slices in their order from an empty aggregate, keeping the fold of
    /// their closed lead for the next call (and nothing of series no longer read).
    pub fn merge<M: FromIterator<(K, A)>>(&mut self, series: impl IntoIterator<Item = (K, Slices<A>)>) -> M {
        let mut last = std::mem::take(&mut self.0);
        series
            .into_iter()
            .map(|(key, s)| {
                let (mut fold, from) = match last.remove(&key) {
                    Some((lead, fold)) if lead.len() <= s.closed && lead.iter().zip(&s.slices).all(|(a, b)| Arc::ptr_eq(a, b)) => {
                        (fold, lead.len())
                    }
                    _ => (A::default(), 0),
                };
                for slice in &s.slices[from..s.closed] {
                    fold.merge(slice);
                }
                if s.closed > 0 {
                    self.0.insert(key.clone(), (s.slices[..s.closed].to_vec(), fold.clone()));
                }
                for slice in &s.slices[s.closed..] {
                    fold.merge(slice);
                }
                (key, fold)
            })
            .collect()
    }
}

impl<K: Hash + Eq + Ord + Clone, A: Aggregate + Clone> Windows<K, A> {
    pub fn new(specs: Vec<WindowSpec>) -> Self {
        Self { specs, series: HashMap::default() }
    }

    /// Applies `update` to the slice holding `at` in every window that still covers it at
    /// stream time `now`. Returns how many windows took the update.
    pub fn record(&mut self, key: &K, at: Millis, now: Millis, mut update: impl FnMut(&mut A)) -> usize {
        let specs = &self.specs;
        // The series is looked up (or created) at the first window that covers `at`, so an
        // update no window takes creates nothing, and each slice index is computed once.
        let (mut series, mut rings) = (Some(&mut self.series), None);
        let mut taken = 0;
        for (w, spec) in specs.iter().enumerate() {
            let index = spec.slice_of(at);
            if !spec.covers(index, now) {
                continue;
            }
            let rings = rings.get_or_insert_with(|| {
                series
                    .take()
                    .expect("taken only while `rings` is unset")
                    .entry(key.clone())
                    .or_insert_with(|| specs.iter().map(|s| Ring { slots: (0..s.slices).map(|_| None).collect() }).collect())
            });
            let slot = &mut rings[w].slots[index.rem_euclid(spec.slices as i64) as usize];
            match slot {
                Some((i, agg)) if *i == index => update(Arc::make_mut(agg)),
                // A stale slice no scrape holds: its allocation takes the new slice.
                Some((i, agg)) if agg.is_unique() => {
                    *i = index;
                    let agg = Arc::make_mut(agg);
                    *agg = A::default();
                    update(agg);
                }
                _ => {
                    let mut agg = A::default();
                    update(&mut agg);
                    *slot = Some((index, Arc::new(agg)));
                }
            }
            taken += 1;
        }
        taken
    }

    /// Takes every key's slices per window at stream time `now` (references, no copy),
    /// appending to `out` (keyed by window index, then key), so several partitions can be
    /// read into one map; [`Folds::merge`] merges them.
    pub fn read_into(&self, now: Millis, out: &mut BTreeMap<(usize, K), Slices<A>>) {
        for (key, rings) in &self.series {
            for (w, (spec, ring)) in self.specs.iter().zip(rings).enumerate() {
                let newest = spec.slice_of(now);
                let mut covered = ring.slots.iter().flatten().filter(|(index, _)| spec.covers(*index, now)).peekable();
                if covered.peek().is_some() {
                    let slices = out.entry((w, key.clone())).or_default();
                    for (index, slice) in covered {
                        slices.push(slice, *index == newest);
                    }
                }
            }
        }
    }

    /// Forgets keys with no slice left in any window at `now`, so their series disappear.
    pub fn prune(&mut self, now: Millis) {
        let specs = &self.specs;
        self.series.retain(|_, rings| {
            specs.iter().zip(rings.iter()).any(|(spec, ring)| ring.slots.iter().flatten().any(|(i, _)| spec.covers(*i, now)))
        });
    }

    pub fn key_count(&self) -> usize {
        self.series.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Count(u64);
    impl Aggregate for Count {
        fn merge(&mut self, other: &Self) {
            self.0 += other.0;
        }
    }

    fn read(w: &Windows<&'static str, Count>, now: Millis) -> Vec<(usize, &'static str, u64)> {
        let mut out = BTreeMap::new();
        w.read_into(now, &mut out);
        let merged: BTreeMap<_, Count> = Folds::default().merge(out);
        merged.into_iter().map(|((i, k), c)| (i, k, c.0)).collect()
    }

    /// 1-minute window of 6 × 10 s slices, and a 2-minute one of 6 × 20 s slices.
    fn windows() -> Windows<&'static str, Count> {
        Windows::new(vec![WindowSpec::new(Duration::from_secs(60), 6), WindowSpec::new(Duration::from_secs(120), 6)])
    }

    #[test]
    fn slices_align_to_the_epoch_and_expire() {
        let mut w = windows();
        // t = 5 s → slice 0 of both windows; t = 65 s → 1m slice 6, 2m slice 3.
        assert_eq!(w.record(&"a", 5_000, 5_000, |c| c.0 += 1), 2);
        assert_eq!(w.record(&"a", 65_000, 65_000, |c| c.0 += 1), 2);
        // At 65 s the 1m window holds slices 1..=6 (10..70 s): only the second event.
        assert_eq!(read(&w, 65_000), [(0, "a", 1), (1, "a", 2)]);
        // At 125 s: 1m window = 70..130 s (empty); 2m window = slices 1..=6 (20..140 s).
        assert_eq!(read(&w, 125_000), [(1, "a", 1)]);
        w.prune(125_000);
        assert_eq!(w.key_count(), 1);
        w.prune(200_000);
        assert_eq!(w.key_count(), 0);
    }

    #[test]
    fn older_events_update_retained_slices_only() {
        let mut w = windows();
        w.record(&"a", 130_000, 130_000, |c| c.0 += 1);
        // At 130 s the 1m window is 80..140 s and the 2m window 20..140 s.
        // 70 s old: outside the 1m window, inside the 2m one (its slice 3 = 60..80 s).
        assert_eq!(w.record(&"a", 60_000, 130_000, |c| c.0 += 1), 1);
        // Older than every window: nothing recorded.
        assert_eq!(w.record(&"b", 10_000, 130_000, |c| c.0 += 1), 0);
        assert_eq!(read(&w, 130_000), [(0, "a", 1), (1, "a", 2)]);
    }

    #[test]
    fn a_reused_slot_starts_empty() {
        let mut w = windows();
        w.record(&"a", 0, 0, |c| c.0 += 5);
        // 60 s later the 1m ring wraps onto slot 0 again: the old 5 must not leak in.
        w.record(&"a", 60_000, 60_000, |c| c.0 += 1);
        assert_eq!(read(&w, 60_000), [(0, "a", 1), (1, "a", 6)]);
    }

    thread_local! {
        /// `Counted` merges done on this thread.
        static MERGES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[derive(Debug, Clone, Default)]
    struct Counted(u64);
    impl Aggregate for Counted {
        fn merge(&mut self, other: &Self) {
            MERGES.with(|m| m.set(m.get() + 1));
            self.0 += other.0;
        }
    }

    /// Merges `w` at `now` with `folds`: (the merged value of "a", merges done).
    fn merge_counted(w: &Windows<&'static str, Counted>, now: Millis, folds: &mut Folds<(usize, &'static str), Counted>) -> (u64, usize) {
        let mut read = BTreeMap::new();
        w.read_into(now, &mut read);
        let before = MERGES.with(|m| m.get());
        let merged: BTreeMap<_, Counted> = folds.merge(read);
        (merged[&(0, "a")].0, MERGES.with(|m| m.get()) - before)
    }

    #[test]
    fn closed_slices_are_merged_once_until_one_changes() {
        // One 1-minute window of 6 × 10 s slices; one event in each, at 5, 15, ..., 55 s.
        let mut w = Windows::new(vec![WindowSpec::new(Duration::from_secs(60), 6)]);
        for at in (5_000..60_000).step_by(10_000) {
            w.record(&"a", at, 55_000, |c: &mut Counted| c.0 += 1);
        }
        let mut folds = Folds::default();
        // Slots 0..=4 hold the closed slices 0..=4, slot 5 the open one: 6 merges at first.
        assert_eq!(merge_counted(&w, 55_000, &mut folds), (6, 6));
        // A second event in the open slice: the fold of the 5 closed ones, and 1 merge.
        w.record(&"a", 56_000, 56_000, |c| c.0 += 1);
        assert_eq!(merge_counted(&w, 56_000, &mut folds), (7, 1));
        // A late event in closed slice 1 copies it (the folds hold it): all 6 merged again.
        w.record(&"a", 15_000, 56_000, |c| c.0 += 1);
        assert_eq!(merge_counted(&w, 56_000, &mut folds), (8, 6));
        assert_eq!(merge_counted(&w, 56_000, &mut folds), (8, 1));
        // At 65 s slice 6 (open) takes slot 0, ahead of closed slices 1..=5: nothing to reuse.
        // Slices 1..=6 hold 2 + 1 + 1 + 1 + 2 + 1 events.
        w.record(&"a", 65_000, 65_000, |c| c.0 += 1);
        assert_eq!(merge_counted(&w, 65_000, &mut folds), (8, 6));
    }
}
