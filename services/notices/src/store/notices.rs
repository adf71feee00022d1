//! Block robots, notices and their per-block deliveries.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use super::feedback::DeliveryState;
use super::{DatabaseContext as _, StoreError};
use crate::domain::{GatewayUrl, NoticeCategory};

/// A block group's robot as stored.
#[derive(Debug, Clone)]
pub struct RobotRow {
    pub block_code: String,
    pub url: GatewayUrl,
    pub broken: bool,
    pub broken_reason: String,
    pub update_time: DateTime<Utc>,
}

fn robot(row: &sqlx::postgres::PgRow) -> Result<RobotRow, StoreError> {
    let context = "reading a block robot";
    let url: String = row.try_get("url").context(context)?;
    let state: String = row.try_get("state").context(context)?;
    Ok(RobotRow {
        block_code: row.try_get("block_code").context(context)?,
        url: GatewayUrl::parse(&url).map_err(|_| StoreError::Corrupt("robot url".into()))?,
        broken: state == "broken",
        broken_reason: row.try_get("broken_reason").context(context)?,
        update_time: row.try_get("update_time").context(context)?,
    })
}

/// Registers or replaces a block's robot, active again.
pub async fn set_robot(
    connection: &mut PgConnection,
    block_code: &str,
    url: &GatewayUrl,
) -> Result<RobotRow, StoreError> {
    let row = sqlx::query(
        "insert into block_robots (block_code, url) values ($1, $2)
         on conflict (block_code) do update set url = excluded.url, state = 'active',
             broken_reason = '', update_time = now()
         returning block_code, url, state, broken_reason, update_time",
    )
    .bind(block_code)
    .bind(url.expose())
    .fetch_one(connection)
    .await
    .context("saving a block robot")?;
    robot(&row)
}

/// The robots of blocks whose codes start with `prefix`, by block code.
pub async fn robots_under(
    connection: &mut PgConnection,
    prefix: &str,
) -> Result<Vec<RobotRow>, StoreError> {
    let rows = sqlx::query(
        "select block_code, url, state, broken_reason, update_time from block_robots
         where starts_with(block_code, $1) order by block_code",
    )
    .bind(prefix)
    .fetch_all(connection)
    .await
    .context("listing block robots")?;
    rows.iter().map(robot).collect()
}

/// Marks a robot broken (WeCom refused its key).
pub async fn break_robot(
    connection: &mut PgConnection,
    block_code: &str,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update block_robots set state = 'broken', broken_reason = $2, update_time = now()
         where block_code = $1",
    )
    .bind(block_code)
    .bind(reason)
    .execute(connection)
    .await
    .context("marking a block robot broken")?;
    Ok(())
}

/// A notice as stored.
#[derive(Debug, Clone)]
pub struct NoticeRow {
    pub id: Uuid,
    /// The audience's division code.
    pub audience: String,
    pub category: NoticeCategory,
    pub title: String,
    pub body: String,
    pub created_by: String,
    pub create_time: DateTime<Utc>,
    /// When its deliveries first fall due.
    pub send_time: DateTime<Utc>,
    /// After which an undelivered block is given up.
    pub expire_time: Option<DateTime<Utc>>,
    pub state: NoticeState,
    /// Who approved a district-wide notice; empty otherwise.
    pub approved_by: String,
    pub approve_time: Option<DateTime<Utc>>,
    /// References, listed under the body.
    pub attachments: Vec<String>,
}

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// District-wide, waiting for a second person's approval: not sent.
    PendingApproval,
    Published,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::PendingApproval => "pending_approval",
            NoticeState::Published => "published",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [NoticeState::PendingApproval, NoticeState::Published]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// One block a notice targets, as the registry counted it.
#[derive(Debug, Clone)]
pub struct TargetRow {
    pub block_code: String,
    pub households: i32,
    /// It had no robot: recorded as skipped, never sent.
    pub unreachable: bool,
}

/// Why a block without a robot was not sent a notice.
pub const UNREACHABLE_NOTE: &str = "the block has no WeCom robot registered: not reachable";

