//! SQL. Functions take a connection (usually a transaction); callers decide
//! where transactions begin and end, so a state change and its events
//! commit together.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{ActionDetails, Attachment};

/// The channel the deadline worker listens on; notified (at commit) when a
/// deadline is written, so the worker re-plans its sleep.
pub const DEADLINE_CHANNEL: &str = "flatgov_enforcement_deadlines";

/// Wakes the deadline workers of every replica when the transaction commits.
pub async fn notify_deadline_workers(connection: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, '')")
        .bind(DEADLINE_CHANNEL)
        .execute(connection)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- agencies

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgencyRow {
    pub code: String,
    pub display_name: String,
    pub display_name_en: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const AGENCY_COLUMNS: &str = "code, display_name, display_name_en, active, created_at, updated_at";

pub async fn insert_agency(
    connection: &mut PgConnection,
    code: &str,
    display_name: &str,
    display_name_en: &str,
    now: DateTime<Utc>,
) -> Result<AgencyRow, sqlx::Error> {
    sqlx::query_as(
        "insert into agencies (code, display_name, display_name_en, active, created_at, updated_at)
         values ($1, $2, $3, true, $4, $4)
         returning code, display_name, display_name_en, active, created_at, updated_at",
    )
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .bind(now)
    .fetch_one(connection)
    .await
}

pub async fn update_agency(
    connection: &mut PgConnection,
    code: &str,
    display_name: Option<&str>,
    display_name_en: Option<&str>,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> Result<Option<AgencyRow>, sqlx::Error> {
    sqlx::query_as(
        "update agencies set
             display_name = coalesce($2, display_name),
             display_name_en = coalesce($3, display_name_en),
             active = coalesce($4, active),
             updated_at = $5
         where code = $1
         returning code, display_name, display_name_en, active, created_at, updated_at",
    )
    .bind(code)
    .bind(display_name)
    .bind(display_name_en)
    .bind(active)
    .bind(now)
    .fetch_optional(connection)
    .await
}

pub async fn get_agency(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<AgencyRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(AGENCY_COLUMNS);
    query.push(" from agencies where code = ");
    query.push_bind(code);
    query.build_query_as().fetch_optional(connection).await
}

pub async fn list_agencies(
    connection: &mut PgConnection,
    include_inactive: bool,
    after_code: Option<&str>,
    limit: i64,
) -> Result<Vec<AgencyRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(AGENCY_COLUMNS);
    query.push(" from agencies where true");
    if !include_inactive {
        query.push(" and active");
    }
    if let Some(after) = after_code {
        query.push(" and code > ");
        query.push_bind(after);
    }
    query.push(" order by code limit ");
    query.push_bind(limit);
    query.build_query_as().fetch_all(connection).await
}

/// Active agencies, oldest first (the founding three first).
pub async fn active_agency_codes(
    connection: &mut PgConnection,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select code from agencies where active order by created_at, code")
        .fetch_all(connection)
        .await
}

/// Of `codes`, those registered, with whether each is active.
pub async fn agencies_status(
    connection: &mut PgConnection,
    codes: &[String],
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    sqlx::query_as("select code, active from agencies where code = any($1)")
        .bind(codes)
        .fetch_all(connection)
        .await
}

// ------------------------------------------------------------------- units

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitRow {
    pub id: Uuid,
    pub agency_code: String,
    pub display_name: String,
    pub stationed_subdistrict_code: Option<String>,
    pub on_duty: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const UNIT_COLUMNS: &str = "id, agency_code, display_name, stationed_subdistrict_code, on_duty, active, created_at, updated_at";

pub struct NewUnit<'a> {
    pub id: Uuid,
    pub agency: &'a str,
    pub display_name: &'a str,
    pub stationed_subdistrict_code: Option<&'a str>,
    pub on_duty: bool,
    pub now: DateTime<Utc>,
}

pub async fn insert_unit(
    connection: &mut PgConnection,
    unit: &NewUnit<'_>,
) -> Result<UnitRow, sqlx::Error> {
    sqlx::query_as(
        "insert into units (id, agency_code, display_name, stationed_subdistrict_code, on_duty, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, true, $6, $6)
         returning id, agency_code, display_name, stationed_subdistrict_code, on_duty, active, created_at, updated_at",
    )
    .bind(unit.id)
    .bind(unit.agency)
    .bind(unit.display_name)
    .bind(unit.stationed_subdistrict_code)
    .bind(unit.on_duty)
    .bind(unit.now)
    .fetch_one(connection)
    .await
}

pub struct UnitChanges<'a> {
    pub display_name: Option<&'a str>,
    /// `Some(None)` withdraws the unit from its subdistrict.
    pub stationed_subdistrict_code: Option<Option<&'a str>>,
    pub on_duty: Option<bool>,
    pub active: Option<bool>,
}

