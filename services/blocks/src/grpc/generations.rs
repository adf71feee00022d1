//! Boundary generations: import a draft, read and list, validate, activate, discard.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::{FieldViolation, is_unique_violation};
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;
use geo::MultiPolygon;
use serde_json::Value;
use uuid::Uuid;

use super::RegistryService;
use super::convert::{generation_message, geometry_json, team_from_message};
use super::hierarchy::{import_violations, insert_community};
use crate::domain::changes::{ChangeKind, diff_generations};
use crate::domain::codec;
use crate::domain::codes::{BlockCode, CommunityCode, SubdistrictCode};
use crate::domain::geometry::area_m2;
use crate::domain::import::{BlockDraft, SubdistrictBoundary, parse_block_collection};
use crate::domain::names::PlaceName;
use crate::domain::team::{Team, TeamFacts};
use crate::domain::team_import::parse_feature_teams;
use crate::domain::validation::{
    self as validation, Finding, Severity, SubdistrictReport, ValidationReport, ValidationSettings,
};
use crate::error::{Error, Refusal};
use crate::events;
use crate::reach::{GenerationReach, StaffReach, require_division};
use crate::resources::{self, GenerationRef, generation_name};
use crate::store;
use crate::store::generations::{
    BlockFilter, BlockRow, GenerationFilter, GenerationRow, NewBlock, NewGeneration,
};

/// A team given with an import, with the request field it came from.
struct GivenTeam {
    /// `features[3].properties.team` or `teams[2].team`.
    field: String,
    team: Team,
}

/// A generation as this caller sees it: who imported it only for
/// administrators (it names a colleague).
fn generation_for(access: &Access, row: GenerationRow) -> api::Generation {
    let mut message = generation_message(row);
    let administrator = access
        .caller()
        .is_some_and(|caller| caller.has_role(Role::DistrictAdmin));
    if !administrator {
        message.created_by = String::new();
    }
    message
}

/// NOT_FOUND for a generation: the same words whether it does not exist or
/// the caller may not see it.
fn no_such_generation(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", generation_name(id)))
}

/// The generation a replayed import made, re-read through the same
/// visibility checks as a first read.
async fn replayed_generation(
    connection: &mut sqlx::PgConnection,
    access: &Access,
    resource: &str,
) -> Result<api::Generation, Error> {
    let id = match resources::generation("request_id", resource) {
        Ok(GenerationRef::Id(id)) => id,
        _ => {
            return Err(Error::internal(
                "replaying an import",
                format!("remembered resource {resource:?} is not a generation"),
            ));
        }
    };
    let row = store::generations::get_generation(connection, id, false)
        .await
        .map_err(Error::database("replaying an import"))?
        .ok_or_else(|| no_such_generation(id))?;
    if !StaffReach::of(access).generation(&row).is_visible() {
        return Err(no_such_generation(id));
    }
    access.audit().resource(generation_name(id));
    Ok(generation_for(access, row))
}

