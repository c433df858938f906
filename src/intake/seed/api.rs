//! The vendor's API over HTTPS: credentials, limits on the answer, and retries of 429 and 5xx
//! with `Retry-After`; apart from what is done with the pages.

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
use serde_json::Value;

use crate::config::{Config, SeedConfig};
use crate::intake::Source;

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
pub(super) struct Api {
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
    pub(super) fn new(config: &Config, source: Source) -> anyhow::Result<Self> {
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
    pub(super) async fn get(&self, path: &str) -> anyhow::Result<Value> {
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
