//! Subdistricts: parse, run the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_proto::blocks::v1 as api;

use super::RegistryService;
use super::parse::{self, checked};
use super::render;
use crate::application::subdistricts::{
    self, ListSubdistricts, NewSubdistrict, SubdistrictChanges, UpdateSubdistrict,
};
use crate::domain::import::{SubdistrictBoundary, parse_subdistrict_collection};
use crate::error::Error;
use crate::resources::{self, ParentLevels};
use flatgov_vocabulary::SubdistrictCode;

fn code_of(violations: &mut Violations, subdistrict: &api::Subdistrict) -> Option<SubdistrictCode> {
    parse::division_code(
        violations,
        "subdistrict",
        &subdistrict.name,
        &subdistrict.code,
        resources::subdistrict,
        SubdistrictCode::parse,
    )
}

/// A whole subdistrict from a message: code, names and (optional) land.
fn new_subdistrict(subdistrict: &api::Subdistrict) -> Result<NewSubdistrict, Violations> {
    let mut violations = Violations::new();
    let code = code_of(&mut violations, subdistrict);
    let display_name = violations.check(
        "subdistrict.display_name",
        parse::place_name(&subdistrict.display_name),
    );
    let display_name_en = violations.check(
        "subdistrict.display_name_en",
        parse::optional_place_name(&subdistrict.display_name_en),
    );
    let boundary = parse::boundary(
        &mut violations,
        "subdistrict.boundary_geojson",
        &subdistrict.boundary_geojson,
    );
    match (code, display_name, display_name_en, boundary) {
        (Some(code), Some(display_name), Some(display_name_en), Some(boundary))
            if violations.is_empty() =>
        {
            Ok(NewSubdistrict {
                code,
                display_name,
                display_name_en,
                boundary,
            })
        }
        _ => Err(violations),
    }
}

impl TryFrom<api::CreateSubdistrictRequest> for NewSubdistrict {
    type Error = Error;

    fn try_from(request: api::CreateSubdistrictRequest) -> Result<Self, Error> {
        let subdistrict = request
            .subdistrict
            .ok_or_else(|| Error::invalid("subdistrict", "required"))?;
        new_subdistrict(&subdistrict).map_err(Error::from)
    }
}

impl TryFrom<api::UpdateSubdistrictRequest> for UpdateSubdistrict {
    type Error = Error;

    fn try_from(request: api::UpdateSubdistrictRequest) -> Result<Self, Error> {
        let subdistrict = request
            .subdistrict
            .ok_or_else(|| Error::invalid("subdistrict", "required"))?;
        let mut violations = Violations::new();
        let code = code_of(&mut violations, &subdistrict);
        let paths = parse::mask_paths(
            &mut violations,
            request.update_mask.as_ref(),
            &["display_name", "display_name_en", "boundary_geojson"],
        );
        let mut changes = SubdistrictChanges::default();
        for path in paths {
            match path {
                "display_name" => {
                    changes.names.display_name = violations.check(
                        "subdistrict.display_name",
                        parse::place_name(&subdistrict.display_name),
                    );
                }
                "display_name_en" => {
                    changes.names.display_name_en = violations.check(
                        "subdistrict.display_name_en",
                        parse::optional_place_name(&subdistrict.display_name_en),
                    );
                }
                _ => {
                    changes.boundary = parse::boundary(
                        &mut violations,
                        "subdistrict.boundary_geojson",
                        &subdistrict.boundary_geojson,
                    );
                }
            }
        }
        let create = request
            .allow_missing
            .then(|| new_subdistrict(&subdistrict).map_err(Violations::into_vec));
        let code = checked(violations, code)?;
        Ok(Self {
            code,
            changes,
            create,
        })
    }
}

impl TryFrom<api::ListSubdistrictsRequest> for ListSubdistricts {
    type Error = Error;

    fn try_from(request: api::ListSubdistrictsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let parent = violations.check(
            "parent",
            resources::parent(&request.parent, ParentLevels::District),
        );
        let paging = parent.as_ref().and_then(|parent| {
            parse::paging(
                &mut violations,
                request.page_size,
                &request.page_token,
                ListQuery::new(&format!("subdistricts parent={}", parent.prefix())),
            )
        });
        let (parent, paging) = checked(violations, parent.zip(paging))?;
        Ok(Self {
            prefix: parent.prefix(),
            include_boundary: request.include_boundary,
            paging,
        })
    }
}

/// The boundaries of an import file, every problem named by its JSON path.
fn boundaries(request: &api::ImportSubdistrictsRequest) -> Result<Vec<SubdistrictBoundary>, Error> {
    let document: serde_json::Value = serde_json::from_str(&request.geojson)
        .map_err(|error| Error::invalid("geojson", format!("not valid JSON: {error}")))?;
    let boundaries = parse_subdistrict_collection(&document)
        .map_err(|errors| Error::InvalidArgument(parse::import_violations(&errors.problems)))?;
    if boundaries.is_empty() {
        return Err(Error::invalid(
            "features",
            "must hold at least one subdistrict",
        ));
    }
    Ok(boundaries)
}

fn named(name: &str) -> Result<SubdistrictCode, Error> {
    let mut violations = Violations::new();
    let code = violations.check("name", resources::subdistrict(name));
    checked(violations, code)
}

pub(super) async fn create_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::CreateSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let subdistrict = NewSubdistrict::try_from(request)?;
    let row = subdistricts::create(&service.blocks, access, subdistrict).await?;
    render::subdistrict(row)
}

pub(super) async fn get_subdistrict(
    service: &RegistryService,
    _access: &Access,
    request: api::GetSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let code = named(&request.name)?;
    let row = subdistricts::get(&service.blocks, code).await?;
    render::subdistrict(row)
}

pub(super) async fn list_subdistricts(
    service: &RegistryService,
    _access: &Access,
    request: api::ListSubdistrictsRequest,
) -> Result<api::ListSubdistrictsResponse, Error> {
    let list = ListSubdistricts::try_from(request)?;
    let page = subdistricts::list(&service.blocks, &list).await?;
    Ok(api::ListSubdistrictsResponse {
        subdistricts: page
            .items
            .into_iter()
            .map(render::subdistrict)
            .collect::<Result<_, _>>()?,
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn update_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::UpdateSubdistrictRequest,
) -> Result<api::Subdistrict, Error> {
    let update = UpdateSubdistrict::try_from(request)?;
    let row = subdistricts::update(&service.blocks, access, update).await?;
    render::subdistrict(row)
}

pub(super) async fn delete_subdistrict(
    service: &RegistryService,
    access: &Access,
    request: api::DeleteSubdistrictRequest,
) -> Result<(), Error> {
    let code = named(&request.name)?;
    subdistricts::delete(&service.blocks, access, code).await
}

pub(super) async fn import_subdistricts(
    service: &RegistryService,
    access: &Access,
    request: api::ImportSubdistrictsRequest,
) -> Result<api::ImportSubdistrictsResponse, Error> {
    let boundaries = boundaries(&request)?;
    let imported = subdistricts::import(&service.blocks, access, boundaries).await?;
    Ok(api::ImportSubdistrictsResponse {
        created: imported.created,
        updated: imported.updated,
        unchanged: imported.unchanged,
        subdistricts: imported
            .codes
            .iter()
            .map(|code| format!("subdistricts/{code}"))
            .collect(),
    })
}
