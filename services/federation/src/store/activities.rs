//! Series, activities, co-organisers and registrations.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub code: String,
    pub display_name: String,
    pub display_name_en: String,
    pub organisation: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

const SERIES_COLUMNS: &str =
    "code, display_name, display_name_en, organisation, description, created_at";

pub async fn get_series(connection: &mut PgConnection, code: &str) -> Result<Option<SeriesRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SERIES_COLUMNS} from series where code = $1"
    )))
    .bind(code)
    .fetch_optional(connection)
    .await
    .context("reading a series")
}

pub async fn list_series(
    connection: &mut PgConnection,
    organisation: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SeriesRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {SERIES_COLUMNS} from series
         where ($1::text is null or organisation = $1) and ($2::text is null or code > $2)
         order by code limit $3"
    )))
    .bind(organisation)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing series")
}

/// `None` when the code is taken.
pub async fn insert_series(
    connection: &mut PgConnection,
    code: &str,
    display_name: &str,
    display_name_en: &str,
    organisation: &str,
    description: &str,
) -> Result<Option<SeriesRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into series (code, display_name, display_name_en, organisation, description)
         values ($1, $2, $3, $4, $5) on conflict (code) do nothing returning {SERIES_COLUMNS}"
    )))
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .bind(organisation)
    .bind(description)
    .fetch_optional(connection)
    .await
    .context("creating a series")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub series: Option<String>,
    pub lead_organisation: String,
    pub co_organisers: Vec<String>,
    pub block_code: Option<String>,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub audiences: Vec<String>,
    pub state: String,
    pub summary: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub held_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub attended: i64,
}

impl ActivityRow {
    /// The lead and the co-organisers.
    pub fn organisers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.lead_organisation.as_str())
            .chain(self.co_organisers.iter().map(String::as_str))
    }
}

const ACTIVITY_SELECT: &str = "
    select a.id, a.title, a.description, a.series, a.lead_organisation,
           coalesce((select array_agg(c.organisation order by c.organisation)
                     from activity_co_organisers c where c.activity = a.id), '{}') as co_organisers,
           a.block_code, a.venue, a.starts_at, a.ends_at, a.capacity, a.audiences, a.state, a.summary,
           a.created_by, a.created_at, a.published_at, a.held_at, a.cancelled_at, a.cancel_reason,
           (select count(*) from registrations r
            where r.activity = a.id and r.status in ('confirmed', 'attended')) as confirmed,
           (select count(*) from registrations r
            where r.activity = a.id and r.status = 'waitlisted') as waitlisted,
           (select count(*) from registrations r
            where r.activity = a.id and r.status = 'attended') as attended
    from activities a";

pub async fn get_activity(connection: &mut PgConnection, id: Uuid) -> Result<Option<ActivityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ACTIVITY_SELECT} where a.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an activity")
}

/// Locks the activity row for the rest of the transaction: registrations,
/// cancellations and check-ins of one activity happen one at a time, so
/// capacity is never exceeded.
pub async fn lock_activity(connection: &mut PgConnection, id: Uuid) -> Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from activities where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await
            .context("locking an activity")?;
    Ok(locked.is_some())
}

pub struct NewActivity<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub series: Option<&'a str>,
    pub lead_organisation: &'a str,
    pub block_code: Option<&'a str>,
    pub venue: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub audiences: &'a [String],
    pub created_by: &'a str,
}

