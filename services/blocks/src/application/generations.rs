//! Boundary generations: import a draft, read and list, validate, discard.
//! Activation is [`super::activation`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::FieldViolation;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::request_id::RequestId;
use uuid::Uuid;

use super::communities::{self, NewCommunity};
use super::{Blocks, Page, Paging, finish, no_such_generation};
use crate::domain::codec;
use crate::domain::geometry::area_m2;
use crate::domain::import::{BlockDraft, SubdistrictBoundary};
use crate::domain::names::PlaceName;
use crate::domain::team::{Team, TeamFacts};
use crate::domain::validation::{self as validation, ValidationReport, ValidationSettings};
use crate::error::Error;
use crate::reach::{GenerationReach, StaffReach, require_division};
use crate::resources::{self, GenerationRef, generation_name};
use crate::store;
use crate::store::generations::{
    BlockFilter, BlockRow, GenerationFilter, GenerationRow, NewBlock, NewGeneration,
};
use flatgov_vocabulary::{BlockCode, CommunityCode, SubdistrictCode};

/// A team given with an import, with the request field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenTeam {
    /// `features[3].properties.team` or `teams[2].team`.
    pub field: String,
    pub team: Team,
}

/// A draft to import: every block and team checked, nothing read yet.
#[derive(Debug, Clone)]
pub struct ImportBlocks {
    /// The blocks of the file, in file order.
    pub drafts: Vec<BlockDraft>,
    /// Teams for blocks of the file, by block.
    pub teams: BTreeMap<BlockCode, GivenTeam>,
    /// A partial import: only these subdistricts; the others' blocks are
    /// copied from the active generation.
    pub scope: Vec<SubdistrictCode>,
    pub description: String,
    /// A retry with this id returns the first result.
    pub request_id: Option<RequestId>,
    /// The request's content, to tell a retry from another request.
    pub fingerprint: Fingerprint,
}

/// A list of generations, newest first.
#[derive(Debug, Clone)]
pub struct ListGenerations {
    /// Only this state (`draft`, `active`, `retired`, `discarded`).
    pub state: Option<&'static str>,
    pub paging: Paging,
}

/// Overrides of the configured validation settings for one report, each
/// already checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ValidationOverrides {
    pub area_tolerance_m2: Option<f64>,
    pub households_target: Option<u32>,
    pub households_band_fraction: Option<f64>,
}

impl ValidationOverrides {
    fn apply(self, base: &ValidationSettings) -> ValidationSettings {
        let mut settings = base.clone();
        if let Some(tolerance) = self.area_tolerance_m2 {
            settings.area_tolerance_m2 = tolerance;
        }
        if let Some(target) = self.households_target {
            settings.households_target = target;
        }
        if let Some(fraction) = self.households_band_fraction {
            settings.households_band_fraction = fraction;
        }
        settings
    }
}

/// A report on a generation, with settings overridden for it alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidateGeneration {
    pub generation: GenerationRef,
    pub overrides: ValidationOverrides,
}

/// A validation report of a generation.
#[derive(Debug, Clone)]
pub struct Validated {
    pub generation: Uuid,
    pub report: ValidationReport,
    pub at: DateTime<Utc>,
}

/// A generation with what of it the caller may see: who imported it only
/// for administrators (it names a colleague).
#[derive(Debug, Clone, PartialEq)]
pub struct SeenGeneration {
    pub row: GenerationRow,
    /// The caller may see `created_by`.
    pub creator_visible: bool,
}

pub(crate) fn seen(access: &Access, row: GenerationRow) -> SeenGeneration {
    SeenGeneration {
        row,
        creator_visible: StaffReach::of(access).is_admin(),
    }
}

/// NOT_FOUND when the caller does not reach `generation` at all.
pub(crate) fn require_visible(
    reach: &StaffReach,
    generation: &GenerationRow,
) -> Result<GenerationReach, Error> {
    let reached = reach.generation(generation);
    if !reached.is_visible() {
        return Err(no_such_generation(generation.id));
    }
    Ok(reached)
}

