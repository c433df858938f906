//! Event times: `at` as sent ([`RawTime`]), exact RFC 3339 text, and the accepted range
//! (1970 to 2100). Apart because the grammar is checked by hand, not by jiff, and is long.

use std::borrow::Cow;

use serde::Deserialize;

use crate::base::{Millis, MAX_TIME};

/// `at` as sent: read by its own visitor rather than `#[serde(untagged)]`, which buffers the
/// value and builds (and formats) an error per variant tried: a quarter of the parse time.
pub(super) enum RawTime<'a> {
    EpochMillis(i64),
    /// Any other number (fractional, or beyond i64): not a time.
    Number(f64),
    Text(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for RawTime<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = RawTime<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("epoch milliseconds or an RFC 3339 string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawTime::EpochMillis(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or(RawTime::Number(v as f64), RawTime::EpochMillis))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawTime::Number(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawTime::Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

pub(super) fn parse_time(time: RawTime) -> Result<Millis, String> {
    match time {
        RawTime::EpochMillis(ms) => in_range_of_times(ms),
        RawTime::Number(n) => Err(format!("{n} is not a whole number of epoch milliseconds")),
        RawTime::Text(text) => parse_time_text(&text),
    }
}

/// An RFC 3339 instant within the accepted range of event times (also used for the command
/// line's times).
pub fn parse_time_text(text: &str) -> Result<Millis, String> {
    in_range_of_times(parse_rfc3339(text)?)
}

fn in_range_of_times(ms: Millis) -> Result<Millis, String> {
    if !(0..MAX_TIME).contains(&ms) {
        return Err(format!("{ms} ms is outside 1970-01-01T00:00:00Z to 2100-01-01T00:00:00Z"));
    }
    Ok(ms)
}

/// An RFC 3339 `date-time` (section 5.6) exactly, in milliseconds since the epoch:
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` with `T`/`t` and `Z`/`z`, any number of
/// fraction digits (truncated to the millisecond), offset hours 00–23 and minutes 00–59, no
/// seconds in the offset. A leap second (`:60`) counts as `:59`, as jiff reads it. jiff's own
/// parser is more lenient (offsets up to ±25:59:59, no seconds, a space separator) and stops
/// at nine fraction digits, so the grammar is checked here and jiff only does the calendar.
fn parse_rfc3339(text: &str) -> Result<Millis, String> {
    let expected = || format!("{:?} is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM)", Truncated(text));
    let b = text.as_bytes();
    let number = |from: usize, len: usize| -> Option<i16> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i16, |n, d| d.is_ascii_digit().then(|| n * 10 + i16::from(d - b'0')))
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || separators.iter().any(|&(i, c)| b[i] != c) {
        return Err(expected());
    }
    let fields = (number(0, 4), number(5, 2), number(8, 2), number(11, 2), number(14, 2), number(17, 2));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields else { return Err(expected()) };
    let mut rest = &b[19..];
    let mut fraction_ms = 0;
    if let [b'.', digits @ ..] = rest {
        let count = digits.iter().take_while(|d| d.is_ascii_digit()).count();
        if count == 0 {
            return Err(expected());
        }
        fraction_ms = (0..3).fold(0, |ms, i| ms * 10 + digits.get(i).filter(|_| i < count).map_or(0, |d| Millis::from(d - b'0')));
        rest = &digits[count..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| (a.is_ascii_digit() && b.is_ascii_digit()).then(|| i32::from(a - b'0') * 10 + i32::from(b - b'0'));
            let (Some(h), Some(m)) = (two(*h1, *h2), two(*m1, *m2)) else { return Err(expected()) };
            if h > 23 || m > 59 {
                return Err(format!("{:?} has an offset beyond ±23:59", Truncated(text)));
            }
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return Err(expected()),
    };
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!("{:?} has no such time of day", Truncated(text)));
    }
    let date = jiff::civil::Date::new(year, month as i8, day as i8).map_err(|_| format!("{:?} has no such date", Truncated(text)))?;
    let time = jiff::civil::Time::new(hour as i8, minute as i8, second.min(59) as i8, 0).map_err(|e| e.to_string())?;
    let offset = jiff::tz::Offset::from_seconds(offset_minutes * 60).map_err(|e| e.to_string())?;
    let instant = offset.to_timestamp(date.to_datetime(time)).map_err(|e| e.to_string())?;
    Ok(instant.as_millisecond() + fraction_ms)
}

/// A value for a log line, cut to its first 64 characters.
struct Truncated<'a>(&'a str);

impl std::fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = self.0.char_indices().nth(64).map_or(self.0, |(i, _)| &self.0[..i]);
        write!(f, "{cut:?}{}", if cut.len() < self.0.len() { "…" } else { "" })
    }
}
