//! Departments: the units lists, exceptions and assessments name.

use chrono::{DateTime, Utc};
use flatgov_vocabulary::DepartmentCode;
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};
use crate::domain::Department;

/// A department row with its times.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct DepartmentRow {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn get(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<Option<DepartmentRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, create_time, update_time from departments where code = $1",
    )
    .bind(code.as_str())
    .fetch_optional(connection)
    .await
    .context("reading a department")
}

pub async fn list(
    connection: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<DepartmentRow>, StoreError> {
    sqlx::query_as(
        "select code, name, name_en, create_time, update_time from departments
         where $1::text is null or code > $1 order by code limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing departments")
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Creates or renames a department.
pub async fn upsert(
    connection: &mut PgConnection,
    department: &Department,
) -> Result<Upserted, StoreError> {
    let existing = get(&mut *connection, department.code()).await?;
    match existing {
        Some(row)
            if row.name == department.name() && row.name_en.as_deref() == department.name_en() =>
        {
            Ok(Upserted::Unchanged)
        }
        Some(_) => {
            sqlx::query("update departments set name = $2, name_en = $3, update_time = now() where code = $1")
                .bind(department.code().as_str())
                .bind(department.name())
                .bind(department.name_en())
                .execute(connection)
                .await
                .context("updating a department")?;
            Ok(Upserted::Updated)
        }
        None => {
            sqlx::query("insert into departments (code, name, name_en) values ($1, $2, $3)")
                .bind(department.code().as_str())
                .bind(department.name())
                .bind(department.name_en())
                .execute(connection)
                .await
                .context("creating a department")?;
            Ok(Upserted::Created)
        }
    }
}

/// What still names a department, in words; empty when nothing does.
pub async fn references(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<Vec<String>, StoreError> {
    let items: Vec<(String, i32, String)> = sqlx::query_as(
        "select list_kind, version_number, code from list_items
         where lead_department = $1 or $1 = any(cooperating_departments)
         order by list_kind, version_number, code limit 5",
    )
    .bind(code.as_str())
    .fetch_all(&mut *connection)
    .await
    .context("checking department references")?;
    let department_text = format!("department:{code}");
    let exceptions: Vec<String> = sqlx::query_scalar(
        "select id from place_exceptions where lead = $1 or $1 = any(cooperating) order by id limit 5",
    )
    .bind(&department_text)
    .fetch_all(connection)
    .await
    .context("checking department references")?;
    let mut references: Vec<String> = items
        .into_iter()
        .map(|(kind, number, item)| format!("item {item} of lists/{kind}/versions/{number}"))
        .collect();
    references.extend(exceptions.into_iter().map(|id| format!("exceptions/{id}")));
    Ok(references)
}

pub async fn delete(
    connection: &mut PgConnection,
    code: &DepartmentCode,
) -> Result<bool, StoreError> {
    let deleted = sqlx::query("delete from departments where code = $1")
        .bind(code.as_str())
        .execute(connection)
        .await
        .context("deleting a department")?
        .rows_affected();
    Ok(deleted > 0)
}
