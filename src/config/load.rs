//! Reading the configuration: the TOML file, then `TICKETPULSE_*` environment overrides (some
//! taken verbatim), and a read error told once per problem with its field and origin.

use std::path::Path;

use figment::providers::{Env, Format, Toml};
use figment::Figment;

use super::{bad, Config, ConfigError};

impl Config {
    /// Reads `path` (if given) then `TICKETPULSE_*` overrides, and validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.exists() {
                return Err(ConfigError::Missing(path.display().to_string()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let typed = Env::prefixed(ENV_PREFIX).split(ENV_SPLIT).filter(|key| !verbatim(&key.as_str().to_ascii_lowercase()));
        figment = figment.merge(typed);
        let mut raw = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(lower) = name.to_str().map(str::to_ascii_lowercase) else { continue };
            let Some(key) = lower.strip_prefix(ENV_PREFIX.to_ascii_lowercase().as_str()).filter(|key| verbatim(key)) else { continue };
            let field = key.replace(ENV_SPLIT, ".");
            let value = value.into_string().map_err(|_| bad(&field, format!("{} is not valid UTF-8", name.to_string_lossy())))?;
            raw.push((field, value));
        }
        figment = figment.merge(VerbatimEnv(raw));
        let config: Config = figment.extract().map_err(describe)?;
        config.validate()?;
        Ok(config)
    }
}

/// Environment overrides: `TICKETPULSE_<SECTION>__<FIELD>`.
const ENV_PREFIX: &str = "TICKETPULSE_";
const ENV_SPLIT: &str = "__";
/// The environment overrides of `[kafka.librdkafka]` (after the prefix, lower case), taken verbatim.
const RAW_ENV: &str = "kafka__librdkafka__";
/// A field whose name contains one of these holds a secret: its environment override is
/// taken verbatim and it is read only as a string, whose value no error shows.
const SECRET_NAMES: [&str; 5] = ["secret", "password", "passphrase", "token", "key"];

/// Whether the environment override `key` (after the prefix, lower case) is taken verbatim,
/// as a string: figment's `Env` would read `4839201746582910` as a number (and put it in the
/// type error), strip the quotes of `"a"` and trim `  a  `. librdkafka properties are
/// strings to librdkafka; a secret is whatever bytes the help desk or the broker issued.
pub(super) fn verbatim(key: &str) -> bool {
    key.starts_with(RAW_ENV) || key.rsplit(ENV_SPLIT).next().is_some_and(|field| SECRET_NAMES.iter().any(|name| field.contains(name)))
}

/// The environment overrides [`verbatim`] selects, each a string at its dotted key. Named
/// like an environment provider, so an error says which variable it came from.
struct VerbatimEnv(Vec<(String, String)>);

impl figment::Provider for VerbatimEnv {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable(s), taken verbatim")
    }

    fn data(&self) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        use figment::value::{Dict, Tag, Value};
        fn insert(dict: &mut Dict, path: &[&str], value: &str) {
            match path {
                [] => {}
                [last] => drop(dict.insert((*last).to_string(), Value::from(value.to_string()))),
                [first, rest @ ..] => {
                    let entry = dict.entry((*first).to_string()).or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
                    if !matches!(entry, Value::Dict(..)) {
                        *entry = Value::Dict(Tag::Default, Dict::new());
                    }
                    if let Value::Dict(_, inner) = entry {
                        insert(inner, rest, value);
                    }
                }
            }
        }
        let mut dict = Dict::new();
        for (key, value) in &self.0 {
            insert(&mut dict, &key.split('.').collect::<Vec<_>>(), value);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

/// One line per problem, each naming the field and where its value came from (a file or an
/// environment variable), without figment's profile prefix.
fn describe(error: figment::Error) -> ConfigError {
    let lines: Vec<String> = error
        .into_iter()
        .map(|e| {
            let field = e.path.join(".");
            let origin = e.metadata.as_ref().map(|m| match &m.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                _ if m.name.contains("environment") => format!("{ENV_PREFIX}{}", e.path.join(ENV_SPLIT).to_ascii_uppercase()),
                _ => m.name.to_string(),
            });
            let problem = match &e.kind {
                figment::error::Kind::UnknownField(_, expected) => format!("unknown field; expected one of {}", expected.join(", ")),
                kind => without_source_lines(&kind.to_string()),
            };
            match (field.is_empty(), origin) {
                (true, Some(origin)) => format!("{origin}: {problem}"),
                (true, None) => problem,
                (false, Some(origin)) => format!("{field}: {problem} (from {origin})"),
                (false, None) => format!("{field}: {problem}"),
            }
        })
        .collect();
    ConfigError::Parse(lines.join("\n"))
}

/// A TOML syntax error without the lines of the file it quotes (`2 | "sasl.password" = ...`):
/// the line may hold a secret, and the line and column already say where to look.
fn without_source_lines(message: &str) -> String {
    let quoted = |line: &str| line.trim_start().trim_start_matches(|c: char| c.is_ascii_digit()).trim_start().starts_with('|');
    message.lines().filter(|line| !quoted(line)).collect::<Vec<_>>().join("; ")
}
