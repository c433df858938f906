//! How a windowed KPI is declared: `kpis!` turns one entry per sample (its variant, the
//! slice fields it accumulates into, how it adds, and the families exported from the slice)
//! into [`super::Sample`], [`super::KpiSlice`] with its `add` and `merge`, the [`KPIS`] table
//! the exporter renders and the tests read, and the slice's layout fingerprint
//! ([`super::LAYOUT`]) that snapshots are checked against.
//!
//! A macro rather than a generic counter store (a vector of counters indexed by KPI): the
//! slice stays a struct of named fields, so the hot path adds to a field with no index or
//! bounds check, a slice allocates nothing until a sketch needs it, and snapshots keep the
//! bytes they had before. Adding a field changes those bytes; rather than reading an older
//! slice with the new KPI at zero (a ratio of a new and an old field would then be wrong for a
//! whole window), a snapshot of another layout is refused by name and the partition rebuilt
//! from its input, as after a configuration change that shapes state.
//!
//! [`KPIS`]: super::KPIS

use crate::window::Distribution;

/// A windowed KPI family: one series per window and dimension key (and per value of its own
/// labels), read from the key's slices merged over the window.
pub struct Kpi {
    pub name: &'static str,
    pub help: &'static str,
    /// Labels of its own, after `window` and the dimensions.
    pub labels: &'static [&'static str],
    pub read: Read,
    /// How its series of several instances combine into the fleet's.
    pub across: Across,
}

/// How a [`Kpi`] reads a merged slice; the variant is the metric type.
pub enum Read {
    /// A gauge; no series where the value is `None` (a ratio or mean without denominator).
    Gauge(fn(&super::KpiSlice) -> Option<f64>),
    /// A summary (quantiles, `_sum`, `_count`); no series without a sample.
    Summary(fn(&super::KpiSlice) -> &Distribution),
    /// Gauges under the family's own labels: the function hands each series' label values,
    /// in the order of [`Kpi::labels`], and value to `emit`.
    Split(for<'r> fn(&super::KpiSlice, &'r KpiLabels, emit: &mut Emit<'r, '_>)),
}

/// Takes one series of a [`Read::Split`] family: its own label values (static or borrowed
/// from the labels, `'r`) and its value.
pub type Emit<'r, 'e> = dyn FnMut(&[&'r str], f64) + 'e;

/// Label values from configuration that [`Read::Split`] families use, resolved once.
#[derive(Debug, Clone)]
pub struct KpiLabels {
    /// `wait` label values of the abandon wait buckets.
    pub wait: Vec<String>,
}

/// How the series of one family, with the same labels, on several instances (each holding
/// other partitions) combine into the value one instance holding every partition shows. For a
/// summary it is said of `_count` and `_sum`: quantiles never combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Across {
    /// Counts and sums: they add up.
    Sum,
    /// The largest over the instances (a maximum, an oldest age).
    Max,
    /// The smallest over the instances (the time to the next deadline).
    Min,
    /// Ratios, means and configured values: the fleet's value is not made of the instances'.
    Never,
}

/// A count, as a gauge value.
pub fn count(n: u64) -> Option<f64> {
    Some(n as f64)
}

/// `sum / n`, none without a denominator.
pub fn mean(sum: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| sum / n as f64)
}

/// `part / whole`, none without a denominator.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A total family as the catalogue declares it: derived from a windowed family that adds up
/// across instances (`derived`: named and described after it), or declared with `total`.
pub struct TotalDecl {
    /// The windowed family's name, or the total's name without `_total`.
    pub of: &'static str,
    pub help: &'static str,
    pub labels: &'static [&'static str],
    pub read: super::TotalRead,
    pub derived: bool,
}

/// The total of a windowed family: one for a family that adds up ([`Across::Sum`]), none for
/// the rest (ratios, means, maxima).
macro_rules! total_of {
    (Sum Gauge $family:literal $help:literal $labels:expr, $read:expr) => {
        Some($crate::kpi::TotalDecl {
            of: $family,
            help: $help,
            labels: $labels,
            read: $crate::kpi::TotalRead::Counter($read),
            derived: true,
        })
    };
    (Sum Split $family:literal $help:literal $labels:expr, $read:expr) => {
        Some($crate::kpi::TotalDecl {
            of: $family,
            help: $help,
            labels: $labels,
            read: $crate::kpi::TotalRead::Split($read),
            derived: true,
        })
    };
    // The same closure reads the totals' histogram and, on the bounds, the field's bounds.
    (Sum Summary $family:literal $help:literal $labels:expr, $read:expr) => {
        Some($crate::kpi::TotalDecl {
            of: $family,
            help: $help,
            labels: $labels,
            read: $crate::kpi::TotalRead::Histogram($read, $read),
            derived: true,
        })
    };
    ($across:ident $kind:ident $family:literal $help:literal $labels:expr, $read:expr) => {
        None
    };
}

/// The SLA target kinds whose targets bound a duration field's histogram (none when unsaid).
macro_rules! bucket_targets {
    () => {
        &[]
    };
    ($targets:expr) => {
        $targets
    };
}

