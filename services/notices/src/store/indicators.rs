//! Counts behind the indicators, by period and place. A case's place is its
//! block, or its subdistrict before triage placed it in one; a division
//! code is a prefix of the codes under it, so one `starts_with` selects a
//! district, subdistrict, community or block.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};

use super::{DatabaseContext as _, StoreError};
use crate::domain::Milestone;

/// One milestone's messages in a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MilestoneCounts {
    pub due: i64,
    pub on_time: i64,
    pub late: i64,
    pub pending: i64,
    pub given_up: i64,
    pub skipped: i64,
}

/// Feedback per milestone for case events from `start` to `end` under
/// `division`; a message is on time when delivered within `on_time_seconds`
/// of its case event.
pub async fn feedback(
    connection: &mut PgConnection,
    division: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    on_time_seconds: i64,
) -> Result<Vec<(Milestone, MilestoneCounts)>, StoreError> {
    let context = "counting feedback";
    let rows = sqlx::query(
        "select milestone,
             count(*) filter (where state <> 'skipped') as due,
             count(*) filter (where state = 'delivered'
                 and delivered_time <= occurred_time + make_interval(secs => $4)) as on_time,
             count(*) filter (where state = 'delivered'
                 and delivered_time > occurred_time + make_interval(secs => $4)) as late,
             count(*) filter (where state = 'pending') as pending,
             count(*) filter (where state = 'given_up') as given_up,
             count(*) filter (where state = 'skipped') as skipped
         from feedback
         where occurred_time >= $2 and occurred_time < $3
             and starts_with(case when block_code <> '' then block_code else subdistrict_code end, $1)
         group by milestone",
    )
    .bind(division)
    .bind(start)
    .bind(end)
    .bind(on_time_seconds as f64)
    .fetch_all(connection)
    .await
    .context(context)?;
    rows.iter()
        .map(|row| {
            let milestone: String = row.try_get("milestone").context(context)?;
            let milestone = Milestone::parse(&milestone)
                .ok_or_else(|| StoreError::Corrupt(format!("milestone {milestone:?}")))?;
            Ok((
                milestone,
                MilestoneCounts {
                    due: row.try_get("due").context(context)?,
                    on_time: row.try_get("on_time").context(context)?,
                    late: row.try_get("late").context(context)?,
                    pending: row.try_get("pending").context(context)?,
                    given_up: row.try_get("given_up").context(context)?,
                    skipped: row.try_get("skipped").context(context)?,
                },
            ))
        })
        .collect()
}

/// Cases verified from `start` to `end` under `division`, and how many of
/// them got a return visit.
pub async fn return_visits(
    connection: &mut PgConnection,
    division: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(i64, i64), StoreError> {
    let context = "counting return visits";
    let row = sqlx::query(
        "select count(*) as verified,
             count(*) filter (where visited_time is not null) as visited
         from return_visits
         where verified_sequence > 0 and verified_time >= $2 and verified_time < $3
             and starts_with(case when block_code <> '' then block_code else subdistrict_code end, $1)",
    )
    .bind(division)
    .bind(start)
    .bind(end)
    .fetch_one(connection)
    .await
    .context(context)?;
    Ok((
        row.try_get("verified").context(context)?,
        row.try_get("visited").context(context)?,
    ))
}

/// Published notices created from `start` to `end` with a block under
/// `division`: the notices, their blocks there and those delivered.
pub async fn notice_reach(
    connection: &mut PgConnection,
    division: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<(i64, i64, i64), StoreError> {
    let context = "counting notice reach";
    let row = sqlx::query(
        "select count(distinct n.id) as notices, count(*) as targeted,
             count(*) filter (where d.state = 'delivered') as delivered
         from notices n join notice_deliveries d on d.notice_id = n.id
         where n.state = 'published' and n.create_time >= $2 and n.create_time < $3
             and starts_with(d.block_code, $1)",
    )
    .bind(division)
    .bind(start)
    .bind(end)
    .fetch_one(connection)
    .await
    .context(context)?;
    Ok((
        row.try_get("notices").context(context)?,
        row.try_get("targeted").context(context)?,
        row.try_get("delivered").context(context)?,
    ))
}
