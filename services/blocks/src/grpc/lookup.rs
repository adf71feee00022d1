//! Which block is this point in, and what is this block: LocatePoint(s),
//! GetBlock, ListBlocks, ExportGeoJson. The map of the generations that were
//! in force is public; a draft only to the administrators it concerns, and
//! only its blocks within their jurisdiction. Team names and phones are
//! shaped per `crate::privacy`.
//!
//! Current lookups are answered from the in-memory snapshot (index, attributes
//! and teams); historical ones from a lazily built index of the generation in
//! force then and the team history. Contacts and geometry, when a view asks for
//! them, are read from the database.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::{FieldViolation, ForField as _};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::RegistryService;
use super::convert::{BlockData, block_message, stored_geometry_json};
use crate::domain::codec;
use crate::domain::codes::BlockCode;
use crate::domain::import::{
    BlockDraft, SubdistrictBoundary, blocks_to_geojson, subdistricts_to_geojson,
};
use crate::domain::names::PlaceName;
use crate::domain::team::Team;
use crate::error::Error;
use crate::privacy::Viewer;
use crate::reach::{Places, StaffReach};
use crate::resources::{self, GenerationRef, ParentLevels, generation_name};
use crate::snapshot::BlockRecord;
use crate::store;
use crate::store::generations::{BlockFilter, GenerationRow};

/// Most points one LocatePoints call may carry.
pub const MAX_POINTS: usize = 10_000;

fn view_of(view: i32) -> api::BlockView {
    match api::BlockView::try_from(view) {
        Ok(api::BlockView::Unspecified) | Err(_) => api::BlockView::Basic,
        Ok(view) => view,
    }
}

fn wants_contacts(view: api::BlockView) -> bool {
    matches!(view, api::BlockView::Contacts | api::BlockView::Full)
}

fn wants_geometry(view: api::BlockView) -> bool {
    view == api::BlockView::Full
}

/// Checks a point's coordinates; returns (longitude, latitude).
fn coordinates(field: &str, point: &GeoPoint, violations: &mut Vec<FieldViolation>) -> (f64, f64) {
    let (longitude, latitude) = (point.longitude, point.latitude);
    if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
        violations.push(FieldViolation::new(
            format!("{field}.longitude"),
            format!("must be a finite number in [-180, 180], found {longitude}"),
        ));
    }
    if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
        violations.push(FieldViolation::new(
            format!("{field}.latitude"),
            format!(
                "must be a finite number in [-90, 90], found {latitude} (are longitude and latitude swapped?)"
            ),
        ));
    }
    (longitude, latitude)
}

/// The instant asked about; `None` means now (a future instant is now too).
fn asked_instant(at: Option<&prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, Error> {
    let Some(at) = at else { return Ok(None) };
    let at = time::instant(at).for_field("at")?;
    Ok((at < Utc::now()).then_some(at))
}

/// What a lookup resolves against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The generation in force, from the snapshot.
    Now,
    /// The generation and teams in force at a past instant.
    At(DateTime<Utc>),
    /// Exactly this generation, whatever this replica's snapshot holds.
    Generation(Uuid),
}

fn target(at: Option<&prost_types::Timestamp>, generation: &str) -> Result<Target, Error> {
    if generation.is_empty() {
        return Ok(asked_instant(at)?.map_or(Target::Now, Target::At));
    }
    if at.is_some() {
        return Err(Error::invalid(
            "generation",
            "set at most one of `at` and `generation`",
        ));
    }
    Ok(match resources::generation("generation", generation)? {
        GenerationRef::Active => Target::Now,
        GenerationRef::Id(id) => Target::Generation(id),
    })
}

/// NOT_FOUND for a generation: the same words whether it does not exist or
/// the caller may not see it.
fn no_such_generation(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", generation_name(id)))
}

/// Where the caller may read the blocks of `generation`: anywhere in the
/// generations that were in force (the public map); in a draft, only where
/// an administrator it concerns reaches. A draft the caller may not see at
/// all is answered as one that does not exist.
fn readable_places(access: &Access, generation: &GenerationRow) -> Result<Places, Error> {
    if matches!(generation.state.as_str(), "active" | "retired") {
        return Ok(Places::Everywhere);
    }
    let reach = StaffReach::of(access);
    if !reach.generation(generation).is_visible() {
        return Err(no_such_generation(generation.id));
    }
    Ok(reach.draft_places())
}

