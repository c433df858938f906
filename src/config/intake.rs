//! `[intake]`: the webhook receiver (`ticketpulse intake`) and `intake seed`. The contract's
//! status and priority names the maps point to are checked with `event`'s own parsers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::de::{list, secret};
use super::{bad, ConfigError, HttpConfig};

/// `ticketpulse intake`: help-desk webhooks turned into contract v1 events and produced to
/// Kafka (see `docs/intake.md`). The `[kafka]` brokers and librdkafka properties (TLS, SASL)
/// are shared with the consumer; the `[http]` limits apply to its listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Listen address for `POST /webhooks/zendesk`, `POST /webhooks/chatwoot`, `/metrics`
    /// and the health checks of `intake`.
    pub listen: SocketAddr,
    /// Topic the events are produced to, keyed by ticket id.
    pub topic: String,
    /// Webhook bodies larger than this are answered 413 unread.
    pub max_body_bytes: usize,
    /// A signature timestamp further than this from the wall clock (either way) is refused
    /// (401): a captured request cannot be replayed later.
    #[serde(with = "humantime_serde")]
    pub max_signature_age: Duration,
    /// How long the broker has to acknowledge every event of one webhook; otherwise the
    /// webhook is answered 503 so the help desk retries. Shorter than `http.request_timeout`.
    #[serde(with = "humantime_serde")]
    pub produce_timeout: Duration,
    /// Zendesk event-subscription webhooks (`zen:event-type:ticket.*`).
    pub zendesk: ZendeskIntakeConfig,
    /// Chatwoot account webhooks.
    pub chatwoot: ChatwootIntakeConfig,
    /// `ticketpulse intake seed`: reading the help desks' APIs (paging, retries, limits).
    pub seed: SeedConfig,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9860)),
            topic: "ticket-events".into(),
            max_body_bytes: 256 * 1024,
            max_signature_age: Duration::from_secs(300),
            produce_timeout: Duration::from_secs(5),
            zendesk: ZendeskIntakeConfig::default(),
            chatwoot: ChatwootIntakeConfig::default(),
            seed: SeedConfig::default(),
        }
    }
}

/// `ticketpulse intake seed` (docs/intake.md#seeding): how the help desks' APIs are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedConfig {
    /// Tickets per Zendesk export page (`per_page`, 1 to 1000). Chatwoot's page size is fixed
    /// by the server (25).
    pub page_size: u32,
    /// A response body larger than this is refused (and the seed stops): one page is held in
    /// memory at a time, and this bounds it.
    pub max_response_bytes: usize,
    /// Each API request (connect, answer and body) must complete within this time.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Retries of one request answered 429 or 5xx (or not answered) before the seed stops;
    /// the cursor file keeps the pages already produced.
    pub max_retries: u32,
    /// Longest wait before a retry: a `Retry-After` longer than this is cut to it; without
    /// `Retry-After` the wait doubles from 1s up to it.
    #[serde(with = "humantime_serde")]
    pub max_retry_wait: Duration,
}

impl Default for SeedConfig {
    fn default() -> Self {
        Self {
            page_size: 100,
            max_response_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            max_retries: 5,
            // Zendesk's export allows 10 requests a minute: a 429 asks for up to 60s.
            max_retry_wait: Duration::from_secs(120),
        }
    }
}

