//! The closed vocabularies of the duty lists: which list, which level handles an item, and
//! which tier a case starts at.
//!
//! Each enum has one canonical lower snake case spelling (`as_str`, `parse`) used in CSV,
//! JSON, proto enums' names and logs.

use std::fmt;
use std::str::FromStr;

/// A string that is not one of an enum's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is not one of: {expected}")]
pub struct UnknownVariant {
    /// Which vocabulary was being parsed, e.g. "handling level".
    pub what: &'static str,
    /// The offending value.
    pub value: String,
    /// The accepted spellings, comma separated.
    pub expected: &'static str,
}

/// The five published lists (权责清单) of the reform.
///
/// The two subdistrict lists say what a subdistrict does itself and where it only
/// cooperates with a department; the three residents' committee lists say what a
/// committee does by law as self-government, what it assists the government with, and
/// what may never be put on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListKind {
    /// 街道职责清单: duties the subdistrict performs itself (through its platform,
    /// communities and block teams).
    SubdistrictDuty,
    /// 街道配合事项清单: matters a department leads and the subdistrict cooperates on.
    SubdistrictCooperation,
    /// 居委会依法自治事项: matters a residents' committee handles by law as self-government.
    ResidentsSelfGovernment,
    /// 居委会依法协助政府工作事项: government work a residents' committee assists with.
    ResidentsAssisting,
    /// 居委会负面事项: matters that may not be put on a residents' committee; each item
    /// names the department that handles it instead.
    ResidentsNegative,
}

impl ListKind {
    /// Every list kind, in the order the lists are usually printed.
    pub const ALL: [ListKind; 5] = [
        ListKind::SubdistrictDuty,
        ListKind::SubdistrictCooperation,
        ListKind::ResidentsSelfGovernment,
        ListKind::ResidentsAssisting,
        ListKind::ResidentsNegative,
    ];

    const EXPECTED: &'static str = "subdistrict_duty, subdistrict_cooperation, residents_self_government, residents_assisting, residents_negative";

    /// The list's position in [`ListKind::ALL`], `0`–`4`.
    pub fn ordinal(self) -> usize {
        match self {
            ListKind::SubdistrictDuty => 0,
            ListKind::SubdistrictCooperation => 1,
            ListKind::ResidentsSelfGovernment => 2,
            ListKind::ResidentsAssisting => 3,
            ListKind::ResidentsNegative => 4,
        }
    }

    /// The canonical spelling, e.g. `subdistrict_duty`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::SubdistrictDuty => "subdistrict_duty",
            ListKind::SubdistrictCooperation => "subdistrict_cooperation",
            ListKind::ResidentsSelfGovernment => "residents_self_government",
            ListKind::ResidentsAssisting => "residents_assisting",
            ListKind::ResidentsNegative => "residents_negative",
        }
    }

    /// Parses the canonical spelling.
    pub fn parse(value: &str) -> Result<Self, UnknownVariant> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| UnknownVariant {
                what: "list kind",
                value: value.to_owned(),
                expected: Self::EXPECTED,
            })
    }

    /// The two-letter prefix of every item code on this list (see [`crate::domain::ItemCode`]).
    pub fn code_prefix(self) -> &'static str {
        match self {
            ListKind::SubdistrictDuty => "SD",
            ListKind::SubdistrictCooperation => "SC",
            ListKind::ResidentsSelfGovernment => "RS",
            ListKind::ResidentsAssisting => "RA",
            ListKind::ResidentsNegative => "RN",
        }
    }

    /// The list kind whose item codes start with `prefix`.
    pub fn from_code_prefix(prefix: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.code_prefix() == prefix)
    }

    /// The list's official Chinese title.
    pub fn title_zh(self) -> &'static str {
        match self {
            ListKind::SubdistrictDuty => "街道职责清单",
            ListKind::SubdistrictCooperation => "街道配合事项清单",
            ListKind::ResidentsSelfGovernment => "居民委员会依法自治事项清单",
            ListKind::ResidentsAssisting => "居民委员会依法协助政府工作事项清单",
            ListKind::ResidentsNegative => "居民委员会负面事项清单",
        }
    }

    /// The levels an item on this list may be handled at.
    ///
    /// This is what makes the lists mean something: a cooperation item is always led by a
    /// department (the subdistrict only cooperates), a residents' committee list item is
    /// handled inside the community (by the committee or its block teams), and a negative
    /// list item names the department that handles it instead of the committee.
    pub fn allowed_levels(self) -> &'static [HandlingLevel] {
        match self {
            ListKind::SubdistrictDuty => &[
                HandlingLevel::Block,
                HandlingLevel::Community,
                HandlingLevel::Subdistrict,
            ],
            ListKind::SubdistrictCooperation | ListKind::ResidentsNegative => {
                &[HandlingLevel::Department]
            }
            ListKind::ResidentsSelfGovernment | ListKind::ResidentsAssisting => {
                &[HandlingLevel::Block, HandlingLevel::Community]
            }
        }
    }

    /// Whether the list belongs to the subdistrict (as opposed to residents' committees).
    pub fn is_subdistrict_list(self) -> bool {
        matches!(
            self,
            ListKind::SubdistrictDuty | ListKind::SubdistrictCooperation
        )
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for ListKind {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// The level that takes a case about an item on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HandlingLevel {
    /// The block's "1+N+1" team (governor, assistants, supervisor).
    Block,
    /// The community's residents' committee.
    Community,
    /// The subdistrict, through its dispatch platform.
    Subdistrict,
    /// A district department (the item's lead department).
    Department,
}

impl HandlingLevel {
    /// Every level, from the front line upwards.
    pub const ALL: [HandlingLevel; 4] = [
        HandlingLevel::Block,
        HandlingLevel::Community,
        HandlingLevel::Subdistrict,
        HandlingLevel::Department,
    ];

    /// The canonical spelling, e.g. `block`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandlingLevel::Block => "block",
            HandlingLevel::Community => "community",
            HandlingLevel::Subdistrict => "subdistrict",
            HandlingLevel::Department => "department",
        }
    }

    /// Parses the canonical spelling.
    pub fn parse(value: &str) -> Result<Self, UnknownVariant> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == value)
            .ok_or_else(|| UnknownVariant {
                what: "handling level",
                value: value.to_owned(),
                expected: "block, community, subdistrict, department",
            })
    }
}

