//! Which block is this point in, and what is this block: locate, get and
//! list blocks. The map of the generations that were in force is public; a
//! draft only to the administrators it concerns, and only its blocks within
//! their jurisdiction. Team names and phones are shaped by
//! [`crate::privacy::Viewer`].
//!
//! Current lookups are answered from the in-memory snapshot (index,
//! attributes and teams); historical ones from a lazily built index of the
//! generation in force then and the team history. Contacts and geometry,
//! when a view asks for them, are read from the database.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::{Blocks, Page, Paging, no_such_generation, nothing_in_force, stored_geometry_json};
use crate::domain::team::{AssistantRole, StaffId, Team};
use crate::error::Error;
use crate::privacy::Viewer;
use crate::reach::{Places, StaffReach};
use crate::resources::{GenerationRef, Parent, generation_name};
use crate::snapshot::BlockRecord;
use crate::store;
use crate::store::generations::{BlockFilter, GenerationRow};
use crate::store::staff::StaffRow;
use flatgov_vocabulary::BlockCode;

/// Most points one LocatePoints call may carry.
pub const MAX_POINTS: usize = 10_000;

/// How much of a block an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Attributes and the team as staff ids and posts.
    Basic,
    /// Plus each member's name, unit and phone as the caller may see them.
    Contacts,
    /// Plus the block's geometry.
    Full,
}

impl View {
    fn wants_contacts(self) -> bool {
        matches!(self, View::Contacts | View::Full)
    }
}

/// What a lookup resolves against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The generation in force, from the snapshot.
    Now,
    /// The generation and teams in force at an instant (a future one is now).
    At(DateTime<Utc>),
    /// Exactly this generation, whatever this replica's snapshot holds.
    Generation(GenerationRef),
}

/// A block, its generation and its team.
#[derive(Debug, Clone)]
pub struct BlockData {
    /// The generation the block belongs to.
    pub generation: Uuid,
    /// Its attributes.
    pub record: BlockRecord,
    /// Its team, when it has one.
    pub team: Option<Team>,
}

/// The post a team member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    Governor,
    Assistant(AssistantRole),
    Supervisor,
}

/// One team member with the contact details the caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMember {
    pub staff: StaffId,
    pub post: Post,
    /// Empty unless the caller sees names.
    pub display_name: String,
    /// Empty unless the caller sees names.
    pub unit: String,
    /// Empty unless the caller sees this phone.
    pub phone: String,
    /// A phone number exists but is withheld from the caller.
    pub phone_withheld: bool,
}

/// A block as one caller sees it in one view.
#[derive(Debug, Clone)]
pub struct SeenBlock {
    pub data: BlockData,
    /// GeoJSON of its geometry, in the full view.
    pub geometry_geojson: Option<String>,
    /// Its team's members, in the contacts and full views.
    pub members: Option<Vec<SeenMember>>,
}

/// A block by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBlock {
    pub code: BlockCode,
    pub target: Target,
    pub view: View,
}

/// A list of a generation's blocks under a place.
#[derive(Debug, Clone)]
pub struct ListBlocks {
    pub parent: Parent,
    /// `None` for the generation in force.
    pub generation: Option<GenerationRef>,
    pub view: View,
    pub paging: Paging,
}

/// NOT_FOUND for a draft block the caller does not see or a code the
/// generation lacks.
fn block_not_in(code: BlockCode, generation: Uuid) -> Error {
    Error::NotFound(format!(
        "block {code} is not in {}",
        generation_name(generation)
    ))
}

/// Where the caller may read the blocks of `generation`: anywhere in the
/// generations that were in force (the public map); in a draft, only where
/// an administrator it concerns reaches. A draft the caller may not see at
/// all is answered as one that does not exist.
pub(crate) fn readable_places(
    access: &Access,
    generation: &GenerationRow,
) -> Result<Places, Error> {
    if matches!(generation.state.as_str(), "active" | "retired") {
        return Ok(Places::Everywhere);
    }
    let reach = StaffReach::of(access);
    if !reach.generation(generation).is_visible() {
        return Err(no_such_generation(generation.id));
    }
    Ok(reach.draft_places())
}

