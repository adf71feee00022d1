//! The use cases: what each call does, from a parsed command to the dispute
//! it answers with, knowing nothing of the wire. The authorization layer
//! has already decided the caller's role; the use cases check that the
//! dispute they load is within the caller's reach (else NOT_FOUND), apply
//! the track's guards, and write the change, its events and its audit
//! record in one transaction.

pub mod advisers;
pub mod agreements;
pub mod disputes;
pub mod indicators;

use crate::duties::Duties;
use std::fmt;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_calendar::{WorkingCalendar, WorkingDuration, WorkingSpan};
use sqlx::{PgConnection, PgPool};

use crate::clock::Clock;
use crate::domain::Level;
use crate::error::Error;
use crate::policy::POLICY;
use crate::store::{DatabaseContext as _, StoreError};

/// What every use case works with.
pub struct Mediation {
    /// The service's own database.
    pub pool: PgPool,
    /// Now, movable in test deployments.
    pub clock: Clock,
    /// The working calendar time limits are counted on.
    pub calendar: WorkingCalendar,
    /// Each level's time limit.
    pub time_limits: TimeLimits,
    /// The duty lists, which name the competent department for
    /// administrative mediation.
    pub duties: Duties,
}

/// How long each level of mediation may take, on the working calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimits {
    /// People's mediation: generally 30 days (人民调解法 第二十八条 ff.).
    pub peoples: WorkingDuration,
    pub administrative: WorkingDuration,
    pub judicial: WorkingDuration,
}

impl Default for TimeLimits {
    /// 30 working days for people's and administrative mediation, 60 for
    /// judicial mediation.
    fn default() -> Self {
        Self {
            peoples: WorkingDuration::from_trusted_span(WorkingSpan::Days(30)),
            administrative: WorkingDuration::from_trusted_span(WorkingSpan::Days(30)),
            judicial: WorkingDuration::from_trusted_span(WorkingSpan::Days(60)),
        }
    }
}

impl fmt::Display for TimeLimits {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{},{},{}",
            self.peoples, self.administrative, self.judicial
        )
    }
}

impl TimeLimits {
    pub fn of(&self, level: Level) -> WorkingDuration {
        match level {
            Level::Peoples => self.peoples,
            Level::Administrative => self.administrative,
            Level::Judicial => self.judicial,
        }
    }
}

impl Mediation {
    /// When a stage of `level` started at `start` is due.
    pub fn due(&self, level: Level, start: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
        let reckoning = self
            .calendar
            .add(start, self.time_limits.of(level))
            .map_err(|error| Error::corrupt(format!("the working calendar: {error}")))?;
        if reckoning.is_provisional() {
            tracing::warn!(years = ?reckoning.years_without_data, "time limit counted on the ordinary week: no holiday file for these years");
        }
        Ok(crate::clock::truncate_to_micros(reckoning.value))
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
