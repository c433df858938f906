//! `[sla]`: policies, business-hours calendars and pause statuses, as written. They are
//! compiled, and checked against the domain, by `sla` and `calendar` (`engine::Rules::new`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::de::{durations, list};

/// SLA policies, business-hours calendars and what pauses the clocks (see `docs/sla.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// While a ticket is in one of these statuses its next-reply and resolution clocks stop
    /// (first response never pauses).
    #[serde(deserialize_with = "list")]
    pub pause_statuses: Vec<String>,
    /// Running targets due within each of these are reported as at risk (the `horizon` label
    /// of `ticketpulse_sla_at_risk_targets`).
    #[serde(deserialize_with = "durations")]
    pub at_risk_horizons: Vec<Duration>,
    /// Business-hours calendars by name, used by policies' `calendar`.
    pub calendars: BTreeMap<String, CalendarConfig>,
    /// Ordered: the first policy whose conditions all match a ticket applies. Tickets matching
    /// none have no SLA (counted in `ticketpulse_sla_unmatched_open_tickets`).
    pub policies: Vec<PolicyConfig>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let h = |n: u64| Some(Duration::from_secs(n * 3600));
        let policy = |name: &str, first_response, next_reply, resolution| PolicyConfig {
            name: name.into(),
            priority: Some(vec![name.into()]),
            first_response,
            next_reply,
            resolution,
            ..PolicyConfig::default()
        };
        Self {
            pause_statuses: vec!["pending".into(), "on_hold".into()],
            at_risk_horizons: vec![Duration::from_secs(15 * 60), Duration::from_secs(3600)],
            calendars: BTreeMap::new(),
            policies: vec![
                policy("urgent", Some(Duration::from_secs(1800)), h(1), h(8)),
                policy("high", h(2), h(4), h(24)),
                policy("normal", h(8), h(8), h(72)),
                policy("low", h(24), h(24), h(120)),
            ],
        }
    }
}

/// One SLA policy: which tickets it applies to and their targets. A condition left out
/// matches any ticket; a list matches a ticket having any of its values.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The `policy` label value.
    pub name: String,
    /// Ticket priorities (`low`, `normal`, `high`, `urgent`).
    #[serde(default)]
    pub priority: Option<Vec<String>>,
    /// Ticket channels, lower case.
    #[serde(default)]
    pub channel: Option<Vec<String>>,
    /// Ticket teams.
    #[serde(default)]
    pub team: Option<Vec<String>>,
    /// Ticket topics.
    #[serde(default)]
    pub topic: Option<Vec<String>>,
    /// Creation → first public human agent reply.
    #[serde(default, with = "humantime_serde")]
    pub first_response: Option<Duration>,
    /// Oldest unanswered customer message → next public agent reply, for every reply after
    /// the first.
    #[serde(default, with = "humantime_serde")]
    pub next_reply: Option<Duration>,
    /// Creation → `solved` or `closed`, counted again from where it stood after a reopen.
    #[serde(default, with = "humantime_serde")]
    pub resolution: Option<Duration>,
    /// A name from `sla.calendars`, or `24x7` (the default): when the targets' time counts.
    #[serde(default = "always_open")]
    pub calendar: String,
}

/// The name of the built-in always-open calendar, every policy's default.
pub const ALWAYS_OPEN: &str = "24x7";

fn always_open() -> String {
    ALWAYS_OPEN.into()
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            priority: None,
            channel: None,
            team: None,
            topic: None,
            first_response: None,
            next_reply: None,
            resolution: None,
            calendar: always_open(),
        }
    }
}

/// A business-hours calendar. Each day lists its open periods as `HH:MM-HH:MM` in local time
/// (the end may be `24:00`); a day left out is closed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// IANA time zone, e.g. `Europe/Bucharest`; periods and holidays are local to it.
    pub time_zone: String,
    /// Open periods on Mondays.
    pub monday: Vec<String>,
    /// Open periods on Tuesdays.
    pub tuesday: Vec<String>,
    /// Open periods on Wednesdays.
    pub wednesday: Vec<String>,
    /// Open periods on Thursdays.
    pub thursday: Vec<String>,
    /// Open periods on Fridays.
    pub friday: Vec<String>,
    /// Open periods on Saturdays.
    pub saturday: Vec<String>,
    /// Open periods on Sundays.
    pub sunday: Vec<String>,
    /// Closed dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// Dates closed every year, `MM-DD`.
    pub yearly_holidays: Vec<String>,
}

impl CalendarConfig {
    /// The seven days' periods, Monday first.
    pub fn days(&self) -> [&Vec<String>; 7] {
        [&self.monday, &self.tuesday, &self.wednesday, &self.thursday, &self.friday, &self.saturday, &self.sunday]
    }
}
