//! Operations as the API shows them: the operation with its summonses,
//! dispatched officers, actions and ratings, one or a filtered page.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::operations::{OPERATION_COLUMNS, OperationRow};
use super::{Context as _, StoreError};
use crate::domain::{ActionDetails, Attachment};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummonsRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub summoned_at: DateTime<Utc>,
    pub report_in_due: DateTime<Utc>,
    pub marked_late_at: Option<DateTime<Utc>>,
    pub reported_at: Option<DateTime<Utc>>,
    pub unit_id: Option<Uuid>,
    pub report_note: String,
    pub actions_recorded: i64,
    /// The unit the summons went to, if any.
    pub summoned_unit_id: Option<Uuid>,
    /// `none`, `none_on_duty` or `not_stationed`; null before on-duty units.
    pub duty_gap: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DispatchedOfficerRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub officer_id: Uuid,
    pub display_name: String,
    pub badge_number: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionRow {
    pub id: Uuid,
    pub operation_id: Uuid,
    pub agency_code: String,
    pub kind: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub summary: String,
    pub notes: String,
    pub notes_sensitive: bool,
    pub details_restricted: bool,
    pub details: Json<ActionDetails>,
    pub attachments: Json<Vec<Attachment>>,
    pub rectification_overdue_at: Option<DateTime<Utc>>,
    pub rectification_complied: Option<bool>,
}

/// An action with its rectification clock, if it is a rectification order.
const ACTION_COLUMNS: &str =
    "a.id, a.operation_id, a.agency_code, a.kind, a.recorded_by, a.recorded_at, a.summary, a.notes,
     a.notes_sensitive, a.details_restricted, a.details, a.attachments, c.overdue_at as rectification_overdue_at,
     c.complied as rectification_complied
     from actions a left join rectification_clocks c on c.order_id = a.id";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RatingRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub score: i16,
    pub comment: String,
    pub rated_by: String,
    pub rated_at: DateTime<Utc>,
}

/// An operation with everything recorded about it.
#[derive(Debug, Clone)]
pub struct OperationRecord {
    pub operation: OperationRow,
    pub summonses: Vec<SummonsRow>,
    pub officers: Vec<DispatchedOfficerRow>,
    /// Empty when loaded for a list.
    pub actions: Vec<ActionRow>,
    pub ratings: Vec<RatingRow>,
}

impl OperationRecord {
    /// The division the operation is placed in: its block, or its
    /// subdistrict when the block is not known.
    pub fn place(&self) -> &str {
        self.operation
            .block_code
            .as_deref()
            .unwrap_or(&self.operation.subdistrict_code)
    }

    /// The agency codes summoned, in summoning order.
    pub fn summoned(&self) -> Vec<&str> {
        self.summonses
            .iter()
            .map(|summons| summons.agency_code.as_str())
            .collect()
    }
}

async fn summonses_of(
    connection: &mut PgConnection,
    operations: &[Uuid],
) -> Result<Vec<SummonsRow>, sqlx::Error> {
    sqlx::query_as(
        "select s.operation_id, s.agency_code, s.summoned_at, s.report_in_due, s.marked_late_at,
                s.reported_at, s.unit_id, s.report_note, s.summoned_unit_id, s.duty_gap,
                (select count(*) from actions a
                  where a.operation_id = s.operation_id and a.agency_code = s.agency_code) as actions_recorded
         from summonses s
         where s.operation_id = any($1)
         order by s.operation_id, s.position",
    )
    .bind(operations)
    .fetch_all(connection)
    .await
}

async fn dispatched_officers_of(
    connection: &mut PgConnection,
    operations: &[Uuid],
) -> Result<Vec<DispatchedOfficerRow>, sqlx::Error> {
    sqlx::query_as(
        "select d.operation_id, d.agency_code, d.officer_id, o.display_name, o.badge_number
         from summons_officers d join officers o on o.id = d.officer_id
         where d.operation_id = any($1)
         order by d.operation_id, d.agency_code, o.badge_number",
    )
    .bind(operations)
    .fetch_all(connection)
    .await
}

async fn ratings_of(
    connection: &mut PgConnection,
    operations: &[Uuid],
) -> Result<Vec<RatingRow>, sqlx::Error> {
    sqlx::query_as(
        "select operation_id, agency_code, score, comment, rated_by, rated_at
         from ratings where operation_id = any($1)
         order by operation_id, rated_at",
    )
    .bind(operations)
    .fetch_all(connection)
    .await
}

async fn actions_of(
    connection: &mut PgConnection,
    operation: Uuid,
) -> Result<Vec<ActionRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(ACTION_COLUMNS);
    query.push(" where a.operation_id = ");
    query.push_bind(operation);
    query.push(" order by a.recorded_at, a.id");
    query.build_query_as().fetch_all(connection).await
}

