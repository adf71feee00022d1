//! The guards of a dispute's mediation track.
//!
//! ```text
//!            register
//!               │
//!               ▼            conclude FAILED (below judicial)
//!          ┌─────────┐ ───────────────────────────▶ ┌────────────────────┐
//!   ┌────▶ │mediating│                              │ awaiting_hand_over │
//!   │      └─────────┘ ◀─────────────────────────── └────────────────────┘
//!   │        │  │  │        hand over (higher level)
//!   │        │  │  └── conclude WITHDRAWN ─────────────▶ closed (withdrawn)
//!   │        │  └───── conclude FAILED at judicial ─────▶ closed (litigation)
//!   │        ▼ sign agreement (every party accepts)
//!   │    ┌──────────┐ follow-up: performed ─────────────▶ closed (performed)
//!   └─── │performing│
//!reopen  └──────────┘ follow-up: not performed (a new stage, same level)
//! ```
//!
//! Guards: only a running stage concludes, takes a mediator, sessions or an
//! agreement; an agreement needs each party's acceptance exactly once; a
//! hand-over only climbs (peoples → administrative → judicial) and ends a
//! running stage as failed first; a follow-up needs a signed agreement; a
//! closed dispute changes no more. [`Track`] answers what a command leads
//! to; the use cases write what it answers.

use std::collections::BTreeSet;

use super::values::{DisputeState, Level, Outcome, Resolution};

/// Where a dispute stands and the level of its current stage: all the
/// guards need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    pub state: DisputeState,
    pub level: Level,
}

/// A command the current state does not allow; the message names the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the dispute is {state}: {what} needs a running stage")]
    NoRunningStage {
        state: DisputeState,
        what: &'static str,
    },
    #[error("the dispute is closed")]
    Closed,
    #[error("a hand-over climbs: the current stage is {from}, so {to} is not higher")]
    NotHigher { from: Level, to: Level },
    #[error("an agreement ends a stage through SignAgreement, not ConcludeStage")]
    AgreementNeedsSigning,
    #[error("the dispute is {0}: a follow-up visit needs a signed agreement awaiting performance")]
    NothingToFollowUp(DisputeState),
}

/// What concluding the running stage leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// The stage failed below judicial mediation: wait for a hand-over.
    AwaitHandOver,
    /// The parties signed an agreement: wait for its follow-up visit.
    AwaitPerformance,
    /// The dispute closes.
    Close(Resolution),
}

impl Track {
    fn running(&self, what: &'static str) -> Result<(), TransitionError> {
        match self.state {
            DisputeState::Mediating => Ok(()),
            DisputeState::Closed => Err(TransitionError::Closed),
            state => Err(TransitionError::NoRunningStage { state, what }),
        }
    }

    /// Naming a mediator or recording a session.
    pub fn work_on_stage(&self, what: &'static str) -> Result<(), TransitionError> {
        self.running(what)
    }

    /// Ending the running stage with `outcome` (failed or withdrawn).
    pub fn conclude(&self, outcome: Outcome) -> Result<Conclusion, TransitionError> {
        self.running("concluding")?;
        match outcome {
            Outcome::Agreement => Err(TransitionError::AgreementNeedsSigning),
            Outcome::Withdrawn => Ok(Conclusion::Close(Resolution::Withdrawn)),
            Outcome::Failed if self.level == Level::Judicial => {
                Ok(Conclusion::Close(Resolution::Litigation))
            }
            Outcome::Failed => Ok(Conclusion::AwaitHandOver),
        }
    }

    /// Handing the dispute to `to`; true when a running stage must first end
    /// as failed.
    pub fn hand_over(&self, to: Level) -> Result<bool, TransitionError> {
        let ends_running_stage = match self.state {
            DisputeState::Mediating => true,
            DisputeState::AwaitingHandOver => false,
            DisputeState::Closed => return Err(TransitionError::Closed),
            state @ DisputeState::Performing => {
                return Err(TransitionError::NoRunningStage {
                    state,
                    what: "handing over",
                });
            }
        };
        if to <= self.level {
            return Err(TransitionError::NotHigher {
                from: self.level,
                to,
            });
        }
        Ok(ends_running_stage)
    }

    /// Signing an agreement at the running stage.
    pub fn sign(&self) -> Result<Conclusion, TransitionError> {
        self.running("signing an agreement")?;
        Ok(Conclusion::AwaitPerformance)
    }

    /// Recording the follow-up visit of the signed agreement.
    pub fn follow_up(&self) -> Result<(), TransitionError> {
        match self.state {
            DisputeState::Performing => Ok(()),
            state => Err(TransitionError::NothingToFollowUp(state)),
        }
    }
}

