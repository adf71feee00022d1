//! The words of the mediation track, each stored as its snake-case text and
//! parsed back only through `parse`, so a row that says something else is
//! found corrupt rather than guessed at.

use flatgov_vocabulary::{CommunityCode, SubdistrictCode};
use uuid::Uuid;

/// Declares a closed set of words stored as text.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// The three mediations of the linkage, in the order a dispute climbs them.
    Level {
        Peoples => "peoples",
        Administrative => "administrative",
        Judicial => "judicial",
    }
}

words! {
    /// How a stage ended.
    Outcome {
        Agreement => "agreement",
        Failed => "failed",
        Withdrawn => "withdrawn",
    }
}

words! {
    /// Why a stage started.
    Trigger {
        Registered => "registered",
        HandedOver => "handed_over",
        Overdue => "overdue",
        Reopened => "reopened",
    }
}

words! {
    /// What a dispute is about.
    DisputeType {
        Neighbour => "neighbour",
        Family => "family",
        PropertyManagement => "property_management",
        Wages => "wages",
        Consumer => "consumer",
        LandAndHousing => "land_and_housing",
        Other => "other",
    }
}

impl DisputeType {
    /// The matter in the duty lists' catalogue a dispute of this type is,
    /// which names the competent department; `None` for types the
    /// catalogue has no matter for (the justice office mediates them).
    pub fn matter(self) -> Option<&'static str> {
        match self {
            DisputeType::Neighbour => Some("neighbour_dispute"),
            DisputeType::Family => Some("family_conflict"),
            DisputeType::PropertyManagement => Some("owner_property_dispute"),
            DisputeType::Wages => Some("wage_arrears"),
            DisputeType::Consumer => Some("consumer_dispute"),
            DisputeType::LandAndHousing | DisputeType::Other => None,
        }
    }
}

words! {
    /// Where a dispute stands.
    DisputeState {
        Mediating => "mediating",
        AwaitingHandOver => "awaiting_hand_over",
        Performing => "performing",
        Closed => "closed",
    }
}

words! {
    /// How a closed dispute ended.
    Resolution {
        Performed => "performed",
        Withdrawn => "withdrawn",
        Litigation => "litigation",
    }
}

words! {
    /// A party's side.
    PartyRole {
        Applicant => "applicant",
        Respondent => "respondent",
    }
}

words! {
    /// Why a dispute is at risk of escalating (激化).
    RiskKind {
        Threat => "threat",
        ManyParties => "many_parties",
        Repeat => "repeat",
    }
}

/// A dispute with this many parties or more is 群体性 (many parties): at
/// risk of escalating.
pub const MANY_PARTIES: usize = 5;

/// Two disputes between at least this many of the same parties (by phone
/// number) are repeats of each other.
pub const SAME_PARTIES: i64 = 2;

/// `disputes/{uuid}`.
pub fn dispute_name(id: Uuid) -> String {
    format!("disputes/{id}")
}

/// `disputes/{uuid}/stages/{n}`.
pub fn stage_name(id: Uuid, number: u32) -> String {
    format!("disputes/{id}/stages/{number}")
}

/// `disputes/{uuid}/stages/{n}/agreement`.
pub fn agreement_name(id: Uuid, number: u32) -> String {
    format!("disputes/{id}/stages/{number}/agreement")
}

/// The organisation of people's mediation in `community`: its people's
/// mediation committee (人民调解委员会).
pub fn mediation_committee(community: &CommunityCode) -> String {
    format!("mediation_committee_{community}")
}

/// The subdistrict's justice office (司法所), which mediates when no
/// department is named.
pub fn justice_office(subdistrict: &SubdistrictCode) -> String {
    format!("justice_office_{subdistrict}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself_and_nothing_else_is_a_word() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(*level));
        }
        for kind in DisputeType::ALL {
            assert_eq!(DisputeType::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(Level::parse("court"), None);
        assert_eq!(DisputeState::parse(""), None);
    }

    #[test]
    fn the_levels_climb_from_peoples_to_judicial() {
        assert!(Level::Peoples < Level::Administrative);
        assert!(Level::Administrative < Level::Judicial);
    }

    #[test]
    fn organisations_are_named_after_their_division() {
        let community = CommunityCode::parse("430302001004").unwrap();
        assert_eq!(
            mediation_committee(&community),
            "mediation_committee_430302001004"
        );
        assert_eq!(
            justice_office(&community.subdistrict()),
            "justice_office_430302001"
        );
    }
}