/// The generation a read names, `None` meaning the one in force.
pub(crate) async fn resolve_generation(
    blocks: &Blocks,
    connection: &mut sqlx::PgConnection,
    reference: Option<GenerationRef>,
) -> Result<GenerationRow, Error> {
    let id = match reference {
        Some(GenerationRef::Id(id)) => id,
        None | Some(GenerationRef::Active) => blocks
            .snapshot
            .snapshot()
            .active
            .as_ref()
            .map(|active| active.id)
            .ok_or_else(nothing_in_force)?,
    };
    store::generations::get_generation(connection, id, false)
        .await?
        .ok_or_else(|| no_such_generation(id))
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

async fn history_teams(
    connection: &mut sqlx::PgConnection,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<HashMap<BlockCode, Team>, Error> {
    to_teams(store::teams::teams_at(connection, codes, at).await?)
}

/// The teams of `codes` as that generation shows them: in force for the
/// active one, as set (or to be carried over) for a draft, as they were
/// when it was retired for a retired one.
pub(crate) async fn generation_teams(
    blocks: &Blocks,
    connection: &mut sqlx::PgConnection,
    generation: &GenerationRow,
    codes: &[String],
) -> Result<HashMap<BlockCode, Team>, Error> {
    match generation.state.as_str() {
        "active" => {
            to_teams(store::teams::load_teams(connection, generation.id, None, Some(codes)).await?)
        }
        "draft" => {
            let mut teams = to_teams(
                store::teams::load_teams(connection, generation.id, None, Some(codes)).await?,
            )?;
            if let Some(active) = blocks.snapshot.snapshot().active.as_ref() {
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
                            .await?,
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

/// Where each point falls: the generation searched, the instant asked about
/// and, per point, the block.
struct Located {
    generation: Uuid,
    at: Option<DateTime<Utc>>,
    blocks: Vec<Option<BlockData>>,
}

/// The instant asked about, `None` when it is `now` or later.
fn past(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (at < now).then_some(at)
}

async fn locate(
    blocks: &Blocks,
    access: &Access,
    points: &[(f64, f64)],
    target: Target,
) -> Result<Located, Error> {
    let snapshot = blocks.snapshot.snapshot();
    let in_force = snapshot.active.as_ref().map(|active| active.id);
    let asked = match target {
        Target::At(at) => past(at, blocks.clock.now()).map_or(Target::Now, Target::At),
        Target::Generation(GenerationRef::Active) => Target::Now,
        Target::Generation(GenerationRef::Id(id)) if Some(id) == in_force => Target::Now,
        other => other,
    };
    let (generation, at) = match asked {
        Target::Now | Target::Generation(GenerationRef::Active) => {
            let active = snapshot.active.clone().ok_or_else(nothing_in_force)?;
            let located = points
                .iter()
                .map(|&(longitude, latitude)| {
                    let code = active.index.locate(longitude, latitude)?;
                    let record = active.blocks.get(code)?.clone();
                    Some(BlockData {
                        generation: active.id,
                        team: snapshot.teams.get(code).cloned(),
                        record,
                    })
                })
                .collect();
            return Ok(Located {
                generation: active.id,
                at: None,
                blocks: located,
            });
        }
        Target::Generation(GenerationRef::Id(id)) => (id, None),
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
    let mut connection = store::connection(&blocks.pool, "locating in a past generation").await?;
    let mut places = Places::Everywhere;
    let row = if at.is_none() {
        let row = store::generations::get_generation(&mut connection, generation, false)
            .await?
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
    let index = blocks.snapshot.generation_index(generation).await?;
    let mut records: Vec<Option<BlockRecord>> = points
        .iter()
        .map(|&(longitude, latitude)| {
            let code = index.index.locate(longitude, latitude)?;
            // A draft block the caller may not see is land outside every block.
            if !places.contains(code.as_ref()) {
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
        (Some(row), _) => generation_teams(blocks, &mut connection, row, &codes).await?,
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
                })
            })
            .collect(),
    })
}

/// The members of `team` of the block `block_code` as `viewer` sees them,
/// noting on the audit trail whose name or phone was shown.
fn seen_members(
    access: &Access,
    viewer: &Viewer,
    roster: &HashMap<String, StaffRow>,
    block_code: &str,
    team: &Team,
) -> Vec<SeenMember> {
    let names_visible = viewer.sees_team_names(block_code);
    let member = |staff: &StaffId, post: Post| {
        let row = roster.get(staff.as_str());
        let places: Vec<&str> = row
            .and_then(|row| row.division_code.as_deref())
            .into_iter()
            .chain(std::iter::once(block_code))
            .collect();
        let phone_visible = viewer.sees_phone(staff.as_str(), places);
        let phone = row.and_then(|row| row.phone.clone());
        if row.is_some() && (names_visible || phone_visible) {
            access.audit().resource(format!("staff/{staff}"));
        }
        SeenMember {
            staff: staff.clone(),
            post,
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
    let mut members = vec![member(team.governor(), Post::Governor)];
    for assistant in team.assistants() {
        members.push(member(&assistant.staff, Post::Assistant(assistant.role)));
    }
    members.push(member(team.supervisor(), Post::Supervisor));
    members
}

/// Adds what the view asks for beyond the basics (geometry, team contacts
/// as this caller may see them) and notes on the audit trail the blocks
/// answered.
async fn seen_blocks(
    blocks: &Blocks,
    access: &Access,
    view: View,
    found: Vec<BlockData>,
) -> Result<Vec<SeenBlock>, Error> {
    for block in &found {
        access
            .audit()
            .resource(format!("blocks/{}", block.record.code));
    }
    if !view.wants_contacts() {
        // Ids and posts only: nothing personal to record (intake's lookups).
        access.audit().nothing_personal();
        return Ok(found
            .into_iter()
            .map(|data| SeenBlock {
                data,
                geometry_geojson: None,
                members: None,
            })
            .collect());
    }
    let mut connection = store::connection(&blocks.pool, "reading block details").await?;
    let mut geometries: HashMap<(Uuid, String), Vec<u8>> = HashMap::new();
    if view == View::Full {
        let mut by_generation: HashMap<Uuid, Vec<String>> = HashMap::new();
        for block in &found {
            by_generation
                .entry(block.generation)
                .or_default()
                .push(block.record.code.to_string());
        }
        for (generation, codes) in by_generation {
            for (code, bytes) in
                store::generations::geometries(&mut connection, generation, &codes).await?
            {
                geometries.insert((generation, code), bytes);
            }
        }
    }
    let staff_ids: Vec<String> = found
        .iter()
        .filter_map(|block| block.team.as_ref())
        .flat_map(|team| team.members().map(ToString::to_string))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let roster = store::staff::staff_by_ids(&mut connection, &staff_ids).await?;
    let viewer = Viewer::of(access);
    let seen = found
        .into_iter()
        .map(|data| {
            let code = data.record.code.to_string();
            let geometry_geojson = geometries
                .get(&(data.generation, code.clone()))
                .map(|bytes| stored_geometry_json(bytes))
                .transpose()?;
            let members = data
                .team
                .as_ref()
                .map(|team| seen_members(access, &viewer, &roster, &code, team));
            Ok(SeenBlock {
                data,
                geometry_geojson,
                members,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    // No one's name or phone was shown to this caller: nothing personal to record.
    let shown_someone = access
        .audit()
        .resources()
        .iter()
        .any(|resource| resource.starts_with("staff/"));
    if !shown_someone {
        access.audit().nothing_personal();
    }
    Ok(seen)
}

pub async fn locate_point(
    blocks: &Blocks,
    access: &Access,
    point: (f64, f64),
    target: Target,
    view: View,
) -> Result<SeenBlock, Error> {
    let located = locate(blocks, access, &[point], target).await?;
    let Some(block) = located.blocks.into_iter().next().flatten() else {
        let (longitude, latitude) = point;
        return Err(Error::NotFound(format!(
            "point ({longitude}, {latitude}) is outside every block of {}{}",
            generation_name(located.generation),
            located
                .at
                .map(|at| format!(" (in force at {})", at.to_rfc3339()))
                .unwrap_or_default()
        )));
    };
    let mut seen = seen_blocks(blocks, access, view, vec![block]).await?;
    seen.pop()
        .ok_or_else(|| Error::internal("locating a point", "no block answered"))
}

/// The block of each point, in order; `None` where no block holds it.
pub async fn locate_points(
    blocks: &Blocks,
    access: &Access,
    points: &[(f64, f64)],
    target: Target,
    view: View,
) -> Result<Vec<Option<SeenBlock>>, Error> {
    let located = locate(blocks, access, points, target).await?;
    let found_at: Vec<usize> = located
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(index, block)| block.is_some().then_some(index))
        .collect();
    let found: Vec<BlockData> = located.blocks.into_iter().flatten().collect();
    let seen = seen_blocks(blocks, access, view, found).await?;
    let mut answers: Vec<Option<SeenBlock>> = vec![None; points.len()];
    for (index, block) in found_at.into_iter().zip(seen) {
        answers[index] = Some(block);
    }
    Ok(answers)
}

pub async fn get(blocks: &Blocks, access: &Access, get: GetBlock) -> Result<SeenBlock, Error> {
    let code = get.code;
    let mut connection = store::connection(&blocks.pool, "reading a block").await?;
    let (generation, at) = match get.target {
        Target::At(at) if past(at, blocks.clock.now()).is_some() => {
            let span = blocks
                .snapshot
                .snapshot()
                .generation_at(at)
                .ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "no boundary generation was in force at {}",
                        at.to_rfc3339()
                    ))
                })?;
            let row = resolve_generation(blocks, &mut connection, Some(GenerationRef::Id(span.id)))
                .await?;
            (row, Some(at))
        }
        Target::Generation(reference) => (
            resolve_generation(blocks, &mut connection, Some(reference)).await?,
            None,
        ),
        Target::Now | Target::At(_) => (
            resolve_generation(blocks, &mut connection, None).await?,
            None,
        ),
    };
    let places = readable_places(access, &generation)?;
    let stored = if places.contains(code.as_ref()) {
        store::generations::get_block(&mut connection, generation.id, code.as_ref(), false).await?
    } else {
        None
    };
    let Some(row) = stored else {
        let mut message = block_not_in(code, generation.id).to_string();
        if generation.state == "active"
            && let Some((last, valid_to)) =
                store::generations::last_generation_with_block(&mut connection, code.as_ref())
                    .await?
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
        None => generation_teams(blocks, &mut connection, &generation, &codes).await?,
    };
    drop(connection);
    let data = BlockData {
        generation: generation.id,
        record: BlockRecord::from_row(&row)?,
        team: teams.remove(&code),
    };
    let mut seen = seen_blocks(blocks, access, get.view, vec![data]).await?;
    seen.pop()
        .ok_or_else(|| Error::internal("reading a block", "no block answered"))
}

/// A page of blocks and how many match across all pages.
pub async fn list(
    blocks: &Blocks,
    access: &Access,
    list: &ListBlocks,
) -> Result<(Page<SeenBlock>, u32), Error> {
    let mut connection = store::connection(&blocks.pool, "listing blocks").await?;
    let generation = resolve_generation(blocks, &mut connection, list.generation).await?;
    let places = readable_places(access, &generation)?;
    let reached = places.like_patterns();
    let prefix = list.parent.prefix();
    let filter = BlockFilter {
        prefix: &prefix,
        reached: reached.as_deref(),
    };
    let rows = store::generations::list_blocks(
        &mut connection,
        generation.id,
        filter,
        list.paging.page.after.as_deref(),
        list.paging.page.size.fetch_limit(),
        false,
    )
    .await?;
    let total = store::generations::count_blocks(&mut connection, generation.id, filter).await?;
    let page = list.paging.page_of(rows, |row| row.code.clone());
    let codes: Vec<String> = page.items.iter().map(|row| row.code.clone()).collect();
    let mut teams = generation_teams(blocks, &mut connection, &generation, &codes).await?;
    drop(connection);
    let found = page
        .items
        .iter()
        .map(|row| {
            let record = BlockRecord::from_row(row)?;
            Ok(BlockData {
                generation: generation.id,
                team: teams.remove(&record.code),
                record,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let seen = seen_blocks(blocks, access, list.view, found).await?;
    Ok((
        Page {
            items: seen,
            next_page_token: page.next_page_token,
        },
        u32::try_from(total).unwrap_or(u32::MAX),
    ))
}
