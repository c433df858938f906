//! Field readers shared by the sections: lists in comma form, durations, secrets, librdkafka
//! properties, survey scales over their defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A secret-bearing field: a string only. Anything else (a number in the TOML file) is
/// refused naming the field, without the value serde's type error would quote.
pub(super) fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    match Raw::deserialize(d)? {
        Raw::Text(text) => Ok(text),
        Raw::Other(_) => Err(serde::de::Error::custom("must be a string (in quotes); the value is not shown")),
    }
}

/// A list, given as a sequence or as one comma-separated string: environment overrides are
/// easiest to write that way (`TICKETPULSE_TIME__WINDOWS=5m,1h`). An empty string is an empty
/// list.
pub(super) fn list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    struct ListVisitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list, or a comma-separated string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<T>, E> {
            use serde::de::IntoDeserializer;
            text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(|item| T::deserialize(item.into_deserializer())).collect()
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Vec<T>, A::Error> {
            Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(ListVisitor(std::marker::PhantomData))
}

pub(super) fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let texts: Vec<String> = list(d)?;
    texts.iter().map(|t| humantime::parse_duration(t).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))).collect()
}

/// Numbers of seconds or duration texts (`"5m"`), in a list or a comma-separated string (an
/// environment override).
pub(super) fn seconds_or_durations<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Bound {
        Seconds(f64),
        Text(String),
    }
    let bounds: Vec<Bound> = list(d)?;
    bounds
        .into_iter()
        .map(|b| match b {
            Bound::Seconds(s) => Ok(s),
            // A number from the environment's comma form arrives as text.
            Bound::Text(t) => t.parse::<f64>().or_else(|_| {
                humantime::parse_duration(&t).map(|d| d.as_secs_f64()).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}")))
            }),
        })
        .collect::<Result<Vec<f64>, D::Error>>()
        .map(Some)
}

pub(super) fn duration_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Duration>, D::Error> {
    let texts = BTreeMap::<String, String>::deserialize(d)?;
    texts
        .into_iter()
        .map(|(k, t)| humantime::parse_duration(&t).map(|d| (k, d)).map_err(|e| serde::de::Error::custom(format!("{t:?}: {e}"))))
        .collect()
}

/// Accepts both `"sasl.password" = "x"` and TOML dotted / environment-nested keys
/// (`sasl.password = "x"`, `TICKETPULSE_KAFKA__LIBRDKAFKA__SASL__PASSWORD`), which arrive as
/// nested tables, and flattens them back into librdkafka's dotted property names.
pub(super) fn flatten_properties<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Node {
        Text(String),
        Int(i64),
        Bool(bool),
        Table(BTreeMap<String, Node>),
    }
    fn walk(prefix: &str, node: Node, out: &mut BTreeMap<String, String>) {
        match node {
            Node::Text(s) => drop(out.insert(prefix.to_string(), s)),
            Node::Int(i) => drop(out.insert(prefix.to_string(), i.to_string())),
            Node::Bool(b) => drop(out.insert(prefix.to_string(), b.to_string())),
            Node::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", Node::Table(BTreeMap::deserialize(d)?), &mut out);
    Ok(out)
}
