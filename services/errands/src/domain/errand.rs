//! An errand's track, from the resident's request to being told the result.
//!
//! ```text
//!             CollectMaterials                 NotifyMissingMaterials
//!   request ──► collecting ───────────────────► awaiting_materials
//!                   │  ▲                               │
//!                   │  └──── (materials collected) ────┘
//!                   │ SubmitErrand (nothing missing)
//!                   ▼
//!               submitted ── RecordResult(returned) ──► returned ──┐
//!                   │                                    ▲          │ collect, notify,
//!                   │ RecordResult(approved | refused)   └──────────┘ submit again
//!                   ▼
//!                decided ── RecordResidentTold ──► completed
//! ```
//!
//! Guards:
//! - materials are collected, and missing ones notified, only before the
//!   errand is with the department (collecting, awaiting_materials, returned);
//! - the missing items are told once per round (一次性告知): the service lists
//!   them itself, all of them, and a second notice of the same round is
//!   refused — the round is the number of returns so far;
//! - an errand is submitted only when nothing on the checklist (and the
//!   latest return) is missing;
//! - only a submitted errand gets a result; only a decided one is told.

use chrono::{DateTime, Utc};

macro_rules! words {
    ($name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
            pub fn parse(word: &str) -> Option<Self> {
                match word { $($word => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrandState {
    Collecting,
    AwaitingMaterials,
    Submitted,
    Returned,
    Decided,
    Completed,
}

words!(ErrandState {
    Collecting => "collecting",
    AwaitingMaterials => "awaiting_materials",
    Submitted => "submitted",
    Returned => "returned",
    Decided => "decided",
    Completed => "completed",
});

/// Where the resident asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// At the service centre: one trip.
    Centre,
    /// To the block team: no trip.
    BlockTeam,
    /// In the app: no trip.
    App,
}

words!(Channel {
    Centre => "centre",
    BlockTeam => "block_team",
    App => "app",
});

impl Channel {
    /// The trips asking here cost the resident.
    pub fn trips(self) -> u32 {
        match self {
            Channel::Centre => 1,
            Channel::BlockTeam | Channel::App => 0,
        }
    }
}

/// The deciding department's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionResult {
    Approved,
    Refused,
    Returned,
}

words!(DecisionResult {
    Approved => "approved",
    Refused => "refused",
    Returned => "returned",
});

/// How the resident was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TellingChannel {
    Call,
    Visit,
    Message,
}

words!(TellingChannel {
    Call => "call",
    Visit => "visit",
    Message => "message",
});

/// A step of the track, as the transitions record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Requested,
    MaterialsCollected,
    MissingMaterialsNotified,
    Submitted,
    Decided(DecisionResult),
    ResidentTold,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Requested => "requested",
            Action::MaterialsCollected => "materials_collected",
            Action::MissingMaterialsNotified => "missing_materials_notified",
            Action::Submitted => "submitted",
            Action::Decided(result) => result.as_str(),
            Action::ResidentTold => "resident_told",
        }
    }
}

/// A command the errand's state does not allow; the message names the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the errand is {0}: {1}")]
    NotAllowed(ErrandState, &'static str),
    #[error(
        "the missing materials of this round were already told, in full, at {0}: nothing more may be asked for piecemeal"
    )]
    AlreadyNotified(DateTime<Utc>),
    #[error("nothing is missing: submit the errand")]
    NothingMissing,
    #[error("materials are missing: {0}")]
    MaterialsMissing(String),
}

impl ErrandState {
    fn before_department(self) -> bool {
        matches!(
            self,
            ErrandState::Collecting | ErrandState::AwaitingMaterials | ErrandState::Returned
        )
    }

    /// Where `action` takes an errand in this state, or why it may not.
    pub fn after(self, action: Action) -> Result<ErrandState, TransitionError> {
        match action {
            Action::Requested => Err(TransitionError::NotAllowed(
                self,
                "it was requested already",
            )),
            Action::MaterialsCollected if self.before_department() => Ok(self),
            Action::MissingMaterialsNotified if self.before_department() => {
                Ok(ErrandState::AwaitingMaterials)
            }
            Action::MaterialsCollected | Action::MissingMaterialsNotified => Err(
                TransitionError::NotAllowed(self, "materials are collected before submission"),
            ),
            Action::Submitted if self.before_department() => Ok(ErrandState::Submitted),
            Action::Submitted => Err(TransitionError::NotAllowed(
                self,
                "only an errand being prepared is submitted",
            )),
            Action::Decided(DecisionResult::Returned) if self == ErrandState::Submitted => {
                Ok(ErrandState::Returned)
            }
            Action::Decided(_) if self == ErrandState::Submitted => Ok(ErrandState::Decided),
            Action::Decided(_) => Err(TransitionError::NotAllowed(
                self,
                "only a submitted errand gets a result",
            )),
            Action::ResidentTold if self == ErrandState::Decided => Ok(ErrandState::Completed),
            Action::ResidentTold => Err(TransitionError::NotAllowed(
                self,
                "the resident is told once the department decided",
            )),
        }
    }
}

