//! Operations: recording a whistle, loading the aggregate to change it and
//! saving its records. What the API renders is read in `views`.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{Context as _, StoreError};
use crate::domain::duty::DutyGap;
use crate::domain::operation::{Order, Snapshot, Summons};
use crate::domain::{AgencyCode, Facts, NewAction, Operation, OperationState, Record};

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

impl OperationRow {
    /// What never changes about the operation.
    pub fn facts(&self) -> Facts {
        Facts {
            id: self.id,
            case: self.case_name.clone(),
            subdistrict: self.subdistrict_code.clone(),
            block: self.block_code.clone(),
            matter: self.matter_code.clone(),
            urgent: self.urgent,
            blown_at: self.blown_at,
        }
    }
}

pub(super) const OPERATION_COLUMNS: &str = "o.id, o.case_name, o.source, o.state, o.subdistrict_code, o.block_code, o.longitude, o.latitude,
     o.matter_code, o.description, o.urgent, o.requested_lead, o.lead_agency, o.agency_selection,
     o.agency_selection_note, o.blown_by, o.blown_at, o.resolve_attempts, o.resolve_fallback_at, o.outcome,
     o.conclusion_summary, o.concluded_at, o.concluded_by, o.follow_up_opened_at,
     o.cancel_reason, o.cancelled_at, o.cancelled_by, o.updated_at,
     (select count(*) from rectification_clocks c where c.operation_id = o.id and c.overdue_at is not null
         and c.checked_at is null) as overdue_orders";

// ----------------------------------------------------------------- whistles

/// A whistle to record.
pub struct NewOperation<'a> {
    pub facts: &'a Facts,
    pub source: &'a str,
    pub location: Option<(f64, f64)>,
    pub description: &'a str,
    pub requested_lead: Option<&'a str>,
    pub selection_note: &'a str,
    pub blown_by: &'a str,
    /// When agencies are still to be resolved: the first retry and the
    /// moment to give up on the duty lists.
    pub resolving: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Whether a whistle opened a new operation or found the case's live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created(Uuid),
    Existing(Uuid),
}

/// Records a whistle in state `resolving_agencies`, unless the case
/// already has a live operation: then that operation's id.
pub async fn insert_operation(
    connection: &mut PgConnection,
    operation: &NewOperation<'_>,
) -> Result<Recorded, StoreError> {
    let facts = operation.facts;
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into operations (id, case_name, source, state, subdistrict_code, block_code,
             longitude, latitude, matter_code, description, urgent, requested_lead, agency_selection_note,
             blown_by, blown_at, resolve_next_at, resolve_fallback_at, updated_at)
         values ($1, $2, $3, 'resolving_agencies', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $14)
         on conflict do nothing
         returning id",
    )
    .bind(facts.id)
    .bind(facts.case.as_deref())
    .bind(operation.source)
    .bind(&facts.subdistrict)
    .bind(facts.block.as_deref())
    .bind(operation.location.map(|(longitude, _)| longitude))
    .bind(operation.location.map(|(_, latitude)| latitude))
    .bind(facts.matter.as_deref())
    .bind(operation.description)
    .bind(facts.urgent)
    .bind(operation.requested_lead)
    .bind(operation.selection_note)
    .bind(operation.blown_by)
    .bind(facts.blown_at)
    .bind(operation.resolving.map(|(next, _)| next))
    .bind(operation.resolving.map(|(_, fallback)| fallback))
    .fetch_optional(&mut *connection)
    .await
    .context("recording a whistle")?;
    if let Some(id) = inserted {
        return Ok(Recorded::Created(id));
    }
    let existing = match facts.case.as_deref() {
        Some(case_name) => live_operation_of_case(connection, case_name).await?,
        None => None,
    };
    // The conflicting row committed before our insert gave up, so it is
    // visible now; its absence would mean another constraint failed.
    existing.map(Recorded::Existing).ok_or(StoreError {
        context: "recording a whistle",
        source: sqlx::Error::Protocol("operation conflict without a conflicting row".into()),
    })
}

