//! Subdistricts' assessments (考核) of departments: appended, never
//! changed; and the summary of assessments and opinions together.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};
use flatgov_auth::policy::Reach;

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
pub async fn insert(
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

pub async fn get(
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
pub(super) const SUBDISTRICT_RECORD_REACH: &str = "($1::text[] is null
     or exists (select from unnest($1::text[]) as prefix
                where starts_with(subdistrict_code, prefix))
     or department = $2)";

pub async fn list(
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
pub async fn summarise(
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
