//! Coordination meetings of a case and their decisions.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::domain::values::CaseId;

/// A stored coordination meeting.
#[derive(Debug, Clone)]
pub struct MeetingRow {
    pub id: Uuid,
    pub case_id: CaseId,
    pub subdistrict_code: String,
    pub scheduled_for: DateTime<Utc>,
    pub location: String,
    pub participants: Vec<String>,
    pub agenda: String,
    pub state: String,
    pub decision: Option<String>,
    pub attendees: Vec<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub scheduled_by: String,
    pub created_at: DateTime<Utc>,
    /// The actions decided, in order.
    pub actions: Vec<MeetingActionRow>,
}

/// An action a meeting decided, and how far it got.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeetingActionRow {
    /// 0-based position in the decision (named from 1: `…/actions/{position + 1}`).
    pub position: i32,
    pub description: String,
    /// `staff/{id}` or a unit's resource name.
    pub owner: String,
    pub due: DateTime<Utc>,
    /// `open`, `done` or `overdue`.
    pub state: String,
    pub done_at: Option<DateTime<Utc>>,
    /// Staff id of whoever recorded it done.
    pub done_by: Option<String>,
    /// When it was found open after its deadline.
    pub overdue_at: Option<DateTime<Utc>>,
}

impl MeetingActionRow {
    /// A new open action at `position`.
    pub fn open(position: usize, description: String, owner: String, due: DateTime<Utc>) -> Self {
        Self {
            position: i32::try_from(position).unwrap_or(i32::MAX),
            description,
            owner,
            due,
            state: "open".into(),
            done_at: None,
            done_by: None,
            overdue_at: None,
        }
    }

    /// `{meeting}/actions/{n}`, n from 1.
    pub fn name(&self, meeting: &str) -> String {
        format!("{meeting}/actions/{}", i64::from(self.position) + 1)
    }
}

/// An overdue action found by the deadline worker, with its meeting's case.
#[derive(Debug, Clone)]
pub struct DueAction {
    pub meeting_id: Uuid,
    pub case_id: CaseId,
    pub subdistrict_code: String,
    pub action: MeetingActionRow,
}

/// An action's meeting name: `cases/{case}/meetings/{meeting}`.
pub fn meeting_name(case_id: CaseId, meeting_id: Uuid) -> String {
    format!("{}/meetings/{meeting_id}", case_id.resource_name())
}

impl MeetingRow {
    /// `cases/{case}/meetings/{id}`.
    pub fn name(&self) -> String {
        format!("{}/meetings/{}", self.case_id.resource_name(), self.id)
    }
}

const MEETING_COLUMNS: &str = "id, case_id, subdistrict_code, scheduled_for, location, participants, agenda, state, \
     decision, attendees, decided_at, scheduled_by, created_at";

fn meeting_from_row(row: &PgRow) -> Result<MeetingRow, sqlx::Error> {
    Ok(MeetingRow {
        id: row.try_get("id")?,
        case_id: CaseId::from_uuid(row.try_get("case_id")?),
        subdistrict_code: row.try_get("subdistrict_code")?,
        scheduled_for: row.try_get("scheduled_for")?,
        location: row.try_get("location")?,
        participants: row.try_get("participants")?,
        agenda: row.try_get("agenda")?,
        state: row.try_get("state")?,
        decision: row.try_get("decision")?,
        attendees: row.try_get("attendees")?,
        decided_at: row.try_get("decided_at")?,
        scheduled_by: row.try_get("scheduled_by")?,
        created_at: row.try_get("created_at")?,
        actions: Vec::new(),
    })
}

async fn with_actions(
    connection: &mut PgConnection,
    mut meeting: MeetingRow,
) -> Result<MeetingRow, sqlx::Error> {
    meeting.actions = sqlx::query_as(
        "select position, description, owner, due, state, done_at, done_by, overdue_at
         from meeting_actions where meeting_id = $1 order by position",
    )
    .bind(meeting.id)
    .fetch_all(connection)
    .await?;
    Ok(meeting)
}

/// Inserts a meeting unless the request id was used for this case; returns the meeting
/// the request stands for.
pub async fn insert_meeting(
    connection: &mut PgConnection,
    meeting: &MeetingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into meetings (id, case_id, subdistrict_code, scheduled_for, location, participants, agenda,
             state, attendees, scheduled_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, '{}', $9, $10)",
    )
    .bind(meeting.id)
    .bind(meeting.case_id.as_uuid())
    .bind(&meeting.subdistrict_code)
    .bind(meeting.scheduled_for)
    .bind(&meeting.location)
    .bind(&meeting.participants)
    .bind(&meeting.agenda)
    .bind(&meeting.state)
    .bind(&meeting.scheduled_by)
    .bind(meeting.created_at)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// One meeting, optionally locked.
