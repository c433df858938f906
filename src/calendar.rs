//! Business-hours calendars: when an SLA clock counts. A calendar has an IANA time zone, a
//! weekly schedule with any number of open periods per day (split shifts, lunch breaks) and
//! holidays. Deadlines and elapsed business time are computed by walking local days and turning
//! each period's wall-clock bounds into instants in that zone, so DST changes are exact: a
//! `09:00-17:00` day is 8 business hours on both change days, and a period that spans the
//! change is as long as it really is.

use std::collections::BTreeSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use crate::base::Millis;
use crate::config::CalendarConfig;

/// A calendar nobody could ever be inside of (every day a holiday) would make a deadline walk
/// forever; after this many days without reaching it the deadline is "never".
const MAX_DAYS: usize = 3 * 366;

/// When SLA time counts.
#[derive(Debug, Clone)]
pub enum Calendar {
    /// Every instant counts: business time is calendar time.
    AlwaysOpen,
    /// Only the open periods of the week, outside holidays, count.
    Business(Box<BusinessHours>),
}

/// A weekly schedule in a time zone.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    zone: TimeZone,
    /// Monday first; minutes since local midnight, `[start, end)`, sorted and disjoint.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
    /// (month, day) closed every year.
    yearly: BTreeSet<(i8, i8)>,
}

/// A calendar setting that cannot be used: the field (relative to the calendar) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> CalendarError {
    CalendarError { field: field.into(), message: message.into() }
}

const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

impl Calendar {
    /// Builds a business calendar, checking every field.
    pub fn new(config: &CalendarConfig) -> Result<Self, CalendarError> {
        let zone = TimeZone::get(&config.time_zone)
            .map_err(|_| err("time_zone", format!("{:?} is not a known IANA time zone (e.g. \"Europe/Bucharest\")", config.time_zone)))?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (day, (name, periods)) in DAYS.iter().zip(config.days()).enumerate() {
            for (i, text) in periods.iter().enumerate() {
                let field = || format!("{name}[{i}]");
                let (start, end) = parse_period(text).ok_or_else(|| err(field(), format!("{text:?} is not HH:MM-HH:MM")))?;
                if start >= end {
                    return Err(err(field(), format!("{text:?} ends before it starts (periods may not cross midnight)")));
                }
                if let Some(other) = week[day].iter().position(|&(s, e)| start < e && s < end) {
                    return Err(err(field(), format!("{text:?} overlaps {:?}", periods[other])));
                }
                week[day].push((start, end));
            }
            week[day].sort_unstable();
        }
        if week.iter().all(Vec::is_empty) {
            return Err(err("monday", "the calendar has no open period on any day"));
        }
        let mut holidays = BTreeSet::new();
        for (i, text) in config.holidays.iter().enumerate() {
            let date: Date = text.parse().map_err(|_| err(format!("holidays[{i}]"), format!("{text:?} is not a date (YYYY-MM-DD)")))?;
            holidays.insert(date);
        }
        let mut yearly = BTreeSet::new();
        for (i, text) in config.yearly_holidays.iter().enumerate() {
            // Checked against a leap year so that 02-29 is accepted.
            let date: Date = format!("2024-{text}")
                .parse()
                .map_err(|_| err(format!("yearly_holidays[{i}]"), format!("{text:?} is not a month and day (MM-DD)")))?;
            yearly.insert((date.month(), date.day()));
        }
        Ok(Calendar::Business(Box::new(BusinessHours { zone, week, holidays, yearly })))
    }

    /// The instant `duration` of business time after `start`. A deadline that falls exactly at
    /// the end of a period is that end (due at 17:00, not at 09:00 next morning).
    pub fn add(&self, start: Millis, duration: Millis) -> Millis {
        match self {
            Calendar::AlwaysOpen => start.saturating_add(duration),
            Calendar::Business(b) => b.add(start, duration),
        }
    }

    /// Business time between two instants (zero when `to <= from`).
    pub fn between(&self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        match self {
            Calendar::AlwaysOpen => to - from,
            Calendar::Business(b) => b.between(from, to),
        }
    }
}

