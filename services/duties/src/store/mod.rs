//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its rules revision and its events commit together, and
//! answer with [`StoreError`], which says what the store was doing.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::{
    Department, DepartmentCode, ListContent, ListKind, Matter, MatterCode, VersionNumber,
};
use crate::policy::Reach;

pub use exceptions::{EXCEPTION_COLUMNS, ExceptionRow};

pub mod exceptions;
pub mod snapshot;

/// Why the store failed, with what it was doing. SQL is only logged by the
/// service error it becomes, never shown to a caller.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing, e.g. "reading a refusal".
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// A stored row breaks a rule it was checked against when written: a
    /// bug or a manual edit.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}

/// Attaches what the store was doing to a database error.
pub(crate) trait DatabaseContext<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> DatabaseContext<T> for Result<T, sqlx::Error> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

/// A transaction on the service's database.
pub type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// Begins a transaction for `context` (what it will do).
pub async fn begin(pool: &PgPool, context: &'static str) -> Result<Transaction, StoreError> {
    pool.begin().await.context(context)
}

/// Commits what `transaction` did for `context`.
pub async fn commit(transaction: Transaction, context: &'static str) -> Result<(), StoreError> {
    transaction.commit().await.context(context)
}

/// Abandons what `transaction` did for `context`.
pub async fn roll_back(transaction: Transaction, context: &'static str) -> Result<(), StoreError> {
    transaction.rollback().await.context(context)
}

/// Serialises every write to the rules (they are rare), so each write
/// validates against the state it replaces. Taken inside the writer's
/// transaction and released at its end.
pub async fn lock_rules(connection: &mut PgConnection) -> Result<(), StoreError> {
    // "duties" in ASCII: the one advisory lock this service takes.
    const RULES_LOCK: i64 = 0x0000_6475_7469_6573;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(RULES_LOCK)
        .execute(connection)
        .await
        .context("locking the rules")?;
    Ok(())
}

/// Marks the rules changed; call in the transaction that changes them.
pub async fn bump_revision(connection: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar("update rules_revision set revision = revision + 1 returning revision")
        .fetch_one(connection)
        .await
        .context("recording the rules revision")
}

/// The revision the rules are at, as `connection` sees them.
pub async fn rules_revision(connection: impl sqlx::PgExecutor<'_>) -> Result<i64, StoreError> {
    sqlx::query_scalar("select revision from rules_revision")
        .fetch_one(connection)
        .await
        .context("reading the rules revision")
}

fn number_to_sql(number: VersionNumber) -> i32 {
    i32::try_from(number.get()).unwrap_or(i32::MAX)
}

// ----------------------------------------------------------- departments

/// A department row with its times.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct DepartmentRow {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn get_department(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<Option<DepartmentRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, create_time, update_time from departments where code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(connection)
    .await
    .context("reading a department")
}