/// PERMISSION_DENIED unless the caller reaches every subdistrict a draft
/// concerns: they see it, but changing it is for administrators of all of it.
pub(crate) fn require_whole(
    reached: GenerationReach,
    generation: &GenerationRow,
) -> Result<(), Error> {
    if reached == GenerationReach::Whole {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} concerns subdistricts outside the caller's jurisdiction",
        generation_name(generation.id)
    )))
}

/// The generation a replayed import made, re-read through the same
/// visibility checks as a first read.
async fn replayed(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    resource: &str,
) -> Result<SeenGeneration, Error> {
    let id = match resources::generation(resource) {
        Ok(GenerationRef::Id(id)) => id,
        _ => {
            return Err(Error::internal(
                "replaying an import",
                format!("remembered resource {resource:?} is not a generation"),
            ));
        }
    };
    let row = store::generations::get_generation(connection, id, false)
        .await?
        .ok_or_else(|| no_such_generation(id))?;
    require_visible(&StaffReach::of(access), &row)?;
    access.audit().resource(generation_name(id));
    Ok(seen(access, row))
}

pub async fn import(
    blocks: &Blocks,
    access: &Access,
    import: ImportBlocks,
) -> Result<SeenGeneration, Error> {
    const CONTEXT: &str = "importing blocks";
    if let Some(request_id) = &import.request_id {
        let mut connection = store::connection(&blocks.pool, CONTEXT).await?;
        if let Some(resource) =
            store::calls::recall(&mut connection, access, request_id, import.fingerprint).await?
        {
            return replayed(&mut connection, access, &resource).await;
        }
    }
    // The divisions are public: an administrator elsewhere may see them but
    // not draft their blocks.
    for draft in &import.drafts {
        require_division(access, draft.code.as_ref())?;
    }
    for code in &import.scope {
        require_division(access, code.as_ref())?;
    }

    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    check_hierarchy_and_staff(
        &mut transaction,
        &import.drafts,
        &import.teams,
        &import.scope,
    )
    .await?;
    let base_generation = if import.scope.is_empty() {
        None
    } else {
        let state = store::state::read(&mut transaction).await?;
        Some(state.active_generation.ok_or_else(|| {
            Error::FailedPrecondition(
                "a partial import copies the other subdistricts' blocks from the active generation, and none is in force; import the whole district".into(),
            )
        })?)
    };
    create_new_communities(&mut transaction, access, &import.drafts).await?;
    let id = Uuid::now_v7();
    let scope_codes: Vec<String> = import.scope.iter().map(ToString::to_string).collect();
    store::generations::insert_generation(
        &mut transaction,
        &NewGeneration {
            id,
            description: import.description.trim().to_owned(),
            created_by: access.subject().to_owned(),
            base_generation,
            scope_subdistricts: scope_codes.clone(),
        },
    )
    .await?;
    if let Some(request_id) = &import.request_id {
        let remembered = store::calls::remember(
            &mut transaction,
            access,
            request_id,
            import.fingerprint,
            &generation_name(id),
        )
        .await;
        match remembered {
            Ok(()) => {}
            Err(error) if error.is_unique_violation() => {
                // The same caller's retry won the race: answer as it did.
                drop(transaction);
                let mut connection = store::connection(&blocks.pool, CONTEXT).await?;
                let resource =
                    store::calls::recall(&mut connection, access, request_id, import.fingerprint)
                        .await?
                        .ok_or(error)?;
                return replayed(&mut connection, access, &resource).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let new_blocks: Vec<NewBlock> = import
        .drafts
        .iter()
        .map(|draft| NewBlock {
            code: draft.code.to_string(),
            display_name: draft.name.as_str().to_owned(),
            households: i64::from(draft.households),
            community_code: draft.code.community().to_string(),
            subdistrict_code: draft.code.subdistrict().to_string(),
            geometry: codec::encode(&draft.geometry),
            area_m2: area_m2(&draft.geometry),
        })
        .collect();
    store::generations::insert_blocks(&mut transaction, id, &new_blocks).await?;
    if let Some(base) = base_generation {
        store::generations::copy_blocks_outside(&mut transaction, base, id, &scope_codes).await?;
    }
    let team_rows: Vec<(String, Team)> = import
        .teams
        .iter()
        .map(|(code, given)| (code.to_string(), given.team.clone()))
        .collect();
    store::teams::write_teams(&mut transaction, id, &team_rows, 0).await?;
    let row = store::generations::update_counts(&mut transaction, id).await?;
    access.audit().resource(generation_name(id));
    finish(transaction, access, CONTEXT).await?;
    tracing::info!(
        generation = %id,
        blocks = row.block_count,
        teams = team_rows.len(),
        "boundary generation drafted"
    );
    Ok(seen(access, row))
}

/// Every block's subdistrict must exist, and its community exist or be named;
/// every team member must be on the roster. All problems are reported together.
async fn check_hierarchy_and_staff(
    connection: &mut sqlx::PgConnection,
    drafts: &[BlockDraft],
    teams: &BTreeMap<BlockCode, GivenTeam>,
    scope: &[SubdistrictCode],
) -> Result<(), Error> {
    let mut violations = Vec::new();
    let mut subdistricts: Vec<String> = drafts
        .iter()
        .map(|draft| draft.code.subdistrict().to_string())
        .chain(scope.iter().map(ToString::to_string))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    subdistricts.sort();
    let existing_subdistricts =
        store::hierarchy::existing_subdistricts(connection, &subdistricts).await?;
    let communities: Vec<String> = drafts
        .iter()
        .map(|draft| draft.code.community().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let existing_communities = store::hierarchy::community_names(connection, &communities).await?;
    let mut new_names: HashMap<CommunityCode, (usize, &PlaceName)> = HashMap::new();
    for (index, draft) in drafts.iter().enumerate() {
        let field = format!("features[{index}].properties.code");
        let subdistrict = draft.code.subdistrict().to_string();
        if !existing_subdistricts.contains(&subdistrict) {
            violations.push(FieldViolation::new(
                field,
                format!(
                    "block {}: subdistrict {subdistrict} does not exist; create it (with its boundary) first",
                    draft.code
                ),
            ));
            continue;
        }
        let community = draft.code.community();
        if existing_communities.contains_key(&community.to_string()) {
            continue;
        }
        match (&draft.community_name, new_names.get(&community)) {
            (None, _) => violations.push(FieldViolation::new(
                field,
                format!(
                    "block {}: community {community} does not exist; create it first or give properties.community_name",
                    draft.code
                ),
            )),
            (Some(name), Some((first, first_name))) if name != *first_name => {
                violations.push(FieldViolation::new(
                    format!("features[{index}].properties.community_name"),
                    format!(
                        "new community {community} is named {name:?} here but {:?} in features[{first}]",
                        first_name.as_str()
                    ),
                ));
            }
            (Some(name), None) => {
                new_names.insert(community, (index, name));
            }
            (Some(_), Some(_)) => {}
        }
    }
    for (index, code) in scope.iter().enumerate() {
        if !existing_subdistricts.contains(&code.to_string()) {
            violations.push(FieldViolation::new(
                format!("subdistricts[{index}]"),
                format!("subdistrict {code} does not exist"),
            ));
        }
    }
    let staff_ids: Vec<String> = teams
        .values()
        .flat_map(|given| given.team.members().map(ToString::to_string))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let on_roster = store::staff::existing_staff(connection, &staff_ids).await?;
    for given in teams.values() {
        let team = &given.team;
        let mut check = |member: String, id: &str| {
            if !on_roster.contains(id) {
                violations.push(FieldViolation::new(
                    format!("{}.{member}", given.field),
                    format!("staff {id} is not on the roster; add them with CreateStaff or ImportStaff first"),
                ));
            }
        };
        check("governor".into(), team.governor().as_str());
        for (index, assistant) in team.assistants().iter().enumerate() {
            check(
                format!("assistants[{index}].staff"),
                assistant.staff.as_str(),
            );
        }
        check("supervisor".into(), team.supervisor().as_str());
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

/// Creates the communities an import names that the registry does not know yet.
async fn create_new_communities(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    drafts: &[BlockDraft],
) -> Result<(), Error> {
    let mut done: HashSet<CommunityCode> = HashSet::new();
    for draft in drafts {
        let community = draft.code.community();
        let Some(name) = &draft.community_name else {
            continue;
        };
        if done.insert(community) {
            // Nothing is inserted when it exists already, which is fine.
            let new = NewCommunity {
                code: community,
                display_name: name.clone(),
                display_name_en: None,
            };
            if communities::insert(connection, &new).await?.is_some() {
                access.audit().resource(format!("communities/{community}"));
            }
        }
    }
    Ok(())
}

/// The generation a request names (`generations/{id}` or `generations/active`).
pub(crate) async fn named_generation(
    connection: &mut sqlx::PgConnection,
    reference: GenerationRef,
    for_update: bool,
) -> Result<GenerationRow, Error> {
    let id = match reference {
        GenerationRef::Id(id) => id,
        GenerationRef::Active => store::state::read(connection)
            .await?
            .active_generation
            .ok_or_else(|| Error::NotFound("no generation is active".into()))?,
    };
    store::generations::get_generation(connection, id, for_update)
        .await?
        .ok_or_else(|| no_such_generation(id))
}

pub async fn get(
    blocks: &Blocks,
    access: &Access,
    reference: GenerationRef,
) -> Result<SeenGeneration, Error> {
    let mut connection = store::connection(&blocks.pool, "reading a generation").await?;
    let generation = named_generation(&mut connection, reference, false).await?;
    require_visible(&StaffReach::of(access), &generation)?;
    Ok(seen(access, generation))
}

pub async fn list(
    blocks: &Blocks,
    access: &Access,
    list: &ListGenerations,
) -> Result<Page<SeenGeneration>, Error> {
    let before = list.paging.page.after_as::<Uuid>()?;
    let reach = StaffReach::of(access);
    let filter = GenerationFilter {
        state: list.state,
        reached: reach.places().like_patterns(),
        drafts: reach.is_admin(),
    };
    let mut connection = store::connection(&blocks.pool, "listing generations").await?;
    let rows = store::generations::list_generations(
        &mut connection,
        &filter,
        before,
        list.paging.page.size.fetch_limit(),
    )
    .await?;
    let page = list.paging.page_of(rows, |row| row.id.to_string());
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|row| seen(access, row))
            .collect(),
        next_page_token: page.next_page_token,
    })
}

pub async fn validate(
    blocks: &Blocks,
    access: &Access,
    validate: ValidateGeneration,
) -> Result<Validated, Error> {
    let settings = validate.overrides.apply(&blocks.validation);
    let mut connection = store::connection(&blocks.pool, "validating a generation").await?;
    let generation = named_generation(&mut connection, validate.generation, false).await?;
    let reached = require_visible(&StaffReach::of(access), &generation)?;
    // The map that was in force is public; a draft's report is for the
    // administrators of all it concerns.
    if !matches!(generation.state.as_str(), "active" | "retired") {
        require_whole(reached, &generation)?;
    }
    if generation.state == "discarded" {
        return Err(Error::FailedPrecondition(format!(
            "{} was discarded; its blocks are gone",
            generation_name(generation.id)
        )));
    }
    let active = store::state::read(&mut connection).await?.active_generation;
    let (report, _) = validate_stored(&mut connection, &generation, active, settings).await?;
    Ok(Validated {
        generation: generation.id,
        report,
        at: blocks.clock.now(),
    })
}

pub async fn discard(
    blocks: &Blocks,
    access: &Access,
    reference: GenerationRef,
) -> Result<SeenGeneration, Error> {
    const CONTEXT: &str = "discarding a generation";
    let mut transaction = store::begin(&blocks.pool, CONTEXT).await?;
    let generation = named_generation(&mut transaction, reference, true).await?;
    let reached = require_visible(&StaffReach::of(access), &generation)?;
    access.audit().resource(generation_name(generation.id));
    match generation.state.as_str() {
        "draft" => require_whole(reached, &generation)?,
        "discarded" => return Ok(seen(access, generation)),
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{} is {other}; only a draft can be discarded",
                generation_name(generation.id)
            )));
        }
    }
    store::generations::discard(&mut transaction, generation.id).await?;
    let row = store::generations::get_generation(&mut transaction, generation.id, false)
        .await?
        .ok_or_else(|| Error::internal(CONTEXT, "generation vanished"))?;
    finish(transaction, access, CONTEXT).await?;
    Ok(seen(access, row))
}