/// Zendesk webhooks and how their values map to the contract's.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZendeskIntakeConfig {
    /// Serve `POST /webhooks/zendesk` (404 otherwise).
    pub enabled: bool,
    /// The webhook's signing secret (Zendesk Admin Center, the webhook's "Reveal secret").
    /// A string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub signing_secret: String,
    /// Prepended to Zendesk's ticket id, so ids from several help desks cannot collide; at most
    /// 64 bytes, and not the Chatwoot prefix.
    pub ticket_prefix: String,
    /// Zendesk status (lower case) → contract status; a status not listed is ignored.
    pub statuses: BTreeMap<String, String>,
    /// Zendesk priority (lower case) → contract priority; none or not listed is `normal`.
    pub priorities: BTreeMap<String, String>,
    /// `via.channel` → contract channel; a channel not listed is passed on lower case (and
    /// reported as `other` unless it is in `dimensions.channels`).
    pub channels: BTreeMap<String, String>,
    /// Group id → team. A ticket in a group not listed has no team.
    pub group_teams: BTreeMap<String, String>,
    /// Tag → team: a tag listed here, when added, sets the ticket's team.
    pub tag_teams: BTreeMap<String, String>,
    /// Staff user ids whose comments are a bot's (e.g. an AI agent's account).
    #[serde(deserialize_with = "list")]
    pub bot_user_ids: Vec<String>,
    /// User ids whose comments are the system's (Zendesk's own automations write as `-1`).
    #[serde(deserialize_with = "list")]
    pub system_user_ids: Vec<String>,
    /// `intake seed`: the account's API address, `https://<subdomain>.zendesk.com`.
    pub api_url: String,
    /// `intake seed`: the agent or admin whose API token is used (`{email}/token` basic auth).
    pub api_email: String,
    /// `intake seed`: the API token (Admin Center > Apps and integrations > Zendesk API). A
    /// string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub api_token: String,
}

impl Default for ZendeskIntakeConfig {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self {
            enabled: false,
            signing_secret: String::new(),
            ticket_prefix: "zendesk-".into(),
            statuses: map(&[
                ("new", "new"),
                ("open", "open"),
                ("pending", "pending"),
                ("hold", "on_hold"),
                ("solved", "solved"),
                ("closed", "closed"),
            ]),
            priorities: map(&[("low", "low"), ("normal", "normal"), ("high", "high"), ("urgent", "urgent")]),
            channels: map(&[
                ("email", "email"),
                ("web", "web"),
                ("web_form", "web"),
                ("web_widget", "web"),
                ("mobile", "web"),
                ("mobile_sdk", "messaging"),
                ("api", "api"),
                ("web_service", "api"),
                ("chat", "chat"),
                ("native_messaging", "messaging"),
                ("sms", "messaging"),
                ("whatsapp", "messaging"),
                ("voice", "phone"),
                ("phone", "phone"),
                ("facebook", "social"),
                ("twitter", "social"),
                ("instagram_dm", "social"),
            ]),
            group_teams: BTreeMap::new(),
            tag_teams: BTreeMap::new(),
            bot_user_ids: Vec::new(),
            system_user_ids: vec!["-1".into()],
            api_url: String::new(),
            api_email: String::new(),
            api_token: String::new(),
        }
    }
}

/// Shows the signing secret as `[redacted]`.
impl std::fmt::Debug for ZendeskIntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZendeskIntakeConfig")
            .field("enabled", &self.enabled)
            .field("signing_secret", &crate::base::REDACTED)
            .field("ticket_prefix", &self.ticket_prefix)
            .field("statuses", &self.statuses)
            .field("priorities", &self.priorities)
            .field("channels", &self.channels)
            .field("group_teams", &self.group_teams)
            .field("tag_teams", &self.tag_teams)
            .field("bot_user_ids", &self.bot_user_ids)
            .field("system_user_ids", &self.system_user_ids)
            .field("api_url", &self.api_url)
            .field("api_email", &self.api_email)
            .field("api_token", &crate::base::REDACTED)
            .finish()
    }
}

/// How Chatwoot webhooks are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatwootAuth {
    /// `X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "{X-Chatwoot-Timestamp}.{body}">`,
    /// sent by Chatwoot versions that sign webhooks.
    Signature,
    /// The secret as a shared token: `X-Ticketpulse-Token` header or `?token=` in the URL,
    /// for Chatwoot versions that do not sign.
    Token,
}