pub async fn insert_activity(
    connection: &mut PgConnection,
    activity: &NewActivity<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into activities (id, title, description, series, lead_organisation, block_code,
                                 venue, starts_at, ends_at, capacity, audiences, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(activity.id)
    .bind(activity.title)
    .bind(activity.description)
    .bind(activity.series)
    .bind(activity.lead_organisation)
    .bind(activity.block_code)
    .bind(activity.venue)
    .bind(activity.starts_at)
    .bind(activity.ends_at)
    .bind(activity.capacity)
    .bind(activity.audiences)
    .bind(activity.created_by)
    .execute(connection)
    .await
    .context("creating an activity")?;
    Ok(())
}

pub async fn insert_co_organisers(
    connection: &mut PgConnection,
    activity: Uuid,
    organisations: &[String],
) -> Result<()> {
    sqlx::query(
        "insert into activity_co_organisers (activity, organisation) select $1, unnest($2::text[])",
    )
    .bind(activity)
    .bind(organisations)
    .execute(connection)
    .await
    .context("recording co-organisers")?;
    Ok(())
}

pub async fn mark_published(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("update activities set state = 'published', published_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .context("publishing an activity")?;
    Ok(())
}

pub async fn mark_held(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    summary: &str,
) -> Result<()> {
    sqlx::query("update activities set state = 'held', held_at = $2, summary = $3 where id = $1")
        .bind(id)
        .bind(at)
        .bind(summary)
        .execute(connection)
        .await
        .context("marking an activity held")?;
    Ok(())
}

/// Cancels the activity and its live registrations; returns how many
/// registrations were cancelled.
pub async fn mark_cancelled(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<u64> {
    sqlx::query("update activities set state = 'cancelled', cancelled_at = $2, cancel_reason = $3 where id = $1")
        .bind(id)
        .bind(at)
        .bind(reason)
        .execute(&mut *connection)
        .await.context("cancelling an activity")?;
    let cancelled = sqlx::query(
        "update registrations set status = 'cancelled', cancelled_at = $2, cancel_reason = $3
         where activity = $1 and status in ('confirmed', 'waitlisted')",
    )
    .bind(id)
    .bind(at)
    .bind(format!("activity cancelled: {reason}"))
    .execute(connection)
    .await
    .context("cancelling an activity")?
    .rows_affected();
    Ok(cancelled)
}

/// Filters of the activity list.
#[derive(Debug, Default)]
pub struct ActivityFilter {
    pub organisation: Option<String>,
    pub series: Option<String>,
    pub state: Option<String>,
    /// Only these states (callers who may not see every draft)...
    pub visible_states: Option<Vec<String>>,
    /// ... and the drafts of activities this organisation organises.
    pub drafts_of: Option<String>,
    pub division_prefix: Option<String>,
    pub start_after: Option<DateTime<Utc>>,
    pub start_before: Option<DateTime<Utc>>,
    pub audience: Option<String>,
    /// Keyset cursor: (start, id) of the last row of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

/// Activities by start time, then id.
pub async fn list_activities(
    connection: &mut PgConnection,
    filter: &ActivityFilter,
    limit: i64,
) -> Result<Vec<ActivityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ACTIVITY_SELECT}
         where ($1::text is null or a.lead_organisation = $1
                or exists (select 1 from activity_co_organisers c where c.activity = a.id and c.organisation = $1))
           and ($2::text is null or a.series = $2)
           and ($3::text is null or a.state = $3)
           and ($4::text[] is null or a.state = any($4)
                or ($12::text is not null and a.state = 'draft'
                    and (a.lead_organisation = $12
                         or exists (select 1 from activity_co_organisers c
                                    where c.activity = a.id and c.organisation = $12))))
           and ($5::text is null or a.block_code like $5 || '%')
           and ($6::timestamptz is null or a.starts_at >= $6)
           and ($7::timestamptz is null or a.starts_at < $7)
           and ($8::text is null or $8 = any(a.audiences))
           and ($9::timestamptz is null or (a.starts_at, a.id) > ($9, $10))
         order by a.starts_at, a.id
         limit $11"
    )))
    .bind(&filter.organisation)
    .bind(&filter.series)
    .bind(&filter.state)
    .bind(&filter.visible_states)
    .bind(&filter.division_prefix)
    .bind(filter.start_after)
    .bind(filter.start_before)
    .bind(&filter.audience)
    .bind(filter.after.map(|(start, _)| start))
    .bind(filter.after.map(|(_, id)| id))
    .bind(limit)
    .bind(&filter.drafts_of)
    .fetch_all(connection)
    .await
    .context("listing activities")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistrationRow {
    pub id: Uuid,
    pub activity: Uuid,
    pub participant: String,
    pub participant_display_name: String,
    pub status: String,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub promoted_at: Option<DateTime<Utc>>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
    pub waitlist_position: i64,
}

