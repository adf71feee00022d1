//! Each row checked against its kind's rules and the registry, and the plan
//! of calls that applies the table.

use std::collections::{BTreeMap, HashMap, HashSet};

use flatgov_proto::blocks::v1 as blocks;
use flatgov_vocabulary::{CommunityCode, DivisionCode, PhoneNumber, SubdistrictCode};

use super::problems::{Issue, Post, Problem, Reference};
use super::{Action, Kind, Operation, Plan, Registry, Table};
use crate::labels::Language;

/// Checks every row; the plan is meaningful only without problems.
pub fn check(table: &Table, registry: &Registry, generation: &str) -> (Vec<Problem>, Plan) {
    let mut checker = Checker {
        table,
        problems: Vec::new(),
        plan: Plan::default(),
    };
    match table.kind {
        Kind::Subdistricts => checker.subdistricts(registry),
        Kind::Communities => checker.communities(registry),
        Kind::Staff => checker.staff(registry),
        Kind::Teams => checker.teams(registry, generation),
    }
    (checker.problems, checker.plan)
}

struct Checker<'a> {
    table: &'a Table,
    problems: Vec<Problem>,
    plan: Plan,
}

fn malformed(zh: impl Into<String>, en: impl Into<String>) -> Issue {
    Issue::Malformed {
        zh: zh.into(),
        en: en.into(),
    }
}

