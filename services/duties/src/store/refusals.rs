//! The gate's refusals: appended, never changed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};
use crate::domain::{Location, Responsible, Unit};
use flatgov_auth::policy::Reach;

/// A unit as a refusal stores it: `department`, `subdistrict`,
/// `community` or `block_team`, and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUnit {
    pub kind: &'static str,
    /// Empty when the place asked about does not name the division a role
    /// stands for (a block team, with only a subdistrict known).
    pub code: String,
}

impl StoredUnit {
    pub fn of(unit: &Unit) -> Self {
        let (kind, code) = match unit {
            Unit::Department(code) => ("department", code.as_str()),
            Unit::Subdistrict(code) => ("subdistrict", code.as_str()),
            Unit::Community(code) => ("community", code.as_str()),
            Unit::BlockTeam(code) => ("block_team", code.as_str()),
        };
        Self {
            kind,
            code: code.to_owned(),
        }
    }

    /// A role made concrete at a location: the block team of the
    /// location's block, and so on.
    pub fn responsible_at(responsible: &Responsible, location: &Location) -> Self {
        let (kind, code) = match responsible {
            Responsible::BlockTeam => ("block_team", location.block().map(|code| code.to_string())),
            Responsible::Community => (
                "community",
                location.community().map(|code| code.to_string()),
            ),
            Responsible::SubdistrictPlatform => (
                "subdistrict",
                location.subdistrict().map(|code| code.to_string()),
            ),
            Responsible::Department(code) => ("department", Some(code.to_string())),
        };
        Self {
            kind,
            code: code.unwrap_or_default(),
        }
    }
}

/// A refusal to record.
#[derive(Debug, Clone)]
pub struct NewRefusal {
    pub id: uuid::Uuid,
    pub matter_code: String,
    pub item_code: String,
    pub item_version: Option<i32>,
    /// The unit that tried to assign.
    pub from: StoredUnit,
    /// The unit it tried to assign to.
    pub to: StoredUnit,
    pub reason_code: &'static str,
    pub reason: String,
    /// Who the matter belongs with instead.
    pub responsible: StoredUnit,
    pub case_name: Option<String>,
    pub attempted_by: String,
    pub caller: String,
    pub checked_at: DateTime<Utc>,
}

/// A recorded refusal.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RefusalRow {
    pub id: uuid::Uuid,
    pub matter_code: String,
    pub item_code: String,
    pub item_version: Option<i32>,
    pub from_kind: String,
    pub from_code: String,
    pub to_kind: String,
    pub to_code: String,
    pub reason_code: String,
    pub reason: String,
    pub responsible_kind: String,
    pub responsible_code: String,
    pub case_name: Option<String>,
    pub attempted_by: String,
    pub caller: String,
    pub checked_at: DateTime<Utc>,
    pub refuse_time: DateTime<Utc>,
}

const REFUSAL_COLUMNS: &str =
    "id, matter_code, item_code, item_version, from_kind, from_code, to_kind,
     to_code, reason_code, reason, responsible_kind, responsible_code, case_name, attempted_by,
     caller, checked_at, refuse_time";

/// Records a refusal.
pub async fn insert(
    connection: &mut PgConnection,
    refusal: &NewRefusal,
) -> Result<RefusalRow, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into refusals (id, matter_code, item_code, item_version, from_kind,
             from_code, to_kind, to_code, reason_code, reason, responsible_kind, responsible_code,
             case_name, attempted_by, caller, checked_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         returning {REFUSAL_COLUMNS}"
    )))
    .bind(refusal.id)
    .bind(&refusal.matter_code)
    .bind(&refusal.item_code)
    .bind(refusal.item_version)
    .bind(refusal.from.kind)
    .bind(&refusal.from.code)
    .bind(refusal.to.kind)
    .bind(&refusal.to.code)
    .bind(refusal.reason_code)
    .bind(&refusal.reason)
    .bind(refusal.responsible.kind)
    .bind(&refusal.responsible.code)
    .bind(&refusal.case_name)
    .bind(&refusal.attempted_by)
    .bind(&refusal.caller)
    .bind(refusal.checked_at)
    .fetch_one(connection)
    .await
    .context("recording a refusal")
}

pub async fn get(
    connection: &mut PgConnection,
    id: uuid::Uuid,
) -> Result<Option<RefusalRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {REFUSAL_COLUMNS} from refusals where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a refusal")
}

/// Filters shared by listing and counting refusals; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct RefusalFilter {
    pub from_department: Option<String>,
    /// A division code prefix of the unit assigned to.
    pub to_division: Option<String>,
    pub matter_code: Option<String>,
    pub reason_code: Option<String>,
    pub case_name: Option<String>,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
}

/// The filters, and what a limited caller reaches ($8, $9): the
/// refusal's division (the unit assigned to, or else the assigning one)
/// inside the caller's jurisdiction, or the caller's department on either
/// side; as `application::refusals` decides for one refusal.
const REFUSAL_FILTER: &str = "($1::text is null or (from_kind = 'department' and from_code = $1))
     and ($2::text is null or (to_kind <> 'department' and starts_with(to_code, $2)))
     and ($3::text is null or matter_code = $3)
     and ($4::text is null or reason_code = $4)
     and ($5::text is null or case_name = $5)
     and ($6::timestamptz is null or refuse_time >= $6)
     and ($7::timestamptz is null or refuse_time < $7)
     and ($8::text[] is null
          or exists (select from unnest($8::text[]) as prefix
                     where starts_with(case when to_kind <> 'department' then to_code
                                            when from_kind <> 'department' then from_code end,
                                       prefix))
          or (from_kind = 'department' and from_code = $9)
          or (to_kind = 'department' and to_code = $9))";

/// Refusals newest first, after the (time, id) key of the previous page,
/// of those `reach` reaches (all when `None`).
pub async fn list(
    connection: &mut PgConnection,
    filter: &RefusalFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<RefusalRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {REFUSAL_COLUMNS} from refusals
         where {REFUSAL_FILTER}
           and ($10::timestamptz is null or (refuse_time, id) < ($10, $11))
         order by refuse_time desc, id desc limit $12"
    )))
    .bind(&filter.from_department)
    .bind(&filter.to_division)
    .bind(&filter.matter_code)
    .bind(&filter.reason_code)
    .bind(&filter.case_name)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(after.map(|(time, _)| time))
    .bind(after.map(|(_, id)| id).unwrap_or_default())
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing refusals")
}

/// Refusals per assigning unit, month (China Standard Time) and reason.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RefusalCountRow {
    pub from_kind: String,
    pub from_code: String,
    pub month: String,
    pub reason_code: String,
    pub refusals: i64,
}

pub async fn count(
    connection: &mut PgConnection,
    filter: &RefusalFilter,
    reach: Option<&Reach>,
) -> Result<Vec<RefusalCountRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select from_kind, from_code,
                to_char(refuse_time at time zone 'Asia/Shanghai', 'YYYY-MM') as month,
                reason_code, count(*) as refusals
         from refusals where {REFUSAL_FILTER}
         group by 1, 2, 3, 4 order by 1, 2, 3, 4"
    )))
    .bind(&filter.from_department)
    .bind(&filter.to_division)
    .bind(&filter.matter_code)
    .bind(&filter.reason_code)
    .bind(&filter.case_name)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .fetch_all(connection)
    .await
    .context("counting refusals")
}
