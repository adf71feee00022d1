//! Per-place exceptions to the general rule.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::error::{ForField as _, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time;
use flatgov_proto::duties::v1 as proto;

use super::DutyListsService;
use super::bounded_text;
use super::convert::{exception_from_proto, exception_id, exception_name, exception_to_proto};
use crate::domain::{
    ExceptionScope, ExceptionViolation, MatterCode, PlaceException, PlaceExceptions, PlaceRef,
    Responsible,
};
use crate::error::{DatabaseContext as _, Error};
use crate::policy::{POLICY, sees_staff};
use crate::store;
use crate::store::{ExceptionRow, bump_revision, lock_rules};

/// As for list versions: an exception may not start (or end) further in
/// the past than clock skew explains, because that would rewrite who was
/// responsible for cases already handled.
const BACKDATING_GRACE: chrono::Duration = chrono::Duration::minutes(1);

const MAX_REASON_CHARS: usize = 500;

/// An exception as the caller may see it: who created it only for those
/// who see people.
fn row_to_proto(access: &Access, row: &ExceptionRow) -> Result<proto::PlaceException, Error> {
    let exception = row.to_exception()?;
    let created_by = if sees_staff(access) {
        row.created_by.as_str()
    } else {
        ""
    };
    Ok(exception_to_proto(
        &exception,
        created_by,
        row.create_time,
        row.update_time,
    ))
}

/// The division an exception's place is (none for a named area, which
/// may cross boundaries).
fn place_division(place: &PlaceRef) -> Option<&str> {
    match place {
        PlaceRef::Subdistrict(code) => Some(code.as_str()),
        PlaceRef::Community(code) => Some(code.as_str()),
        PlaceRef::Block(code) => Some(code.as_str()),
        PlaceRef::Area(_) => None,
    }
}

