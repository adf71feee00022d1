//! Per-place exceptions: parse, call the use case, render.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::{BlockCode, CommunityCode, DepartmentCode, MatterCode, SubdistrictCode};

use super::DutyListsService;
use super::fields::{bounded_text, instant, next_page_token, page, tier_from_proto};
use super::names::exception_id;
use crate::application::exceptions::{self, ExceptionRecord, ListExceptions};
use crate::contract::optional_tier_to_proto;
use crate::domain::names::exception_name;
use crate::domain::{
    AreaId, ExceptionId, ExceptionScope, ItemCode, PlaceException, PlaceRef, Responsible,
};
use crate::error::Error;

const MAX_REASON_CHARS: usize = 500;

fn responsible_to_proto(responsible: &Responsible) -> proto::Responsible {
    let (role, department) = match responsible {
        Responsible::BlockTeam => (proto::ResponsibleRole::BlockTeam, String::new()),
        Responsible::Community => (proto::ResponsibleRole::Community, String::new()),
        Responsible::SubdistrictPlatform => {
            (proto::ResponsibleRole::SubdistrictPlatform, String::new())
        }
        Responsible::Department(code) => (proto::ResponsibleRole::Department, code.to_string()),
    };
    proto::Responsible {
        role: role as i32,
        department,
    }
}

fn responsible_from_proto(
    field: &str,
    responsible: Option<&proto::Responsible>,
    violations: &mut Violations,
) -> Option<Responsible> {
    let Some(responsible) = responsible else {
        violations.add(field, "a responsible unit is required");
        return None;
    };
    match proto::ResponsibleRole::try_from(responsible.role) {
        Ok(proto::ResponsibleRole::BlockTeam) => Some(Responsible::BlockTeam),
        Ok(proto::ResponsibleRole::Community) => Some(Responsible::Community),
        Ok(proto::ResponsibleRole::SubdistrictPlatform) => Some(Responsible::SubdistrictPlatform),
        Ok(proto::ResponsibleRole::Department) => violations
            .check(
                format!("{field}.department"),
                DepartmentCode::parse(&responsible.department),
            )
            .map(Responsible::Department),
        _ => {
            violations.add(
                format!("{field}.role"),
                "must be RESPONSIBLE_ROLE_BLOCK_TEAM, _COMMUNITY, _SUBDISTRICT_PLATFORM or _DEPARTMENT",
            );
            None
        }
    }
}

fn place_ref_to_proto(place: &PlaceRef) -> proto::ExceptionPlace {
    use proto::exception_place::Place;
    let place = match place {
        PlaceRef::Subdistrict(code) => Place::SubdistrictCode(code.to_string()),
        PlaceRef::Community(code) => Place::CommunityCode(code.to_string()),
        PlaceRef::Block(code) => Place::BlockCode(code.to_string()),
        PlaceRef::Area(id) => Place::Area(id.to_string()),
    };
    proto::ExceptionPlace { place: Some(place) }
}

fn place_ref_from_proto(
    field: &str,
    place: Option<&proto::ExceptionPlace>,
    violations: &mut Violations,
) -> Option<PlaceRef> {
    use proto::exception_place::Place;
    match place.and_then(|place| place.place.as_ref()) {
        None => {
            violations.add(field, "a place is required");
            None
        }
        Some(Place::SubdistrictCode(code)) => violations
            .check(
                format!("{field}.subdistrict_code"),
                SubdistrictCode::parse(code),
            )
            .map(PlaceRef::Subdistrict),
        Some(Place::CommunityCode(code)) => violations
            .check(
                format!("{field}.community_code"),
                CommunityCode::parse(code),
            )
            .map(PlaceRef::Community),
        Some(Place::BlockCode(code)) => violations
            .check(format!("{field}.block_code"), BlockCode::parse(code))
            .map(PlaceRef::Block),
        Some(Place::Area(id)) => violations
            .check(format!("{field}.area"), AreaId::parse(id))
            .map(PlaceRef::Area),
    }
}

/// The matters an exception covers: exactly one of a matter and an item.
fn scope_from_proto(
    exception: &proto::PlaceException,
    violations: &mut Violations,
) -> Option<ExceptionScope> {
    match (
        exception.matter_code.is_empty(),
        exception.list_item_code.is_empty(),
    ) {
        (false, true) => violations
            .check(
                "exception.matter_code",
                MatterCode::parse(&exception.matter_code),
            )
            .map(ExceptionScope::Matter),
        (true, false) => violations
            .check(
                "exception.list_item_code",
                ItemCode::parse(&exception.list_item_code),
            )
            .map(ExceptionScope::Item),
        _ => {
            violations.add(
                "exception.matter_code",
                "exactly one of matter_code and list_item_code is required",
            );
            None
        }
    }
}

