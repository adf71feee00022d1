//! Opinions: parse, call the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Received;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::{DepartmentCode, SubdistrictCode};

use super::DutyListsService;
use super::assessments::{CLOCK_SKEW, filter};
use super::fields::{instant, next_page_token, page};
use crate::application::TimeKey;
use crate::application::opinions::{self, ListOpinions, Opinion, RecordOpinion};
use crate::application::retries::Retry;
use crate::domain::names::opinion_name;
use crate::error::Error;

const MAX_TITLE_CHARS: usize = 200;
const MAX_OPINION_CHARS: usize = 5000;

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

fn render(Opinion(row): &Opinion) -> proto::Opinion {
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
        name: opinion_name(row.id),
        subdistrict_code: row.subdistrict_code.clone(),
        department: row.department.clone(),
        subject: subject as i32,
        title: row.title.clone(),
        reference: row.reference.clone(),
        stance: stance as i32,
        text: row.body.clone(),
        give_time: Some(timestamp(row.give_time)),
        recorded_by: row.recorded_by.clone(),
        create_time: Some(timestamp(row.create_time)),
    }
}

/// A text that must be there and at most `max_chars` long, trimmed.
fn required_text(value: &str, max_chars: usize) -> Result<String, String> {
    let text = value.trim();
    if text.is_empty() || text.chars().count() > max_chars {
        return Err(format!("must have 1-{max_chars} characters"));
    }
    Ok(text.to_owned())
}

impl TryFrom<Received<proto::RecordOpinionRequest>> for RecordOpinion {
    type Error = Error;

    fn try_from(received: Received<proto::RecordOpinionRequest>) -> Result<Self, Error> {
        let Received { request, at: now } = received;
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
        let title = violations.check(
            "opinion.title",
            required_text(&opinion.title, MAX_TITLE_CHARS),
        );
        let text = violations.check(
            "opinion.text",
            required_text(&opinion.text, MAX_OPINION_CHARS),
        );
        let reference = opinion.reference.trim().to_owned();
        if reference.chars().count() > MAX_TITLE_CHARS {
            violations.add(
                "opinion.reference",
                format!("is longer than {MAX_TITLE_CHARS} characters"),
            );
        }
        let give_time = violations
            .check("opinion.give_time", instant(opinion.give_time.as_ref()))
            .map(|give_time| give_time.unwrap_or(now));
        if give_time.is_some_and(|time| time > now + CLOCK_SKEW) {
            violations.add("opinion.give_time", "is in the future");
        }
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let (
            Some(subdistrict),
            Some(department),
            Some(subject),
            Some(stance),
            Some(title),
            Some(text),
            Some(give_time),
            Some(request_id),
        ) = (
            subdistrict,
            department,
            subject,
            stance,
            title,
            text,
            give_time,
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
            subject,
            title,
            reference,
            stance,
            text,
            give_time,
        })
    }
}

pub(super) async fn record_opinion(
    service: &DutyListsService,
    access: &Access,
    request: proto::RecordOpinionRequest,
) -> Result<proto::Opinion, Error> {
    let command = RecordOpinion::try_from(Received::now(&service.duties.clock, request))?;
    let opinion = opinions::record(&service.duties, access, command).await?;
    Ok(render(&opinion))
}

impl TryFrom<proto::ListOpinionsRequest> for ListOpinions {
    type Error = Error;

    fn try_from(request: proto::ListOpinionsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let filter = filter(
            &request.department,
            &request.subdistrict_code,
            request.period_start.as_ref(),
            request.period_end.as_ref(),
            &mut violations,
        );
        let Some(filter) = filter else {
            return Err(Error::from(violations));
        };
        let query = ListQuery::new(&format!("opinions {filter:?}"));
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

pub(super) async fn list_opinions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListOpinionsRequest,
) -> Result<proto::ListOpinionsResponse, Error> {
    let command = ListOpinions::try_from(request)?;
    let mut rows = opinions::list(&service.duties, access, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut rows, |Opinion(row)| {
        TimeKey {
            time: row.give_time,
            id: row.id,
        }
        .to_string()
    });
    Ok(proto::ListOpinionsResponse {
        opinions: rows.iter().map(render).collect(),
        next_page_token,
    })
}
