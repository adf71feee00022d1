//! Departments: the district's reference list of the units the lists,
//! exceptions and assessments name. Public to read; changed only by
//! district-wide administrators (the table decides that).

use flatgov_auth::policy::Access;
use flatgov_vocabulary::DepartmentCode;

use super::{Duties, Page, record_audit};
use crate::domain::names::department_name;
use crate::domain::{Department, Departments};
use crate::error::Error;
use crate::store::departments::{DepartmentRow, Upserted};
use crate::store::{self, DatabaseContext as _, bump_revision, lock_rules};

/// Rename a department; with `allow_missing`, create it when it does not
/// exist.
#[derive(Debug, Clone)]
pub struct UpdateDepartment {
    pub department: Department,
    pub allow_missing: bool,
}

/// What an import did, department by department.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
}

pub async fn create(
    duties: &Duties,
    access: &Access,
    department: Department,
) -> Result<DepartmentRow, Error> {
    let name = department_name(department.code().as_str());
    access.audit().resource(name.clone());
    let mut transaction = store::begin(&duties.pool, "creating a department").await?;
    lock_rules(&mut transaction).await?;
    if store::departments::get(&mut transaction, department.code())
        .await?
        .is_some()
    {
        return Err(Error::AlreadyExists(format!("{name} exists already")));
    }
    store::departments::upsert(&mut transaction, &department).await?;
    bump_revision(&mut transaction).await?;
    let row = store::departments::get(&mut transaction, department.code())
        .await?
        .ok_or_else(|| Error::corrupt("a department vanished"))?;
    record_audit(&mut transaction, access, "creating a department").await?;
    store::commit(transaction, "creating a department").await?;
    Ok(row)
}

pub async fn get(duties: &Duties, code: &DepartmentCode) -> Result<DepartmentRow, Error> {
    let mut connection = duties
        .pool
        .acquire()
        .await
        .context("reading a department")?;
    store::departments::get(&mut connection, code)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", department_name(code.as_str())))
        })
}

/// Departments in code order, after the page's key.
pub async fn list(duties: &Duties, page: &Page<String>) -> Result<Vec<DepartmentRow>, Error> {
    let mut connection = duties.pool.acquire().await.context("listing departments")?;
    Ok(
        store::departments::list(&mut connection, page.after.as_deref(), page.fetch_limit())
            .await?,
    )
}

pub async fn update(
    duties: &Duties,
    access: &Access,
    command: UpdateDepartment,
) -> Result<DepartmentRow, Error> {
    let department = command.department;
    let name = department_name(department.code().as_str());
    access.audit().resource(name.clone());
    let mut transaction = store::begin(&duties.pool, "updating a department").await?;
    lock_rules(&mut transaction).await?;
    let exists = store::departments::get(&mut transaction, department.code())
        .await?
        .is_some();
    if !exists && !command.allow_missing {
        return Err(Error::NotFound(format!(
            "{name} does not exist (set allow_missing to create it)"
        )));
    }
    if store::departments::upsert(&mut transaction, &department).await? != Upserted::Unchanged {
        bump_revision(&mut transaction).await?;
    }
    let row = store::departments::get(&mut transaction, department.code())
        .await?
        .ok_or_else(|| Error::corrupt("a department vanished"))?;
    record_audit(&mut transaction, access, "updating a department").await?;
    store::commit(transaction, "updating a department").await?;
    Ok(row)
}

/// Deletes a department nothing names any more (FAILED_PRECONDITION,
/// naming what still does, otherwise).
pub async fn delete(duties: &Duties, access: &Access, code: &DepartmentCode) -> Result<(), Error> {
    let name = department_name(code.as_str());
    access.audit().resource(name.clone());
    let mut transaction = store::begin(&duties.pool, "deleting a department").await?;
    lock_rules(&mut transaction).await?;
    let references = store::departments::references(&mut transaction, code).await?;
    if !references.is_empty() {
        return Err(Error::FailedPrecondition(format!(
            "{name} is still named by {}",
            references.join(", ")
        )));
    }
    if !store::departments::delete(&mut transaction, code).await? {
        return Err(Error::NotFound(format!("{name} does not exist")));
    }
    bump_revision(&mut transaction).await?;
    record_audit(&mut transaction, access, "deleting a department").await?;
    store::commit(transaction, "deleting a department").await?;
    Ok(())
}

/// Creates or renames every department of a file, all or nothing;
/// departments not in it are left alone.
pub async fn import(
    duties: &Duties,
    access: &Access,
    departments: Departments,
) -> Result<Imported, Error> {
    let mut transaction = store::begin(&duties.pool, "importing departments").await?;
    lock_rules(&mut transaction).await?;
    let mut imported = Imported::default();
    for department in departments.iter() {
        let upserted = store::departments::upsert(&mut transaction, department).await?;
        match upserted {
            Upserted::Created => imported.created += 1,
            Upserted::Updated => imported.updated += 1,
            Upserted::Unchanged => imported.unchanged += 1,
        }
        if upserted != Upserted::Unchanged {
            access
                .audit()
                .resource(department_name(department.code().as_str()));
        }
    }
    if imported.created + imported.updated > 0 {
        bump_revision(&mut transaction).await?;
    }
    record_audit(&mut transaction, access, "importing departments").await?;
    store::commit(transaction, "importing departments").await?;
    tracing::info!(
        created = imported.created,
        updated = imported.updated,
        unchanged = imported.unchanged,
        "departments imported"
    );
    Ok(imported)
}