pub async fn update_unit(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
    changes: &UnitChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<UnitRow>, sqlx::Error> {
    sqlx::query_as(
        "update units set
             display_name = coalesce($3, display_name),
             stationed_subdistrict_code = case when $4 then $5 else stationed_subdistrict_code end,
             on_duty = coalesce($6, on_duty),
             active = coalesce($7, active),
             updated_at = $8
         where agency_code = $1 and id = $2
         returning id, agency_code, display_name, stationed_subdistrict_code, on_duty, active, created_at, updated_at",
    )
    .bind(agency)
    .bind(id)
    .bind(changes.display_name)
    .bind(changes.stationed_subdistrict_code.is_some())
    .bind(changes.stationed_subdistrict_code.flatten())
    .bind(changes.on_duty)
    .bind(changes.active)
    .bind(now)
    .fetch_optional(connection)
    .await
}

pub async fn get_unit(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
) -> Result<Option<UnitRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(UNIT_COLUMNS);
    query.push(" from units where agency_code = ");
    query.push_bind(agency);
    query.push(" and id = ");
    query.push_bind(id);
    query.build_query_as().fetch_optional(connection).await
}

pub struct UnitFilter<'a> {
    pub agency: Option<&'a str>,
    pub stationed_subdistrict_code: Option<&'a str>,
    pub on_duty_only: bool,
    pub include_inactive: bool,
    pub after: Option<Uuid>,
    pub limit: i64,
}

pub async fn list_units(
    connection: &mut PgConnection,
    filter: &UnitFilter<'_>,
) -> Result<Vec<UnitRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(UNIT_COLUMNS);
    query.push(" from units where true");
    if let Some(agency) = filter.agency {
        query.push(" and agency_code = ");
        query.push_bind(agency);
    }
    if let Some(subdistrict) = filter.stationed_subdistrict_code {
        query.push(" and stationed_subdistrict_code = ");
        query.push_bind(subdistrict);
    }
    if filter.on_duty_only {
        query.push(" and on_duty");
    }
    if !filter.include_inactive {
        query.push(" and active");
    }
    if let Some(after) = filter.after {
        query.push(" and id > ");
        query.push_bind(after);
    }
    query.push(" order by id limit ");
    query.push_bind(filter.limit);
    query.build_query_as().fetch_all(connection).await
}

/// Subdistricts where an active unit is stationed.
pub async fn stationed_subdistricts(
    connection: &mut PgConnection,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select distinct stationed_subdistrict_code from units
         where active and stationed_subdistrict_code is not null
         order by 1",
    )
    .fetch_all(connection)
    .await
}

// ---------------------------------------------------------------- officers

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficerRow {
    pub id: Uuid,
    pub agency_code: String,
    pub unit_id: Option<Uuid>,
    pub display_name: String,
    pub badge_number: String,
    pub phone: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const OFFICER_COLUMNS: &str =
    "id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at";

pub struct NewOfficer<'a> {
    pub id: Uuid,
    pub agency: &'a str,
    pub unit_id: Option<Uuid>,
    pub display_name: &'a str,
    pub badge_number: &'a str,
    pub phone: &'a str,
    pub now: DateTime<Utc>,
}

/// Inserts the officer. A taken badge number is a unique violation.
pub async fn insert_officer(
    connection: &mut PgConnection,
    officer: &NewOfficer<'_>,
) -> Result<OfficerRow, sqlx::Error> {
    sqlx::query_as(
        "insert into officers (id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, true, $7, $7)
         returning id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at",
    )
    .bind(officer.id)
    .bind(officer.agency)
    .bind(officer.unit_id)
    .bind(officer.display_name)
    .bind(officer.badge_number)
    .bind(officer.phone)
    .bind(officer.now)
    .fetch_one(connection)
    .await
}