pub(super) async fn import_blocks(
    service: &RegistryService,
    access: &Access,
    request: api::ImportBlocksRequest,
) -> Result<api::Generation, Error> {
    const CONTEXT: &str = "importing blocks";
    let fingerprint = Fingerprint::of(&request);
    let document: Value = serde_json::from_str(&request.geojson)
        .map_err(|error| Error::invalid("geojson", format!("not valid JSON: {error}")))?;
    let mut violations = Vec::new();
    let drafts = match parse_block_collection(&document) {
        Ok(drafts) => drafts,
        Err(errors) => {
            violations.extend(import_violations(&errors.problems));
            Vec::new()
        }
    };
    let mut teams: BTreeMap<BlockCode, GivenTeam> = BTreeMap::new();
    match parse_feature_teams(&document) {
        Ok(found) => {
            for feature_team in found {
                teams.insert(
                    feature_team.code,
                    GivenTeam {
                        field: format!("features[{}].properties.team", feature_team.feature_index),
                        team: feature_team.team,
                    },
                );
            }
        }
        Err(problems) => violations.extend(import_violations(&problems)),
    }
    for (index, assignment) in request.teams.iter().enumerate() {
        let code = match resources::block_code(
            &format!("teams[{index}].block_code"),
            &assignment.block_code,
        ) {
            Ok(code) => code,
            Err(Error::InvalidArgument(found)) => {
                violations.extend(found);
                continue;
            }
            Err(other) => return Err(other),
        };
        let Some(team) = &assignment.team else {
            violations.push(FieldViolation::new(
                format!("teams[{index}].team"),
                "required",
            ));
            continue;
        };
        let field = format!("teams[{index}].team");
        match team_from_message(&field, team) {
            Ok(team) => {
                if let Some(earlier) = teams.get(&code) {
                    violations.push(FieldViolation::new(
                        format!("teams[{index}].block_code"),
                        format!("block {code} already has a team in {}", earlier.field),
                    ));
                } else {
                    teams.insert(code, GivenTeam { field, team });
                }
            }
            Err(found) => violations.extend(found),
        }
    }
    let mut scope: Vec<SubdistrictCode> = Vec::with_capacity(request.subdistricts.len());
    for (index, name) in request.subdistricts.iter().enumerate() {
        match resources::subdistrict(&format!("subdistricts[{index}]"), name) {
            Ok(code) => scope.push(code),
            Err(Error::InvalidArgument(found)) => violations.extend(found),
            Err(other) => return Err(other),
        }
    }
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    // With no problems, drafts[i] is features[i].
    if drafts.is_empty() && scope.is_empty() {
        return Err(Error::invalid(
            "features",
            "a generation needs at least one block (to empty a subdistrict, import it by name in `subdistricts` with no features)",
        ));
    }
    let draft_codes: HashSet<BlockCode> = drafts.iter().map(|draft| draft.code).collect();
    for (code, given) in &teams {
        if !draft_codes.contains(code) {
            violations.push(FieldViolation::new(
                given.field.replace(".team", ".block_code"),
                format!("block {code} is not in this import's FeatureCollection"),
            ));
        }
    }
    if !scope.is_empty() {
        for (index, draft) in drafts.iter().enumerate() {
            if !scope.contains(&draft.code.subdistrict()) {
                violations.push(FieldViolation::new(
                    format!("features[{index}].properties.code"),
                    format!(
                        "block {} lies in subdistrict {}, which is not among this import's subdistricts",
                        draft.code,
                        draft.code.subdistrict()
                    ),
                ));
            }
        }
    }
    let request_id = match RequestId::parse_optional(&request.request_id) {
        Ok(request_id) => request_id,
        Err(error) => {
            violations.push(FieldViolation::new("request_id", error.to_string()));
            None
        }
    };
    if !violations.is_empty() {
        return Err(Error::InvalidArgument(violations));
    }
    if let Some(request_id) = &request_id {
        let mut connection = service.connection(CONTEXT).await?;
        if let Some(resource) =
            idempotency::recall(&mut connection, access, request_id, fingerprint)
                .await
                .map_err(super::idempotency_error(CONTEXT))?
        {
            return replayed_generation(&mut connection, access, &resource).await;
        }
    }
    // The divisions are public: an administrator elsewhere may see them but
    // not draft their blocks.
    for draft in &drafts {
        require_division(access, &draft.code.to_string())?;
    }
    for code in &scope {
        require_division(access, &code.to_string())?;
    }

    let mut transaction = service.begin(CONTEXT).await?;
    check_hierarchy_and_staff(&mut transaction, &drafts, &teams, &scope).await?;
    let base_generation = if scope.is_empty() {
        None
    } else {
        let state = store::state::read(&mut transaction)
            .await
            .map_err(Error::database(CONTEXT))?;
        Some(state.active_generation.ok_or_else(|| {
            Error::FailedPrecondition(
                "a partial import copies the other subdistricts' blocks from the active generation, and none is in force; import the whole district".into(),
            )
        })?)
    };
    create_new_communities(&mut transaction, &drafts).await?;
    let id = Uuid::now_v7();
    let scope_codes: Vec<String> = scope.iter().map(ToString::to_string).collect();
    store::generations::insert_generation(
        &mut transaction,
        &NewGeneration {
            id,
            description: request.description.trim().to_owned(),
            created_by: access
                .caller()
                .map(|caller| caller.subject.clone())
                .unwrap_or_default(),
            base_generation,
            scope_subdistricts: scope_codes.clone(),
        },
    )
    .await
    .map_err(Error::database(CONTEXT))?;
    if let Some(request_id) = &request_id {
        let remembered = idempotency::remember(
            &mut transaction,
            access,
            request_id,
            fingerprint,
            &generation_name(id),
        )
        .await;
        match remembered {
            Ok(()) => {}
            Err(error) if is_unique_violation(&error) => {
                // The same caller's retry won the race: answer as it did.
                drop(transaction);
                let mut connection = service.connection(CONTEXT).await?;
                let resource =
                    idempotency::recall(&mut connection, access, request_id, fingerprint)
                        .await
                        .map_err(super::idempotency_error(CONTEXT))?
                        .ok_or_else(|| Error::database(CONTEXT)(error))?;
                return replayed_generation(&mut connection, access, &resource).await;
            }
            Err(error) => return Err(Error::database(CONTEXT)(error)),
        }
    }
    let blocks: Vec<NewBlock> = drafts
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
    store::generations::insert_blocks(&mut transaction, id, &blocks)
        .await
        .map_err(Error::database(CONTEXT))?;
    if let Some(base) = base_generation {
        store::generations::copy_blocks_outside(&mut transaction, base, id, &scope_codes)
            .await
            .map_err(Error::database(CONTEXT))?;
    }
    let team_rows: Vec<(String, Team)> = teams
        .iter()
        .map(|(code, given)| (code.to_string(), given.team.clone()))
        .collect();
    store::teams::write_teams(&mut transaction, id, &team_rows, 0)
        .await
        .map_err(Error::database(CONTEXT))?;
    let row = store::generations::update_counts(&mut transaction, id)
        .await
        .map_err(Error::database(CONTEXT))?;
    access.audit().resource(generation_name(id));
    service.record(&mut transaction, access, CONTEXT).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database(CONTEXT))?;
    tracing::info!(
        generation = %id,
        blocks = row.block_count,
        teams = team_rows.len(),
        "boundary generation drafted"
    );
    Ok(generation_for(access, row))
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
    let existing_subdistricts = store::hierarchy::existing_subdistricts(connection, &subdistricts)
        .await
        .map_err(Error::database("checking subdistricts"))?;
    let communities: Vec<String> = drafts
        .iter()
        .map(|draft| draft.code.community().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let existing_communities = store::hierarchy::community_names(connection, &communities)
        .await
        .map_err(Error::database("checking communities"))?;
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
    let on_roster = store::staff::existing_staff(connection, &staff_ids)
        .await
        .map_err(Error::database("checking staff"))?;
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
    drafts: &[BlockDraft],
) -> Result<(), Error> {
    let mut done: HashSet<CommunityCode> = HashSet::new();
    for draft in drafts {
        let community = draft.code.community();
        let Some(name) = &draft.community_name else {
            continue;
        };
        if done.insert(community) {
            // Returns None when it exists already, which is fine.
            insert_community(connection, community, name, None).await?;
        }
    }
    Ok(())
}

