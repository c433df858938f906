//! `ticketpulse intake seed` (docs/intake.md#seeding): the tickets a help desk already holds,
//! read page by page from its API and produced as `ticket_snapshot` events, keyed by ticket id
//! with the ids the webhooks give the same ticket, so `run` starts from the desk as it stands.
//!
//! One page at a time: read (within `intake.seed.max_response_bytes` and
//! `intake.seed.request_timeout`; 429 and 5xx retried up to `intake.seed.max_retries` times,
//! waiting `Retry-After` up to `intake.seed.max_retry_wait`) → mapped with the webhooks' value
//! mappings → produced and acknowledged → the position after it written to the cursor file
//! (atomically). A crash re-sends at most the page it was on, and its event ids are stable
//! (ticket id and the vendor's update time), so `run` counts a re-sent snapshot once.
//!
//! Vendor shapes (cited in the fixtures' README, tests/fixtures/seed/README.md):
//! - Zendesk: the cursor-based incremental ticket export,
//!   `GET /api/v2/incremental/tickets/cursor.json?start_time=..|cursor=..` answering `tickets`,
//!   `after_cursor`, `end_of_stream`, with the ticket metrics sideloaded
//!   (`include=metric_sets`: `ticket_id`, `reply_time_in_minutes.calendar`, `solved_at`,
//!   `requester_updated_at`, `assignee_updated_at`). 10 requests a minute; a 429 carries
//!   `Retry-After` in seconds.
//! - Chatwoot: `GET /api/v1/accounts/{account_id}/conversations?status=..&page=N`, answering
//!   `data.payload` (the conversation partial: `id` = display id, `created_at` in Unix
//!   seconds, `status`, `priority`, `inbox_id`, `meta.channel`, `meta.team`,
//!   `first_reply_created_at` and `waiting_since`, both `0` when unset, `updated_at` in
//!   fractional seconds), an empty payload after the last page. Rack::Attack throttles at 3000
//!   requests a minute per IP by default (`RACK_ATTACK_LIMIT`), answering 429.
//!
//! Here: the run, page by page; `snapshot.rs` maps a vendor's ticket, `api.rs` reads the API,
//! `cursor.rs` keeps the position.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mapping::{at, Unreadable};
use super::producer::Producer;
use super::Source;
use crate::base::Millis;
use crate::config::{ChatwootIntakeConfig, Config, SeedConfig, ZendeskIntakeConfig};
use crate::event;
use crate::internal_events::Telemetry;

mod api;
mod cursor;
mod snapshot;

use api::Api;
use cursor::{read_cursor, remove_cursor, write_cursor};

pub use api::retry_wait;
pub(crate) use snapshot::chatwoot_snapshot;
pub use snapshot::zendesk_snapshot;

/// What `intake seed` was asked to do.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub source: Source,
    /// Where the position after the last page produced is kept; none: start from the top and
    /// keep nothing.
    pub cursor_file: Option<PathBuf>,
    /// Zendesk: tickets updated at or after this instant (`start_time`), when no cursor is kept.
    pub since: Millis,
    /// Zendesk: also tickets that are solved or closed (a daily run then reconciles solves
    /// whose webhook was missed); without it only new, open, pending and on-hold tickets.
    pub include_solved: bool,
}

/// What a seed did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Pages read and acknowledged.
    pub pages: u64,
    /// Snapshots the broker acknowledged.
    pub produced: u64,
    /// Tickets left out: a status not mapped (deleted), or solved without `--include-solved`.
    pub skipped: u64,
    /// Tickets that could not be read (no id, no creation time): logged and left out.
    pub unreadable: u64,
}

/// One `ticket_snapshot`, ready to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The ticket id: the Kafka key.
    pub key: String,
    pub payload: String,
}

/// Where the next run starts: written after each page's snapshots are acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase", deny_unknown_fields)]
pub enum Cursor {
    /// Zendesk's `after_cursor` of the last page produced. Kept after the end of the stream:
    /// the next run exports only what changed since.
    Zendesk { after_cursor: String },
    /// The next Chatwoot page to read. Removed once every status is read: the next run
    /// starts over (Chatwoot has no change feed).
    Chatwoot { status: String, page: u32 },
}

/// The Chatwoot statuses read, in order: the open conversations (snoozed is on hold).
pub(crate) const CHATWOOT_STATUSES: [&str; 3] = ["open", "pending", "snoozed"];

/// One page read and mapped.
struct Page {
    snapshots: Vec<Snapshot>,
    skipped: u64,
    unreadable: u64,
    /// The position after it; `None`: the last page (for Chatwoot, the cursor file is removed).
    next: Option<Cursor>,
    /// Zendesk's end of stream: the last page, whose cursor is still kept.
    last: bool,
}