/// Where each point falls: the generation searched and, per point, the block.
struct Located {
    generation: Uuid,
    /// The instant asked about, for messages.
    at: Option<DateTime<Utc>>,
    blocks: Vec<Option<BlockData>>,
}

async fn locate(
    service: &RegistryService,
    access: &Access,
    points: &[(f64, f64)],
    target: Target,
) -> Result<Located, Error> {
    let snapshot = service.registry.snapshot();
    let in_force = snapshot.active.as_ref().map(|active| active.id);
    let (generation, at) = match target {
        Target::Generation(id) if Some(id) != in_force => (id, None),
        Target::Now | Target::Generation(_) => {
            let active = snapshot.active.clone().ok_or_else(|| {
                Error::FailedPrecondition(
                    "no boundary generation is in force yet: import blocks and activate a generation first"
                        .into(),
                )
            })?;
            let blocks = points
                .iter()
                .map(|&(longitude, latitude)| {
                    let code = active.index.locate(longitude, latitude)?;
                    let record = active.blocks.get(code)?.clone();
                    Some(BlockData {
                        generation: active.id,
                        team: snapshot.teams.get(code).cloned(),
                        record,
                        geometry_geojson: None,
                    })
                })
                .collect();
            return Ok(Located {
                generation: active.id,
                at: None,
                blocks,
            });
        }
        Target::At(at) => {
            let span = snapshot.generation_at(at).ok_or_else(|| {
                Error::FailedPrecondition(format!(
                    "no boundary generation was in force at {}",
                    at.to_rfc3339()
                ))
            })?;
            (span.id, Some(at))
        }
    };
    let mut connection = service.connection("locating in a past generation").await?;
    let mut places = Places::Everywhere;
    let row = if at.is_none() {
        let row = store::generations::get_generation(&mut connection, generation, false)
            .await
            .map_err(Error::database("locating in a generation"))?
            .ok_or_else(|| no_such_generation(generation))?;
        places = readable_places(access, &row)?;
        if row.state == "discarded" {
            return Err(Error::FailedPrecondition(format!(
                "{} was discarded; its blocks are gone",
                generation_name(generation)
            )));
        }
        Some(row)
    } else {
        None
    };
    let index = service.registry.generation_index(generation).await?;
    let mut records: Vec<Option<BlockRecord>> = points
        .iter()
        .map(|&(longitude, latitude)| {
            let code = index.index.locate(longitude, latitude)?;
            // A draft block the caller may not see is land outside every block.
            if !places.contains(&code.to_string()) {
                return None;
            }
            index.blocks.get(code).cloned()
        })
        .collect();
    let codes: Vec<String> = records
        .iter()
        .flatten()
        .map(|record| record.code.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let teams = match (&row, at) {
        (Some(row), _) => generation_teams(service, &mut connection, row, &codes).await?,
        (None, Some(at)) => history_teams(&mut connection, &codes, at).await?,
        (None, None) => HashMap::new(),
    };
    Ok(Located {
        generation,
        at,
        blocks: records
            .iter_mut()
            .map(|record| {
                let record = record.take()?;
                Some(BlockData {
                    generation,
                    team: teams.get(&record.code).cloned(),
                    record,
                    geometry_geojson: None,
                })
            })
            .collect(),
    })
}

async fn history_teams(
    connection: &mut sqlx::PgConnection,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<HashMap<BlockCode, Team>, Error> {
    let stored = store::teams::teams_at(connection, codes, at)
        .await
        .map_err(Error::database("reading past teams"))?;
    to_teams(stored)
}

fn to_teams(
    stored: HashMap<String, store::teams::StoredTeam>,
) -> Result<HashMap<BlockCode, Team>, Error> {
    stored
        .into_values()
        .map(|team| {
            let code = BlockCode::parse(&team.block_code)
                .map_err(|error| Error::internal("reading a stored team", error))?;
            let team = team
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?;
            Ok((code, team))
        })
        .collect()
}

/// Adds what the view asks for beyond the basics (geometry, team contacts
/// as this caller may see them) and notes in the audit trail the blocks
/// answered and the staff whose name or phone was shown.
async fn complete(
    service: &RegistryService,
    access: &Access,
    view: api::BlockView,
    blocks: &mut [BlockData],
) -> Result<Vec<api::Block>, Error> {
    for block in blocks.iter() {
        access
            .audit()
            .resource(format!("blocks/{}", block.record.code));
    }
    if !wants_contacts(view) {
        return Ok(blocks.iter().map(block_message).collect());
    }
    let mut connection = service.connection("reading block details").await?;
    if wants_geometry(view) {
        let mut by_generation: HashMap<Uuid, Vec<String>> = HashMap::new();
        for block in blocks
            .iter()
            .filter(|block| block.geometry_geojson.is_none())
        {
            by_generation
                .entry(block.generation)
                .or_default()
                .push(block.record.code.to_string());
        }
        let mut geometries: HashMap<(Uuid, String), Vec<u8>> = HashMap::new();
        for (generation, codes) in by_generation {
            for (code, bytes) in store::generations::geometries(&mut connection, generation, &codes)
                .await
                .map_err(Error::database("reading block geometry"))?
            {
                geometries.insert((generation, code), bytes);
            }
        }
        for block in blocks.iter_mut() {
            if let Some(bytes) = geometries.get(&(block.generation, block.record.code.to_string()))
            {
                block.geometry_geojson = Some(stored_geometry_json(bytes)?);
            }
        }
    }
    let staff_ids: Vec<String> = blocks
        .iter()
        .filter_map(|block| block.team.as_ref())
        .flat_map(|team| team.members().map(ToString::to_string))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let roster = store::staff::staff_by_ids(&mut connection, &staff_ids)
        .await
        .map_err(Error::database("reading team contacts"))?;
    let viewer = Viewer::of(access);
    Ok(blocks
        .iter()
        .map(|block| {
            let mut message = block_message(block);
            if let (Some(team), Some(team_message)) = (&block.team, message.team.as_mut()) {
                let block_code = block.record.code.to_string();
                let names_visible = viewer.sees_team_names(&block_code);
                let member = |staff: &str, post: api::TeamPost, role: api::AssistantRole| {
                    let row = roster.get(staff);
                    let places: Vec<&str> = row
                        .and_then(|row| row.division_code.as_deref())
                        .into_iter()
                        .chain(std::iter::once(block_code.as_str()))
                        .collect();
                    let phone_visible = viewer.sees_phone(staff, places);
                    let phone = row.and_then(|row| row.phone.clone());
                    let shown = row.is_some() && (names_visible || phone_visible);
                    if shown {
                        access.audit().resource(format!("staff/{staff}"));
                    }
                    api::TeamMember {
                        staff: staff.to_owned(),
                        post: post as i32,
                        role: role as i32,
                        display_name: row
                            .filter(|_| names_visible)
                            .map(|row| row.display_name.clone())
                            .unwrap_or_default(),
                        unit: row
                            .filter(|_| names_visible)
                            .and_then(|row| row.unit.clone())
                            .unwrap_or_default(),
                        phone_withheld: phone.is_some() && !phone_visible,
                        phone: phone.filter(|_| phone_visible).unwrap_or_default(),
                    }
                };
                let mut members = vec![member(
                    team.governor().as_str(),
                    api::TeamPost::Governor,
                    api::AssistantRole::Unspecified,
                )];
                for assistant in team.assistants() {
                    members.push(member(
                        assistant.staff.as_str(),
                        api::TeamPost::Assistant,
                        super::convert::assistant_role_message(assistant.role),
                    ));
                }
                members.push(member(
                    team.supervisor().as_str(),
                    api::TeamPost::Supervisor,
                    api::AssistantRole::Unspecified,
                ));
                team_message.members = members;
            }
            message
        })
        .collect())
}

pub(super) async fn locate_point(
    service: &RegistryService,
    access: &Access,
    request: api::LocatePointRequest,
) -> Result<api::LocatePointResponse, Error> {
    let point = request
        .point
        .ok_or_else(|| Error::invalid("point", "required"))?;
    let mut violations = Vec::new();
    let (longitude, latitude) = coordinates("point", &point, &mut violations);
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let target = target(request.at.as_ref(), &request.generation)?;
    let located = locate(service, access, &[(longitude, latitude)], target).await?;
    let Some(block) = located.blocks.into_iter().next().flatten() else {
        return Err(Error::NotFound(format!(
            "point ({longitude}, {latitude}) is outside every block of {}{}",
            generation_name(located.generation),
            located
                .at
                .map(|at| format!(" (in force at {})", at.to_rfc3339()))
                .unwrap_or_default()
        )));
    };
    let mut blocks = [block];
    let mut messages = complete(service, access, view_of(request.view), &mut blocks).await?;
    Ok(api::LocatePointResponse {
        block: messages.pop(),
    })
}

pub(super) async fn locate_points(
    service: &RegistryService,
    access: &Access,
    request: api::LocatePointsRequest,
) -> Result<api::LocatePointsResponse, Error> {
    if request.points.len() > MAX_POINTS {
        return Err(Error::invalid(
            "points",
            format!(
                "at most {MAX_POINTS} points per call, found {}",
                request.points.len()
            ),
        ));
    }
    let mut violations = Vec::new();
    let points: Vec<(f64, f64)> = request
        .points
        .iter()
        .enumerate()
        .map(|(index, point)| coordinates(&format!("points[{index}]"), point, &mut violations))
        .collect();
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    let target = target(request.at.as_ref(), &request.generation)?;
    let located = locate(service, access, &points, target).await?;
    let found: Vec<usize> = located
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(index, block)| block.is_some().then_some(index))
        .collect();
    let mut blocks: Vec<BlockData> = located.blocks.iter().flatten().cloned().collect();
    let messages = complete(service, access, view_of(request.view), &mut blocks).await?;
    let mut locations = vec![api::PointLocation::default(); points.len()];
    for (index, message) in found.into_iter().zip(messages) {
        locations[index].block = Some(message);
    }
    Ok(api::LocatePointsResponse { locations })
}

/// The generation a read names, defaulting to the one in force.
async fn resolve_generation(
    service: &RegistryService,
    connection: &mut sqlx::PgConnection,
    field: &str,
    name: &str,
) -> Result<GenerationRow, Error> {
    let reference = if name.is_empty() {
        GenerationRef::Active
    } else {
        resources::generation(field, name)?
    };
    let id = match reference {
        GenerationRef::Id(id) => id,
        GenerationRef::Active => service
            .registry
            .snapshot()
            .active
            .as_ref()
            .map(|active| active.id)
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    "no boundary generation is in force yet: import blocks and activate a generation first"
                        .into(),
                )
            })?,
    };
    store::generations::get_generation(connection, id, false)
        .await
        .map_err(Error::database("reading a generation"))?
        .ok_or_else(|| no_such_generation(id))
}