pub struct OfficerChanges<'a> {
    /// `Some(None)` detaches the officer from its unit.
    pub unit_id: Option<Option<Uuid>>,
    pub display_name: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub active: Option<bool>,
}

pub async fn update_officer(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
    changes: &OfficerChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<OfficerRow>, sqlx::Error> {
    sqlx::query_as(
        "update officers set
             unit_id = case when $3 then $4 else unit_id end,
             display_name = coalesce($5, display_name),
             phone = coalesce($6, phone),
             active = coalesce($7, active),
             updated_at = $8
         where agency_code = $1 and id = $2
         returning id, agency_code, unit_id, display_name, badge_number, phone, active, created_at, updated_at",
    )
    .bind(agency)
    .bind(id)
    .bind(changes.unit_id.is_some())
    .bind(changes.unit_id.flatten())
    .bind(changes.display_name)
    .bind(changes.phone)
    .bind(changes.active)
    .bind(now)
    .fetch_optional(connection)
    .await
}

pub async fn get_officer(
    connection: &mut PgConnection,
    agency: &str,
    id: Uuid,
) -> Result<Option<OfficerRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where agency_code = ");
    query.push_bind(agency);
    query.push(" and id = ");
    query.push_bind(id);
    query.build_query_as().fetch_optional(connection).await
}

pub async fn officers_by_id(
    connection: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<OfficerRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where id = any(");
    query.push_bind(ids);
    query.push(")");
    query.build_query_as().fetch_all(connection).await
}

pub struct OfficerFilter<'a> {
    pub agency: &'a str,
    pub unit_id: Option<Uuid>,
    pub include_inactive: bool,
    pub after: Option<Uuid>,
    pub limit: i64,
}

pub async fn list_officers(
    connection: &mut PgConnection,
    filter: &OfficerFilter<'_>,
) -> Result<Vec<OfficerRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OFFICER_COLUMNS);
    query.push(" from officers where agency_code = ");
    query.push_bind(filter.agency);
    if let Some(unit) = filter.unit_id {
        query.push(" and unit_id = ");
        query.push_bind(unit);
    }
    if !filter.include_inactive {
        query.push(" and active");
    }
    if let Some(after) = filter.after {
        query.push(" and id > ");
        query.push_bind(after);
    }
    query.push(" order by id limit ");
    query.push_bind(filter.limit);
    query.build_query_as().fetch_all(connection).await
}

// -------------------------------------------------------------- operations

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperationRow {
    pub id: Uuid,
    pub case_name: Option<String>,
    pub source: String,
    pub state: String,
    pub subdistrict_code: String,
    pub block_code: Option<String>,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub matter_code: Option<String>,
    pub description: String,
    pub urgent: bool,
    pub requested_lead: Option<String>,
    pub lead_agency: Option<String>,
    pub agency_selection: Option<String>,
    pub agency_selection_note: String,
    pub blown_by: String,
    pub blown_at: DateTime<Utc>,
    pub resolve_attempts: i32,
    pub resolve_fallback_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub conclusion_summary: Option<String>,
    pub concluded_at: Option<DateTime<Utc>>,
    pub concluded_by: Option<String>,
    pub follow_up_opened_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Rectification orders of the operation that are overdue and unchecked.
    pub overdue_orders: i64,
}

const OPERATION_COLUMNS: &str = "o.id, o.case_name, o.source, o.state, o.subdistrict_code, o.block_code, o.longitude, o.latitude,
     o.matter_code, o.description, o.urgent, o.requested_lead, o.lead_agency, o.agency_selection,
     o.agency_selection_note, o.blown_by, o.blown_at, o.resolve_attempts, o.resolve_fallback_at, o.outcome,
     o.conclusion_summary, o.concluded_at, o.concluded_by, o.follow_up_opened_at,
     o.cancel_reason, o.cancelled_at, o.cancelled_by, o.updated_at,
     (select count(*) from rectification_clocks c where c.operation_id = o.id and c.overdue_at is not null
         and c.checked_at is null) as overdue_orders";