fn decode_blocks(rows: &[BlockRow]) -> Result<Vec<BlockDraft>, Error> {
    rows.iter()
        .map(|row| {
            Ok(BlockDraft {
                code: BlockCode::parse(&row.code)
                    .map_err(|error| Error::internal("reading a stored block", error))?,
                name: PlaceName::parse(&row.display_name)
                    .map_err(|error| Error::internal("reading a stored block", error))?,
                households: u32::try_from(row.households).unwrap_or(u32::MAX),
                community_name: None,
                geometry: codec::decode(row.geometry.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("decoding a stored block", error))?,
            })
        })
        .collect()
}

async fn load_boundaries(
    connection: &mut sqlx::PgConnection,
) -> Result<Vec<SubdistrictBoundary>, Error> {
    let rows = store::hierarchy::subdistricts_with_boundary(connection).await?;
    rows.iter()
        .map(|row| {
            Ok(SubdistrictBoundary {
                code: SubdistrictCode::parse(&row.code)
                    .map_err(|error| Error::internal("reading a stored subdistrict", error))?,
                name: PlaceName::parse(&row.display_name)
                    .map_err(|error| Error::internal("reading a stored subdistrict", error))?,
                name_en: None,
                geometry: codec::decode(row.boundary.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("decoding a stored boundary", error))?,
            })
        })
        .collect()
}

