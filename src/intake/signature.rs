//! Who sent a webhook: each help desk's signature, checked on the raw body before anything
//! reads it, in constant time, with stale timestamps refused. Checked in two steps so that an
//! unauthenticated client cannot make the intake wait for a body: [`Credentials::read`]
//! takes the headers alone (presence and shape of the signature and its timestamp, or the
//! whole token) before the body is read; [`Credentials::verify`] then checks the signature on
//! the body.
//!
//! - Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret,
//!   `X-Zendesk-Webhook-Signature-Timestamp` + body)); the timestamp is RFC 3339.
//! - Chatwoot (versions that sign): `X-Chatwoot-Signature` = `sha256=` + hex(HMAC-SHA256(secret,
//!   `X-Chatwoot-Timestamp` + `.` + body)); the timestamp is Unix seconds.
//! - Chatwoot (versions that do not): the secret as a shared token, in `X-Ticketpulse-Token`
//!   or `?token=`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::base::Millis;

type HmacSha256 = Hmac<Sha256>;

/// Zendesk's signature header.
pub const ZENDESK_SIGNATURE: &str = "x-zendesk-webhook-signature";
/// Zendesk's signature timestamp header.
pub const ZENDESK_TIMESTAMP: &str = "x-zendesk-webhook-signature-timestamp";
/// Chatwoot's signature header.
pub const CHATWOOT_SIGNATURE: &str = "x-chatwoot-signature";
/// Chatwoot's signature timestamp header.
pub const CHATWOOT_TIMESTAMP: &str = "x-chatwoot-timestamp";
/// The shared-token header of `intake.chatwoot.auth = "token"`.
pub const TOKEN_HEADER: &str = "x-ticketpulse-token";

/// Why a webhook was not accepted as authentic (answered 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The signature, its timestamp or the token is absent.
    Missing,
    /// The signature or token does not match (or cannot be read).
    Wrong,
    /// The signature timestamp is not in the help desk's format (Zendesk: RFC 3339;
    /// Chatwoot: Unix seconds), e.g. epoch milliseconds from a client that is not the help desk.
    Timestamp,
    /// Authentic, but its timestamp is further from the clock than `max_signature_age`.
    Stale,
}

impl AuthError {
    /// The `result` label.
    pub fn label(self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::Wrong | AuthError::Timestamp => "unauthorized",
            AuthError::Stale => "stale",
        }
    }

    /// The answer's text: says what to fix without revealing anything of the secret.
    pub fn detail(self) -> &'static str {
        match self {
            AuthError::Missing => "missing signature, timestamp or token",
            AuthError::Wrong => "signature or token does not match",
            AuthError::Timestamp => "signature timestamp is not RFC 3339 (Zendesk) or Unix seconds (Chatwoot)",
            AuthError::Stale => "signature timestamp outside intake.max_signature_age",
        }
    }
}

fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The signed instant must lie within `max_age` of `now`, either way.
fn fresh(signed_at: Millis, now: Millis, max_age: Millis) -> Result<(), AuthError> {
    if (now - signed_at).abs() > max_age {
        return Err(AuthError::Stale);
    }
    Ok(())
}

/// What the headers say about a webhook's sender, read before its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// A signature (32 bytes of HMAC-SHA256) over `prefix` + the body, made at `signed_at`.
    Signed { mac: Vec<u8>, prefix: Vec<u8>, signed_at: Millis },
    /// A shared token, already compared: nothing to check on the body.
    Token,
}

/// HMAC-SHA256's output length: a signature of any other length cannot match.
const MAC_BYTES: usize = 32;

