//! Intake's SQL: the lock that serialises reports of one matter in one area, the
//! "me too" candidates and the reports linked to an open case.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::geo::GeoPoint;
use crate::domain::values::CaseId;

use super::Contact;

/// Serialises intake around the same matter in the same area, so two simultaneous
/// reports of one broken lamp do not both become new work. `keys` are the grid cells the
/// "me too" search box touches; they are taken in order, so no two intakes deadlock.
pub async fn lock_intake_cells(
    connection: &mut PgConnection,
    keys: &[i64],
) -> Result<(), sqlx::Error> {
    // One round trip; `order by` takes the locks in key order.
    sqlx::query("select pg_advisory_xact_lock(key) from unnest($1::bigint[]) as key order by key")
        .bind(keys)
        .execute(connection)
        .await?;
    Ok(())
}

/// Open cases of `matter` inside the box and reported within the window of `at`.
pub async fn me_too_candidates(
    connection: &mut PgConnection,
    matter: &str,
    (south, west, north, east): (f64, f64, f64, f64),
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
) -> Result<Vec<(Uuid, String, f64, f64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "select id, state, latitude, longitude, reported_at from cases
         where matter_code = $1 and state <> 'closed' and latitude is not null
           and latitude between $2 and $3 and longitude between $4 and $5
           and reported_at between $6 and $7
         limit 200",
    )
    .bind(matter)
    .bind(south)
    .bind(north)
    .bind(west)
    .bind(east)
    .bind(earliest)
    .bind(latest)
    .fetch_all(connection)
    .await
}

/// A report linked to an open case as "me too".
pub struct MeTooReport<'a> {
    pub id: Uuid,
    pub case_id: CaseId,
    pub channel: &'a str,
    pub location: GeoPoint,
    pub description: &'a str,
    pub attachments: &'a [String],
    pub contact: Option<&'a Contact>,
    pub anonymous: bool,
    pub submitted_by: &'a str,
    pub reporter_subject: Option<&'a str>,
    pub reported_at: DateTime<Utc>,
}

pub async fn insert_me_too_report(
    connection: &mut PgConnection,
    report: &MeTooReport<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into me_too_reports (id, case_id, channel, latitude, longitude, description, attachments,
             contact_name, contact_phone, anonymous, submitted_by, reporter_subject, reported_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(report.id)
    .bind(report.case_id.as_uuid())
    .bind(report.channel)
    .bind(report.location.latitude())
    .bind(report.location.longitude())
    .bind(report.description)
    .bind(report.attachments)
    .bind(report.contact.map(|contact| contact.name.clone()))
    .bind(report.contact.map(|contact| contact.phone.clone()))
    .bind(report.anonymous)
    .bind(report.submitted_by)
    .bind(report.reporter_subject)
    .bind(report.reported_at)
    .execute(connection)
    .await?;
    Ok(())
}