/// The facts scope rules test of an exception: its place, and the
/// departments it makes responsible there.
fn reaches_exception(access: &Access, exception: &PlaceException) -> bool {
    let departments: Vec<&str> = std::iter::once(&exception.lead)
        .chain(&exception.cooperating)
        .filter_map(|responsible| match responsible {
            Responsible::Department(code) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    access.reaches(&Resource {
        division: place_division(&exception.place),
        organisations: &departments,
        ..Resource::default()
    })
}

/// The exception named `name` as stored, if the caller reaches it;
/// NOT_FOUND alike for one that does not exist and one it does not reach.
async fn visible_exception(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    name: &str,
    id: &str,
) -> Result<ExceptionRow, Error> {
    let not_found = || Error::NotFound(format!("{name} does not exist"));
    let Some(row) = store::exceptions::get_exception(connection, id).await? else {
        return Err(not_found());
    };
    if !reaches_exception(access, &row.to_exception()?) {
        return Err(not_found());
    }
    Ok(row)
}

fn refuse_backdating(field: &str, instant: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
    if instant < now - BACKDATING_GRACE {
        return Err(Error::FailedPrecondition(format!(
            "{field} {} is in the past: exceptions change who is responsible from now on, never for what was already handled",
            instant.to_rfc3339()
        )));
    }
    Ok(())
}

pub(super) async fn create_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let now = Utc::now();
    let proto_exception = request
        .exception
        .as_ref()
        .ok_or_else(|| Error::invalid("exception", "an exception is required"))?;
    bounded_text(
        "exception.reason",
        &proto_exception.reason,
        MAX_REASON_CHARS,
    )?;
    let exception = exception_from_proto("exception", proto_exception, now)?;
    let place_reached = access.reaches(&Resource {
        division: place_division(&exception.place),
        ..Resource::default()
    });
    if !place_reached {
        // Places are public; changing who is responsible at this one is
        // what the caller may not do.
        return Err(Error::PermissionDenied(format!(
            "the place {} is outside the caller's jurisdiction (a named area needs a district-wide administrator)",
            exception.place
        )));
    }
    access
        .audit()
        .resource(exception_name(exception.id.as_str()));
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("creating an exception")?;
    lock_rules(&mut transaction).await?;
    if let Some(existing) =
        store::exceptions::get_exception(&mut transaction, exception.id.as_str()).await?
    {
        // Equal content has the caller's own place, so it reaches it.
        if existing.to_exception()? == exception {
            return row_to_proto(access, &existing);
        }
        return Err(Error::AlreadyExists(format!(
            "exceptions/{} exists already with other content",
            exception.id
        )));
    }
    refuse_backdating("exception.effective_from", exception.effective_from, now)?;
    let rules = service.rules.locked(&mut transaction).await?;
    match &exception.scope {
        ExceptionScope::Matter(code) if rules.catalogue.get(code).is_none() => {
            return Err(Error::invalid(
                "exception.matter_code",
                format!("matter {code} is not in the matter catalogue"),
            ));
        }
        ExceptionScope::Item(code) if !rules.known_items().contains(code) => {
            return Err(Error::invalid(
                "exception.list_item_code",
                format!(
                    "item {code} is in no published version or draft of lists/{}",
                    code.list()
                ),
            ));
        }
        _ => {}
    }
    let mut all: Vec<PlaceException> = rules.exceptions.iter().cloned().collect();
    all.push(exception.clone());
    if let Err(invalid) = PlaceExceptions::new(all, &rules.departments) {
        let mut violations = Violations::new();
        for problem in invalid
            .problems
            .into_iter()
            .filter(|problem| problem.id == exception.id)
        {
            let field = match &problem.violation {
                ExceptionViolation::Overlaps { .. } => {
                    return Err(Error::FailedPrecondition(format!(
                        "exceptions/{}: {}",
                        exception.id, problem.violation
                    )));
                }
                ExceptionViolation::EmptyReason => "exception.reason",
                ExceptionViolation::EndsBeforeItStarts { .. } => "exception.effective_until",
                ExceptionViolation::LeadAlsoCooperating { .. }
                | ExceptionViolation::CooperatorListedTwice { .. } => "exception.cooperating",
                ExceptionViolation::UnknownDepartment { .. } => "exception",
                ExceptionViolation::DuplicateId => "exception.id",
            };
            violations.add(field, problem.violation);
        }
        if !violations.is_empty() {
            return Err(Error::from(violations));
        }
    }
    let created_by = access
        .caller()
        .map(|caller| caller.subject.as_str())
        .unwrap_or_default();
    store::exceptions::insert_exception(&mut transaction, &exception, created_by).await?;
    bump_revision(&mut transaction).await?;
    let row = store::exceptions::get_exception(&mut transaction, exception.id.as_str())
        .await?
        .ok_or_else(|| Error::Corrupt("an exception vanished".into()))?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("creating an exception")?;
    transaction
        .commit()
        .await
        .context("creating an exception")?;
    tracing::info!(exception = %exception.id, place = %exception.place, lead = %exception.lead, "exception created");
    row_to_proto(access, &row)
}

pub(super) async fn get_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let id = exception_id("name", &request.name)?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("reading an exception")?;
    let row = visible_exception(&mut connection, access, &request.name, id.as_str()).await?;
    row_to_proto(access, &row)
}

/// Whether an exception's place is the filter's division (or inside it), or
/// the filter's named area.
fn place_matches(place: &PlaceRef, filter: &str) -> bool {
    match place {
        PlaceRef::Subdistrict(code) => code.as_str().starts_with(filter),
        PlaceRef::Community(code) => code.as_str().starts_with(filter),
        PlaceRef::Block(code) => code.as_str().starts_with(filter),
        PlaceRef::Area(id) => id.as_str() == filter,
    }
}