/// Reads `options.source`'s open tickets page by page and produces their snapshots to
/// `intake.topic`. `now` dates each snapshot (`at`: when its page was read).
pub async fn seed(config: &Config, options: &SeedOptions, now: &(dyn Fn() -> Millis + Sync)) -> anyhow::Result<Seeded> {
    let api = Api::new(config, options.source)?;
    let producer = Producer::new(config, Arc::new(Telemetry::default()))?;
    let mut cursor = match &options.cursor_file {
        Some(path) => read_cursor(path, options.source)?,
        None => None,
    };
    if let Some(cursor) = &cursor {
        tracing::info!(?cursor, "intake seed: resuming from the cursor file");
    }
    let mut seeded = Seeded::default();
    let limits = config.parse_limits();
    loop {
        let page = match options.source {
            Source::Zendesk => zendesk_page(&api, &config.intake.zendesk, &config.intake.seed, options, cursor.as_ref(), now).await?,
            Source::Chatwoot => chatwoot_page(&api, &config.intake.chatwoot, cursor.as_ref(), now).await?,
        };
        // The engine's own parser guards what leaves, as for webhooks: a snapshot the contract
        // refuses (a vendor time out of order, say) is left out and counted, never produced.
        let mut records: Vec<(&str, &str)> = Vec::with_capacity(page.snapshots.len());
        for snapshot in &page.snapshots {
            match event::parse(snapshot.payload.as_bytes(), &limits, None) {
                Ok(_) => records.push((snapshot.key.as_str(), snapshot.payload.as_str())),
                Err(invalid) => {
                    seeded.unreadable += 1;
                    tracing::warn!(reason = invalid.reason.as_str(), detail = %invalid.detail, "intake seed: a snapshot the event contract refuses is left out");
                }
            }
        }
        producer.send_records(&records).await.context("intake seed: producing a page's snapshots")?;
        seeded.pages += 1;
        seeded.produced += records.len() as u64;
        seeded.skipped += page.skipped;
        seeded.unreadable += page.unreadable;
        tracing::info!(page = seeded.pages, produced = records.len(), skipped = page.skipped, "intake seed: page produced");
        if let Some(path) = &options.cursor_file {
            match &page.next {
                Some(next) => write_cursor(path, next)?,
                None => remove_cursor(path)?,
            }
        }
        match page.next {
            Some(next) if !page.last => cursor = Some(next),
            _ => break,
        }
    }
    tracing::info!(
        pages = seeded.pages,
        produced = seeded.produced,
        skipped = seeded.skipped,
        unreadable = seeded.unreadable,
        "intake seed: done"
    );
    Ok(seeded)
}

async fn zendesk_page(
    api: &Api,
    config: &ZendeskIntakeConfig,
    seed: &SeedConfig,
    options: &SeedOptions,
    cursor: Option<&Cursor>,
    now: &(dyn Fn() -> Millis + Sync),
) -> anyhow::Result<Page> {
    let from = match cursor {
        Some(Cursor::Zendesk { after_cursor }) => format!("cursor={}", encode(after_cursor)),
        _ => format!("start_time={}", options.since.max(0) / 1000),
    };
    let path =
        format!("/api/v2/incremental/tickets/cursor.json?{from}&per_page={}&include=metric_sets&exclude_deleted=true", seed.page_size);
    let body = api.get(&path).await?;
    let read_at = now();
    let tickets = body.get("tickets").and_then(Value::as_array).ok_or_else(|| anyhow!("{path}: no `tickets` list in the answer"))?;
    let metric_sets = body.get("metric_sets").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let metrics: HashMap<String, &Value> =
        metric_sets.iter().filter_map(|m| Some((at(m, &["ticket_id"]).and_then(super::mapping::id_text)?, m))).collect();
    let mut page = Page { snapshots: Vec::new(), skipped: 0, unreadable: 0, next: None, last: false };
    for ticket in tickets {
        let id = at(ticket, &["id"]).and_then(super::mapping::id_text);
        let metric_set = id.as_ref().and_then(|id| metrics.get(id).copied());
        page.add(zendesk_snapshot(ticket, metric_set, config, read_at, options.include_solved));
    }
    page.last = body.get("end_of_stream").and_then(Value::as_bool).unwrap_or(false);
    match body.get("after_cursor").and_then(Value::as_str) {
        Some(after) if !after.is_empty() => page.next = Some(Cursor::Zendesk { after_cursor: after.to_string() }),
        // The end of the stream without a cursor: the next run starts from `since` again.
        _ if page.last => {}
        _ => bail!("{path}: neither `end_of_stream` nor `after_cursor` in the answer"),
    }
    Ok(page)
}

async fn chatwoot_page(
    api: &Api,
    config: &ChatwootIntakeConfig,
    cursor: Option<&Cursor>,
    now: &(dyn Fn() -> Millis + Sync),
) -> anyhow::Result<Page> {
    let (status, number) = match cursor {
        Some(Cursor::Chatwoot { status, page }) => (status.as_str(), *page),
        _ => (CHATWOOT_STATUSES[0], 1),
    };
    let path = format!("/api/v1/accounts/{}/conversations?status={status}&assignee_type=all&page={number}", encode(&config.account_id));
    let body = api.get(&path).await?;
    let read_at = now();
    let conversations =
        at(&body, &["data", "payload"]).and_then(Value::as_array).ok_or_else(|| anyhow!("{path}: no `data.payload` list in the answer"))?;
    let mut page = Page { snapshots: Vec::new(), skipped: 0, unreadable: 0, next: None, last: false };
    for conversation in conversations {
        page.add(chatwoot_snapshot(conversation, config, read_at));
    }
    page.next = if conversations.is_empty() {
        // This status is done: the next one from its first page, or the end.
        let index = CHATWOOT_STATUSES.iter().position(|s| *s == status).unwrap_or(CHATWOOT_STATUSES.len());
        CHATWOOT_STATUSES.get(index + 1).map(|next| Cursor::Chatwoot { status: next.to_string(), page: 1 })
    } else {
        Some(Cursor::Chatwoot { status: status.to_string(), page: number + 1 })
    };
    Ok(page)
}

impl Page {
    fn add(&mut self, mapped: Result<Option<Snapshot>, Unreadable>) {
        match mapped {
            Ok(Some(snapshot)) => self.snapshots.push(snapshot),
            Ok(None) => self.skipped += 1,
            Err(Unreadable { reason, detail, .. }) => {
                self.unreadable += 1;
                tracing::warn!(reason, detail, "intake seed: a ticket that cannot be read is left out");
            }
        }
    }
}

/// A query-string value, percent-encoded.
fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}
