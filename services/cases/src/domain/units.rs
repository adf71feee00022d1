//! The divisions and units the service names: block, community and subdistrict codes,
//! the duty lists' units, and the text form of an assignee.
//!
//! Division codes nest (a block's 15-digit code starts with its community's 12 digits,
//! which start with its subdistrict's 9), so a block code alone tells its community and
//! subdistrict, and a jurisdiction covers a place when its code is a prefix.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::lifecycle::Assignee;
use crate::domain::values::{BlockName, InvalidValue, StaffId, UnitName};

fn digits(
    what: &'static str,
    text: &str,
    length: usize,
    expected: &'static str,
) -> Result<String, InvalidValue> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::Empty { what });
    }
    if trimmed.len() != length || !trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(InvalidValue::Malformed {
            what,
            value: trimmed.to_owned(),
            expected,
        });
    }
    Ok(trimmed.to_owned())
}

/// A block's 15-digit code: its community's 12 digits and a 3-digit number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlockCode(String);

impl BlockCode {
    /// Parses 15 digits.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        digits("block code", text, 15, "15 digits").map(Self)
    }

    /// Parses the resource name `blocks/{15 digits}`.
    pub fn parse_name(name: &str) -> Result<Self, InvalidValue> {
        let malformed = || InvalidValue::Malformed {
            what: "block name",
            value: name.to_owned(),
            expected: "`blocks/` followed by the 15-digit block code",
        };
        if name.trim().is_empty() {
            return Err(InvalidValue::Empty { what: "block name" });
        }
        let code = name.strip_prefix("blocks/").ok_or_else(malformed)?;
        Self::parse(code).map_err(|_| malformed())
    }

    /// The code's digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `blocks/{code}`.
    pub fn name(&self) -> String {
        format!("blocks/{}", self.0)
    }

    /// The block as the lifecycle names it.
    pub fn block_name(&self) -> BlockName {
        // `blocks/` and 15 digits is always a valid block name.
        BlockName::parse(&self.name())
            .unwrap_or_else(|_| unreachable!("a block code is a valid block name"))
    }

    /// The block of a lifecycle block name, if it is `blocks/{15 digits}`.
    pub fn of_block_name(name: &BlockName) -> Option<Self> {
        Self::parse_name(name.as_str()).ok()
    }

    /// The 12-digit community code.
    pub fn community_code(&self) -> &str {
        &self.0[..12]
    }

    /// The 9-digit subdistrict code.
    pub fn subdistrict_code(&self) -> &str {
        &self.0[..9]
    }
}

impl fmt::Display for BlockCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for BlockCode {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<BlockCode> for String {
    fn from(code: BlockCode) -> String {
        code.0
    }
}

/// A subdistrict's 9-digit code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubdistrictCode(String);

impl SubdistrictCode {
    /// Parses 9 digits.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        digits("subdistrict code", text, 9, "9 digits").map(Self)
    }

    /// The code's digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subdistrict's coordination platform as a unit: `subdistricts/{code}`.
    pub fn platform(&self) -> UnitName {
        UnitName::parse(&format!("subdistricts/{}", self.0))
            .unwrap_or_else(|_| unreachable!("a subdistrict code makes a valid unit name"))
    }
}

impl fmt::Display for SubdistrictCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for SubdistrictCode {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<SubdistrictCode> for String {
    fn from(code: SubdistrictCode) -> String {
        code.0
    }
}

/// A department or organisation code as the duty lists and the federation spell them:
/// snake case, 2–48 characters (`urban_management`, `womens_federation`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgCode(String);

impl OrgCode {
    /// Parses a snake-case code.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InvalidValue::Empty {
                what: "organisation code",
            });
        }
        let well_formed = (2..=48).contains(&trimmed.len())
            && trimmed.starts_with(|character: char| character.is_ascii_lowercase())
            && trimmed
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        if !well_formed {
            return Err(InvalidValue::Malformed {
                what: "organisation code",
                value: trimmed.to_owned(),
                expected: "2-48 lower-case letters, digits and underscores, starting with a letter",
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for OrgCode {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<OrgCode> for String {
    fn from(code: OrgCode) -> String {
        code.0
    }
}

/// A unit of the duty lists: who leads on a matter, who a case may be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum DutyUnit {
    /// A district department or enforcement agency.
    Department(OrgCode),
    /// A subdistrict and its coordination platform.
    Subdistrict(SubdistrictCode),
    /// A community's residents' committee (12 digits).
    Community(String),
    /// A block's 1+N+1 team.
    BlockTeam(BlockCode),
}

impl DutyUnit {
    /// The unit's resource name, which is also how a case names it as an assignee.
    pub fn unit_name(&self) -> UnitName {
        let text = match self {
            DutyUnit::Department(code) => format!("departments/{code}"),
            DutyUnit::Subdistrict(code) => format!("subdistricts/{code}"),
            DutyUnit::Community(code) => format!("communities/{code}"),
            DutyUnit::BlockTeam(code) => format!("blocks/{code}"),
        };
        UnitName::parse(&text)
            .unwrap_or_else(|_| unreachable!("validated codes make valid unit names"))
    }

    /// The unit a case assigned to `unit` is held by, for the duty-list gate: departments,
    /// subdistrict platforms, communities and block teams; `None` for other units (a
    /// federation organisation, a district).
    pub fn of_unit_name(unit: &UnitName) -> Option<Self> {
        let (collection, code) = unit.as_str().split_once('/')?;
        match collection {
            "departments" => OrgCode::parse(code).ok().map(DutyUnit::Department),
            "subdistricts" => SubdistrictCode::parse(code).ok().map(DutyUnit::Subdistrict),
            "communities" => digits("community code", code, 12, "12 digits")
                .ok()
                .map(DutyUnit::Community),
            "blocks" => BlockCode::parse(code).ok().map(DutyUnit::BlockTeam),
            _ => None,
        }
    }
}

impl fmt::Display for DutyUnit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.unit_name())
    }
}

