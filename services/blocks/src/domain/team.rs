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
}
