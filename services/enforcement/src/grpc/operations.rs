//! Joint operations: the whistle, summonses, report-in, conclusion,
//! cancellation, ratings, and reading them as the caller may see them.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{self, ListQuery, PageSize};
use flatgov_proto::enforcement::v1 as api;
use uuid::Uuid;

use super::parse::{finish, location, optional, retry};
use super::{EnforcementService, render};
use crate::access;
use crate::application::operations::{
    BlowWhistle, Cancel, Conclude, OperationListing, Rate, ReportIn, SummonAgency,
};
use crate::domain::{
    AgencyCode, BlockCode, CaseName, MatterCode, OfficerName, OperationName, OperationState,
    Outcome, SubdistrictCode, Text, UnitName, parse_agency,
};
use crate::error::Error;
use crate::store::OperationRecord;

/// The most officers one report names.
const MAX_OFFICERS_PER_REPORT: usize = 50;

impl TryFrom<api::BlowWhistleRequest> for BlowWhistle {
    type Error = Error;

    fn try_from(request: api::BlowWhistleRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let mut violations = Violations::new();
        let retry = retry(&mut violations, &request.request_id, fingerprint);
        let case = optional(&mut violations, "case", &request.case, CaseName::parse);
        let subdistrict = violations.check(
            "subdistrict_code",
            SubdistrictCode::parse(&request.subdistrict_code),
        );
        let block = optional(
            &mut violations,
            "block_code",
            &request.block_code,
            BlockCode::parse,
        );
        if let (Some(subdistrict), Some(Some(block))) = (&subdistrict, &block)
            && block.subdistrict() != *subdistrict
        {
            violations.add(
                "block_code",
                format!("block {block} is not in subdistrict {subdistrict}"),
            );
        }
        let location = location(&mut violations, request.location.as_ref());
        let matter = optional(
            &mut violations,
            "matter_code",
            &request.matter_code,
            MatterCode::parse,
        );
        let description = violations.check(
            "description",
            Text::optional("description", &request.description, 2000),
        );
        let agencies: Vec<Option<AgencyCode>> = request
            .agencies
            .iter()
            .enumerate()
            .map(|(index, code)| violations.check(format!("agencies[{index}]"), parse_agency(code)))
            .collect();
        let lead = optional(
            &mut violations,
            "lead_agency",
            &request.lead_agency,
            parse_agency,
        );
        finish(violations, || {
            Some(BlowWhistle {
                retry: retry?,
                case: case?,
                subdistrict: subdistrict?,
                block: block?,
                location: location?,
                matter: matter?,
                description: description?,
                agencies: agencies.into_iter().collect::<Option<_>>()?,
                lead: lead?,
                urgent: request.urgent,
            })
        })
    }
}

impl TryFrom<api::SummonAgencyRequest> for SummonAgency {
    type Error = Error;

    fn try_from(request: api::SummonAgencyRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let agency = violations.check("agency", parse_agency(&request.agency));
        finish(violations, || {
            Some(SummonAgency {
                operation: operation?,
                agency: agency?,
            })
        })
    }
}

impl TryFrom<api::ReportInRequest> for ReportIn {
    type Error = Error;

    fn try_from(request: api::ReportInRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let agency = optional(&mut violations, "agency", &request.agency, parse_agency);
        if request.officers.is_empty() {
            violations.add("officers", "name at least one officer the agency sends");
        }
        if request.officers.len() > MAX_OFFICERS_PER_REPORT {
            violations.add(
                "officers",
                format!("at most {MAX_OFFICERS_PER_REPORT} officers per report"),
            );
        }
        // Kept as named (a repeat is harmless), so later checks name the
        // right index.
        let officers: Vec<Option<OfficerName>> = request
            .officers
            .iter()
            .enumerate()
            .map(|(index, text)| {
                violations.check(format!("officers[{index}]"), OfficerName::parse(text))
            })
            .collect();
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        let note = violations.check("note", Text::optional("note", &request.note, 1000));
        finish(violations, || {
            Some(ReportIn {
                operation: operation?,
                agency: agency?,
                officers: officers.into_iter().collect::<Option<_>>()?,
                unit: unit?,
                note: note?,
            })
        })
    }
}