/// Attaches summonses, officers, ratings (and actions, when asked) to
/// operation rows, keeping their order.
async fn complete(
    connection: &mut PgConnection,
    operations: Vec<OperationRow>,
    with_actions: bool,
) -> Result<Vec<OperationRecord>, sqlx::Error> {
    let ids: Vec<Uuid> = operations.iter().map(|operation| operation.id).collect();
    let summonses = summonses_of(&mut *connection, &ids).await?;
    let officers = dispatched_officers_of(&mut *connection, &ids).await?;
    let ratings = ratings_of(&mut *connection, &ids).await?;
    let mut records = Vec::with_capacity(operations.len());
    for operation in operations {
        let id = operation.id;
        let actions = if with_actions {
            actions_of(&mut *connection, id).await?
        } else {
            Vec::new()
        };
        records.push(OperationRecord {
            summonses: summonses
                .iter()
                .filter(|row| row.operation_id == id)
                .cloned()
                .collect(),
            officers: officers
                .iter()
                .filter(|row| row.operation_id == id)
                .cloned()
                .collect(),
            ratings: ratings
                .iter()
                .filter(|row| row.operation_id == id)
                .cloned()
                .collect(),
            actions,
            operation,
        });
    }
    Ok(records)
}

/// The whole operation, or `None`.
pub async fn load_operation(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<OperationRecord>, StoreError> {
    const CONTEXT: &str = "reading the operation";
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.id = ");
    query.push_bind(id);
    let row: Option<OperationRow> = query
        .build_query_as()
        .fetch_optional(&mut *connection)
        .await
        .context(CONTEXT)?;
    match row {
        None => Ok(None),
        Some(row) => Ok(complete(connection, vec![row], true)
            .await
            .context(CONTEXT)?
            .pop()),
    }
}

/// The operations a caller reaches, as a list query narrows to them: the
/// same rule `Access::reaches` applies to one operation.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Every operation (a grant not limited by place or agency).
    pub everything: bool,
    /// Operations whose block (or, without one, subdistrict) code starts
    /// with one of these division codes.
    pub division_prefixes: Vec<String>,
    /// Operations that summoned this agency.
    pub agency: Option<String>,
}

/// What a list of operations is narrowed to.
pub struct OperationFilter<'a> {
    pub agency: Option<&'a str>,
    pub subdistrict_code: Option<&'a str>,
    /// What the caller may see at all.
    pub reach: &'a Reach,
    pub states: &'a [&'a str],
    pub overdue_only: bool,
    pub case_name: Option<&'a str>,
    /// Keyset: only operations with a smaller id (newest first).
    pub before: Option<Uuid>,
    pub limit: i64,
    pub now: DateTime<Utc>,
}

pub async fn list_operations(
    connection: &mut PgConnection,
    filter: &OperationFilter<'_>,
) -> Result<Vec<OperationRecord>, StoreError> {
    const CONTEXT: &str = "listing operations";
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where true");
    if !filter.reach.everything {
        query.push(" and (exists (select 1 from unnest(");
        query.push_bind(&filter.reach.division_prefixes);
        query.push("::text[]) j where starts_with(coalesce(o.block_code, o.subdistrict_code), j))");
        query.push(
            " or exists (select 1 from summonses s where s.operation_id = o.id and s.agency_code = ",
        );
        query.push_bind(filter.reach.agency.as_deref());
        query.push("))");
    }
    if let Some(agency) = filter.agency {
        query.push(" and exists (select 1 from summonses s where s.operation_id = o.id and s.agency_code = ");
        query.push_bind(agency);
        query.push(")");
    }
    if let Some(subdistrict) = filter.subdistrict_code {
        query.push(" and o.subdistrict_code = ");
        query.push_bind(subdistrict);
    }
    if !filter.states.is_empty() {
        query.push(" and o.state = any(");
        query.push_bind(filter.states);
        query.push("::text[])");
    }
    if filter.overdue_only {
        query.push(" and (exists (select 1 from summonses s where s.operation_id = o.id and s.reported_at is null and o.state = 'open' and s.report_in_due < ");
        query.push_bind(filter.now);
        query.push(") or exists (select 1 from rectification_clocks c where c.operation_id = o.id and c.overdue_at is not null and c.checked_at is null and o.state <> 'cancelled'))");
    }
    if let Some(case_name) = filter.case_name {
        query.push(" and o.case_name = ");
        query.push_bind(case_name);
    }
    if let Some(before) = filter.before {
        query.push(" and o.id < ");
        query.push_bind(before);
    }
    query.push(" order by o.id desc limit ");
    query.push_bind(filter.limit);
    let rows: Vec<OperationRow> = query
        .build_query_as()
        .fetch_all(&mut *connection)
        .await
        .context(CONTEXT)?;
    complete(connection, rows, false).await.context(CONTEXT)
}
