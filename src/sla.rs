//! The SLA clock of one ticket: per-priority calendar-time targets for first response and
//! resolution. A target is *met* when fulfilled by its deadline (counted at fulfilment) and
//! *breached* when the watermark passes the deadline unfulfilled (counted at the deadline by a
//! timer, never later when a late reply shows up).

use serde::{Deserialize, Serialize};

use crate::config::SlaConfig;
use crate::event::{Millis, Priority};

/// A kind of SLA target; the `target` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SlaTarget {
    FirstResponse,
    Resolution,
}

impl SlaTarget {
    pub const ALL: [SlaTarget; 2] = [SlaTarget::FirstResponse, SlaTarget::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first_response",
            SlaTarget::Resolution => "resolution",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Target durations per target and priority, in milliseconds.
#[derive(Debug, Clone)]
pub struct SlaTargets([[Option<Millis>; 4]; 2]);

impl SlaTargets {
    pub fn new(config: &SlaConfig) -> Self {
        let row = |t: &crate::config::PriorityTargets| {
            let mut row = [None; 4];
            for (slot, p) in row.iter_mut().zip(Priority::ALL) {
                *slot = t.get(*p).map(|d| d.as_millis() as Millis);
            }
            row
        };
        Self([row(&config.first_response), row(&config.resolution)])
    }

    fn get(&self, target: SlaTarget, priority: Priority) -> Option<Millis> {
        self.0[target.index()][Priority::ALL.iter().position(|p| *p == priority).unwrap_or(0)]
    }
}

/// Where one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TargetState {
    /// No target applies (no creation seen, or no target for the priority).
    #[default]
    Inactive,
    /// The clock runs; a timer is armed at `deadline`.
    Running { deadline: Millis },
    /// Fulfilled by the deadline.
    Met,
    /// The deadline passed first; `fulfilled` turns true when the overdue work is done.
    Breached { fulfilled: bool },
    /// The ticket was resolved without the target being fulfilled (e.g. solved without a
    /// reply): neither met nor breached.
    Cancelled,
}

/// A decided target, to be counted in the window of its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaOutcome {
    Met(SlaTarget),
    Breached(SlaTarget),
}

/// The targets of one ticket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SlaClock {
    states: [TargetState; 2],
}

impl SlaClock {
    pub fn state(&self, target: SlaTarget) -> TargetState {
        self.states[target.index()]
    }

    /// (Re)computes the deadlines of undecided targets from creation time and priority: at
    /// creation, and when the priority changes (the clock keeps counting from creation).
    /// Returns the deadlines that need a timer.
    pub fn set_targets(&mut self, created_at: Millis, priority: Priority, targets: &SlaTargets) -> Vec<(SlaTarget, Millis)> {
        let mut arm = Vec::new();
        for target in SlaTarget::ALL {
            let state = &mut self.states[target.index()];
            if matches!(state, TargetState::Inactive | TargetState::Running { .. }) {
                *state = match targets.get(target, priority) {
                    Some(duration) => {
                        let deadline = created_at + duration;
                        if *state != (TargetState::Running { deadline }) {
                            arm.push((target, deadline));
                        }
                        TargetState::Running { deadline }
                    }
                    None => TargetState::Inactive,
                };
            }
        }
        arm
    }

    /// The work the target measures was done at `at`.
    pub fn fulfil(&mut self, target: SlaTarget, at: Millis) -> Option<SlaOutcome> {
        let state = &mut self.states[target.index()];
        match *state {
            TargetState::Running { deadline } if at <= deadline => {
                *state = TargetState::Met;
                Some(SlaOutcome::Met(target))
            }
            // Only reachable by an event that arrived behind the watermark before its timer
            // fired; it is still a breach, counted now.
            TargetState::Running { .. } => {
                *state = TargetState::Breached { fulfilled: true };
                Some(SlaOutcome::Breached(target))
            }
            TargetState::Breached { fulfilled: false } => {
                *state = TargetState::Breached { fulfilled: true };
                None
            }
            _ => None,
        }
    }