impl TryFrom<api::ConcludeOperationRequest> for Conclude {
    type Error = Error;

    fn try_from(request: api::ConcludeOperationRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let outcome = api::OperationOutcome::try_from(request.outcome)
            .ok()
            .and_then(outcome);
        if outcome.is_none() {
            violations.add(
                "outcome",
                "must be one of RESOLVED, PARTIALLY_RESOLVED, REFERRED, NO_VIOLATION",
            );
        }
        let summary =
            violations.check("summary", Text::required("summary", &request.summary, 2000));
        finish(violations, || {
            Some(Conclude {
                operation: operation?,
                outcome: outcome?,
                summary: summary?,
            })
        })
    }
}

impl TryFrom<api::CancelOperationRequest> for Cancel {
    type Error = Error;

    fn try_from(request: api::CancelOperationRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let reason = violations.check("reason", Text::required("reason", &request.reason, 1000));
        finish(violations, || {
            Some(Cancel {
                operation: operation?,
                reason: reason?,
            })
        })
    }
}

impl TryFrom<api::RateAgencyRequest> for Rate {
    type Error = Error;

    fn try_from(request: api::RateAgencyRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let operation = violations.check("operation", OperationName::parse(&request.operation));
        let agency = violations.check("agency", parse_agency(&request.agency));
        let score = violations.check(
            "score",
            i16::try_from(request.score)
                .ok()
                .filter(|score| (1..=5).contains(score))
                .ok_or_else(|| {
                    format!(
                        "score {} is not between 1 (poor) and 5 (excellent)",
                        request.score
                    )
                }),
        );
        let comment =
            violations.check("comment", Text::optional("comment", &request.comment, 1000));
        finish(violations, || {
            Some(Rate {
                operation: operation?,
                agency: agency?,
                score: score?,
                comment: comment?,
            })
        })
    }
}

impl TryFrom<api::ListOperationsRequest> for OperationListing {
    type Error = Error;

    fn try_from(request: api::ListOperationsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let agency = optional(&mut violations, "agency", &request.agency, parse_agency);
        let subdistrict = optional(
            &mut violations,
            "subdistrict_code",
            &request.subdistrict_code,
            SubdistrictCode::parse,
        );
        let case = optional(&mut violations, "case", &request.case, CaseName::parse);
        let states: Vec<Option<OperationState>> = request
            .states
            .iter()
            .enumerate()
            .map(|(index, state)| {
                violations.check(
                    format!("states[{index}]"),
                    api::OperationState::try_from(*state)
                        .ok()
                        .and_then(operation_state)
                        .ok_or_else(|| format!("{state} is not an operation state")),
                )
            })
            .collect();
        let query = ListQuery::new(&format!(
            "operations agency={} subdistrict_code={} states={:?} overdue_only={} case={}",
            request.agency,
            request.subdistrict_code,
            request.states,
            request.overdue_only,
            request.case
        ));
        let size = violations.check("page_size", PageSize::parse(request.page_size));
        // Newest first: the token holds the last operation shown.
        let before = violations.check(
            "page_token",
            query
                .key_in(&request.page_token)
                .and_then(|key| paging::parse_key::<Uuid>(key.as_deref())),
        );
        finish(violations, || {
            Some(OperationListing {
                agency: agency?,
                subdistrict: subdistrict?,
                case: case?,
                states: states.into_iter().collect::<Option<_>>()?,
                overdue_only: request.overdue_only,
                query,
                size: size?,
                before: before?,
            })
        })
    }
}

