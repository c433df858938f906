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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER};
use hyper::{Request, StatusCode};
use hyper_tls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::mapping::{at, required_id, required_time, Unreadable};
use super::producer::Producer;
use super::{chatwoot, zendesk, Source};
use crate::base::Millis;
use crate::config::{ChatwootIntakeConfig, Config, SeedConfig, ZendeskIntakeConfig};
use crate::event;
use crate::internal_events::Telemetry;

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

/// A Zendesk export ticket (with its sideloaded metric set) as a snapshot; `None` for a status
/// not mapped, or solved or closed without `include_solved`.
pub fn zendesk_snapshot(
    ticket: &Value,
    metric_set: Option<&Value>,
    config: &ZendeskIntakeConfig,
    read_at: Millis,
    include_solved: bool,
) -> Result<Option<Snapshot>, Unreadable> {
    const KIND: &str = "ticket";
    let id = required_id(ticket, &["id"], KIND)?;
    let created_at = required_time(ticket, &["created_at"], KIND)?;
    let updated_at = required_time(ticket, &["updated_at"], KIND)?;
    let Some(status) = zendesk::status(config, at(ticket, &["status"])) else { return Ok(None) };
    let solved = matches!(status, "solved" | "closed");
    if solved && !include_solved {
        return Ok(None);
    }
    let ticket_id = format!("{}{id}", config.ticket_prefix);
    let mut fields = json!({
        "event_id": format!("{ticket_id}-snapshot-{updated_at}"),
        "ticket_id": ticket_id,
        "type": "ticket_snapshot",
        "at": rfc3339(read_at),
        "created_at": rfc3339(created_at),
        "status": status,
        "channel": zendesk::channel(config, at(ticket, &["via", "channel"])),
        "priority": zendesk::priority(config, at(ticket, &["priority"])),
    });
    // The group's team, else the first tag's, as the webhooks set them (group changes, added tags).
    if let Some(team) = zendesk::group_team(config, at(ticket, &["group_id"])).or_else(|| zendesk::tag_team(config, at(ticket, &["tags"])))
    {
        fields["team"] = json!(team);
    }
    if let Some(metrics) = metric_set {
        let time = |name: &str| at(metrics, &[name]).and_then(Value::as_str).and_then(|t| crate::event::parse_time_text(t).ok());
        // Zendesk keeps the first reply as whole calendar minutes after creation, not as an
        // instant: the instant is that many minutes after `created_at`.
        // Kept within creation and the read (rounding, or a value out of range, cannot place it
        // outside, where the contract would refuse the whole ticket).
        if let Some(minutes) = at(metrics, &["reply_time_in_minutes", "calendar"]).and_then(Value::as_i64) {
            let reply = minutes.checked_mul(60_000).and_then(|ms| created_at.checked_add(ms)).unwrap_or(read_at);
            fields["first_response_at"] = json!(rfc3339(reply.clamp(created_at, read_at.max(created_at))));
        }
        // Waiting on the desk since the requester's last update, unless the assignee updated
        // the ticket after it (pending and on-hold tickets wait on someone else).
        if matches!(status, "new" | "open") {
            if let Some(requester) = time("requester_updated_at") {
                if time("assignee_updated_at").is_none_or(|assignee| assignee <= requester) {
                    fields["waiting_since"] = json!(rfc3339(requester));
                }
            }
        }
        if let (true, Some(solved_at)) = (solved, time("solved_at")) {
            fields["solved_at"] = json!(rfc3339(solved_at));
        }
    }
    Ok(Some(Snapshot { key: fields["ticket_id"].as_str().unwrap_or_default().to_string(), payload: fields.to_string() }))
}

