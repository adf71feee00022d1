//! Subdistricts' opinions on departments' major decisions, plans and
//! projects in their area (街道对涉及辖区重大决策、规划、项目的建议权).

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_vocabulary::{DepartmentCode, SubdistrictCode};

use super::assessments::{authorise_recorder, reaches_record, recorded_by};
use super::retries::{self, Remembered, Retry};
use super::{Duties, Page, TimeKey, record_audit};
use crate::domain::names::{opinion_name, uuid_in};
use crate::error::Error;
use crate::events;
use crate::store::assessments::AssessmentFilter;
use crate::store::opinions::OpinionRow;
use crate::store::{self, DatabaseContext as _};
use flatgov_auth::policy::Reach;

/// An opinion as the caller may see it (`recorded_by` empty unless it
/// sees people).
#[derive(Debug, Clone)]
pub struct Opinion(pub OpinionRow);

impl Opinion {
    fn shaped(access: &Access, mut row: OpinionRow) -> Self {
        row.recorded_by = recorded_by(access, Some(row.recorded_by)).unwrap_or_default();
        Self(row)
    }
}

/// A subdistrict's opinion on a department's decision, plan or project.
#[derive(Debug, Clone)]
pub struct RecordOpinion {
    pub subdistrict: SubdistrictCode,
    pub department: DepartmentCode,
    /// `decision`, `plan` or `project`.
    pub subject: &'static str,
    pub title: String,
    pub reference: String,
    /// `support`, `support_with_conditions` or `oppose`.
    pub stance: &'static str,
    pub text: String,
    pub give_time: DateTime<Utc>,
    pub retry: Option<Retry>,
}

pub async fn record(
    duties: &Duties,
    access: &Access,
    command: RecordOpinion,
) -> Result<Opinion, Error> {
    authorise_recorder(access, &command.subdistrict)?;
    let retry = command.retry.as_ref();
    if let Some(first) = retries::recall(&duties.pool, access, retry).await? {
        return replayed(duties, access, first).await;
    }
    let rules = duties.rules.current(&duties.pool).await?;
    if !rules.departments.contains(&command.department) {
        return Err(Error::invalid(
            "opinion.department",
            format!("unknown department {}", command.department),
        ));
    }
    let record = OpinionRow {
        id: uuid::Uuid::now_v7(),
        subdistrict_code: command.subdistrict.to_string(),
        department: command.department.to_string(),
        subject: command.subject.to_owned(),
        title: command.title,
        reference: command.reference,
        stance: command.stance.to_owned(),
        body: command.text,
        give_time: command.give_time,
        recorded_by: access.subject().to_owned(),
        create_time: duties.clock.now(),
    };
    let name = opinion_name(record.id);
    let mut transaction = store::begin(&duties.pool, "recording an opinion").await?;
    if retries::remember(&mut transaction, access, retry, &name).await? == Remembered::LostRace {
        store::roll_back(transaction, "recording an opinion").await?;
        let first = retries::recall(&duties.pool, access, retry)
            .await?
            .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
        return replayed(duties, access, first).await;
    }
    let row = store::opinions::insert(&mut transaction, &record).await?;
    events::opinion_recorded(&mut transaction, &row).await?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, "recording an opinion").await?;
    store::commit(transaction, "recording an opinion").await?;
    Ok(Opinion::shaped(access, row))
}

/// The first answer to a retried RecordOpinion, re-read with the caller's
/// current access.
async fn replayed(duties: &Duties, access: &Access, first: String) -> Result<Opinion, Error> {
    let id = uuid_in(&first, "opinions")
        .ok_or_else(|| Error::corrupt(format!("remembered resource {first:?}")))?;
    let mut connection = duties.pool.acquire().await.context("reading an opinion")?;
    let row = store::opinions::get(&mut connection, id)
        .await?
        .filter(|row| reaches_record(access, &row.subdistrict_code, &row.department))
        .ok_or_else(|| Error::NotFound(format!("{first} does not exist")))?;
    access.audit().resource(first);
    Ok(Opinion::shaped(access, row))
}

/// Opinions newest first, filtered, of those the caller reaches.
#[derive(Debug, Clone)]
pub struct ListOpinions {
    pub filter: AssessmentFilter,
    pub page: Page<TimeKey>,
}

pub async fn list(
    duties: &Duties,
    access: &Access,
    command: &ListOpinions,
) -> Result<Vec<Opinion>, Error> {
    let reach = Reach::of(access);
    let mut connection = duties.pool.acquire().await.context("listing opinions")?;
    let rows = store::opinions::list(
        &mut connection,
        &command.filter,
        reach.as_ref(),
        command.page.after.map(TimeKey::pair),
        command.page.fetch_limit(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Opinion::shaped(access, row))
        .collect())
}
