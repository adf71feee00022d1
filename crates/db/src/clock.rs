//! The services' clock: every service takes the time from one it was given, never
//! from `Utc::now()` where it decides something, so the time a use case acts at is
//! the one it was handed.
//!
//! Production reads the system clock. A test deployment of a service that keeps the
//! `test_clock` table (the cases service, with `CASES_TEST_CONTROLS=enabled`) may move
//! it forward, so time limits of hours and days can be exercised in seconds through the
//! real calendar, the real deadline worker and the real escalation path. The offset
//! lives in the database, so every replica of the deployment converges on it: each
//! worker pass re-reads it. A service without test controls never reads the table:
//!
//! ```sql
//! create table test_clock (
//!     singleton boolean primary key default true check (singleton),
//!     offset_millis bigint not null
//! );
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

/// The current time, shifted by the test offset (always zero in production).
#[derive(Debug, Clone)]
pub struct Clock {
    /// Milliseconds added to the system clock.
    offset_millis: Arc<AtomicI64>,
    /// Whether the offset may be non-zero at all.
    test_controls: bool,
}

/// The test clock could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("test controls are disabled: the clock of this deployment cannot be moved")]
    Disabled,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Drops sub-microsecond precision: PostgreSQL keeps microseconds, and an instant must
/// compare the same in memory and in the database.
pub fn truncate_to_micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant.timestamp_micros()).unwrap_or(instant)
}

impl Clock {
    /// The system clock; movable only when `test_controls` is set (the service then
    /// keeps the `test_clock` table).
    pub fn new(test_controls: bool) -> Self {
        Self {
            offset_millis: Arc::new(AtomicI64::new(0)),
            test_controls,
        }
    }

    /// The system clock, for a service without test controls.
    pub fn system() -> Self {
        Self::new(false)
    }

    /// Now, to the microsecond.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = TimeDelta::milliseconds(self.offset_millis.load(Ordering::Relaxed));
        truncate_to_micros(Utc::now() + offset)
    }

    /// The offset from the system clock.
    pub fn offset(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.offset_millis.load(Ordering::Relaxed))
    }

    /// Re-reads the shared offset (a no-op in production).
    pub async fn refresh(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        if !self.test_controls {
            return Ok(());
        }
        let stored: Option<i64> = sqlx::query_scalar("select offset_millis from test_clock")
            .fetch_optional(pool)
            .await?;
        self.offset_millis
            .store(stored.unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }

    /// Moves the clock of every replica forward by `by`.
    pub async fn advance(&self, pool: &PgPool, by: TimeDelta) -> Result<TimeDelta, ClockError> {
        if !self.test_controls {
            return Err(ClockError::Disabled);
        }
        let offset: i64 = sqlx::query_scalar(
            "insert into test_clock (singleton, offset_millis) values (true, $1)
             on conflict (singleton) do update set offset_millis = test_clock.offset_millis + $1
             returning offset_millis",
        )
        .bind(by.num_milliseconds())
        .fetch_one(pool)
        .await?;
        self.offset_millis.store(offset, Ordering::Relaxed);
        Ok(TimeDelta::milliseconds(offset))
    }
}

/// A request together with the instant the service received it, by its [`Clock`].
///
/// Request conversions (`TryFrom<Received<proto::XRequest>> for XCommand`) stay pure: a
/// check that depends on "now" (a time a caller gives may not lie in the future; an
/// omitted time means "when it arrived") reads `at`, never the system clock, so a test
/// deployment whose clock was moved judges requests by the same time its workers use.
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The request as it arrived.
    pub request: T,
    /// When it arrived, by the service's clock.
    pub at: DateTime<Utc>,
}

impl<T> Received<T> {
    /// `request`, received now by `clock`.
    pub fn now(clock: &Clock, request: T) -> Self {
        Self::at(request, clock.now())
    }

    /// `request`, received at `at` (a time the handler already read from its clock).
    pub fn at(request: T, at: DateTime<Utc>) -> Self {
        Self { request, at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_production_clock_reads_the_system_time_to_the_microsecond() {
        let clock = Clock::new(false);
        let before = Utc::now();
        let now = clock.now();
        assert!((now - before).num_milliseconds().abs() < 1000);
        assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(clock.offset(), TimeDelta::zero());
    }
}
