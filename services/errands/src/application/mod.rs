//! The use cases: what each call does, from a parsed command to the errand
//! or catalogue it answers with, knowing nothing of the wire. The
//! authorization layer has already decided the caller's role; the use cases
//! check that the errand they load is within the caller's reach (else
//! NOT_FOUND), apply the track's guards, and write the change, its
//! transition, its events and its audit record in one transaction.

pub mod catalogue;
pub mod errands;
pub mod indicators;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_calendar::{WorkingCalendar, WorkingDuration};
use sqlx::{PgConnection, PgPool};

use crate::clock::Clock;
use crate::error::Error;
use crate::policy::POLICY;
use crate::store::{DatabaseContext as _, StoreError};

/// What every use case works with.
pub struct Errands {
    /// The service's own database.
    pub pool: PgPool,
    /// Now, movable in test deployments.
    pub clock: Clock,
    /// The working calendar time limits are counted on (调休 included).
    pub calendar: WorkingCalendar,
}

impl Errands {
    /// The close of business `days` working days after `start`.
    pub fn due(&self, start: DateTime<Utc>, days: u32) -> Result<DateTime<Utc>, Error> {
        let duration = WorkingDuration::days(days)
            .map_err(|error| Error::corrupt(format!("a matter's limit: {error}")))?;
        let reckoning = self
            .calendar
            .add(start, duration)
            .map_err(|error| Error::corrupt(format!("the working calendar: {error}")))?;
        if reckoning.is_provisional() {
            tracing::warn!(years = ?reckoning.years_without_data, "time limit counted on the ordinary week: no holiday file for these years");
        }
        Ok(crate::clock::truncate_to_micros(reckoning.value))
    }

    /// The working time between two instants, in hours (negative when `end`
    /// comes first).
    pub fn working_hours_between(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<f64, Error> {
        let (from, to, sign) = if end >= start {
            (start, end, 1.0)
        } else {
            (end, start, -1.0)
        };
        let reckoning = self
            .calendar
            .working_time_between(from, to)
            .map_err(|error| Error::corrupt(format!("the working calendar: {error}")))?;
        Ok(sign * reckoning.value.num_seconds() as f64 / 3600.0)
    }

    /// Working hours in one working day.
    pub fn hours_per_day(&self) -> f64 {
        self.calendar.hours().per_day().num_seconds() as f64 / 3600.0
    }
}

/// Appends the call's audit record inside the transaction that makes its
/// change, so the two commit together.
pub(crate) async fn record_audit(
    connection: &mut PgConnection,
    access: &Access,
    context: &'static str,
) -> Result<(), StoreError> {
    flatgov_grpc::authz::record_in_transaction(connection, access, POLICY.service)
        .await
        .context(context)
}

/// The caller's token subject; empty for an anonymous call.
pub(crate) fn subject(access: &Access) -> String {
    access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default()
}
