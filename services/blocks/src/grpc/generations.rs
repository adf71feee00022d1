//! Boundary generations: parse, run the use case, render.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::timestamp;
use flatgov_proto::blocks::v1 as api;
use serde_json::Value;
use uuid::Uuid;

use super::RegistryService;
use super::parse::{self, checked, team_from_message};
use super::render;
use crate::application::generations::{
    self, GivenTeam, ImportBlocks, ListGenerations, ValidateGeneration, ValidationOverrides,
};
use crate::application::{activation, geometry_json};
use crate::domain::import::parse_block_collection;
use crate::domain::team_import::parse_feature_teams;
use crate::domain::validation::{Finding, Severity, SubdistrictReport, ValidationReport};
use crate::error::Error;
use crate::resources::{self, GenerationRef, generation_name};
use flatgov_vocabulary::{BlockCode, SubdistrictCode};

/// The teams of an import: the features' `team` properties and the
/// request's `teams`, each block at most once.
fn given_teams(
    violations: &mut Violations,
    document: &Value,
    assignments: &[api::BlockTeamAssignment],
) -> BTreeMap<BlockCode, GivenTeam> {
    let mut teams: BTreeMap<BlockCode, GivenTeam> = BTreeMap::new();
    match parse_feature_teams(document) {
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
        Err(problems) => violations.extend(parse::import_violations(&problems)),
    }
    for (index, assignment) in assignments.iter().enumerate() {
        let Some(code) = violations.check(
            format!("teams[{index}].block_code"),
            resources::block_code(&assignment.block_code),
        ) else {
            continue;
        };
        let field = format!("teams[{index}].team");
        let Some(team) = &assignment.team else {
            violations.add(field, "required");
            continue;
        };
        match team_from_message(&field, team) {
            Ok(team) => {
                if let Some(earlier) = teams.get(&code) {
                    violations.add(
                        format!("teams[{index}].block_code"),
                        format!("block {code} already has a team in {}", earlier.field),
                    );
                } else {
                    teams.insert(code, GivenTeam { field, team });
                }
            }
            Err(found) => violations.extend(found),
        }
    }
    teams
}

impl TryFrom<api::ImportBlocksRequest> for ImportBlocks {
    type Error = Error;

    fn try_from(request: api::ImportBlocksRequest) -> Result<Self, Error> {
        let fingerprint = Fingerprint::of(&request);
        let document: Value = serde_json::from_str(&request.geojson)
            .map_err(|error| Error::invalid("geojson", format!("not valid JSON: {error}")))?;
        let mut violations = Violations::new();
        let drafts = match parse_block_collection(&document) {
            Ok(drafts) => drafts,
            Err(errors) => {
                violations.extend(parse::import_violations(&errors.problems));
                Vec::new()
            }
        };
        let teams = given_teams(&mut violations, &document, &request.teams);
        let scope: Vec<SubdistrictCode> = request
            .subdistricts
            .iter()
            .enumerate()
            .filter_map(|(index, name)| {
                violations.check(
                    format!("subdistricts[{index}]"),
                    resources::subdistrict(name),
                )
            })
            .collect();
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        violations.finish()?;

        // With no problems, drafts[i] is features[i]: check them together.
        if drafts.is_empty() && scope.is_empty() {
            return Err(Error::invalid(
                "features",
                "a generation needs at least one block (to empty a subdistrict, import it by name in `subdistricts` with no features)",
            ));
        }
        let mut violations = Violations::new();
        let draft_codes: HashSet<BlockCode> = drafts.iter().map(|draft| draft.code).collect();
        for (code, given) in &teams {
            if !draft_codes.contains(code) {
                violations.add(
                    given.field.replace(".team", ".block_code"),
                    format!("block {code} is not in this import's FeatureCollection"),
                );
            }
        }
        if !scope.is_empty() {
            for (index, draft) in drafts.iter().enumerate() {
                if !scope.contains(&draft.code.subdistrict()) {
                    violations.add(
                        format!("features[{index}].properties.code"),
                        format!(
                            "block {} lies in subdistrict {}, which is not among this import's subdistricts",
                            draft.code,
                            draft.code.subdistrict()
                        ),
                    );
                }
            }
        }
        violations.finish()?;
        Ok(Self {
            drafts,
            teams,
            scope,
            description: request.description,
            request_id,
            fingerprint,
        })
    }
}

impl TryFrom<api::ListGenerationsRequest> for ListGenerations {
    type Error = Error;