impl Credentials {
    /// Zendesk's headers: `signature` is base64 of 32 bytes, `timestamp` RFC 3339.
    pub fn zendesk(signature: Option<&str>, timestamp: Option<&str>) -> Result<Self, AuthError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else { return Err(AuthError::Missing) };
        let mac = base64::engine::general_purpose::STANDARD.decode(signature.trim()).map_err(|_| AuthError::Wrong)?;
        if mac.len() != MAC_BYTES {
            return Err(AuthError::Wrong);
        }
        let signed_at = crate::event::parse_time_text(timestamp.trim()).map_err(|_| AuthError::Timestamp)?;
        Ok(Credentials::Signed { mac, prefix: timestamp.as_bytes().to_vec(), signed_at })
    }

    /// Chatwoot's headers: `signature` is `sha256=` and 64 hex digits, `timestamp` Unix seconds.
    pub fn chatwoot(signature: Option<&str>, timestamp: Option<&str>) -> Result<Self, AuthError> {
        let (Some(signature), Some(timestamp)) = (signature, timestamp) else { return Err(AuthError::Missing) };
        let hex = signature.trim().strip_prefix("sha256=").ok_or(AuthError::Wrong)?;
        let mac = decode_hex(hex).filter(|mac| mac.len() == MAC_BYTES).ok_or(AuthError::Wrong)?;
        let seconds: i64 = timestamp.trim().parse().map_err(|_| AuthError::Timestamp)?;
        let mut prefix = timestamp.as_bytes().to_vec();
        prefix.push(b'.');
        Ok(Credentials::Signed { mac, prefix, signed_at: seconds.saturating_mul(1000) })
    }

    /// A shared token (from the header, else the query), compared in constant time.
    pub fn token(secret: &str, given: Option<&str>) -> Result<Self, AuthError> {
        token(secret, given).map(|()| Credentials::Token)
    }

    /// Checks the signature on `body`, then that it was made within `max_age` of `now`.
    pub fn verify(&self, secret: &str, body: &[u8], now: Millis, max_age: Millis) -> Result<(), AuthError> {
        match self {
            Credentials::Token => Ok(()),
            Credentials::Signed { mac: given, prefix, signed_at } => {
                // verify_slice compares in constant time.
                mac(secret, &[prefix, body]).verify_slice(given).map_err(|_| AuthError::Wrong)?;
                fresh(*signed_at, now, max_age)
            }
        }
    }
}

/// Checks a Zendesk webhook. `signature` and `timestamp` are the header values.
pub fn zendesk(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: Millis,
    max_age: Millis,
) -> Result<(), AuthError> {
    Credentials::zendesk(signature, timestamp)?.verify(secret, body, now, max_age)
}

/// Checks a signed Chatwoot webhook. `signature` and `timestamp` are the header values.
pub fn chatwoot(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: Millis,
    max_age: Millis,
) -> Result<(), AuthError> {
    Credentials::chatwoot(signature, timestamp)?.verify(secret, body, now, max_age)
}

/// Checks a shared token (from the header, else the query) in constant time.
pub fn token(secret: &str, given: Option<&str>) -> Result<(), AuthError> {
    let given = given.ok_or(AuthError::Missing)?;
    if bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(AuthError::Wrong)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Signs like Zendesk: the header values for `body` signed at `timestamp` (tests, load scripts).
pub fn sign_zendesk(secret: &str, timestamp: &str, body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(secret, &[timestamp.as_bytes(), body]).finalize().into_bytes())
}