/// The teams of `codes` as that generation shows them: in force for the active
/// one, as set (or to be carried over) for a draft, as they were when it was
/// retired for a retired one.
async fn generation_teams(
    service: &RegistryService,
    connection: &mut sqlx::PgConnection,
    generation: &GenerationRow,
    codes: &[String],
) -> Result<HashMap<BlockCode, Team>, Error> {
    match generation.state.as_str() {
        "active" => to_teams(
            store::teams::load_teams(connection, generation.id, None, Some(codes))
                .await
                .map_err(Error::database("reading teams"))?,
        ),
        "draft" => {
            let mut teams = to_teams(
                store::teams::load_teams(connection, generation.id, None, Some(codes))
                    .await
                    .map_err(Error::database("reading teams"))?,
            )?;
            if let Some(active) = service.registry.snapshot().active.as_ref() {
                let missing: Vec<String> = codes
                    .iter()
                    .filter(|code| {
                        BlockCode::parse(code).is_ok_and(|code| !teams.contains_key(&code))
                    })
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    let carried = to_teams(
                        store::teams::load_teams(connection, active.id, None, Some(&missing))
                            .await
                            .map_err(Error::database("reading teams"))?,
                    )?;
                    teams.extend(carried);
                }
            }
            Ok(teams)
        }
        "retired" => match generation.retire_time {
            Some(retired) => {
                history_teams(connection, codes, retired - Duration::microseconds(1)).await
            }
            None => Ok(HashMap::new()),
        },
        _ => Ok(HashMap::new()),
    }
}