impl fmt::Display for HandlingLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for HandlingLevel {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

/// The tier a case starts at in the closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Handled at the front line by the block team or the community.
    FrontLine,
    /// Needs a coordination meeting convened by the subdistrict.
    CoordinationMeeting,
    /// The subdistrict "blows the whistle" (吹哨) and departments report in.
    Whistle,
}

impl Tier {
    /// Every tier, from the lightest to the heaviest.
    pub const ALL: [Tier; 3] = [Tier::FrontLine, Tier::CoordinationMeeting, Tier::Whistle];

    /// The canonical spelling, e.g. `front_line`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::FrontLine => "front_line",
            Tier::CoordinationMeeting => "coordination_meeting",
            Tier::Whistle => "whistle",
        }
    }

    /// Parses the canonical spelling.
    pub fn parse(value: &str) -> Result<Self, UnknownVariant> {
        Self::ALL
            .into_iter()
            .find(|tier| tier.as_str() == value)
            .ok_or_else(|| UnknownVariant {
                what: "tier",
                value: value.to_owned(),
                expected: "front_line, coordination_meeting, whistle",
            })
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = UnknownVariant;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_kind_round_trips_through_its_spelling_and_its_code_prefix() {
        for kind in ListKind::ALL {
            assert_eq!(ListKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(ListKind::from_code_prefix(kind.code_prefix()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn every_list_kind_sits_at_its_ordinal_in_all() {
        for kind in ListKind::ALL {
            assert_eq!(ListKind::ALL[kind.ordinal()], kind);
        }
    }

    #[test]
    fn list_kinds_have_distinct_code_prefixes() {
        let mut prefixes: Vec<_> = ListKind::ALL
            .iter()
            .map(|kind| kind.code_prefix())
            .collect();
        prefixes.sort_unstable();
        prefixes.dedup();
        assert_eq!(prefixes.len(), ListKind::ALL.len());
    }

    #[test]
    fn an_unknown_list_kind_is_refused_listing_the_accepted_ones() {
        let error = ListKind::parse("duty").unwrap_err();
        assert_eq!(error.value, "duty");
        assert!(error.to_string().contains("residents_negative"));
        assert_eq!(ListKind::from_code_prefix("XX"), None);
    }

    #[test]
    fn a_cooperation_item_can_only_be_led_by_a_department() {
        assert_eq!(
            ListKind::SubdistrictCooperation.allowed_levels(),
            &[HandlingLevel::Department]
        );
    }

    #[test]
    fn residents_committee_items_stay_inside_the_community() {
        for kind in [
            ListKind::ResidentsSelfGovernment,
            ListKind::ResidentsAssisting,
        ] {
            assert!(!kind.allowed_levels().contains(&HandlingLevel::Subdistrict));
            assert!(!kind.allowed_levels().contains(&HandlingLevel::Department));
        }
    }

    #[test]
    fn a_negative_list_item_is_handled_by_a_department_instead() {
        assert_eq!(
            ListKind::ResidentsNegative.allowed_levels(),
            &[HandlingLevel::Department]
        );
    }

    #[test]
    fn only_the_duty_and_cooperation_lists_are_subdistrict_lists() {
        let subdistrict: Vec<_> = ListKind::ALL
            .into_iter()
            .filter(|kind| kind.is_subdistrict_list())
            .collect();
        assert_eq!(
            subdistrict,
            [ListKind::SubdistrictDuty, ListKind::SubdistrictCooperation]
        );
    }

    #[test]
    fn handling_levels_and_tiers_round_trip_through_their_spellings() {
        for level in HandlingLevel::ALL {
            assert_eq!(level.as_str().parse(), Ok(level));
        }
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse(), Ok(tier));
        }
    }

    #[test]
    fn spellings_are_case_sensitive_and_exact() {
        assert!(Tier::parse("Whistle").is_err());
        assert!(Tier::parse("front-line").is_err());
        assert!(HandlingLevel::parse(" block").is_err());
        assert_eq!(
            HandlingLevel::parse("district").unwrap_err().to_string(),
            "handling level \"district\" is not one of: block, community, subdistrict, department"
        );
    }
}
