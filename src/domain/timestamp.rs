//! Instants, always held and written in UTC.

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, SubsecRound, Utc};

/// How far past the server's clock `converted_at` may lie (clients' clocks drift).
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error(
        "converted_at must be an ISO 8601 date-time with a time zone (e.g., \"2026-01-28T10:00:00Z\")"
    )]
    Malformed,
    /// RFC 3339 allows second 60, but JavaScript's `Date` and Python's `datetime` cannot read it.
    #[error("converted_at cannot be a leap second (second 60)")]
    LeapSecond,
    #[error("converted_at cannot be in the future")]
    InFuture,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// RFC 3339 (the ISO 8601 profile the web uses), `Z` or an offset, converted to UTC.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let at = Self::from_stored(text)?.0;
        // Years 1-9999 UTC, as four digits write back (`0000-01-01T00:00:00+01:00` is in year -1).
        if !(1..=9999).contains(&at.year()) {
            return Err(TimestampError::Malformed);
        }
        // chrono keeps a leap second as a nanosecond count of a second or more.
        if at.timestamp_subsec_nanos() >= 1_000_000_000 {
            return Err(TimestampError::LeapSecond);
        }
        Ok(Self(at))
    }

    /// Leap seconds included: earlier versions accepted them, and stored ones still mean something.
    pub fn from_stored(text: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| Self(at.with_timezone(&Utc)))
            .map_err(|_| TimestampError::Malformed)
    }

    /// Now, truncated to milliseconds so that it prints the way clients expect.
    pub fn now() -> Self {
        Self(Utc::now().trunc_subsecs(3))
    }

    /// A conversion has happened: at most [`MAX_FUTURE_SKEW_SECONDS`] past `now`. Any past is fine.
    pub fn not_in_future(self, now: Timestamp) -> Result<Self, TimestampError> {
        if self.0 > now.0 + chrono::Duration::seconds(MAX_FUTURE_SKEW_SECONDS) {
            Err(TimestampError::InFuture)
        } else {
            Ok(self)
        }
    }

    /// The next millisecond: what follows this instant as [`Self::now`] counts.
    pub fn next_millisecond(self) -> Self {
        Self(
            self.0
                .checked_add_signed(chrono::Duration::milliseconds(1))
                .unwrap_or(self.0),
        )
    }

    /// This instant, `by` earlier.
    pub fn minus(self, by: std::time::Duration) -> Self {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        Self(
            self.0
                .checked_sub_signed(by)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
    }

    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Fixed width (`2026-02-01T15:30:00.000000000Z`), so text order is time order: for sort keys.
    pub fn sortable(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_utc_date_time_prints_as_it_was_written() {
        assert_eq!(
            Timestamp::parse("2026-01-28T10:00:00Z")
                .unwrap()
                .to_string(),
            "2026-01-28T10:00:00Z"
        );
        assert_eq!(
            Timestamp::parse("2026-01-28T10:00:00.5Z")
                .unwrap()
                .to_string(),
            "2026-01-28T10:00:00.500Z"
        );
    }

    #[test]
    fn an_offset_is_converted_to_utc() {
        assert_eq!(
            Timestamp::parse("2026-01-28T07:00:00-03:00")
                .unwrap()
                .to_string(),
            "2026-01-28T10:00:00Z"
        );
        assert_eq!(
            Timestamp::parse("2026-01-28T12:30:00+02:30")
                .unwrap()
                .to_string(),
            "2026-01-28T10:00:00Z"
        );
    }

    #[test]
    fn a_date_time_without_a_zone_or_not_a_date_time_is_rejected() {
        for bad in [
            "2026-01-28T10:00:00",
            "2026-01-28",
            "10:00:00Z",
            "yesterday",
            "",
            "2026-13-01T00:00:00Z",
            "1738058400",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:00:00-05:00",
        ] {
            assert_eq!(
                Timestamp::parse(bad),
                Err(TimestampError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_leap_second_is_refused_with_its_own_message() {
        for leap in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T02:59:60+03:00",
        ] {
            assert_eq!(
                Timestamp::parse(leap),
                Err(TimestampError::LeapSecond),
                "{leap}"
            );
        }
        assert_eq!(
            TimestampError::LeapSecond.to_string(),
            "converted_at cannot be a leap second (second 60)"
        );
        assert!(Timestamp::parse("2016-12-31T23:59:59.999999999Z").is_ok());
        let stored = Timestamp::from_stored("2016-12-31T23:59:60.000000000Z").unwrap();
        assert_eq!(
            stored.to_string(),
            "2016-12-31T23:59:60Z",
            "what was stored reads back"
        );
    }

    #[test]
    fn every_accepted_instant_reads_back_from_both_written_forms() {
        for text in [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "0001-01-01T00:30:00+00:30",
        ] {
            let at = Timestamp::parse(text).unwrap();
            assert_eq!(Timestamp::parse(&at.to_string()), Ok(at), "{text}");
            assert_eq!(Timestamp::parse(&at.sortable()), Ok(at), "{text}");
        }
    }

    #[test]
    fn the_sortable_form_orders_like_time() {
        let a = Timestamp::parse("2026-01-28T10:00:00Z").unwrap();
        let b = Timestamp::parse("2026-01-28T10:00:00.000000001Z").unwrap();
        let c = Timestamp::parse("2026-01-28T09:59:59.9Z").unwrap();
        assert!(a.sortable() < b.sortable());
        assert!(c.sortable() < a.sortable());
        assert_eq!(a.sortable(), "2026-01-28T10:00:00.000000000Z");
    }

    #[test]
    fn an_instant_may_be_at_most_five_minutes_ahead_of_now_and_any_time_before() {
        let now = Timestamp::parse("2026-02-01T15:30:00Z").unwrap();
        let at = |text| Timestamp::parse(text).unwrap().not_in_future(now);
        assert!(at("2026-02-01T15:35:00Z").is_ok());
        assert!(at("2026-02-01T12:35:00-03:00").is_ok());
        assert_eq!(
            at("2026-02-01T15:35:00.001Z"),
            Err(TimestampError::InFuture)
        );
        assert_eq!(at("2027-01-01T00:00:00Z"), Err(TimestampError::InFuture));
        assert!(
            at("1999-12-31T23:59:59Z").is_ok(),
            "backdating has no limit"
        );
        assert_eq!(
            TimestampError::InFuture.to_string(),
            "converted_at cannot be in the future"
        );
    }

    #[test]
    fn now_has_at_most_millisecond_precision() {
        assert_eq!(
            Timestamp::now().as_datetime().timestamp_subsec_nanos() % 1_000_000,
            0
        );
    }
}
