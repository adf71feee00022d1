//! Subdistricts' rights over departments: assessments (考核) of their
//! cooperation, and opinions on their major decisions, plans and projects.

use std::collections::BTreeMap;

use chrono::Utc;
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::error::{ForField as _, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::{self, timestamp};
use flatgov_proto::duties::v1 as proto;

use super::retries::{self, Remembered, Retry};
use super::{DutyListsService, TimeKey, bounded_text, case_reference};
use crate::domain::{DepartmentCode, MatterCode, SubdistrictCode};
use crate::error::{DatabaseContext as _, Error};
use crate::policy::{POLICY, Reach, sees_staff};
use crate::store::{
    self, AssessmentFilter, AssessmentRow, AssessmentSource, NewAssessment, OpinionRow,
};

const MAX_COMMENT_CHARS: usize = 2000;
const MAX_TITLE_CHARS: usize = 200;
const MAX_OPINION_CHARS: usize = 5000;

/// The facts scope rules test of an assessment or opinion: the assessing
/// subdistrict, and the department it is about.
fn reaches_record(access: &Access, subdistrict: &str, department: &str) -> bool {
    access.reaches(&Resource {
        division: Some(subdistrict),
        organisations: &[department],
        ..Resource::default()
    })
}

/// Recording is for the subdistricts the caller's jurisdiction covers (the
/// subdistrict is public; recording for another is what is refused).
fn authorise_recorder(access: &Access, subdistrict: &SubdistrictCode) -> Result<(), Error> {
    let reached = access.reaches(&Resource::in_division(subdistrict.as_str()));
    if reached {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "subdistrict {subdistrict} is outside the caller's jurisdiction"
    )))
}

/// Who recorded a record, for those who see people; empty otherwise.
fn recorded_by(access: &Access, subject: Option<&str>) -> String {
    if sees_staff(access) {
        subject.unwrap_or_default().to_owned()
    } else {
        String::new()
    }
}

fn filter_from(
    department: &str,
    subdistrict_code: &str,
    period_start: Option<&prost_types::Timestamp>,
    period_end: Option<&prost_types::Timestamp>,
) -> Result<AssessmentFilter, Error> {
    let department = if department.is_empty() {
        None
    } else {
        Some(
            DepartmentCode::parse(department)
                .map_err(|error| Error::invalid("department", error))?
                .to_string(),
        )
    };
    let subdistrict_code = super::division_filter("subdistrict_code", subdistrict_code)?;
    let period_start = time::optional_instant(period_start).for_field("period_start")?;
    let period_end = time::optional_instant(period_end).for_field("period_end")?;
    if let (Some(start), Some(end)) = (period_start, period_end)
        && end <= start
    {
        return Err(Error::invalid("period_end", "must be after period_start"));
    }
    Ok(AssessmentFilter {
        department,
        subdistrict_code,
        period_start,
        period_end,
        matter_code: None,
        case_name: None,
    })
}

fn assessment_to_proto(access: &Access, row: &AssessmentRow) -> proto::Assessment {
    let source = match row.source.as_str() {
        "joint_enforcement" => proto::AssessmentSource::JointEnforcement,
        _ => proto::AssessmentSource::Direct,
    };
    proto::Assessment {
        name: format!("assessments/{}", row.id),
        subdistrict_code: row.subdistrict_code.clone(),
        department: row.department.clone(),
        matter_code: row.matter_code.clone().unwrap_or_default(),
        case: row.case_name.clone().unwrap_or_default(),
        score: u32::try_from(row.score).unwrap_or(0),
        comment: row.comment.clone(),
        assess_time: Some(timestamp(row.assess_time)),
        source: source as i32,
        operation: row.operation.clone().unwrap_or_default(),
        recorded_by: recorded_by(access, row.recorded_by.as_deref()),
        create_time: Some(timestamp(row.create_time)),
    }
}

