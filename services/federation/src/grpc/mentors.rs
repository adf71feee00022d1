//! The federation's pool of mentors.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use crate::application::mentors::{self as app, ListMentors, NewMentor};
use crate::domain::codes::{Collection, organisation_name};
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::innovation::MentorRow;

fn render(row: MentorRow) -> proto::Mentor {
    proto::Mentor {
        name: Collection::Mentors.name(row.id),
        display_name: row.display_name,
        expertise: row.expertise,
        organisation: organisation_name(&row.organisation),
        phone: row.phone,
        biography: row.biography,
        active: row.active,
        create_time: Some(timestamp(row.created_at)),
    }
}

/// At most 20 areas of expertise, each 1 to 50 characters, duplicates
/// dropped.
fn parse_expertise(values: &[String]) -> std::result::Result<Vec<String>, Invalid> {
    if values.len() > 20 {
        return Err(Invalid::new(format!(
            "has {} entries; at most 20",
            values.len()
        )));
    }
    let mut expertise: Vec<String> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let entry = text::required(value, 50)
            .map_err(|invalid| Invalid::new(format!("[{index}] {invalid}")))?;
        if !expertise.contains(&entry) {
            expertise.push(entry);
        }
    }
    Ok(expertise)
}

impl TryFrom<proto::CreateMentorRequest> for NewMentor {
    type Error = Error;

    fn try_from(request: proto::CreateMentorRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let display_name =
            violations.check("display_name", text::required(&request.display_name, 100));
        let expertise = violations.check("expertise", parse_expertise(&request.expertise));
        let phone = violations.check("phone", text::phone(&request.phone));
        let biography = violations.check("biography", text::optional(&request.biography, 2000));
        finish(violations, || {
            Some(NewMentor {
                display_name: display_name?,
                expertise: expertise?,
                phone: phone?,
                biography: biography?,
                retry,
            })
        })
    }
}

impl TryFrom<proto::ListMentorsRequest> for Listing<ListMentors> {
    type Error = Error;

    fn try_from(mut request: proto::ListMentorsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("mentors", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let expertise = violations.check("expertise", text::optional(&request.expertise, 50));
        finish(violations, || {
            let (paging, page) = paged?;
            let expertise = expertise?;
            Some(Listing {
                query: ListMentors {
                    organisation: organisation?,
                    expertise: (!expertise.is_empty()).then_some(expertise),
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::CreateMentorRequest,
) -> Result<proto::Mentor> {
    let mentor = NewMentor::try_from(request)?;
    Ok(render(app::create(&service.app, access, mentor).await?))
}

pub async fn get_mentor(
    service: &FederationService,
    access: &Access,
    request: proto::GetMentorRequest,
) -> Result<proto::Mentor> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Mentors.parse(&request.name));
    let id = finish(violations, || id)?;
    Ok(render(app::get(&service.app, access, id).await?))
}

pub async fn list_mentors(
    service: &FederationService,
    access: &Access,
    request: proto::ListMentorsRequest,
) -> Result<proto::ListMentorsResponse> {
    let listing = Listing::<ListMentors>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListMentorsResponse {
        mentors: rows.into_iter().map(render).collect(),
        next_page_token,
    })
}