/// A whistle to record.
pub struct NewOperation<'a> {
    pub id: Uuid,
    pub case_name: Option<&'a str>,
    pub source: &'a str,
    pub subdistrict_code: &'a str,
    pub block_code: Option<&'a str>,
    pub location: Option<(f64, f64)>,
    pub matter_code: Option<&'a str>,
    pub description: &'a str,
    pub urgent: bool,
    pub requested_lead: Option<&'a str>,
    pub selection_note: &'a str,
    pub blown_by: &'a str,
    pub blown_at: DateTime<Utc>,
    /// When agencies are still to be resolved: the first retry and the
    /// moment to give up on the duty lists.
    pub resolving: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Whether a whistle opened a new operation or found the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created(Uuid),
    Existing(Uuid),
}

/// Records a whistle in state `resolving_agencies` (or `open` once the
/// caller adds the summonses), unless the case already has a live
/// operation: then that operation's id.
pub async fn insert_operation(
    connection: &mut PgConnection,
    operation: &NewOperation<'_>,
) -> Result<Recorded, sqlx::Error> {
    let state = if operation.resolving.is_some() {
        "resolving_agencies"
    } else {
        "open"
    };
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into operations (id, case_name, source, state, subdistrict_code, block_code,
             longitude, latitude, matter_code, description, urgent, requested_lead, agency_selection_note,
             blown_by, blown_at, resolve_next_at, resolve_fallback_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $15)
         on conflict do nothing
         returning id",
    )
    .bind(operation.id)
    .bind(operation.case_name)
    .bind(operation.source)
    .bind(state)
    .bind(operation.subdistrict_code)
    .bind(operation.block_code)
    .bind(operation.location.map(|(longitude, _)| longitude))
    .bind(operation.location.map(|(_, latitude)| latitude))
    .bind(operation.matter_code)
    .bind(operation.description)
    .bind(operation.urgent)
    .bind(operation.requested_lead)
    .bind(operation.selection_note)
    .bind(operation.blown_by)
    .bind(operation.blown_at)
    .bind(operation.resolving.map(|(next, _)| next))
    .bind(operation.resolving.map(|(_, fallback)| fallback))
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(id) = inserted {
        return Ok(Recorded::Created(id));
    }
    let existing = match operation.case_name {
        Some(case_name) => live_operation_of_case(connection, case_name).await?,
        None => None,
    };
    // The conflicting row committed before our insert gave up, so it is
    // visible now; its absence would mean another constraint failed.
    existing
        .map(Recorded::Existing)
        .ok_or_else(|| sqlx::Error::Protocol("operation conflict without a conflicting row".into()))
}

/// The case's live (not cancelled) operation, which a repeated whistle
/// for the case finds instead of opening a second one.
pub async fn live_operation_of_case(
    connection: &mut PgConnection,
    case_name: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from operations where case_name = $1 and state <> 'cancelled'
         order by blown_at limit 1",
    )
    .bind(case_name)
    .fetch_optional(connection)
    .await
}

/// Summons one agency.
pub async fn insert_summons(
    connection: &mut PgConnection,
    operation: Uuid,
    agency: &str,
    position: i32,
    summoned_at: DateTime<Utc>,
    report_in_due: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into summonses (operation_id, agency_code, position, summoned_at, report_in_due)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(operation)
    .bind(agency)
    .bind(position)
    .bind(summoned_at)
    .bind(report_in_due)
    .execute(connection)
    .await?;
    Ok(())
}

/// Marks the agencies of an operation chosen: it is open from now on.
pub async fn open_operation(
    connection: &mut PgConnection,
    operation: Uuid,
    lead: &str,
    selection: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update operations set state = 'open', lead_agency = $2, agency_selection = $3,
             agency_selection_note = $4, resolve_next_at = null, updated_at = $5
         where id = $1",
    )
    .bind(operation)
    .bind(lead)
    .bind(selection)
    .bind(note)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// The operation, locked for the rest of the transaction.