impl BusinessHours {
    fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date) || self.yearly.contains(&(date.month(), date.day()))
    }

    /// The open periods of local `date` as instants, in order.
    fn periods(&self, date: Date) -> impl Iterator<Item = (Millis, Millis)> + '_ {
        let day = if self.is_holiday(date) { &[][..] } else { &self.week[weekday_index(date.weekday())][..] };
        day.iter().map(move |&(start, end)| (self.instant(date, start), self.instant(date, end)))
    }

    /// Local `date` at `minute` past midnight (1440 = the next midnight). A wall time skipped
    /// by a DST change maps to the instant after the gap, as in most calendar software.
    fn instant(&self, date: Date, minute: u16) -> Millis {
        let (date, minute) = if minute == 1440 { (date.tomorrow().unwrap_or(date), 0) } else { (date, minute) };
        let time = Time::constant((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        self.zone.to_timestamp(date.to_datetime(time)).map_or(Millis::MAX, |ts| ts.as_millisecond())
    }

    fn local_date(&self, at: Millis) -> Date {
        let ts = jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::MIN);
        self.zone.to_datetime(ts).date()
    }

    fn add(&self, start: Millis, duration: Millis) -> Millis {
        if duration <= 0 {
            return start;
        }
        let mut remaining = duration;
        let mut date = self.local_date(start);
        for _ in 0..MAX_DAYS {
            for (open, close) in self.periods(date) {
                let from = open.max(start);
                if close <= from {
                    continue;
                }
                if remaining <= close - from {
                    return from + remaining;
                }
                remaining -= close - from;
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        Millis::MAX
    }

    fn between(&self, from: Millis, to: Millis) -> Millis {
        let mut total = 0;
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        while date <= last {
            for (open, close) in self.periods(date) {
                total += (close.min(to) - open.max(from)).max(0);
            }
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        total
    }
}

fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

/// `HH:MM-HH:MM` as minutes since midnight; the end may be `24:00`.
fn parse_period(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.split_once('-')?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    Some((minute(start)?, minute(end)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar(zone: &str, weekdays: &[&str], holidays: &[&str], yearly: &[&str]) -> Calendar {
        let day = || weekdays.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let config = CalendarConfig {
            time_zone: zone.into(),
            monday: day(),
            tuesday: day(),
            wednesday: day(),
            thursday: day(),
            friday: day(),
            saturday: Vec::new(),
            sunday: Vec::new(),
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
            yearly_holidays: yearly.iter().map(|s| s.to_string()).collect(),
        };
        Calendar::new(&config).unwrap()
    }

    /// Parses an RFC 3339 instant into milliseconds.
    fn t(s: &str) -> Millis {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    const H: Millis = 3_600_000;

    #[test]
    fn friday_afternoon_rolls_over_the_weekend() {
        let c = calendar("UTC", &["09:00-17:00"], &[], &[]);
        // Fri 2026-01-09 16:30 + 1 business hour: 30 min on Friday, 30 min on Monday.
        assert_eq!(c.add(t("2026-01-09T16:30:00Z"), H), t("2026-01-12T09:30:00Z"));
        assert_eq!(c.between(t("2026-01-09T16:30:00Z"), t("2026-01-12T09:30:00Z")), H);
        // Exactly to the end of a period: due 17:00 the same day.
        assert_eq!(c.add(t("2026-01-09T16:30:00Z"), H / 2), t("2026-01-09T17:00:00Z"));
        // Started on a Saturday night: the clock starts Monday 09:00.
        assert_eq!(c.add(t("2026-01-10T22:00:00Z"), 2 * H), t("2026-01-12T11:00:00Z"));
    }

    #[test]
    fn split_shift_skips_the_lunch_break() {
        let c = calendar("Europe/Bucharest", &["09:00-12:30", "13:30-17:00"], &[], &[]);
        // Tue 2026-01-13 11:00 local (09:00Z, UTC+2): 1.5 h to 12:30, 2.5 h from 13:30 → 16:00.
        assert_eq!(c.add(t("2026-01-13T09:00:00Z"), 4 * H), t("2026-01-13T14:00:00Z"));
        // A full day is 7 business hours.
        assert_eq!(c.between(t("2026-01-13T00:00:00Z"), t("2026-01-14T00:00:00Z")), 7 * H);
    }

    #[test]
    fn holidays_dated_and_yearly_are_closed() {
        let c = calendar("UTC", &["09:00-17:00"], &["2026-04-13"], &["12-25"]);
        // Fri 2026-04-10 16:00 + 2 h: 1 h Friday, Monday 13 April is a holiday, 1 h Tuesday.
        assert_eq!(c.add(t("2026-04-10T16:00:00Z"), 2 * H), t("2026-04-14T10:00:00Z"));
        // Thu 2026-12-24 16:00 + 2 h: 1 h Thursday, Christmas Friday closed, then Monday 28th.
        assert_eq!(c.add(t("2026-12-24T16:00:00Z"), 2 * H), t("2026-12-28T10:00:00Z"));
        // Yearly means every year: Christmas 2030 falls on a Wednesday.
        assert_eq!(c.between(t("2030-12-25T00:00:00Z"), t("2030-12-26T00:00:00Z")), 0);
    }

    #[test]
    fn dst_change_days_keep_their_business_hours() {
        // Bucharest: 2026-03-29 03:00 → 04:00 (UTC+2 → UTC+3) and 2026-10-25 04:00 → 03:00.
        // New York: 2026-03-08 02:00 → 03:00 (UTC−5 → UTC−4) and 2026-11-01 02:00 → 01:00.
        for (zone, day, open_utc, close_utc) in [
            ("Europe/Bucharest", "2026-03-29", "2026-03-29T06:00:00Z", "2026-03-29T14:00:00Z"),
            ("Europe/Bucharest", "2026-10-25", "2026-10-25T07:00:00Z", "2026-10-25T15:00:00Z"),
            ("America/New_York", "2026-03-08", "2026-03-08T13:00:00Z", "2026-03-08T21:00:00Z"),
            ("America/New_York", "2026-11-01", "2026-11-01T14:00:00Z", "2026-11-01T22:00:00Z"),
        ] {
            // Those are Sundays: open every day of the week for this test.
            let periods = vec!["09:00-17:00".to_string()];
            let config = CalendarConfig {
                time_zone: zone.into(),
                monday: periods.clone(),
                tuesday: periods.clone(),
                wednesday: periods.clone(),
                thursday: periods.clone(),
                friday: periods.clone(),
                saturday: periods.clone(),
                sunday: periods,
                holidays: Vec::new(),
                yearly_holidays: Vec::new(),
            };
            let c = Calendar::new(&config).unwrap();
            // Local midnight to local midnight: 23 h in spring, 25 h in autumn.
            let date: Date = day.parse().unwrap();
            let tz = TimeZone::get(zone).unwrap();
            let midnight = |d: Date| tz.to_timestamp(d.to_datetime(Time::midnight())).unwrap().as_millisecond();
            let (start, end) = (midnight(date), midnight(date.tomorrow().unwrap()));
            assert_ne!(end - start, 24 * H, "{zone} {day} is a DST change day");
            assert_eq!(c.between(start, end), 8 * H, "{zone} {day}");
            assert_eq!(c.add(start, 8 * H), t(close_utc), "{zone} {day}");
            assert_eq!(c.add(start, 1), t(open_utc) + 1, "{zone} {day}");
        }
    }

    #[test]
    fn a_period_across_the_spring_gap_is_as_long_as_it_really_is() {
        let periods = vec!["01:00-05:00".to_string()];
        let config = CalendarConfig { time_zone: "America/New_York".into(), sunday: periods, ..CalendarConfig::default() };
        let c = Calendar::new(&config).unwrap();
        // 01:00 EST (06:00Z) to 05:00 EDT (09:00Z): 3 real hours on 2026-03-08.
        assert_eq!(c.between(t("2026-03-08T00:00:00Z"), t("2026-03-09T00:00:00Z")), 3 * H);
    }

    #[test]
    fn bad_calendars_name_the_field() {
        let base = || CalendarConfig { time_zone: "UTC".into(), monday: vec!["09:00-17:00".into()], ..CalendarConfig::default() };
        let cases: [(CalendarConfig, &str, &str); 6] = [
            (CalendarConfig { time_zone: "Mars/Olympus".into(), ..base() }, "time_zone", "not a known IANA time zone"),
            (CalendarConfig { tuesday: vec!["9-17".into()], ..base() }, "tuesday[0]", "not HH:MM-HH:MM"),
            (CalendarConfig { tuesday: vec!["17:00-09:00".into()], ..base() }, "tuesday[0]", "ends before it starts"),
            (
                CalendarConfig { monday: vec!["09:00-12:00".into(), "11:00-13:00".into()], ..base() },
                "monday[1]",
                "overlaps \"09:00-12:00\"",
            ),
            (CalendarConfig { holidays: vec!["2026-02-30".into()], ..base() }, "holidays[0]", "not a date"),
            (CalendarConfig { monday: Vec::new(), ..base() }, "monday", "no open period"),
        ];
        for (config, field, message) in cases {
            let e = Calendar::new(&config).unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.message.contains(message), "{}", e.message);
        }
        assert_eq!(parse_period("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_period("24:30-25:00"), None);
    }
}
