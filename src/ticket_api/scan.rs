//! The scan: every ticket of every partition, one partition under its lock at a time, kept
//! when the query selects it, classified as the gauges classify it.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::base::{Millis, PartitionId};
use crate::dimensions::DimKey;
use crate::engine::Engine;
use crate::sla::{AsOf, SlaTarget, TargetGauge};
use crate::ticket::GaugeShare;

use super::{Query, TicketState};

/// How items sort: those with a deadline first, most overdue then soonest due (milliseconds
/// to the deadline); then the rest by creation, oldest first; ties by id, then target.
pub(super) type Order<'a> = (bool, Millis, &'a str, usize);

pub(super) fn order(ticket_id: &str, target: Option<SlaTarget>, to_deadline: Option<Millis>, created_at: Millis) -> Order<'_> {
    (to_deadline.is_none(), to_deadline.unwrap_or(created_at), ticket_id, target.map_or(SlaTarget::ALL.len(), SlaTarget::index))
}

/// A matching item, copied out of its partition (the heap outlives each partition's lock).
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) ticket_id: String,
    pub(super) share: GaugeShare,
    pub(super) target: Option<SlaTarget>,
    pub(super) state: TicketState,
    pub(super) at_risk: bool,
    pub(super) deadline: Option<Millis>,
    pub(super) to_deadline: Option<Millis>,
    pub(super) last_agent: Option<String>,
}