/// The generation a request names (`generations/{id}` or `generations/active`).
async fn named_generation(
    connection: &mut sqlx::PgConnection,
    field: &str,
    name: &str,
    for_update: bool,
) -> Result<GenerationRow, Error> {
    let id = match resources::generation(field, name)? {
        GenerationRef::Id(id) => id,
        GenerationRef::Active => store::state::read(connection)
            .await
            .map_err(Error::database("reading the active generation"))?
            .active_generation
            .ok_or_else(|| Error::NotFound("no generation is active".into()))?,
    };
    store::generations::get_generation(connection, id, for_update)
        .await
        .map_err(Error::database("reading a generation"))?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", generation_name(id))))
}

/// NOT_FOUND when the caller does not reach `generation` at all.
fn require_visible(
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
fn require_whole(reached: GenerationReach, generation: &GenerationRow) -> Result<(), Error> {
    if reached == GenerationReach::Whole {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{} concerns subdistricts outside the caller's jurisdiction",
        generation_name(generation.id)
    )))
}

pub(super) async fn get_generation(
    service: &RegistryService,
    access: &Access,
    request: api::GetGenerationRequest,
) -> Result<api::Generation, Error> {
    let mut connection = service.connection("reading a generation").await?;
    let generation = named_generation(&mut connection, "name", &request.name, false).await?;
    require_visible(&StaffReach::of(access), &generation)?;
    Ok(generation_for(access, generation))
}