/// The teams a generation's validation checks: a draft's own teams, else the
/// team of the same code in the active generation (carried over at activation).
async fn teams_for_validation(
    connection: &mut sqlx::PgConnection,
    generation: &GenerationRow,
    active: Option<Uuid>,
) -> Result<HashMap<String, store::teams::StoredTeam>, Error> {
    if generation.state == "retired" {
        let at = generation
            .retire_time
            .map(|retired| retired - Duration::microseconds(1))
            .unwrap_or_else(Utc::now);
        let rows = store::generations::list_blocks(
            connection,
            generation.id,
            BlockFilter::under(""),
            None,
            i64::MAX,
            false,
        )
        .await?;
        let codes: Vec<String> = rows.into_iter().map(|row| row.code).collect();
        return Ok(store::teams::teams_at(connection, &codes, at).await?);
    }
    let mut teams = store::teams::load_teams(connection, generation.id, None, None).await?;
    if generation.state == "draft"
        && let Some(active) = active
    {
        for (code, team) in store::teams::load_teams(connection, active, None, None).await? {
            teams.entry(code).or_insert(team);
        }
    }
    Ok(teams)
}

/// Validates a generation as stored, on a blocking thread.
pub(crate) async fn validate_stored(
    connection: &mut sqlx::PgConnection,
    generation: &GenerationRow,
    active: Option<Uuid>,
    settings: ValidationSettings,
) -> Result<(ValidationReport, Vec<BlockRow>), Error> {
    let rows = store::generations::all_blocks(connection, generation.id).await?;
    let drafts = decode_blocks(&rows)?;
    let boundaries = load_boundaries(connection).await?;
    let stored_teams = teams_for_validation(connection, generation, active).await?;
    let mut facts: HashMap<BlockCode, TeamFacts> = HashMap::with_capacity(drafts.len());
    for draft in &drafts {
        let team = match stored_teams.get(&draft.code.to_string()) {
            Some(stored) => stored
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?
                .facts(),
            // Validation reports the missing governor and supervisor.
            None => TeamFacts::default(),
        };
        facts.insert(draft.code, team);
    }
    let report = tokio::task::spawn_blocking(move || {
        validation::validate_generation(&boundaries, &drafts, &facts, &settings)
    })
    .await
    .map_err(|error| Error::internal("validating a generation", error))?;
    Ok((report, rows))
}
