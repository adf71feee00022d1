//! Per-place exceptions to the general rule: where responsibility does
//! not follow the area. Changed by administrators for places inside their
//! jurisdiction; read within one's jurisdiction or by the departments an
//! exception names.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::error::Violations;
use flatgov_vocabulary::MatterCode;
use sqlx::PgConnection;

use super::{Duties, Page, record_audit};
use crate::domain::names::exception_name;
use crate::domain::{
    ExceptionId, ExceptionScope, ExceptionViolation, PlaceException, PlaceExceptions, PlaceRef,
    Responsible,
};
use crate::error::Error;
use crate::policy::sees_staff;
use crate::store::exceptions::ExceptionRow;
use crate::store::{self, DatabaseContext as _, bump_revision, lock_rules};

/// As for list versions: an exception may not start (or end) further in
/// the past than clock skew explains, because that would rewrite who was
/// responsible for cases already handled.
const BACKDATING_GRACE: chrono::Duration = chrono::Duration::minutes(1);

/// An exception as the caller may see it.
#[derive(Debug, Clone)]
pub struct ExceptionRecord {
    pub exception: PlaceException,
    /// Who created it; empty unless the caller sees people.
    pub created_by: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl ExceptionRecord {
    fn shaped(access: &Access, row: &ExceptionRow) -> Result<Self, Error> {
        Ok(Self {
            exception: row.to_exception()?,
            created_by: if sees_staff(access) {
                row.created_by.clone()
            } else {
                String::new()
            },
            create_time: row.create_time,
            update_time: row.update_time,
        })
    }
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

/// The exception `id` as stored, if the caller reaches it; NOT_FOUND alike
/// for one that does not exist and one it does not reach.
async fn visible_exception(
    connection: &mut PgConnection,
    access: &Access,
    id: &ExceptionId,
) -> Result<ExceptionRow, Error> {
    let not_found = || Error::NotFound(format!("{} does not exist", exception_name(id.as_str())));
    let Some(row) = store::exceptions::get(connection, id.as_str()).await? else {
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

/// Adds an exception (its id chosen by the caller: creating the same one
/// again returns it).
pub async fn create(
    duties: &Duties,
    access: &Access,
    exception: PlaceException,
) -> Result<ExceptionRecord, Error> {
    let now = duties.clock.now();
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
    let mut transaction = store::begin(&duties.pool, "creating an exception").await?;
    lock_rules(&mut transaction).await?;
    if let Some(existing) = store::exceptions::get(&mut transaction, exception.id.as_str()).await? {
        // Equal content has the caller's own place, so it reaches it.
        if existing.to_exception()? == exception {
            return ExceptionRecord::shaped(access, &existing);
        }
        return Err(Error::AlreadyExists(format!(
            "exceptions/{} exists already with other content",
            exception.id
        )));
    }
    refuse_backdating("exception.effective_from", exception.effective_from, now)?;
    let rules = duties.rules.locked(&mut transaction).await?;
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
    store::exceptions::insert(&mut transaction, &exception, access.subject()).await?;
    bump_revision(&mut transaction).await?;
    let row = store::exceptions::get(&mut transaction, exception.id.as_str())
        .await?
        .ok_or_else(|| Error::corrupt("an exception vanished"))?;
    record_audit(&mut transaction, access, "creating an exception").await?;
    store::commit(transaction, "creating an exception").await?;
    tracing::info!(exception = %exception.id, place = %exception.place, lead = %exception.lead, "exception created");
    ExceptionRecord::shaped(access, &row)
}

pub async fn get(
    duties: &Duties,
    access: &Access,
    id: &ExceptionId,
) -> Result<ExceptionRecord, Error> {
    let mut connection = duties
        .pool
        .acquire()
        .await
        .context("reading an exception")?;
    let row = visible_exception(&mut connection, access, id).await?;
    ExceptionRecord::shaped(access, &row)
}

/// Exceptions the caller reaches, by id, filtered.
#[derive(Debug, Clone)]
pub struct ListExceptions {
    /// Only those whose place is this division or lies in it (a code
    /// prefix), or this named area.
    pub place: Option<String>,
    /// Only those scoped to this matter, or to its item.
    pub matter: Option<MatterCode>,
    /// Only those in effect at this instant.
    pub in_effect_at: Option<DateTime<Utc>>,
    pub page: Page<String>,
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

pub async fn list(
    duties: &Duties,
    access: &Access,
    command: &ListExceptions,
) -> Result<Vec<ExceptionRecord>, Error> {
    let rules = duties.rules.current(&duties.pool).await?;
    let matter_item = command
        .matter
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
    let mut connection = duties.pool.acquire().await.context("listing exceptions")?;
    let rows = store::exceptions::list(&mut connection).await?;
    let limit = usize::try_from(command.page.fetch_limit()).unwrap_or(usize::MAX);
    let mut matching = Vec::new();
    for row in rows {
        if matching.len() == limit {
            break;
        }
        if command
            .page
            .after
            .as_deref()
            .is_some_and(|after| row.id.as_str() <= after)
        {
            continue;
        }
        let exception = row.to_exception()?;
        let place_ok = command
            .place
            .as_deref()
            .is_none_or(|place| place_matches(&exception.place, place));
        let scope_ok = match (&command.matter, &exception.scope) {
            (None, _) => true,
            (Some(code), ExceptionScope::Matter(scoped)) => code == scoped,
            (Some(_), ExceptionScope::Item(item)) => matter_item == Some(*item),
        };
        let time_ok = command.in_effect_at.is_none_or(|at| {
            exception.effective_from <= at
                && exception.effective_until.is_none_or(|until| at < until)
        });
        if place_ok && scope_ok && time_ok && reaches_exception(access, &exception) {
            matching.push(ExceptionRecord::shaped(access, &row)?);
        }
    }
    Ok(matching)
}

/// Sets (or brings forward) when an exception stops applying.
pub async fn end(
    duties: &Duties,
    access: &Access,
    id: &ExceptionId,
    until: Option<DateTime<Utc>>,
) -> Result<ExceptionRecord, Error> {
    let name = exception_name(id.as_str());
    let now = duties.clock.now();
    let until = until.unwrap_or(now);
    let mut transaction = store::begin(&duties.pool, "ending an exception").await?;
    lock_rules(&mut transaction).await?;
    let row = visible_exception(&mut transaction, access, id).await?;
    access.audit().resource(name.clone());
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
            "{name} already ends at {}; an end can only be brought forward",
            current.to_rfc3339()
        )));
    }
    refuse_backdating("effective_until", until, now)?;
    store::exceptions::end(&mut transaction, id.as_str(), until).await?;
    bump_revision(&mut transaction).await?;
    let row = store::exceptions::get(&mut transaction, id.as_str())
        .await?
        .ok_or_else(|| Error::corrupt("an exception vanished"))?;
    record_audit(&mut transaction, access, "ending an exception").await?;
    store::commit(transaction, "ending an exception").await?;
    ExceptionRecord::shaped(access, &row)
}

/// Deletes an exception that has not taken effect yet (one that has is
/// ended instead, so the record of who was responsible stays).
pub async fn delete(duties: &Duties, access: &Access, id: &ExceptionId) -> Result<(), Error> {
    let name = exception_name(id.as_str());
    let mut transaction = store::begin(&duties.pool, "deleting an exception").await?;
    lock_rules(&mut transaction).await?;
    let row = visible_exception(&mut transaction, access, id).await?;
    access.audit().resource(name.clone());
    if row.effective_from <= duties.clock.now() {
        return Err(Error::FailedPrecondition(format!(
            "{name} has been in effect since {}; end it with EndException instead, so the record of who was responsible stays",
            row.effective_from.to_rfc3339()
        )));
    }
    store::exceptions::delete(&mut transaction, id.as_str()).await?;
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "deleting an exception").await?;
    store::commit(transaction, "deleting an exception").await?;
    Ok(())
}