pub(super) async fn list_generations(
    service: &RegistryService,
    access: &Access,
    request: api::ListGenerationsRequest,
) -> Result<api::ListGenerationsResponse, Error> {
    let state = match api::GenerationState::try_from(request.state) {
        Ok(api::GenerationState::Unspecified) => None,
        Ok(api::GenerationState::Draft) => Some("draft"),
        Ok(api::GenerationState::Active) => Some("active"),
        Ok(api::GenerationState::Retired) => Some("retired"),
        Ok(api::GenerationState::Discarded) => Some("discarded"),
        Err(_) => {
            return Err(Error::invalid(
                "state",
                format!("unknown generation state {}", request.state),
            ));
        }
    };
    let query = ListQuery::new(&format!("generations state={}", state.unwrap_or("")));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let before = page.after_as::<Uuid>()?;
    let reach = StaffReach::of(access);
    let filter = GenerationFilter {
        state,
        reached: reach.places().like_patterns(),
        drafts: reach.is_admin(),
    };
    let mut connection = service.connection("listing generations").await?;
    let mut rows = store::generations::list_generations(
        &mut connection,
        &filter,
        before,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing generations"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    Ok(api::ListGenerationsResponse {
        generations: rows
            .into_iter()
            .map(|row| generation_for(access, row))
            .collect(),
        next_page_token,
    })
}

fn settings_from(
    base: &ValidationSettings,
    overrides: Option<&api::ValidationSettings>,
) -> Result<ValidationSettings, Error> {
    let mut settings = base.clone();
    let Some(overrides) = overrides else {
        return Ok(settings);
    };
    let mut violations = Vec::new();
    if let Some(tolerance) = overrides.area_tolerance_m2 {
        if tolerance.is_finite() && tolerance >= 0.0 {
            settings.area_tolerance_m2 = tolerance;
        } else {
            violations.push(FieldViolation::new(
                "settings.area_tolerance_m2",
                format!("must be a finite area of at least 0, found {tolerance}"),
            ));
        }
    }
    if let Some(target) = overrides.households_target {
        settings.households_target = target;
    }
    if let Some(fraction) = overrides.households_band_fraction {
        if (0.0..=1.0).contains(&fraction) {
            settings.households_band_fraction = fraction;
        } else {
            violations.push(FieldViolation::new(
                "settings.households_band_fraction",
                format!("must be between 0 and 1, found {fraction}"),
            ));
        }
    }
    if violations.is_empty() {
        Ok(settings)
    } else {
        Err(Error::InvalidArgument(violations))
    }
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
    let rows = store::hierarchy::subdistricts_with_boundary(connection)
        .await
        .map_err(Error::database("loading subdistrict boundaries"))?;
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
        .await
        .map_err(Error::database("loading blocks"))?;
        let codes: Vec<String> = rows.into_iter().map(|row| row.code).collect();
        return store::teams::teams_at(connection, &codes, at)
            .await
            .map_err(Error::database("loading teams"));
    }
    let mut teams = store::teams::load_teams(connection, generation.id, None, None)
        .await
        .map_err(Error::database("loading teams"))?;
    if generation.state == "draft"
        && let Some(active) = active
    {
        for (code, team) in store::teams::load_teams(connection, active, None, None)
            .await
            .map_err(Error::database("loading teams"))?
        {
            teams.entry(code).or_insert(team);
        }
    }
    Ok(teams)
}

