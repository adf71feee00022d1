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
    /// (description, owner, due), in order.
    pub actions: Vec<(String, String, DateTime<Utc>)>,
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
        "select description, owner, due from meeting_actions where meeting_id = $1 order by position",
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
    for (position, (description, owner, due)) in meeting.actions.iter().enumerate() {
        sqlx::query(
            "insert into meeting_actions (meeting_id, position, description, owner, due) values ($1, $2, $3, $4, $5)",
        )
        .bind(meeting.id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(description)
        .bind(owner)
        .bind(due)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
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
