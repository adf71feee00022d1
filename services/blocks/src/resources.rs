//! Resource names as the API writes them, parsed into domain values, and
//! back. A parser answers the value or what is wrong with it, for the
//! request's parse to file under the field it read
//! (`violations.check("name", resources::block(&request.name))`).

use uuid::Uuid;

use crate::domain::team::StaffId;
use flatgov_vocabulary::{
    BlockCode, CommunityCode, DistrictCode, DivisionCode, DivisionLevel, SubdistrictCode,
};

fn strip<'a>(name: &'a str, collection: &str) -> Result<&'a str, String> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| format!("expected {collection}/{{id}}, found {name:?}"))
}

/// `districts/{6 digits}`.
pub fn district(name: &str) -> Result<DistrictCode, String> {
    DistrictCode::parse_name(name).map_err(|error| error.to_string())
}

/// `subdistricts/{9 digits}`.
pub fn subdistrict(name: &str) -> Result<SubdistrictCode, String> {
    SubdistrictCode::parse_name(name).map_err(|error| error.to_string())
}

/// `communities/{12 digits}`.
pub fn community(name: &str) -> Result<CommunityCode, String> {
    CommunityCode::parse_name(name).map_err(|error| error.to_string())
}

/// `blocks/{15 digits}`.
pub fn block(name: &str) -> Result<BlockCode, String> {
    BlockCode::parse_name(name).map_err(|error| error.to_string())
}

/// `staff/{id}`.
pub fn staff(name: &str) -> Result<StaffId, String> {
    StaffId::parse(strip(name, "staff")?).map_err(|error| error.to_string())
}

/// A block code given bare (15 digits).
pub fn block_code(code: &str) -> Result<BlockCode, String> {
    BlockCode::parse(code).map_err(|error| error.to_string())
}

/// A staff id given bare.
pub fn staff_id(id: &str) -> Result<StaffId, String> {
    StaffId::parse(id).map_err(|error| error.to_string())
}

/// Which generation a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationRef {
    /// `generations/active`: whichever is in force.
    Active,
    /// `generations/{uuid}`.
    Id(Uuid),
}

/// `generations/{uuid}` or `generations/active`.
pub fn generation(name: &str) -> Result<GenerationRef, String> {
    let rest = name.strip_prefix("generations/").ok_or_else(|| {
        format!("expected generations/{{id}} or generations/active, found {name:?}")
    })?;
    if rest == "active" {
        return Ok(GenerationRef::Active);
    }
    Uuid::parse_str(rest)
        .map(GenerationRef::Id)
        .map_err(|_| format!("{rest:?} is not a generation id (a UUID)"))
}

/// The resource name of a generation.
pub fn generation_name(id: Uuid) -> String {
    format!("generations/{id}")
}

/// A place under which to list: everything, a district, a subdistrict or a community.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// No restriction.
    All,
    /// One district.
    District(DistrictCode),
    /// One subdistrict.
    Subdistrict(SubdistrictCode),
    /// One community.
    Community(CommunityCode),
}

impl Parent {
    /// The code prefix every child's code starts with (empty for `All`).
    pub fn prefix(&self) -> String {
        match self {
            Parent::All => String::new(),
            Parent::District(code) => code.to_string(),
            Parent::Subdistrict(code) => code.to_string(),
            Parent::Community(code) => code.to_string(),
        }
    }

    /// True when a block code lies under this parent.
    pub fn contains(&self, code: &BlockCode) -> bool {
        code.to_string().starts_with(&self.prefix())
    }
}

/// Where the levels a list accepts as its parent are named, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentLevels {
    /// `districts/…` only.
    District,
    /// `districts/…` or `subdistricts/…`.
    UpToSubdistrict,
    /// `districts/…`, `subdistricts/…` or `communities/…`.
    UpToCommunity,
}

/// An optional parent name; empty means [`Parent::All`].
pub fn parent(name: &str, levels: ParentLevels) -> Result<Parent, String> {
    if name.is_empty() {
        return Ok(Parent::All);
    }
    let (collection, _) = name.split_once('/').unwrap_or((name, ""));
    let accepted = match levels {
        ParentLevels::District => "districts/{code}",
        ParentLevels::UpToSubdistrict => "districts/{code} or subdistricts/{code}",
        ParentLevels::UpToCommunity => {
            "districts/{code}, subdistricts/{code} or communities/{code}"
        }
    };
    match (collection, levels) {
        ("districts", _) => district(name).map(Parent::District),
        ("subdistricts", ParentLevels::UpToSubdistrict | ParentLevels::UpToCommunity) => {
            subdistrict(name).map(Parent::Subdistrict)
        }
        ("communities", ParentLevels::UpToCommunity) => community(name).map(Parent::Community),
        _ => Err(format!("expected {accepted}, found {name:?}")),
    }
}

/// Any division's resource name (district to block).
pub fn division(name: &str) -> Result<DivisionCode, String> {
    DivisionCode::parse_name(name).map_err(|error| error.to_string())
}

/// The resource name of a division from its code (by length).
pub fn division_name(code: &str) -> String {
    let level = DivisionLevel::of_digits(code.len()).unwrap_or(DivisionLevel::Block);
    format!("{}/{code}", level.collection())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_parse_to_codes_and_bad_ones_name_the_field() {
        assert_eq!(
            block("blocks/430302001001017").expect("valid").to_string(),
            "430302001001017"
        );
        let error = block("block/430302001001017").expect_err("wrong collection");
        assert!(error.contains("expected blocks/{code}"), "{error}");
        assert!(subdistrict("subdistricts/43030200").is_err());
        assert_eq!(staff("staff/gov-1").expect("valid").as_str(), "gov-1");
    }

    #[test]
    fn a_parent_may_only_be_a_level_the_list_accepts() {
        assert_eq!(
            parent("", ParentLevels::District).expect("empty"),
            Parent::All
        );
        assert!(matches!(
            parent("communities/430302001001", ParentLevels::UpToCommunity),
            Ok(Parent::Community(_))
        ));
        let error = parent("communities/430302001001", ParentLevels::UpToSubdistrict)
            .expect_err("too deep");
        assert!(
            error.contains("districts/{code} or subdistricts/{code}"),
            "{error}"
        );
    }

    #[test]
    fn generation_names_are_uuids_or_active() {
        assert_eq!(
            generation("generations/active").expect("alias"),
            GenerationRef::Active
        );
        let id = Uuid::now_v7();
        assert_eq!(
            generation(&generation_name(id)).expect("id"),
            GenerationRef::Id(id)
        );
        assert!(generation("generations/17").is_err());
    }

    #[test]
    fn division_names_follow_the_code_length() {
        assert_eq!(division_name("430302"), "districts/430302");
        assert_eq!(division_name("430302001"), "subdistricts/430302001");
        assert_eq!(division_name("430302001001"), "communities/430302001001");
        assert_eq!(division_name("430302001001001"), "blocks/430302001001001");
        assert_eq!(
            division("subdistricts/430302001").expect("valid").as_str(),
            "430302001"
        );
    }
}