pub async fn lock_operation(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<OperationRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.id = ");
    query.push_bind(id);
    query.push(" for update");
    query.build_query_as().fetch_optional(connection).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummonsRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub position: i32,
    pub summoned_at: DateTime<Utc>,
    pub report_in_due: DateTime<Utc>,
    pub marked_late_at: Option<DateTime<Utc>>,
    pub reported_at: Option<DateTime<Utc>>,
    pub unit_id: Option<Uuid>,
    pub report_note: String,
    pub actions_recorded: i64,
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
    pub details: Json<ActionDetails>,
    pub attachments: Json<Vec<Attachment>>,
    pub rectification_overdue_at: Option<DateTime<Utc>>,
    pub rectification_checked_at: Option<DateTime<Utc>>,
    pub rectification_complied: Option<bool>,
}

/// An action with its rectification clock, if it is a rectification order.
const ACTION_COLUMNS: &str =
    "a.id, a.operation_id, a.agency_code, a.kind, a.recorded_by, a.recorded_at, a.summary, a.notes,
     a.notes_sensitive, a.details, a.attachments, c.overdue_at as rectification_overdue_at,
     c.checked_at as rectification_checked_at, c.complied as rectification_complied";

const ACTIONS_WITH_CLOCKS: &str =
    " from actions a left join rectification_clocks c on c.order_id = a.id";

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

async fn summonses_of(
    connection: &mut PgConnection,
    operations: &[Uuid],
) -> Result<Vec<SummonsRow>, sqlx::Error> {
    sqlx::query_as(
        "select s.operation_id, s.agency_code, s.position, s.summoned_at, s.report_in_due, s.marked_late_at,
                s.reported_at, s.unit_id, s.report_note,
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

/// The summonses of one operation, in summoning order.
pub async fn summonses(
    connection: &mut PgConnection,
    operation: Uuid,
) -> Result<Vec<SummonsRow>, sqlx::Error> {
    summonses_of(connection, &[operation]).await
}

/// The officers an agency sent to an operation.
pub async fn dispatched_officer_ids(
    connection: &mut PgConnection,
    operation: Uuid,
    agency: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select officer_id from summons_officers where operation_id = $1 and agency_code = $2 order by officer_id",
    )
    .bind(operation)
    .bind(agency)
    .fetch_all(connection)
    .await
}

/// Rectification orders of the operation past their deadline and unchecked.
pub async fn overdue_unchecked_orders(
    connection: &mut PgConnection,
    operation: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select order_id from rectification_clocks
         where operation_id = $1 and checked_at is null and (overdue_at is not null or due <= $2)
         order by due",
    )
    .bind(operation)
    .bind(now)
    .fetch_all(connection)
    .await
}

/// Whether the agency was already rated in the operation.
pub async fn is_rated(
    connection: &mut PgConnection,
    operation: Uuid,
    agency: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from ratings where operation_id = $1 and agency_code = $2)",
    )
    .bind(operation)
    .bind(agency)
    .fetch_one(connection)
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

pub async fn actions_of(
    connection: &mut PgConnection,
    operation: Uuid,
) -> Result<Vec<ActionRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(ACTION_COLUMNS);
    query.push(ACTIONS_WITH_CLOCKS);
    query.push(" where a.operation_id = ");
    query.push_bind(operation);
    query.push(" order by a.recorded_at, a.id");
    query.build_query_as().fetch_all(connection).await
}