    /// The ticket was resolved: a still-running target that resolution does not fulfil stops
    /// without an outcome.
    pub fn cancel(&mut self, target: SlaTarget) {
        let state = &mut self.states[target.index()];
        match *state {
            TargetState::Running { .. } => *state = TargetState::Cancelled,
            TargetState::Breached { fulfilled: false } => *state = TargetState::Breached { fulfilled: true },
            _ => {}
        }
    }

    /// A timer armed for `deadline` fired (the watermark passed it). Stale timers, for
    /// deadlines that moved or targets already decided, do nothing.
    pub fn on_deadline(&mut self, target: SlaTarget, deadline: Millis) -> Option<SlaOutcome> {
        let state = &mut self.states[target.index()];
        if *state == (TargetState::Running { deadline }) {
            *state = TargetState::Breached { fulfilled: false };
            return Some(SlaOutcome::Breached(target));
        }
        None
    }

    /// Breached and the overdue work is still not done: what "active breaches" counts.
    pub fn is_actively_breached(&self, target: SlaTarget) -> bool {
        self.state(target) == TargetState::Breached { fulfilled: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PriorityTargets;
    use std::time::Duration;

    fn targets() -> SlaTargets {
        let s = |n| Some(Duration::from_secs(n));
        SlaTargets::new(&SlaConfig {
            first_response: PriorityTargets { low: None, normal: s(3600), high: s(600), urgent: s(60) },
            resolution: PriorityTargets { low: None, normal: s(7200), high: s(7200), urgent: s(7200) },
        })
    }

    #[test]
    fn met_at_the_deadline_exactly() {
        let mut c = SlaClock::default();
        assert_eq!(
            c.set_targets(0, Priority::Normal, &targets()),
            [(SlaTarget::FirstResponse, 3_600_000), (SlaTarget::Resolution, 7_200_000)]
        );
        assert_eq!(c.fulfil(SlaTarget::FirstResponse, 3_600_000), Some(SlaOutcome::Met(SlaTarget::FirstResponse)));
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 3_600_000), None);
    }

    #[test]
    fn breach_by_timer_stays_breached_after_a_late_reply() {
        let mut c = SlaClock::default();
        c.set_targets(0, Priority::Normal, &targets());
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 3_600_000), Some(SlaOutcome::Breached(SlaTarget::FirstResponse)));
        assert!(c.is_actively_breached(SlaTarget::FirstResponse));
        assert_eq!(c.fulfil(SlaTarget::FirstResponse, 3_000_000), None);
        assert_eq!(c.state(SlaTarget::FirstResponse), TargetState::Breached { fulfilled: true });
        assert!(!c.is_actively_breached(SlaTarget::FirstResponse));
    }

    #[test]
    fn priority_change_moves_the_deadline_and_old_timers_go_stale() {
        let mut c = SlaClock::default();
        c.set_targets(0, Priority::Normal, &targets());
        // Raised to urgent: first response now due 60 s after creation; resolution unchanged.
        assert_eq!(c.set_targets(0, Priority::Urgent, &targets()), [(SlaTarget::FirstResponse, 60_000)]);
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 3_600_000), None);
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 60_000), Some(SlaOutcome::Breached(SlaTarget::FirstResponse)));
        // Lowered to a priority without first-response target: a decided target stays decided.
        c.set_targets(0, Priority::Low, &targets());
        assert!(c.is_actively_breached(SlaTarget::FirstResponse));
        assert_eq!(c.state(SlaTarget::Resolution), TargetState::Inactive);
    }

    #[test]
    fn solving_without_a_reply_cancels_first_response() {
        let mut c = SlaClock::default();
        c.set_targets(0, Priority::High, &targets());
        c.cancel(SlaTarget::FirstResponse);
        assert_eq!(c.fulfil(SlaTarget::Resolution, 5_000), Some(SlaOutcome::Met(SlaTarget::Resolution)));
        assert_eq!(c.state(SlaTarget::FirstResponse), TargetState::Cancelled);
        assert_eq!(c.on_deadline(SlaTarget::FirstResponse, 600_000), None);
    }
}