/// A Chatwoot conversation (the conversations list's shape) as a snapshot; `None` for a
/// status not mapped.
pub(crate) fn chatwoot_snapshot(
    conversation: &Value,
    config: &ChatwootIntakeConfig,
    read_at: Millis,
) -> Result<Option<Snapshot>, Unreadable> {
    const KIND: &str = "conversation";
    let id = required_id(conversation, &["id"], KIND)?;
    let created_at = required_time(conversation, &["created_at"], KIND)?;
    let Some(status) = chatwoot::status(config, at(conversation, &["status"])) else { return Ok(None) };
    // Chatwoot writes an unset time as 0 (`nil.to_i`).
    let time = |name: &str| at(conversation, &[name]).and_then(Value::as_f64).filter(|s| *s > 0.0).map(|s| (s * 1000.0).round() as Millis);
    // The event id changes when the conversation does; older versions have no `updated_at`.
    let version = time("updated_at").or_else(|| time("timestamp")).unwrap_or(created_at);
    let ticket_id = format!("{}{id}", config.ticket_prefix);
    let mut fields = json!({
        "event_id": format!("{ticket_id}-snapshot-{version}"),
        "ticket_id": ticket_id,
        "type": "ticket_snapshot",
        "at": rfc3339(read_at),
        "created_at": rfc3339(created_at),
        "status": status,
        "channel": chatwoot::channel(config, at(conversation, &["meta", "channel"])),
        "priority": chatwoot::priority(config, at(conversation, &["priority"])),
    });
    if let Some(team) = chatwoot::team(config, at(conversation, &["meta", "team", "id"]), at(conversation, &["inbox_id"])) {
        fields["team"] = json!(team);
    }
    if let Some(first) = time("first_reply_created_at") {
        fields["first_response_at"] = json!(rfc3339(first));
    }
    if let Some(waiting) = time("waiting_since") {
        fields["waiting_since"] = json!(rfc3339(waiting));
    }
    Ok(Some(Snapshot { key: fields["ticket_id"].as_str().unwrap_or_default().to_string(), payload: fields.to_string() }))
}

fn rfc3339(ms: Millis) -> String {
    crate::base::rfc3339(ms)
}

/// A query-string value, percent-encoded.
fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// How long to wait before retry number `attempt` (0 = the first): `Retry-After` in seconds
/// when the answer has one, else 1s doubling; never more than `cap`.
pub fn retry_wait(retry_after: Option<&str>, attempt: u32, cap: Duration) -> Duration {
    let wait = match retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(seconds) => Duration::from_secs(seconds),
        None => Duration::from_secs(1u64.checked_shl(attempt.min(32)).unwrap_or(u64::MAX)),
    };
    wait.min(cap)
}

/// The vendor's API: base address, credentials (a sensitive header, never logged) and limits.
struct Api {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    base: String,
    auth: (HeaderName, HeaderValue),
    limits: SeedConfig,
}

/// Why one request got no page.
enum Failure {
    /// Worth another try: 429, 5xx, a connection or read error.
    Retry { why: String, retry_after: Option<String> },
    /// Not: another 4xx, an answer too large or not JSON.
    Fatal(anyhow::Error),
}