pub async fn list_departments(
    connection: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<DepartmentRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, create_time, update_time from departments
         where $1::text is null or code > $1 order by code limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing departments")
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Creates or renames a department.
pub async fn upsert_department(
    connection: &mut PgConnection,
    department: &Department,
) -> Result<Upserted, StoreError> {
    let existing = get_department(&mut *connection, department.code()).await?;
    match existing {
        Some(row)
            if row.name == department.name() && row.name_en.as_deref() == department.name_en() =>
        {
            Ok(Upserted::Unchanged)
        }
        Some(_) => {
            sqlx::query("update departments set name = $2, name_en = $3, update_time = now() where code = $1")
                .bind(department.code().as_str())
                .bind(department.name())
                .bind(department.name_en())
                .execute(connection)
                .await
                .context("updating a department")?;
            Ok(Upserted::Updated)
        }
        None => {
            sqlx::query("insert into departments (code, name, name_en) values ($1, $2, $3)")
                .bind(department.code().as_str())
                .bind(department.name())
                .bind(department.name_en())
                .execute(connection)
                .await
                .context("creating a department")?;
            Ok(Upserted::Created)
        }
    }
}

/// What still names a department, in words; empty when nothing does.
pub async fn department_references(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<Vec<String>, StoreError> {
    let items: Vec<(String, i32, String)> = sqlx::query_as(
        "select list_kind, version_number, code from list_items
         where lead_department = $1 or $1 = any(cooperating_departments)
         order by list_kind, version_number, code limit 5",
    )
    .bind(code.as_str())
    .fetch_all(&mut *connection)
    .await
    .context("checking department references")?;
    let department_text = format!("department:{code}");
    let exceptions: Vec<String> = sqlx::query_scalar(
        "select id from place_exceptions where lead = $1 or $1 = any(cooperating) order by id limit 5",
    )
    .bind(&department_text)
    .fetch_all(connection)
    .await
    .context("checking department references")?;
    let mut references: Vec<String> = items
        .into_iter()
        .map(|(kind, number, item)| format!("item {item} of lists/{kind}/versions/{number}"))
        .collect();
    references.extend(exceptions.into_iter().map(|id| format!("exceptions/{id}")));
    Ok(references)
}

pub async fn delete_department(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("delete from departments where code = $1")
        .bind(code.as_str())
        .execute(connection)
        .await
        .context("deleting a department")?
        .rows_affected();
    Ok(deleted > 0)
}

// ----------------------------------------------------------------- lists

/// Hands out the next version number of a list (drafts included).
pub async fn allocate_version_number(
    connection: &mut PgConnection,
    kind: ListKind,
) -> Result<VersionNumber, StoreError> {
    let number: i32 = sqlx::query_scalar(
        "update lists set next_number = next_number + 1 where kind = $1 returning next_number - 1",
    )
    .bind(kind.as_str())
    .fetch_one(connection)
    .await
    .context("numbering a list version")?;
    u32::try_from(number)
        .ok()
        .and_then(VersionNumber::new)
        .ok_or_else(|| StoreError::Corrupt(format!("next version number {number} of {kind}")))
}

pub async fn insert_draft(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
) -> Result<(), StoreError> {
    sqlx::query("insert into list_versions (list_kind, number, state) values ($1, $2, 'draft')")
        .bind(kind.as_str())
        .bind(number_to_sql(number))
        .execute(connection)
        .await
        .context("opening a draft")?;
    Ok(())
}

/// Replaces the items of a version with `content`.
pub async fn replace_items(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
    content: &ListContent,
) -> Result<(), StoreError> {
    sqlx::query("delete from list_items where list_kind = $1 and version_number = $2")
        .bind(kind.as_str())
        .bind(number_to_sql(number))
        .execute(&mut *connection)
        .await
        .context("writing list items")?;
    if content.is_empty() {
        return Ok(());
    }
    let mut insert: QueryBuilder<Postgres> = QueryBuilder::new(
        "insert into list_items (list_kind, version_number, code, category, category_en, name,
         name_en, description, legal_basis, handling_level, lead_department,
         cooperating_departments, default_tier, response_limit, resolution_limit) ",
    );
    insert.push_values(content.items(), |mut row, item| {
        let fields = item.fields();
        let cooperating: Vec<String> = fields
            .cooperating_departments
            .iter()
            .map(ToString::to_string)
            .collect();
        row.push_bind(kind.as_str())
            .push_bind(number_to_sql(number))
            .push_bind(fields.code.to_string())
            .push_bind(fields.category.clone())
            .push_bind(fields.category_en.clone())
            .push_bind(fields.name.clone())
            .push_bind(fields.name_en.clone())
            .push_bind(fields.description.clone())
            .push_bind(fields.legal_basis.clone())
            .push_bind(fields.handling_level.as_str())
            .push_bind(fields.lead_department.as_ref().map(ToString::to_string))
            .push_bind(cooperating)
            .push_bind(fields.default_tier.as_str())
            .push_bind(fields.response_limit.to_string())
            .push_bind(fields.resolution_limit.to_string());
    });
    insert
        .build()
        .execute(&mut *connection)
        .await
        .context("writing list items")?;
    touch_version(connection, kind, number).await
}

pub async fn touch_version(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
) -> Result<(), StoreError> {
    sqlx::query(
        "update list_versions set update_time = now() where list_kind = $1 and number = $2",
    )
    .bind(kind.as_str())
    .bind(number_to_sql(number))
    .execute(connection)
    .await
    .context("writing a list version")?;
    Ok(())
}

pub async fn delete_draft(connection: &mut PgConnection, kind: ListKind) -> Result<(), StoreError> {
    sqlx::query("delete from list_versions where list_kind = $1 and state = 'draft'")
        .bind(kind.as_str())
        .execute(connection)
        .await
        .context("discarding a draft")?;
    Ok(())
}

/// Turns the draft `number` into a published version.
pub async fn publish_version(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
    effective_from: DateTime<Utc>,
    publish_time: DateTime<Utc>,
    published_by: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update list_versions set state = 'published', effective_from = $3, publish_time = $4,
             published_by = $5, update_time = now()
         where list_kind = $1 and number = $2 and state = 'draft'",
    )
    .bind(kind.as_str())
    .bind(number_to_sql(number))
    .bind(effective_from)
    .bind(publish_time)
    .bind(published_by)
    .execute(connection)
    .await
    .context("publishing a list version")?;
    Ok(())
}

