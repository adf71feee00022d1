//! The feedback table (one row per case and milestone) and the record of
//! delivery attempts.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use super::{DatabaseContext as _, StoreError};
use crate::domain::{Closure, Milestone};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    GivenUp,
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::GivenUp => "given_up",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "given_up" => Some(DeliveryState::GivenUp),
            "skipped" => Some(DeliveryState::Skipped),
            _ => None,
        }
    }
}

/// A message due to a case's reporter, as a case event announced it.
#[derive(Debug, Clone)]
pub struct NewFeedback {
    pub case_id: Uuid,
    pub milestone: Milestone,
    pub block_code: String,
    pub subdistrict_code: String,
    pub handler: String,
    pub closure: Option<Closure>,
    pub occurred_time: DateTime<Utc>,
}

/// A message as stored.
#[derive(Debug, Clone)]
pub struct FeedbackRow {
    pub case_id: Uuid,
    pub milestone: Milestone,
    pub delivery_id: Uuid,
    pub block_code: String,
    pub subdistrict_code: String,
    pub handler: String,
    pub closure: Option<Closure>,
    pub occurred_time: DateTime<Utc>,
    pub state: DeliveryState,
    pub gateway: String,
    pub attempts: i32,
    pub note: String,
    pub next_attempt_time: DateTime<Utc>,
    pub delivered_time: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "case_id, milestone, delivery_id, block_code, subdistrict_code, handler, closure, \
     occurred_time, state, gateway, attempts, note, next_attempt_time, delivered_time";

fn from_row(row: &sqlx::postgres::PgRow) -> Result<FeedbackRow, StoreError> {
    let context = "reading feedback";
    let milestone: String = row.try_get("milestone").context(context)?;
    let state: String = row.try_get("state").context(context)?;
    let closure: String = row.try_get("closure").context(context)?;
    Ok(FeedbackRow {
        case_id: row.try_get("case_id").context(context)?,
        milestone: Milestone::parse(&milestone)
            .ok_or_else(|| StoreError::Corrupt(format!("milestone {milestone:?}")))?,
        delivery_id: row.try_get("delivery_id").context(context)?,
        block_code: row.try_get("block_code").context(context)?,
        subdistrict_code: row.try_get("subdistrict_code").context(context)?,
        handler: row.try_get("handler").context(context)?,
        closure: Closure::parse(&closure),
        occurred_time: row.try_get("occurred_time").context(context)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
        gateway: row.try_get("gateway").context(context)?,
        attempts: row.try_get("attempts").context(context)?,
        note: row.try_get("note").context(context)?,
        next_attempt_time: row.try_get("next_attempt_time").context(context)?,
        delivered_time: row.try_get("delivered_time").context(context)?,
    })
}

/// Records a message due, unless this case's milestone already has one:
/// answers whether it was new. The earliest event of a milestone wins: a
/// redelivered, replayed or later one (a second dispatch) changes nothing,
/// and one that happened earlier but was applied later (events of one
/// subject are applied in parallel) takes its place while nothing was
/// attempted yet — so the received message names the first handler.
pub async fn insert_if_absent(
    connection: &mut PgConnection,
    feedback: &NewFeedback,
) -> Result<bool, StoreError> {
    // `xmax = 0` only for a row this statement inserted (an update by the
    // conflict clause sets it).
    let inserted: Option<bool> = sqlx::query_scalar(
        "insert into feedback (case_id, milestone, delivery_id, block_code, subdistrict_code,
             handler, closure, occurred_time)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (case_id, milestone) do update set
             block_code = excluded.block_code, subdistrict_code = excluded.subdistrict_code,
             handler = excluded.handler, closure = excluded.closure,
             occurred_time = excluded.occurred_time
         where feedback.state = 'pending' and feedback.attempts = 0
             and excluded.occurred_time < feedback.occurred_time
         returning (xmax = 0)",
    )
    .bind(feedback.case_id)
    .bind(feedback.milestone.as_str())
    .bind(Uuid::now_v7())
    .bind(&feedback.block_code)
    .bind(&feedback.subdistrict_code)
    .bind(&feedback.handler)
    .bind(feedback.closure.map(Closure::as_str).unwrap_or_default())
    .bind(feedback.occurred_time)
    .fetch_optional(connection)
    .await
    .context("recording feedback due")?;
    Ok(inserted == Some(true))
}

/// A case's messages in the order of their case events.
pub async fn for_case(
    connection: &mut PgConnection,
    case_id: Uuid,
) -> Result<Vec<FeedbackRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback where case_id = $1 order by occurred_time, create_time"
    )))
    .bind(case_id)
    .fetch_all(connection)
    .await
    .context("reading a case's feedback")?;
    rows.iter().map(from_row).collect()
}

