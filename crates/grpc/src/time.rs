//! Instants on the wire: `google.protobuf.Timestamp` ⇄ `chrono::DateTime<Utc>`.
//!
//! Every service sends and receives times as protobuf timestamps and works
//! with chrono inside, so the conversion lives here once. Reading refuses
//! what the protobuf specification calls invalid (nanos outside
//! `0..=999_999_999`, instants outside 0001-01-01 to 9999-12-31 UTC) instead
//! of guessing, and says which of the two is wrong; name the field with
//! [`crate::error::ForField`]:
//!
//! ```
//! use flatgov_grpc::error::ForField as _;
//! use flatgov_grpc::time;
//!
//! let at = prost_types::Timestamp { seconds: 1_764_316_800, nanos: 0 };
//! let instant = time::instant(&at).for_field("at").expect("a valid instant");
//! assert_eq!(time::timestamp(instant), at);
//! ```
//!
//! Rules of a service's domain (no instant before 1900, none in the future,
//! truncation to the database's microseconds) stay in the service, applied
//! to the instant this returns.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// `0001-01-01T00:00:00Z`, the earliest instant a protobuf timestamp may hold.
pub const EARLIEST_SECONDS: i64 = -62_135_596_800;
/// `9999-12-31T23:59:59Z`, the last whole second a protobuf timestamp may hold.
pub const LATEST_SECONDS: i64 = 253_402_300_799;

/// Why a protobuf timestamp is not an instant. The message reads after a
/// field name: `at: nanos -1 is outside 0..=999999999`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTimestamp {
    /// The fraction of a second is negative or a whole second or more.
    #[error("nanos {nanos} is outside 0..=999999999")]
    Nanos { nanos: i32 },
    /// The seconds fall outside the years 0001 to 9999.
    #[error("{seconds} seconds is outside the years 0001 to 9999")]
    OutOfRange { seconds: i64 },
}

/// The protobuf timestamp of an instant.
pub fn timestamp(instant: DateTime<Utc>) -> Timestamp {
    // chrono marks a leap second with nanos of 10⁹ or more; protobuf has no
    // leap seconds, so such an instant is the last nanosecond before it.
    let nanos = instant.timestamp_subsec_nanos().min(999_999_999);
    Timestamp {
        seconds: instant.timestamp(),
        nanos: i32::try_from(nanos).unwrap_or(999_999_999),
    }
}

/// The protobuf timestamp of an instant that may be absent (`None` stays
/// unset on the wire).
pub fn optional_timestamp(instant: Option<DateTime<Utc>>) -> Option<Timestamp> {
    instant.map(timestamp)
}

/// The instant a protobuf timestamp holds, if it is a valid one.
pub fn instant(timestamp: &Timestamp) -> Result<DateTime<Utc>, InvalidTimestamp> {
    let nanos = u32::try_from(timestamp.nanos)
        .ok()
        .filter(|nanos| *nanos <= 999_999_999)
        .ok_or(InvalidTimestamp::Nanos {
            nanos: timestamp.nanos,
        })?;
    let out_of_range = InvalidTimestamp::OutOfRange {
        seconds: timestamp.seconds,
    };
    if !(EARLIEST_SECONDS..=LATEST_SECONDS).contains(&timestamp.seconds) {
        return Err(out_of_range);
    }
    DateTime::from_timestamp(timestamp.seconds, nanos).ok_or(out_of_range)
}

/// The instant of a timestamp field that may be unset: `None` when it is.
pub fn optional_instant(
    timestamp: Option<&Timestamp>,
) -> Result<Option<DateTime<Utc>>, InvalidTimestamp> {
    timestamp.map(instant).transpose()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn an_instant_survives_the_round_trip_to_the_nanosecond() {
        let instant_with_nanos = Utc
            .timestamp_opt(1_764_316_800, 123_456_789)
            .single()
            .expect("valid");
        assert_eq!(
            instant(&timestamp(instant_with_nanos)),
            Ok(instant_with_nanos)
        );
        let now = Utc::now();
        assert_eq!(instant(&timestamp(now)), Ok(now));
    }

    #[test]
    fn negative_nanos_or_a_whole_second_of_nanos_are_refused_naming_the_value() {
        assert_eq!(
            instant(&at(0, -1)),
            Err(InvalidTimestamp::Nanos { nanos: -1 })
        );
        // chrono would read this as a leap second; protobuf has none.
        let error = instant(&at(59, 1_000_000_000)).expect_err("a whole second of nanos");
        assert_eq!(
            error.to_string(),
            "nanos 1000000000 is outside 0..=999999999"
        );
        assert!(instant(&at(0, 999_999_999)).is_ok());
    }

    #[test]
    fn instants_outside_the_years_1_to_9999_are_refused_though_chrono_could_hold_them() {
        assert!(instant(&at(EARLIEST_SECONDS, 0)).is_ok());
        assert!(instant(&at(LATEST_SECONDS, 999_999_999)).is_ok());
        assert_eq!(
            instant(&at(EARLIEST_SECONDS - 1, 0)),
            Err(InvalidTimestamp::OutOfRange {
                seconds: EARLIEST_SECONDS - 1
            })
        );
        let error = instant(&at(LATEST_SECONDS + 1, 0)).expect_err("year 10000");
        assert!(error.to_string().contains("outside the years 0001 to 9999"));
        assert!(instant(&at(i64::MAX, 0)).is_err());
    }

    #[test]
    fn the_range_constants_are_the_first_and_last_second_of_the_years_1_to_9999() {
        let earliest = DateTime::from_timestamp(EARLIEST_SECONDS, 0).expect("valid");
        assert_eq!(earliest.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        let latest = DateTime::from_timestamp(LATEST_SECONDS, 0).expect("valid");
        assert_eq!(latest.to_rfc3339(), "9999-12-31T23:59:59+00:00");
    }

    #[test]
    fn a_leap_second_goes_on_the_wire_as_the_nanosecond_before_the_next_second() {
        let leap = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("leap second");
        let wire = timestamp(leap);
        assert_eq!(wire, at(1_483_228_799, 999_999_999));
        assert!(instant(&wire).is_ok());
    }

    #[test]
    fn an_unset_field_is_none_and_a_set_one_is_checked() {
        assert_eq!(optional_instant(None), Ok(None));
        assert!(optional_instant(Some(&at(0, -5))).is_err());
        assert_eq!(optional_timestamp(None), None);
        let epoch = DateTime::from_timestamp(0, 0).expect("epoch");
        assert_eq!(optional_instant(Some(&at(0, 0))), Ok(Some(epoch)));
        assert_eq!(optional_timestamp(Some(epoch)), Some(at(0, 0)));
    }
}