pub async fn get_action(
    connection: &mut PgConnection,
    operation: Uuid,
    id: Uuid,
) -> Result<Option<ActionRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(ACTION_COLUMNS);
    query.push(ACTIONS_WITH_CLOCKS);
    query.push(" where a.operation_id = ");
    query.push_bind(operation);
    query.push(" and a.id = ");
    query.push_bind(id);
    query.build_query_as().fetch_optional(connection).await
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
) -> Result<Option<OperationRecord>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.id = ");
    query.push_bind(id);
    let row: Option<OperationRow> = query
        .build_query_as()
        .fetch_optional(&mut *connection)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => Ok(complete(connection, vec![row], true).await?.pop()),
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
) -> Result<Vec<OperationRecord>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where true");
    if let Some(agency) = filter.agency {
        query.push(" and exists (select 1 from summonses s where s.operation_id = o.id and s.agency_code = ");
        query.push_bind(agency);
        query.push(")");
    }
    if let Some(subdistrict) = filter.subdistrict_code {
        query.push(" and o.subdistrict_code = ");
        query.push_bind(subdistrict);
    }
    if !filter.reach.everything {
        query.push(" and (exists (select 1 from unnest(");
        query.push_bind(&filter.reach.division_prefixes);
        query.push("::text[]) j where starts_with(coalesce(o.block_code, o.subdistrict_code), j))");
        query.push(" or exists (select 1 from summonses s where s.operation_id = o.id and s.agency_code = ");
        query.push_bind(filter.reach.agency.as_deref());
        query.push("))");
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
    let rows: Vec<OperationRow> = query.build_query_as().fetch_all(&mut *connection).await?;
    complete(connection, rows, false).await
}

/// An agency's report-in.
pub struct Report<'a> {
    pub operation: Uuid,
    pub agency: &'a str,
    pub reported_at: DateTime<Utc>,
    /// Token subject of the reporting officer.
    pub reported_by: &'a str,
    pub unit: Option<Uuid>,
    pub note: &'a str,
    /// The officers sent.
    pub officers: &'a [Uuid],
}

/// Records an agency's report-in and the officers it sent.
pub async fn record_report_in(
    connection: &mut PgConnection,
    report: &Report<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update summonses set reported_at = $3, reported_by = $4, unit_id = $5, report_note = $6
         where operation_id = $1 and agency_code = $2 and reported_at is null",
    )
    .bind(report.operation)
    .bind(report.agency)
    .bind(report.reported_at)
    .bind(report.reported_by)
    .bind(report.unit)
    .bind(report.note)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "insert into summons_officers (operation_id, agency_code, officer_id)
         select $1, $2, unnest($3::uuid[])",
    )
    .bind(report.operation)
    .bind(report.agency)
    .bind(report.officers)
    .execute(&mut *connection)
    .await?;
    sqlx::query("update operations set updated_at = $2 where id = $1")
        .bind(report.operation)
        .bind(report.reported_at)
        .execute(connection)
        .await?;
    Ok(())
}

pub struct NewAction<'a> {
    pub id: Uuid,
    pub operation: Uuid,
    pub agency: &'a str,
    pub recorded_by: &'a str,
    pub recorded_at: DateTime<Utc>,
    pub summary: &'a str,
    pub notes: &'a str,
    pub notes_sensitive: bool,
    pub details: &'a ActionDetails,
    pub attachments: &'a [Attachment],
}

pub async fn insert_action(
    connection: &mut PgConnection,
    action: &NewAction<'_>,
) -> Result<ActionRow, sqlx::Error> {
    sqlx::query(
        "insert into actions (id, operation_id, agency_code, kind, recorded_by, recorded_at, summary,
             notes, notes_sensitive, details, attachments)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(action.id)
    .bind(action.operation)
    .bind(action.agency)
    .bind(action.details.kind().as_str())
    .bind(action.recorded_by)
    .bind(action.recorded_at)
    .bind(action.summary)
    .bind(action.notes)
    .bind(action.notes_sensitive)
    .bind(Json(action.details))
    .bind(Json(action.attachments))
    .execute(&mut *connection)
    .await?;
    if let Some(due) = action.details.rectification_deadline() {
        sqlx::query(
            "insert into rectification_clocks (order_id, operation_id, due) values ($1, $2, $3)",
        )
        .bind(action.id)
        .bind(action.operation)
        .bind(due)
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query("update operations set updated_at = $2 where id = $1")
        .bind(action.operation)
        .bind(action.recorded_at)
        .execute(&mut *connection)
        .await?;
    get_action(connection, action.operation, action.id)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("an inserted action is missing".into()))
}

/// Records the check of a rectification order.
pub async fn check_rectification_order(
    connection: &mut PgConnection,
    order: Uuid,
    complied: bool,
    checked_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update rectification_clocks set checked_at = $2, complied = $3
         where order_id = $1 and checked_at is null",
    )
    .bind(order)
    .bind(checked_at)
    .bind(complied)
    .execute(connection)
    .await?;
    Ok(())
}

