//! Teams carried in a block FeatureCollection: each feature's optional `team` property.
//!
//! ```json
//! "team": {"governor": "staff-17",
//!          "assistants": [{"staff": "staff-18", "role": "liaison_cadre"}],
//!          "supervisor": "staff-19"}
//! ```
//!
//! `governor` and `supervisor` are staff ids. A list is accepted in their place
//! only so that two governors can be reported as "a second governor" rather than
//! as a type error; the 1+N+1 rule ([`Team::parse`]) then refuses it. Roles are the
//! snake_case names of [`AssistantRole`]. Every problem names the feature and the
//! JSON path of the offending member, in the same form as [`super::import`].

use serde_json::{Map, Value};

use super::geometry::json_type_name;
use super::import::ImportProblem;
use super::team::{Assistant, AssistantRole, StaffId, Team, TeamInput};
use flatgov_vocabulary::BlockCode;

/// A team found in a feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTeam {
    /// Index of the feature in `features`.
    pub feature_index: usize,
    /// The feature's block.
    pub code: BlockCode,
    /// The team, which keeps the 1+N+1 rule.
    pub team: Team,
}

/// A team as the `team` property [`parse_feature_teams`] reads (what an
/// export writes, so an export imports as it is).
pub fn team_property(team: &Team) -> Value {
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

/// Reads the `team` property of every feature of a block FeatureCollection.
///
/// Features whose envelope or `code` is unusable are skipped here (the block
/// parser reports them); a document of the wrong shape yields no teams.
pub fn parse_feature_teams(document: &Value) -> Result<Vec<FeatureTeam>, Vec<ImportProblem>> {
    let Some(features) = document.get("features").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut problems = Vec::new();
    let mut teams = Vec::new();
    for (feature_index, feature) in features.iter().enumerate() {
        let Some(properties) = feature.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let Some(team_value) = properties.get("team").filter(|value| !value.is_null()) else {
            continue;
        };
        let code_as_written = properties
            .get("code")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let Some(code) = code_as_written
            .as_deref()
            .and_then(|text| BlockCode::parse(text).ok())
        else {
            continue;
        };
        let mut reader = TeamReader {
            feature_index,
            code_as_written,
            problems: &mut problems,
        };
        if let Some(team) = reader.team(team_value) {
            teams.push(FeatureTeam {
                feature_index,
                code,
                team,
            });
        }
    }
    if problems.is_empty() {
        Ok(teams)
    } else {
        Err(problems)
    }
}

struct TeamReader<'a> {
    feature_index: usize,
    code_as_written: Option<String>,
    problems: &'a mut Vec<ImportProblem>,
}

