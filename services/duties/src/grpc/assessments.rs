//! Assessments: parse, call the use case, render.

use flatgov_vocabulary::{DepartmentCode, MatterCode, SubdistrictCode};
use std::collections::BTreeMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Received;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;

use super::DutyListsService;
use super::fields::{
    bounded_text, case_reference, department_filter, division_filter, instant, next_page_token,
    page, period,
};
use crate::application::TimeKey;
use crate::application::assessments::{self, Assessment, ListAssessments, RecordAssessment};
use crate::application::retries::Retry;
use crate::domain::names::assessment_name;
use crate::error::Error;
use crate::store::assessments::AssessmentFilter;

const MAX_COMMENT_CHARS: usize = 2000;

/// How far ahead of the service's clock a caller's "when" may be.
pub(super) const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(1);

fn render(Assessment(row): &Assessment) -> proto::Assessment {
    let source = match row.source.as_str() {
        "joint_enforcement" => proto::AssessmentSource::JointEnforcement,
        _ => proto::AssessmentSource::Direct,
    };
    proto::Assessment {
        name: assessment_name(row.id),
        subdistrict_code: row.subdistrict_code.clone(),
        department: row.department.clone(),
        matter_code: row.matter_code.clone().unwrap_or_default(),
        case: row.case_name.clone().unwrap_or_default(),
        score: u32::try_from(row.score).unwrap_or(0),
        comment: row.comment.clone(),
        assess_time: Some(timestamp(row.assess_time)),
        source: source as i32,
        operation: row.operation.clone().unwrap_or_default(),
        recorded_by: row.recorded_by.clone().unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
    }
}

/// The filters assessments, opinions and their summary share.
pub(super) fn filter(
    department: &str,
    subdistrict_code: &str,
    period_start: Option<&prost_types::Timestamp>,
    period_end: Option<&prost_types::Timestamp>,
    violations: &mut Violations,
) -> Option<AssessmentFilter> {
    let department = violations.check("department", department_filter(department));
    let subdistrict_code = violations.check("subdistrict_code", division_filter(subdistrict_code));
    let period = period(period_start, period_end, violations);
    let (department, subdistrict_code, period) = (department?, subdistrict_code?, period?);
    Some(AssessmentFilter {
        department,
        subdistrict_code,
        period_start: period.start,
        period_end: period.end,
        matter_code: None,
        case_name: None,
    })
}

impl TryFrom<Received<proto::RecordAssessmentRequest>> for RecordAssessment {
    type Error = Error;

    fn try_from(received: Received<proto::RecordAssessmentRequest>) -> Result<Self, Error> {
        let Received { request, at: now } = received;
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
        let case = violations.check("assessment.case", case_reference(&assessment.case));
        if assessment.matter_code.is_empty() && assessment.case.is_empty() {
            violations.add(
                "assessment.matter_code",
                "a matter, a case or both are required",
            );
        }
        let score = i16::try_from(assessment.score)
            .ok()
            .filter(|score| (1..=5).contains(score));
        if score.is_none() {
            violations.add("assessment.score", "must be 1 (poor) to 5 (excellent)");
        }
        let comment = violations.check(
            "assessment.comment",
            bounded_text(&assessment.comment, MAX_COMMENT_CHARS),
        );
        let assess_time = violations
            .check(
                "assessment.assess_time",
                instant(assessment.assess_time.as_ref()),
            )
            .map(|assess_time| assess_time.unwrap_or(now));
        if assess_time.is_some_and(|time| time > now + CLOCK_SKEW) {
            violations.add("assessment.assess_time", "is in the future");
        }
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let (
            Some(subdistrict),
            Some(department),
            Some(matter),
            Some(case),
            Some(score),
            Some(comment),
            Some(assess_time),
            Some(request_id),
        ) = (
            subdistrict,
            department,
            matter,
            case,
            score,
            comment,
            assess_time,
            request_id,
        )
        else {
            return Err(Error::from(violations));
        };
        violations.finish()?;
        Ok(Self {
            retry: Retry::of(request_id, &request),
            subdistrict,
            department,
            matter,
            case,
            score,
            comment,
            assess_time,
        })
    }
}

pub(super) async fn record_assessment(
    service: &DutyListsService,
    access: &Access,
    request: proto::RecordAssessmentRequest,
) -> Result<proto::Assessment, Error> {
    let command = RecordAssessment::try_from(Received::now(&service.duties.clock, request))?;
    let assessment = assessments::record(&service.duties, access, command).await?;
    Ok(render(&assessment))
}

impl TryFrom<proto::ListAssessmentsRequest> for ListAssessments {
    type Error = Error;

    fn try_from(request: proto::ListAssessmentsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let filter = filter(
            &request.department,
            &request.subdistrict_code,
            request.period_start.as_ref(),
            request.period_end.as_ref(),
            &mut violations,
        );
        let matter = if request.matter_code.is_empty() {
            Some(None)
        } else {
            violations
                .check("matter_code", MatterCode::parse(&request.matter_code))
                .map(|code| Some(code.to_string()))
        };
        let case = violations.check("case", case_reference(&request.case));
        let (Some(mut filter), Some(matter_code), Some(case_name)) = (filter, matter, case) else {
            return Err(Error::from(violations));
        };
        filter.matter_code = matter_code;
        filter.case_name = case_name;
        let query = ListQuery::new(&format!("assessments {filter:?}"));
        let Some(page) = page::<TimeKey>(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        ) else {
            return Err(Error::from(violations));
        };
        Ok(Self { filter, page })
    }
}

pub(super) async fn list_assessments(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListAssessmentsRequest,
) -> Result<proto::ListAssessmentsResponse, Error> {
    let command = ListAssessments::try_from(request)?;
    let mut rows = assessments::list(&service.duties, access, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut rows, |Assessment(row)| {
        TimeKey {
            time: row.assess_time,
            id: row.id,
        }
        .to_string()
    });
    Ok(proto::ListAssessmentsResponse {
        assessments: rows.iter().map(render).collect(),
        next_page_token,
    })
}

impl TryFrom<proto::SummariseAssessmentsRequest> for AssessmentFilter {
    type Error = Error;

    fn try_from(request: proto::SummariseAssessmentsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        filter(
            &request.department,
            &request.subdistrict_code,
            request.period_start.as_ref(),
            request.period_end.as_ref(),
            &mut violations,
        )
        .ok_or_else(|| Error::from(violations))
    }
}

pub(super) async fn summarise_assessments(
    service: &DutyListsService,
    access: &Access,
    request: proto::SummariseAssessmentsRequest,
) -> Result<proto::SummariseAssessmentsResponse, Error> {
    let filter = AssessmentFilter::try_from(request)?;
    let (assessments, opinions) = assessments::summarise(&service.duties, access, &filter).await?;
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