/// Validates a generation as stored, on a blocking thread.
async fn validate_stored(
    connection: &mut sqlx::PgConnection,
    generation: &GenerationRow,
    active: Option<Uuid>,
    settings: ValidationSettings,
) -> Result<(ValidationReport, Vec<BlockRow>), Error> {
    let rows = store::generations::all_blocks(connection, generation.id)
        .await
        .map_err(Error::database("loading blocks"))?;
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

fn finding_message(finding: &Finding) -> Result<api::ValidationFinding, Error> {
    Ok(api::ValidationFinding {
        severity: match finding.severity() {
            Severity::Error => api::FindingSeverity::Error,
            Severity::Warning => api::FindingSeverity::Warning,
        } as i32,
        kind: finding.kind().as_str().to_owned(),
        block_codes: finding.blocks().iter().map(ToString::to_string).collect(),
        message: finding.to_string(),
        area_m2: finding.area_m2().unwrap_or_default(),
        geometry_geojson: finding
            .geometry()
            .map(geometry_json)
            .transpose()?
            .unwrap_or_default(),
    })
}

fn subdistrict_message(report: &SubdistrictReport) -> Result<api::SubdistrictValidation, Error> {
    let count = |severity: Severity| {
        u32::try_from(
            report
                .findings
                .iter()
                .filter(|finding| finding.severity() == severity)
                .count(),
        )
        .unwrap_or(u32::MAX)
    };
    Ok(api::SubdistrictValidation {
        subdistrict_code: report.code.to_string(),
        display_name: report
            .name
            .as_ref()
            .map(|name| name.as_str().to_owned())
            .unwrap_or_default(),
        land_area_m2: report.land_area_m2.unwrap_or_default(),
        block_count: u32::try_from(report.block_count).unwrap_or(u32::MAX),
        blocks_area_m2: report.blocks_area_m2,
        error_count: count(Severity::Error),
        warning_count: count(Severity::Warning),
        findings: report
            .findings
            .iter()
            .map(finding_message)
            .collect::<Result<_, _>>()?,
    })
}

fn report_message(
    generation: Uuid,
    report: &ValidationReport,
    at: DateTime<Utc>,
) -> Result<api::ValidationReport, Error> {
    let (low, high) = report.settings.households_band();
    Ok(api::ValidationReport {
        generation: generation_name(generation),
        activatable: !report.has_errors(),
        error_count: u32::try_from(report.error_count()).unwrap_or(u32::MAX),
        warning_count: u32::try_from(report.warning_count()).unwrap_or(u32::MAX),
        settings: Some(api::ValidationSettings {
            area_tolerance_m2: Some(report.settings.area_tolerance_m2),
            households_target: Some(report.settings.households_target),
            households_band_fraction: Some(report.settings.households_band_fraction),
        }),
        households_band_low: low,
        households_band_high: high,
        subdistricts: report
            .subdistricts
            .iter()
            .map(subdistrict_message)
            .collect::<Result<_, _>>()?,
        general_findings: report
            .general_findings
            .iter()
            .map(finding_message)
            .collect::<Result<_, _>>()?,
        validate_time: Some(timestamp(at)),
    })
}

pub(super) async fn validate_generation(
    service: &RegistryService,
    access: &Access,
    request: api::ValidateGenerationRequest,
) -> Result<api::ValidationReport, Error> {
    let settings = settings_from(&service.validation, request.settings.as_ref())?;
    let mut connection = service.connection("validating a generation").await?;
    let generation = named_generation(&mut connection, "name", &request.name, false).await?;
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
    let active = store::state::read(&mut connection)
        .await
        .map_err(Error::database("validating a generation"))?
        .active_generation;
    let (report, _) = validate_stored(&mut connection, &generation, active, settings).await?;
    report_message(generation.id, &report, Utc::now())
}

fn refusals(report: &ValidationReport) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let subdistrict_findings = report.subdistricts.iter().flat_map(|subdistrict| {
        subdistrict
            .findings
            .iter()
            .map(move |finding| (Some(subdistrict.code), finding))
    });
    let general = report
        .general_findings
        .iter()
        .map(|finding| (None, finding));
    for (subdistrict, finding) in subdistrict_findings.chain(general) {
        if finding.severity() != Severity::Error {
            continue;
        }
        let subject = match (finding.blocks().first(), subdistrict) {
            (Some(block), _) => format!("blocks/{block}"),
            (None, Some(subdistrict)) => format!("subdistricts/{subdistrict}"),
            (None, None) => String::new(),
        };
        refusals.push(Refusal {
            kind: finding.kind().as_str().to_owned(),
            subject,
            description: finding.to_string(),
        });
    }
    refusals
}

