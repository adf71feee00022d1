//! The facts about a block's "1+N+1" team that the rules need.
//!
//! A block is run by exactly one governor (治理员), any number N of assistants
//! (协理员) and exactly one supervisor (监督员). The supervisor checks the others'
//! work, so they may not also be that block's governor or one of its assistants.
//! Personal data (names, phones) lives elsewhere; here a person is only a [`StaffId`].

use std::fmt;

/// Why a text is not a staff id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffIdError {
    /// An empty id.
    #[error("staff id must not be empty")]
    Empty,
    /// More than [`StaffId::MAX_LEN`] characters.
    #[error("staff id must have at most {max} characters, has {actual}")]
    TooLong {
        /// The limit.
        max: usize,
        /// The length given.
        actual: usize,
    },
    /// A character outside `A-Z a-z 0-9 - _ . :`.
    #[error(
        "staff id {value:?} may only contain ASCII letters, digits, '-', '_', '.' and ':', found {found:?}"
    )]
    BadCharacter {
        /// The id as given.
        value: String,
        /// The offending character.
        found: char,
    },
}

/// The opaque id of a staff member in the registry's roster (for example a UUID).
///
/// Ids are compared exactly; the character set is restricted so an id can be
/// logged, put in an event or a URL without escaping.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaffId(String);

impl StaffId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks `value` is a usable staff id.
    pub fn parse(value: &str) -> Result<Self, StaffIdError> {
        if value.is_empty() {
            return Err(StaffIdError::Empty);
        }
        if value.len() > Self::MAX_LEN {
            return Err(StaffIdError::TooLong {
                max: Self::MAX_LEN,
                actual: value.chars().count(),
            });
        }
        let allowed = |character: char| {
            character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.' | ':')
        };
        if let Some(found) = value.chars().find(|character| !allowed(*character)) {
            return Err(StaffIdError::BadCharacter {
                value: value.to_owned(),
                found,
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StaffId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Who holds which post on one block's team, as recorded (possibly wrongly).
///
/// Governors and supervisors are lists, not single values, so that a team with
/// none or two of them can be described and reported rather than being
/// unrepresentable upstream of the check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamFacts {
    /// Staff recorded as the block's governor (the rule wants exactly one).
    pub governors: Vec<StaffId>,
    /// Staff recorded as assistants (any number, including none).
    pub assistants: Vec<StaffId>,
    /// Staff recorded as the block's supervisor (the rule wants exactly one).
    pub supervisors: Vec<StaffId>,
}

/// One way a team breaks the 1+N+1 rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamViolation {
    /// Not exactly one governor.
    #[error("a block needs exactly one governor, has {count}")]
    GovernorCount {
        /// How many are recorded.
        count: usize,
    },
    /// Not exactly one supervisor.
    #[error("a block needs exactly one supervisor, has {count}")]
    SupervisorCount {
        /// How many are recorded.
        count: usize,
    },
    /// The supervisor is also the block's governor.
    #[error("supervisor {staff} is also this block's governor")]
    SupervisorIsGovernor {
        /// The person holding both posts.
        staff: StaffId,
    },
    /// The supervisor is also one of the block's assistants.
    #[error("supervisor {staff} is also one of this block's assistants")]
    SupervisorIsAssistant {
        /// The person holding both posts.
        staff: StaffId,
    },
}

impl TeamFacts {
    /// Every way this team breaks the 1+N+1 rule (empty when it keeps it).
    pub fn violations(&self) -> Vec<TeamViolation> {
        let mut violations = Vec::new();
        if self.governors.len() != 1 {
            violations.push(TeamViolation::GovernorCount {
                count: self.governors.len(),
            });
        }
        if self.supervisors.len() != 1 {
            violations.push(TeamViolation::SupervisorCount {
                count: self.supervisors.len(),
            });
        }
        for supervisor in &self.supervisors {
            if self.governors.contains(supervisor) {
                violations.push(TeamViolation::SupervisorIsGovernor {
                    staff: supervisor.clone(),
                });
            }
            if self.assistants.contains(supervisor) {
                violations.push(TeamViolation::SupervisorIsAssistant {
                    staff: supervisor.clone(),
                });
            }
        }
        violations
    }
}

/// What an assistant (协理员) is in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssistantRole {
    /// 联点干部: a cadre of a district department linked to the block.
    LiaisonCadre,
    /// 党小组长: the leader of the block's party group.
    PartyGroupLeader,
    /// 业委会成员: a member of the owners' committee.
    OwnersCommitteeMember,
    /// 居民代表: a residents' representative.
    ResidentRepresentative,
}

impl AssistantRole {
    /// Every role, in the order of the API enum.
    pub const ALL: [AssistantRole; 4] = [
        AssistantRole::LiaisonCadre,
        AssistantRole::PartyGroupLeader,
        AssistantRole::OwnersCommitteeMember,
        AssistantRole::ResidentRepresentative,
    ];

    /// The stable snake_case name used in GeoJSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AssistantRole::LiaisonCadre => "liaison_cadre",
            AssistantRole::PartyGroupLeader => "party_group_leader",
            AssistantRole::OwnersCommitteeMember => "owners_committee_member",
            AssistantRole::ResidentRepresentative => "resident_representative",
        }
    }

    /// Parses a snake_case name; the error lists the accepted names.
    pub fn parse(value: &str) -> Result<Self, String> {
        AssistantRole::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| {
                let known: Vec<&str> = AssistantRole::ALL
                    .iter()
                    .map(|role| role.as_str())
                    .collect();
                format!(
                    "unknown assistant role {value:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for AssistantRole {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One assistant on a team.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assistant {
    /// Who.
    pub staff: StaffId,
    /// In which capacity.
    pub role: AssistantRole,
}

/// A team as given in a request, before the 1+N+1 rule is checked: posts may be
/// missing or doubled, so every problem can be named.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeamInput {
    /// Staff given as governor (the rule wants exactly one).
    pub governors: Vec<StaffId>,
    /// Assistants in the order given.
    pub assistants: Vec<Assistant>,
    /// Staff given as supervisor (the rule wants exactly one).
    pub supervisors: Vec<StaffId>,
}

/// One way a team as given breaks the rules, with the member it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamProblem {
    /// No governor.
    #[error("a block needs exactly one governor, none was given")]
    MissingGovernor,
    /// More than one governor.
    #[error("a block needs exactly one governor, {count} were given")]
    SecondGovernor {
        /// How many were given.
        count: usize,
    },
    /// No supervisor.
    #[error("a block needs exactly one supervisor, none was given")]
    MissingSupervisor,
    /// More than one supervisor.
    #[error("a block needs exactly one supervisor, {count} were given")]
    SecondSupervisor {
        /// How many were given.
        count: usize,
    },
    /// The supervisor is also the governor.
    #[error(
        "supervisor {staff} is also the governor; the supervisor checks the team's work and may not be on it"
    )]
    SupervisorIsGovernor {
        /// The person.
        staff: StaffId,
    },
    /// The supervisor is also an assistant (index into the assistants).
    #[error("supervisor {staff} is also assistant {index}; the supervisor may not be on the team")]
    SupervisorIsAssistant {
        /// The person.
        staff: StaffId,
        /// Position among the assistants.
        index: usize,
    },
    /// The governor is also listed as an assistant.
    #[error("governor {staff} is also listed as assistant {index}")]
    GovernorIsAssistant {
        /// The person.
        staff: StaffId,
        /// Position among the assistants.
        index: usize,
    },
    /// The same person is listed twice as an assistant.
    #[error("assistant {staff} is listed twice (also assistant {first_index})")]
    DuplicateAssistant {
        /// The person.
        staff: StaffId,
        /// Position of the repeat.
        index: usize,
        /// Position of the first listing.
        first_index: usize,
    },
}

