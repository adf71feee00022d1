//! Support plans: plans, their measures, deliveries and visits, and the
//! records of the plan aggregate (`crate::domain::support_plan`) saved in
//! order.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::people::person_visible;
use super::{Context as _, Result};
use crate::domain::support_plan::Record;

// ---------------------------------------------------------- support plans

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub person: Uuid,
    pub lead_organisation: String,
    pub referral: Option<Uuid>,
    pub case_name: Option<String>,
    pub assessment: Option<Uuid>,
    pub goal: String,
    pub state: String,
    pub review_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: String,
}

pub(super) const PLAN_SELECT: &str = "
    select s.id, s.person, s.lead_organisation, s.referral, f.case_name, s.assessment, s.goal, s.state,
           s.review_at, s.created_by, s.created_at, s.closed_at, s.close_note
    from support_plans s left join referrals f on f.id = s.referral";

pub async fn get_plan(connection: &mut PgConnection, id: Uuid) -> Result<Option<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PLAN_SELECT} where s.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a support plan")
}

/// Locks the plan for the rest of the transaction.
pub async fn lock_plan(connection: &mut PgConnection, id: Uuid) -> Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from support_plans where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await
            .context("locking a support plan")?;
    Ok(locked.is_some())
}

pub struct NewPlan<'a> {
    pub id: Uuid,
    pub person: Uuid,
    pub lead_organisation: &'a str,
    pub referral: Option<Uuid>,
    pub assessment: Option<Uuid>,
    pub goal: &'a str,
    pub review_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
}

pub async fn insert_plan(connection: &mut PgConnection, plan: &NewPlan<'_>) -> Result<()> {
    sqlx::query(
        "insert into support_plans (id, person, lead_organisation, referral, assessment, goal, review_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(plan.id)
    .bind(plan.person)
    .bind(plan.lead_organisation)
    .bind(plan.referral)
    .bind(plan.assessment)
    .bind(plan.goal)
    .bind(plan.review_at)
    .bind(plan.created_by)
    .execute(connection)
    .await.context("creating a support plan")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct PlanFilter {
    /// Organisation whose involvement limits the result.
    pub visible_to: String,
    pub person: Option<Uuid>,
    pub organisation: Option<String>,
    pub state: Option<String>,
    pub after: Option<Uuid>,
}

pub async fn list_plans(
    connection: &mut PgConnection,
    filter: &PlanFilter,
    limit: i64,
) -> Result<Vec<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PLAN_SELECT}
         where {visible}
           and ($2::uuid is null or s.person = $2)
           and ($3::text is null or s.lead_organisation = $3
                or exists (select 1 from support_measures m where m.plan = s.id and m.organisation = $3))
           and ($4::text is null or s.state = $4)
           and ($5::uuid is null or s.id > $5)
         order by s.id limit $6",
        visible = person_visible("s.person", 1)
    )))
    .bind(&filter.visible_to)
    .bind(filter.person)
    .bind(&filter.organisation)
    .bind(&filter.state)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing support plans")
}

// --------------------------------------------------------------- measures

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeasureRow {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: String,
    pub kind: String,
    pub description: String,
    pub due_at: Option<DateTime<Utc>>,
    pub state: String,
    pub committed_by: String,
    pub committed_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const MEASURE_COLUMNS: &str = "id, plan, organisation, kind, description, due_at, state, committed_by, committed_at, completed_at";

pub async fn measures(connection: &mut PgConnection, plans: &[Uuid]) -> Result<Vec<MeasureRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEASURE_COLUMNS} from support_measures where plan = any($1) order by plan, position"
    )))
    .bind(plans)
    .fetch_all(connection)
    .await
    .context("reading measures")
}

pub async fn get_measure(connection: &mut PgConnection, id: Uuid) -> Result<Option<MeasureRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEASURE_COLUMNS} from support_measures where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a measure")
}

pub struct NewMeasure<'a> {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub due_at: Option<DateTime<Utc>>,
    pub committed_by: &'a str,
}

/// Appends a measure to the plan (its position follows the last one).
pub async fn insert_measure(connection: &mut PgConnection, measure: &NewMeasure<'_>) -> Result<()> {
    sqlx::query(
        "insert into support_measures (id, plan, position, organisation, kind, description, due_at, committed_by)
         values ($1, $2, (select coalesce(max(position), 0) + 1 from support_measures where plan = $2),
                 $3, $4, $5, $6, $7)",
    )
    .bind(measure.id)
    .bind(measure.plan)
    .bind(measure.organisation)
    .bind(measure.kind)
    .bind(measure.description)
    .bind(measure.due_at)
    .bind(measure.committed_by)
    .execute(connection)
    .await.context("committing a measure")?;
    Ok(())
}