/// An operation name in the `name` field.
fn operation_name(name: &str) -> Result<OperationName, Error> {
    let mut violations = Violations::new();
    let operation = violations.check("name", OperationName::parse(name));
    finish(violations, || operation)
}

/// The domain's state of an API state; `None` for UNSPECIFIED.
fn operation_state(state: api::OperationState) -> Option<OperationState> {
    match state {
        api::OperationState::Unspecified => None,
        api::OperationState::ResolvingAgencies => Some(OperationState::ResolvingAgencies),
        api::OperationState::Open => Some(OperationState::Open),
        api::OperationState::Concluded => Some(OperationState::Concluded),
        api::OperationState::FollowUp => Some(OperationState::FollowUp),
        api::OperationState::Cancelled => Some(OperationState::Cancelled),
    }
}

/// The domain's outcome of an API outcome; `None` for UNSPECIFIED.
fn outcome(outcome: api::OperationOutcome) -> Option<Outcome> {
    match outcome {
        api::OperationOutcome::Unspecified => None,
        api::OperationOutcome::Resolved => Some(Outcome::Resolved),
        api::OperationOutcome::PartiallyResolved => Some(Outcome::PartiallyResolved),
        api::OperationOutcome::Referred => Some(Outcome::Referred),
        api::OperationOutcome::NoViolation => Some(Outcome::NoViolation),
    }
}

/// The operation as the caller may see it.
fn render(
    service: &EnforcementService,
    access: &Access,
    operation: &OperationRecord,
) -> api::Operation {
    render::operation(operation, &access::viewer(access), service.app.clock.now())
}

pub(super) async fn blow_whistle(
    service: &EnforcementService,
    access: &Access,
    request: api::BlowWhistleRequest,
) -> Result<api::Operation, Error> {
    let command = BlowWhistle::try_from(request)?;
    let operation = service.app.blow_whistle(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn summon_agency(
    service: &EnforcementService,
    access: &Access,
    request: api::SummonAgencyRequest,
) -> Result<api::Operation, Error> {
    let command = SummonAgency::try_from(request)?;
    let operation = service.app.summon(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn report_in(
    service: &EnforcementService,
    access: &Access,
    request: api::ReportInRequest,
) -> Result<api::Operation, Error> {
    let command = ReportIn::try_from(request)?;
    let operation = service.app.report_in(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn conclude_operation(
    service: &EnforcementService,
    access: &Access,
    request: api::ConcludeOperationRequest,
) -> Result<api::Operation, Error> {
    let command = Conclude::try_from(request)?;
    let operation = service.app.conclude(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn cancel_operation(
    service: &EnforcementService,
    access: &Access,
    request: api::CancelOperationRequest,
) -> Result<api::Operation, Error> {
    let command = Cancel::try_from(request)?;
    let operation = service.app.cancel(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn rate_agency(
    service: &EnforcementService,
    access: &Access,
    request: api::RateAgencyRequest,
) -> Result<api::Operation, Error> {
    let command = Rate::try_from(request)?;
    let operation = service.app.rate(access, command).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn get_operation(
    service: &EnforcementService,
    access: &Access,
    request: api::GetOperationRequest,
) -> Result<api::Operation, Error> {
    let name = operation_name(&request.name)?;
    let operation = service.app.get_operation(access, &name).await?;
    Ok(render(service, access, &operation))
}

pub(super) async fn list_operations(
    service: &EnforcementService,
    access: &Access,
    request: api::ListOperationsRequest,
) -> Result<api::ListOperationsResponse, Error> {
    let listing = OperationListing::try_from(request)?;
    let page = service.app.list_operations(access, listing).await?;
    let viewer = access::viewer(access);
    let now = service.app.clock.now();
    Ok(api::ListOperationsResponse {
        operations: page
            .operations
            .iter()
            .map(|operation| render::operation(operation, &viewer, now))
            .collect(),
        next_page_token: page.next_page_token,
    })
}