pub(super) async fn activate_generation(
    service: &RegistryService,
    access: &Access,
    request: api::ActivateGenerationRequest,
) -> Result<api::Generation, Error> {
    let mut transaction = service.begin("activating a generation").await?;
    let state = store::state::lock(&mut transaction)
        .await
        .map_err(Error::database("activating a generation"))?;
    let generation = named_generation(&mut transaction, "name", &request.name, true).await?;
    let reached = require_visible(&StaffReach::of(access), &generation)?;
    let name = generation_name(generation.id);
    access.audit().resource(name.clone());
    match generation.state.as_str() {
        "draft" => require_whole(reached, &generation)?,
        "active" => return Ok(generation_for(access, generation)),
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{name} is {other}; only a draft can be activated (import the blocks again to restore it)"
            )));
        }
    }
    if let Some(base) = generation.base_generation
        && state.active_generation != Some(base)
    {
        return Err(Error::FailedPrecondition(format!(
            "{name} is a partial import based on {}, which is no longer in force; import it again",
            generation_name(base)
        )));
    }
    let (report, new_rows) = validate_stored(
        &mut transaction,
        &generation,
        state.active_generation,
        service.validation.clone(),
    )
    .await?;
    // Activation replaces the whole map: every block of the new generation
    // (copied ones included) must lie in the caller's jurisdiction.
    for block in &new_rows {
        require_division(access, &block.code)?;
    }
    if report.has_errors() {
        return Err(Error::ActivationRefused {
            generation: name,
            refusals: refusals(&report),
        });
    }

    let previous = match state.active_generation {
        Some(id) => Some(
            store::generations::get_generation(&mut transaction, id, true)
                .await
                .map_err(Error::database("activating a generation"))?
                .ok_or_else(|| {
                    Error::internal("activating a generation", "active generation row missing")
                })?,
        ),
        None => None,
    };
    let previous_rows = match &previous {
        Some(previous) => store::generations::all_blocks(&mut transaction, previous.id)
            .await
            .map_err(Error::database("activating a generation"))?,
        None => Vec::new(),
    };
    let tolerance = service.validation.area_tolerance_m2;
    let old_geometries = geometries_by_code(&previous_rows)?;
    let new_geometries = geometries_by_code(&new_rows)?;
    let changes = tokio::task::spawn_blocking(move || {
        diff_generations(&old_geometries, &new_geometries, tolerance)
    })
    .await
    .map_err(|error| Error::internal("comparing generations", error))?;

    // Never earlier than the previous activation, whatever this replica's clock says.
    let now = match previous
        .as_ref()
        .and_then(|previous| previous.activate_time)
    {
        Some(last) => Utc::now().max(last + Duration::microseconds(1)),
        None => Utc::now(),
    };
    let revision = state.revision + 1;
    let changed: HashSet<String> = changes
        .iter()
        .filter(|change| change.kind != ChangeKind::Created)
        .map(|change| change.code.to_string())
        .collect();
    let previous_valid_from: HashMap<&str, Option<DateTime<Utc>>> = previous_rows
        .iter()
        .map(|row| (row.code.as_str(), row.valid_from))
        .collect();
    let codes: Vec<String> = new_rows.iter().map(|row| row.code.clone()).collect();
    let valid_from: Vec<DateTime<Utc>> = new_rows
        .iter()
        .map(|row| {
            if changed.contains(&row.code) {
                return now;
            }
            previous_valid_from
                .get(row.code.as_str())
                .copied()
                .flatten()
                .unwrap_or(now)
        })
        .collect();
    store::generations::set_valid_from(&mut transaction, generation.id, &codes, &valid_from)
        .await
        .map_err(Error::database("activating a generation"))?;
    let ended: Vec<String> = changed.iter().cloned().collect();
    store::generations::close_validity(&mut transaction, generation.id, &ended, now)
        .await
        .map_err(Error::database("activating a generation"))?;

    // Teams: the draft's own, else carried over from the same code in force.
    let previous_teams = match &previous {
        Some(previous) => store::teams::load_teams(&mut transaction, previous.id, None, None)
            .await
            .map_err(Error::database("activating a generation"))?,
        None => HashMap::new(),
    };
    if let Some(previous) = &previous {
        store::teams::copy_teams(
            &mut transaction,
            previous.id,
            generation.id,
            &codes,
            revision,
        )
        .await
        .map_err(Error::database("activating a generation"))?;
    }
    store::teams::set_revision(&mut transaction, generation.id, revision)
        .await
        .map_err(Error::database("activating a generation"))?;
    let final_teams = store::teams::load_teams(&mut transaction, generation.id, None, None)
        .await
        .map_err(Error::database("activating a generation"))?;
    let mut team_changes: Vec<(String, Team)> = Vec::new();
    for (code, stored) in &final_teams {
        if previous_teams.get(code) != Some(stored) {
            let team = stored
                .to_team()
                .map_err(|detail| Error::internal("reading a stored team", detail))?;
            team_changes.push((code.clone(), team));
        }
    }
    team_changes.sort_by(|first, second| first.0.cmp(&second.0));
    let retired_codes: Vec<String> = changes
        .iter()
        .filter(|change| change.kind == ChangeKind::Retired)
        .map(|change| change.code.to_string())
        .collect();
    // The history is only appended to: retired blocks' teams end, changed
    // teams begin (superseding the entries before them).
    store::teams::end_history(&mut transaction, &retired_codes, now)
        .await
        .map_err(Error::database("activating a generation"))?;
    store::teams::open_history(&mut transaction, &team_changes, now)
        .await
        .map_err(Error::database("activating a generation"))?;
    if let Some(previous) = &previous {
        store::teams::delete_teams(&mut transaction, previous.id)
            .await
            .map_err(Error::database("activating a generation"))?;
        store::generations::mark_retired(&mut transaction, previous.id, now)
            .await
            .map_err(Error::database("activating a generation"))?;
    }
    store::generations::mark_active(
        &mut transaction,
        generation.id,
        now,
        previous.as_ref().map(|previous| previous.id),
    )
    .await
    .map_err(Error::database("activating a generation"))?;
    events::generation_activated(
        &mut transaction,
        generation.id,
        previous.as_ref().map(|previous| previous.id),
        now,
        &changes,
    )
    .await
    .map_err(Error::database("activating a generation"))?;
    for (code, team) in &team_changes {
        let code = BlockCode::parse(code)
            .map_err(|error| Error::internal("activating a generation", error))?;
        events::team_changed(&mut transaction, code, team, now)
            .await
            .map_err(Error::database("activating a generation"))?;
    }
    let bumped = store::state::bump(&mut transaction, Some(generation.id))
        .await
        .map_err(Error::database("activating a generation"))?;
    if bumped != revision {
        return Err(Error::internal(
            "activating a generation",
            format!("revision moved from {revision} to {bumped} under the lock"),
        ));
    }
    service
        .record(&mut transaction, access, "activating a generation")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("activating a generation"))?;
    tracing::info!(
        generation = %generation.id,
        previous = ?previous.as_ref().map(|previous| previous.id),
        changes = changes.len(),
        teams_changed = team_changes.len(),
        "boundary generation activated"
    );
    if let Err(error) = service.registry.refresh().await {
        // Committed; the refresher will catch up within one poll interval.
        tracing::warn!(%error, "cannot refresh the lookup snapshot after activation");
    }
    let mut connection = service.connection("activating a generation").await?;
    let row = store::generations::get_generation(&mut connection, generation.id, false)
        .await
        .map_err(Error::database("activating a generation"))?
        .ok_or_else(|| Error::internal("activating a generation", "generation vanished"))?;
    Ok(generation_for(access, row))
}

