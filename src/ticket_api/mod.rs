//! The tickets behind a number: `GET /api/v1/tickets` (JSON) and the `/tickets` page
//! ([`page`]) list the open tickets the current SLA gauges count. Prometheus must not carry
//! ticket ids, so ticketpulse serves them itself, from the same state and at the same instant
//! as the gauges: each ticket's gauge share, classified by [`crate::sla::AsOf`] at its
//! partition's current time as the gauges are. So for every (policy, target, dimensions) the
//! `breached` items are exactly `ticketpulse_sla_breached_open_tickets`, the `at_risk` items of a horizon
//! `ticketpulse_sla_at_risk_targets`, and `running`, `paused`, `unmatched` their gauges.
//!
//! A read scans every ticket, one partition at a time under its lock (the others keep consuming),
//! keeping only what passes the filters and at most `limit` items (a bounded heap); names,
//! sorting and rendering come after. Reads take turns, so at most one scan waits for the engine.
//!
//! The parts: `query` parses and filters, `scan` reads the partitions, `answer` is the JSON
//! answer, `routes` the axum handlers; [`page`] renders the answer as HTML.

mod answer;
pub mod page;
mod query;
mod routes;
mod scan;

pub use answer::{Answer, Item, Labels, PartitionRead};
pub use query::{BadParameter, Query};
pub use routes::{Api, INDEX};
pub use scan::{scan, Found};

use crate::sla::TargetState;

/// Where a target stands as the gauges count it ([`TargetState`]), or an open ticket no policy matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketState {
    /// Its deadline passed and the work is not done (the timer fired, or the deadline is
    /// before the partition's current time).
    Breached,
    /// Running towards a deadline still ahead.
    Running,
    /// Stopped by a pause status.
    Paused,
    /// No SLA policy matches the ticket.
    Unmatched,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Breached => "breached",
            TicketState::Running => "running",
            TicketState::Paused => "paused",
            TicketState::Unmatched => "unmatched",
        }
    }
}

impl From<TargetState> for TicketState {
    fn from(state: TargetState) -> Self {
        match state {
            TargetState::Breached => TicketState::Breached,
            TargetState::Running => TicketState::Running,
            TargetState::Paused => TicketState::Paused,
        }
    }
}