fn render(record: &ExceptionRecord) -> proto::PlaceException {
    let exception = &record.exception;
    let (matter_code, list_item_code) = match &exception.scope {
        ExceptionScope::Matter(code) => (code.to_string(), String::new()),
        ExceptionScope::Item(code) => (String::new(), code.to_string()),
    };
    proto::PlaceException {
        name: exception_name(exception.id.as_str()),
        id: exception.id.to_string(),
        place: Some(place_ref_to_proto(&exception.place)),
        matter_code,
        list_item_code,
        lead: Some(responsible_to_proto(&exception.lead)),
        cooperating: exception
            .cooperating
            .iter()
            .map(responsible_to_proto)
            .collect(),
        tier: optional_tier_to_proto(exception.tier),
        effective_from: Some(timestamp(exception.effective_from)),
        effective_until: optional_timestamp(exception.effective_until),
        reason: exception.reason.clone(),
        created_by: record.created_by.clone(),
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

impl TryFrom<proto::CreateExceptionRequest> for PlaceException {
    type Error = Error;

    /// An exception in a request (its window from now when unset);
    /// `name`, `created_by` and the times are output only.
    fn try_from(request: proto::CreateExceptionRequest) -> Result<Self, Error> {
        let exception = request
            .exception
            .ok_or_else(|| Error::invalid("exception", "an exception is required"))?;
        let mut violations = Violations::new();
        let id = violations.check("exception.id", ExceptionId::parse(&exception.id));
        let place =
            place_ref_from_proto("exception.place", exception.place.as_ref(), &mut violations);
        let scope = scope_from_proto(&exception, &mut violations);
        let lead =
            responsible_from_proto("exception.lead", exception.lead.as_ref(), &mut violations);
        let mut cooperating = Vec::new();
        for (index, responsible) in exception.cooperating.iter().enumerate() {
            if let Some(responsible) = responsible_from_proto(
                &format!("exception.cooperating[{index}]"),
                Some(responsible),
                &mut violations,
            ) {
                cooperating.push(responsible);
            }
        }
        let tier = violations.check("exception.tier", tier_from_proto(exception.tier));
        let effective_from = violations.check(
            "exception.effective_from",
            instant(exception.effective_from.as_ref()),
        );
        let effective_until = violations.check(
            "exception.effective_until",
            instant(exception.effective_until.as_ref()),
        );
        let reason = violations.check(
            "exception.reason",
            bounded_text(&exception.reason, MAX_REASON_CHARS),
        );
        let (
            Some(id),
            Some(place),
            Some(scope),
            Some(lead),
            Some(tier),
            Some(effective_from),
            Some(effective_until),
            Some(reason),
        ) = (
            id,
            place,
            scope,
            lead,
            tier,
            effective_from,
            effective_until,
            reason,
        )
        else {
            return Err(Error::from(violations));
        };
        violations.finish()?;
        Ok(PlaceException {
            id,
            place,
            scope,
            lead,
            cooperating,
            tier,
            effective_from: effective_from.unwrap_or_else(Utc::now),
            effective_until,
            reason,
        })
    }
}

pub(super) async fn create_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let exception = PlaceException::try_from(request)?;
    let record = exceptions::create(&service.duties, access, exception).await?;
    Ok(render(&record))
}

impl TryFrom<proto::GetExceptionRequest> for ExceptionId {
    type Error = Error;

    fn try_from(request: proto::GetExceptionRequest) -> Result<Self, Error> {
        exception_id(&request.name).map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn get_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let id = ExceptionId::try_from(request)?;
    let record = exceptions::get(&service.duties, access, &id).await?;
    Ok(render(&record))
}

impl TryFrom<proto::ListExceptionsRequest> for ListExceptions {
    type Error = Error;

    fn try_from(request: proto::ListExceptionsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let in_effect_at = violations.check("in_effect_at", instant(request.in_effect_at.as_ref()));
        let matter = if request.matter_code.is_empty() {
            Some(None)
        } else {
            violations
                .check("matter_code", MatterCode::parse(&request.matter_code))
                .map(Some)
        };
        let query = ListQuery::new(&format!(
            "exceptions matter_code={} place={} in_effect_at={}",
            matter
                .clone()
                .flatten()
                .map(|code| code.to_string())
                .unwrap_or_default(),
            request.place,
            in_effect_at
                .flatten()
                .map(|at| at.to_rfc3339())
                .unwrap_or_default(),
        ));
        let page = page(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        );
        let (Some(in_effect_at), Some(matter), Some(page)) = (in_effect_at, matter, page) else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            place: Some(request.place).filter(|place| !place.is_empty()),
            matter,
            in_effect_at,
            page,
        })
    }
}

pub(super) async fn list_exceptions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListExceptionsRequest,
) -> Result<proto::ListExceptionsResponse, Error> {
    let command = ListExceptions::try_from(request)?;
    let mut records = exceptions::list(&service.duties, access, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut records, |record| {
        record.exception.id.to_string()
    });
    Ok(proto::ListExceptionsResponse {
        exceptions: records.iter().map(render).collect(),
        next_page_token,
    })
}

/// When an exception stops applying (`None`: now).
pub(super) struct EndException {
    id: ExceptionId,
    until: Option<DateTime<Utc>>,
}

impl TryFrom<proto::EndExceptionRequest> for EndException {
    type Error = Error;

    fn try_from(request: proto::EndExceptionRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", exception_id(&request.name));
        let until = violations.check("effective_until", instant(request.effective_until.as_ref()));
        let (Some(id), Some(until)) = (id, until) else {
            return Err(Error::from(violations));
        };
        Ok(Self { id, until })
    }
}

pub(super) async fn end_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::EndExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let EndException { id, until } = EndException::try_from(request)?;
    let record = exceptions::end(&service.duties, access, &id, until).await?;
    Ok(render(&record))
}

impl TryFrom<proto::DeleteExceptionRequest> for ExceptionId {
    type Error = Error;

    fn try_from(request: proto::DeleteExceptionRequest) -> Result<Self, Error> {
        exception_id(&request.name).map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn delete_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteExceptionRequest,
) -> Result<(), Error> {
    let id = ExceptionId::try_from(request)?;
    exceptions::delete(&service.duties, access, &id).await
}