/// The items missing now, in checklist order then the return's order: each
/// required item without a document, and each item the latest return names
/// without a document given after that return.
pub fn missing_materials(
    required: &[String],
    documents: &[(String, DateTime<Utc>)],
    latest_return: Option<(&[String], DateTime<Utc>)>,
) -> Vec<String> {
    let has_document_after = |code: &str, after: Option<DateTime<Utc>>| {
        documents
            .iter()
            .any(|(material, time)| material == code && after.is_none_or(|after| *time > after))
    };
    let mut missing: Vec<String> = Vec::new();
    let returned: &[String] = latest_return.map(|(codes, _)| codes).unwrap_or(&[]);
    let return_time = latest_return.map(|(_, time)| time);
    for code in required.iter().chain(returned) {
        if missing.contains(code) {
            continue;
        }
        let after = if returned.contains(code) {
            return_time
        } else {
            None
        };
        if !has_document_after(code, after) {
            missing.push(code.clone());
        }
    }
    missing
}

/// The trips proxy handling saved: the matter's usual trips less those the
/// resident still made.
pub fn trips_saved(usual_trips: u32, resident_trips: u32) -> u32 {
    usual_trips.saturating_sub(resident_trips)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn codes(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|code| (*code).to_owned()).collect()
    }

    #[test]
    fn every_required_item_without_a_document_is_missing_at_once() {
        let now = Utc::now();
        let required = codes(&["id_card", "household_register", "income_proof"]);
        let documents = vec![("id_card".to_owned(), now)];
        assert_eq!(
            missing_materials(&required, &documents, None),
            codes(&["household_register", "income_proof"])
        );
    }

    #[test]
    fn an_item_the_department_returned_needs_a_document_given_after_the_return() {
        let then = Utc::now();
        let returned_at = then + TimeDelta::hours(1);
        let required = codes(&["id_card", "income_proof"]);
        let mut documents = vec![
            ("id_card".to_owned(), then),
            ("income_proof".to_owned(), then),
        ];
        let returned = codes(&["income_proof", "bank_statement"]);
        assert_eq!(
            missing_materials(
                &required,
                &documents,
                Some((returned.as_slice(), returned_at))
            ),
            codes(&["income_proof", "bank_statement"])
        );
        documents.push(("income_proof".to_owned(), returned_at + TimeDelta::hours(1)));
        documents.push((
            "bank_statement".to_owned(),
            returned_at + TimeDelta::hours(1),
        ));
        assert!(
            missing_materials(
                &required,
                &documents,
                Some((returned.as_slice(), returned_at))
            )
            .is_empty()
        );
    }

    #[test]
    fn only_a_submitted_errand_is_decided_and_only_a_decided_one_told() {
        use ErrandState::*;
        assert_eq!(
            Collecting.after(Action::MissingMaterialsNotified),
            Ok(AwaitingMaterials)
        );
        assert_eq!(AwaitingMaterials.after(Action::Submitted), Ok(Submitted));
        assert!(
            Collecting
                .after(Action::Decided(DecisionResult::Approved))
                .is_err()
        );
        assert_eq!(
            Submitted.after(Action::Decided(DecisionResult::Returned)),
            Ok(Returned)
        );
        assert_eq!(Returned.after(Action::Submitted), Ok(Submitted));
        assert_eq!(
            Submitted.after(Action::Decided(DecisionResult::Refused)),
            Ok(Decided)
        );
        assert!(Submitted.after(Action::ResidentTold).is_err());
        assert_eq!(Decided.after(Action::ResidentTold), Ok(Completed));
        assert!(Completed.after(Action::MaterialsCollected).is_err());
        assert!(Decided.after(Action::Submitted).is_err());
    }

    #[test]
    fn proxy_handling_saves_the_trips_the_resident_did_not_make() {
        assert_eq!(trips_saved(2, 0), 2);
        assert_eq!(trips_saved(2, 1), 1);
        assert_eq!(trips_saved(1, 3), 0);
        assert_eq!(Channel::Centre.trips(), 1);
        assert_eq!(Channel::App.trips(), 0);
    }

    #[test]
    fn words_read_back_as_what_they_name() {
        for state in [
            ErrandState::Collecting,
            ErrandState::AwaitingMaterials,
            ErrandState::Submitted,
            ErrandState::Returned,
            ErrandState::Decided,
            ErrandState::Completed,
        ] {
            assert_eq!(ErrandState::parse(state.as_str()), Some(state));
        }
        assert_eq!(Channel::parse("block_team"), Some(Channel::BlockTeam));
        assert_eq!(DecisionResult::parse("nope"), None);
    }
}
