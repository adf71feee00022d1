//! Indicators per organisation over a period `[from, to)`, computed from
//! the recorded facts. Each query groups by organisation; the grouping set
//! `()` adds the federation-wide row (organisation null) where a sum of the
//! organisations' rows would be wrong (distinct people, percentiles).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};

/// Counts by organisation.
pub type Counts = HashMap<String, i64>;

async fn counts(
    connection: &mut PgConnection,
    sql: &'static str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    let rows: Vec<(String, i64)> = sqlx::query_as(sql)
        .bind(from)
        .bind(to)
        .fetch_all(connection)
        .await
        .context("computing indicators")?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Default, Clone, sqlx::FromRow)]
pub struct ActivityCounts {
    /// `None` for the federation-wide row, where an activity co-organised
    /// by several organisations counts once.
    pub organisation: Option<String>,
    pub held: i64,
    pub led: i64,
    pub registrations: i64,
    pub attendance: i64,
}

pub async fn activities(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ActivityCounts>> {
    sqlx::query_as(
        "with held as (
             select a.id, a.lead_organisation,
                    (select count(*) from registrations r
                     where r.activity = a.id and r.status in ('confirmed', 'attended')) as registrations,
                    (select count(*) from registrations r
                     where r.activity = a.id and r.status = 'attended') as attendance
             from activities a
             where a.state = 'held' and a.held_at >= $1 and a.held_at < $2
         ), involvement as (
             select id, lead_organisation as organisation, true as led, registrations, attendance from held
             union all
             select h.id, c.organisation, false, h.registrations, h.attendance
             from held h join activity_co_organisers c on c.activity = h.id
         )
         select organisation,
                count(*) as held,
                count(*) filter (where led) as led,
                coalesce(sum(registrations), 0)::bigint as registrations,
                coalesce(sum(attendance), 0)::bigint as attendance
         from involvement group by organisation
         union all
         select null, count(*), count(*), coalesce(sum(registrations), 0)::bigint,
                coalesce(sum(attendance), 0)::bigint
         from held",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await
    .context("computing indicators")
}

/// Distinct people who received a delivery, per delivering organisation;
/// the `None` key is the federation-wide count.
pub async fn people_supported(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<Option<String>, i64>> {
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
        "select d.organisation, count(distinct s.person)
         from deliveries d
         join support_measures m on m.id = d.measure
         join support_plans s on s.id = m.plan
         where d.delivered_at >= $1 and d.delivered_at < $2
         group by grouping sets ((d.organisation), ())",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await
    .context("computing indicators")?;
    Ok(rows.into_iter().collect())
}

pub async fn measures_committed(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select organisation, count(*) from support_measures
         where committed_at >= $1 and committed_at < $2 group by organisation",
        from,
        to,
    )
    .await
}

pub async fn measures_delivered(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select organisation, count(*) from support_measures
         where state = 'delivered' and completed_at >= $1 and completed_at < $2 group by organisation",
        from,
        to,
    )
    .await
}

pub async fn plans_led(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select lead_organisation, count(*) from support_plans
         where created_at >= $1 and created_at < $2 group by lead_organisation",
        from,
        to,
    )
    .await
}

#[derive(Debug, Default, Clone, sqlx::FromRow)]
pub struct ReferralCounts {
    /// `None` for the federation-wide row.
    pub organisation: Option<String>,
    pub accepted: i64,
    pub declined: i64,
    pub mean_seconds_to_accept: Option<f64>,
    pub p90_seconds_to_accept: Option<f64>,
}

/// Referrals decided in the period, by the deciding organisation.
pub async fn referrals(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ReferralCounts>> {
    sqlx::query_as(
        "select organisation,
                count(*) filter (where state = 'accepted') as accepted,
                count(*) filter (where state = 'declined') as declined,
                (avg(extract(epoch from decided_at - referred_at))
                     filter (where state = 'accepted'))::float8 as mean_seconds_to_accept,
                (percentile_cont(0.9) within group (order by extract(epoch from decided_at - referred_at))
                     filter (where state = 'accepted'))::float8 as p90_seconds_to_accept
         from referrals
         where decided_at >= $1 and decided_at < $2
         group by grouping sets ((organisation), ())",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await
    .context("computing indicators")
}

pub async fn rights_received(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select organisation, count(*) from rights_requests
         where received_at >= $1 and received_at < $2 group by organisation",
        from,
        to,
    )
    .await
}

#[derive(Debug, Default, Clone, sqlx::FromRow)]
pub struct RightsCounts {
    pub organisation: String,
    pub resolved: i64,
    pub closed: i64,
    pub total_seconds_to_resolve: f64,
}

pub async fn rights_closed(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<RightsCounts>> {
    sqlx::query_as(
        "select organisation,
                count(*) filter (where outcome not in ('withdrawn', 'unresolved')) as resolved,
                count(*) as closed,
                coalesce(sum(extract(epoch from resolved_at - received_at)), 0)::float8 as total_seconds_to_resolve
         from rights_requests
         where state = 'resolved' and resolved_at >= $1 and resolved_at < $2
         group by organisation",
    )
    .bind(from)
    .bind(to)
    .fetch_all(connection)
    .await
    .context("computing indicators")
}

pub async fn proposals_submitted(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select drafting_organisation, count(*) from proposals
         where submitted_at >= $1 and submitted_at < $2 group by drafting_organisation",
        from,
        to,
    )
    .await
}

pub async fn proposals_co_signed(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select s.organisation, count(*) from proposal_signatures s join proposals p on p.id = s.proposal
         where p.submitted_at >= $1 and p.submitted_at < $2 group by s.organisation",
        from,
        to,
    )
    .await
}

pub async fn proposals_answered(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "select drafting_organisation, count(*) from proposals
         where answered_at >= $1 and answered_at < $2 group by drafting_organisation",
        from,
        to,
    )
    .await
}

/// Applications accepted in the period, counted for the programme's lead
/// and each co-organiser.
pub async fn applications_accepted(
    connection: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Counts> {
    counts(
        connection,
        "with accepted as (
             select a.programme from applications a
             where a.state in ('accepted', 'completed') and a.decided_at >= $1 and a.decided_at < $2
         )
         select organisation, count(*) from (
             select p.lead_organisation as organisation from accepted x join programmes p on p.id = x.programme
             union all
             select c.organisation from accepted x join programme_co_organisers c on c.programme = x.programme
         ) involved group by organisation",
        from,
        to,
    )
    .await
}

pub async fn organisation_codes(connection: &mut PgConnection) -> Result<Vec<String>> {
    sqlx::query_scalar("select code from organisations order by code")
        .fetch_all(connection)
        .await
        .context("computing indicators")
}