// ---------------------------------------------------------------- matters

/// A `matters` row.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct MatterRow {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub item_code: String,
    pub tier: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn get_matter(
    connection: &mut PgConnection,
    code: &MatterCode,
) -> Result<Option<MatterRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time
         from matters where code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(connection)
    .await
    .context("reading a matter")
}

/// Matters in code order after `after`, optionally of one item.
pub async fn list_matters(
    connection: &mut PgConnection,
    item_code: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MatterRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time from matters
         where ($1::text is null or item_code = $1) and ($2::text is null or code > $2)
         order by code limit $3",
    )
    .bind(item_code)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing matters")
}

/// Creates or replaces a matter.
pub async fn upsert_matter(
    connection: &mut PgConnection,
    matter: &Matter,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into matters (code, name, name_en, item_code, tier) values ($1, $2, $3, $4, $5)
         on conflict (code) do update set name = excluded.name, name_en = excluded.name_en,
             item_code = excluded.item_code, tier = excluded.tier, update_time = now()",
    )
    .bind(matter.code().as_str())
    .bind(matter.name())
    .bind(matter.name_en())
    .bind(matter.item().to_string())
    .bind(matter.tier().map(|tier| tier.as_str()))
    .execute(connection)
    .await
    .context("writing a matter")?;
    Ok(())
}

pub async fn delete_matter(
    connection: &mut PgConnection,
    code: &MatterCode,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("delete from matters where code = $1")
        .bind(code.as_str())
        .execute(connection)
        .await
        .context("deleting a matter")?
        .rows_affected();
    Ok(deleted > 0)
}

// ------------------------------------------------------- announcements

/// Schedules a MatterCataloguePublished for when a version takes effect.
pub async fn schedule_announcement(
    connection: &mut PgConnection,
    due_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("insert into catalogue_announcements (due_at) values ($1)")
        .bind(due_at)
        .execute(connection)
        .await
        .context("scheduling a catalogue announcement")?;
    Ok(())
}

// --------------------------------------------------------------- refusals

/// A refusal to record.
#[derive(Debug, Clone)]
pub struct NewRefusal {
    pub id: uuid::Uuid,
    pub matter_code: String,
    pub item_code: String,
    pub item_version: Option<i32>,
    pub from_kind: &'static str,
    pub from_code: String,
    pub to_kind: &'static str,
    pub to_code: String,
    pub reason_code: &'static str,
    pub reason: String,
    pub responsible_kind: &'static str,
    pub responsible_code: String,
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
pub async fn insert_refusal(
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
    .bind(refusal.from_kind)
    .bind(&refusal.from_code)
    .bind(refusal.to_kind)
    .bind(&refusal.to_code)
    .bind(refusal.reason_code)
    .bind(&refusal.reason)
    .bind(refusal.responsible_kind)
    .bind(&refusal.responsible_code)
    .bind(&refusal.case_name)
    .bind(&refusal.attempted_by)
    .bind(&refusal.caller)
    .bind(refusal.checked_at)
    .fetch_one(connection)
    .await
    .context("recording a refusal")
}

pub async fn get_refusal(
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
/// side; as `grpc::gate` decides for one refusal.
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
pub async fn list_refusals(
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

pub async fn count_refusals(
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

// ------------------------------------------------ assessments and opinions

/// Where an assessment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentSource {
    Direct,
    JointEnforcement,
}

impl AssessmentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentSource::Direct => "direct",
            AssessmentSource::JointEnforcement => "joint_enforcement",
        }
    }
}

/// An assessment to record.
#[derive(Debug, Clone)]
pub struct NewAssessment {
    pub id: uuid::Uuid,
    pub source: AssessmentSource,
    pub operation: Option<String>,
    pub subdistrict_code: String,
    pub department: String,
    pub matter_code: Option<String>,
    pub case_name: Option<String>,
    pub score: i16,
    pub comment: String,
    pub assess_time: DateTime<Utc>,
    pub recorded_by: Option<String>,
}

