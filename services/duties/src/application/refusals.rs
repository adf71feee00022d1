//! Reading the gate's refusals: one, a page, or counts per assigning unit
//! and month, each narrowed to what the caller reaches.

use flatgov_auth::policy::{Access, Resource, Scope};

use super::{Duties, Page, TimeKey};
use crate::domain::names::refusal_name;
use crate::error::Error;
use crate::policy::sees_staff;
use crate::store::refusals::{RefusalCountRow, RefusalFilter, RefusalRow};
use crate::store::{self, DatabaseContext as _};
use flatgov_auth::policy::Reach;

/// A refusal as the caller may see it: who attempted it and who asked are
/// empty unless the caller sees people.
#[derive(Debug, Clone)]
pub struct Refusal(pub RefusalRow);

impl Refusal {
    /// Shapes a stored refusal for `access`.
    pub(super) fn shaped(access: &Access, mut row: RefusalRow) -> Self {
        if !sees_who_attempted(access, &row) {
            row.attempted_by.clear();
            row.caller.clear();
        }
        Self(row)
    }
}

/// The facts scope rules test of a recorded refusal: its division (the
/// unit assigned to, or else the assigning one) and the departments on
/// either side. `store::refusals` narrows lists the same way.
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

/// Whether the caller sees who attempted a refused assignment: those who
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

/// The refusal `id`, if the caller may see it; `NOT_FOUND` alike for one
/// that does not exist and one it does not reach.
pub(super) async fn visible_refusal(
    duties: &Duties,
    access: &Access,
    id: uuid::Uuid,
) -> Result<Refusal, Error> {
    let not_found = || Error::NotFound(format!("{} does not exist", refusal_name(id)));
    let mut connection = duties.pool.acquire().await.context("reading a refusal")?;
    let row = store::refusals::get(&mut connection, id)
        .await?
        .filter(|row| reaches_refusal(access, row))
        .ok_or_else(not_found)?;
    Ok(Refusal::shaped(access, row))
}

/// One refusal (`refusals/{id}`).
#[derive(Debug, Clone, Copy)]
pub struct GetRefusal {
    pub id: uuid::Uuid,
}

pub async fn get(duties: &Duties, access: &Access, command: GetRefusal) -> Result<Refusal, Error> {
    visible_refusal(duties, access, command.id).await
}

/// Refusals newest first, filtered, of those the caller reaches.
#[derive(Debug, Clone)]
pub struct ListRefusals {
    pub filter: RefusalFilter,
    pub page: Page<TimeKey>,
}

/// A page of refusals, fetched one row beyond the page so the transport
/// knows whether another follows.
pub async fn list(
    duties: &Duties,
    access: &Access,
    command: &ListRefusals,
) -> Result<Vec<Refusal>, Error> {
    let reach = Reach::of(access);
    let mut connection = duties.pool.acquire().await.context("listing refusals")?;
    let rows = store::refusals::list(
        &mut connection,
        &command.filter,
        reach.as_ref(),
        command.page.after.map(TimeKey::pair),
        command.page.fetch_limit(),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Refusal::shaped(access, row))
        .collect())
}

/// Refusals per assigning unit, month and reason, of those the caller
/// reaches.
pub async fn count(
    duties: &Duties,
    access: &Access,
    filter: &RefusalFilter,
) -> Result<Vec<RefusalCountRow>, Error> {
    let reach = Reach::of(access);
    let mut connection = duties.pool.acquire().await.context("counting refusals")?;
    Ok(store::refusals::count(&mut connection, filter, reach.as_ref()).await?)
}