/// The text form of an assignee: `staff/{id}` for one staff member, the unit's resource
/// name otherwise.
pub fn assignee_name(assignee: &Assignee) -> String {
    match assignee {
        Assignee::Staff(id) => format!("staff/{id}"),
        Assignee::Unit(unit) => unit.to_string(),
    }
}

/// Parses `staff/{id}` or a unit's resource name.
pub fn parse_assignee(text: &str) -> Result<Assignee, InvalidValue> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::Empty { what: "assignee" });
    }
    if let Some(id) = trimmed.strip_prefix("staff/") {
        return StaffId::parse(id).map(Assignee::Staff);
    }
    let unit = UnitName::parse(trimmed)?;
    let known = [
        "blocks",
        "communities",
        "subdistricts",
        "departments",
        "organisations",
    ];
    let collection = unit.segments().next().unwrap_or_default();
    if unit.segments().count() != 2 || !known.contains(&collection) {
        return Err(InvalidValue::Malformed {
            what: "assignee",
            value: trimmed.to_owned(),
            expected: "`staff/{id}`, `blocks/{code}`, `communities/{code}`, `subdistricts/{code}`, `departments/{code}` or `organisations/{code}`",
        });
    }
    Ok(Assignee::Unit(unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_code_tells_its_community_and_subdistrict() {
        let block = BlockCode::parse_name("blocks/430302001004017").unwrap();
        assert_eq!(block.community_code(), "430302001004");
        assert_eq!(block.subdistrict_code(), "430302001");
        assert_eq!(block.name(), "blocks/430302001004017");
        assert_eq!(block.block_name().as_str(), "blocks/430302001004017");
    }

    #[test]
    fn a_block_name_without_the_collection_or_with_the_wrong_number_of_digits_is_malformed() {
        for bad in [
            "430302001004017",
            "blocks/43030200100401",
            "blocks/43030200100401x",
            "subdistricts/430302001",
        ] {
            assert!(
                matches!(
                    BlockCode::parse_name(bad),
                    Err(InvalidValue::Malformed {
                        what: "block name",
                        ..
                    })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            BlockCode::parse_name(" ").unwrap_err(),
            InvalidValue::Empty { what: "block name" }
        );
    }

    #[test]
    fn a_subdistrict_code_is_nine_digits_and_names_its_platform() {
        let code = SubdistrictCode::parse("430302001").unwrap();
        assert_eq!(code.platform().as_str(), "subdistricts/430302001");
        assert!(SubdistrictCode::parse("43030200").is_err());
    }

    #[test]
    fn organisation_codes_are_snake_case() {
        assert!(OrgCode::parse("urban_management").is_ok());
        for bad in ["Urban", "u", "urban-management", "_x", "9abc"] {
            assert!(OrgCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duty_units_round_trip_through_their_resource_names() {
        let units = [
            DutyUnit::Department(OrgCode::parse("urban_management").unwrap()),
            DutyUnit::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
            DutyUnit::Community("430302001004".to_owned()),
            DutyUnit::BlockTeam(BlockCode::parse("430302001004017").unwrap()),
        ];
        for unit in units {
            assert_eq!(DutyUnit::of_unit_name(&unit.unit_name()), Some(unit));
        }
        let federation = UnitName::parse("organisations/womens_federation").unwrap();
        assert_eq!(DutyUnit::of_unit_name(&federation), None);
    }

    #[test]
    fn an_assignee_is_a_staff_member_or_a_known_kind_of_unit() {
        let governor = parse_assignee("staff/gov-017").unwrap();
        assert_eq!(
            governor,
            Assignee::Staff(StaffId::parse("gov-017").unwrap())
        );
        assert_eq!(assignee_name(&governor), "staff/gov-017");
        let platform = parse_assignee("subdistricts/430302001").unwrap();
        assert_eq!(assignee_name(&platform), "subdistricts/430302001");
        for bad in [
            "",
            "staff/",
            "people/1",
            "subdistricts/430302001/blocks/1",
            "Staff/x",
        ] {
            assert!(parse_assignee(bad).is_err(), "{bad}");
        }
    }
}