/// Chatwoot webhooks and how their values map to the contract's.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatwootIntakeConfig {
    /// Serve `POST /webhooks/chatwoot` (404 otherwise).
    pub enabled: bool,
    /// `signature` (the webhook's secret signs each request) or `token` (the secret is a
    /// shared token in the URL or a header).
    pub auth: ChatwootAuth,
    /// The webhook's secret (or the shared token). A string, taken verbatim from the
    /// environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub secret: String,
    /// Prepended to the conversation id (the per-account number), which becomes the ticket id;
    /// at most 64 bytes, and not the Zendesk prefix.
    pub ticket_prefix: String,
    /// Chatwoot status → contract status; a status not listed is ignored.
    pub statuses: BTreeMap<String, String>,
    /// Chatwoot priority → contract priority; none or not listed is `normal`.
    pub priorities: BTreeMap<String, String>,
    /// Inbox channel type (`Channel::Email`, ...) → contract channel; a type not listed is
    /// passed on lower case (and reported as `other`).
    pub channels: BTreeMap<String, String>,
    /// Chatwoot team id → team; takes precedence over `inbox_teams`.
    pub team_teams: BTreeMap<String, String>,
    /// Inbox id → team, for conversations without a listed Chatwoot team.
    pub inbox_teams: BTreeMap<String, String>,
    /// `intake seed`: the installation's address, e.g. `https://app.chatwoot.com`.
    pub api_url: String,
    /// `intake seed`: the account whose conversations are read (the number in its URLs).
    pub account_id: String,
    /// `intake seed`: an administrator's access token (Profile settings > Access token), sent
    /// as `api_access_token`. A string, taken verbatim from the environment; never shown.
    #[serde(deserialize_with = "secret")]
    pub api_token: String,
}

impl Default for ChatwootIntakeConfig {
    fn default() -> Self {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self {
            enabled: false,
            auth: ChatwootAuth::Signature,
            secret: String::new(),
            ticket_prefix: "chatwoot-".into(),
            statuses: map(&[("open", "open"), ("pending", "pending"), ("snoozed", "on_hold"), ("resolved", "solved")]),
            priorities: map(&[("low", "low"), ("medium", "normal"), ("high", "high"), ("urgent", "urgent")]),
            channels: map(&[
                ("Channel::Email", "email"),
                ("Channel::WebWidget", "chat"),
                ("Channel::Whatsapp", "messaging"),
                ("Channel::Sms", "messaging"),
                ("Channel::TwilioSms", "messaging"),
                ("Channel::Telegram", "messaging"),
                ("Channel::Line", "messaging"),
                ("Channel::FacebookPage", "social"),
                ("Channel::Instagram", "social"),
                ("Channel::TwitterProfile", "social"),
                ("Channel::Api", "api"),
                ("Channel::Voice", "phone"),
            ]),
            team_teams: BTreeMap::new(),
            inbox_teams: BTreeMap::new(),
            api_url: String::new(),
            account_id: String::new(),
            api_token: String::new(),
        }
    }
}

/// Shows the secret as `[redacted]`.
impl std::fmt::Debug for ChatwootIntakeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatwootIntakeConfig")
            .field("enabled", &self.enabled)
            .field("auth", &self.auth)
            .field("secret", &crate::base::REDACTED)
            .field("ticket_prefix", &self.ticket_prefix)
            .field("statuses", &self.statuses)
            .field("priorities", &self.priorities)
            .field("channels", &self.channels)
            .field("team_teams", &self.team_teams)
            .field("inbox_teams", &self.inbox_teams)
            .field("api_url", &self.api_url)
            .field("account_id", &self.account_id)
            .field("api_token", &crate::base::REDACTED)
            .finish()
    }
}

/// Longest `ticket_prefix` of an intake source, so ids with their suffixes stay within 128 bytes.
pub const MAX_TICKET_PREFIX_BYTES: usize = 64;

/// Shortest accepted webhook secret, in bytes: Zendesk's signing secrets are longer, and a
/// short one can be guessed.
pub const MIN_INTAKE_SECRET_BYTES: usize = 16;