pub async fn conclude_operation(
    connection: &mut PgConnection,
    operation: Uuid,
    outcome: &str,
    summary: &str,
    concluded_by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update operations set state = 'concluded', outcome = $2, conclusion_summary = $3, concluded_by = $4,
             concluded_at = $5, first_concluded_at = coalesce(first_concluded_at, $5), updated_at = $5
         where id = $1",
    )
    .bind(operation)
    .bind(outcome)
    .bind(summary)
    .bind(concluded_by)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

pub async fn cancel_operation(
    connection: &mut PgConnection,
    operation: Uuid,
    reason: &str,
    cancelled_by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update operations set state = 'cancelled', cancel_reason = $2, cancelled_by = $3, cancelled_at = $4,
             resolve_next_at = null, updated_at = $4
         where id = $1",
    )
    .bind(operation)
    .bind(reason)
    .bind(cancelled_by)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

pub async fn insert_rating(
    connection: &mut PgConnection,
    operation: Uuid,
    agency: &str,
    score: i16,
    comment: &str,
    rated_by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into ratings (operation_id, agency_code, score, comment, rated_by, rated_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(operation)
    .bind(agency)
    .bind(score)
    .bind(comment)
    .bind(rated_by)
    .bind(now)
    .execute(&mut *connection)
    .await?;
    sqlx::query("update operations set updated_at = $2 where id = $1")
        .bind(operation)
        .bind(now)
        .execute(connection)
        .await?;
    Ok(())
}

// --------------------------------------------------------------- deadlines

/// A summons whose report-in deadline passed without a report, claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LateSummons {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub report_in_due: DateTime<Utc>,
    pub case_name: Option<String>,
    pub subdistrict_code: String,
    pub block_code: Option<String>,
    pub urgent: bool,
}

/// Claims (locks, skipping rows another replica holds) summonses of open
/// operations past their deadline and not yet marked late, and marks them.
pub async fn mark_late_summonses(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<LateSummons>, sqlx::Error> {
    let due: Vec<LateSummons> = sqlx::query_as(
        "select s.operation_id, s.agency_code, s.report_in_due, o.case_name, o.subdistrict_code, o.block_code, o.urgent
         from summonses s join operations o on o.id = s.operation_id
         where s.reported_at is null and s.marked_late_at is null and s.report_in_due <= $1 and o.state = 'open'
         order by s.report_in_due
         limit $2
         for update of s skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    for summons in &due {
        sqlx::query(
            "update summonses set marked_late_at = $3 where operation_id = $1 and agency_code = $2",
        )
        .bind(summons.operation_id)
        .bind(&summons.agency_code)
        .bind(now)
        .execute(&mut *connection)
        .await?;
    }
    Ok(due)
}

/// A rectification order past its deadline without a check, claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OverdueOrder {
    pub id: Uuid,
    pub operation_id: Uuid,
    pub agency_code: String,
    pub rectification_due: DateTime<Utc>,
    pub case_name: Option<String>,
    pub subdistrict_code: String,
}

/// Claims overdue unchecked rectification orders of operations that are not
/// cancelled, and marks them overdue.
pub async fn mark_overdue_orders(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OverdueOrder>, sqlx::Error> {
    let due: Vec<OverdueOrder> = sqlx::query_as(
        "select c.order_id as id, c.operation_id, a.agency_code, c.due as rectification_due, o.case_name,
                o.subdistrict_code
         from rectification_clocks c
         join actions a on a.id = c.order_id
         join operations o on o.id = c.operation_id
         where c.overdue_at is null and c.checked_at is null and c.due <= $1 and o.state <> 'cancelled'
         order by c.due
         limit $2
         for update of c skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    for order in &due {
        sqlx::query("update rectification_clocks set overdue_at = $2 where order_id = $1")
            .bind(order.id)
            .bind(now)
            .execute(&mut *connection)
            .await?;
    }
    Ok(due)
}

/// Moves a concluded operation into follow-up; false when it was not
/// concluded (still open, or already in follow-up).
pub async fn reopen_for_follow_up(
    connection: &mut PgConnection,
    operation: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update operations set state = 'follow_up', follow_up_opened_at = $2, updated_at = $2
         where id = $1 and state = 'concluded'",
    )
    .bind(operation)
    .bind(now)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Claims one operation whose agencies are due to be resolved again.
pub async fn claim_resolving_operation(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<Option<OperationRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.state = 'resolving_agencies' and o.resolve_next_at <= ");
    query.push_bind(now);
    query.push(" order by o.resolve_next_at limit 1 for update skip locked");
    query.build_query_as().fetch_optional(connection).await
}

/// Records a failed attempt to resolve the agencies and when to try again.
pub async fn postpone_resolution(
    connection: &mut PgConnection,
    operation: Uuid,
    next_at: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update operations set resolve_attempts = resolve_attempts + 1, resolve_next_at = $2, resolve_last_error = $3
         where id = $1",
    )
    .bind(operation)
    .bind(next_at)
    .bind(error)
    .execute(connection)
    .await?;
    Ok(())
}

/// The earliest pending deadline of any kind, to plan the worker's sleep.
pub async fn next_deadline(
    connection: &mut PgConnection,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "select min(due) from (
             select min(s.report_in_due) as due from summonses s join operations o on o.id = s.operation_id
              where s.reported_at is null and s.marked_late_at is null and o.state = 'open'
             union all
             select min(c.due) from rectification_clocks c join operations o on o.id = c.operation_id
              where c.overdue_at is null and c.checked_at is null and o.state <> 'cancelled'
             union all
             select min(resolve_next_at) from operations where state = 'resolving_agencies'
         ) deadlines",
    )
    .fetch_one(connection)
    .await
}

