//! ResolveResponsibility, CheckAssignment and the refusal records.

use std::collections::BTreeMap;

use chrono::Utc;
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::error::{ForField as _, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::{self, timestamp};
use flatgov_proto::duties::v1 as proto;

use super::convert::{
    self, duration_to_proto, exception_name, matter_name, place_location, responsible_unit,
    tier_to_proto, unit_from_proto, unit_from_text, unit_kind_text, unit_location, unit_to_proto,
    version_name,
};
use super::retries::{self, Remembered, Retry};
use super::{
    DutyListsService, RefusalLabels, TimeKey, bounded_text, case_reference, division_filter,
};
use crate::domain::{
    AssignmentDecision, DepartmentCode, GateError, ItemStatus, MatterCode, ResolveError,
    Responsible, Unit,
};
use crate::error::{DatabaseContext as _, Error};
use crate::policy::{POLICY, Reach, sees_staff};
use crate::store::{self, NewRefusal, RefusalFilter, RefusalRow};

/// Longest `attempted_by` accepted.
const MAX_ID_CHARS: usize = 200;

pub(super) async fn resolve_responsibility(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ResolveResponsibilityRequest,
) -> Result<proto::ResolveResponsibilityResponse, Error> {
    let mut violations = Violations::new();
    let matter = violations.check("matter_code", MatterCode::parse(&request.matter_code));
    let location = place_location("place", request.place.as_ref(), &mut violations);
    let at = violations
        .check("at", time::optional_instant(request.at.as_ref()))
        .map(|at| at.unwrap_or_else(Utc::now));
    let (Some(matter), Some(location), Some(at)) = (matter, location, at) else {
        return Err(Error::from(violations));
    };
    let rules = service.rules.current(&service.pool).await?;
    let responsibility = match rules.duty_rules().resolve(&matter, &location, at) {
        Ok(responsibility) => responsibility,
        Err(ResolveError::UnknownMatter { matter }) => {
            return Err(Error::NotFound(format!(
                "matter {matter} is not in the matter catalogue"
            )));
        }
        Err(error) => return Err(Error::FailedPrecondition(error.to_string())),
    };
    let item_name = rules
        .lists
        .history(responsibility.item.code.list())
        .version(responsibility.item.version)
        .and_then(|version| version.content().item(&responsibility.item.code))
        .map(|item| item.name().to_owned())
        .unwrap_or_default();
    let matter_name = rules
        .catalogue
        .get(&matter)
        .map(|matter| matter.name().to_owned())
        .unwrap_or_default();
    let cooperating_departments = responsibility
        .cooperating
        .iter()
        .filter_map(|cooperator| match cooperator {
            Responsible::Department(code) => Some(code.to_string()),
            _ => None,
        })
        .collect();
    Ok(proto::ResolveResponsibilityResponse {
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
    })
}

fn error_text(error: &Error) -> String {
    match error {
        Error::InvalidArgument(violations) => violations
            .iter()
            .map(|violation| violation.description.clone())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// The division code of a unit that is a place (not a department).
fn unit_division(unit: &Unit) -> Option<&str> {
    match unit {
        Unit::Department(_) => None,
        Unit::Subdistrict(code) => Some(code.as_str()),
        Unit::Community(code) => Some(code.as_str()),
        Unit::BlockTeam(code) => Some(code.as_str()),
    }
}

/// Whether the caller may ask about assigning from `from` to `to`: one of
/// the units is a division it reaches, or its own department.
fn reaches_assignment(access: &Access, from: &Unit, to: &Unit) -> bool {
    let departments: Vec<&str> = [from, to]
        .into_iter()
        .filter_map(|unit| match unit {
            Unit::Department(code) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    [from, to].into_iter().any(|unit| {
        access.reaches(&Resource {
            division: unit_division(unit),
            organisations: &departments,
            ..Resource::default()
        })
    })
}

/// The facts scope rules test of a recorded refusal: its division (the
/// unit assigned to, or else the assigning one) and the departments on
/// either side. `store::REFUSAL_FILTER` narrows lists the same way.
fn reaches_refusal(access: &Access, row: &RefusalRow) -> bool {
    let division = if row.to_kind != "department" {
        Some(row.to_code.as_str())
    } else if row.from_kind != "department" {
        Some(row.from_code.as_str())
    } else {
        None
    };
    let departments: Vec<&str> = [
        (&row.from_kind, &row.from_code),
        (&row.to_kind, &row.to_code),
    ]
    .into_iter()
    .filter(|(kind, _)| kind.as_str() == "department")
    .map(|(_, code)| code.as_str())
    .collect();
    access.reaches(&Resource {
        division,
        organisations: &departments,
        ..Resource::default()
    })
}

/// Whether the caller sees who attempted a refused assignment: staff who
/// see people, and the officers of the department that attempted it.
fn sees_who_attempted(access: &Access, row: &RefusalRow) -> bool {
    if sees_staff(access) {
        return true;
    }
    let own_department = access
        .caller()
        .and_then(|caller| caller.organisation.as_deref())
        .is_some_and(|organisation| row.from_kind == "department" && row.from_code == organisation);
    own_department && access.has_scope(Scope::Organisation)
}

/// The refusal as it was recorded, if this caller may see it; `NOT_FOUND`
/// alike for one that does not exist and one it does not reach.
async fn visible_refusal(
    service: &DutyListsService,
    access: &Access,
    name: &str,
    id: uuid::Uuid,
) -> Result<RefusalRow, Error> {
    let mut connection = service.pool.acquire().await.context("reading a refusal")?;
    store::get_refusal(&mut connection, id)
        .await?
        .filter(|row| reaches_refusal(access, row))
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))
}

pub(super) async fn check_assignment(
    service: &DutyListsService,
    access: &Access,
    request: proto::CheckAssignmentRequest,
) -> Result<proto::CheckAssignmentResponse, Error> {
    let now = Utc::now();
    let mut violations = Violations::new();
    let matter = violations.check("matter_code", MatterCode::parse(&request.matter_code));
    let from = unit_from_proto("from", request.from.as_ref(), &mut violations);
    let to = unit_from_proto("to", request.to.as_ref(), &mut violations);
    let at = violations
        .check("at", time::optional_instant(request.at.as_ref()))
        .map(|at| at.unwrap_or(now));
    let place = match request.place.as_ref() {
        Some(place) => place_location("place", Some(place), &mut violations).map(Some),
        None => Some(None),
    };
    let case = violations.check(
        "case",
        case_reference("case", &request.case).map_err(|error| error_text(&error)),
    );
    let request_id = violations.check("request_id", RequestId::parse_optional(&request.request_id));
    let attempted_by = violations.check(
        "attempted_by",
        bounded_text("attempted_by", &request.attempted_by, MAX_ID_CHARS)
            .map_err(|error| error_text(&error)),
    );
    let (
        Some(matter),
        Some(from),
        Some(to),
        Some(at),
        Some(place),
        Some(case),
        Some(request_id),
        Some(attempted_by),
    ) = (matter, from, to, at, place, case, request_id, attempted_by)
    else {
        return Err(Error::from(violations));
    };
    if !reaches_assignment(access, &from, &to) {
        // The units are public; asking about them is what is refused.
        return Err(Error::PermissionDenied(
            "the assignment involves neither the caller's department nor a division in its jurisdiction"
                .into(),
        ));
    }
    access.audit().resource(matter_name(matter.as_str()));
    let retry = Retry::of(request_id, &request);
    if let Some(first) = retries::recall(&service.pool, access, retry.as_ref()).await? {
        return replayed_refusal(service, access, first).await;
    }
    let rules = service.rules.current(&service.pool).await?;
    let decision = match rules.duty_rules().check_assignment(&matter, &from, &to, at) {
        Ok(decision) => decision,
        Err(GateError::UnknownMatter { matter }) => {
            return Err(Error::NotFound(format!(
                "matter {matter} is not in the matter catalogue"
            )));
        }
    };
    let location = place.unwrap_or_else(|| match &to {
        Unit::Department(_) => unit_location(&from),
        division => unit_location(division),
    });
    let item_code = rules
        .catalogue
        .get(&matter)
        .map(|matter| matter.item())
        .ok_or_else(|| {
            Error::NotFound(format!("matter {matter} is not in the matter catalogue"))
        })?;
    let version_in_effect = match rules.lists.in_effect_at(at).item_status(item_code) {
        ItemStatus::InEffect { version, .. } => version_name(item_code.list(), version.number()),
        ItemStatus::NotInEffect(_) => String::new(),
    };
    let refusal = match decision {
        AssignmentDecision::Allowed(_) => {
            return Ok(proto::CheckAssignmentResponse {
                allowed: true,
                list_item_code: item_code.to_string(),
                list_version: version_in_effect,
                ..Default::default()
            });
        }
        AssignmentDecision::Refused(refusal) => refusal,
    };
    let caller_subject = access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default();
    let from_proto = unit_to_proto(&from);
    let to_proto = unit_to_proto(&to);
    let responsible = responsible_unit(&refusal.responsible_instead, &location);
    let record = NewRefusal {
        id: uuid::Uuid::now_v7(),
        matter_code: matter.to_string(),
        item_code: item_code.to_string(),
        item_version: refusal
            .item_version
            .map(|item| i32::try_from(item.version.get()).unwrap_or(i32::MAX)),
        from_kind: unit_kind_text(&from_proto),
        from_code: from_proto.code.clone(),
        to_kind: unit_kind_text(&to_proto),
        to_code: to_proto.code.clone(),
        reason_code: refusal.reason.code(),
        reason: refusal.message.clone(),
        responsible_kind: unit_kind_text(&responsible),
        responsible_code: responsible.code.clone(),
        case_name: case.clone(),
        attempted_by: if attempted_by.is_empty() {
            caller_subject.clone()
        } else {
            attempted_by
        },
        caller: caller_subject,
        checked_at: at,
    };
    let name = format!("refusals/{}", record.id);
    let mut transaction = service.pool.begin().await.context("recording a refusal")?;
    if retries::remember(&mut transaction, access, retry.as_ref(), &name).await?
        == Remembered::LostRace
    {
        transaction
            .rollback()
            .await
            .context("recording a refusal")?;
        let first = retries::recall(&service.pool, access, retry.as_ref())
            .await?
            .ok_or_else(|| Error::Corrupt("a remembered request id vanished".into()))?;
        return replayed_refusal(service, access, first).await;
    }
    let row = store::insert_refusal(&mut transaction, &record).await?;
    let event = proto::AssignmentRefused {
        refusal: refusal_name(&row),
        matter_code: row.matter_code.clone(),
        from: Some(from_proto),
        to: Some(to_proto),
        reason_code: row.reason_code.clone(),
        responsible_instead: Some(responsible),
        case: row.case_name.clone().unwrap_or_default(),
        refused_at: Some(timestamp(row.refuse_time)),
        list_item_code: row.item_code.clone(),
    };
    flatgov_messaging::outbox::enqueue(&mut transaction, &refusal_name(&row), &event)
        .await
        .context("recording a refusal")?;
    access.audit().resource(refusal_name(&row));
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("recording a refusal")?;
    transaction.commit().await.context("recording a refusal")?;
    service
        .metrics
        .assignments_refused
        .get_or_create(&RefusalLabels {
            from_kind: row.from_kind.clone(),
            from_code: row.from_code.clone(),
            reason: row.reason_code.clone(),
        })
        .inc();
    tracing::info!(
        refusal = %refusal_name(&row),
        matter = %row.matter_code,
        from = %from,
        to = %to,
        reason = %row.reason_code,
        "assignment refused"
    );
    Ok(refused_response(&row))
}

/// The first answer to a retried check: the refusal it recorded, re-read
/// with the caller's current access.
async fn replayed_refusal(
    service: &DutyListsService,
    access: &Access,
    first: String,
) -> Result<proto::CheckAssignmentResponse, Error> {
    let id = first
        .strip_prefix("refusals/")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| Error::Corrupt(format!("remembered resource {first:?}")))?;
    let row = visible_refusal(service, access, &first, id).await?;
    access.audit().resource(first);
    Ok(refused_response(&row))
}

fn refusal_name(row: &RefusalRow) -> String {
    format!("refusals/{}", row.id)
}

fn row_version(row: &RefusalRow) -> String {
    let kind = crate::domain::ItemCode::parse(&row.item_code).map(|code| code.list());
    match (kind, row.item_version) {
        (Ok(kind), Some(number)) => format!("lists/{kind}/versions/{number}"),
        _ => String::new(),
    }
}

fn refused_response(row: &RefusalRow) -> proto::CheckAssignmentResponse {
    proto::CheckAssignmentResponse {
        allowed: false,
        reason_code: row.reason_code.clone(),
        reason: row.reason.clone(),
        responsible_instead: Some(unit_from_text(&row.responsible_kind, &row.responsible_code)),
        refusal: refusal_name(row),
        list_item_code: row.item_code.clone(),
        list_version: row_version(row),
    }
}

/// A refusal as the caller may see it: who attempted it and who asked
/// only for those who see people ([`sees_who_attempted`]).
fn refusal_to_proto(access: &Access, row: &RefusalRow) -> proto::Refusal {
    let (attempted_by, caller) = if sees_who_attempted(access, row) {
        (row.attempted_by.clone(), row.caller.clone())
    } else {
        (String::new(), String::new())
    };
    proto::Refusal {
        name: refusal_name(row),
        matter_code: row.matter_code.clone(),
        list_item_code: row.item_code.clone(),
        list_version: row_version(row),
        from: Some(unit_from_text(&row.from_kind, &row.from_code)),
        to: Some(unit_from_text(&row.to_kind, &row.to_code)),
        reason_code: row.reason_code.clone(),
        reason: row.reason.clone(),
        responsible_instead: Some(unit_from_text(&row.responsible_kind, &row.responsible_code)),
        case: row.case_name.clone().unwrap_or_default(),
        attempted_by,
        caller,
        checked_at: Some(timestamp(row.checked_at)),
        refuse_time: Some(timestamp(row.refuse_time)),
    }
}

fn department_filter(field: &str, value: &str) -> Result<Option<String>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    DepartmentCode::parse(value)
        .map(|code| Some(code.to_string()))
        .map_err(|error| Error::invalid(field, error))
}

pub(super) async fn get_refusal(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetRefusalRequest,
) -> Result<proto::Refusal, Error> {
    let id = convert::uuid_from_name("name", &request.name, "refusals")?;
    let row = visible_refusal(service, access, &request.name, id).await?;
    Ok(refusal_to_proto(access, &row))
}

pub(super) async fn list_refusals(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListRefusalsRequest,
) -> Result<proto::ListRefusalsResponse, Error> {
    let filter = RefusalFilter {
        from_department: department_filter("from_department", &request.from_department)?,
        to_division: division_filter("to_division", &request.to_division)?,
        matter_code: Some(request.matter_code.clone()).filter(|code| !code.is_empty()),
        reason_code: Some(request.reason_code.clone()).filter(|code| !code.is_empty()),
        case_name: case_reference("case", &request.case)?,
        period_start: time::optional_instant(request.period_start.as_ref())
            .for_field("period_start")?,
        period_end: time::optional_instant(request.period_end.as_ref()).for_field("period_end")?,
    };
    let reach = Reach::of(access);
    let query = ListQuery::new(&format!("refusals {filter:?}"));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let after = TimeKey::after(&page)?;
    let mut connection = service.pool.acquire().await.context("listing refusals")?;
    let mut rows = store::list_refusals(
        &mut connection,
        &filter,
        reach.as_ref(),
        after,
        page.size.fetch_limit(),
    )
    .await?;
    let next_page_token = page.size.next_page_token(&mut rows, &query, |row| {
        TimeKey::of(row.refuse_time, row.id)
    });
    Ok(proto::ListRefusalsResponse {
        refusals: rows
            .iter()
            .map(|row| refusal_to_proto(access, row))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn count_refusals(
    service: &DutyListsService,
    access: &Access,
    request: proto::CountRefusalsRequest,
) -> Result<proto::CountRefusalsResponse, Error> {
    let filter = RefusalFilter {
        from_department: department_filter("from_department", &request.from_department)?,
        to_division: division_filter("to_division", &request.to_division)?,
        period_start: time::optional_instant(request.period_start.as_ref())
            .for_field("period_start")?,
        period_end: time::optional_instant(request.period_end.as_ref()).for_field("period_end")?,
        ..RefusalFilter::default()
    };
    if let (Some(start), Some(end)) = (filter.period_start, filter.period_end)
        && end <= start
    {
        return Err(Error::invalid("period_end", "must be after period_start"));
    }
    let reach = Reach::of(access);
    let mut connection = service.pool.acquire().await.context("counting refusals")?;
    let rows = store::count_refusals(&mut connection, &filter, reach.as_ref()).await?;
    let mut counts: BTreeMap<(String, String, String), proto::RefusalCount> = BTreeMap::new();
    let mut total: u64 = 0;
    for row in rows {
        let refusals = u32::try_from(row.refusals).unwrap_or(u32::MAX);
        total += u64::from(refusals);
        let count = counts
            .entry((
                row.from_kind.clone(),
                row.from_code.clone(),
                row.month.clone(),
            ))
            .or_insert_with(|| proto::RefusalCount {
                from: Some(unit_from_text(&row.from_kind, &row.from_code)),
                month: row.month.clone(),
                refusals: 0,
                by_reason: Default::default(),
            });
        count.refusals = count.refusals.saturating_add(refusals);
        *count.by_reason.entry(row.reason_code).or_insert(0) += refusals;
    }
    Ok(proto::CountRefusalsResponse {
        counts: counts.into_values().collect(),
        total: u32::try_from(total).unwrap_or(u32::MAX),
    })
}