impl Checker<'_> {
    fn rows(&self) -> std::ops::Range<usize> {
        0..self.table.sheet.rows.len()
    }

    fn number(&self, row: usize) -> usize {
        self.table.sheet.rows[row].number
    }

    fn report(&mut self, row: usize, key: &str, issue: Issue) {
        let problem = self.table.problem(row, key, issue);
        self.problems.push(problem);
    }

    /// A required cell: `None` (and a problem) when empty.
    fn required(&mut self, row: usize, key: &str) -> Option<String> {
        let value = self.table.cell(row, key).to_owned();
        if value.is_empty() {
            self.report(row, key, Issue::Empty);
            return None;
        }
        Some(value)
    }

    /// One line of at most `max` characters (names, units); `None` after a
    /// problem.
    fn text(&mut self, row: usize, key: &str, max: usize) -> Option<String> {
        let value = self.table.cell(row, key).to_owned();
        let length = value.chars().count();
        if length > max {
            self.report(
                row,
                key,
                malformed(
                    format!("至多 {max} 个字符，此处有 {length} 个"),
                    format!("at most {max} characters, has {length}"),
                ),
            );
            return None;
        }
        if value.chars().any(char::is_control) {
            self.report(
                row,
                key,
                malformed(
                    "不能包含换行等控制字符",
                    "may not contain line breaks or other control characters",
                ),
            );
            return None;
        }
        Some(value)
    }

    /// A unique value: a problem when an earlier row has it.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, usize>,
        row: usize,
        key: &str,
        value: &str,
    ) -> bool {
        if let Some(first_row) = seen.get(value) {
            let first_row = *first_row;
            self.report(
                row,
                key,
                Issue::Duplicate {
                    value: value.to_owned(),
                    first_row,
                },
            );
            return false;
        }
        seen.insert(value.to_owned(), self.number(row));
        true
    }

    fn subdistricts(&mut self, registry: &Registry) {
        let mut seen = HashMap::new();
        // District code → (first row index using it, a name given for it).
        let mut new_districts: BTreeMap<String, (usize, Option<String>)> = BTreeMap::new();
        for row in self.rows() {
            let code =
                self.required(row, "code")
                    .and_then(|code| match SubdistrictCode::parse(&code) {
                        Ok(parsed) => Some(parsed),
                        Err(error) => {
                            self.report(
                                row,
                                "code",
                                malformed("应为 9 位数字的街道编码", error.to_string()),
                            );
                            None
                        }
                    });
            let name = self
                .required(row, "name")
                .and_then(|_| self.text(row, "name", 100));
            let name_en = self.text(row, "name_en", 100);
            let district_name = self.text(row, "district_name", 100);
            let Some(code) = code else { continue };
            let code_text = code.to_string();
            if !self.unique(&mut seen, row, "code", &code_text) {
                continue;
            }
            let district = code.district().to_string();
            if !registry.districts.contains(&district) {
                let entry = new_districts.entry(district).or_insert((row, None));
                if entry.1.is_none() {
                    entry.1 = district_name.filter(|name| !name.is_empty());
                }
            }
            let (Some(name), Some(name_en)) = (name, name_en) else {
                continue;
            };
            let action = match registry.subdistricts.get(&code_text) {
                None => Action::Create,
                Some((old_name, old_name_en)) if *old_name == name && *old_name_en == name_en => {
                    Action::Unchanged
                }
                Some(_) => Action::Update,
            };
            self.plan.count(action);
            if action != Action::Unchanged {
                self.plan.operations.push(Operation::Subdistrict(
                    blocks::UpdateSubdistrictRequest {
                        subdistrict: Some(blocks::Subdistrict {
                            name: format!("subdistricts/{code_text}"),
                            code: code_text,
                            display_name: name,
                            display_name_en: name_en,
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["display_name".into(), "display_name_en".into()],
                        }),
                        allow_missing: true,
                    },
                ));
            }
        }
        let mut district_operations = Vec::new();
        for (district, (row, name)) in new_districts {
            match name {
                Some(name) => {
                    self.plan.districts_created.push(district.clone());
                    district_operations.push(Operation::District(blocks::UpdateDistrictRequest {
                        district: Some(blocks::District {
                            name: format!("districts/{district}"),
                            code: district,
                            display_name: name,
                            ..Default::default()
                        }),
                        update_mask: None,
                        allow_missing: true,
                    }));
                }
                None => self.report(row, "code", Issue::DistrictUnnamed { district }),
            }
        }
        district_operations.append(&mut self.plan.operations);
        self.plan.operations = district_operations;
    }

    fn communities(&mut self, registry: &Registry) {
        let mut seen = HashMap::new();
        for row in self.rows() {
            let code =
                self.required(row, "code")
                    .and_then(|code| match CommunityCode::parse(&code) {
                        Ok(parsed) => Some(parsed),
                        Err(error) => {
                            self.report(
                                row,
                                "code",
                                malformed("应为 12 位数字的社区编码", error.to_string()),
                            );
                            None
                        }
                    });
            let name = self
                .required(row, "name")
                .and_then(|_| self.text(row, "name", 100));
            let name_en = self.text(row, "name_en", 100);
            let Some(code) = code else { continue };
            let code_text = code.to_string();
            if !self.unique(&mut seen, row, "code", &code_text) {
                continue;
            }
            let subdistrict = code.subdistrict().to_string();
            if !registry.subdistricts.contains_key(&subdistrict) {
                self.report(
                    row,
                    "code",
                    Issue::Unknown {
                        what: Reference::Subdistrict,
                        value: subdistrict,
                    },
                );
                continue;
            }
            let (Some(name), Some(name_en)) = (name, name_en) else {
                continue;
            };
            let action = match registry.communities.get(&code_text) {
                None => Action::Create,
                Some((old_name, old_name_en)) if *old_name == name && *old_name_en == name_en => {
                    Action::Unchanged
                }
                Some(_) => Action::Update,
            };
            self.plan.count(action);
            if action != Action::Unchanged {
                self.plan
                    .operations
                    .push(Operation::Community(blocks::UpdateCommunityRequest {
                        community: Some(blocks::Community {
                            name: format!("communities/{code_text}"),
                            code: code_text,
                            display_name: name,
                            display_name_en: name_en,
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["display_name".into(), "display_name_en".into()],
                        }),
                        allow_missing: true,
                    }));
            }
        }
    }

    fn staff(&mut self, registry: &Registry) {
        let mut seen = HashMap::new();
        let mut roster = Vec::new();
        for row in self.rows() {
            let id = self.required(row, "id").and_then(|id| {
                if let Some((zh, en)) = staff_id_problem(&id) {
                    self.report(row, "id", malformed(zh, en));
                    return None;
                }
                Some(id)
            });
            let name = self
                .required(row, "name")
                .and_then(|_| self.text(row, "name", 64));
            let phone = self.table.cell(row, "phone").to_owned();
            let phone_ok = phone.is_empty()
                || match PhoneNumber::parse(&phone) {
                    Ok(_) => true,
                    Err(error) => {
                        self.report(
                            row,
                            "phone",
                            malformed(
                                "应为电话号码：数字，可带开头的 + 及 - 或空格分隔",
                                error.to_string(),
                            ),
                        );
                        false
                    }
                };
            let unit = self.text(row, "unit", 100);
            let division = self.division(row, registry);
            let Some(id) = id else { continue };
            if !self.unique(&mut seen, row, "id", &id) {
                continue;
            }
            let (Some(name), Some(unit), Some(division), true) = (name, unit, division, phone_ok)
            else {
                continue;
            };
            let action = match registry.staff.get(&id) {
                None => Action::Create,
                Some(old)
                    if old.display_name == name
                        && old.unit == unit
                        && old.division == division
                        && !old.phone_withheld
                        && old.phone == phone =>
                {
                    Action::Unchanged
                }
                Some(_) => Action::Update,
            };
            self.plan.count(action);
            roster.push(blocks::Staff {
                name: format!("staff/{id}"),
                id,
                display_name: name,
                phone,
                unit,
                division,
                ..Default::default()
            });
        }
        self.plan
            .operations
            .push(Operation::Staff(blocks::ImportStaffRequest {
                staff: roster,
            }));
    }

    /// The staff row's division as a resource name (empty when not given).
    fn division(&mut self, row: usize, registry: &Registry) -> Option<String> {
        let value = self.table.cell(row, "division").to_owned();
        if value.is_empty() {
            return Some(String::new());
        }
        let code = match DivisionCode::parse(&value) {
            Ok(code) => code,
            Err(error) => {
                self.report(
                    row,
                    "division",
                    malformed(
                        "应为区（6 位）、街道（9 位）、社区（12 位）或区块（15 位）编码",
                        error.to_string(),
                    ),
                );
                return None;
            }
        };
        let known = match code {
            DivisionCode::District(_) => registry.districts.contains(&value),
            DivisionCode::Subdistrict(_) => registry.subdistricts.contains_key(&value),
            DivisionCode::Community(_) => registry.communities.contains_key(&value),
            DivisionCode::Block(_) => registry.blocks.contains_key(&value),
        };
        if !known {
            self.report(
                row,
                "division",
                Issue::Unknown {
                    what: Reference::Division,
                    value,
                },
            );
            return None;
        }
        Some(format!("{}/{value}", code.level().collection()))
    }

    fn teams(&mut self, registry: &Registry, generation: &str) {
        // Block code → its members: (row index, post, staff id, role).
        let mut teams: BTreeMap<String, Vec<(usize, Post, String, blocks::AssistantRole)>> =
            BTreeMap::new();
        // Blocks with a row already reported: their team as a whole is not
        // judged (a missing governor would only repeat the row's problem).
        let mut incomplete: HashSet<String> = HashSet::new();
        for row in self.rows() {
            let block = self.required(row, "block_code").and_then(|code| {
                if flatgov_vocabulary::BlockCode::parse(&code).is_err() {
                    self.report(
                        row,
                        "block_code",
                        malformed("应为 15 位数字的区块编码", "must be a 15-digit block code"),
                    );
                    return None;
                }
                if !registry.blocks.contains_key(&code) {
                    self.report(
                        row,
                        "block_code",
                        Issue::Unknown {
                            what: Reference::Block,
                            value: code,
                        },
                    );
                    return None;
                }
                Some(code)
            });
            let post = self
                .required(row, "post")
                .and_then(|post| match parse_post(&post) {
                    Some(post) => Some(post),
                    None => {
                        self.report(
                            row,
                            "post",
                            malformed(
                                "应为 治理员、协理员 或 监督员",
                                "must be governor, assistant or supervisor",
                            ),
                        );
                        None
                    }
                });
            let staff = self.required(row, "staff_id").and_then(|staff| {
                if registry.staff.contains_key(&staff) {
                    Some(staff)
                } else {
                    self.report(
                        row,
                        "staff_id",
                        Issue::Unknown {
                            what: Reference::Staff,
                            value: staff,
                        },
                    );
                    None
                }
            });
            let role_text = self.table.cell(row, "role").to_owned();
            let role = match post {
                Some(Post::Assistant) if role_text.is_empty() => {
                    self.report(row, "role", Issue::Empty);
                    None
                }
                Some(Post::Assistant) => match parse_role(&role_text) {
                    Some(role) => Some(role),
                    None => {
                        self.report(
                            row,
                            "role",
                            malformed(
                                "应为 联点干部、党小组长、业委会成员 或 居民代表",
                                "must be liaison_cadre, party_group_leader, owners_committee_member or resident_representative",
                            ),
                        );
                        None
                    }
                },
                Some(_) if !role_text.is_empty() => {
                    self.report(
                        row,
                        "role",
                        malformed(
                            "只有协理员填写协理员类型",
                            "only assistants have a type; leave it empty",
                        ),
                    );
                    None
                }
                _ => Some(blocks::AssistantRole::Unspecified),
            };
            match (block, post, staff, role) {
                (Some(block), Some(post), Some(staff), Some(role)) => {
                    teams
                        .entry(block)
                        .or_default()
                        .push((row, post, staff, role));
                }
                (Some(block), _, _, _) => {
                    incomplete.insert(block);
                }
                _ => {}
            }
        }
        teams.retain(|block, _| !incomplete.contains(block));
        for (block, members) in teams {
            self.team(registry, generation, block, &members);
        }
    }

    fn team(
        &mut self,
        registry: &Registry,
        generation: &str,
        block: String,
        members: &[(usize, Post, String, blocks::AssistantRole)],
    ) {
        let before = self.problems.len();
        let mut seen: HashMap<(Post, &str), usize> = HashMap::new();
        for (row, post, staff, _) in members {
            if let Some(first_row) = seen.get(&(*post, staff.as_str())) {
                let first_row = *first_row;
                self.report(
                    *row,
                    "staff_id",
                    Issue::Duplicate {
                        value: staff.clone(),
                        first_row,
                    },
                );
            } else {
                seen.insert((*post, staff), self.number(*row));
            }
        }
        for post in [Post::Governor, Post::Supervisor] {
            let holders: Vec<usize> = members
                .iter()
                .filter(|member| member.1 == post)
                .map(|member| member.0)
                .collect();
            if holders.len() != 1 {
                let row = holders.get(1).copied().unwrap_or(members[0].0);
                self.report(
                    row,
                    "post",
                    Issue::PostCount {
                        block: block.clone(),
                        post,
                        count: holders.len(),
                    },
                );
            }
        }
        for (row, post, staff, _) in members.iter().filter(|member| member.1 == Post::Supervisor) {
            debug_assert_eq!(*post, Post::Supervisor);
            for (other_row, other_post, other_staff, _) in members {
                if other_staff != staff || *other_post == Post::Supervisor {
                    continue;
                }
                let other_number = self.number(*other_row);
                let issue = match other_post {
                    Post::Governor => Issue::GovernorIsSupervisor {
                        staff: staff.clone(),
                        block: block.clone(),
                        governor_row: other_number,
                    },
                    _ => Issue::SupervisorIsAssistant {
                        staff: staff.clone(),
                        block: block.clone(),
                        other_row: other_number,
                    },
                };
                self.report(*row, "staff_id", issue);
            }
        }
        if self.problems.len() != before {
            return;
        }
        let find = |wanted: Post| {
            members
                .iter()
                .find(|member| member.1 == wanted)
                .map(|member| member.2.clone())
                .unwrap_or_default()
        };
        let team = blocks::Team {
            governor: find(Post::Governor),
            assistants: members
                .iter()
                .filter(|member| member.1 == Post::Assistant)
                .map(|member| blocks::TeamAssistant {
                    staff: member.2.clone(),
                    role: member.3 as i32,
                })
                .collect(),
            supervisor: find(Post::Supervisor),
            members: Vec::new(),
        };
        let action = match registry.blocks.get(&block) {
            Some(Some(old)) if same_team(old, &team) => Action::Unchanged,
            Some(Some(_)) => Action::Update,
            _ => Action::Create,
        };
        self.plan.count(action);
        if action != Action::Unchanged {
            self.plan
                .operations
                .push(Operation::Team(blocks::SetBlockTeamRequest {
                    block: format!("blocks/{block}"),
                    team: Some(team),
                    generation: generation.to_owned(),
                }));
        }
    }
}

