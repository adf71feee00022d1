//! Duty rosters (shifts of a unit and their officers) and the units a
//! summons can go to.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Context as _, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShiftRow {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub agency_code: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub note: String,
    pub created_at: DateTime<Utc>,
    /// The officers on duty in the shift, sorted.
    pub officers: Vec<Uuid>,
}

const SHIFT_COLUMNS: &str =
    "s.id, s.unit_id, s.agency_code, s.starts_at, s.ends_at, s.note, s.created_at,
     coalesce((select array_agg(o.officer_id order by o.officer_id) from duty_shift_officers o
                where o.shift_id = s.id), '{}') as officers";

/// A shift to roster.
pub struct NewShift<'a> {
    pub id: Uuid,
    pub unit_id: Uuid,
    pub agency: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub officers: &'a [Uuid],
    pub note: &'a str,
    pub created_by: &'a str,
    pub now: DateTime<Utc>,
}

/// Locks the unit's roster for the rest of the transaction (its unit row),
/// so two shifts rostered at once cannot both pass the overlap check.
/// `None` when the unit does not exist.
pub async fn lock_roster(
    connection: &mut PgConnection,
    agency: &str,
    unit: Uuid,
) -> Result<Option<bool>, StoreError> {
    sqlx::query_scalar("select active from units where agency_code = $1 and id = $2 for update")
        .bind(agency)
        .bind(unit)
        .fetch_optional(connection)
        .await
        .context("locking the unit's roster")
}

/// The unit's shift that overlaps `[starts_at, ends_at)`, if any.
pub async fn overlapping_shift(
    connection: &mut PgConnection,
    unit: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<Option<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select id from duty_shifts
         where unit_id = $1 and starts_at < $3 and ends_at > $2
         order by starts_at limit 1",
    )
    .bind(unit)
    .bind(starts_at)
    .bind(ends_at)
    .fetch_optional(connection)
    .await
    .context("checking the roster for overlaps")
}

pub async fn insert_shift(
    connection: &mut PgConnection,
    shift: &NewShift<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into duty_shifts (id, unit_id, agency_code, starts_at, ends_at, note, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(shift.id)
    .bind(shift.unit_id)
    .bind(shift.agency)
    .bind(shift.starts_at)
    .bind(shift.ends_at)
    .bind(shift.note)
    .bind(shift.created_by)
    .bind(shift.now)
    .execute(&mut *connection)
    .await
    .context("rostering a shift")?;
    sqlx::query(
        "insert into duty_shift_officers (shift_id, officer_id)
         select $1, unnest($2::uuid[])",
    )
    .bind(shift.id)
    .bind(shift.officers)
    .execute(connection)
    .await
    .context("rostering a shift's officers")?;
    Ok(())
}

pub async fn get_shift(
    connection: &mut PgConnection,
    unit: Uuid,
    id: Uuid,
) -> Result<Option<ShiftRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SHIFT_COLUMNS} from duty_shifts s where s.unit_id = $1 and s.id = $2"
    )))
    .bind(unit)
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a shift")
}

/// Removes a shift from the roster.
pub async fn delete_shift(connection: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("delete from duty_shift_officers where shift_id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await
        .context("removing a shift")?;
    sqlx::query("delete from duty_shifts where id = $1")
        .bind(id)
        .execute(connection)
        .await
        .context("removing a shift")?;
    Ok(())
}

/// The unit's shifts ending after `end_after`, by start; after the shift
/// `after` (the page token's) when given.
pub async fn list_shifts(
    connection: &mut PgConnection,
    unit: Uuid,
    end_after: DateTime<Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ShiftRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SHIFT_COLUMNS} from duty_shifts s
         where s.unit_id = $1 and s.ends_at > $2
           and ($3::uuid is null
                or (s.starts_at, s.id) > (select p.starts_at, p.id from duty_shifts p where p.id = $3))
         order by s.starts_at, s.id
         limit $4"
    )))
    .bind(unit)
    .bind(end_after)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing shifts")
}

/// The units the named officers belong to at `at`: their own unit, and
/// every unit on whose shift running at `at` they are.
pub async fn units_of_officers(
    connection: &mut PgConnection,
    officers: &[Uuid],
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select unit_id from officers where id = any($1) and unit_id is not null
         union
         select s.unit_id from duty_shifts s join duty_shift_officers o on o.shift_id = s.id
          where o.officer_id = any($1) and s.starts_at <= $2 and s.ends_at > $2",
    )
    .bind(officers)
    .bind(at)
    .fetch_all(connection)
    .await
    .context("reading the officers' units")
}

/// An active unit of a summoned agency that could take a summons to
/// `subdistrict` at `at`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CandidateRow {
    pub id: Uuid,
    pub agency_code: String,
    pub stationed_here: bool,
    pub on_duty: bool,
    pub duty_desk: bool,
}

/// The active units of `agencies` stationed in `subdistrict` or serving
/// as their agency's duty desk, with whether each is on duty at `at`, in
/// a stable order (a unit on a running shift before one only marked on
/// duty, then by id).
pub async fn summons_candidates(
    connection: &mut PgConnection,
    agencies: &[String],
    subdistrict: &str,
    at: DateTime<Utc>,
) -> Result<Vec<CandidateRow>, StoreError> {
    sqlx::query_as(
        "select u.id, u.agency_code,
                coalesce(u.stationed_subdistrict_code = $2, false) as stationed_here,
                (u.on_duty or r.id is not null) as on_duty,
                u.duty_desk
         from units u
         left join lateral (select s.id from duty_shifts s
                             where s.unit_id = u.id and s.starts_at <= $3 and s.ends_at > $3
                             limit 1) r on true
         where u.active and u.agency_code = any($1)
           and (u.stationed_subdistrict_code = $2 or u.duty_desk)
         order by (r.id is null), u.id",
    )
    .bind(agencies)
    .bind(subdistrict)
    .bind(at)
    .fetch_all(connection)
    .await
    .context("finding the units on duty")
}
