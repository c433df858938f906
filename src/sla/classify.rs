//! The one classification of a target at an instant: where its clock stands
//! ([`TargetGauge`]) read as running, paused, breached or at risk by [`AsOf`]. Apart because
//! the gauges and the tickets API both read it, and must agree.

use crate::base::Millis;

/// Where a target stands, as the current gauges see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetGauge {
    /// Running towards `deadline`.
    Running(Millis),
    Paused,
    /// Breached and the overdue work is still not done.
    Breached,
}

/// Where an open ticket's SLA target stands at an instant ([`AsOf::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Its clock runs and its deadline is still ahead.
    Running,
    /// Its clock is stopped by a pause status.
    Paused,
    /// Its deadline passed and the overdue work is not done: the timer declared it, or the
    /// deadline is before the instant (the timer declares it, and the windowed count takes it,
    /// once the watermark passes it too).
    Breached,
}

/// The one classification of SLA targets at the instant `.0` (a partition's current time):
/// breached (overdue), at risk within a horizon, running. The gauges count multisets of
/// deadlines by its ranges (`engine::Gauges::read_into`); the tickets API classifies each ticket's
/// targets with [`AsOf::state`] and [`AsOf::at_risk`], which read the same ranges, so both
/// always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf(pub Millis);

impl AsOf {
    /// Running deadlines already passed: breached as of now.
    pub fn overdue(self) -> std::ops::RangeTo<Millis> {
        ..self.0
    }

    /// Running deadlines not yet passed: running.
    pub fn ahead(self) -> std::ops::RangeFrom<Millis> {
        self.0..
    }

    /// Running deadlines due within `horizon`: at risk (and running).
    pub fn due_within(self, horizon: Millis) -> std::ops::RangeInclusive<Millis> {
        self.0..=self.0.saturating_add(horizon)
    }

    /// Where one target stands.
    pub fn state(self, gauge: TargetGauge) -> TargetState {
        match gauge {
            TargetGauge::Running(deadline) if self.overdue().contains(&deadline) => TargetState::Breached,
            TargetGauge::Running(_) => TargetState::Running,
            TargetGauge::Paused => TargetState::Paused,
            TargetGauge::Breached => TargetState::Breached,
        }
    }

    /// Whether one target is at risk within `horizon`: running and due within it.
    pub fn at_risk(self, gauge: TargetGauge, horizon: Millis) -> bool {
        matches!(gauge, TargetGauge::Running(deadline) if self.due_within(horizon).contains(&deadline))
    }
}
