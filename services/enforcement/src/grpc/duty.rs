//! Duty rosters (值班表) of units: kept by the unit's own agency's officers
//! and district administrators, read by them and by subdistrict
//! dispatchers.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time;
use flatgov_proto::enforcement::v1 as api;

use super::parse::{finish, retry, uuid_page};
use super::{EnforcementService, render};
use crate::application::duty::{CreateShift, ShiftListing};
use crate::domain::duty::{self, MAX_OFFICERS_PER_SHIFT};
use crate::domain::{OfficerName, ShiftName, Text, UnitName};
use crate::error::Error;
use flatgov_grpc::clock::Received;

/// The request as a command, every field checked. A shift must not have
/// ended by `now`, the service clock's time when the request arrived.
impl TryFrom<Received<api::CreateDutyShiftRequest>> for CreateShift {
    type Error = Error;

    fn try_from(received: Received<api::CreateDutyShiftRequest>) -> Result<Self, Error> {
        let Received { request, at: now } = received;
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let unit = violations.check("parent", UnitName::parse(&request.parent));
        let retry = retry(&mut violations, &request.request_id, fingerprint);
        let mut readable = true;
        let mut instant = |field: &str, value: Option<&prost_types::Timestamp>| {
            let parsed = value.map(time::instant).transpose();
            match parsed {
                Ok(instant) => instant,
                Err(error) => {
                    violations.add(field, error);
                    readable = false;
                    None
                }
            }
        };
        let starts_at = instant("start_time", request.start_time.as_ref());
        let ends_at = instant("end_time", request.end_time.as_ref());
        let span = if readable {
            duty::shift_span(starts_at, ends_at, now)
                .map_err(|error| violations.add(error.field(), &error))
                .ok()
        } else {
            None
        };
        if request.officers.is_empty() {
            violations.add("officers", "name at least one officer on duty");
        }
        if request.officers.len() > MAX_OFFICERS_PER_SHIFT {
            violations.add(
                "officers",
                format!("at most {MAX_OFFICERS_PER_SHIFT} officers per shift"),
            );
        }
        let officers: Vec<Option<OfficerName>> = request
            .officers
            .iter()
            .enumerate()
            .map(|(index, officer)| {
                let field = format!("officers[{index}]");
                let parsed = violations.check(&field, OfficerName::parse(officer))?;
                if let Some(unit) = &unit
                    && parsed.agency() != unit.agency()
                {
                    violations.add(
                        field,
                        format!(
                            "officer {parsed} belongs to {}, not to {}",
                            parsed.agency(),
                            unit.agency()
                        ),
                    );
                    return None;
                }
                Some(parsed)
            })
            .collect();
        let note = violations.check("note", Text::optional("note", &request.note, 500));
        finish(violations, || {
            let (starts_at, ends_at) = span?;
            Some(CreateShift {
                unit: unit?,
                retry: retry?,
                starts_at,
                ends_at,
                officers: officers.into_iter().collect::<Option<_>>()?,
                note: note?,
            })
        })
    }
}

impl TryFrom<api::ListDutyShiftsRequest> for ShiftListing {
    type Error = Error;

    fn try_from(request: api::ListDutyShiftsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let unit = violations.check("parent", UnitName::parse(&request.parent));
        let end_after = match request.end_after.as_ref().map(time::instant).transpose() {
            Ok(end_after) => Some(end_after),
            Err(error) => {
                violations.add("end_after", error);
                None
            }
        };
        let query = ListQuery::new(&format!(
            "shifts parent={} end_after={}",
            request.parent,
            end_after
                .flatten()
                .map(|at| at.to_rfc3339())
                .unwrap_or_default()
        ));
        let page = uuid_page(
            &mut violations,
            request.page_size,
            &request.page_token,
            query,
        );
        finish(violations, || {
            let page = page?;
            Some(ShiftListing {
                unit: unit?,
                end_after: end_after?,
                query: page.query,
                size: page.size,
                after: page.after,
            })
        })
    }
}

pub(super) async fn create_duty_shift(
    service: &EnforcementService,
    access: &Access,
    request: api::CreateDutyShiftRequest,
) -> Result<api::DutyShift, Error> {
    let command = CreateShift::try_from(Received::now(&service.app.clock, request))?;
    let created = service.app.create_shift(access, command).await?;
    Ok(render::shift(&created))
}

pub(super) async fn list_duty_shifts(
    service: &EnforcementService,
    access: &Access,
    request: api::ListDutyShiftsRequest,
) -> Result<api::ListDutyShiftsResponse, Error> {
    let listing = ShiftListing::try_from(request)?;
    let (shifts, next_page_token) = service.app.list_shifts(access, listing).await?;
    Ok(api::ListDutyShiftsResponse {
        shifts: shifts.iter().map(render::shift).collect(),
        next_page_token,
    })
}

pub(super) async fn delete_duty_shift(
    service: &EnforcementService,
    access: &Access,
    request: api::DeleteDutyShiftRequest,
) -> Result<(), Error> {
    let mut violations = Violations::new();
    let name = violations.check("name", ShiftName::parse(&request.name));
    let name = finish(violations, || name)?;
    service.app.delete_shift(access, name).await
}
