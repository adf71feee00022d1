//! Reading request fields into the registry's values. Each parser files
//! what is wrong under the request field it read (`Violations`), so a
//! request's parse names every problem at once, before any I/O.

use std::fmt::Display;

use flatgov_grpc::error::{FieldViolation, Violations};
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_proto::blocks::v1 as api;

use crate::application::Paging;
use crate::application::blocks::View;
use crate::application::subdistricts::Boundary;
use crate::domain::geometry::parse_geometry;
use crate::domain::import::ImportProblem;
use crate::domain::names::PlaceName;
use crate::domain::team::{Assistant, AssistantRole, StaffId, Team, TeamInput};
use crate::error::Error;
use crate::resources::{self, GenerationRef};
use flatgov_vocabulary::CodeError;

/// The value of a request whose parse found nothing wrong.
pub fn checked<T>(violations: Violations, value: Option<T>) -> Result<T, Error> {
    violations.finish()?;
    value.ok_or_else(|| Error::internal("parsing a request", "a checked field went missing"))
}

/// A required place name.
pub fn place_name(value: &str) -> Result<PlaceName, String> {
    PlaceName::parse(value).map_err(|error| error.to_string())
}

/// An optional place name: blank is none.
pub fn optional_place_name(value: &str) -> Result<Option<PlaceName>, String> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    place_name(value).map(Some)
}

/// The code a resource in a request names, from its `name` or `code`
/// (which must agree when both are set), under `field` (`district`, …).
pub fn division_code<Code: PartialEq + Copy + Display>(
    violations: &mut Violations,
    field: &str,
    name: &str,
    code: &str,
    from_name: impl Fn(&str) -> Result<Code, String>,
    from_code: impl Fn(&str) -> Result<Code, CodeError>,
) -> Option<Code> {
    let by_name = if name.is_empty() {
        None
    } else {
        Some(violations.check(format!("{field}.name"), from_name(name))?)
    };
    let by_code = if code.is_empty() {
        None
    } else {
        Some(violations.check(format!("{field}.code"), from_code(code))?)
    };
    match (by_name, by_code) {
        (Some(first), Some(second)) if first != second => {
            violations.add(
                format!("{field}.code"),
                format!("code {second} disagrees with name {name}"),
            );
            None
        }
        (Some(code), _) | (None, Some(code)) => Some(code),
        (None, None) => {
            violations.add(
                format!("{field}.name"),
                "required: the resource name (or the code)",
            );
            None
        }
    }
}

/// The paths an update touches, each one of `allowed`: all of them when
/// the mask is empty.
pub fn mask_paths(
    violations: &mut Violations,
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&'static str],
) -> Vec<&'static str> {
    let Some(mask) = mask.filter(|mask| !mask.paths.is_empty()) else {
        return allowed.to_vec();
    };
    let mut paths = Vec::with_capacity(mask.paths.len());
    for (index, path) in mask.paths.iter().enumerate() {
        match allowed.iter().find(|known| **known == path.as_str()) {
            Some(known) => paths.push(*known),
            None => violations.add(
                format!("update_mask.paths[{index}]"),
                format!(
                    "{path:?} cannot be updated; updatable: {}",
                    allowed.join(", ")
                ),
            ),
        }
    }
    paths
}

/// A subdistrict's land from GeoJSON text (blank is none), every geometry
/// problem filed under its path below `field`.
pub fn boundary(violations: &mut Violations, field: &str, text: &str) -> Option<Option<Boundary>> {
    if text.trim().is_empty() {
        return Some(None);
    }
    let value: serde_json::Value = violations.check(
        field,
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}")),
    )?;
    match parse_geometry(&value, field) {
        Ok(geometry) => Some(Some(Boundary::of(&geometry))),
        Err(errors) => {
            violations.extend(
                errors
                    .0
                    .iter()
                    .map(|error| FieldViolation::new(error.path.clone(), error.kind.to_string())),
            );
            None
        }
    }
}

/// Field violations for problems found in an import file.
pub fn import_violations(problems: &[ImportProblem]) -> Vec<FieldViolation> {
    problems
        .iter()
        .map(|problem| {
            let field = if problem.field.is_empty() {
                "geojson".to_owned()
            } else {
                problem.field.clone()
            };
            let description = match &problem.code {
                Some(code) if !problem.message.contains(code.as_str()) => {
                    format!("(feature with code {code:?}) {}", problem.message)
                }
                _ => problem.message.clone(),
            };
            FieldViolation::new(field, description)
        })
        .collect()
}

/// A list's paging fields, its tokens bound to `query`.
pub fn paging(
    violations: &mut Violations,
    page_size: i32,
    page_token: &str,
    query: ListQuery,
) -> Option<Paging> {
    match PageRequest::parse(page_size, page_token, &query) {
        Ok(page) => Some(Paging { page, query }),
        Err(found) => {
            violations.extend(found);
            None
        }
    }
}

/// `generations/{id}` or `generations/active`; empty is `None` (the one in force).
pub fn optional_generation(name: &str) -> Result<Option<GenerationRef>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    resources::generation(name).map(Some)
}

/// How much of a block to answer with; unset or unknown is the basic view.
pub fn view(value: i32) -> View {
    match api::BlockView::try_from(value) {
        Ok(api::BlockView::Contacts) => View::Contacts,
        Ok(api::BlockView::Full) => View::Full,
        Ok(api::BlockView::Basic | api::BlockView::Unspecified) | Err(_) => View::Basic,
    }
}

