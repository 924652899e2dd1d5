//! Time as phones send it and as reports count it. A device's timestamp is kept as sent
//! (its offset says where the phone's clock stood); rules and queries use the instant;
//! reports and connection dates use the calendar day in Europe/Stockholm.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;

use crate::FieldError;

/// An RFC 3339 timestamp with an offset, from a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceTime(DateTime<FixedOffset>);

impl DeviceTime {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        DateTime::parse_from_rfc3339(value).map(Self).map_err(|_| {
            FieldError::new(
                field,
                "invalid_time",
                "an RFC 3339 time with an offset, such as 2026-11-28T22:15:00+01:00",
            )
        })
    }

    /// The instant, to the microsecond: what both databases store and cursors carry.
    pub fn utc(&self) -> DateTime<Utc> {
        to_micros(self.0.with_timezone(&Utc))
    }

    pub fn as_sent(&self) -> DateTime<FixedOffset> {
        self.0
    }

    /// The calendar day in Stockholm, which is what reports and connections count by.
    pub fn stockholm_date(&self) -> NaiveDate {
        stockholm_date(self.utc())
    }
}

impl From<DateTime<FixedOffset>> for DeviceTime {
    fn from(time: DateTime<FixedOffset>) -> Self {
        Self(time)
    }
}

impl fmt::Display for DeviceTime {
    /// The stored form: RFC 3339 with the offset the device used.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339())
    }
}

/// An instant cut to whole microseconds. PostgreSQL keeps no more, and SQLite keeps what it
/// is given: cutting every stored instant alike keeps the two backends and the list
/// cursors in agreement.
pub fn to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(instant, 6)
}

pub fn stockholm_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&Stockholm).date_naive()
}

/// The instant a calendar day begins in Stockholm (midnight exists every day there:
/// the clocks change at two and three in the night).
pub fn stockholm_day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    Stockholm
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// Parses a calendar date written `YYYY-MM-DD`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .filter(|_| value.len() == 10)
        .ok_or_else(|| FieldError::new(field, "invalid_date", "a calendar date written YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_kept_and_the_day_is_stockholms() {
        let t = DeviceTime::parse("occurred_at", "2025-12-31T23:30:00Z").unwrap();
        assert_eq!(t.stockholm_date().to_string(), "2026-01-01");
        let t = DeviceTime::parse("occurred_at", "2026-06-01T01:30:00+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-06-01T01:30:00+02:00");
        assert_eq!(t.utc().to_rfc3339(), "2026-05-31T23:30:00+00:00");
        assert_eq!(t.stockholm_date().to_string(), "2026-06-01");
    }

    #[test]
    fn a_stockholm_day_begins_at_local_midnight() {
        let winter = stockholm_day_start("2026-01-01".parse().unwrap());
        assert_eq!(winter.to_rfc3339(), "2025-12-31T23:00:00+00:00");
        let summer = stockholm_day_start("2026-07-01".parse().unwrap());
        assert_eq!(summer.to_rfc3339(), "2026-06-30T22:00:00+00:00");
        assert_eq!(
            parse_date("from", "2026-02-30").unwrap_err().code,
            "invalid_date"
        );
        assert!(parse_date("from", "2026-2-3").is_err());
    }

    #[test]
    fn a_time_without_offset_is_refused() {
        for bad in ["2026-06-01T01:30:00", "2026-06-01", "igår", ""] {
            assert_eq!(
                DeviceTime::parse("at", bad).unwrap_err().code,
                "invalid_time"
            );
        }
    }

    proptest::proptest! {
        /// No input panics; whatever parses keeps the instant and the offset it was sent
        /// with, to the microsecond.
        #[test]
        fn device_times_parse_or_refuse_and_round_trip(
            secs in -2_000_000_000i64..4_000_000_000i64,
            micros in 0u32..1_000_000,
            offset_minutes in -840i32..=840,
            junk in ".{0,40}",
        ) {
            let _ = DeviceTime::parse("at", &junk);
            let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let sent = DateTime::from_timestamp(secs, micros * 1000).unwrap().with_timezone(&offset);
            let text = sent.to_rfc3339();
            let parsed = DeviceTime::parse("at", &text).unwrap();
            proptest::prop_assert_eq!(parsed.as_sent(), sent);
            proptest::prop_assert_eq!(parsed.utc(), sent.with_timezone(&Utc));
            proptest::prop_assert_eq!(parsed.to_string(), text);
        }

        /// A Stockholm day starts at a local midnight, the instant before it belongs to
        /// the day before, and dates print and parse back the same.
        #[test]
        fn stockholm_days_begin_at_their_midnight(days in 0i64..40_000, junk in ".{0,12}") {
            let _ = parse_date("d", &junk);
            let day = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days);
            let start = stockholm_day_start(day);
            proptest::prop_assert_eq!(stockholm_date(start), day);
            proptest::prop_assert_eq!(stockholm_date(start - chrono::Duration::microseconds(1)), day.pred_opt().unwrap());
            proptest::prop_assert_eq!(parse_date("d", &day.format("%Y-%m-%d").to_string()).unwrap(), day);
        }
    }
}