impl NewAssessment {
    pub fn recorded_event(&self) -> flatgov_proto::duties::v1::AssessmentRecorded {
        flatgov_proto::duties::v1::AssessmentRecorded {
            assessment: format!("assessments/{}", self.id),
            subdistrict_code: self.subdistrict_code.clone(),
            department: self.department.clone(),
            matter_code: self.matter_code.clone().unwrap_or_default(),
            case: self.case_name.clone().unwrap_or_default(),
            score: u32::try_from(self.score).unwrap_or(0),
            assessed_at: Some(flatgov_grpc::time::timestamp(self.assess_time)),
            operation: self.operation.clone().unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AssessmentRow {
    pub id: uuid::Uuid,
    pub source: String,
    pub operation: Option<String>,
    pub subdistrict_code: String,
    pub department: String,
    pub matter_code: Option<String>,
    pub case_name: Option<String>,
    pub score: i16,
    pub comment: String,
    pub assess_time: DateTime<Utc>,
    pub recorded_by: Option<String>,
    pub create_time: DateTime<Utc>,
}

const ASSESSMENT_COLUMNS: &str = "id, source, operation, subdistrict_code, department, matter_code,
     case_name, score, comment, assess_time, recorded_by, create_time";

/// Records an assessment; false when its operation and department were
/// recorded before.
pub async fn insert_assessment(
    connection: &mut PgConnection,
    assessment: &NewAssessment,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "insert into assessments (id, source, operation, subdistrict_code, department,
             matter_code, case_name, score, comment, assess_time, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict do nothing",
    )
    .bind(assessment.id)
    .bind(assessment.source.as_str())
    .bind(&assessment.operation)
    .bind(&assessment.subdistrict_code)
    .bind(&assessment.department)
    .bind(&assessment.matter_code)
    .bind(&assessment.case_name)
    .bind(assessment.score)
    .bind(&assessment.comment)
    .bind(assessment.assess_time)
    .bind(&assessment.recorded_by)
    .execute(connection)
    .await
    .context("recording an assessment")?
    .rows_affected();
    Ok(inserted > 0)
}

pub async fn get_assessment(
    connection: &mut PgConnection,
    id: uuid::Uuid,
) -> Result<Option<AssessmentRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an assessment")
}

/// Filters of assessments and opinions; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct AssessmentFilter {
    pub department: Option<String>,
    /// A division code prefix of the assessing subdistrict.
    pub subdistrict_code: Option<String>,
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub matter_code: Option<String>,
    pub case_name: Option<String>,
}

/// What a limited caller reaches of assessments and opinions ($1, $2 of
/// the statements using it): the assessing subdistrict inside the caller's
/// jurisdiction, or the caller's own department assessed.
const SUBDISTRICT_RECORD_REACH: &str = "($1::text[] is null
     or exists (select from unnest($1::text[]) as prefix
                where starts_with(subdistrict_code, prefix))
     or department = $2)";

pub async fn list_assessments(
    connection: &mut PgConnection,
    filter: &AssessmentFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<AssessmentRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments
         where {SUBDISTRICT_RECORD_REACH}
           and ($3::text is null or department = $3)
           and ($4::text is null or starts_with(subdistrict_code, $4))
           and ($5::timestamptz is null or assess_time >= $5)
           and ($6::timestamptz is null or assess_time < $6)
           and ($7::text is null or matter_code = $7)
           and ($8::text is null or case_name = $8)
           and ($9::timestamptz is null or (assess_time, id) < ($9, $10))
         order by assess_time desc, id desc limit $11"
    )))
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(&filter.department)
    .bind(&filter.subdistrict_code)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(&filter.matter_code)
    .bind(&filter.case_name)
    .bind(after.map(|(time, _)| time))
    .bind(after.map(|(_, id)| id).unwrap_or_default())
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing assessments")
}

/// Assessment figures of one department (and subdistrict, when grouped so).
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AssessmentSummaryRow {
    pub department: String,
    pub subdistrict_code: Option<String>,
    pub assessments: i64,
    pub mean_score: f64,
    pub lowest_score: i16,
    pub poor_assessments: i64,
}