impl TeamProblem {
    /// Which part of the team the problem is about: `governor`, `supervisor` or `assistants[i]`.
    pub fn member(&self) -> String {
        match self {
            TeamProblem::MissingGovernor
            | TeamProblem::SecondGovernor { .. }
            | TeamProblem::GovernorIsAssistant { .. } => "governor".to_owned(),
            TeamProblem::MissingSupervisor
            | TeamProblem::SecondSupervisor { .. }
            | TeamProblem::SupervisorIsGovernor { .. } => "supervisor".to_owned(),
            TeamProblem::SupervisorIsAssistant { index, .. }
            | TeamProblem::DuplicateAssistant { index, .. } => format!("assistants[{index}]"),
        }
    }
}

/// A team that keeps the 1+N+1 rule: exactly one governor, any number of
/// distinct assistants (none of them the governor), exactly one supervisor
/// who is neither governor nor assistant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Team {
    governor: StaffId,
    assistants: Vec<Assistant>,
    supervisor: StaffId,
}

impl Team {
    /// Checks a team as given; every problem is reported.
    pub fn parse(input: TeamInput) -> Result<Self, Vec<TeamProblem>> {
        let mut problems = Vec::new();
        match input.governors.len() {
            0 => problems.push(TeamProblem::MissingGovernor),
            1 => {}
            count => problems.push(TeamProblem::SecondGovernor { count }),
        }
        match input.supervisors.len() {
            0 => problems.push(TeamProblem::MissingSupervisor),
            1 => {}
            count => problems.push(TeamProblem::SecondSupervisor { count }),
        }
        for supervisor in &input.supervisors {
            if input.governors.contains(supervisor) {
                problems.push(TeamProblem::SupervisorIsGovernor {
                    staff: supervisor.clone(),
                });
            }
        }
        let mut first_index: std::collections::HashMap<&StaffId, usize> =
            std::collections::HashMap::new();
        for (index, assistant) in input.assistants.iter().enumerate() {
            if let Some(first) = first_index.get(&assistant.staff) {
                problems.push(TeamProblem::DuplicateAssistant {
                    staff: assistant.staff.clone(),
                    index,
                    first_index: *first,
                });
                continue;
            }
            first_index.insert(&assistant.staff, index);
            if input.supervisors.contains(&assistant.staff) {
                problems.push(TeamProblem::SupervisorIsAssistant {
                    staff: assistant.staff.clone(),
                    index,
                });
            }
            if input.governors.contains(&assistant.staff) {
                problems.push(TeamProblem::GovernorIsAssistant {
                    staff: assistant.staff.clone(),
                    index,
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut governors = input.governors;
        let mut supervisors = input.supervisors;
        match (governors.pop(), supervisors.pop()) {
            (Some(governor), Some(supervisor)) => Ok(Self {
                governor,
                assistants: input.assistants,
                supervisor,
            }),
            // Unreachable after the counts were checked; reported rather than assumed.
            _ => Err(vec![TeamProblem::MissingGovernor]),
        }
    }

    /// The governor (治理员).
    pub fn governor(&self) -> &StaffId {
        &self.governor
    }

    /// The assistants (协理员) in order.
    pub fn assistants(&self) -> &[Assistant] {
        &self.assistants
    }

    /// The supervisor (监督员).
    pub fn supervisor(&self) -> &StaffId {
        &self.supervisor
    }

    /// Everyone on the team, governor first, then assistants, then the supervisor.
    pub fn members(&self) -> impl Iterator<Item = &StaffId> {
        std::iter::once(&self.governor)
            .chain(self.assistants.iter().map(|assistant| &assistant.staff))
            .chain(std::iter::once(&self.supervisor))
    }

    /// The facts validation checks.
    pub fn facts(&self) -> TeamFacts {
        TeamFacts {
            governors: vec![self.governor.clone()],
            assistants: self
                .assistants
                .iter()
                .map(|assistant| assistant.staff.clone())
                .collect(),
            supervisors: vec![self.supervisor.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(id: &str) -> StaffId {
        StaffId::parse(id).expect("valid staff id")
    }

    fn team(governors: &[&str], assistants: &[&str], supervisors: &[&str]) -> TeamFacts {
        TeamFacts {
            governors: governors.iter().map(|id| staff(id)).collect(),
            assistants: assistants.iter().map(|id| staff(id)).collect(),
            supervisors: supervisors.iter().map(|id| staff(id)).collect(),
        }
    }

    #[test]
    fn staff_ids_accept_uuids_and_reject_empty_long_or_odd_text() {
        assert!(StaffId::parse("0190f5a2-7c1e-7b3a-9d2e-1f2a3b4c5d6e").is_ok());
        assert!(StaffId::parse("staff:yuhu.017_a").is_ok());
        assert_eq!(StaffId::parse(""), Err(StaffIdError::Empty));
        assert_eq!(
            StaffId::parse(&"a".repeat(65)),
            Err(StaffIdError::TooLong {
                max: 64,
                actual: 65
            })
        );
        assert_eq!(
            StaffId::parse("张三").expect_err("not ascii").to_string(),
            "staff id \"张三\" may only contain ASCII letters, digits, '-', '_', '.' and ':', found '张'"
        );
        assert!(matches!(
            StaffId::parse("a b"),
            Err(StaffIdError::BadCharacter { found: ' ', .. })
        ));
    }

    #[test]
    fn one_governor_assistants_and_one_separate_supervisor_keep_the_rule() {
        assert_eq!(
            team(&["g"], &["a1", "a2", "a3"], &["s"]).violations(),
            vec![]
        );
        assert_eq!(
            team(&["g"], &[], &["s"]).violations(),
            vec![],
            "N may be zero"
        );
    }

    #[test]
    fn a_missing_or_second_governor_breaks_the_rule() {
        assert_eq!(
            team(&[], &["a"], &["s"]).violations(),
            vec![TeamViolation::GovernorCount { count: 0 }]
        );
        assert_eq!(
            team(&["g1", "g2"], &[], &["s"]).violations(),
            vec![TeamViolation::GovernorCount { count: 2 }]
        );
    }

    #[test]
    fn a_missing_or_second_supervisor_breaks_the_rule() {
        assert_eq!(
            team(&["g"], &[], &[]).violations(),
            vec![TeamViolation::SupervisorCount { count: 0 }]
        );
        assert_eq!(
            team(&["g"], &[], &["s1", "s2"]).violations(),
            vec![TeamViolation::SupervisorCount { count: 2 }]
        );
    }

    #[test]
    fn a_supervisor_who_is_also_governor_or_assistant_breaks_the_rule() {
        assert_eq!(
            team(&["x"], &["a"], &["x"]).violations(),
            vec![TeamViolation::SupervisorIsGovernor { staff: staff("x") }]
        );
        let violations = team(&["g"], &["a", "x"], &["x"]).violations();
        assert_eq!(
            violations,
            vec![TeamViolation::SupervisorIsAssistant { staff: staff("x") }]
        );
        assert_eq!(
            violations[0].to_string(),
            "supervisor x is also one of this block's assistants"
        );
    }

    #[test]
    fn an_empty_team_reports_both_missing_posts() {
        assert_eq!(
            TeamFacts::default().violations(),
            vec![
                TeamViolation::GovernorCount { count: 0 },
                TeamViolation::SupervisorCount { count: 0 }
            ]
        );
    }
    fn input(governors: &[&str], assistants: &[&str], supervisors: &[&str]) -> TeamInput {
        TeamInput {
            governors: governors.iter().map(|id| staff(id)).collect(),
            assistants: assistants
                .iter()
                .map(|id| Assistant {
                    staff: staff(id),
                    role: AssistantRole::ResidentRepresentative,
                })
                .collect(),
            supervisors: supervisors.iter().map(|id| staff(id)).collect(),
        }
    }

    #[test]
    fn assistant_roles_round_trip_through_their_names_and_unknown_ones_list_the_choices() {
        for role in AssistantRole::ALL {
            assert_eq!(AssistantRole::parse(role.as_str()), Ok(role));
        }
        let error = AssistantRole::parse("mayor").expect_err("unknown");
        assert!(
            error.contains("liaison_cadre, party_group_leader"),
            "{error}"
        );
    }

    #[test]
    fn a_team_keeping_the_rule_parses_and_lists_its_members_in_post_order() {
        let team = Team::parse(input(&["g"], &["a1", "a2"], &["s"])).expect("valid");
        assert_eq!(team.governor().as_str(), "g");
        assert_eq!(team.supervisor().as_str(), "s");
        let members: Vec<&str> = team.members().map(StaffId::as_str).collect();
        assert_eq!(members, vec!["g", "a1", "a2", "s"]);
        assert_eq!(team.facts().violations(), vec![]);
    }

    #[test]
    fn a_second_governor_is_named_as_a_problem_of_the_governor() {
        let problems = Team::parse(input(&["g1", "g2"], &[], &["s"])).expect_err("two governors");
        assert_eq!(problems, vec![TeamProblem::SecondGovernor { count: 2 }]);
        assert_eq!(problems[0].member(), "governor");
        assert_eq!(
            problems[0].to_string(),
            "a block needs exactly one governor, 2 were given"
        );
    }

    #[test]
    fn missing_posts_are_each_reported() {
        assert_eq!(
            Team::parse(input(&[], &["a"], &[])).expect_err("empty"),
            vec![TeamProblem::MissingGovernor, TeamProblem::MissingSupervisor]
        );
        assert_eq!(
            Team::parse(input(&["g"], &[], &["s1", "s2"])).expect_err("two supervisors"),
            vec![TeamProblem::SecondSupervisor { count: 2 }]
        );
    }

    #[test]
    fn the_supervisor_may_be_neither_governor_nor_assistant() {
        assert_eq!(
            Team::parse(input(&["x"], &[], &["x"])).expect_err("same person"),
            vec![TeamProblem::SupervisorIsGovernor { staff: staff("x") }]
        );
        let problems = Team::parse(input(&["g"], &["a", "x"], &["x"])).expect_err("assistant");
        assert_eq!(
            problems,
            vec![TeamProblem::SupervisorIsAssistant {
                staff: staff("x"),
                index: 1
            }]
        );
        assert_eq!(problems[0].member(), "assistants[1]");
    }

    #[test]
    fn the_governor_listed_as_assistant_or_an_assistant_listed_twice_is_refused() {
        assert_eq!(
            Team::parse(input(&["g"], &["g"], &["s"])).expect_err("governor twice"),
            vec![TeamProblem::GovernorIsAssistant {
                staff: staff("g"),
                index: 0
            }]
        );
        assert_eq!(
            Team::parse(input(&["g"], &["a", "b", "a"], &["s"])).expect_err("assistant twice"),
            vec![TeamProblem::DuplicateAssistant {
                staff: staff("a"),
                index: 2,
                first_index: 0
            }]
        );
    }
}