fn geometries_by_code(rows: &[BlockRow]) -> Result<BTreeMap<BlockCode, MultiPolygon<f64>>, Error> {
    rows.iter()
        .map(|row| {
            Ok((
                BlockCode::parse(&row.code)
                    .map_err(|error| Error::internal("reading a stored block", error))?,
                codec::decode(row.geometry.as_deref().unwrap_or_default())
                    .map_err(|error| Error::internal("decoding a stored block", error))?,
            ))
        })
        .collect()
}

pub(super) async fn discard_generation(
    service: &RegistryService,
    access: &Access,
    request: api::DiscardGenerationRequest,
) -> Result<api::Generation, Error> {
    let mut transaction = service.begin("discarding a generation").await?;
    let generation = named_generation(&mut transaction, "name", &request.name, true).await?;
    let reached = require_visible(&StaffReach::of(access), &generation)?;
    access.audit().resource(generation_name(generation.id));
    match generation.state.as_str() {
        "draft" => require_whole(reached, &generation)?,
        "discarded" => return Ok(generation_for(access, generation)),
        other => {
            return Err(Error::FailedPrecondition(format!(
                "{} is {other}; only a draft can be discarded",
                generation_name(generation.id)
            )));
        }
    }
    store::generations::discard(&mut transaction, generation.id)
        .await
        .map_err(Error::database("discarding a generation"))?;
    let row = store::generations::get_generation(&mut transaction, generation.id, false)
        .await
        .map_err(Error::database("discarding a generation"))?
        .ok_or_else(|| Error::internal("discarding a generation", "generation vanished"))?;
    service
        .record(&mut transaction, access, "discarding a generation")
        .await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("discarding a generation"))?;
    Ok(generation_for(access, row))
}
