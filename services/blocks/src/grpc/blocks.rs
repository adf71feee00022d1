//! Blocks: LocatePoint(s), GetBlock, ListBlocks, ExportGeoJson and
//! SetBlockTeam — parse, run the use case, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;

use super::RegistryService;
use super::parse::{self, checked, team_from_message};
use super::render;
use crate::application::blocks::{self, GetBlock, ListBlocks, MAX_POINTS, Target, View};
use crate::application::export::{self, Export, Layer};
use crate::application::teams::{self, SetBlockTeam};
use crate::error::Error;
use crate::resources::{self, GenerationRef, ParentLevels, generation_name};

/// A point's WGS84 coordinates (longitude, latitude), each checked under
/// `field` and converted from the system the point names (GCJ-02, BD-09).
fn coordinates(violations: &mut Violations, field: &str, point: &GeoPoint) -> Option<(f64, f64)> {
    flatgov_grpc::geo::point_in_wgs84(violations, field, point)
}

/// What a lookup resolves against: `at` or `generation`, at most one.
fn target(
    violations: &mut Violations,
    at: Option<&prost_types::Timestamp>,
    generation: &str,
) -> Option<Target> {
    let instant = match at {
        Some(at) => Some(violations.check("at", time::instant(at))?),
        None => None,
    };
    if generation.is_empty() {
        return Some(instant.map_or(Target::Now, Target::At));
    }
    if instant.is_some() {
        violations.add("generation", "set at most one of `at` and `generation`");
        return None;
    }
    violations
        .check("generation", resources::generation(generation))
        .map(Target::Generation)
}

/// A lookup: the points, what they resolve against, and the view.
struct Lookup {
    points: Vec<(f64, f64)>,
    target: Target,
    view: View,
}

impl TryFrom<api::LocatePointRequest> for Lookup {
    type Error = Error;

    fn try_from(request: api::LocatePointRequest) -> Result<Self, Error> {
        let point = request
            .point
            .ok_or_else(|| Error::invalid("point", "required"))?;
        let mut violations = Violations::new();
        let point = coordinates(&mut violations, "point", &point);
        let target = target(&mut violations, request.at.as_ref(), &request.generation);
        let (point, target) = checked(violations, point.zip(target))?;
        Ok(Self {
            points: vec![point],
            target,
            view: parse::view(request.view),
        })
    }
}

impl TryFrom<api::LocatePointsRequest> for Lookup {
    type Error = Error;

    fn try_from(request: api::LocatePointsRequest) -> Result<Self, Error> {
        if request.points.len() > MAX_POINTS {
            return Err(Error::invalid(
                "points",
                format!(
                    "at most {MAX_POINTS} points per call, found {}",
                    request.points.len()
                ),
            ));
        }
        let mut violations = Violations::new();
        let points: Vec<Option<(f64, f64)>> = request
            .points
            .iter()
            .enumerate()
            .map(|(index, point)| coordinates(&mut violations, &format!("points[{index}]"), point))
            .collect();
        let target = target(&mut violations, request.at.as_ref(), &request.generation);
        let points: Option<Vec<(f64, f64)>> = points.into_iter().collect();
        let (points, target) = checked(violations, points.zip(target))?;
        Ok(Self {
            points,
            target,
            view: parse::view(request.view),
        })
    }
}

impl TryFrom<api::GetBlockRequest> for GetBlock {
    type Error = Error;

    fn try_from(request: api::GetBlockRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let code = violations.check("name", resources::block(&request.name));
        // A named generation wins; `at` is then ignored.
        let target = if request.generation.is_empty() {
            match request.at.as_ref() {
                Some(at) => violations.check("at", time::instant(at)).map(Target::At),
                None => Some(Target::Now),
            }
        } else {
            violations
                .check("generation", resources::generation(&request.generation))
                .map(Target::Generation)
        };
        let (code, target) = checked(violations, code.zip(target))?;
        Ok(Self {
            code,
            target,
            view: parse::view(request.view),
        })
    }
}

impl TryFrom<api::ListBlocksRequest> for ListBlocks {
    type Error = Error;

    fn try_from(request: api::ListBlocksRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let parent = violations.check(
            "parent",
            resources::parent(&request.parent, ParentLevels::UpToCommunity),
        );
        let generation = violations.check(
            "generation",
            parse::optional_generation(&request.generation),
        );
        // Tokens are bound to the list's filters as the request gave them.
        let paging = parent.as_ref().and_then(|parent| {
            parse::paging(
                &mut violations,
                request.page_size,
                &request.page_token,
                ListQuery::new(&format!(
                    "blocks generation={} parent={}",
                    request.generation,
                    parent.prefix()
                )),
            )
        });
        let ((parent, generation), paging) =
            checked(violations, parent.zip(generation).zip(paging))?;
        Ok(Self {
            parent,
            generation,
            view: parse::view(request.view),
            paging,
        })
    }
}

