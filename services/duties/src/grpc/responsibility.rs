//! ResolveResponsibility: parse, resolve, render.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::MatterCode;

use super::DutyListsService;
use super::fields::{instant, place_location};
use crate::application::responsibility::{self, ResolveResponsibility, Resolved};
use crate::contract::{duration_to_proto, responsible_unit, tier_to_proto};
use crate::domain::Responsible;
use crate::domain::names::{exception_name, version_name};
use crate::error::Error;

impl TryFrom<proto::ResolveResponsibilityRequest> for ResolveResponsibility {
    type Error = Error;

    fn try_from(request: proto::ResolveResponsibilityRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let matter = violations.check("matter_code", MatterCode::parse(&request.matter_code));
        let location = place_location("place", request.place.as_ref(), &mut violations);
        let at = violations.check("at", instant(request.at.as_ref()));
        let (Some(matter), Some(location), Some(at)) = (matter, location, at) else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            matter,
            location,
            at: at.unwrap_or_else(Utc::now),
        })
    }
}

pub(super) async fn resolve_responsibility(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ResolveResponsibilityRequest,
) -> Result<proto::ResolveResponsibilityResponse, Error> {
    let command = ResolveResponsibility::try_from(request)?;
    let resolved = responsibility::resolve(&service.duties, command).await?;
    Ok(render(resolved))
}

fn render(resolved: Resolved) -> proto::ResolveResponsibilityResponse {
    let Resolved {
        responsibility,
        location,
        item_name,
        matter_name,
    } = resolved;
    let cooperating_departments = responsibility
        .cooperating
        .iter()
        .filter_map(|cooperator| match cooperator {
            Responsible::Department(code) => Some(code.to_string()),
            _ => None,
        })
        .collect();
    proto::ResolveResponsibilityResponse {
        lead: Some(responsible_unit(&responsibility.lead, &location)),
        cooperating_departments,
        default_tier: tier_to_proto(responsibility.tier) as i32,
        response_limit: Some(duration_to_proto(responsibility.response_limit)),
        resolution_limit: Some(duration_to_proto(responsibility.resolution_limit)),
        list_item_code: responsibility.item.code.to_string(),
        list_version: version_name(responsibility.item.code.list(), responsibility.item.version),
        exception: responsibility
            .exception
            .as_ref()
            .map(|id| exception_name(id.as_str()))
            .unwrap_or_default(),
        cooperating: responsibility
            .cooperating
            .iter()
            .map(|cooperator| responsible_unit(cooperator, &location))
            .collect(),
        list_item_name: item_name,
        matter_name,
        response_limit_text: responsibility.response_limit.to_string(),
        resolution_limit_text: responsibility.resolution_limit.to_string(),
    }
}