/// Declares every windowed KPI, one entry per [`super::Sample`] variant:
///
/// ```text
/// /// Doc of the sample.
/// sample Name(binding: Type);        // or `sample Name;` or `sample Name { a: A, b: B };`
/// /// Doc of the field.
/// field name: Type;                  // any number: slice fields, merged by their `Aggregate`
/// field name: Distribution = buckets &[SlaTarget::X];   // its histogram's targets are bounds
/// add(slice) { ... }                 // how the sample adds into `slice` (bindings in scope)
/// family "ticketpulse_..." Gauge Sum: "help" = |s| ...;          // any number, exported
/// family "ticketpulse_..." Split["label"] Sum: "help" = |s, labels, emit| ...;
/// total "ticketpulse_..." Counter: "help" = |s| ...;             // a counter of its own
/// ```
///
/// Every `Sum` family is also an all-time total ([`super::totals`]): the `add` block and the
/// family's closure run again on [`super::KpiTotals`], the slice's fields as totals. A mean's
/// numerator, which no `Sum` family exports, is declared with `total`.
///
/// Fields are stored in declaration order: a change is a new snapshot layout
/// ([`super::LAYOUT`]), refused by name by older snapshots' readers and the reverse.
macro_rules! kpis {
    ($(
        $(#[$sample_doc:meta])*
        sample $variant:ident $(($binding:ident: $binding_ty:ty))? $({ $($name:ident: $name_ty:ty),* $(,)? })?;
        $($(#[$field_doc:meta])* field $field:ident: $field_ty:ty $(= buckets $targets:expr)?;)*
        add($slice:ident) $add:block
        $(family $family:literal $kind:ident $([$($label:literal),*])? $across:ident: $help:literal = $read:expr;)*
        $(total $total:literal $tkind:ident $([$($tlabel:literal),*])?: $thelp:literal = $tread:expr;)*
    )*) => {
        /// A KPI fact produced by a ticket, counted in the window slice of its time.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Sample {
            $($(#[$sample_doc])* $variant $(($binding_ty))? $({ $($name: $name_ty),* })?,)*
        }

        /// Everything one slice of one series knows.
        #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
        pub struct KpiSlice {
            $($($(#[$field_doc])* pub $field: $field_ty,)*)*
        }

        impl KpiSlice {
            pub fn add(&mut self, sample: Sample) {
                match sample {
                    $(Sample::$variant $(($binding))? $({ $($name),* })? => {
                        let $slice = &mut *self;
                        $add
                    })*
                }
            }
        }

        impl $crate::window::Aggregate for KpiSlice {
            fn merge(&mut self, other: &Self) {
                $($($crate::window::Aggregate::merge(&mut self.$field, &other.$field);)*)*
            }
        }

        /// Everything one key of one partition has counted since the partition's first event:
        /// the slice's fields as totals ([`super::totals::Accumulates`]).
        #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
        pub struct KpiTotals {
            $($($(#[$field_doc])* pub $field: <$field_ty as $crate::kpi::totals::Accumulates>::Total,)*)*
        }

        /// The bounds of each field's totals: a histogram's `le` bounds, nothing for a count.
        #[derive(Debug, Clone)]
        pub struct KpiTotalBounds {
            $($(pub $field: <<$field_ty as $crate::kpi::totals::Accumulates>::Total as $crate::kpi::totals::Settle>::Bounds,)*)*
        }

        impl KpiTotalBounds {
            pub fn new(config: &$crate::config::Config) -> Self {
                use $crate::sla::SlaTarget;
                Self {
                    $($($field: <<$field_ty as $crate::kpi::totals::Accumulates>::Total as $crate::kpi::totals::Settle>::bounds(
                        config,
                        $crate::kpi::declare::bucket_targets!($($targets)?),
                    ),)*)*
                }
            }
        }

        impl KpiTotals {
            /// The sample's `add` block, then its fields settled with their bounds.
            #[inline]
            pub fn add(&mut self, sample: Sample, bounds: &KpiTotalBounds) {
                match sample {
                    $(Sample::$variant $(($binding))? $({ $($name),* })? => {
                        let $slice = &mut *self;
                        $add
                        $($crate::kpi::totals::Settle::settle(&mut self.$field, &bounds.$field);)*
                    })*
                }
            }
        }

        /// Every windowed KPI family, in declaration order (`docs/metrics.md` lists them).
        pub const KPIS: &[$crate::kpi::Kpi] = &[
            $($($crate::kpi::Kpi {
                name: $family,
                help: $help,
                labels: &[$($($label),*)?],
                read: $crate::kpi::Read::$kind($read),
                across: $crate::kpi::Across::$across,
            },)*)*
        ];

        /// Every total family in declaration order: one per `Sum` family, and those declared.
        pub const TOTAL_DECLARATIONS: &[Option<$crate::kpi::TotalDecl>] = &[
            $(
                $($crate::kpi::declare::total_of!($across $kind $family $help &[$($($label),*)?], $read),)*
                $(Some($crate::kpi::TotalDecl {
                    of: $total,
                    help: $thelp,
                    labels: &[$($($tlabel),*)?],
                    read: $crate::kpi::TotalRead::$tkind($tread),
                    derived: false,
                }),)*
            )*
        ];

        /// The slice's fields and their types in order: what its snapshot bytes are made of.
        pub const LAYOUT: &str = concat!($($(stringify!($field), ": ", stringify!($field_ty), "; ",)*)*);
    };
}

pub(super) use {bucket_targets, kpis, total_of};