/// The same members in the same posts (assistants in any order).
fn same_team(old: &blocks::Team, new: &blocks::Team) -> bool {
    let assistants = |team: &blocks::Team| {
        let mut list: Vec<(String, i32)> = team
            .assistants
            .iter()
            .map(|assistant| (assistant.staff.clone(), assistant.role))
            .collect();
        list.sort();
        list
    };
    old.governor == new.governor
        && old.supervisor == new.supervisor
        && assistants(old) == assistants(new)
}

/// The registry's rule for staff ids: ASCII letters, digits, `-`, `_`,
/// `.`, `:`, at most 64.
fn staff_id_problem(id: &str) -> Option<(String, String)> {
    if id.len() > 64 {
        return Some((
            "工号至多 64 个字符".to_owned(),
            "a staff id has at most 64 characters".to_owned(),
        ));
    }
    let allowed = |character: char| {
        character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.' | ':')
    };
    id.chars()
        .find(|character| !allowed(*character))
        .map(|found| {
            (
                format!("工号只能包含字母、数字及 - _ . :，不能包含“{found}”"),
                format!("a staff id may hold only letters, digits and - _ . :, not {found:?}"),
            )
        })
}

fn parse_post(text: &str) -> Option<Post> {
    match text.trim().to_lowercase().as_str() {
        "治理员" | "governor" => Some(Post::Governor),
        "协理员" | "assistant" => Some(Post::Assistant),
        "监督员" | "supervisor" => Some(Post::Supervisor),
        _ => None,
    }
}