// -------------------------------------------------------------- indicators

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummonsFactRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub subdistrict_code: String,
    pub block_code: Option<String>,
    pub blown_at: DateTime<Utc>,
    pub summoned_at: DateTime<Utc>,
    pub report_in_due: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    pub state: String,
    pub first_concluded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub rating: Option<i16>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionCountRow {
    pub operation_id: Uuid,
    pub agency_code: String,
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WhistleFactRow {
    pub subdistrict_code: String,
    pub source: String,
    pub urgent: bool,
    pub blown_at: DateTime<Utc>,
    pub state: String,
    pub first_concluded_at: Option<DateTime<Utc>>,
}

/// Summonses issued in `[start, end)`, optionally of one agency and one
/// subdistrict.
pub async fn summons_facts(
    connection: &mut PgConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    agency: Option<&str>,
    subdistrict: Option<&str>,
) -> Result<(Vec<SummonsFactRow>, Vec<ActionCountRow>), sqlx::Error> {
    let summonses: Vec<SummonsFactRow> = sqlx::query_as(
        "select s.operation_id, s.agency_code, o.subdistrict_code, o.block_code, o.blown_at, s.summoned_at, s.report_in_due,
                s.reported_at, o.state, o.first_concluded_at, o.cancelled_at, r.score as rating
         from summonses s
         join operations o on o.id = s.operation_id
         left join ratings r on r.operation_id = s.operation_id and r.agency_code = s.agency_code
         where s.summoned_at >= $1 and s.summoned_at < $2
           and ($3::text is null or s.agency_code = $3)
           and ($4::text is null or o.subdistrict_code = $4)",
    )
    .bind(start)
    .bind(end)
    .bind(agency)
    .bind(subdistrict)
    .fetch_all(&mut *connection)
    .await?;
    let operations: Vec<Uuid> = summonses.iter().map(|row| row.operation_id).collect();
    let actions: Vec<ActionCountRow> = sqlx::query_as(
        "select operation_id, agency_code, kind, count(*) as count
         from actions where operation_id = any($1)
         group by operation_id, agency_code, kind",
    )
    .bind(&operations)
    .fetch_all(connection)
    .await?;
    Ok((summonses, actions))
}

/// Whistles blown in `[start, end)`.
pub async fn whistle_facts(
    connection: &mut PgConnection,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<WhistleFactRow>, sqlx::Error> {
    sqlx::query_as(
        "select subdistrict_code, source, urgent, blown_at, state, first_concluded_at
         from operations where blown_at >= $1 and blown_at < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(connection)
    .await
}