pub(super) async fn get_block(
    service: &RegistryService,
    access: &Access,
    request: api::GetBlockRequest,
) -> Result<api::Block, Error> {
    let code = resources::block("name", &request.name)?;
    let view = view_of(request.view);
    let at = if request.generation.is_empty() {
        asked_instant(request.at.as_ref())?
    } else {
        None
    };
    let mut connection = service.connection("reading a block").await?;
    let generation = match at {
        Some(at) => {
            let span = service
                .registry
                .snapshot()
                .generation_at(at)
                .ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "no boundary generation was in force at {}",
                        at.to_rfc3339()
                    ))
                })?;
            resolve_generation(service, &mut connection, "at", &generation_name(span.id)).await?
        }
        None => {
            resolve_generation(service, &mut connection, "generation", &request.generation).await?
        }
    };
    let places = readable_places(access, &generation)?;
    let stored = if places.contains(&code.to_string()) {
        store::generations::get_block(&mut connection, generation.id, &code.to_string(), false)
            .await
            .map_err(Error::database("reading a block"))?
    } else {
        None
    };
    let Some(row) = stored else {
        let mut message = format!("block {code} is not in {}", generation_name(generation.id));
        if generation.state == "active"
            && let Some((last, valid_to)) =
                store::generations::last_generation_with_block(&mut connection, &code.to_string())
                    .await
                    .map_err(Error::database("reading a block"))?
        {
            message.push_str(&format!(
                "; it was last in {}{}",
                generation_name(last),
                valid_to
                    .map(|to| format!(", until {}", to.to_rfc3339()))
                    .unwrap_or_default()
            ));
        }
        return Err(Error::NotFound(message));
    };
    let codes = vec![code.to_string()];
    let mut teams = match at {
        Some(at) => history_teams(&mut connection, &codes, at).await?,
        None => generation_teams(service, &mut connection, &generation, &codes).await?,
    };
    drop(connection);
    let mut blocks = [BlockData {
        generation: generation.id,
        record: BlockRecord::from_row(&row)?,
        team: teams.remove(&code),
        geometry_geojson: None,
    }];
    let mut messages = complete(service, access, view, &mut blocks).await?;
    messages
        .pop()
        .ok_or_else(|| Error::internal("reading a block", "no message built"))
}