impl TryFrom<api::ExportGeoJsonRequest> for Export {
    type Error = Error;

    fn try_from(request: api::ExportGeoJsonRequest) -> Result<Self, Error> {
        let layer = match api::ExportLayer::try_from(request.layer) {
            Ok(api::ExportLayer::Subdistricts) => Layer::Subdistricts,
            Ok(api::ExportLayer::Blocks | api::ExportLayer::Unspecified) | Err(_) => Layer::Blocks,
        };
        let mut violations = Violations::new();
        let parent = violations.check(
            "parent",
            resources::parent(&request.parent, ParentLevels::UpToCommunity),
        );
        let generation = violations.check(
            "generation",
            parse::optional_generation(&request.generation),
        );
        let (parent, generation) = checked(violations, parent.zip(generation))?;
        let query = export::query(layer, &parent, generation, request.include_teams);
        let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
        let start = export::start_after(layer, page.after.as_deref()).ok_or_else(|| {
            Error::invalid(
                "page_token",
                "is not a token returned by this list with these filters",
            )
        })?;
        Ok(Self {
            layer,
            parent,
            generation,
            include_teams: request.include_teams,
            size: page.size,
            start,
        })
    }
}

impl TryFrom<api::SetBlockTeamRequest> for SetBlockTeam {
    type Error = Error;

    fn try_from(request: api::SetBlockTeamRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let code = violations.check("block", resources::block(&request.block));
        let team = match &request.team {
            None => {
                violations.add("team", "required");
                None
            }
            Some(team) => match team_from_message("team", team) {
                Ok(team) => Some(team),
                Err(found) => {
                    violations.extend(found);
                    None
                }
            },
        };
        let generation = violations
            .check(
                "generation",
                parse::optional_generation(&request.generation),
            )
            .map(|generation| generation.unwrap_or(GenerationRef::Active));
        let ((code, team), generation) = checked(violations, code.zip(team).zip(generation))?;
        Ok(Self {
            code,
            team,
            generation,
        })
    }
}

pub(super) async fn locate_point(
    service: &RegistryService,
    access: &Access,
    request: api::LocatePointRequest,
) -> Result<api::LocatePointResponse, Error> {
    let lookup = Lookup::try_from(request)?;
    let point = lookup.points[0];
    let block =
        blocks::locate_point(&service.blocks, access, point, lookup.target, lookup.view).await?;
    Ok(api::LocatePointResponse {
        block: Some(render::block(block)),
    })
}

pub(super) async fn locate_points(
    service: &RegistryService,
    access: &Access,
    request: api::LocatePointsRequest,
) -> Result<api::LocatePointsResponse, Error> {
    let lookup = Lookup::try_from(request)?;
    let located = blocks::locate_points(
        &service.blocks,
        access,
        &lookup.points,
        lookup.target,
        lookup.view,
    )
    .await?;
    Ok(api::LocatePointsResponse {
        locations: located
            .into_iter()
            .map(|block| api::PointLocation {
                block: block.map(render::block),
            })
            .collect(),
    })
}

pub(super) async fn get_block(
    service: &RegistryService,
    access: &Access,
    request: api::GetBlockRequest,
) -> Result<api::Block, Error> {
    let get = GetBlock::try_from(request)?;
    let block = blocks::get(&service.blocks, access, get).await?;
    Ok(render::block(block))
}

pub(super) async fn list_blocks(
    service: &RegistryService,
    access: &Access,
    request: api::ListBlocksRequest,
) -> Result<api::ListBlocksResponse, Error> {
    let list = ListBlocks::try_from(request)?;
    let (page, total) = blocks::list(&service.blocks, access, &list).await?;
    Ok(api::ListBlocksResponse {
        blocks: page.items.into_iter().map(render::block).collect(),
        next_page_token: page.next_page_token,
        total_size: total,
    })
}

pub(super) async fn export_geojson(
    service: &RegistryService,
    access: &Access,
    request: api::ExportGeoJsonRequest,
) -> Result<api::ExportGeoJsonResponse, Error> {
    let export = Export::try_from(request)?;
    let page = export::export(&service.blocks, access, export).await?;
    Ok(api::ExportGeoJsonResponse {
        geojson: page.geojson,
        feature_count: page.feature_count,
        generation: page.generation.map(generation_name).unwrap_or_default(),
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn set_block_team(
    service: &RegistryService,
    access: &Access,
    request: api::SetBlockTeamRequest,
) -> Result<api::Block, Error> {
    let set = SetBlockTeam::try_from(request)?;
    let data = teams::set(&service.blocks, access, set).await?;
    Ok(render::block_data(&data))
}