/// An assistant's type as the teams table writes it: the inverse of
/// [`parse_role`] (empty for an unspecified role).
pub fn role_label(role: blocks::AssistantRole, language: Language) -> &'static str {
    use blocks::AssistantRole;
    match (role, language) {
        (AssistantRole::Unspecified, _) => "",
        (AssistantRole::LiaisonCadre, Language::ZhCn) => "联点干部",
        (AssistantRole::PartyGroupLeader, Language::ZhCn) => "党小组长",
        (AssistantRole::OwnersCommitteeMember, Language::ZhCn) => "业委会成员",
        (AssistantRole::ResidentRepresentative, Language::ZhCn) => "居民代表",
        (AssistantRole::LiaisonCadre, Language::En) => "liaison_cadre",
        (AssistantRole::PartyGroupLeader, Language::En) => "party_group_leader",
        (AssistantRole::OwnersCommitteeMember, Language::En) => "owners_committee_member",
        (AssistantRole::ResidentRepresentative, Language::En) => "resident_representative",
    }
}

fn parse_role(text: &str) -> Option<blocks::AssistantRole> {
    use blocks::AssistantRole;
    match text.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
        "联点干部" | "liaison_cadre" => Some(AssistantRole::LiaisonCadre),
        "党小组长" | "party_group_leader" => Some(AssistantRole::PartyGroupLeader),
        "业委会成员" | "owners_committee_member" => Some(AssistantRole::OwnersCommitteeMember),
        "居民代表" | "resident_representative" => Some(AssistantRole::ResidentRepresentative),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onboard::columns::Kind;
    use crate::sheet::from_csv;

    fn table(kind: Kind, csv: &str) -> Table {
        Table::new(kind, from_csv(csv.as_bytes()).expect("csv")).expect("columns")
    }

    fn registry_with_team_members() -> Registry {
        let mut registry = Registry::default();
        for id in ["g1", "s1", "a1"] {
            registry.staff.insert(
                id.to_owned(),
                blocks::Staff {
                    id: id.to_owned(),
                    ..Default::default()
                },
            );
        }
        registry.blocks.insert("430302001001001".to_owned(), None);
        registry
    }

    #[test]
    fn a_governor_who_is_also_supervisor_is_reported_on_the_supervisors_row() {
        let table = table(
            Kind::Teams,
            "区块编码,岗位,工号,协理员类型\n430302001001001,治理员,g1,\n430302001001001,监督员,g1,\n",
        );
        let (problems, _) = check(&table, &registry_with_team_members(), "");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].row, 3);
        assert_eq!(problems[0].column_label(), "C (工号)");
        assert!(matches!(
            problems[0].issue,
            Issue::GovernorIsSupervisor {
                governor_row: 2,
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_member_is_one_problem_not_also_a_missing_post() {
        let table = table(
            Kind::Teams,
            "区块编码,岗位,工号\n430302001001001,治理员,nobody\n430302001001001,监督员,s1\n",
        );
        let (problems, plan) = check(&table, &registry_with_team_members(), "");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(matches!(
            problems[0].issue,
            Issue::Unknown {
                what: Reference::Staff,
                ..
            }
        ));
        assert!(plan.operations.is_empty());
    }

    #[test]
    fn a_block_without_a_supervisor_is_reported() {
        let table = table(
            Kind::Teams,
            "区块编码,岗位,工号\n430302001001001,治理员,g1\n",
        );
        let (problems, _) = check(&table, &registry_with_team_members(), "");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message(crate::labels::Language::ZhCn)
                .contains("有 0 名监督员，应为 1 名")
        );
    }

    #[test]
    fn a_sound_team_plans_one_call_and_the_same_team_again_none() {
        let csv = "block_code,post,staff_id,role\n430302001001001,governor,g1,\n430302001001001,assistant,a1,居民代表\n430302001001001,supervisor,s1,\n";
        let mut registry = registry_with_team_members();
        let (problems, plan) = check(&table(Kind::Teams, csv), &registry, "");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!((plan.created, plan.operations.len()), (1, 1));
        let Operation::Team(request) = &plan.operations[0] else {
            panic!("a team call")
        };
        registry
            .blocks
            .insert("430302001001001".to_owned(), request.team.clone());
        let (_, again) = check(&table(Kind::Teams, csv), &registry, "");
        assert_eq!((again.unchanged, again.operations.len()), (1, 0));
    }

    #[test]
    fn duplicate_codes_and_unknown_subdistricts_are_reported_by_row() {
        let mut registry = Registry::default();
        registry
            .subdistricts
            .insert("430302001".to_owned(), ("雨湖路街道".into(), String::new()));
        let table = table(
            Kind::Communities,
            "社区编码,社区名称\n430302001001,和平社区\n430302001001,和平社区\n430302009001,远方社区\n",
        );
        let (problems, _) = check(&table, &registry, "");
        let found: Vec<(usize, String)> = problems
            .iter()
            .map(|problem| (problem.row, problem.column_label()))
            .collect();
        assert_eq!(
            found,
            vec![
                (3, "A (社区编码)".to_owned()),
                (4, "A (社区编码)".to_owned())
            ]
        );
    }

    #[test]
    fn every_assistant_type_written_by_an_export_reads_back_as_itself() {
        use blocks::AssistantRole;
        for role in [
            AssistantRole::LiaisonCadre,
            AssistantRole::PartyGroupLeader,
            AssistantRole::OwnersCommitteeMember,
            AssistantRole::ResidentRepresentative,
        ] {
            for language in [Language::ZhCn, Language::En] {
                assert_eq!(parse_role(role_label(role, language)), Some(role));
            }
        }
    }
}