pub(super) async fn list_exceptions(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListExceptionsRequest,
) -> Result<proto::ListExceptionsResponse, Error> {
    let in_effect_at =
        time::optional_instant(request.in_effect_at.as_ref()).for_field("in_effect_at")?;
    let matter = if request.matter_code.is_empty() {
        None
    } else {
        Some(
            MatterCode::parse(&request.matter_code)
                .map_err(|error| Error::invalid("matter_code", error))?,
        )
    };
    let query = ListQuery::new(&format!(
        "exceptions matter_code={} place={} in_effect_at={}",
        matter.as_ref().map(ToString::to_string).unwrap_or_default(),
        request.place,
        in_effect_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
    ));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let rules = service.rules.current(&service.pool).await?;
    let matter_item = matter
        .as_ref()
        .map(|code| {
            rules
                .catalogue
                .get(code)
                .map(|matter| matter.item())
                .ok_or_else(|| {
                    Error::NotFound(format!("matter {code} is not in the matter catalogue"))
                })
        })
        .transpose()?;
    let mut connection = service.pool.acquire().await.context("listing exceptions")?;
    let rows = store::exceptions::list_exceptions(&mut connection).await?;
    let mut matching = Vec::new();
    for row in rows {
        if page
            .after
            .as_deref()
            .is_some_and(|after| row.id.as_str() <= after)
        {
            continue;
        }
        let exception = row.to_exception()?;
        let place_ok = request.place.is_empty() || place_matches(&exception.place, &request.place);
        let scope_ok = match (&matter, &exception.scope) {
            (None, _) => true,
            (Some(code), ExceptionScope::Matter(scoped)) => code == scoped,
            (Some(_), ExceptionScope::Item(item)) => matter_item == Some(*item),
        };
        let time_ok = in_effect_at.is_none_or(|at| {
            exception.effective_from <= at
                && exception.effective_until.is_none_or(|until| at < until)
        });
        if place_ok && scope_ok && time_ok && reaches_exception(access, &exception) {
            matching.push(row_to_proto(access, &row)?);
        }
    }
    let next_page_token = page
        .size
        .next_page_token(&mut matching, &query, |exception| exception.id.clone());
    Ok(proto::ListExceptionsResponse {
        exceptions: matching,
        next_page_token,
    })
}

pub(super) async fn end_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::EndExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let id = exception_id("name", &request.name)?;
    let now = Utc::now();
    let until = time::optional_instant(request.effective_until.as_ref())
        .for_field("effective_until")?
        .unwrap_or(now);
    let mut transaction = service.pool.begin().await.context("ending an exception")?;
    lock_rules(&mut transaction).await?;
    let row = visible_exception(&mut transaction, access, &request.name, id.as_str()).await?;
    access.audit().resource(request.name.clone());
    if until <= row.effective_from {
        return Err(Error::invalid(
            "effective_until",
            format!(
                "must be after the exception's effective_from {}",
                row.effective_from.to_rfc3339()
            ),
        ));
    }
    if let Some(current) = row.effective_until
        && until > current
    {
        return Err(Error::FailedPrecondition(format!(
            "{} already ends at {}; an end can only be brought forward",
            request.name,
            current.to_rfc3339()
        )));
    }
    refuse_backdating("effective_until", until, now)?;
    store::exceptions::end_exception(&mut transaction, id.as_str(), until).await?;
    bump_revision(&mut transaction).await?;
    let row = store::exceptions::get_exception(&mut transaction, id.as_str())
        .await?
        .ok_or_else(|| Error::Corrupt("an exception vanished".into()))?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("ending an exception")?;
    transaction.commit().await.context("ending an exception")?;
    row_to_proto(access, &row)
}

pub(super) async fn delete_exception(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteExceptionRequest,
) -> Result<(), Error> {
    let id = exception_id("name", &request.name)?;
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("deleting an exception")?;
    lock_rules(&mut transaction).await?;
    let row = visible_exception(&mut transaction, access, &request.name, id.as_str()).await?;
    access.audit().resource(request.name.clone());
    if row.effective_from <= Utc::now() {
        return Err(Error::FailedPrecondition(format!(
            "{} has been in effect since {}; end it with EndException instead, so the record of who was responsible stays",
            request.name,
            row.effective_from.to_rfc3339()
        )));
    }
    store::exceptions::delete_exception(&mut transaction, id.as_str()).await?;
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("deleting an exception")?;
    transaction
        .commit()
        .await
        .context("deleting an exception")?;
    Ok(())
}
