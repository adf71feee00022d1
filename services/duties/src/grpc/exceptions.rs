//! Per-place exceptions to the general rule.

use chrono::{DateTime, Utc};
use flatgov_auth::Caller;
use flatgov_grpc::error::{ForField as _, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time;
use flatgov_proto::duties::v1 as proto;

use super::convert::{exception_from_proto, exception_id, exception_to_proto};
use super::{DutyListsService, bounded_text, require_admin};
use crate::domain::{
    ExceptionScope, ExceptionViolation, MatterCode, PlaceException, PlaceExceptions, PlaceRef,
};
use crate::error::{DatabaseContext as _, Error};
use crate::rules::{ExceptionRow, bump_revision, lock_rules};
use crate::store;

/// As for list versions: an exception may not start (or end) further in
/// the past than clock skew explains, because that would rewrite who was
/// responsible for cases already handled.
const BACKDATING_GRACE: chrono::Duration = chrono::Duration::minutes(1);

const MAX_REASON_CHARS: usize = 500;

fn row_to_proto(row: &ExceptionRow) -> Result<proto::PlaceException, Error> {
    let exception = row.to_exception()?;
    Ok(exception_to_proto(
        &exception,
        &row.created_by,
        row.create_time,
        row.update_time,
    ))
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
    caller: &Caller,
    request: proto::CreateExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    require_admin(caller)?;
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
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("creating an exception")?;
    lock_rules(&mut transaction).await?;
    if let Some(existing) = store::get_exception(&mut transaction, exception.id.as_str()).await? {
        if existing.to_exception()? == exception {
            return row_to_proto(&existing);
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
    store::insert_exception(&mut transaction, &exception, &caller.subject).await?;
    bump_revision(&mut transaction).await?;
    let row = store::get_exception(&mut transaction, exception.id.as_str())
        .await?
        .ok_or_else(|| Error::Corrupt("an exception vanished".into()))?;
    transaction
        .commit()
        .await
        .context("creating an exception")?;
    tracing::info!(exception = %exception.id, place = %exception.place, lead = %exception.lead, "exception created");
    row_to_proto(&row)
}

pub(super) async fn get_exception(
    service: &DutyListsService,
    _caller: &Caller,
    request: proto::GetExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    let id = exception_id("name", &request.name)?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("reading an exception")?;
    let row = store::get_exception(&mut connection, id.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name)))?;
    row_to_proto(&row)
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
    _caller: &Caller,
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
    let rows = store::list_exceptions(&mut connection).await?;
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
        if place_ok && scope_ok && time_ok {
            matching.push(row_to_proto(&row)?);
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
    caller: &Caller,
    request: proto::EndExceptionRequest,
) -> Result<proto::PlaceException, Error> {
    require_admin(caller)?;
    let id = exception_id("name", &request.name)?;
    let now = Utc::now();
    let until = time::optional_instant(request.effective_until.as_ref())
        .for_field("effective_until")?
        .unwrap_or(now);
    let mut transaction = service.pool.begin().await.context("ending an exception")?;
    lock_rules(&mut transaction).await?;
    let row = store::get_exception(&mut transaction, id.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name)))?;
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
    store::end_exception(&mut transaction, id.as_str(), until).await?;
    bump_revision(&mut transaction).await?;
    let row = store::get_exception(&mut transaction, id.as_str())
        .await?
        .ok_or_else(|| Error::Corrupt("an exception vanished".into()))?;
    transaction.commit().await.context("ending an exception")?;
    row_to_proto(&row)
}

pub(super) async fn delete_exception(
    service: &DutyListsService,
    caller: &Caller,
    request: proto::DeleteExceptionRequest,
) -> Result<(), Error> {
    require_admin(caller)?;
    let id = exception_id("name", &request.name)?;
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("deleting an exception")?;
    lock_rules(&mut transaction).await?;
    let row = store::get_exception(&mut transaction, id.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name)))?;
    if row.effective_from <= Utc::now() {
        return Err(Error::FailedPrecondition(format!(
            "{} has been in effect since {}; end it with EndException instead, so the record of who was responsible stays",
            request.name,
            row.effective_from.to_rfc3339()
        )));
    }
    store::delete_exception(&mut transaction, id.as_str()).await?;
    bump_revision(&mut transaction).await?;
    transaction
        .commit()
        .await
        .context("deleting an exception")?;
    Ok(())
}
