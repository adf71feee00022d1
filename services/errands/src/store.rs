//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its events and its audit record commit together, and answer
//! with [`StoreError`], which says what the store was doing.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CatalogueMatter, ChecklistItem, ErrandState};
use crate::policy::Reach;

pub use flatgov_grpc::store::{DatabaseContext, StoreError};

/// Serialises catalogue publications: each takes the next version number.
const CATALOGUE_LOCK: i64 = 0x6572_7261_6e64_7301;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogueRow {
    pub version: i32,
    pub publish_time: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct MatterRow {
    code: String,
    name_zh: String,
    name_en: String,
    deciding_department: String,
    proxy_allowed: bool,
    in_person_required: bool,
    statutory_limit_days: i32,
    promised_limit_days: i32,
    fee_fen: i64,
    fee_note: String,
    usual_trips: i32,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct MaterialRow {
    matter_code: String,
    code: String,
    name_zh: String,
    name_en: String,
    required: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErrandRow {
    pub id: Uuid,
    pub matter_code: String,
    pub catalogue_version: i32,
    pub block_code: String,
    pub subdistrict_code: String,
    pub channel: String,
    pub proxy: bool,
    pub deciding_department: String,
    pub resident_name: String,
    pub resident_phone: String,
    pub resident_id_number: Option<String>,
    pub resident_account: Option<String>,
    pub handler: String,
    pub state: String,
    pub result: Option<String>,
    pub refusal_reason: Option<String>,
    pub returns: i32,
    pub resident_trips: i32,
    pub request_time: DateTime<Utc>,
    pub submit_time: Option<DateTime<Utc>>,
    pub statutory_due: Option<DateTime<Utc>>,
    pub promised_due: Option<DateTime<Utc>>,
    pub decide_time: Option<DateTime<Utc>>,
    pub told_time: Option<DateTime<Utc>>,
    pub told_by: Option<String>,
}

impl ErrandRow {
    pub fn state(&self) -> Result<ErrandState, StoreError> {
        ErrandState::parse(&self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("errand state {:?}", self.state)))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub number: i32,
    pub material: String,
    pub reference: String,
    pub collect_time: DateTime<Utc>,
    pub collected_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoticeRow {
    pub round: i32,
    pub materials: Vec<String>,
    pub notice_time: DateTime<Utc>,
    pub noticed_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReturnRow {
    pub round: i32,
    pub materials: Vec<String>,
    pub return_time: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransitionRow {
    pub number: i32,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub actor: String,
    pub actor_role: String,
    pub time: DateTime<Utc>,
}

/// An errand with everything recorded about it, and its matter as the
/// catalogue version it runs under says.
#[derive(Debug, Clone)]
pub struct StoredErrand {
    pub errand: ErrandRow,
    pub matter: CatalogueMatter,
    pub documents: Vec<DocumentRow>,
    pub notices: Vec<NoticeRow>,
    pub returns: Vec<ReturnRow>,
    pub transitions: Vec<TransitionRow>,
}

impl StoredErrand {
    /// The items missing now (see [`crate::domain::missing_materials`]).
    pub fn missing(&self) -> Vec<String> {
        let documents: Vec<(String, DateTime<Utc>)> = self
            .documents
            .iter()
            .map(|document| (document.material.clone(), document.collect_time))
            .collect();
        let latest_return = self
            .returns
            .last()
            .map(|returned| (returned.materials.as_slice(), returned.return_time));
        crate::domain::missing_materials(
            &self.matter.required_materials(),
            &documents,
            latest_return,
        )
    }
}

fn to_u32(value: i32, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
}

pub async fn current_version(connection: &mut PgConnection) -> Result<Option<i32>, StoreError> {
    sqlx::query_scalar("select max(version) from catalogue_versions")
        .fetch_one(connection)
        .await
        .context("reading the catalogue's version")
}

/// Stores `matters` as the next catalogue version, which it answers with.
pub async fn insert_catalogue(
    connection: &mut PgConnection,
    matters: &[CatalogueMatter],
    time: DateTime<Utc>,
    by: &str,
) -> Result<i32, StoreError> {
    const CONTEXT: &str = "publishing a catalogue";
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(CATALOGUE_LOCK)
        .execute(&mut *connection)
        .await
        .context(CONTEXT)?;
    let version = current_version(connection).await?.unwrap_or(0) + 1;
    sqlx::query(
        "insert into catalogue_versions (version, publish_time, published_by) values ($1, $2, $3)",
    )
    .bind(version)
    .bind(time)
    .bind(by)
    .execute(&mut *connection)
    .await
    .context(CONTEXT)?;
    for (position, matter) in (1..).zip(matters) {
        sqlx::query(
            "insert into matters (version, code, position, name_zh, name_en, deciding_department,
                proxy_allowed, in_person_required, statutory_limit_days, promised_limit_days,
                fee_fen, fee_note, usual_trips)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(version)
        .bind(&matter.code)
        .bind(position)
        .bind(&matter.name_zh)
        .bind(&matter.name_en)
        .bind(&matter.deciding_department)
        .bind(matter.proxy_allowed)
        .bind(matter.in_person_required)
        .bind(i32::try_from(matter.statutory_limit_days).unwrap_or(i32::MAX))
        .bind(i32::try_from(matter.promised_limit_days).unwrap_or(i32::MAX))
        .bind(matter.fee_fen)
        .bind(&matter.fee_note)
        .bind(i32::try_from(matter.usual_trips).unwrap_or(i32::MAX))
        .execute(&mut *connection)
        .await
        .context(CONTEXT)?;
        for (item_position, item) in (1..).zip(&matter.materials) {
            sqlx::query(
                "insert into matter_materials (version, matter_code, position, code, name_zh, name_en, required)
                 values ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(version)
            .bind(&matter.code)
            .bind(item_position)
            .bind(&item.code)
            .bind(&item.name_zh)
            .bind(&item.name_en)
            .bind(item.required)
            .execute(&mut *connection)
            .await
            .context(CONTEXT)?;
        }
    }
    Ok(version)
}

/// The catalogue version `version` with its matters (all of them, or the
/// one with `only_code`), in published order.
pub async fn load_catalogue(
    connection: &mut PgConnection,
    version: i32,
    only_code: Option<&str>,
) -> Result<Option<(CatalogueRow, Vec<CatalogueMatter>)>, StoreError> {
    const CONTEXT: &str = "reading the catalogue";
    let Some(catalogue) = sqlx::query_as::<_, CatalogueRow>(
        "select version, publish_time from catalogue_versions where version = $1",
    )
    .bind(version)
    .fetch_optional(&mut *connection)
    .await
    .context(CONTEXT)?
    else {
        return Ok(None);
    };
    let matters: Vec<MatterRow> = sqlx::query_as(
        "select code, name_zh, name_en, deciding_department, proxy_allowed, in_person_required,
                statutory_limit_days, promised_limit_days, fee_fen, fee_note, usual_trips
         from matters where version = $1 and ($2::text is null or code = $2) order by position",
    )
    .bind(version)
    .bind(only_code)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let materials: Vec<MaterialRow> = sqlx::query_as(
        "select matter_code, code, name_zh, name_en, required from matter_materials
         where version = $1 and ($2::text is null or matter_code = $2) order by matter_code, position",
    )
    .bind(version)
    .bind(only_code)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let mut result = Vec::with_capacity(matters.len());
    for row in matters {
        result.push(CatalogueMatter {
            materials: materials
                .iter()
                .filter(|item| item.matter_code == row.code)
                .map(|item| ChecklistItem {
                    code: item.code.clone(),
                    name_zh: item.name_zh.clone(),
                    name_en: item.name_en.clone(),
                    required: item.required,
                })
                .collect(),
            statutory_limit_days: to_u32(row.statutory_limit_days, "statutory limit")?,
            promised_limit_days: to_u32(row.promised_limit_days, "promised limit")?,
            usual_trips: to_u32(row.usual_trips, "usual trips")?,
            code: row.code,
            name_zh: row.name_zh,
            name_en: row.name_en,
            deciding_department: row.deciding_department,
            proxy_allowed: row.proxy_allowed,
            in_person_required: row.in_person_required,
            fee_fen: row.fee_fen,
            fee_note: row.fee_note,
        });
    }
    Ok(Some((catalogue, result)))
}

pub async fn insert_errand(
    connection: &mut PgConnection,
    errand: &ErrandRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into errands (id, matter_code, catalogue_version, block_code, subdistrict_code,
            channel, proxy, deciding_department, resident_name, resident_phone, resident_id_number,
            resident_account, handler, state, resident_trips, request_time)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(errand.id)
    .bind(&errand.matter_code)
    .bind(errand.catalogue_version)
    .bind(&errand.block_code)
    .bind(&errand.subdistrict_code)
    .bind(&errand.channel)
    .bind(errand.proxy)
    .bind(&errand.deciding_department)
    .bind(&errand.resident_name)
    .bind(&errand.resident_phone)
    .bind(&errand.resident_id_number)
    .bind(&errand.resident_account)
    .bind(&errand.handler)
    .bind(&errand.state)
    .bind(errand.resident_trips)
    .bind(errand.request_time)
    .execute(connection)
    .await
    .context("recording a request")?;
    Ok(())
}

/// Writes the errand's changing fields back.
pub async fn update_errand(
    connection: &mut PgConnection,
    errand: &ErrandRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "update errands set state = $2, result = $3, refusal_reason = $4, returns = $5,
            resident_trips = $6, submit_time = $7, statutory_due = $8, promised_due = $9,
            decide_time = $10, told_time = $11, told_by = $12
         where id = $1",
    )
    .bind(errand.id)
    .bind(&errand.state)
    .bind(&errand.result)
    .bind(&errand.refusal_reason)
    .bind(errand.returns)
    .bind(errand.resident_trips)
    .bind(errand.submit_time)
    .bind(errand.statutory_due)
    .bind(errand.promised_due)
    .bind(errand.decide_time)
    .bind(errand.told_time)
    .bind(&errand.told_by)
    .execute(connection)
    .await
    .context("updating an errand")?;
    Ok(())
}

const ERRAND_COLUMNS: &str = "id, matter_code, catalogue_version, block_code, subdistrict_code,
    channel, proxy, deciding_department, resident_name, resident_phone, resident_id_number,
    resident_account, handler, state, result, refusal_reason, returns, resident_trips,
    request_time, submit_time, statutory_due, promised_due, decide_time, told_time, told_by";

/// The errand `id` with everything recorded about it; locked for the rest
/// of the transaction when `lock`.
pub async fn load_errand(
    connection: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<StoredErrand>, StoreError> {
    const CONTEXT: &str = "reading an errand";
    let sql = format!(
        "select {ERRAND_COLUMNS} from errands where id = $1{}",
        if lock { " for update" } else { "" }
    );
    // Built from constants only: no caller's text reaches the SQL.
    let Some(errand) = sqlx::query_as::<_, ErrandRow>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .context(CONTEXT)?
    else {
        return Ok(None);
    };
    let matter = load_catalogue(
        connection,
        errand.catalogue_version,
        Some(&errand.matter_code),
    )
    .await?
    .and_then(|(_, mut matters)| matters.pop())
    .ok_or_else(|| StoreError::Corrupt(format!("errand {id} names no stored matter")))?;
    let documents = sqlx::query_as(
        "select number, material, reference, collect_time, collected_by from documents
         where errand_id = $1 order by number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let notices = sqlx::query_as(
        "select round, materials, notice_time, noticed_by from notices where errand_id = $1 order by round",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let returns = sqlx::query_as(
        "select round, materials, return_time from returns where errand_id = $1 order by round",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    let transitions = sqlx::query_as(
        "select number, action, from_state, to_state, actor, actor_role, time from transitions
         where errand_id = $1 order by number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context(CONTEXT)?;
    Ok(Some(StoredErrand {
        errand,
        matter,
        documents,
        notices,
        returns,
        transitions,
    }))
}

pub async fn insert_document(
    connection: &mut PgConnection,
    errand: Uuid,
    document: &DocumentRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into documents (errand_id, number, material, reference, collect_time, collected_by)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(errand)
    .bind(document.number)
    .bind(&document.material)
    .bind(&document.reference)
    .bind(document.collect_time)
    .bind(&document.collected_by)
    .execute(connection)
    .await
    .context("recording a document")?;
    Ok(())
}

pub async fn insert_notice(
    connection: &mut PgConnection,
    errand: Uuid,
    notice: &NoticeRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into notices (errand_id, round, materials, notice_time, noticed_by)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(errand)
    .bind(notice.round)
    .bind(&notice.materials)
    .bind(notice.notice_time)
    .bind(&notice.noticed_by)
    .execute(connection)
    .await
    .context("recording a notice")?;
    Ok(())
}

pub async fn insert_return(
    connection: &mut PgConnection,
    errand: Uuid,
    returned: &ReturnRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into returns (errand_id, round, materials, return_time) values ($1, $2, $3, $4)",
    )
    .bind(errand)
    .bind(returned.round)
    .bind(&returned.materials)
    .bind(returned.return_time)
    .execute(connection)
    .await
    .context("recording a return")?;
    Ok(())
}

pub async fn insert_transition(
    connection: &mut PgConnection,
    errand: Uuid,
    transition: &TransitionRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into transitions (errand_id, number, action, from_state, to_state, actor, actor_role, time)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(errand)
    .bind(transition.number)
    .bind(&transition.action)
    .bind(&transition.from_state)
    .bind(&transition.to_state)
    .bind(&transition.actor)
    .bind(&transition.actor_role)
    .bind(transition.time)
    .execute(connection)
    .await
    .context("recording a transition")?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one row's columns
pub async fn insert_decision(
    connection: &mut PgConnection,
    errand: Uuid,
    round: i32,
    department: &str,
    result: &str,
    submit_time: DateTime<Utc>,
    decide_time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into decisions (errand_id, round, department, result, submit_time, decide_time)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(errand)
    .bind(round)
    .bind(department)
    .bind(result)
    .bind(submit_time)
    .bind(decide_time)
    .execute(connection)
    .await
    .context("recording a decision")?;
    Ok(())
}

/// What a list or the indicators narrow errands to.
#[derive(Debug, Clone, Default)]
pub struct ErrandFilter {
    /// A division code the errand's block starts with.
    pub division_prefix: Option<String>,
    pub state: Option<ErrandState>,
    /// Requested in [start, end).
    pub requested_between: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The `where` clause shared by lists and indicators, binding from `$1`:
/// filter then reach. Sqlx binds in order, so the caller binds the same
/// values with [`bind_filter`].
const FILTER_SQL: &str = "($1::text is null or block_code like $1 || '%')
    and ($2::text is null or state = $2)
    and ($3::timestamptz is null or request_time >= $3)
    and ($4::timestamptz is null or request_time < $4)
    and ($5::boolean
         or block_code like any($6::text[])
         or ($7::text is not null and deciding_department = $7)
         or ($8::text is not null and resident_account = $8))";

fn bind_filter<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    filter: &'q ErrandFilter,
    reach: Option<&'q Reach>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let prefixes: Vec<String> = reach
        .map(|reach| {
            reach
                .division_prefixes
                .iter()
                .map(|prefix| format!("{prefix}%"))
                .collect()
        })
        .unwrap_or_default();
    query
        .bind(filter.division_prefix.as_deref())
        .bind(filter.state.map(ErrandState::as_str))
        .bind(filter.requested_between.map(|(start, _)| start))
        .bind(filter.requested_between.map(|(_, end)| end))
        .bind(reach.is_none())
        .bind(prefixes)
        .bind(reach.and_then(|reach| reach.department.as_deref()))
        .bind(reach.and_then(|reach| reach.account.as_deref()))
}

/// Errands newest first, of those `reach` covers (all when `None`).
pub async fn list(
    connection: &mut PgConnection,
    filter: &ErrandFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ErrandRow>, StoreError> {
    let sql = format!(
        "select {ERRAND_COLUMNS} from errands where {FILTER_SQL}
         and ($9::timestamptz is null or (request_time, id) < ($9, $10))
         order by request_time desc, id desc limit $11"
    );
    // Built from constants only: the filter's values are bound.
    bind_filter(
        sqlx::query_as::<_, ErrandRow>(sqlx::AssertSqlSafe(sql)),
        filter,
        reach,
    )
    .bind(after.map(|(time, _)| time))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing errands")
}

/// Every errand `reach` covers that the filter selects, for counting.
pub async fn all(
    connection: &mut PgConnection,
    filter: &ErrandFilter,
    reach: Option<&Reach>,
) -> Result<Vec<ErrandRow>, StoreError> {
    let sql = format!("select {ERRAND_COLUMNS} from errands where {FILTER_SQL}");
    // Built from constants only: the filter's values are bound.
    bind_filter(
        sqlx::query_as::<_, ErrandRow>(sqlx::AssertSqlSafe(sql)),
        filter,
        reach,
    )
    .fetch_all(connection)
    .await
    .context("counting errands")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DecisionRow {
    pub errand_id: Uuid,
    pub department: String,
    pub submit_time: DateTime<Utc>,
    pub decide_time: DateTime<Utc>,
}

/// The departments' results on `errands`.
pub async fn decisions_of(
    connection: &mut PgConnection,
    errands: &[Uuid],
) -> Result<Vec<DecisionRow>, StoreError> {
    sqlx::query_as(
        "select errand_id, department, submit_time, decide_time from decisions
         where errand_id = any($1) order by department, decide_time",
    )
    .bind(errands)
    .fetch_all(connection)
    .await
    .context("counting decisions")
}

/// How many one-time notices `errands` were given.
pub async fn notices_of(
    connection: &mut PgConnection,
    errands: &[Uuid],
) -> Result<i64, StoreError> {
    sqlx::query_scalar("select count(*) from notices where errand_id = any($1)")
        .bind(errands)
        .fetch_one(connection)
        .await
        .context("counting notices")
}
