//! The foundation: the types and formatting every layer shares. It imports nothing of the
//! project, so any module may use it.

use std::collections::BTreeMap;
use std::num::NonZeroI64;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch: the engine's only notion of time.
pub type Millis = i64;

/// Event times are accepted from the Unix epoch up to, not including, this instant:
/// 2100-01-01T00:00:00Z. It is far beyond any real ticket's time, yet rejects the usual
/// producer mistakes (epoch microseconds or nanoseconds sent as milliseconds, `9999-12-31`
/// placeholders) before they can push stream time decades ahead. It also keeps every sum of
/// an event time and a configured duration ([`millis`]) far from overflowing.
pub(crate) const MAX_TIME: Millis = 4_102_444_800_000;

/// A configured duration in milliseconds, saturating at [`MAX_TIME`]: a duration longer than
/// the whole range of event times acts exactly like "never", and no time plus duration can
/// overflow.
pub fn millis(duration: Duration) -> Millis {
    duration.as_millis().min(MAX_TIME as u128) as Millis
}

/// RFC 3339 in UTC, with milliseconds when there are any.
pub fn rfc3339(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// A Kafka partition (or `replay/0`).
pub type PartitionId = (String, i32);

/// Label values we generate ourselves and so cannot be configured.
pub(crate) const RESERVED_LABEL_VALUES: [&str; 3] = ["other", "none", "unknown"];

/// The `window` label value: the largest whole unit, e.g. `5m`, `1h`, `24h`, `90s`.
pub(crate) fn window_label(window: Duration) -> String {
    let s = window.as_secs();
    if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s > 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A property whose name holds one of these (case-insensitive) has a secret value.
const SECRET_WORDS: [&str; 4] = ["password", "secret", "key", "token"];

/// Secret too, though named otherwise: librdkafka marks it sensitive, and its
/// `principal=... extension_...=...` value can carry credentials.
const SECRET_PROPERTIES: [&str; 1] = ["sasl.oauthbearer.config"];

/// Shown instead of a secret value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whether the value of property `name` is a secret.
pub(crate) fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word)) || SECRET_PROPERTIES.contains(&name.as_str())
}

/// Properties as they may be shown: secret values replaced.
pub(crate) fn shown_properties(properties: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    properties.iter().map(|(k, v)| (k.as_str(), if is_secret(k) { REDACTED } else { v.as_str() })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_labels() {
        let labels: Vec<_> = [300, 3600, 86400, 90].map(|s| window_label(Duration::from_secs(s))).to_vec();
        assert_eq!(labels, ["5m", "1h", "24h", "90s"]);
    }

    #[test]
    fn secret_names() {
        let secret = [
            "sasl.password",
            "ssl.key.password",
            "ssl.key.pem",
            "SASL.OAUTHBEARER.CLIENT.SECRET",
            "ssl_key",
            "x.Token.y",
            "sasl.oauthbearer.config",
        ];
        assert!(secret.iter().all(|k| is_secret(k)), "{secret:?}");
        let plain = ["sasl.username", "security.protocol", "ssl.ca.location", "sasl.pasword", "sasl.mechanisms"];
        assert!(plain.iter().all(|k| !is_secret(k)), "{plain:?}");
    }
}

/// An optional instant in 8 bytes where `Option<Millis>` takes 16 (`i64::MIN`, never an
/// instant, stands for none); serialized as `Option<Millis>`, so snapshots read the same.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct MaybeTime(Option<NonZeroI64>);

impl MaybeTime {
    pub const NONE: Self = Self(None);

    pub fn get(self) -> Option<Millis> {
        self.0.map(|v| v.get() ^ Millis::MIN)
    }

    pub fn is_some(self) -> bool {
        self.0.is_some()
    }

    pub fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl From<Option<Millis>> for MaybeTime {
    fn from(value: Option<Millis>) -> Self {
        Self(value.and_then(|v| NonZeroI64::new(v ^ Millis::MIN)))
    }
}

impl PartialEq<Option<Millis>> for MaybeTime {
    fn eq(&self, other: &Option<Millis>) -> bool {
        self.get() == *other
    }
}

impl std::fmt::Debug for MaybeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for MaybeTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MaybeTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<Millis>::deserialize(deserializer).map(Self::from)
    }
}