fn notice(row: &sqlx::postgres::PgRow) -> Result<NoticeRow, StoreError> {
    let context = "reading a notice";
    let category: String = row.try_get("category").context(context)?;
    let state: String = row.try_get("state").context(context)?;
    Ok(NoticeRow {
        id: row.try_get("id").context(context)?,
        audience: row.try_get("audience").context(context)?,
        category: NoticeCategory::parse(&category)
            .ok_or_else(|| StoreError::Corrupt(format!("notice category {category:?}")))?,
        title: row.try_get("title").context(context)?,
        body: row.try_get("body").context(context)?,
        created_by: row.try_get("created_by").context(context)?,
        create_time: row.try_get("create_time").context(context)?,
        send_time: row.try_get("send_time").context(context)?,
        expire_time: row.try_get("expire_time").context(context)?,
        state: NoticeState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("notice state {state:?}")))?,
        approved_by: row.try_get("approved_by").context(context)?,
        approve_time: row.try_get("approve_time").context(context)?,
        attachments: row.try_get("attachments").context(context)?,
    })
}

/// Records a notice and one delivery of `parts` parts per block targeted:
/// pending, or skipped with [`UNREACHABLE_NOTE`] for a block without a robot.
pub async fn insert_notice(
    connection: &mut PgConnection,
    notice: &NoticeRow,
    targets: &[TargetRow],
    parts: i32,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into notices (id, audience, category, title, body, created_by, create_time,
             send_time, expire_time, state, attachments)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(notice.id)
    .bind(&notice.audience)
    .bind(notice.category.as_str())
    .bind(&notice.title)
    .bind(&notice.body)
    .bind(&notice.created_by)
    .bind(notice.create_time)
    .bind(notice.send_time)
    .bind(notice.expire_time)
    .bind(notice.state.as_str())
    .bind(&notice.attachments)
    .execute(&mut *connection)
    .await
    .context("recording a notice")?;
    let codes: Vec<&str> = targets.iter().map(|t| t.block_code.as_str()).collect();
    let households: Vec<i32> = targets.iter().map(|t| t.households).collect();
    let unreachable: Vec<bool> = targets.iter().map(|t| t.unreachable).collect();
    sqlx::query(
        "insert into notice_deliveries (notice_id, block_code, households, parts,
             next_attempt_time, state, note)
         select $1, block_code, households, $5, $6,
             case when unreachable then 'skipped' else 'pending' end,
             case when unreachable then $7 else '' end
         from unnest($2::text[], $3::integer[], $4::boolean[])
             as target (block_code, households, unreachable)",
    )
    .bind(notice.id)
    .bind(&codes)
    .bind(&households)
    .bind(&unreachable)
    .bind(parts)
    .bind(notice.send_time)
    .bind(UNREACHABLE_NOTE)
    .execute(connection)
    .await
    .context("recording a notice's deliveries")?;
    Ok(())
}

const NOTICE_COLUMNS: &str = "id, audience, category, title, body, created_by, create_time, \
     send_time, expire_time, state, approved_by, approve_time, attachments";

/// Approves a district-wide notice waiting for it. Answers whether it was
/// waiting (a notice already published is left as it is).
pub async fn approve_notice(
    connection: &mut PgConnection,
    id: Uuid,
    approved_by: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "update notices set state = 'published', approved_by = $2, approve_time = $3
         where id = $1 and state = 'pending_approval'",
    )
    .bind(id)
    .bind(approved_by)
    .bind(at)
    .execute(connection)
    .await
    .context("approving a notice")?;
    Ok(updated.rows_affected() == 1)
}

pub async fn get_notice(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<NoticeRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {NOTICE_COLUMNS} from notices where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a notice")?;
    row.as_ref().map(notice).transpose()
}

/// The notices delivered (or being delivered) to a block, newest first,
/// after `after`, at most `limit`.
pub async fn notices_to_block(
    connection: &mut PgConnection,
    block_code: &str,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NoticeRow>, StoreError> {
    let rows = sqlx::query(
        "select n.id, n.audience, n.category, n.title, n.body, n.created_by, n.create_time,
             n.send_time, n.expire_time, n.state, n.approved_by, n.approve_time, n.attachments
         from notices n join notice_deliveries d on d.notice_id = n.id
         where d.block_code = $1 and ($2::uuid is null or n.id < $2)
         order by n.id desc limit $3",
    )
    .bind(block_code)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing a block's notices")?;
    rows.iter().map(notice).collect()
}

/// A notice's delivery to one block.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub notice_id: Uuid,
    pub block_code: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub parts: i32,
    pub parts_sent: i32,
    pub note: String,
    pub next_attempt_time: DateTime<Utc>,
    pub delivered_time: Option<DateTime<Utc>>,
    pub households: i32,
}