pub(super) async fn record_assessment(
    service: &DutyListsService,
    access: &Access,
    request: proto::RecordAssessmentRequest,
) -> Result<proto::Assessment, Error> {
    let now = Utc::now();
    let assessment = request
        .assessment
        .as_ref()
        .ok_or_else(|| Error::invalid("assessment", "an assessment is required"))?;
    let mut violations = Violations::new();
    let subdistrict = violations.check(
        "assessment.subdistrict_code",
        SubdistrictCode::parse(&assessment.subdistrict_code),
    );
    let department = violations.check(
        "assessment.department",
        DepartmentCode::parse(&assessment.department),
    );
    let matter = if assessment.matter_code.is_empty() {
        Some(None)
    } else {
        violations
            .check(
                "assessment.matter_code",
                MatterCode::parse(&assessment.matter_code),
            )
            .map(Some)
    };
    let case = violations.check(
        "assessment.case",
        case_reference("assessment.case", &assessment.case).map_err(|error| error.to_string()),
    );
    if assessment.matter_code.is_empty() && assessment.case.is_empty() {
        violations.add(
            "assessment.matter_code",
            "a matter, a case or both are required",
        );
    }
    if !(1..=5).contains(&assessment.score) {
        violations.add("assessment.score", "must be 1 (poor) to 5 (excellent)");
    }
    let comment = violations.check(
        "assessment.comment",
        bounded_text("assessment.comment", &assessment.comment, MAX_COMMENT_CHARS)
            .map_err(|_| format!("is longer than {MAX_COMMENT_CHARS} characters")),
    );
    let assess_time = violations
        .check(
            "assessment.assess_time",
            time::optional_instant(assessment.assess_time.as_ref()),
        )
        .map(|assess_time| assess_time.unwrap_or(now));
    if assess_time.is_some_and(|time| time > now + chrono::Duration::minutes(1)) {
        violations.add("assessment.assess_time", "is in the future");
    }
    let request_id = violations.check("request_id", RequestId::parse_optional(&request.request_id));
    let (
        Some(subdistrict),
        Some(department),
        Some(matter),
        Some(case),
        Some(comment),
        Some(assess_time),
        Some(request_id),
    ) = (
        subdistrict,
        department,
        matter,
        case,
        comment,
        assess_time,
        request_id,
    )
    else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    authorise_recorder(access, &subdistrict)?;
    let retry = Retry::of(request_id, &request);
    if let Some(first) = retries::recall(&service.pool, access, retry.as_ref()).await? {
        return replayed_assessment(service, access, first).await;
    }
    let rules = service.rules.current(&service.pool).await?;
    let mut violations = Violations::new();
    if !rules.departments.contains(&department) {
        violations.add(
            "assessment.department",
            format!("unknown department {department}"),
        );
    }
    if let Some(matter) = &matter
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
        subdistrict_code: subdistrict.to_string(),
        department: department.to_string(),
        matter_code: matter.map(|code| code.to_string()),
        case_name: case,
        score: i16::try_from(assessment.score).unwrap_or(0),
        comment,
        assess_time,
        recorded_by: access.caller().map(|caller| caller.subject.clone()),
    };
    let name = format!("assessments/{}", record.id);
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("recording an assessment")?;
    if retries::remember(&mut transaction, access, retry.as_ref(), &name).await?
        == Remembered::LostRace
    {
        transaction
            .rollback()
            .await
            .context("recording an assessment")?;
        let first = retries::recall(&service.pool, access, retry.as_ref())
            .await?
            .ok_or_else(|| Error::Corrupt("a remembered request id vanished".into()))?;
        return replayed_assessment(service, access, first).await;
    }
    if !store::insert_assessment(&mut transaction, &record).await? {
        return Err(Error::Corrupt(format!(
            "{name} collided with a recorded assessment"
        )));
    }
    flatgov_messaging::outbox::enqueue(&mut transaction, &name, &record.recorded_event())
        .await
        .context("recording an assessment")?;
    let row = store::get_assessment(&mut transaction, record.id)
        .await?
        .ok_or_else(|| Error::Corrupt("an assessment vanished".into()))?;
    access.audit().resource(name);
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("recording an assessment")?;
    transaction
        .commit()
        .await
        .context("recording an assessment")?;
    Ok(assessment_to_proto(access, &row))
}