impl IntakeConfig {
    /// Checks the `[intake]` section; `http` limits the produce timeout.
    pub fn validate(&self, http: &HttpConfig) -> Result<(), ConfigError> {
        if self.topic.trim().is_empty() {
            return Err(bad("intake.topic", "must not be empty"));
        }
        if self.max_body_bytes == 0 {
            return Err(bad("intake.max_body_bytes", "must be positive"));
        }
        if self.max_signature_age < Duration::from_secs(1) {
            return Err(bad("intake.max_signature_age", "must be at least 1s"));
        }
        if self.produce_timeout < Duration::from_millis(100) || self.produce_timeout >= http.request_timeout {
            return Err(bad("intake.produce_timeout", "must be at least 100ms and shorter than http.request_timeout"));
        }
        let z = &self.zendesk;
        let c = &self.chatwoot;
        // Event ids are the ticket id plus a suffix and must fit the contract's 128 bytes; two
        // sources with one prefix could give two help desks' tickets the same id.
        for (field, prefix) in [("intake.zendesk.ticket_prefix", &z.ticket_prefix), ("intake.chatwoot.ticket_prefix", &c.ticket_prefix)] {
            if prefix.len() > MAX_TICKET_PREFIX_BYTES {
                return Err(bad(field, format!("must be at most {MAX_TICKET_PREFIX_BYTES} bytes")));
            }
        }
        if z.ticket_prefix == c.ticket_prefix {
            return Err(bad("intake.chatwoot.ticket_prefix", "must differ from intake.zendesk.ticket_prefix"));
        }
        for (field, enabled, secret) in
            [("intake.zendesk.signing_secret", z.enabled, &z.signing_secret), ("intake.chatwoot.secret", c.enabled, &c.secret)]
        {
            if enabled && secret.len() < MIN_INTAKE_SECRET_BYTES {
                return Err(bad(field, format!("must be at least {MIN_INTAKE_SECRET_BYTES} bytes when the source is enabled")));
            }
        }
        let statuses = [("intake.zendesk.statuses", &z.statuses), ("intake.chatwoot.statuses", &c.statuses)];
        for (field, map) in statuses {
            if let Some((k, v)) = map.iter().find(|(_, v)| crate::event::Status::parse(v).is_none()) {
                return Err(bad(format!("{field}.{k}"), format!("{v:?} is not a contract status")));
            }
        }
        let priorities = [("intake.zendesk.priorities", &z.priorities), ("intake.chatwoot.priorities", &c.priorities)];
        for (field, map) in priorities {
            if let Some((k, v)) = map.iter().find(|(_, v)| crate::event::Priority::parse(v).is_none()) {
                return Err(bad(format!("{field}.{k}"), format!("{v:?} is not a contract priority")));
            }
        }
        let values = [
            ("intake.zendesk.channels", &z.channels),
            ("intake.zendesk.group_teams", &z.group_teams),
            ("intake.zendesk.tag_teams", &z.tag_teams),
            ("intake.chatwoot.channels", &c.channels),
            ("intake.chatwoot.team_teams", &c.team_teams),
            ("intake.chatwoot.inbox_teams", &c.inbox_teams),
        ];
        for (field, map) in values {
            if let Some((k, _)) = map.iter().find(|(_, v)| v.is_empty()) {
                return Err(bad(format!("{field}.{k}"), "must not be empty"));
            }
        }
        let seed = &self.seed;
        if !(1..=1000).contains(&seed.page_size) {
            return Err(bad("intake.seed.page_size", "must be from 1 to 1000 (Zendesk's largest per_page)"));
        }
        if seed.max_response_bytes == 0 {
            return Err(bad("intake.seed.max_response_bytes", "must be positive"));
        }
        if seed.request_timeout < Duration::from_secs(1) {
            return Err(bad("intake.seed.request_timeout", "must be at least 1s"));
        }
        Ok(())
    }
}