fn delivery(row: &sqlx::postgres::PgRow) -> Result<DeliveryRow, StoreError> {
    let context = "reading a notice delivery";
    let state: String = row.try_get("state").context(context)?;
    Ok(DeliveryRow {
        notice_id: row.try_get("notice_id").context(context)?,
        block_code: row.try_get("block_code").context(context)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state:?}")))?,
        attempts: row.try_get("attempts").context(context)?,
        parts: row.try_get("parts").context(context)?,
        parts_sent: row.try_get("parts_sent").context(context)?,
        note: row.try_get("note").context(context)?,
        next_attempt_time: row.try_get("next_attempt_time").context(context)?,
        delivered_time: row.try_get("delivered_time").context(context)?,
        households: row.try_get("households").context(context)?,
    })
}

const DELIVERY_COLUMNS: &str = "notice_id, block_code, state, attempts, parts, parts_sent, note, \
     next_attempt_time, delivered_time, households";

/// A notice's deliveries, by block code.
pub async fn deliveries_of(
    connection: &mut PgConnection,
    notice_id: Uuid,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from notice_deliveries where notice_id = $1 order by block_code"
    )))
    .bind(notice_id)
    .fetch_all(connection)
    .await
    .context("reading a notice's deliveries")?;
    rows.iter().map(delivery).collect()
}

/// Only published notices are sent: a district-wide one waits for approval.
const PUBLISHED: &str =
    "exists (select 1 from notices n where n.id = notice_id and n.state = 'published')";

/// The delivery due first, locked for the caller's transaction (`SKIP
/// LOCKED`: other replicas take the next).
pub async fn claim_due(connection: &mut PgConnection) -> Result<Option<DeliveryRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from notice_deliveries
         where state = 'pending' and next_attempt_time <= now() and {PUBLISHED}
         order by next_attempt_time limit 1 for update skip locked"
    )))
    .fetch_optional(connection)
    .await
    .context("claiming a notice delivery")?;
    row.as_ref().map(delivery).transpose()
}

/// When the next delivery falls due, if any is pending.
pub async fn next_due(connection: &mut PgConnection) -> Result<Option<DateTime<Utc>>, StoreError> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select min(next_attempt_time) from notice_deliveries
         where state = 'pending' and {PUBLISHED}"
    )))
    .fetch_one(connection)
    .await
    .context("reading when notices fall due")
}

/// The robot of a block, if registered.
pub async fn robot_of(
    connection: &mut PgConnection,
    block_code: &str,
) -> Result<Option<RobotRow>, StoreError> {
    let row = sqlx::query(
        "select block_code, url, state, broken_reason, update_time from block_robots
         where block_code = $1",
    )
    .bind(block_code)
    .fetch_optional(connection)
    .await
    .context("reading a block robot")?;
    row.as_ref().map(robot).transpose()
}

/// How one call to a robot ended.
#[derive(Debug, Clone)]
pub enum PartOutcome {
    /// The part reached the group.
    Sent,
    /// Tried again at `retry_at`.
    Failed {
        retry_at: DateTime<Utc>,
    },
    GivenUp,
}

/// Records one call on a claimed delivery: its new state and its row in
/// the append-only attempts record. Answers the delivery as it now stands.
pub async fn record_part(
    connection: &mut PgConnection,
    claimed: &DeliveryRow,
    outcome: &PartOutcome,
    note: &str,
) -> Result<DeliveryRow, StoreError> {
    let part = claimed.parts_sent + 1;
    let (parts_sent, state, retry_at, recorded) = match outcome {
        PartOutcome::Sent if part >= claimed.parts => (part, "delivered", None, "delivered"),
        PartOutcome::Sent => (part, "pending", None, "delivered"),
        PartOutcome::Failed { retry_at } => {
            (claimed.parts_sent, "pending", Some(*retry_at), "failed")
        }
        PartOutcome::GivenUp => (claimed.parts_sent, "given_up", None, "given_up"),
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "update notice_deliveries set parts_sent = $3, state = $4, attempts = attempts + 1,
             note = $5, next_attempt_time = coalesce($6, next_attempt_time),
             delivered_time = case when $4 = 'delivered' then now() else delivered_time end
         where notice_id = $1 and block_code = $2
         returning {DELIVERY_COLUMNS}"
    )))
    .bind(claimed.notice_id)
    .bind(&claimed.block_code)
    .bind(parts_sent)
    .bind(state)
    .bind(note)
    .bind(retry_at)
    .fetch_one(&mut *connection)
    .await
    .context("recording a notice delivery")?;
    sqlx::query(
        "insert into notice_attempts (notice_id, block_code, part, outcome, note)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(claimed.notice_id)
    .bind(&claimed.block_code)
    .bind(part)
    .bind(recorded)
    .bind(note)
    .execute(connection)
    .await
    .context("recording a notice delivery")?;
    delivery(&row)
}