impl Row {
    fn order(&self) -> Order<'_> {
        order(&self.ticket_id, self.target, self.to_deadline, self.share.created_at)
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Row {}

impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Row {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}

/// What a scan found: at most `limit` items, unsorted, with no names resolved.
#[derive(Debug)]
pub struct Found {
    pub(super) read_at: Option<Millis>,
    /// The partitions read and the current time each was read at.
    pub(super) partitions: Vec<(PartitionId, Millis)>,
    pub(super) total: usize,
    pub(super) rows: Vec<Row>,
}

/// Scans every ticket of `engine`, one partition at a time under that partition's lock only (as a
/// scrape reads), and keeps the items `query` selects, classified exactly as the gauges read them: each partition at its current
/// time (`wall`: the live service's wall clock, see [`crate::engine::Partition::current_time`]),
/// a running target whose deadline is before it breached, one due within the horizon from it
/// at risk. Allocates only the heap of at most `limit + 1` items (an id is copied only when its
/// item enters the heap) and one flag per distinct dimensions key when dimensions are filtered.
pub fn scan(engine: &Engine, wall: Option<Millis>, query: &Query) -> Found {
    let rules = engine.rules();
    let policies = &rules.ticket.policies;
    let catalog = &rules.ticket.catalog;
    let horizon = query.horizon.map(|i| policies.horizons()[i].1);
    let mut heap: BinaryHeap<Row> = BinaryHeap::with_capacity(query.limit + 1);
    let mut dimensions_match: HashMap<DimKey, bool> = HashMap::new();
    let mut total = 0;
    let mut partitions = Vec::new();
    for (id, lane) in engine.lanes().iter() {
        // One partition locked at a time: the others go on consuming while this one is read.
        let partition = crate::lock(lane);
        // As the gauges: a partition without a current time has nothing to count.
        let Some(now) = partition.current_time(wall) else { continue };
        partitions.push((id.clone(), now));
        for (ticket_id, ticket) in partition.tickets() {
            let Some(share) = ticket.gauge_share(policies) else { continue };
            // The cheap tests first: policy (an unmatched ticket has neither policy nor target).
            let wanted = match share.policy {
                Some(policy) => query.policy.is_none_or(|p| p == policy),
                None => query.policy.is_none() && query.target.is_none() && query.wants(TicketState::Unmatched, false),
            };
            if !wanted || query.agent.as_deref().is_some_and(|a| ticket.last_agent() != Some(a)) {
                continue;
            }
            if !query.dimensions.is_empty() {
                let key = catalog.key(share.dims);
                if !*dimensions_match.entry(key).or_insert_with(|| query.matches_labels(&catalog.labels(key))) {
                    continue;
                }
            }
            let mut keep = |target, state, at_risk, deadline: Option<Millis>| {
                total += 1;
                let to_deadline = deadline.map(|d| d - now);
                // Full, and this one would be dropped at once: skip the copy and the push.
                let rank = order(ticket_id, target, to_deadline, share.created_at);
                if heap.len() >= query.limit && heap.peek().is_none_or(|last| rank >= last.order()) {
                    return;
                }
                heap.push(Row {
                    ticket_id: ticket_id.to_string(),
                    share,
                    target,
                    state,
                    at_risk,
                    deadline,
                    to_deadline,
                    last_agent: ticket.last_agent().map(String::from),
                });
                if heap.len() > query.limit {
                    heap.pop();
                }
            };
            if share.policy.is_none() {
                keep(None, TicketState::Unmatched, false, None);
                continue;
            }
            for (target, gauge) in SlaTarget::ALL.into_iter().zip(share.targets) {
                if query.target.is_some_and(|t| t != target) {
                    continue;
                }
                let Some(gauge) = gauge else { continue };
                // Classified as the gauges classify it.
                let state = TicketState::from(AsOf(now).state(gauge));
                let at_risk = horizon.is_some_and(|h| AsOf(now).at_risk(gauge, h));
                let deadline = match gauge {
                    TargetGauge::Running(deadline) => Some(deadline),
                    TargetGauge::Paused => None,
                    TargetGauge::Breached => ticket.sla.deadline(target),
                };
                if query.wants(state, at_risk) {
                    keep(Some(target), state, at_risk, deadline);
                }
            }
        }
    }
    Found { read_at: wall, partitions, total, rows: heap.into_vec() }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::engine::Rules;
    use crate::internal_events::Telemetry;

    fn rules() -> Rules {
        Rules::new(&Config::default()).unwrap()
    }

    /// A read holds one partition's lock at a time. With the last partition held elsewhere (a
    /// worker mid-batch), the read waits there while the first, already read, consumes again.
    /// Before, a read took every partition's lock up front and held the first while it waited.
    #[test]
    fn a_read_holds_one_partition_lock_at_a_time() {
        let engine = Arc::new(Engine::new(rules(), Arc::new(Telemetry::default())));
        for p in 0..3 {
            // The second event moves the watermark (10 s of allowed lateness) past the first.
            for (id, at) in [("T", "10:00"), ("U", "10:05")] {
                let created = format!(
                    r#"{{"event_id":"{id}{p}","ticket_id":"{id}{p}","type":"ticket_created","at":"2026-01-05T{at}:00Z","channel":"email"}}"#
                );
                engine.handle(&("tickets".to_string(), p), created.as_bytes(), None, &"test").unwrap();
            }
        }
        let lanes = engine.lanes();
        let (first, last) = (&lanes[0].1, &lanes[2].1);
        let held = crate::lock(last);
        let reader = {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let query = Query::parse(Some("state=unmatched,running,paused,breached"), engine.rules()).unwrap();
                let found = scan(&engine, None, &query);
                (found.partitions.len(), found.total)
            })
        };
        // Gives the reader time to pass the first two partitions and wait on the last. (On a
        // stalled machine the reader may not have started: then this passes without proving.)
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(first.try_lock().is_ok(), "the read holds a partition it has finished with");
        assert!(!reader.is_finished(), "the read must wait for the held partition");
        drop(held);
        // 3 partitions, each with one normal email ticket applied (T, created 10:00, not
        // answered; U waits in the reorder buffer). The default policy "normal" has first
        // response (8h) and resolution (72h) running for it, next reply not started, neither
        // overdue at its partition's time (10:05): 2 items a ticket.
        assert_eq!(reader.join().unwrap(), (3, 6));
    }
}
