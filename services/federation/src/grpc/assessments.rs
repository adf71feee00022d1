//! Needs assessments of people on the register.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::words::{self, ProtoWord};
use crate::application::assessments::{
    self as app, AssessmentId, ListAssessments, Need, NewAssessment, name, needs,
};
use crate::domain::codes::{Collection, organisation_name};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::people::AssessmentRow;
use flatgov_grpc::clock::Received;

pub(super) fn render(row: AssessmentRow) -> Result<proto::Assessment> {
    let needs = needs(&row)?
        .into_iter()
        .map(|need| proto::Need {
            area: need.area.to_proto(),
            severity: need.severity.to_proto(),
            description: need.description,
        })
        .collect();
    Ok(proto::Assessment {
        name: name(row.person, row.id),
        person: Collection::People.name(row.person),
        organisation: organisation_name(&row.organisation),
        assessed_by: row.assessed_by,
        assess_time: Some(timestamp(row.assessed_at)),
        needs,
        summary: row.summary,
    })
}

impl TryFrom<Received<proto::CreateAssessmentRequest>> for NewAssessment {
    type Error = Error;

    fn try_from(received: Received<proto::CreateAssessmentRequest>) -> Result<Self> {
        let Received { request, at: now } = received;
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let person = violations.check("parent", Collection::People.parse(&request.parent));
        if request.needs.is_empty() {
            violations.add("needs", "an assessment records at least one need");
        }
        let needs: Vec<Option<Need>> = request
            .needs
            .iter()
            .enumerate()
            .map(|(index, need)| {
                let area =
                    violations.check(format!("needs[{index}].area"), words::required(need.area));
                let severity = violations.check(
                    format!("needs[{index}].severity"),
                    words::required(need.severity),
                );
                let description = violations.check(
                    format!("needs[{index}].description"),
                    text::optional(&need.description, 1000),
                );
                Some(Need {
                    area: area?,
                    severity: severity?,
                    description: description?,
                })
            })
            .collect();
        let summary = violations.check("summary", text::optional(&request.summary, 4000));
        let assessed_at = violations.check(
            "assess_time",
            parse::past_time(request.assess_time.as_ref(), now),
        );
        finish(violations, || {
            Some(NewAssessment {
                person: person?,
                needs: needs.into_iter().collect::<Option<Vec<_>>>()?,
                summary: summary?,
                assessed_at: assessed_at?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListAssessmentsRequest> for Listing<ListAssessments> {
    type Error = Error;

    fn try_from(mut request: proto::ListAssessmentsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let person = violations.check("parent", Collection::People.parse(&request.parent));
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("assessments", &request),
            page_size,
            &page_token,
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListAssessments {
                    person: person?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_assessment(
    service: &FederationService,
    access: &Access,
    request: proto::CreateAssessmentRequest,
) -> Result<proto::Assessment> {
    let assessment = NewAssessment::try_from(Received::at(request, service.app.now()))?;
    render(app::create(&service.app, access, assessment).await?)
}

pub async fn get_assessment(
    service: &FederationService,
    access: &Access,
    request: proto::GetAssessmentRequest,
) -> Result<proto::Assessment> {
    let mut violations = Violations::new();
    let ids = violations.check(
        "name",
        Collection::People.parse_child(Collection::Assessments, &request.name),
    );
    let (person, id) = finish(violations, || ids)?;
    render(app::get(&service.app, access, AssessmentId { person, id }).await?)
}

pub async fn list_assessments(
    service: &FederationService,
    access: &Access,
    request: proto::ListAssessmentsRequest,
) -> Result<proto::ListAssessmentsResponse> {
    let listing = Listing::<ListAssessments>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListAssessmentsResponse {
        assessments: rows.into_iter().map(render).collect::<Result<_>>()?,
        next_page_token,
    })
}