const REGISTRATION_SELECT: &str = "
    select r.id, r.activity, r.participant, r.participant_display_name, r.status, r.registered_by,
           r.registered_at, r.promoted_at, r.checked_in_at, r.cancelled_at, r.cancel_reason,
           case when r.status = 'waitlisted' then
               (select count(*) from registrations w
                where w.activity = r.activity and w.status = 'waitlisted'
                  and (w.registered_at, w.id) <= (r.registered_at, r.id))
           else 0 end as waitlist_position
    from registrations r";

pub async fn get_registration(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<RegistrationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REGISTRATION_SELECT} where r.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a registration")
}

/// The participant's registration that is not cancelled, if any.
pub async fn live_registration(
    connection: &mut PgConnection,
    activity: Uuid,
    participant: &str,
) -> Result<Option<RegistrationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REGISTRATION_SELECT} where r.activity = $1 and r.participant = $2 and r.status <> 'cancelled'"
    )))
    .bind(activity)
    .bind(participant)
    .fetch_optional(connection)
    .await
    .context("reading a participant's registration")
}

/// Confirmed and attended registrations: the places taken.
pub async fn places_taken(connection: &mut PgConnection, activity: Uuid) -> Result<i64> {
    sqlx::query_scalar(
        "select count(*) from registrations where activity = $1 and status in ('confirmed', 'attended')",
    )
    .bind(activity)
    .fetch_one(connection)
    .await
    .context("counting the places taken")
}

pub struct NewRegistration<'a> {
    pub id: Uuid,
    pub activity: Uuid,
    pub participant: &'a str,
    pub participant_display_name: &'a str,
    pub status: &'a str,
    pub registered_by: &'a str,
}

pub async fn insert_registration(
    connection: &mut PgConnection,
    registration: &NewRegistration<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into registrations (id, activity, participant, participant_display_name, status,
                                    registered_by)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(registration.id)
    .bind(registration.activity)
    .bind(registration.participant)
    .bind(registration.participant_display_name)
    .bind(registration.status)
    .bind(registration.registered_by)
    .execute(connection)
    .await
    .context("recording a registration")?;
    Ok(())
}

pub async fn cancel_registration(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    sqlx::query("update registrations set status = 'cancelled', cancelled_at = $2, cancel_reason = $3 where id = $1")
        .bind(id)
        .bind(at)
        .bind(reason)
        .execute(connection)
        .await.context("cancelling a registration")?;
    Ok(())
}

/// Gives the first registration on the waitlist the freed place; returns
/// its id, or `None` when nobody waits.
pub async fn promote_first_waitlisted(
    connection: &mut PgConnection,
    activity: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<Uuid>> {
    sqlx::query_scalar(
        "update registrations set status = 'confirmed', promoted_at = $2
         where id = (select id from registrations
                     where activity = $1 and status = 'waitlisted'
                     order by registered_at, id limit 1)
         returning id",
    )
    .bind(activity)
    .bind(at)
    .fetch_optional(connection)
    .await
    .context("promoting from the waitlist")
}

pub async fn mark_attended(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("update registrations set status = 'attended', checked_in_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .context("checking in")?;
    Ok(())
}

pub async fn list_registrations(
    connection: &mut PgConnection,
    activity: Uuid,
    status: Option<&str>,
    participant: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<RegistrationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REGISTRATION_SELECT}
         where r.activity = $1 and ($2::text is null or r.status = $2) and ($3::text is null or r.participant = $3)
           and ($4::uuid is null or r.id > $4)
         order by r.id limit $5"
    )))
    .bind(activity)
    .bind(status)
    .bind(participant)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing registrations")
}