/// The first answer to a retried RecordAssessment, re-read with the
/// caller's current access: NOT_FOUND once it no longer reaches it.
async fn replayed_assessment(
    service: &DutyListsService,
    access: &Access,
    first: String,
) -> Result<proto::Assessment, Error> {
    let id = first
        .strip_prefix("assessments/")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::Corrupt(format!("remembered resource {first:?}")))?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("reading an assessment")?;
    let row = store::get_assessment(&mut connection, id)
        .await?
        .filter(|row| reaches_record(access, &row.subdistrict_code, &row.department))
        .ok_or_else(|| Error::NotFound(format!("{first} does not exist")))?;
    access.audit().resource(first);
    Ok(assessment_to_proto(access, &row))
}

pub(super) async fn list_assessments(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListAssessmentsRequest,
) -> Result<proto::ListAssessmentsResponse, Error> {
    let mut filter = filter_from(
        &request.department,
        &request.subdistrict_code,
        request.period_start.as_ref(),
        request.period_end.as_ref(),
    )?;
    if !request.matter_code.is_empty() {
        filter.matter_code = Some(
            MatterCode::parse(&request.matter_code)
                .map_err(|error| Error::invalid("matter_code", error))?
                .to_string(),
        );
    }
    filter.case_name = case_reference("case", &request.case)?;
    let reach = Reach::of(access);
    let query = ListQuery::new(&format!("assessments {filter:?}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let after = TimeKey::after(&page)?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("listing assessments")?;
    let mut rows = store::list_assessments(
        &mut connection,
        &filter,
        reach.as_ref(),
        after,
        page.size.fetch_limit(),
    )
    .await?;
    let next_page_token = page.size.next_page_token(&mut rows, &query, |row| {
        TimeKey::of(row.assess_time, row.id)
    });
    Ok(proto::ListAssessmentsResponse {
        assessments: rows
            .iter()
            .map(|row| assessment_to_proto(access, row))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn summarise_assessments(
    service: &DutyListsService,
    access: &Access,
    request: proto::SummariseAssessmentsRequest,
) -> Result<proto::SummariseAssessmentsResponse, Error> {
    let filter = filter_from(
        &request.department,
        &request.subdistrict_code,
        request.period_start.as_ref(),
        request.period_end.as_ref(),
    )?;
    let reach = Reach::of(access);
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("summarising assessments")?;
    let (assessments, opinions) =
        store::summarise_assessments(&mut connection, &filter, reach.as_ref()).await?;
    let mut rows: BTreeMap<(String, Option<String>), proto::DepartmentAssessmentSummary> =
        BTreeMap::new();
    let count = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    for row in assessments {
        let summary = rows
            .entry((row.department.clone(), row.subdistrict_code.clone()))
            .or_default();
        summary.department = row.department;
        summary.subdistrict_code = row.subdistrict_code.unwrap_or_default();
        summary.assessments = count(row.assessments);
        summary.mean_score = row.mean_score;
        summary.lowest_score = u32::try_from(row.lowest_score).unwrap_or(0);
        summary.poor_assessments = count(row.poor_assessments);
    }
    for row in opinions {
        let summary = rows
            .entry((row.department.clone(), row.subdistrict_code.clone()))
            .or_default();
        summary.department = row.department;
        summary.subdistrict_code = row.subdistrict_code.unwrap_or_default();
        summary.opinions = count(row.opinions);
        summary.opinions_opposed = count(row.opposed);
    }
    let mut response = proto::SummariseAssessmentsResponse::default();
    for ((_, subdistrict), summary) in rows {
        if subdistrict.is_none() {
            response.departments.push(summary);
        } else {
            response.departments_by_subdistrict.push(summary);
        }
    }
    Ok(response)
}

fn subject_text(value: i32) -> Result<&'static str, String> {
    match proto::OpinionSubject::try_from(value) {
        Ok(proto::OpinionSubject::Decision) => Ok("decision"),
        Ok(proto::OpinionSubject::Plan) => Ok("plan"),
        Ok(proto::OpinionSubject::Project) => Ok("project"),
        _ => Err("must be OPINION_SUBJECT_DECISION, _PLAN or _PROJECT".into()),
    }
}

fn stance_text(value: i32) -> Result<&'static str, String> {
    match proto::OpinionStance::try_from(value) {
        Ok(proto::OpinionStance::Support) => Ok("support"),
        Ok(proto::OpinionStance::SupportWithConditions) => Ok("support_with_conditions"),
        Ok(proto::OpinionStance::Oppose) => Ok("oppose"),
        _ => Err("must be OPINION_STANCE_SUPPORT, _SUPPORT_WITH_CONDITIONS or _OPPOSE".into()),
    }
}

fn opinion_to_proto(access: &Access, row: &OpinionRow) -> proto::Opinion {
    let subject = match row.subject.as_str() {
        "decision" => proto::OpinionSubject::Decision,
        "plan" => proto::OpinionSubject::Plan,
        "project" => proto::OpinionSubject::Project,
        _ => proto::OpinionSubject::Unspecified,
    };
    let stance = match row.stance.as_str() {
        "support" => proto::OpinionStance::Support,
        "support_with_conditions" => proto::OpinionStance::SupportWithConditions,
        "oppose" => proto::OpinionStance::Oppose,
        _ => proto::OpinionStance::Unspecified,
    };
    proto::Opinion {
        name: format!("opinions/{}", row.id),
        subdistrict_code: row.subdistrict_code.clone(),
        department: row.department.clone(),
        subject: subject as i32,
        title: row.title.clone(),
        reference: row.reference.clone(),
        stance: stance as i32,
        text: row.body.clone(),
        give_time: Some(timestamp(row.give_time)),
        recorded_by: recorded_by(access, Some(&row.recorded_by)),
        create_time: Some(timestamp(row.create_time)),
    }
}

pub(super) async fn record_opinion(
    service: &DutyListsService,
    access: &Access,
    request: proto::RecordOpinionRequest,
) -> Result<proto::Opinion, Error> {
    let now = Utc::now();
    let opinion = request
        .opinion
        .as_ref()
        .ok_or_else(|| Error::invalid("opinion", "an opinion is required"))?;
    let mut violations = Violations::new();
    let subdistrict = violations.check(
        "opinion.subdistrict_code",
        SubdistrictCode::parse(&opinion.subdistrict_code),
    );
    let department = violations.check(
        "opinion.department",
        DepartmentCode::parse(&opinion.department),
    );
    let subject = violations.check("opinion.subject", subject_text(opinion.subject));
    let stance = violations.check("opinion.stance", stance_text(opinion.stance));
    let title = opinion.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        violations.add(
            "opinion.title",
            format!("must have 1-{MAX_TITLE_CHARS} characters"),
        );
    }
    let text = opinion.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_OPINION_CHARS {
        violations.add(
            "opinion.text",
            format!("must have 1-{MAX_OPINION_CHARS} characters"),
        );
    }
    let reference = opinion.reference.trim().to_owned();
    if reference.chars().count() > MAX_TITLE_CHARS {
        violations.add(
            "opinion.reference",
            format!("is longer than {MAX_TITLE_CHARS} characters"),
        );
    }
    let give_time = violations
        .check(
            "opinion.give_time",
            time::optional_instant(opinion.give_time.as_ref()),
        )
        .map(|give_time| give_time.unwrap_or(now));
    if give_time.is_some_and(|time| time > now + chrono::Duration::minutes(1)) {
        violations.add("opinion.give_time", "is in the future");
    }
    let request_id = violations.check("request_id", RequestId::parse_optional(&request.request_id));
    let (
        Some(subdistrict),
        Some(department),
        Some(subject),
        Some(stance),
        Some(give_time),
        Some(request_id),
    ) = (
        subdistrict,
        department,
        subject,
        stance,
        give_time,
        request_id,
    )
    else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    authorise_recorder(access, &subdistrict)?;
    let retry = Retry::of(request_id, &request);
    if let Some(first) = retries::recall(&service.pool, access, retry.as_ref()).await? {
        return replayed_opinion(service, access, first).await;
    }
    let rules = service.rules.current(&service.pool).await?;
    if !rules.departments.contains(&department) {
        return Err(Error::invalid(
            "opinion.department",
            format!("unknown department {department}"),
        ));
    }
    let record = OpinionRow {
        id: uuid::Uuid::now_v7(),
        subdistrict_code: subdistrict.to_string(),
        department: department.to_string(),
        subject: subject.to_owned(),
        title,
        reference,
        stance: stance.to_owned(),
        body: text,
        give_time,
        recorded_by: access
            .caller()
            .map(|caller| caller.subject.clone())
            .unwrap_or_default(),
        create_time: now,
    };
    let name = format!("opinions/{}", record.id);
    let mut transaction = service.pool.begin().await.context("recording an opinion")?;
    if retries::remember(&mut transaction, access, retry.as_ref(), &name).await?
        == Remembered::LostRace
    {
        transaction
            .rollback()
            .await
            .context("recording an opinion")?;
        let first = retries::recall(&service.pool, access, retry.as_ref())
            .await?
            .ok_or_else(|| Error::Corrupt("a remembered request id vanished".into()))?;
        return replayed_opinion(service, access, first).await;
    }
    let row = store::insert_opinion(&mut transaction, &record).await?;
    let event = proto::OpinionRecorded {
        opinion: name.clone(),
        subdistrict_code: row.subdistrict_code.clone(),
        department: row.department.clone(),
        subject: row.subject.clone(),
        stance: row.stance.clone(),
        given_at: Some(timestamp(row.give_time)),
    };
    flatgov_messaging::outbox::enqueue(&mut transaction, &name, &event)
        .await
        .context("recording an opinion")?;
    access.audit().resource(name);
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("recording an opinion")?;
    transaction.commit().await.context("recording an opinion")?;
    Ok(opinion_to_proto(access, &row))
}

/// The first answer to a retried RecordOpinion, re-read with the caller's
/// current access.
async fn replayed_opinion(
    service: &DutyListsService,
    access: &Access,
    first: String,
) -> Result<proto::Opinion, Error> {
    let id = first
        .strip_prefix("opinions/")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::Corrupt(format!("remembered resource {first:?}")))?;
    let mut connection = service.pool.acquire().await.context("reading an opinion")?;
    let row = store::get_opinion(&mut connection, id)
        .await?
        .filter(|row| reaches_record(access, &row.subdistrict_code, &row.department))
        .ok_or_else(|| Error::NotFound(format!("{first} does not exist")))?;
    access.audit().resource(first);
    Ok(opinion_to_proto(access, &row))
}

pub(super) async fn list_opinions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListOpinionsRequest,
) -> Result<proto::ListOpinionsResponse, Error> {
    let filter = filter_from(
        &request.department,
        &request.subdistrict_code,
        request.period_start.as_ref(),
        request.period_end.as_ref(),
    )?;
    let reach = Reach::of(access);
    let query = ListQuery::new(&format!("opinions {filter:?}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let after = TimeKey::after(&page)?;
    let mut connection = service.pool.acquire().await.context("listing opinions")?;
    let mut rows = store::list_opinions(
        &mut connection,
        &filter,
        reach.as_ref(),
        after,
        page.size.fetch_limit(),
    )
    .await?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| TimeKey::of(row.give_time, row.id));
    Ok(proto::ListOpinionsResponse {
        opinions: rows
            .iter()
            .map(|row| opinion_to_proto(access, row))
            .collect(),
        next_page_token,
    })
}