/// The case's live (not cancelled) operation, which a repeated whistle
/// for the case finds instead of opening a second one.
/// Records `sequence` as the newest escalation of `case_name` applied, unless a
/// later one (or this one) was applied already; answers whether it was recorded,
/// i.e. whether the escalation is to be acted on.
pub async fn record_escalation_applied(
    connection: &mut PgConnection,
    case_name: &str,
    sequence: u32,
) -> Result<bool, StoreError> {
    let recorded: Option<bool> = sqlx::query_scalar(
        "insert into case_escalations_applied (case_name, sequence) values ($1, $2)
         on conflict (case_name) do update set sequence = excluded.sequence
             where case_escalations_applied.sequence < excluded.sequence
         returning true",
    )
    .bind(case_name)
    .bind(i32::try_from(sequence).unwrap_or(i32::MAX))
    .fetch_optional(connection)
    .await
    .context("recording the case's newest escalation")?;
    Ok(recorded.unwrap_or(false))
}

pub async fn live_operation_of_case(
    connection: &mut PgConnection,
    case_name: &str,
) -> Result<Option<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select id from operations where case_name = $1 and state <> 'cancelled'
         order by blown_at limit 1",
    )
    .bind(case_name)
    .fetch_optional(connection)
    .await
    .context("looking for the case's operation")
}

// ---------------------------------------------------------------- aggregate

/// The operation, locked for the rest of the transaction, as the rules see
/// it.
pub async fn lock_operation(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Operation>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new("select ");
    query.push(OPERATION_COLUMNS);
    query.push(" from operations o where o.id = ");
    query.push_bind(id);
    query.push(" for update");
    let row: Option<OperationRow> = query
        .build_query_as()
        .fetch_optional(&mut *connection)
        .await
        .context("locking the operation")?;
    match row {
        None => Ok(None),
        Some(row) => Ok(Some(aggregate(connection, &row).await?)),
    }
}

#[derive(sqlx::FromRow)]
struct RuleSummonsRow {
    agency_code: String,
    position: i32,
    report_in_due: DateTime<Utc>,
    reported_at: Option<DateTime<Utc>>,
    summoned_unit_id: Option<Uuid>,
    officers: Vec<Uuid>,
    actions_recorded: i64,
}

#[derive(sqlx::FromRow)]
struct ClockRow {
    order_id: Uuid,
    agency_code: String,
    due: DateTime<Utc>,
    overdue_at: Option<DateTime<Utc>>,
    checked_at: Option<DateTime<Utc>>,
}

fn stored_state(code: &str, context: &'static str) -> Result<OperationState, StoreError> {
    OperationState::parse(code).ok_or_else(|| StoreError {
        context,
        source: sqlx::Error::Protocol(format!("unknown operation state {code}")),
    })
}

fn stored_agency(code: &str, context: &'static str) -> Result<AgencyCode, StoreError> {
    AgencyCode::parse(code).map_err(|error| StoreError {
        context,
        source: sqlx::Error::Protocol(format!("stored agency code: {error}")),
    })
}

