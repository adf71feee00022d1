//! Districts: parse, run the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::blocks::v1 as api;

use super::RegistryService;
use super::parse::{self, checked};
use super::render;
use crate::application::NameChanges;
use crate::application::districts::{self, NewDistrict, UpdateDistrict};
use crate::error::Error;
use crate::resources;
use flatgov_vocabulary::DistrictCode;

/// The code a district message names, under `district.name` / `district.code`.
fn code_of(violations: &mut Violations, district: &api::District) -> Option<DistrictCode> {
    parse::division_code(
        violations,
        "district",
        &district.name,
        &district.code,
        resources::district,
        DistrictCode::parse,
    )
}

/// A whole district from a message: its code and names.
fn new_district(district: &api::District) -> Result<NewDistrict, Violations> {
    let mut violations = Violations::new();
    let code = code_of(&mut violations, district);
    let display_name = violations.check(
        "district.display_name",
        parse::place_name(&district.display_name),
    );
    let display_name_en = violations.check(
        "district.display_name_en",
        parse::optional_place_name(&district.display_name_en),
    );
    match (code, display_name, display_name_en) {
        (Some(code), Some(display_name), Some(display_name_en)) if violations.is_empty() => {
            Ok(NewDistrict {
                code,
                display_name,
                display_name_en,
            })
        }
        _ => Err(violations),
    }
}

impl TryFrom<api::CreateDistrictRequest> for NewDistrict {
    type Error = Error;

    fn try_from(request: api::CreateDistrictRequest) -> Result<Self, Error> {
        let district = request
            .district
            .ok_or_else(|| Error::invalid("district", "required"))?;
        new_district(&district).map_err(Error::from)
    }
}

impl TryFrom<api::UpdateDistrictRequest> for UpdateDistrict {
    type Error = Error;

    fn try_from(request: api::UpdateDistrictRequest) -> Result<Self, Error> {
        let district = request
            .district
            .ok_or_else(|| Error::invalid("district", "required"))?;
        let mut violations = Violations::new();
        let code = code_of(&mut violations, &district);
        let paths = parse::mask_paths(
            &mut violations,
            request.update_mask.as_ref(),
            &["display_name", "display_name_en"],
        );
        let mut changes = NameChanges::default();
        for path in paths {
            if path == "display_name" {
                changes.display_name = violations.check(
                    "district.display_name",
                    parse::place_name(&district.display_name),
                );
            } else {
                changes.display_name_en = violations.check(
                    "district.display_name_en",
                    parse::optional_place_name(&district.display_name_en),
                );
            }
        }
        let create = request
            .allow_missing
            .then(|| new_district(&district).map_err(Violations::into_vec));
        let code = checked(violations, code)?;
        Ok(Self {
            code,
            changes,
            create,
        })
    }
}

/// The district a request names in `name`.
fn named(name: &str) -> Result<DistrictCode, Error> {
    let mut violations = Violations::new();
    let code = violations.check("name", resources::district(name));
    checked(violations, code)
}

pub(super) async fn create_district(
    service: &RegistryService,
    access: &Access,
    request: api::CreateDistrictRequest,
) -> Result<api::District, Error> {
    let district = NewDistrict::try_from(request)?;
    let row = districts::create(&service.blocks, access, district).await?;
    Ok(render::district(row))
}

pub(super) async fn get_district(
    service: &RegistryService,
    _access: &Access,
    request: api::GetDistrictRequest,
) -> Result<api::District, Error> {
    let code = named(&request.name)?;
    let row = districts::get(&service.blocks, code).await?;
    Ok(render::district(row))
}

pub(super) async fn list_districts(
    service: &RegistryService,
    _access: &Access,
    request: api::ListDistrictsRequest,
) -> Result<api::ListDistrictsResponse, Error> {
    let mut violations = Violations::new();
    let paging = parse::paging(
        &mut violations,
        request.page_size,
        &request.page_token,
        ListQuery::new("districts"),
    );
    let paging = checked(violations, paging)?;
    let page = districts::list(&service.blocks, &paging).await?;
    Ok(api::ListDistrictsResponse {
        districts: page.items.into_iter().map(render::district).collect(),
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn update_district(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateDistrictRequest,
) -> Result<api::District, Error> {
    let update = UpdateDistrict::try_from(request)?;
    let row = districts::update(&service.blocks, access, update).await?;
    Ok(render::district(row))
}

pub(super) async fn delete_district(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteDistrictRequest,
) -> Result<(), Error> {
    let code = named(&request.name)?;
    districts::delete(&service.blocks, access, code).await
}
