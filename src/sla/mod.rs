//! The SLA clock: policies (which targets apply to a ticket) and the clocks of one ticket's
//! targets. `docs/sla.md` describes the same for users.
//!
//! Every ticket runs three clocks whether or not a policy gives them a target: first response
//! (creation → first public human agent reply, never paused), next reply (oldest unanswered
//! customer message → next public agent reply, one instance per cycle) and resolution
//! (creation → solved, continued from where it stood after a reopen). Next reply and
//! resolution stop while the ticket is in a pause status. A clock counts business time in the
//! calendar of the ticket's policy (calendar time without a policy). The policy only decides
//! whether a clock has a deadline; so a re-matched ticket keeps each clock's start, its elapsed
//! time and its pauses, and takes the new target's deadline.
//!
//! A target is *met* when fulfilled by its deadline (counted at fulfilment) and *breached* when
//! the watermark passes the deadline unfulfilled (counted by the deadline timer, never later
//! when a late reply shows up). A target stopped by a solve it does not measure, or by an
//! abandon that ends the contact, is neither.
//!
//! Parts: this file holds the targets and what deciding one produces; `policy` compiles the
//! policies and matches a ticket to one; `clock` holds one ticket's clocks; `classify` the one
//! classification of a target at an instant, shared by the gauges and the tickets API.

mod classify;
mod clock;
mod policy;

use serde::{Deserialize, Serialize};

pub use classify::{AsOf, TargetGauge, TargetState};
pub use clock::{SlaClock, SlaSeed};
pub use policy::{MatchFields, MatchKey, PolicyId, SlaPolicies};

/// A kind of SLA target; the `target` metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SlaTarget {
    FirstResponse,
    NextReply,
    Resolution,
}

impl SlaTarget {
    pub const ALL: [SlaTarget; 3] = [SlaTarget::FirstResponse, SlaTarget::NextReply, SlaTarget::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaTarget::FirstResponse => "first_response",
            SlaTarget::NextReply => "next_reply",
            SlaTarget::Resolution => "resolution",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
/// A decided target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaOutcome {
    Met,
    Breached,
}

/// An SLA fact for the windows of its time: an outcome and/or the business time a fulfilled
/// target took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaSample {
    pub policy: PolicyId,
    pub target: SlaTarget,
    pub outcome: Option<SlaOutcome>,
    /// Business seconds from the target's start to its fulfilment, pauses excluded.
    pub business_seconds: Option<f64>,
}

/// What SLA processing produced. (Deadlines are state: the engine reads the next one with
/// [`SlaClock::next_deadline`].)
#[derive(Debug, Default)]
pub struct SlaEffects {
    pub samples: Vec<SlaSample>,
}

impl SlaEffects {
    pub fn clear(&mut self) {
        self.samples.clear();
    }
}