/// Opinion figures of one department (and subdistrict, when grouped so).
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OpinionSummaryRow {
    pub department: String,
    pub subdistrict_code: Option<String>,
    pub opinions: i64,
    pub opposed: i64,
}

/// Per department, then per department and subdistrict.
pub async fn summarise_assessments(
    connection: &mut PgConnection,
    filter: &AssessmentFilter,
    reach: Option<&Reach>,
) -> Result<(Vec<AssessmentSummaryRow>, Vec<OpinionSummaryRow>), StoreError> {
    let assessments = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select department, subdistrict_code, count(*) as assessments,
                avg(score)::float8 as mean_score, min(score) as lowest_score,
                count(*) filter (where score <= 2) as poor_assessments
         from assessments
         where {SUBDISTRICT_RECORD_REACH}
           and ($3::text is null or department = $3)
           and ($4::text is null or starts_with(subdistrict_code, $4))
           and ($5::timestamptz is null or assess_time >= $5)
           and ($6::timestamptz is null or assess_time < $6)
         group by grouping sets ((department), (department, subdistrict_code))
         order by department, subdistrict_code nulls first"
    )))
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(&filter.department)
    .bind(&filter.subdistrict_code)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .fetch_all(&mut *connection)
    .await
    .context("summarising assessments")?;
    let opinions = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select department, subdistrict_code, count(*) as opinions,
                count(*) filter (where stance = 'oppose') as opposed
         from opinions
         where {SUBDISTRICT_RECORD_REACH}
           and ($3::text is null or department = $3)
           and ($4::text is null or starts_with(subdistrict_code, $4))
           and ($5::timestamptz is null or give_time >= $5)
           and ($6::timestamptz is null or give_time < $6)
         group by grouping sets ((department), (department, subdistrict_code))
         order by department, subdistrict_code nulls first"
    )))
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(&filter.department)
    .bind(&filter.subdistrict_code)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .fetch_all(connection)
    .await
    .context("summarising opinions")?;
    Ok((assessments, opinions))
}

/// An opinion to record, or as recorded.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OpinionRow {
    pub id: uuid::Uuid,
    pub subdistrict_code: String,
    pub department: String,
    pub subject: String,
    pub title: String,
    pub reference: String,
    pub stance: String,
    pub body: String,
    pub give_time: DateTime<Utc>,
    pub recorded_by: String,
    pub create_time: DateTime<Utc>,
}

const OPINION_COLUMNS: &str = "id, subdistrict_code, department, subject, title, reference, stance,
     body, give_time, recorded_by, create_time";

/// Records an opinion.
pub async fn insert_opinion(
    connection: &mut PgConnection,
    opinion: &OpinionRow,
) -> Result<OpinionRow, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into opinions (id, subdistrict_code, department, subject, title,
             reference, stance, body, give_time, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {OPINION_COLUMNS}"
    )))
    .bind(opinion.id)
    .bind(&opinion.subdistrict_code)
    .bind(&opinion.department)
    .bind(&opinion.subject)
    .bind(&opinion.title)
    .bind(&opinion.reference)
    .bind(&opinion.stance)
    .bind(&opinion.body)
    .bind(opinion.give_time)
    .bind(&opinion.recorded_by)
    .fetch_one(connection)
    .await
    .context("recording an opinion")
}

pub async fn get_opinion(
    connection: &mut PgConnection,
    id: uuid::Uuid,
) -> Result<Option<OpinionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an opinion")
}

pub async fn list_opinions(
    connection: &mut PgConnection,
    filter: &AssessmentFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<OpinionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {OPINION_COLUMNS} from opinions
         where {SUBDISTRICT_RECORD_REACH}
           and ($3::text is null or department = $3)
           and ($4::text is null or starts_with(subdistrict_code, $4))
           and ($5::timestamptz is null or give_time >= $5)
           and ($6::timestamptz is null or give_time < $6)
           and ($7::timestamptz is null or (give_time, id) < ($7, $8))
         order by give_time desc, id desc limit $9"
    )))
    .bind(reach.map(|reach| reach.division_prefixes.clone()))
    .bind(reach.and_then(|reach| reach.organisation.clone()))
    .bind(&filter.department)
    .bind(&filter.subdistrict_code)
    .bind(filter.period_start)
    .bind(filter.period_end)
    .bind(after.map(|(time, _)| time))
    .bind(after.map(|(_, id)| id).unwrap_or_default())
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing opinions")
}
