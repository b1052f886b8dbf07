//! RFC 3339 timestamps: a strict parser with precise errors and a UTC formatter, stored as
//! nanoseconds since the Unix epoch.

use bincode::{Decode, Encode};
use serde::{Serialize, Serializer};
use std::fmt;

/// An instant, in nanoseconds since 1970-01-01T00:00:00Z. Its range is years 1678 to 2261;
/// anything outside does not parse. Events carry only times inside a narrower window
/// (`EARLIEST_EVENT_TIME` to `EVENT_TIME_END`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Timestamp(pub i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The earliest time an event may carry, inclusive: 1970-01-01T00:00:00Z. Validation refuses a
/// `time` or `expires_at` before it (docs/EVENTS.md); code that turns an event time into a date
/// (reports, queries) may rely on it.
pub const EARLIEST_EVENT_TIME: Timestamp = Timestamp(0);

/// The end of the times an event may carry, exclusive: 2200-01-01T00:00:00Z. Validation refuses
/// a `time` or `expires_at` at or after it (docs/EVENTS.md), so a report may add years to an
/// event time without leaving what a `Timestamp` holds (up to 2262).
pub const EVENT_TIME_END: Timestamp = Timestamp(7_258_118_400 * NANOS_PER_SEC);

/// Why a string is not an RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("expected RFC 3339 like 2026-01-31T09:30:00Z or 2026-01-31T10:30:00.5+01:00")]
    Syntax,
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    #[error("RFC 3339 needs a UTC offset (Z or +hh:mm)")]
    NoOffset,
}

