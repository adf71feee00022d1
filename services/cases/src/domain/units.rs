//! The divisions and units the service names: block, community and subdistrict codes
//! (`flatgov_vocabulary`'s, with the lifecycle's names for them),
//! the duty lists' units, and the text form of an assignee.
//!
//! Division codes nest (a block's 15-digit code starts with its community's 12 digits,
//! which start with its subdistrict's 9), so a block code alone tells its community and
//! subdistrict, and a jurisdiction covers a place when its code is a prefix.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use flatgov_vocabulary::{
    BlockCode, CommunityCode, DepartmentCode, OrganisationCode, SubdistrictCode,
};

use crate::domain::lifecycle::Assignee;
use crate::domain::values::{BlockName, InvalidValue, StaffId, UnitName};

impl BlockName {
    /// The block `blocks/{code}` as the lifecycle names it.
    pub fn of_code(code: BlockCode) -> Self {
        // `blocks/` and 15 digits is always a valid block name.
        Self::parse(&code.name())
            .unwrap_or_else(|_| unreachable!("a block code is a valid block name"))
    }

    /// The block's code, if the name is `blocks/{15 digits}`.
    pub fn code(&self) -> Option<BlockCode> {
        BlockCode::parse_name(self.as_str()).ok()
    }
}

impl UnitName {
    /// A subdistrict's coordination platform as a unit: `subdistricts/{code}`.
    pub fn platform(subdistrict: SubdistrictCode) -> Self {
        Self::parse(&subdistrict.name())
            .unwrap_or_else(|_| unreachable!("a subdistrict code makes a valid unit name"))
    }
}

/// A unit of the duty lists: who leads on a matter, who a case may be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum DutyUnit {
    /// A district department or enforcement agency.
    Department(DepartmentCode),
    /// A subdistrict and its coordination platform.
    Subdistrict(SubdistrictCode),
    /// A community's residents' committee (12 digits).
    Community(CommunityCode),
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
            "departments" => DepartmentCode::parse(code).ok().map(DutyUnit::Department),
            "subdistricts" => SubdistrictCode::parse(code).ok().map(DutyUnit::Subdistrict),
            "communities" => CommunityCode::parse(code).ok().map(DutyUnit::Community),
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
    fn a_block_code_names_its_block_and_a_subdistrict_its_platform() {
        let block = BlockCode::parse("430302001004017").unwrap();
        let name = BlockName::of_code(block);
        assert_eq!(name.as_str(), "blocks/430302001004017");
        assert_eq!(name.code(), Some(block));
        let nested = BlockName::parse("subdistricts/yuhu-lu/blocks/017").unwrap();
        assert_eq!(nested.code(), None);
        let platform = UnitName::platform(block.subdistrict());
        assert_eq!(platform.as_str(), "subdistricts/430302001");
    }

    #[test]
    fn duty_units_round_trip_through_their_resource_names() {
        let units = [
            DutyUnit::Department(DepartmentCode::parse("urban_management").unwrap()),
            DutyUnit::Subdistrict(SubdistrictCode::parse("430302001").unwrap()),
            DutyUnit::Community(CommunityCode::parse("430302001004").unwrap()),
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