impl Api {
    fn new(config: &Config, source: Source) -> anyhow::Result<Self> {
        let missing = |fields: &[(&str, &str)]| {
            let empty: Vec<_> = fields.iter().filter(|(_, v)| v.trim().is_empty()).map(|(name, _)| *name).collect();
            if empty.is_empty() {
                Ok(())
            } else {
                Err(anyhow!("intake seed --source {}: set {}", source.as_str(), empty.join(", ")))
            }
        };
        let (base, auth) = match source {
            Source::Zendesk => {
                let z = &config.intake.zendesk;
                missing(&[
                    ("intake.zendesk.api_url", &z.api_url),
                    ("intake.zendesk.api_email", &z.api_email),
                    ("intake.zendesk.api_token", &z.api_token),
                ])?;
                // Zendesk's API token authentication: basic auth as `{email}/token:{token}`.
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}/token:{}", z.api_email, z.api_token));
                (&z.api_url, (AUTHORIZATION, format!("Basic {basic}")))
            }
            Source::Chatwoot => {
                let c = &config.intake.chatwoot;
                missing(&[
                    ("intake.chatwoot.api_url", &c.api_url),
                    ("intake.chatwoot.account_id", &c.account_id),
                    ("intake.chatwoot.api_token", &c.api_token),
                ])?;
                (&c.api_url, (HeaderName::from_static("api_access_token"), c.api_token.clone()))
            }
        };
        let mut value =
            HeaderValue::from_str(&auth.1).map_err(|_| anyhow!("intake seed: the API token is not a valid header value (not shown)"))?;
        value.set_sensitive(true);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.intake.seed.request_timeout));
        let tls = native_tls_connector()?;
        let client = Client::builder(TokioExecutor::new()).build(HttpsConnector::from((http, tls.into())));
        Ok(Self { client, base: base.trim_end_matches('/').to_string(), auth: (auth.0, value), limits: config.intake.seed.clone() })
    }

    /// GETs `path` (with its query) as JSON, retrying 429 and 5xx.
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut attempt = 0;
        loop {
            let failure = match tokio::time::timeout(self.limits.request_timeout, self.once(path)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Failure::Fatal(error))) => return Err(error),
                Ok(Err(failure)) => failure,
                Err(_) => Failure::Retry { why: "no complete answer within intake.seed.request_timeout".into(), retry_after: None },
            };
            let Failure::Retry { why, retry_after } = failure else { unreachable!("fatal failures returned above") };
            if attempt >= self.limits.max_retries {
                bail!("{path}: {why}; given up after {attempt} retries (intake.seed.max_retries)");
            }
            let wait = retry_wait(retry_after.as_deref(), attempt, self.limits.max_retry_wait);
            tracing::warn!(path, why, wait = ?wait, attempt = attempt + 1, "intake seed: retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn once(&self, path: &str) -> Result<Value, Failure> {
        let fatal = |e: String| Failure::Fatal(anyhow!("{path}: {e}"));
        let request = Request::get(format!("{}{path}", self.base))
            .header(self.auth.0.clone(), self.auth.1.clone())
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| fatal(format!("not a valid request: {e}")))?;
        let response =
            self.client.request(request).await.map_err(|e| Failure::Retry { why: format!("request failed: {e}"), retry_after: None })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(String::from);
            return Err(Failure::Retry { why: format!("answered {status}"), retry_after });
        }
        if !status.is_success() {
            let hint = if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) { " (check the API credentials)" } else { "" };
            return Err(fatal(format!("answered {status}{hint}")));
        }
        let max = self.limits.max_response_bytes;
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let too_large = || fatal(format!("the answer is larger than intake.seed.max_response_bytes ({max})"));
        if declared.is_some_and(|length| length > max as u64) {
            return Err(too_large());
        }
        let body = match Limited::new(response.into_body(), max).collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(error) => return Err(Failure::Retry { why: format!("the answer broke off: {error}"), retry_after: None }),
        };
        serde_json::from_slice(&body).map_err(|e| fatal(format!("the answer is not JSON: {e}")))
    }
}

/// TLS through native-tls (the system OpenSSL on Linux), HTTP/1.1 only.
fn native_tls_connector() -> anyhow::Result<native_tls::TlsConnector> {
    native_tls::TlsConnector::new().context("intake seed: TLS set-up")
}

fn read_cursor(path: &Path, source: Source) -> anyhow::Result<Option<Cursor>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("{}: {e}", path.display())),
    };
    let cursor: Cursor = serde_json::from_slice(&text).with_context(|| format!("{}: not a seed cursor", path.display()))?;
    let matches = matches!((&cursor, source), (Cursor::Zendesk { .. }, Source::Zendesk) | (Cursor::Chatwoot { .. }, Source::Chatwoot));
    if !matches {
        bail!("{}: a cursor of another source; give each source its own --cursor-file", path.display());
    }
    if let Cursor::Chatwoot { status, .. } = &cursor {
        if !CHATWOOT_STATUSES.contains(&status.as_str()) {
            bail!("{}: status {status:?} is not one read ({CHATWOOT_STATUSES:?})", path.display());
        }
    }
    Ok(Some(cursor))
}

/// Replaces the cursor file whole: written beside it, flushed to disk, renamed over it, and the
/// directory flushed, so a crash leaves the old cursor or the new one, never a torn file.
fn write_cursor(path: &Path, cursor: &Cursor) -> anyhow::Result<()> {
    use std::io::Write;
    let context = || format!("{}: writing the seed cursor", path.display());
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary).with_context(context)?;
    file.write_all(&serde_json::to_vec(cursor)?).with_context(context)?;
    file.sync_all().with_context(context)?;
    std::fs::rename(&temporary, path).with_context(context)?;
    sync_parent(path);
    Ok(())
}

fn remove_cursor(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow!("{}: removing the finished seed cursor: {e}", path.display())),
    }
}

/// Flushes the directory entry of a rename (best effort: not every file system allows it).
fn sync_parent(path: &Path) {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}