/// A pending message is sendable only when no earlier message of its case is
/// still pending: a reporter reads the milestones in the order they happened
/// (never "reopened" before "received"), even when an earlier one waits for a
/// rate-limited robot or is being sent by another worker at that moment.
const FIRST_PENDING_OF_ITS_CASE: &str = "not exists (
             select 1 from feedback earlier
             where earlier.case_id = feedback.case_id
               and earlier.state = 'pending'
               and (earlier.occurred_time, earlier.create_time, earlier.milestone)
                   < (feedback.occurred_time, feedback.create_time, feedback.milestone))";

/// Claims the message due first, locked for the caller's transaction so no
/// other replica sends it meanwhile (`SKIP LOCKED`: they take the next).
pub async fn claim_due(connection: &mut PgConnection) -> Result<Option<FeedbackRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback
         where state = 'pending' and next_attempt_time <= now()
           and {FIRST_PENDING_OF_ITS_CASE}
         order by next_attempt_time
         limit 1
         for update skip locked"
    )))
    .fetch_optional(connection)
    .await
    .context("claiming feedback due")?;
    row.as_ref().map(from_row).transpose()
}

/// Claims up to `limit` messages due, first due first, each locked for the
/// caller's transaction (`SKIP LOCKED`: other workers and replicas take the
/// others), so each is sent by one worker at a time.
pub async fn claim_due_batch(
    connection: &mut PgConnection,
    limit: i64,
) -> Result<Vec<FeedbackRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from feedback
         where state = 'pending' and next_attempt_time <= now()
           and {FIRST_PENDING_OF_ITS_CASE}
         order by next_attempt_time
         limit $1
         for update skip locked"
    )))
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("claiming feedback due")?;
    rows.iter().map(from_row).collect()
}

/// When the next message falls due, if any is pending.
pub async fn next_due(connection: &mut PgConnection) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar("select min(next_attempt_time) from feedback where state = 'pending'")
        .fetch_one(connection)
        .await
        .context("reading when feedback falls due")
}

/// How an attempt ended, as recorded.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    Delivered,
    /// Tried again at `retry_at`.
    Failed {
        retry_at: DateTime<Utc>,
    },
    GivenUp,
    /// Nothing was sent (no attempt is recorded).
    Skipped,
}

/// Records the end of an attempt on a claimed message: its new state and,
/// for every real attempt, a row in the append-only attempts record.
pub async fn record_attempt(
    connection: &mut PgConnection,
    claimed: &FeedbackRow,
    gateway: &str,
    outcome: &AttemptOutcome,
    note: &str,
) -> Result<(), StoreError> {
    let (state, attempts, next_attempt, delivered, recorded) = match outcome {
        AttemptOutcome::Delivered => (
            DeliveryState::Delivered,
            claimed.attempts + 1,
            None,
            true,
            Some("delivered"),
        ),
        AttemptOutcome::Failed { retry_at } => (
            DeliveryState::Pending,
            claimed.attempts + 1,
            Some(*retry_at),
            false,
            Some("failed"),
        ),
        AttemptOutcome::GivenUp => (
            DeliveryState::GivenUp,
            claimed.attempts + 1,
            None,
            false,
            Some("given_up"),
        ),
        AttemptOutcome::Skipped => (DeliveryState::Skipped, claimed.attempts, None, false, None),
    };
    sqlx::query(
        "update feedback set state = $3, gateway = $4, attempts = $5, note = $6,
             next_attempt_time = coalesce($7, next_attempt_time),
             delivered_time = case when $8 then now() else delivered_time end
         where case_id = $1 and milestone = $2",
    )
    .bind(claimed.case_id)
    .bind(claimed.milestone.as_str())
    .bind(state.as_str())
    .bind(gateway)
    .bind(attempts)
    .bind(note)
    .bind(next_attempt)
    .bind(delivered)
    .execute(&mut *connection)
    .await
    .context("recording a delivery attempt")?;
    if let Some(outcome) = recorded {
        sqlx::query(
            "insert into delivery_attempts (case_id, milestone, attempt, gateway, outcome, note)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(claimed.case_id)
        .bind(claimed.milestone.as_str())
        .bind(attempts)
        .bind(gateway)
        .bind(outcome)
        .bind(note)
        .execute(connection)
        .await
        .context("recording a delivery attempt")?;
    }
    Ok(())
}

/// Leaves a claimed message pending until `retry_at` without counting an
/// attempt: nothing was sent (the cases service could not be asked).
pub async fn postpone(
    connection: &mut PgConnection,
    claimed: &FeedbackRow,
    retry_at: DateTime<Utc>,
    note: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update feedback set next_attempt_time = $3, note = $4
         where case_id = $1 and milestone = $2",
    )
    .bind(claimed.case_id)
    .bind(claimed.milestone.as_str())
    .bind(retry_at)
    .bind(note)
    .execute(connection)
    .await
    .context("postponing feedback")?;
    Ok(())
}