pub async fn complete_measure(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("update support_measures set state = 'delivered', completed_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await
        .context("completing a measure")?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub measure: Uuid,
    pub delivered_by: String,
    pub delivered_at: DateTime<Utc>,
    pub description: String,
    pub amount_fen: i64,
    pub completes_measure: bool,
}

pub async fn deliveries(
    connection: &mut PgConnection,
    measures: &[Uuid],
) -> Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "select measure, delivered_by, delivered_at, description, amount_fen, completes_measure
         from deliveries where measure = any($1) order by delivered_at, id",
    )
    .bind(measures)
    .fetch_all(connection)
    .await
    .context("reading deliveries")
}

pub struct NewDelivery<'a> {
    pub measure: Uuid,
    pub organisation: &'a str,
    pub delivered_by: &'a str,
    pub delivered_at: DateTime<Utc>,
    pub description: &'a str,
    pub amount_fen: i64,
    pub completes_measure: bool,
}

pub async fn insert_delivery(
    connection: &mut PgConnection,
    delivery: &NewDelivery<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into deliveries (id, measure, organisation, delivered_by, delivered_at, description, amount_fen, completes_measure)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(delivery.measure)
    .bind(delivery.organisation)
    .bind(delivery.delivered_by)
    .bind(delivery.delivered_at)
    .bind(delivery.description)
    .bind(delivery.amount_fen)
    .bind(delivery.completes_measure)
    .execute(connection)
    .await.context("recording a delivery")?;
    Ok(())
}

// ----------------------------------------------------------------- visits

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: String,
    pub visited_by: String,
    pub kind: String,
    pub visited_at: DateTime<Utc>,
    pub notes: String,
}

pub(super) const VISIT_COLUMNS: &str =
    "id, plan, organisation, visited_by, kind, visited_at, notes";

pub async fn get_visit(connection: &mut PgConnection, id: Uuid) -> Result<Option<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIT_COLUMNS} from visits where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a visit")
}

pub struct NewVisit<'a> {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: &'a str,
    pub visited_by: &'a str,
    pub kind: &'a str,
    pub visited_at: DateTime<Utc>,
    pub notes: &'a str,
}

pub async fn insert_visit(connection: &mut PgConnection, visit: &NewVisit<'_>) -> Result<VisitRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into visits (id, plan, organisation, visited_by, kind, visited_at, notes)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning {VISIT_COLUMNS}"
    )))
    .bind(visit.id)
    .bind(visit.plan)
    .bind(visit.organisation)
    .bind(visit.visited_by)
    .bind(visit.kind)
    .bind(visit.visited_at)
    .bind(visit.notes)
    .fetch_one(connection)
    .await
    .context("logging a visit")
}

pub async fn list_visits(
    connection: &mut PgConnection,
    plan: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIT_COLUMNS} from visits where plan = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    )))
    .bind(plan)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing visits")
}

/// Saves what the plan aggregate did, in order, in the caller's
/// transaction.
pub async fn save(connection: &mut PgConnection, plan: Uuid, records: &[Record]) -> Result<()> {
    for record in records {
        match record {
            Record::MeasureCommitted {
                measure,
                committed_by,
            } => {
                insert_measure(
                    connection,
                    &NewMeasure {
                        id: measure.id,
                        plan,
                        organisation: &measure.organisation,
                        kind: measure.kind.as_str(),
                        description: &measure.description,
                        due_at: measure.due_at,
                        committed_by,
                    },
                )
                .await?;
            }
            Record::Delivered {
                measure,
                organisation,
                delivered_by,
                delivered_at,
                description,
                amount_fen,
                completes_measure,
                ..
            } => {
                insert_delivery(
                    connection,
                    &NewDelivery {
                        measure: *measure,
                        organisation,
                        delivered_by,
                        delivered_at: *delivered_at,
                        description,
                        amount_fen: *amount_fen,
                        completes_measure: *completes_measure,
                    },
                )
                .await?;
            }
            Record::MeasureCompleted { measure, at } => {
                complete_measure(connection, *measure, *at).await?;
            }
            Record::VisitLogged {
                id,
                organisation,
                visited_by,
                kind,
                visited_at,
                notes,
            } => {
                insert_visit(
                    connection,
                    &NewVisit {
                        id: *id,
                        plan,
                        organisation,
                        visited_by,
                        kind: kind.as_str(),
                        visited_at: *visited_at,
                        notes,
                    },
                )
                .await?;
            }
            Record::MeasureWithdrawn { measure } => {
                sqlx::query("update support_measures set state = 'withdrawn' where id = $1")
                    .bind(measure)
                    .execute(&mut *connection)
                    .await
                    .context("withdrawing a measure")?;
            }
            Record::Closed {
                state, note, at, ..
            } => {
                sqlx::query(
                    "update support_plans set state = $2, close_note = $3, closed_at = $4 where id = $1",
                )
                .bind(plan)
                .bind(state.as_str())
                .bind(note)
                .bind(at)
                .execute(&mut *connection)
                .await
                .context("closing a support plan")?;
            }
        }
    }
    Ok(())
}
