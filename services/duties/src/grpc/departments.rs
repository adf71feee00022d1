//! Departments: the units lists, exceptions and assessments name.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;

use super::DutyListsService;
use super::convert::{self, department_code, department_name};
use crate::domain::{Department, DepartmentCode, import};
use crate::error::{DatabaseContext as _, Error};
use crate::policy::POLICY;
use crate::store::{self, DepartmentRow, Upserted, bump_revision, lock_rules};

fn department_to_proto(row: &DepartmentRow) -> proto::Department {
    proto::Department {
        name: department_name(&row.code),
        code: row.code.clone(),
        display_name: row.name.clone(),
        display_name_en: row.name_en.clone().unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
    }
}

/// The department in a create or update request; the code from `code`, or
/// from `name` when `code` is empty.
fn department_from_proto(department: Option<&proto::Department>) -> Result<Department, Error> {
    let department =
        department.ok_or_else(|| Error::invalid("department", "a department is required"))?;
    let mut violations = Violations::new();
    let code = if department.code.is_empty() {
        violations.check(
            "department.name",
            department_code("department.name", &department.name).map_err(|error| error.to_string()),
        )
    } else {
        violations.check("department.code", DepartmentCode::parse(&department.code))
    };
    if !department.code.is_empty()
        && !department.name.is_empty()
        && department.name != department_name(&department.code)
    {
        violations.add(
            "department.name",
            format!(
                "{:?} does not name department {}",
                department.name, department.code
            ),
        );
    }
    let Some(code) = code else {
        return Err(Error::from(violations));
    };
    let gloss = Some(department.display_name_en.as_str()).filter(|text| !text.trim().is_empty());
    match Department::new(code, &department.display_name, gloss) {
        Ok(department) => {
            violations.finish()?;
            Ok(department)
        }
        Err(error) => {
            violations.add("department.display_name", error);
            Err(Error::from(violations))
        }
    }
}

pub(super) async fn create_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateDepartmentRequest,
) -> Result<proto::Department, Error> {
    let department = department_from_proto(request.department.as_ref())?;
    access
        .audit()
        .resource(department_name(department.code().as_str()));
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("creating a department")?;
    lock_rules(&mut transaction).await?;
    if store::get_department(&mut transaction, department.code())
        .await?
        .is_some()
    {
        return Err(Error::AlreadyExists(format!(
            "{} exists already",
            department_name(department.code().as_str())
        )));
    }
    store::upsert_department(&mut transaction, &department).await?;
    bump_revision(&mut transaction).await?;
    let row = store::get_department(&mut transaction, department.code())
        .await?
        .ok_or_else(|| Error::Corrupt("a department vanished".into()))?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("creating a department")?;
    transaction
        .commit()
        .await
        .context("creating a department")?;
    Ok(department_to_proto(&row))
}

pub(super) async fn get_department(
    service: &DutyListsService,
    _access: &Access,
    request: proto::GetDepartmentRequest,
) -> Result<proto::Department, Error> {
    let code = department_code("name", &request.name)?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("reading a department")?;
    store::get_department(&mut connection, &code)
        .await?
        .map(|row| department_to_proto(&row))
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name)))
}

pub(super) async fn list_departments(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ListDepartmentsRequest,
) -> Result<proto::ListDepartmentsResponse, Error> {
    let query = ListQuery::new("departments");
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service
        .pool
        .acquire()
        .await
        .context("listing departments")?;
    let mut rows = store::list_departments(
        &mut connection,
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(proto::ListDepartmentsResponse {
        departments: rows.iter().map(department_to_proto).collect(),
        next_page_token,
    })
}

pub(super) async fn update_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::UpdateDepartmentRequest,
) -> Result<proto::Department, Error> {
    let department = department_from_proto(request.department.as_ref())?;
    access
        .audit()
        .resource(department_name(department.code().as_str()));
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("updating a department")?;
    lock_rules(&mut transaction).await?;
    let exists = store::get_department(&mut transaction, department.code())
        .await?
        .is_some();
    if !exists && !request.allow_missing {
        return Err(Error::NotFound(format!(
            "{} does not exist (set allow_missing to create it)",
            department_name(department.code().as_str())
        )));
    }
    if store::upsert_department(&mut transaction, &department).await? != Upserted::Unchanged {
        bump_revision(&mut transaction).await?;
    }
    let row = store::get_department(&mut transaction, department.code())
        .await?
        .ok_or_else(|| Error::Corrupt("a department vanished".into()))?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("updating a department")?;
    transaction
        .commit()
        .await
        .context("updating a department")?;
    Ok(department_to_proto(&row))
}

pub(super) async fn delete_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteDepartmentRequest,
) -> Result<(), Error> {
    let code = department_code("name", &request.name)?;
    access.audit().resource(department_name(code.as_str()));
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("deleting a department")?;
    lock_rules(&mut transaction).await?;
    let references = store::department_references(&mut transaction, &code).await?;
    if !references.is_empty() {
        return Err(Error::FailedPrecondition(format!(
            "{} is still named by {}",
            request.name,
            references.join(", ")
        )));
    }
    if !store::delete_department(&mut transaction, &code).await? {
        return Err(Error::NotFound(format!("{} does not exist", request.name)));
    }
    bump_revision(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("deleting a department")?;
    transaction
        .commit()
        .await
        .context("deleting a department")?;
    Ok(())
}

pub(super) async fn import_departments(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportDepartmentsRequest,
) -> Result<proto::ImportDepartmentsResponse, Error> {
    let format = convert::data_format("format", request.format)?;
    let parsed = match format {
        proto::DataFormat::Json => import::departments_from_json(&request.content),
        _ => import::departments_from_csv(&request.content),
    };
    let departments = parsed.map_err(super::lists::import_violations)?;
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("importing departments")?;
    lock_rules(&mut transaction).await?;
    let mut response = proto::ImportDepartmentsResponse::default();
    for department in departments.iter() {
        let upserted = store::upsert_department(&mut transaction, department).await?;
        match upserted {
            Upserted::Created => response.created += 1,
            Upserted::Updated => response.updated += 1,
            Upserted::Unchanged => response.unchanged += 1,
        }
        if upserted != Upserted::Unchanged {
            access
                .audit()
                .resource(department_name(department.code().as_str()));
        }
    }
    if response.created + response.updated > 0 {
        bump_revision(&mut transaction).await?;
    }
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("importing departments")?;
    transaction
        .commit()
        .await
        .context("importing departments")?;
    tracing::info!(
        created = response.created,
        updated = response.updated,
        unchanged = response.unchanged,
        "departments imported"
    );
    Ok(proto::ImportDepartmentsResponse { ..response })
}