pub async fn load_meeting(
    connection: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<MeetingRow>, sqlx::Error> {
    let lock = if for_update { " for update" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {MEETING_COLUMNS} from meetings where id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;
    match row {
        Some(row) => Ok(Some(
            with_actions(connection, meeting_from_row(&row)?).await?,
        )),
        None => Ok(None),
    }
}

/// Records a meeting's decision and actions.
pub async fn decide_meeting(
    connection: &mut PgConnection,
    meeting: &MeetingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query("update meetings set state = $2, decision = $3, attendees = $4, decided_at = $5 where id = $1")
        .bind(meeting.id)
        .bind(&meeting.state)
        .bind(&meeting.decision)
        .bind(&meeting.attendees)
        .bind(meeting.decided_at)
        .execute(&mut *connection)
        .await?;
    for action in &meeting.actions {
        sqlx::query(
            "insert into meeting_actions (meeting_id, position, description, owner, due, state)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(meeting.id)
        .bind(action.position)
        .bind(&action.description)
        .bind(&action.owner)
        .bind(action.due)
        .bind(&action.state)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// Records an open or overdue action done; false when it is not there or done already.
pub async fn complete_action(
    connection: &mut PgConnection,
    meeting_id: Uuid,
    position: i32,
    done_by: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update meeting_actions set state = 'done', done_at = $3, done_by = $4
         where meeting_id = $1 and position = $2 and state <> 'done'",
    )
    .bind(meeting_id)
    .bind(position)
    .bind(at)
    .bind(done_by)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Open actions whose deadline passed before `now`, earliest first (not locked: the
/// worker locks each in its own transaction, skipping those another replica holds).
pub async fn due_actions(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, i32, CaseId)>, sqlx::Error> {
    let rows: Vec<(Uuid, i32, Uuid)> = sqlx::query_as(
        "select a.meeting_id, a.position, m.case_id
         from meeting_actions a join meetings m on m.id = a.meeting_id
         where a.state = 'open' and a.due < $1 order by a.due limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(meeting, position, case)| (meeting, position, CaseId::from_uuid(case)))
        .collect())
}

/// Locks an open action whose deadline passed, unless another replica holds it or
/// found it overdue already. Lock its case first: every writer locks a case before its
/// meeting actions, so they never wait on each other in opposite orders.
pub async fn lock_due_action(
    connection: &mut PgConnection,
    meeting_id: Uuid,
    position: i32,
    now: DateTime<Utc>,
) -> Result<Option<DueAction>, sqlx::Error> {
    let row = sqlx::query(
        "select a.position, a.description, a.owner, a.due, a.state, a.done_at, a.done_by,
                a.overdue_at, m.case_id, m.subdistrict_code
         from meeting_actions a join meetings m on m.id = a.meeting_id
         where a.meeting_id = $1 and a.position = $2 and a.state = 'open' and a.due < $3
         for update of a skip locked",
    )
    .bind(meeting_id)
    .bind(position)
    .bind(now)
    .fetch_optional(connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(DueAction {
        meeting_id,
        case_id: CaseId::from_uuid(row.try_get("case_id")?),
        subdistrict_code: row.try_get("subdistrict_code")?,
        action: <MeetingActionRow as sqlx::FromRow<PgRow>>::from_row(&row)?,
    }))
}

/// Marks a locked action overdue.
pub async fn mark_action_overdue(
    connection: &mut PgConnection,
    meeting_id: Uuid,
    position: i32,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update meeting_actions set state = 'overdue', overdue_at = $3
         where meeting_id = $1 and position = $2",
    )
    .bind(meeting_id)
    .bind(position)
    .bind(at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Meeting actions of the cases `scope` reaches that were due in `[start, end)` and
/// not done by their deadline as of `as_of`: (owner, case's block code) of each.
pub async fn overdue_actions_for_indicators(
    connection: &mut PgConnection,
    scope: &super::ListScope,
    subdistrict_code: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(
        "select a.owner, cases.block_code from meeting_actions a
         join meetings m on m.id = a.meeting_id
         join cases on cases.id = m.case_id where ",
    );
    super::lists::push_scope(&mut builder, scope);
    builder.push(" and a.due >= ");
    builder.push_bind(start);
    builder.push(" and a.due < ");
    builder.push_bind(end);
    builder.push(" and a.due < ");
    builder.push_bind(as_of);
    // Not done by its deadline (done later, or not at all): overdue as of `as_of`.
    builder.push(" and (a.done_at is null or a.done_at > a.due)");
    if let Some(code) = subdistrict_code {
        builder.push(" and cases.subdistrict_code = ");
        builder.push_bind(code.to_owned());
    }
    builder.build_query_as().fetch_all(connection).await
}

/// A case's meetings, oldest first.
pub async fn list_meetings(
    connection: &mut PgConnection,
    case_id: CaseId,
) -> Result<Vec<MeetingRow>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {MEETING_COLUMNS} from meetings where case_id = $1 order by created_at, id"
    )))
    .bind(case_id.as_uuid())
    .fetch_all(&mut *connection)
    .await?;
    let mut meetings = Vec::with_capacity(rows.len());
    for row in &rows {
        meetings.push(with_actions(&mut *connection, meeting_from_row(row)?).await?);
    }
    Ok(meetings)
}