pub fn assistant_role_message(role: AssistantRole) -> api::AssistantRole {
    match role {
        AssistantRole::LiaisonCadre => api::AssistantRole::LiaisonCadre,
        AssistantRole::PartyGroupLeader => api::AssistantRole::PartyGroupLeader,
        AssistantRole::OwnersCommitteeMember => api::AssistantRole::OwnersCommitteeMember,
        AssistantRole::ResidentRepresentative => api::AssistantRole::ResidentRepresentative,
    }
}

fn assistant_role(value: i32) -> Result<AssistantRole, String> {
    match api::AssistantRole::try_from(value) {
        Ok(api::AssistantRole::LiaisonCadre) => Ok(AssistantRole::LiaisonCadre),
        Ok(api::AssistantRole::PartyGroupLeader) => Ok(AssistantRole::PartyGroupLeader),
        Ok(api::AssistantRole::OwnersCommitteeMember) => Ok(AssistantRole::OwnersCommitteeMember),
        Ok(api::AssistantRole::ResidentRepresentative) => Ok(AssistantRole::ResidentRepresentative),
        Ok(api::AssistantRole::Unspecified) | Err(_) => Err(format!(
            "must be one of LIAISON_CADRE, PARTY_GROUP_LEADER, OWNERS_COMMITTEE_MEMBER, RESIDENT_REPRESENTATIVE, found {value}"
        )),
    }
}

/// A team from a request; every problem names its field under `prefix`
/// (e.g. `team` or `teams[3].team`).
pub fn team_from_message(prefix: &str, team: &api::Team) -> Result<Team, Vec<FieldViolation>> {
    let mut violations = Violations::new();
    let post = |violations: &mut Violations, member: &str, id: &str| -> Vec<StaffId> {
        if id.is_empty() {
            return Vec::new();
        }
        violations
            .check(format!("{prefix}.{member}"), StaffId::parse(id))
            .into_iter()
            .collect()
    };
    let governors = post(&mut violations, "governor", &team.governor);
    let supervisors = post(&mut violations, "supervisor", &team.supervisor);
    let mut roles = Violations::new();
    let mut assistants = Vec::with_capacity(team.assistants.len());
    for (index, assistant) in team.assistants.iter().enumerate() {
        let staff = violations.check(
            format!("{prefix}.assistants[{index}].staff"),
            StaffId::parse(&assistant.staff),
        );
        let role = roles.check(
            format!("{prefix}.assistants[{index}].role"),
            assistant_role(assistant.role),
        );
        if let (Some(staff), Some(role)) = (staff, role) {
            assistants.push(Assistant { staff, role });
        }
    }
    violations.extend(roles.into_vec());
    violations.finish()?;
    Team::parse(TeamInput {
        governors,
        assistants,
        supervisors,
    })
    .map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| {
                FieldViolation::new(
                    format!("{prefix}.{}", problem.member()),
                    problem.to_string(),
                )
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::render::team_message;

    fn assistant(staff: &str, role: api::AssistantRole) -> api::TeamAssistant {
        api::TeamAssistant {
            staff: staff.into(),
            role: role as i32,
        }
    }

    #[test]
    fn a_team_message_round_trips() {
        let message = api::Team {
            governor: "g".into(),
            assistants: vec![assistant("a", api::AssistantRole::LiaisonCadre)],
            supervisor: "s".into(),
            members: vec![],
        };
        let team = team_from_message("team", &message).expect("valid");
        assert_eq!(team_message(&team), message);
    }

    #[test]
    fn a_missing_governor_and_an_unspecified_role_name_their_fields() {
        let message = api::Team {
            governor: String::new(),
            assistants: vec![assistant("a", api::AssistantRole::Unspecified)],
            supervisor: "s".into(),
            members: vec![],
        };
        let violations = team_from_message("teams[2].team", &message).expect_err("invalid");
        assert_eq!(violations[0].field, "teams[2].team.assistants[0].role");
        let message = api::Team {
            assistants: vec![],
            ..message
        };
        let violations = team_from_message("team", &message).expect_err("no governor");
        assert_eq!(violations[0].field, "team.governor");
        assert!(violations[0].description.contains("exactly one governor"));
    }

    #[test]
    fn a_supervisor_who_is_also_an_assistant_is_refused_at_that_assistant() {
        let message = api::Team {
            governor: "g".into(),
            assistants: vec![
                assistant("a", api::AssistantRole::PartyGroupLeader),
                assistant("s", api::AssistantRole::ResidentRepresentative),
            ],
            supervisor: "s".into(),
            members: vec![],
        };
        let violations = team_from_message("team", &message).expect_err("invalid");
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "team.assistants[1]");
    }

    #[test]
    fn every_bad_path_of_a_mask_is_named_and_an_empty_mask_means_all() {
        let mut violations = Violations::new();
        let mask = prost_types::FieldMask {
            paths: vec!["display_name".into(), "code".into(), "boundary".into()],
        };
        let paths = mask_paths(
            &mut violations,
            Some(&mask),
            &["display_name", "display_name_en"],
        );
        assert_eq!(paths, ["display_name"]);
        let fields: Vec<String> = violations
            .into_vec()
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["update_mask.paths[1]", "update_mask.paths[2]"]);
        let mut none = Violations::new();
        assert_eq!(mask_paths(&mut none, None, &["a", "b"]), ["a", "b"]);
        assert!(none.is_empty());
    }

    #[test]
    fn a_name_and_code_that_disagree_are_refused_at_the_code() {
        let mut violations = Violations::new();
        let code = division_code(
            &mut violations,
            "district",
            "districts/430302",
            "430303",
            resources::district,
            flatgov_vocabulary::DistrictCode::parse,
        );
        assert_eq!(code, None);
        assert_eq!(violations.into_vec()[0].field, "district.code");
    }
}
