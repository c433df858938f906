//! The window families, listed once (`families!` below): for each, a partition keeps its
//! windows ([`WindowFamilies`]), records every [`Fact`] into them, prunes them, captures them
//! (a clone) and stores them in snapshots in list order; a scrape reads their slices under the
//! lock ([`WindowReading`]) and merges them after it ([`WindowView`], from [`ViewFolds`]).
//! A new family is a [`Family`] (its slice, key and recording) and one line of the list.
//! Everything here is generated per family: no dynamic dispatch on the hot path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agent::AgentSlice;
use crate::base::Millis;
use crate::config::Config;
use crate::dimensions::DimKey;
use crate::kpi::{ActiveAgents, Fact, Family, KpiSlice, SlaSlice};
use crate::topic::TopicSlice;
use crate::window::{Folds, Slices, WindowSpec, Windows};

macro_rules! families {
    ($($(#[$doc:meta])* $name:ident: $slice:ty,)*) => {
        /// Each family's recording settings ([`Family::Rules`]).
        #[derive(Debug)]
        pub struct FamilyRules {
            $(pub $name: <$slice as Family>::Rules,)*
        }

        impl FamilyRules {
            pub fn new(config: &Config) -> Self {
                Self { $($name: <$slice as Family>::rules(config),)* }
            }
        }

        /// A partition's windows of every family. Stored in snapshots as its fields in list
        /// order (a family's place in the list is part of the snapshot layout).
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct WindowFamilies {
            $($(#[$doc])* pub $name: Windows<<$slice as Family>::Key, $slice>,)*
        }

        impl WindowFamilies {
            pub fn new(specs: &[WindowSpec]) -> Self {
                Self { $($name: Windows::new(specs.to_vec()),)* }
            }

            /// What one event or timer produced, into every family's windows.
            #[inline]
            pub fn record(&mut self, rules: &FamilyRules, fact: &Fact<'_>) {
                $(<$slice as Family>::record(&mut self.$name, &rules.$name, fact);)*
            }

            /// Forgets series with no slice left in any window at `now`.
            pub fn prune(&mut self, now: Millis) {
                $(self.$name.prune(now);)*
            }

            /// Takes every family's slices at stream time `now` (references, no copy).
            pub fn read_into(&self, now: Millis, out: &mut WindowReading) {
                $(self.$name.read_into(now, &mut out.$name);)*
            }
        }

        /// Every family's slices as a scrape took them under the partitions' locks.
        #[derive(Debug, Default)]
        pub struct WindowReading {
            $($name: BTreeMap<(usize, <$slice as Family>::Key), Slices<$slice>>,)*
        }

        impl WindowReading {
            /// Merges every series' slices, reusing and keeping `folds` ([`Folds::merge`]).
            pub fn merge(self, folds: &mut ViewFolds) -> WindowView {
                WindowView { $($name: folds.$name.merge(self.$name),)* }
            }
        }

        /// The [`Folds`] of every family, kept by whoever merges [`WindowReading`]s one after another.
        #[derive(Debug, Default)]
        pub struct ViewFolds {
            $($name: Folds<(usize, <$slice as Family>::Key), $slice>,)*
        }

        /// Every family's series merged over each window: by window index, then key.
        #[derive(Debug, Default)]
        pub struct WindowView {
            $($(#[$doc])* pub $name: BTreeMap<(usize, <$slice as Family>::Key), $slice>,)*
        }

        impl WindowView {
            /// The dimension keys of every family's series ([`Family::dims`]).
            pub fn dim_keys(&self) -> impl Iterator<Item = DimKey> + '_ {
                std::iter::empty()$(.chain(self.$name.keys().filter_map(|(_, key)| <$slice as Family>::dims(key))))*
            }
        }
    };
}

families! {
    /// Volume, responses, resolutions, abandons, surveys, workload: by dimensions.
    kpi: KpiSlice,
    /// SLA outcomes and business times: by dimensions and policy.
    sla: SlaSlice,
    /// Tickets created by topic (no dimensions: topics × dimensions would be too many series).
    topic: TopicSlice,
    /// Per-agent facts (no dimensions either), recorded only when `kpis.agents` is enabled.
    agent: AgentSlice,
    /// Distinct active agents by queue (channel and team), recorded only when `kpis.staffing`
    /// is enabled.
    active: ActiveAgents,
}
