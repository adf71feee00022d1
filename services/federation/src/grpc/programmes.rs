//! Innovation and entrepreneurship programmes: a public directory.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, count, finish, outcome};
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::Checked;
use crate::application::programmes::{self as app, ListProgrammes, NewProgramme, ProgrammeFields};
use crate::domain::codes::{
    Collection, OrganisationCode, organisation_name, parse_organisation_reference,
};
use crate::domain::kinds::{Audience, ProgrammeKind, ProgrammeState};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::innovation::ProgrammeRow;

/// The most places a programme offers.
const MAX_PLACES: u32 = 10_000;

/// The programme as the caller may see it: who created it is named to
/// staff and administrators only.
fn render(access: &Access, row: ProgrammeRow) -> Result<proto::Programme> {
    Ok(proto::Programme {
        name: Collection::Programmes.name(row.id),
        title: row.title,
        description: row.description,
        kind: ProgrammeKind::from_stored(&row.kind)?.to_proto(),
        lead_organisation: organisation_name(&row.lead_organisation),
        co_organisers: row
            .co_organisers
            .iter()
            .map(|code| organisation_name(code))
            .collect(),
        audiences: words::stored(&row.audiences, Audience::from_stored)?,
        application_open_time: Some(timestamp(row.applications_open)),
        application_close_time: Some(timestamp(row.applications_close)),
        places: u32::try_from(row.places).unwrap_or(0),
        state: ProgrammeState::from_stored(&row.state)?.to_proto(),
        applications: count(row.applications),
        accepted: count(row.accepted),
        created_by: if access::shows_staff_ids(access) {
            row.created_by
        } else {
            String::new()
        },
        create_time: Some(timestamp(row.created_at)),
    })
}

fn named(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Programmes.parse(value));
    finish(violations, || id)
}

impl TryFrom<proto::CreateProgrammeRequest> for NewProgramme {
    type Error = Error;

    fn try_from(request: proto::CreateProgrammeRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let retry = parse::retry(
            &mut violations,
            &request.request_id,
            Fingerprint::of(&request),
        );
        let title = violations.check("title", text::required(&request.title, 200));
        let description =
            violations.check("description", text::optional(&request.description, 4000));
        let kind = violations.check("kind", words::required(request.kind));
        let mut co_organisers: Vec<(String, OrganisationCode)> = Vec::new();
        for (index, value) in request.co_organisers.iter().enumerate() {
            let field = format!("co_organisers[{index}]");
            if let Some(code) = violations.check(&field, parse_organisation_reference(value))
                && !co_organisers.iter().any(|(_, known)| *known == code)
            {
                co_organisers.push((field, code));
            }
        }
        let audiences: Option<Vec<Audience>> = if request.audiences.is_empty() {
            Some(Vec::new())
        } else {
            violations.check("audiences", words::list(&request.audiences))
        };
        let opens = violations.check(
            "application_open_time",
            parse::required_time(request.application_open_time.as_ref()),
        );
        let closes = violations.check(
            "application_close_time",
            parse::required_time(request.application_close_time.as_ref()),
        );
        if let (Some(opens), Some(closes)) = (opens, closes)
            && closes <= opens
        {
            violations.add("application_close_time", "must be after the open time");
        }
        if request.places == 0 || request.places > MAX_PLACES {
            violations.add(
                "places",
                format!("is {}; it must be 1 to {MAX_PLACES}", request.places),
            );
        }
        let fields = outcome(violations, || {
            Some(ProgrammeFields {
                title: title?,
                description: description?,
                kind: kind?,
                audiences: audiences?,
                applications_open: opens?,
                applications_close: closes?,
                places: request.places,
            })
        });
        Ok(NewProgramme {
            programme: Checked {
                fields,
                references: co_organisers,
            },
            retry,
        })
    }
}

impl TryFrom<proto::ListProgrammesRequest> for Listing<ListProgrammes> {
    type Error = Error;

    fn try_from(mut request: proto::ListProgrammesRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("programmes", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let state = violations.check("state", words::optional(request.state));
        let kind = violations.check("kind", words::optional(request.kind));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListProgrammes {
                    organisation: organisation?,
                    state: state?,
                    kind: kind?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_programme(
    service: &FederationService,
    access: &Access,
    request: proto::CreateProgrammeRequest,
) -> Result<proto::Programme> {
    let programme = NewProgramme::try_from(request)?;
    render(access, app::create(&service.app, access, programme).await?)
}

pub async fn close_programme(
    service: &FederationService,
    access: &Access,
    request: proto::CloseProgrammeRequest,
) -> Result<proto::Programme> {
    let id = named(&request.name)?;
    render(access, app::close(&service.app, access, id).await?)
}

pub async fn get_programme(
    service: &FederationService,
    access: &Access,
    request: proto::GetProgrammeRequest,
) -> Result<proto::Programme> {
    let id = named(&request.name)?;
    render(access, app::get(&service.app, id).await?)
}

pub async fn list_programmes(
    service: &FederationService,
    access: &Access,
    request: proto::ListProgrammesRequest,
) -> Result<proto::ListProgrammesResponse> {
    let listing = Listing::<ListProgrammes>::try_from(request)?;
    let mut rows = app::list(&service.app, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
    Ok(proto::ListProgrammesResponse {
        programmes: rows
            .into_iter()
            .map(|row| render(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}