/// Signs like Chatwoot: the `X-Chatwoot-Signature` value for `body` at Unix second `timestamp`.
pub fn sign_chatwoot(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, &[timestamp.as_bytes(), b".", body]).finalize().into_bytes();
    format!("sha256={}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "dGhpcyBpcyBhIHRlc3Qgc2VjcmV0";
    const BODY: &[u8] = br#"{"type":"zen:event-type:ticket.created"}"#;
    /// 2026-01-05T10:00:00Z.
    const NOW: Millis = 1_767_607_200_000;
    const AGE: Millis = 300_000;

    #[test]
    fn zendesk_signature_matches_an_independent_hmac() {
        // Computed with: printf '%s' '2026-01-05T10:00:00Z{"type":"zen:event-type:ticket.created"}' |
        //   openssl dgst -sha256 -hmac dGhpcyBpcyBhIHRlc3Qgc2VjcmV0 -binary | base64
        let expected = "U67zC/+2zikGVBP3sUOAmJ4mFpz8+IQDbYZtbXoCMOk=";
        assert_eq!(sign_zendesk(SECRET, "2026-01-05T10:00:00Z", BODY), expected);
        assert_eq!(zendesk(SECRET, Some(expected), Some("2026-01-05T10:00:00Z"), BODY, NOW, AGE), Ok(()));
    }

    #[test]
    fn zendesk_wrong_stale_and_missing() {
        let ts = "2026-01-05T10:00:00Z";
        let good = sign_zendesk(SECRET, ts, BODY);
        let check = |sig: Option<&str>, ts: Option<&str>, body: &[u8], now| zendesk(SECRET, sig, ts, body, now, AGE);
        assert_eq!(check(Some(&sign_zendesk("another secret here", ts, BODY)), Some(ts), BODY, NOW), Err(AuthError::Wrong));
        assert_eq!(check(Some(&good), Some(ts), b"{}", NOW), Err(AuthError::Wrong), "the body is signed");
        assert_eq!(check(Some(&good), Some("2026-01-05T10:00:01Z"), BODY, NOW), Err(AuthError::Wrong), "the timestamp is signed");
        assert_eq!(check(Some("not base64!"), Some(ts), BODY, NOW), Err(AuthError::Wrong));
        assert_eq!(check(None, Some(ts), BODY, NOW), Err(AuthError::Missing));
        assert_eq!(check(Some(&good), None, BODY, NOW), Err(AuthError::Missing));
        // Exactly 5 minutes either way is still fresh; a millisecond more is stale.
        assert_eq!(check(Some(&good), Some(ts), BODY, NOW + AGE), Ok(()));
        assert_eq!(check(Some(&good), Some(ts), BODY, NOW - AGE), Ok(()));
        assert_eq!(check(Some(&good), Some(ts), BODY, NOW + AGE + 1), Err(AuthError::Stale));
        assert_eq!(check(Some(&good), Some(ts), BODY, NOW - AGE - 1), Err(AuthError::Stale));
    }

    #[test]
    fn chatwoot_signature_matches_an_independent_hmac() {
        // printf '%s' '1767607200.{"type":"zen:event-type:ticket.created"}' |
        //   openssl dgst -sha256 -hmac dGhpcyBpcyBhIHRlc3Qgc2VjcmV0
        let expected = "sha256=fd122b93602e689c9ea5a06a558142dbd2653c49bf8b63710c31537e7a4fd6fc";
        assert_eq!(sign_chatwoot(SECRET, "1767607200", BODY), expected);
        assert_eq!(chatwoot(SECRET, Some(expected), Some("1767607200"), BODY, NOW, AGE), Ok(()));
    }

    #[test]
    fn chatwoot_wrong_stale_and_missing() {
        let ts = "1767607200";
        let good = sign_chatwoot(SECRET, ts, BODY);
        let check = |sig: Option<&str>, ts: Option<&str>, now| chatwoot(SECRET, sig, ts, BODY, now, AGE);
        assert_eq!(check(Some(&good[7..]), Some(ts), NOW), Err(AuthError::Wrong), "the sha256= prefix is required");
        assert_eq!(check(Some(&sign_chatwoot(SECRET, "1767607201", BODY)), Some(ts), NOW), Err(AuthError::Wrong));
        assert_eq!(check(Some("sha256=zz"), Some(ts), NOW), Err(AuthError::Wrong));
        assert_eq!(check(None, Some(ts), NOW), Err(AuthError::Missing));
        assert_eq!(check(Some(&good), None, NOW), Err(AuthError::Missing));
        assert_eq!(check(Some(&good), Some(ts), NOW + AGE + 1), Err(AuthError::Stale));
        assert_eq!(check(Some(&good), Some(ts), NOW - AGE), Ok(()));
    }

    #[test]
    fn tokens_compare_whole() {
        assert_eq!(token(SECRET, Some(SECRET)), Ok(()));
        assert_eq!(token(SECRET, Some(&SECRET[..10])), Err(AuthError::Wrong), "a prefix is not the token");
        assert_eq!(token(SECRET, Some("")), Err(AuthError::Wrong));
        assert_eq!(token(SECRET, None), Err(AuthError::Missing));
    }
}