/// Why the acceptances do not make an agreement: the party numbers missing
/// and those that are not parties or appear twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptanceProblem {
    pub missing: Vec<u32>,
    pub unknown_or_repeated: Vec<u32>,
}

/// Checks that `accepted` holds each of the `party_count` parties (numbered
/// 1..=party_count) exactly once.
pub fn check_acceptances(party_count: u32, accepted: &[u32]) -> Result<(), AcceptanceProblem> {
    let mut seen = BTreeSet::new();
    let mut unknown_or_repeated = Vec::new();
    for party in accepted {
        if *party == 0 || *party > party_count || !seen.insert(*party) {
            unknown_or_repeated.push(*party);
        }
    }
    let missing: Vec<u32> = (1..=party_count)
        .filter(|party| !seen.contains(party))
        .collect();
    if missing.is_empty() && unknown_or_repeated.is_empty() {
        Ok(())
    } else {
        Err(AcceptanceProblem {
            missing,
            unknown_or_repeated,
        })
    }
}

/// What a passed time limit leads to: people's mediation is handed to the
/// justice office; administrative and judicial mediation are flagged where
/// they are, so the subdistrict is alerted.
pub fn overdue_escalates(level: Level) -> bool {
    level == Level::Peoples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(state: DisputeState, level: Level) -> Track {
        Track { state, level }
    }

    #[test]
    fn failed_peoples_mediation_waits_for_a_hand_over_and_failed_judicial_mediation_closes_to_litigation()
     {
        let peoples = track(DisputeState::Mediating, Level::Peoples);
        assert_eq!(
            peoples.conclude(Outcome::Failed),
            Ok(Conclusion::AwaitHandOver)
        );
        let judicial = track(DisputeState::Mediating, Level::Judicial);
        assert_eq!(
            judicial.conclude(Outcome::Failed),
            Ok(Conclusion::Close(Resolution::Litigation))
        );
        assert_eq!(
            peoples.conclude(Outcome::Withdrawn),
            Ok(Conclusion::Close(Resolution::Withdrawn))
        );
    }

    #[test]
    fn an_agreement_is_not_a_plain_conclusion() {
        let peoples = track(DisputeState::Mediating, Level::Peoples);
        assert_eq!(
            peoples.conclude(Outcome::Agreement),
            Err(TransitionError::AgreementNeedsSigning)
        );
    }

    #[test]
    fn a_hand_over_only_climbs_and_ends_a_running_stage_first() {
        let running = track(DisputeState::Mediating, Level::Peoples);
        assert_eq!(running.hand_over(Level::Administrative), Ok(true));
        assert_eq!(running.hand_over(Level::Judicial), Ok(true));
        assert_eq!(
            running.hand_over(Level::Peoples),
            Err(TransitionError::NotHigher {
                from: Level::Peoples,
                to: Level::Peoples
            })
        );
        let waiting = track(DisputeState::AwaitingHandOver, Level::Administrative);
        assert_eq!(waiting.hand_over(Level::Judicial), Ok(false));
        assert!(waiting.hand_over(Level::Administrative).is_err());
    }

    #[test]
    fn a_closed_dispute_changes_no_more() {
        let closed = track(DisputeState::Closed, Level::Administrative);
        assert_eq!(closed.sign(), Err(TransitionError::Closed));
        let running = track(DisputeState::Mediating, Level::Peoples);
        assert_eq!(running.sign(), Ok(Conclusion::AwaitPerformance));
        assert_eq!(
            closed.conclude(Outcome::Failed),
            Err(TransitionError::Closed)
        );
        assert_eq!(
            closed.hand_over(Level::Judicial),
            Err(TransitionError::Closed)
        );
        assert!(closed.follow_up().is_err());
    }

    #[test]
    fn only_a_signed_agreement_is_followed_up_and_it_stops_the_stage_work() {
        let performing = track(DisputeState::Performing, Level::Administrative);
        assert_eq!(performing.follow_up(), Ok(()));
        assert!(performing.work_on_stage("recording a session").is_err());
        assert!(performing.hand_over(Level::Judicial).is_err());
        let mediating = track(DisputeState::Mediating, Level::Administrative);
        assert!(mediating.follow_up().is_err());
    }

    #[test]
    fn every_party_accepts_exactly_once() {
        assert_eq!(check_acceptances(2, &[2, 1]), Ok(()));
        assert_eq!(
            check_acceptances(3, &[1, 1, 4]),
            Err(AcceptanceProblem {
                missing: vec![2, 3],
                unknown_or_repeated: vec![1, 4],
            })
        );
    }

    #[test]
    fn only_peoples_mediation_is_handed_on_when_overdue() {
        assert!(overdue_escalates(Level::Peoples));
        assert!(!overdue_escalates(Level::Administrative));
        assert!(!overdue_escalates(Level::Judicial));
    }
}
