//! Legal advisers: parse, call the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::mediation::v1 as proto;
use flatgov_vocabulary::{CommunityCode, DivisionCode, OrganisationCode, PhoneNumber};
use uuid::Uuid;

use super::MediationService;
use super::disputes::required_text;
use crate::application::advisers::{self, CreateAdviser, Employer, ListAdvisers, adviser_name};
use crate::error::Error;
use crate::store::AdviserRow;

const MAX_NAME_CHARS: usize = 100;

fn render(row: &AdviserRow) -> proto::Adviser {
    proto::Adviser {
        name: adviser_name(row.id),
        display_name: row.display_name.clone(),
        phone: row.phone.clone(),
        community_code: row.community_code.clone().unwrap_or_default(),
        unit: row.unit.clone().unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
    }
}

impl TryFrom<proto::CreateAdviserRequest> for CreateAdviser {
    type Error = Error;

    fn try_from(request: proto::CreateAdviserRequest) -> Result<Self, Error> {
        let adviser = request
            .adviser
            .as_ref()
            .ok_or_else(|| Error::invalid("adviser", "an adviser is required"))?;
        let mut violations = Violations::new();
        let display_name = violations.check(
            "adviser.display_name",
            required_text(&adviser.display_name, MAX_NAME_CHARS),
        );
        let phone = violations.check("adviser.phone", PhoneNumber::parse(&adviser.phone));
        let employer = match (adviser.community_code.trim(), adviser.unit.trim()) {
            (community, "") if !community.is_empty() => violations
                .check("adviser.community_code", CommunityCode::parse(community))
                .map(|code| Employer::Community(code.to_string())),
            ("", unit) if !unit.is_empty() => violations
                .check("adviser.unit", OrganisationCode::parse(unit))
                .map(|code| Employer::Unit(code.to_string())),
            _ => {
                violations.add(
                    "adviser.community_code",
                    "exactly one of community_code or unit is required",
                );
                None
            }
        };
        let request_id =
            violations.check("request_id", RequestId::parse_optional(&request.request_id));
        let (Some(display_name), Some(phone), Some(employer), Some(request_id)) =
            (display_name, phone, employer, request_id)
        else {
            return Err(Error::from(violations));
        };
        violations.finish()?;
        let fingerprint = Fingerprint::of(&request);
        Ok(Self {
            display_name,
            phone: phone.as_str().to_owned(),
            employer,
            retry: request_id.map(|id| (id, fingerprint)),
        })
    }
}

pub(super) async fn create_adviser(
    service: &MediationService,
    access: &Access,
    request: proto::CreateAdviserRequest,
) -> Result<proto::Adviser, Error> {
    let command = CreateAdviser::try_from(request)?;
    let row = advisers::create(&service.mediation, access, command).await?;
    Ok(render(&row))
}

pub(super) async fn list_advisers(
    service: &MediationService,
    access: &Access,
    request: proto::ListAdvisersRequest,
) -> Result<proto::ListAdvisersResponse, Error> {
    let mut violations = Violations::new();
    let division_prefix = match request.division_code.trim() {
        "" => Some(None),
        code => violations
            .check("division_code", DivisionCode::parse(code))
            .map(|code| Some(code.to_string())),
    };
    let query = ListQuery::new(&format!(
        "advisers division={}",
        request.division_code.trim()
    ));
    let page = match PageRequest::parse(request.page_size, &request.page_token, &query) {
        Ok(page) => Some(page),
        Err(found) => {
            violations.extend(found);
            None
        }
    };
    let after = page
        .as_ref()
        .and_then(|page| match page.after_as::<Uuid>() {
            Ok(after) => Some(after),
            Err(violation) => {
                violations.extend([violation]);
                None
            }
        });
    let (Some(division_prefix), Some(page), Some(after)) = (division_prefix, page, after) else {
        return Err(Error::from(violations));
    };
    let command = ListAdvisers {
        division_prefix,
        after,
        fetch_limit: page.size.fetch_limit(),
    };
    let mut rows = advisers::list(&service.mediation, access, &command).await?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    Ok(proto::ListAdvisersResponse {
        advisers: rows.iter().map(render).collect(),
        next_page_token,
    })
}
