//! The answer of `GET /api/v1/tickets` as JSON: what a scan found, sorted, with names resolved.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::base::rfc3339;
use crate::engine::Rules;
use crate::sla::SlaTarget;

use super::scan::{order, Found};
use super::Query;

impl Found {
    /// Sorts the items and resolves their names (after the partitions' locks are released).
    pub fn answer(mut self, rules: &Rules, query: &Query) -> Answer {
        self.rows.sort_by(|a, b| {
            order(&a.ticket_id, a.target, a.to_deadline, a.share.created_at).cmp(&order(
                &b.ticket_id,
                b.target,
                b.to_deadline,
                b.share.created_at,
            ))
        });
        let policies = &rules.ticket.policies;
        let catalog = &rules.ticket.catalog;
        let items = self
            .rows
            .into_iter()
            .map(|row| Item {
                policy: row.share.policy.map(|p| policies.name(p).to_string()),
                target: row.target.map(SlaTarget::as_str),
                state: row.state.as_str(),
                at_risk: row.at_risk,
                deadline: row.deadline.map(rfc3339),
                seconds_to_deadline: row.to_deadline.map(|ms| ms as f64 / 1000.0),
                dimensions: Labels(catalog.labels(catalog.key(row.share.dims))),
                status: row.share.status.as_str(),
                created_at: rfc3339(row.share.created_at),
                waiting_since: row.share.waiting_since.map(rfc3339),
                last_agent: row.last_agent,
                ticket_id: row.ticket_id,
            })
            .collect();
        Answer {
            read_at: self.read_at.map(rfc3339),
            partitions: self
                .partitions
                .into_iter()
                .map(|((topic, partition), now)| PartitionRead { topic, partition, current_time: rfc3339(now) })
                .collect(),
            horizon: query.horizon.map(|i| policies.horizons()[i].0.clone()),
            total: self.total,
            limit: query.limit,
            items,
        }
    }
}

/// The answer of `GET /api/v1/tickets`.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The wall-clock time of the read; `null` without a wall clock (then each partition is
    /// read at its stream time).
    pub read_at: Option<String>,
    /// The partitions this instance owns, each read at its own current time.
    pub partitions: Vec<PartitionRead>,
    /// The horizon `at_risk` was judged by (a label of `sla.at_risk_horizons`).
    pub horizon: Option<String>,
    /// Items that matched, before the limit.
    pub total: usize,
    pub limit: usize,
    pub items: Vec<Item>,
}

/// One partition of an answer.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionRead {
    pub topic: String,
    pub partition: i32,
    /// The partition's current time, which its items' `state` and `seconds_to_deadline` are
    /// relative to.
    pub current_time: String,
}

/// One SLA target of an open ticket, or an open ticket no policy matches.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub ticket_id: String,
    /// `null` for `unmatched`.
    pub policy: Option<String>,
    /// `first_response`, `next_reply` or `resolution`; `null` for `unmatched`.
    pub target: Option<&'static str>,
    /// `breached`, `running`, `paused` or `unmatched`: the gauge that counts the item.
    pub state: &'static str,
    /// Running and due within the answer's `horizon`: counted in the at-risk gauge too.
    pub at_risk: bool,
    /// The deadline running towards, or the one that passed; `null` while paused, unmatched,
    /// or for a breach restored from a snapshot older than this field.
    pub deadline: Option<String>,
    /// From the partition's current time to the deadline; negative when overdue.
    pub seconds_to_deadline: Option<f64>,
    /// The dimensions that are labels, with the metrics' bounded values.
    pub dimensions: Labels,
    pub status: &'static str,
    pub created_at: String,
    /// The oldest customer message not yet answered by a public agent message.
    pub waiting_since: Option<String>,
    /// The `agent_id` of the last public agent message; `null` when it carried none (or
    /// there was none).
    pub last_agent: Option<String>,
}

/// Label pairs in the configured order, as a JSON object.
#[derive(Debug, Clone)]
pub struct Labels(pub Vec<(&'static str, String)>);

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