/// The aggregate of an operation row (locked by the caller).
pub async fn aggregate(
    connection: &mut PgConnection,
    row: &OperationRow,
) -> Result<Operation, StoreError> {
    const CONTEXT: &str = "reading the operation";
    let summonses: Vec<RuleSummonsRow> = sqlx::query_as(
        "select s.agency_code, s.position, s.report_in_due, s.reported_at, s.summoned_unit_id,
                coalesce((select array_agg(d.officer_id order by d.officer_id) from summons_officers d
                           where d.operation_id = s.operation_id and d.agency_code = s.agency_code),
                         '{}') as officers,
                (select count(*) from actions a
                  where a.operation_id = s.operation_id and a.agency_code = s.agency_code) as actions_recorded
         from summonses s where s.operation_id = $1 order by s.position",
    )
    .bind(row.id)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let rated: Vec<String> =
        sqlx::query_scalar("select agency_code from ratings where operation_id = $1")
            .bind(row.id)
            .fetch_all(&mut *connection)
            .await
            .context(CONTEXT)?;
    let clocks: Vec<ClockRow> = sqlx::query_as(
        "select c.order_id, a.agency_code, c.due, c.overdue_at, c.checked_at
         from rectification_clocks c join actions a on a.id = c.order_id
         where c.operation_id = $1 order by c.due",
    )
    .bind(row.id)
    .fetch_all(connection)
    .await
    .context(CONTEXT)?;
    Ok(Operation::restore(Snapshot {
        facts: row.facts(),
        state: stored_state(&row.state, CONTEXT)?,
        lead: row
            .lead_agency
            .as_deref()
            .map(|code| stored_agency(code, CONTEXT))
            .transpose()?,
        summonses: summonses
            .into_iter()
            .map(|summons| {
                Ok(Summons {
                    agency: stored_agency(&summons.agency_code, CONTEXT)?,
                    position: summons.position,
                    unit: summons.summoned_unit_id,
                    report_in_due: summons.report_in_due,
                    reported_in: summons.reported_at.is_some(),
                    officers: summons.officers,
                    actions_recorded: u32::try_from(summons.actions_recorded).unwrap_or(u32::MAX),
                })
            })
            .collect::<Result<_, StoreError>>()?,
        rated: rated
            .iter()
            .map(|code| stored_agency(code, CONTEXT))
            .collect::<Result<_, _>>()?,
        orders: clocks
            .into_iter()
            .map(|clock| {
                Ok(Order {
                    id: clock.order_id,
                    agency: stored_agency(&clock.agency_code, CONTEXT)?,
                    due: clock.due,
                    overdue: clock.overdue_at.is_some(),
                    checked: clock.checked_at.is_some(),
                })
            })
            .collect::<Result<_, StoreError>>()?,
    }))
}

