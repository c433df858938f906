//! The consumer's context: librdkafka's callbacks and the rebalance, where an assigned
//! partition starts at its snapshot's offset and a revoked one is drained and snapshotted before
//! it is let go. Apart because it runs on librdkafka's terms, inside its poll.

use std::sync::Arc;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::base::PartitionId;
use crate::checkpoint::Checkpointer;
use crate::clock::WallClock;
use crate::config::OffsetReset;
use crate::engine::Engine;
use crate::internal_events::Telemetry;
use crate::kafka::ClientReports;

use super::workers::{Dispatcher, WorkerStopped};
use super::{Arrived, COMMITTED_TIMEOUT};

/// Keeps the engine, its snapshots and telemetry in step with the group's assignment.
pub struct SourceContext {
    /// librdkafka's log, errors and statistics, as the intake producer's.
    pub(super) reports: ClientReports,
    pub(super) engine: Arc<Engine>,
    /// The partition workers: a revoke drains them before the snapshot.
    pub(super) dispatcher: Dispatcher<Arrived>,
    pub(super) checkpoints: Arc<Checkpointer>,
    pub(super) telemetry: Arc<Telemetry>,
    /// Where a partition without a snapshot starts.
    pub(super) reset: OffsetReset,
    /// A restored partition's idle time counts from its restore on this clock.
    pub(super) clock: WallClock,
}

pub(super) fn partition_ids(list: &TopicPartitionList) -> Vec<PartitionId> {
    list.elements().iter().map(|e| (e.topic().to_string(), e.partition())).collect()
}

/// Every callback goes to the shared [`ClientReports`]; the context exists for `rebalance`.
impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.reports.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.reports.error(error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        self.reports.stats(statistics);
    }
}

impl SourceContext {
    /// Partitions that start without a usable snapshot rebuild their state from
    /// `auto_offset_reset`; what the group had committed was counted in the totals by the
    /// previous owner already, so their totals count from the committed offset on
    /// ([`Engine::count_totals_from`]). Without a committed offset (a new group) every message
    /// read counts. When the committed offsets cannot be read, the retained input is counted
    /// again, as Prometheus then shows: said in the log.
    fn count_totals_from_committed(&self, consumer: &BaseConsumer<Self>, partitions: &[PartitionId]) {
        if partitions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        match consumer.committed_offsets(list, COMMITTED_TIMEOUT) {
            Ok(committed) => {
                for element in committed.elements() {
                    let (topic, number) = (element.topic(), element.partition());
                    if let Err(error) = element.error() {
                        tracing::error!(%error, topic, partition = number, "could not read the group's committed offset: totals count the retained input again (a counter reset in Prometheus)");
                        continue;
                    }
                    if let Offset::Offset(offset) = element.offset() {
                        // A committed offset beyond the log's end (truncated or recreated topic,
                        // offsets reset by hand) is not where the previous owner got to in this
                        // log: every message read counts.
                        match consumer.fetch_watermarks(topic, number, COMMITTED_TIMEOUT) {
                            Ok((_, high)) if offset > high => {
                                tracing::warn!(
                                    topic,
                                    partition = number,
                                    offset,
                                    high,
                                    "the group's committed offset is beyond the end of the partition: totals count every message read"
                                );
                                continue;
                            }
                            Ok(_) => {}
                            Err(error) => tracing::warn!(%error, topic, partition = number, "could not read the partition's end offset"),
                        }
                        let partition = (topic.to_string(), number);
                        tracing::info!(
                            topic,
                            partition = number,
                            offset,
                            "no usable snapshot: state is rebuilt from kafka.auto_offset_reset; totals count from the group's committed offset"
                        );
                        self.engine.count_totals_from(&partition, offset);
                    }
                }
            }
            Err(error) => tracing::error!(
                %error,
                ?partitions,
                "could not read the group's committed offsets: totals count the retained input again (a counter reset in Prometheus)"
            ),
        }
    }
}

impl ConsumerContext for SourceContext {
    /// Replaces rdkafka's default so that assigned partitions start at their snapshot's
    /// offset and revoked ones are snapshotted before they are let go.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let partitions = partition_ids(tpl);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let mut unrestored = Vec::new();
                for (topic, partition) in &partitions {
                    let offset = match self.checkpoints.restore(&(topic.clone(), *partition), self.clock.now()) {
                        Some(offset) => Offset::Offset(offset),
                        None => {
                            unrestored.push((topic.clone(), *partition));
                            match self.reset {
                                OffsetReset::Earliest => Offset::Beginning,
                                OffsetReset::Latest => Offset::End,
                            }
                        }
                    };
                    if let Err(error) = tpl.set_partition_offset(topic, *partition, offset) {
                        tracing::error!(%error, topic, partition, "could not set the start offset");
                    }
                }
                self.count_totals_from_committed(consumer, &unrestored);
                self.telemetry.partitions_assigned(&partitions);
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                // A panicked worker's partitions are dropped here; the consumer loop sees it stopped.
                let _ = self.drain(Some(&partitions));
                self.checkpoints.checkpoint(Some(&partitions), true);
                self.checkpoints.forget(&partitions);
                self.engine.revoke(&partitions);
                self.telemetry.partitions_revoked(&partitions);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => Err(KafkaError::Rebalance(other.into())),
        };
        if let Err(error) = result {
            tracing::error!(%error, "rebalance failed");
        }
    }
}

impl SourceContext {
    /// Waits until what was dispatched for `partitions` (all, when `None`) is handled. Those
    /// a panicked worker owned are dropped, not snapshotted: the panic may have left their
    /// state half-changed, and their last snapshot re-reads what came after it exactly.
    pub(super) fn drain(&self, partitions: Option<&[PartitionId]>) -> Result<(), WorkerStopped> {
        let drained = match partitions {
            Some(partitions) => self.dispatcher.drain(partitions),
            None => self.dispatcher.drain_all(),
        };
        drained.inspect_err(|stopped| {
            tracing::error!(partitions = ?stopped.partitions, "a partition worker panicked; its partitions are dropped unsnapshotted");
            self.checkpoints.forget(&stopped.partitions);
            self.engine.revoke(&stopped.partitions);
        })
    }
}