pub(super) async fn list_blocks(
    service: &RegistryService,
    access: &Access,
    request: api::ListBlocksRequest,
) -> Result<api::ListBlocksResponse, Error> {
    let parent = resources::parent("parent", &request.parent, ParentLevels::UpToCommunity)?;
    let view = view_of(request.view);
    let mut connection = service.connection("listing blocks").await?;
    let generation =
        resolve_generation(service, &mut connection, "generation", &request.generation).await?;
    let places = readable_places(access, &generation)?;
    let reached = places.like_patterns();
    let filter = BlockFilter {
        prefix: &parent.prefix(),
        reached: reached.as_deref(),
    };
    let query = ListQuery::new(&format!(
        "blocks generation={} parent={}",
        generation.id,
        parent.prefix()
    ));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut rows = store::generations::list_blocks(
        &mut connection,
        generation.id,
        filter,
        page.after.as_deref(),
        page.size.fetch_limit(),
        false,
    )
    .await
    .map_err(Error::database("listing blocks"))?;
    let total = store::generations::count_blocks(&mut connection, generation.id, filter)
        .await
        .map_err(Error::database("listing blocks"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    let codes: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
    let mut teams = generation_teams(service, &mut connection, &generation, &codes).await?;
    drop(connection);
    let mut blocks = rows
        .iter()
        .map(|row| {
            let record = BlockRecord::from_row(row)?;
            Ok(BlockData {
                generation: generation.id,
                team: teams.remove(&record.code),
                record,
                geometry_geojson: None,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(api::ListBlocksResponse {
        blocks: complete(service, access, view, &mut blocks).await?,
        next_page_token,
        total_size: u32::try_from(total).unwrap_or(u32::MAX),
    })
}

/// Most GeoJSON text one export page carries, whatever a block's polygon
/// costs: well inside the 4 MiB a gRPC message is by default, so an export
/// never needs the import-sized limit.
const EXPORT_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// How many of `features` one page carries: up to the byte budget, at least one.
fn features_within_budget(features: &[geojson::Feature]) -> usize {
    let mut bytes = 0;
    for (index, feature) in features.iter().enumerate() {
        bytes += feature.to_string().len();
        if bytes > EXPORT_PAGE_BYTES && index > 0 {
            return index;
        }
    }
    features.len()
}

/// One page of `collection`, whose features are `keys` in order, fetched
/// with one row more than the page when `more` is true: the page's
/// GeoJSON, its feature count and the next page's token.
fn export_page(
    mut collection: geojson::FeatureCollection,
    keys: &[String],
    more: bool,
    query: &ListQuery,
) -> (String, u32, String) {
    let kept = features_within_budget(&collection.features);
    collection.features.truncate(kept);
    let next_page_token = match kept.checked_sub(1).and_then(|last| keys.get(last)) {
        Some(last) if more || kept < keys.len() => query.token_after(last),
        _ => String::new(),
    };
    (
        collection.to_string(),
        u32::try_from(kept).unwrap_or(u32::MAX),
        next_page_token,
    )
}

pub(super) async fn export_geojson(
    service: &RegistryService,
    access: &Access,
    request: api::ExportGeoJsonRequest,
) -> Result<api::ExportGeoJsonResponse, Error> {
    let parent = resources::parent("parent", &request.parent, ParentLevels::UpToCommunity)?;
    let mut connection = service.connection("exporting GeoJSON").await?;
    let layer = api::ExportLayer::try_from(request.layer).unwrap_or(api::ExportLayer::Blocks);
    if layer == api::ExportLayer::Subdistricts {
        let query = ListQuery::new(&format!("export subdistricts parent={}", parent.prefix()));
        let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
        let rows = store::hierarchy::subdistricts_with_boundary(&mut connection)
            .await
            .map_err(Error::database("exporting subdistricts"))?;
        let mut rows: Vec<_> = rows
            .into_iter()
            .filter(|row| {
                row.code.starts_with(&parent.prefix()) || parent.prefix().starts_with(&row.code)
            })
            .filter(|row| page.after.as_ref().is_none_or(|after| row.code > *after))
            .take(page.size.get() + 1)
            .collect();
        let more = rows.len() > page.size.get();
        rows.truncate(page.size.get());
        let boundaries = rows
            .iter()
            .map(|row| {
                Ok(SubdistrictBoundary {
                    code: crate::domain::codes::SubdistrictCode::parse(&row.code)
                        .map_err(|error| Error::internal("exporting subdistricts", error))?,
                    name: stored_name(&row.display_name)?,
                    name_en: row
                        .display_name_en
                        .as_deref()
                        .map(stored_name)
                        .transpose()?,
                    geometry: codec::decode(row.boundary.as_deref().unwrap_or_default())
                        .map_err(|error| Error::internal("exporting subdistricts", error))?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let keys: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
        let (geojson, feature_count, next_page_token) =
            export_page(subdistricts_to_geojson(&boundaries), &keys, more, &query);
        return Ok(api::ExportGeoJsonResponse {
            geojson,
            feature_count,
            generation: String::new(),
            next_page_token,
        });
    }
    let generation =
        resolve_generation(service, &mut connection, "generation", &request.generation).await?;
    let places = readable_places(access, &generation)?;
    let reached = places.like_patterns();
    let filter = BlockFilter {
        prefix: &parent.prefix(),
        reached: reached.as_deref(),
    };
    // Bound to the generation's id: pages of one export never mix generations.
    let query = ListQuery::new(&format!(
        "export blocks generation={} parent={} teams={}",
        generation.id,
        parent.prefix(),
        request.include_teams
    ));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut rows = store::generations::list_blocks(
        &mut connection,
        generation.id,
        filter,
        page.after.as_deref(),
        page.size.fetch_limit(),
        true,
    )
    .await
    .map_err(Error::database("exporting blocks"))?;
    let more = rows.len() > page.size.get();
    rows.truncate(page.size.get());
    let community_codes: Vec<String> = rows
        .iter()
        .map(|row| row.community_code.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let community_names = store::hierarchy::community_names(&mut connection, &community_codes)
        .await
        .map_err(Error::database("exporting blocks"))?;
    let codes: Vec<String> = rows.iter().map(|row| row.code.clone()).collect();
    let teams = if request.include_teams {
        generation_teams(service, &mut connection, &generation, &codes).await?
    } else {
        HashMap::new()
    };
    let drafts = rows
        .iter()
        .map(|row| {
            Ok(BlockDraft {
                code: BlockCode::parse(&row.code)
                    .map_err(|error| Error::internal("exporting blocks", error))?,
                name: stored_name(&row.display_name)?,
                households: u32::try_from(row.households).unwrap_or(u32::MAX),
                community_name: community_names
                    .get(&row.community_code)
                    .map(|name| stored_name(name))
                    .transpose()?,
                geometry: codec::decode(row.geometry.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("exporting blocks", error))?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut collection = blocks_to_geojson(&drafts);
    for (feature, draft) in collection.features.iter_mut().zip(&drafts) {
        if let (Some(team), Some(properties)) =
            (teams.get(&draft.code), feature.properties.as_mut())
        {
            properties.insert("team".into(), team_json(team));
        }
    }
    let (geojson, feature_count, next_page_token) = export_page(collection, &codes, more, &query);
    Ok(api::ExportGeoJsonResponse {
        geojson,
        feature_count,
        generation: generation_name(generation.id),
        next_page_token,
    })
}

fn stored_name(text: &str) -> Result<PlaceName, Error> {
    PlaceName::parse(text).map_err(|error| Error::internal("reading a stored name", error))
}

/// A team as the `team` property ImportBlocks reads.
pub(super) fn team_json(team: &Team) -> Value {
    let mut object = Map::new();
    object.insert(
        "governor".into(),
        Value::String(team.governor().to_string()),
    );
    object.insert(
        "assistants".into(),
        Value::Array(
            team.assistants()
                .iter()
                .map(|assistant| {
                    serde_json::json!({"staff": assistant.staff.as_str(), "role": assistant.role.as_str()})
                })
                .collect(),
        ),
    );
    object.insert(
        "supervisor".into(),
        Value::String(team.supervisor().to_string()),
    );
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature_of(bytes: usize) -> geojson::Feature {
        let mut properties = geojson::JsonObject::new();
        properties.insert("padding".into(), Value::String("x".repeat(bytes)));
        geojson::Feature {
            properties: Some(properties),
            ..Default::default()
        }
    }

    #[test]
    fn a_page_stops_at_its_byte_budget_but_always_carries_one_feature() {
        let small = vec![feature_of(10), feature_of(10), feature_of(10)];
        assert_eq!(features_within_budget(&small), 3);
        let large = vec![
            feature_of(EXPORT_PAGE_BYTES / 2),
            feature_of(EXPORT_PAGE_BYTES / 2),
            feature_of(10),
        ];
        assert_eq!(features_within_budget(&large), 1);
        let huge = vec![feature_of(EXPORT_PAGE_BYTES * 2)];
        assert_eq!(features_within_budget(&huge), 1, "never an empty page");
    }

    #[test]
    fn a_page_cut_by_its_budget_continues_after_its_last_feature() {
        let query = ListQuery::new("export blocks test");
        let keys: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let collection = geojson::FeatureCollection {
            bbox: None,
            features: vec![
                feature_of(EXPORT_PAGE_BYTES / 2),
                feature_of(EXPORT_PAGE_BYTES / 2),
                feature_of(10),
            ],
            foreign_members: None,
        };
        let (_, count, token) = export_page(collection, &keys, false, &query);
        assert_eq!(count, 1);
        assert_eq!(query.key_in(&token).expect("ours"), Some("a".to_owned()));
        let last = geojson::FeatureCollection {
            bbox: None,
            features: vec![feature_of(10)],
            foreign_members: None,
        };
        let (_, count, token) = export_page(last, &keys[2..], false, &query);
        assert_eq!((count, token.as_str()), (1, ""), "the last page");
    }
}