fn digits(bytes: &[u8], at: usize, n: usize) -> Result<u32, TimeError> {
    let slice = bytes.get(at..at + n).ok_or(TimeError::Syntax)?;
    let mut v = 0u32;
    for &b in slice {
        if !b.is_ascii_digit() {
            return Err(TimeError::Syntax);
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Ok(v)
}

fn expect(bytes: &[u8], at: usize, want: &[u8]) -> Result<(), TimeError> {
    match bytes.get(at) {
        Some(b) if want.contains(b) => Ok(()),
        _ => Err(TimeError::Syntax),
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)`; `t`, `z` and a space separator are
    /// accepted as RFC 3339 §5.6 allows. Leap seconds (`:60`) are rejected.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        let b = text.as_bytes();
        let year = digits(b, 0, 4)?;
        expect(b, 4, b"-")?;
        let month = digits(b, 5, 2)?;
        expect(b, 7, b"-")?;
        let day = digits(b, 8, 2)?;
        expect(b, 10, b"Tt ")?;
        let hour = digits(b, 11, 2)?;
        expect(b, 13, b":")?;
        let minute = digits(b, 14, 2)?;
        expect(b, 16, b":")?;
        let second = digits(b, 17, 2)?;
        let mut at = 19;
        let mut nanos: i64 = 0;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while at < b.len() && b[at].is_ascii_digit() {
                if at - start < 9 {
                    nanos = nanos * 10 + i64::from(b[at] - b'0');
                }
                at += 1;
            }
            let n = at - start;
            if n == 0 {
                return Err(TimeError::Syntax);
            }
            for _ in n..9 {
                nanos *= 10;
            }
        }
        let offset_secs: i64 = match b.get(at) {
            Some(b'Z' | b'z') => {
                at += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                let sign = if *sign == b'-' { -1 } else { 1 };
                let oh = digits(b, at + 1, 2)?;
                expect(b, at + 3, b":")?;
                let om = digits(b, at + 4, 2)?;
                if oh > 23 || om > 59 {
                    return Err(TimeError::OutOfRange("offset"));
                }
                at += 6;
                sign * i64::from(oh * 3600 + om * 60)
            }
            None => return Err(TimeError::NoOffset),
            Some(_) => return Err(TimeError::Syntax),
        };
        if at != b.len() {
            return Err(TimeError::Syntax);
        }
        let year = i64::from(year);
        if !(1..=12).contains(&month) {
            return Err(TimeError::OutOfRange("month"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(TimeError::OutOfRange("day"));
        }
        if hour > 23 {
            return Err(TimeError::OutOfRange("hour"));
        }
        if minute > 59 {
            return Err(TimeError::OutOfRange("minute"));
        }
        if second > 59 {
            return Err(TimeError::OutOfRange("second"));
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
        secs.checked_mul(NANOS_PER_SEC)
            .and_then(|n| n.checked_add(nanos))
            .map(Timestamp)
            .ok_or(TimeError::OutOfRange("year"))
    }

    /// Whether an event may carry this time: from `EARLIEST_EVENT_TIME` (inclusive) to
    /// `EVENT_TIME_END` (exclusive).
    pub fn is_event_time(self) -> bool {
        (EARLIEST_EVENT_TIME..EVENT_TIME_END).contains(&self)
    }

    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(NANOS_PER_SEC))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// The current wall-clock time. Only callers outside `proto` (which does no I/O) should
    /// need this; it reads the clock but touches no files or network.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// RFC 3339 in UTC, with as many fractional digits as needed (none, 3, 6 or 9).
    pub fn to_rfc3339(self) -> String {
        self.to_string()
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    /// An RFC 3339 time (`parse_rfc3339`).
    fn from_str(text: &str) -> Result<Timestamp, TimeError> {
        Timestamp::parse_rfc3339(text)
    }
}

/// A time's RFC 3339 text held on the stack (`Timestamp::rfc3339`): `YYYY-MM-DDTHH:MM:SS`, the
/// fraction in milli-, micro- or nanoseconds as needed, `Z`. Every `Timestamp` is between the
/// years 1677 and 2262, so the year always has four digits. Written digit by digit: exports
/// write one per entry.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339 {
    buf: [u8; 30],
    len: usize,
}

impl Rfc3339 {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

/// Writes `value`'s last `width` decimal digits into `out`.
fn put_digits(out: &mut [u8], value: u64, width: usize) {
    let mut v = value;
    for slot in out[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

impl Timestamp {
    /// The RFC 3339 text, without allocating.
    pub fn rfc3339(self) -> Rfc3339 {
        let secs = self.0.div_euclid(NANOS_PER_SEC);
        let nanos = self.0.rem_euclid(NANOS_PER_SEC) as u64;
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400) as u64;
        let mut buf = *b"0000-00-00T00:00:00.000000000Z";
        put_digits(&mut buf[0..], y.clamp(0, 9999) as u64, 4);
        put_digits(&mut buf[5..], u64::from(m), 2);
        put_digits(&mut buf[8..], u64::from(d), 2);
        put_digits(&mut buf[11..], sod / 3600, 2);
        put_digits(&mut buf[14..], (sod / 60) % 60, 2);
        put_digits(&mut buf[17..], sod % 60, 2);
        let digits = match nanos {
            0 => 0,
            n if n % 1_000_000 == 0 => 3,
            n if n % 1000 == 0 => 6,
            _ => 9,
        };
        let len = if digits == 0 {
            buf[19] = b'Z';
            20
        } else {
            put_digits(&mut buf[20..], nanos / 10u64.pow(9 - digits as u32), digits);
            buf[20 + digits] = b'Z';
            21 + digits
        };
        Rfc3339 { buf, len }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text as `write!` formats it, field by field: what `rfc3339` must equal.
    fn formatted(t: Timestamp) -> String {
        let secs = t.0.div_euclid(NANOS_PER_SEC);
        let nanos = t.0.rem_euclid(NANOS_PER_SEC);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        if nanos != 0 {
            if nanos % 1_000_000 == 0 {
                s += &format!(".{:03}", nanos / 1_000_000);
            } else if nanos % 1000 == 0 {
                s += &format!(".{:06}", nanos / 1000);
            } else {
                s += &format!(".{nanos:09}");
            }
        }
        s + "Z"
    }

    proptest! {
        #[test]
        fn rfc3339_text_is_the_formatted_one(
            nanos in any::<i64>(),
            round in 0usize..4,
        ) {
            let t = Timestamp(match round {
                0 => nanos,
                1 => nanos - nanos % 1000,
                2 => nanos - nanos % 1_000_000,
                _ => nanos - nanos % NANOS_PER_SEC,
            });
            let text = t.rfc3339();
            prop_assert_eq!(text.as_str(), formatted(t));
            prop_assert_eq!(t.to_string(), formatted(t));
        }
    }

    #[test]
    fn parses_valid_times() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-01-31T09:30:00Z", 1_769_851_800 * NANOS_PER_SEC),
            ("2026-01-31T10:30:00+01:00", 1_769_851_800 * NANOS_PER_SEC),
            (
                "2026-01-31t09:30:00.5z",
                1_769_851_800 * NANOS_PER_SEC + 500_000_000,
            ),
            (
                "2026-01-31 09:30:00.123456789Z",
                1_769_851_800 * NANOS_PER_SEC + 123_456_789,
            ),
            (
                "2024-02-29T00:00:00-00:30",
                (1_709_164_800 + 1800) * NANOS_PER_SEC,
            ),
            ("1969-12-31T23:59:59Z", -NANOS_PER_SEC),
        ];
        for (text, want) in cases {
            assert_eq!(
                Timestamp::parse_rfc3339(text),
                Ok(Timestamp(want)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_invalid_times_precisely() {
        let cases = [
            ("", TimeError::Syntax),
            ("2026-01-31", TimeError::Syntax),
            ("2026-01-31T09:30:00", TimeError::NoOffset),
            ("2026-13-01T00:00:00Z", TimeError::OutOfRange("month")),
            ("2023-02-29T00:00:00Z", TimeError::OutOfRange("day")),
            ("2026-04-31T00:00:00Z", TimeError::OutOfRange("day")),
            ("2026-01-01T24:00:00Z", TimeError::OutOfRange("hour")),
            ("2026-01-01T00:60:00Z", TimeError::OutOfRange("minute")),
            ("2016-12-31T23:59:60Z", TimeError::OutOfRange("second")),
            ("2026-01-01T00:00:00+24:00", TimeError::OutOfRange("offset")),
            ("2026-01-01T00:00:00.Z", TimeError::Syntax),
            ("2026-01-01T00:00:00Zjunk", TimeError::Syntax),
            ("9999-01-01T00:00:00Z", TimeError::OutOfRange("year")),
            ("yesterday", TimeError::Syntax),
        ];
        for (text, want) in cases {
            assert_eq!(Timestamp::parse_rfc3339(text), Err(want), "{text}");
        }
    }

    /// The window's ends are the instants their documentation names, and its edges fall where
    /// it says.
    #[test]
    fn the_event_time_window_is_as_documented() {
        assert_eq!(EARLIEST_EVENT_TIME.to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(EVENT_TIME_END.to_rfc3339(), "2200-01-01T00:00:00Z");
        let cases = [
            (EARLIEST_EVENT_TIME.0 - 1, false),
            (EARLIEST_EVENT_TIME.0, true),
            (EVENT_TIME_END.0 - 1, true),
            (EVENT_TIME_END.0, false),
            (i64::MIN, false),
            (i64::MAX, false),
        ];
        for (nanos, inside) in cases {
            assert_eq!(Timestamp(nanos).is_event_time(), inside, "{nanos}");
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(n in -5_000_000_000_000_000_000i64..9_000_000_000_000_000_000i64) {
            let t = Timestamp(n);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        }
    }
}
