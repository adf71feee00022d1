//! Departments: parse, call the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;
use flatgov_vocabulary::DepartmentCode;

use super::DutyListsService;
use super::fields::{data_format, next_page_token, page};
use super::names::department_code;
use crate::application::departments::{self, Imported, UpdateDepartment};
use crate::application::{DataFormat, Page, import_violations};
use crate::domain::names::department_name;
use crate::domain::{Department, Departments, import};
use crate::error::Error;
use crate::store::departments::DepartmentRow;

fn render(row: &DepartmentRow) -> proto::Department {
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
        violations.check("department.name", department_code(&department.name))
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

impl TryFrom<proto::CreateDepartmentRequest> for Department {
    type Error = Error;

    fn try_from(request: proto::CreateDepartmentRequest) -> Result<Self, Error> {
        department_from_proto(request.department.as_ref())
    }
}

pub(super) async fn create_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::CreateDepartmentRequest,
) -> Result<proto::Department, Error> {
    let department = Department::try_from(request)?;
    let row = departments::create(&service.duties, access, department).await?;
    Ok(render(&row))
}

/// The department a get or delete names.
struct NamedDepartment(DepartmentCode);

impl TryFrom<proto::GetDepartmentRequest> for NamedDepartment {
    type Error = Error;

    fn try_from(request: proto::GetDepartmentRequest) -> Result<Self, Error> {
        department_code(&request.name)
            .map(NamedDepartment)
            .map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn get_department(
    service: &DutyListsService,
    _access: &Access,
    request: proto::GetDepartmentRequest,
) -> Result<proto::Department, Error> {
    let NamedDepartment(code) = NamedDepartment::try_from(request)?;
    let row = departments::get(&service.duties, &code).await?;
    Ok(render(&row))
}

impl TryFrom<proto::ListDepartmentsRequest> for Page<String> {
    type Error = Error;

    fn try_from(request: proto::ListDepartmentsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        page(
            request.page_size,
            &request.page_token,
            ListQuery::new("departments"),
            &mut violations,
        )
        .ok_or_else(|| Error::from(violations))
    }
}

pub(super) async fn list_departments(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ListDepartmentsRequest,
) -> Result<proto::ListDepartmentsResponse, Error> {
    let page = Page::<String>::try_from(request)?;
    let mut rows = departments::list(&service.duties, &page).await?;
    let next_page_token = next_page_token(&page, &mut rows, |row| row.code.clone());
    Ok(proto::ListDepartmentsResponse {
        departments: rows.iter().map(render).collect(),
        next_page_token,
    })
}

impl TryFrom<proto::UpdateDepartmentRequest> for UpdateDepartment {
    type Error = Error;

    fn try_from(request: proto::UpdateDepartmentRequest) -> Result<Self, Error> {
        Ok(Self {
            department: department_from_proto(request.department.as_ref())?,
            allow_missing: request.allow_missing,
        })
    }
}

pub(super) async fn update_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::UpdateDepartmentRequest,
) -> Result<proto::Department, Error> {
    let command = UpdateDepartment::try_from(request)?;
    let row = departments::update(&service.duties, access, command).await?;
    Ok(render(&row))
}

impl TryFrom<proto::DeleteDepartmentRequest> for NamedDepartment {
    type Error = Error;

    fn try_from(request: proto::DeleteDepartmentRequest) -> Result<Self, Error> {
        department_code(&request.name)
            .map(NamedDepartment)
            .map_err(|error| Error::invalid("name", error))
    }
}

pub(super) async fn delete_department(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteDepartmentRequest,
) -> Result<(), Error> {
    let NamedDepartment(code) = NamedDepartment::try_from(request)?;
    departments::delete(&service.duties, access, &code).await
}

impl TryFrom<proto::ImportDepartmentsRequest> for Departments {
    type Error = Error;

    /// The file is read whole here (departments depend on nothing else),
    /// so every problem is named before anything is written.
    fn try_from(request: proto::ImportDepartmentsRequest) -> Result<Self, Error> {
        let format =
            data_format(request.format).map_err(|error| Error::invalid("format", error))?;
        let parsed = match format {
            DataFormat::Json => import::departments_from_json(&request.content),
            DataFormat::Csv => import::departments_from_csv(&request.content),
        };
        parsed.map_err(import_violations)
    }
}

pub(super) async fn import_departments(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportDepartmentsRequest,
) -> Result<proto::ImportDepartmentsResponse, Error> {
    let departments = Departments::try_from(request)?;
    let Imported {
        created,
        updated,
        unchanged,
    } = departments::import(&service.duties, access, departments).await?;
    Ok(proto::ImportDepartmentsResponse {
        created,
        updated,
        unchanged,
    })
}