/// Persists what [`Operation::apply`] recorded, in order, at `at`.
pub async fn save(
    connection: &mut PgConnection,
    facts: &Facts,
    at: DateTime<Utc>,
    records: &[Record],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    const CONTEXT: &str = "saving the operation";
    let mut deadline_written = false;
    for record in records {
        match record {
            Record::Opened {
                lead, how, note, ..
            } => {
                sqlx::query(
                    "update operations set state = 'open', lead_agency = $2, agency_selection = $3,
                         agency_selection_note = $4, resolve_next_at = null
                     where id = $1",
                )
                .bind(facts.id)
                .bind(lead.as_str())
                .bind(how.as_str())
                .bind(note)
                .execute(&mut *connection)
                .await
                .context(CONTEXT)?;
            }
            Record::Summoned {
                agency,
                position,
                report_in_due,
                assignment,
                ..
            } => {
                sqlx::query(
                    "insert into summonses (operation_id, agency_code, position, summoned_at, report_in_due,
                         summoned_unit_id, duty_gap)
                     values ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(facts.id)
                .bind(agency.as_str())
                .bind(position)
                .bind(at)
                .bind(report_in_due)
                .bind(assignment.unit)
                .bind(assignment.gap.map_or("none", DutyGap::as_str))
                .execute(&mut *connection)
                .await
                .context("summoning an agency")?;
                deadline_written = true;
            }
            Record::ReportedIn {
                agency,
                officers,
                unit,
                note,
                by,
                ..
            } => {
                sqlx::query(
                    "update summonses set reported_at = $3, reported_by = $4, unit_id = $5, report_note = $6
                     where operation_id = $1 and agency_code = $2 and reported_at is null",
                )
                .bind(facts.id)
                .bind(agency.as_str())
                .bind(at)
                .bind(by)
                .bind(unit)
                .bind(note)
                .execute(&mut *connection)
                .await
                .context("reporting in")?;
                sqlx::query(
                    "insert into summons_officers (operation_id, agency_code, officer_id)
                     select $1, $2, unnest($3::uuid[])",
                )
                .bind(facts.id)
                .bind(agency.as_str())
                .bind(officers)
                .execute(&mut *connection)
                .await
                .context("reporting in")?;
            }
            Record::ActionRecorded { action, by } => {
                insert_action(connection, facts.id, action, by, at).await?;
                deadline_written |= action.details.rectification_deadline().is_some();
            }
            Record::OrderChecked { order, complied } => {
                sqlx::query(
                    "update rectification_clocks set checked_at = $2, complied = $3
                     where order_id = $1 and checked_at is null",
                )
                .bind(order)
                .bind(at)
                .bind(complied)
                .execute(&mut *connection)
                .await
                .context("recording the check")?;
            }
            Record::Concluded {
                outcome,
                summary,
                by,
                ..
            } => {
                sqlx::query(
                    "update operations set state = 'concluded', outcome = $2, conclusion_summary = $3,
                         concluded_by = $4, concluded_at = $5,
                         first_concluded_at = coalesce(first_concluded_at, $5)
                     where id = $1",
                )
                .bind(facts.id)
                .bind(outcome.as_str())
                .bind(summary)
                .bind(by)
                .bind(at)
                .execute(&mut *connection)
                .await
                .context("concluding")?;
            }
            Record::Cancelled { reason, by } => {
                sqlx::query(
                    "update operations set state = 'cancelled', cancel_reason = $2, cancelled_by = $3,
                         cancelled_at = $4, resolve_next_at = null
                     where id = $1",
                )
                .bind(facts.id)
                .bind(reason)
                .bind(by)
                .bind(at)
                .execute(&mut *connection)
                .await
                .context("cancelling")?;
            }
            Record::Rated {
                agency,
                score,
                comment,
                by,
            } => {
                sqlx::query(
                    "insert into ratings (operation_id, agency_code, score, comment, rated_by, rated_at)
                     values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(facts.id)
                .bind(agency.as_str())
                .bind(score)
                .bind(comment)
                .bind(by)
                .bind(at)
                .execute(&mut *connection)
                .await
                .context("rating an agency")?;
            }
            Record::OrderOverdue { order, .. } => {
                sqlx::query("update rectification_clocks set overdue_at = $2 where order_id = $1")
                    .bind(order)
                    .bind(at)
                    .execute(&mut *connection)
                    .await
                    .context("marking an order overdue")?;
            }
            Record::FollowUpOpened { .. } => {
                sqlx::query(
                    "update operations set state = 'follow_up', follow_up_opened_at = $2 where id = $1",
                )
                .bind(facts.id)
                .bind(at)
                .execute(&mut *connection)
                .await
                .context("opening the follow-up")?;
            }
        }
    }
    sqlx::query("update operations set updated_at = $2 where id = $1")
        .bind(facts.id)
        .bind(at)
        .execute(&mut *connection)
        .await
        .context(CONTEXT)?;
    if deadline_written {
        super::notify_deadline_workers(connection).await?;
    }
    Ok(())
}

/// Inserts an action, and the clock of a rectification order. Actions are
/// only ever inserted: the application role may not change them.
async fn insert_action(
    connection: &mut PgConnection,
    operation: Uuid,
    action: &NewAction,
    recorded_by: &str,
    recorded_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into actions (id, operation_id, agency_code, kind, recorded_by, recorded_at, summary,
             notes, notes_sensitive, details, attachments, details_restricted)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(action.id)
    .bind(operation)
    .bind(action.agency.as_str())
    .bind(action.details.kind().as_str())
    .bind(recorded_by)
    .bind(recorded_at)
    .bind(&action.summary)
    .bind(&action.notes)
    .bind(action.notes_sensitive)
    .bind(Json(&action.details))
    .bind(Json(&action.attachments))
    .bind(action.details_restricted)
    .execute(&mut *connection)
    .await
    .context("recording an action")?;
    if let Some(due) = action.details.rectification_deadline() {
        sqlx::query(
            "insert into rectification_clocks (order_id, operation_id, due) values ($1, $2, $3)",
        )
        .bind(action.id)
        .bind(operation)
        .bind(due)
        .execute(connection)
        .await
        .context("starting the rectification clock")?;
    }
    Ok(())
}
