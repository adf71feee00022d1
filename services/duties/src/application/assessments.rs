//! Subdistricts' assessments (考核) of departments' cooperation: recorded
//! by a subdistrict's dispatchers (or administrators) for the subdistricts
//! they cover, read within one's jurisdiction or by the department
//! assessed, and summarised with the opinions.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::error::Violations;
use flatgov_vocabulary::{DepartmentCode, MatterCode, SubdistrictCode};

use super::retries::{self, Remembered, Retry};
use super::{Duties, Page, TimeKey, record_audit};
use crate::domain::names::{assessment_name, uuid_in};
use crate::error::Error;
use crate::events;
use crate::policy::sees_staff;
use crate::store::assessments::{
    AssessmentFilter, AssessmentRow, AssessmentSource, AssessmentSummaryRow, NewAssessment,
    OpinionSummaryRow,
};
use crate::store::{self, DatabaseContext as _};
use flatgov_auth::policy::Reach;

/// The facts scope rules test of an assessment or opinion: the assessing
/// subdistrict, and the department it is about.
pub(super) fn reaches_record(access: &Access, subdistrict: &str, department: &str) -> bool {
    access.reaches(&Resource {
        division: Some(subdistrict),
        organisations: &[department],
        ..Resource::default()
    })
}

/// Recording is for the subdistricts the caller's jurisdiction covers (the
/// subdistrict is public; recording for another is what is refused).
pub(super) fn authorise_recorder(
    access: &Access,
    subdistrict: &SubdistrictCode,
) -> Result<(), Error> {
    if access.reaches(&Resource::in_division(subdistrict.as_str())) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "subdistrict {subdistrict} is outside the caller's jurisdiction"
    )))
}

/// Who recorded a record, for those who see people; `None` otherwise.
pub(super) fn recorded_by(access: &Access, subject: Option<String>) -> Option<String> {
    subject.filter(|_| sees_staff(access))
}

/// An assessment as the caller may see it (`recorded_by` empty unless it
/// sees people).
#[derive(Debug, Clone)]
pub struct Assessment(pub AssessmentRow);

impl Assessment {
    fn shaped(access: &Access, mut row: AssessmentRow) -> Self {
        row.recorded_by = recorded_by(access, row.recorded_by);
        Self(row)
    }
}

/// A subdistrict's assessment of a department.
#[derive(Debug, Clone)]
pub struct RecordAssessment {
    pub subdistrict: SubdistrictCode,
    pub department: DepartmentCode,
    /// What it is about: a matter, a case, or both (the transport checks
    /// at least one is given).
    pub matter: Option<MatterCode>,
    pub case: Option<String>,
    /// 1 (poor) to 5 (excellent).
    pub score: i16,
    pub comment: String,
    pub assess_time: DateTime<Utc>,
    pub retry: Option<Retry>,
}

pub async fn record(
    duties: &Duties,
    access: &Access,
    command: RecordAssessment,
) -> Result<Assessment, Error> {
    authorise_recorder(access, &command.subdistrict)?;
    let retry = command.retry.as_ref();
    if let Some(first) = retries::recall(&duties.pool, access, retry).await? {
        return replayed(duties, access, first).await;
    }
    let rules = duties.rules.current(&duties.pool).await?;
    let mut violations = Violations::new();
    if !rules.departments.contains(&command.department) {
        violations.add(
            "assessment.department",
            format!("unknown department {}", command.department),
        );
    }
    if let Some(matter) = &command.matter
        && rules.catalogue.get(matter).is_none()
    {
        violations.add(
            "assessment.matter_code",
            format!("matter {matter} is not in the matter catalogue"),
        );
    }
    violations.finish()?;
    let record = NewAssessment {
        id: uuid::Uuid::now_v7(),
        source: AssessmentSource::Direct,
        operation: None,
        subdistrict_code: command.subdistrict.to_string(),
        department: command.department.to_string(),
        matter_code: command.matter.map(|code| code.to_string()),
        case_name: command.case,
        score: command.score,
        comment: command.comment,
        assess_time: command.assess_time,
        recorded_by: Some(access.subject().to_owned()),
    };
    let name = assessment_name(record.id);
    let mut transaction = store::begin(&duties.pool, "recording an assessment").await?;
    if retries::remember(&mut transaction, access, retry, &name).await? == Remembered::LostRace {
        store::roll_back(transaction, "recording an assessment").await?;
        let first = retries::recall(&duties.pool, access, retry)
            .await?
            .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
        return replayed(duties, access, first).await;
    }
    if !store::assessments::insert(&mut transaction, &record).await? {
        return Err(Error::corrupt(format!(
            "{name} collided with a recorded assessment"
        )));
    }
    events::assessment_recorded(&mut transaction, &record).await?;
    let row = store::assessments::get(&mut transaction, record.id)
        .await?
        .ok_or_else(|| Error::corrupt("an assessment vanished"))?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, "recording an assessment").await?;
    store::commit(transaction, "recording an assessment").await?;
    Ok(Assessment::shaped(access, row))
}

/// The first answer to a retried RecordAssessment, re-read with the
/// caller's current access: NOT_FOUND once it no longer reaches it.
async fn replayed(duties: &Duties, access: &Access, first: String) -> Result<Assessment, Error> {
    let id = uuid_in(&first, "assessments")
        .ok_or_else(|| Error::corrupt(format!("remembered resource {first:?}")))?;
    let mut connection = duties
        .pool
        .acquire()
        .await
        .context("reading an assessment")?;
    let row = store::assessments::get(&mut connection, id)
        .await?
        .filter(|row| reaches_record(access, &row.subdistrict_code, &row.department))
        .ok_or_else(|| Error::NotFound(format!("{first} does not exist")))?;
    access.audit().resource(first);
    Ok(Assessment::shaped(access, row))
}

/// Assessments newest first, filtered, of those the caller reaches.
#[derive(Debug, Clone)]
pub struct ListAssessments {
    pub filter: AssessmentFilter,
    pub page: Page<TimeKey>,
}

pub async fn list(
    duties: &Duties,
    access: &Access,
    command: &ListAssessments,
) -> Result<Vec<Assessment>, Error> {
    let reach = Reach::of(access);
    let mut connection = duties.pool.acquire().await.context("listing assessments")?;
    let rows = store::assessments::list(
        &mut connection,
        &command.filter,
        reach.as_ref(),
        command.page.after.map(TimeKey::pair),
        command.page.fetch_limit(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Assessment::shaped(access, row))
        .collect())
}

/// Count and mean score per department (and per department and
/// subdistrict), with the opinions given, of what the caller reaches.
pub async fn summarise(
    duties: &Duties,
    access: &Access,
    filter: &AssessmentFilter,
) -> Result<(Vec<AssessmentSummaryRow>, Vec<OpinionSummaryRow>), Error> {
    let reach = Reach::of(access);
    let mut connection = duties
        .pool
        .acquire()
        .await
        .context("summarising assessments")?;
    Ok(store::assessments::summarise(&mut connection, filter, reach.as_ref()).await?)
}