    fn try_from(request: api::ListGenerationsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let state = violations.check(
            "state",
            match api::GenerationState::try_from(request.state) {
                Ok(api::GenerationState::Unspecified) => Ok(None),
                Ok(api::GenerationState::Draft) => Ok(Some("draft")),
                Ok(api::GenerationState::Active) => Ok(Some("active")),
                Ok(api::GenerationState::Retired) => Ok(Some("retired")),
                Ok(api::GenerationState::Discarded) => Ok(Some("discarded")),
                Err(_) => Err(format!("unknown generation state {}", request.state)),
            },
        );
        let paging = state.and_then(|state| {
            parse::paging(
                &mut violations,
                request.page_size,
                &request.page_token,
                ListQuery::new(&format!("generations state={}", state.unwrap_or(""))),
            )
        });
        let (state, paging) = checked(violations, state.zip(paging))?;
        Ok(Self { state, paging })
    }
}

/// Validation settings for one report, each override checked.
fn overrides(
    violations: &mut Violations,
    settings: Option<&api::ValidationSettings>,
) -> ValidationOverrides {
    let Some(settings) = settings else {
        return ValidationOverrides::default();
    };
    let area_tolerance_m2 = settings.area_tolerance_m2.and_then(|tolerance| {
        violations.check(
            "settings.area_tolerance_m2",
            if tolerance.is_finite() && tolerance >= 0.0 {
                Ok(tolerance)
            } else {
                Err(format!(
                    "must be a finite area of at least 0, found {tolerance}"
                ))
            },
        )
    });
    let households_band_fraction = settings.households_band_fraction.and_then(|fraction| {
        violations.check(
            "settings.households_band_fraction",
            if (0.0..=1.0).contains(&fraction) {
                Ok(fraction)
            } else {
                Err(format!("must be between 0 and 1, found {fraction}"))
            },
        )
    });
    ValidationOverrides {
        area_tolerance_m2,
        households_target: settings.households_target,
        households_band_fraction,
    }
}

impl TryFrom<api::ValidateGenerationRequest> for ValidateGeneration {
    type Error = Error;

    fn try_from(request: api::ValidateGenerationRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let generation = violations.check("name", resources::generation(&request.name));
        let overrides = overrides(&mut violations, request.settings.as_ref());
        let generation = checked(violations, generation)?;
        Ok(Self {
            generation,
            overrides,
        })
    }
}

/// The generation a request names in `name`.
fn named(name: &str) -> Result<GenerationRef, Error> {
    let mut violations = Violations::new();
    let reference = violations.check("name", resources::generation(name));
    checked(violations, reference)
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

pub(super) async fn import_blocks(
    service: &RegistryService,
    access: &Access,
    request: api::ImportBlocksRequest,
) -> Result<api::Generation, Error> {
    let import = ImportBlocks::try_from(request)?;
    let generation = generations::import(&service.blocks, access, import).await?;
    Ok(render::generation(generation))
}

pub(super) async fn get_generation(
    service: &RegistryService,
    access: &Access,
    request: api::GetGenerationRequest,
) -> Result<api::Generation, Error> {
    let reference = named(&request.name)?;
    let generation = generations::get(&service.blocks, access, reference).await?;
    Ok(render::generation(generation))
}

pub(super) async fn list_generations(
    service: &RegistryService,
    access: &Access,
    request: api::ListGenerationsRequest,
) -> Result<api::ListGenerationsResponse, Error> {
    let list = ListGenerations::try_from(request)?;
    let page = generations::list(&service.blocks, access, &list).await?;
    Ok(api::ListGenerationsResponse {
        generations: page.items.into_iter().map(render::generation).collect(),
        next_page_token: page.next_page_token,
    })
}

pub(super) async fn validate_generation(
    service: &RegistryService,
    access: &Access,
    request: api::ValidateGenerationRequest,
) -> Result<api::ValidationReport, Error> {
    let validate = ValidateGeneration::try_from(request)?;
    let validated = generations::validate(&service.blocks, access, validate).await?;
    report_message(validated.generation, &validated.report, validated.at)
}

pub(super) async fn activate_generation(
    service: &RegistryService,
    access: &Access,
    request: api::ActivateGenerationRequest,
) -> Result<api::Generation, Error> {
    let reference = named(&request.name)?;
    let generation = activation::activate(&service.blocks, access, reference).await?;
    Ok(render::generation(generation))
}

pub(super) async fn discard_generation(
    service: &RegistryService,
    access: &Access,
    request: api::DiscardGenerationRequest,
) -> Result<api::Generation, Error> {
    let reference = named(&request.name)?;
    let generation = generations::discard(&service.blocks, access, reference).await?;
    Ok(render::generation(generation))
}