impl TeamReader<'_> {
    fn field(&self, member: &str) -> String {
        if member.is_empty() {
            format!("features[{}].properties.team", self.feature_index)
        } else {
            format!("features[{}].properties.team.{member}", self.feature_index)
        }
    }

    fn problem(&mut self, member: &str, reason: &'static str, message: String) {
        let field = self.field(member);
        self.problems.push(ImportProblem {
            feature_index: Some(self.feature_index),
            code: self.code_as_written.clone(),
            field,
            reason,
            message,
        });
    }

    fn team(&mut self, value: &Value) -> Option<Team> {
        let Value::Object(object) = value else {
            self.problem(
                "",
                "malformed_field",
                format!(
                    "expected an object with governor, assistants and supervisor, found {}",
                    json_type_name(value)
                ),
            );
            return None;
        };
        let problems_before = self.problems.len();
        let governors = self.posts(object, "governor");
        let supervisors = self.posts(object, "supervisor");
        let assistants = self.assistants(object);
        if self.problems.len() > problems_before {
            return None;
        }
        let input = TeamInput {
            governors,
            assistants,
            supervisors,
        };
        match Team::parse(input) {
            Ok(team) => Some(team),
            Err(team_problems) => {
                for team_problem in team_problems {
                    let member = team_problem.member();
                    self.problem(&member, "team_rule", team_problem.to_string());
                }
                None
            }
        }
    }

    /// A governor or supervisor: a staff id, or (to report doubling) a list of them.
    fn posts(&mut self, object: &Map<String, Value>, member: &str) -> Vec<StaffId> {
        match object.get(member) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(id)) => self.staff_id(member, id).into_iter().collect(),
            Some(Value::Array(ids)) => {
                let mut parsed = Vec::with_capacity(ids.len());
                for (index, id) in ids.iter().enumerate() {
                    let path = format!("{member}[{index}]");
                    match id {
                        Value::String(id) => parsed.extend(self.staff_id(&path, id)),
                        other => self.problem(
                            &path,
                            "malformed_field",
                            format!("expected a staff id, found {}", json_type_name(other)),
                        ),
                    }
                }
                parsed
            }
            Some(other) => {
                self.problem(
                    member,
                    "malformed_field",
                    format!("expected a staff id, found {}", json_type_name(other)),
                );
                Vec::new()
            }
        }
    }

    fn assistants(&mut self, object: &Map<String, Value>) -> Vec<Assistant> {
        let entries = match object.get("assistants") {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(entries)) => entries,
            Some(other) => {
                self.problem(
                    "assistants",
                    "malformed_field",
                    format!("expected an array, found {}", json_type_name(other)),
                );
                return Vec::new();
            }
        };
        let mut assistants = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let path = format!("assistants[{index}]");
            let Value::Object(entry) = entry else {
                self.problem(
                    &path,
                    "malformed_field",
                    format!(
                        "expected an object with staff and role, found {}",
                        json_type_name(entry)
                    ),
                );
                continue;
            };
            let staff = match entry.get("staff") {
                Some(Value::String(id)) => self.staff_id(&format!("{path}.staff"), id),
                Some(other) => {
                    self.problem(
                        &format!("{path}.staff"),
                        "malformed_field",
                        format!("expected a staff id, found {}", json_type_name(other)),
                    );
                    None
                }
                None => {
                    self.problem(
                        &format!("{path}.staff"),
                        "missing_field",
                        "missing; expected a staff id".into(),
                    );
                    None
                }
            };
            let role = match entry.get("role") {
                Some(Value::String(role)) => match AssistantRole::parse(role) {
                    Ok(role) => Some(role),
                    Err(message) => {
                        self.problem(&format!("{path}.role"), "malformed_field", message);
                        None
                    }
                },
                Some(other) => {
                    self.problem(
                        &format!("{path}.role"),
                        "malformed_field",
                        format!("expected a role name, found {}", json_type_name(other)),
                    );
                    None
                }
                None => {
                    self.problem(
                        &format!("{path}.role"),
                        "missing_field",
                        "missing; expected liaison_cadre, party_group_leader, owners_committee_member or resident_representative".into(),
                    );
                    None
                }
            };
            if let (Some(staff), Some(role)) = (staff, role) {
                assistants.push(Assistant { staff, role });
            }
        }
        assistants
    }

    fn staff_id(&mut self, member: &str, id: &str) -> Option<StaffId> {
        match StaffId::parse(id) {
            Ok(id) => Some(id),
            Err(error) => {
                self.problem(member, "malformed_field", error.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(team: Value) -> Value {
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "430302001001001", "name": "a", "households": 1}, "geometry": null},
            {"type": "Feature", "properties": {"code": "430302001001002", "name": "b", "households": 1, "team": team}, "geometry": null}
        ]})
    }

    #[test]
    fn a_team_property_becomes_a_team_of_its_feature() {
        let teams = parse_feature_teams(&document(json!({
            "governor": "g", "supervisor": "s",
            "assistants": [{"staff": "a", "role": "party_group_leader"}]
        })))
        .expect("valid");
        assert_eq!(teams.len(), 1);
        assert_eq!(teams[0].feature_index, 1);
        assert_eq!(teams[0].code.to_string(), "430302001001002");
        assert_eq!(teams[0].team.governor().as_str(), "g");
        assert_eq!(
            teams[0].team.assistants()[0].role,
            AssistantRole::PartyGroupLeader
        );
    }

    #[test]
    fn a_second_governor_names_the_feature_its_code_and_the_governor_field() {
        let problems = parse_feature_teams(&document(json!({
            "governor": ["g1", "g2"], "supervisor": "s"
        })))
        .expect_err("two governors");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "features[1].properties.team.governor");
        assert_eq!(problems[0].code.as_deref(), Some("430302001001002"));
        assert_eq!(problems[0].reason, "team_rule");
        assert!(
            problems[0]
                .message
                .contains("exactly one governor, 2 were given")
        );
    }

    #[test]
    fn malformed_members_are_each_reported_with_their_path() {
        let problems = parse_feature_teams(&document(json!({
            "governor": 17, "supervisor": "s",
            "assistants": [{"staff": "a"}, {"staff": "b c", "role": "mayor"}, "x"]
        })))
        .expect_err("malformed");
        let fields: Vec<&str> = problems
            .iter()
            .map(|problem| problem.field.as_str())
            .collect();
        assert_eq!(
            fields,
            vec![
                "features[1].properties.team.governor",
                "features[1].properties.team.assistants[0].role",
                "features[1].properties.team.assistants[1].staff",
                "features[1].properties.team.assistants[1].role",
                "features[1].properties.team.assistants[2]",
            ]
        );
    }

    #[test]
    fn a_team_that_is_not_an_object_is_refused_and_a_null_team_is_absent() {
        let problems = parse_feature_teams(&document(json!("g"))).expect_err("string");
        assert_eq!(problems[0].field, "features[1].properties.team");
        assert_eq!(
            parse_feature_teams(&document(Value::Null)).expect("null is absent"),
            vec![]
        );
    }
}
