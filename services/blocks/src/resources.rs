//! Resource names as the API writes them, parsed into domain values.
//!
//! Every parser takes the request field it reads, so a bad value becomes an
//! INVALID_ARGUMENT naming that field.

use uuid::Uuid;

use crate::domain::codes::{BlockCode, CommunityCode, DistrictCode, SubdistrictCode};
use crate::domain::team::StaffId;
use crate::error::Error;

fn strip<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, Error> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("expected {collection}/{{code}}, found {name:?}"),
            )
        })
}

/// `districts/{6 digits}`.
pub fn district(field: &str, name: &str) -> Result<DistrictCode, Error> {
    DistrictCode::parse(strip(field, name, "districts")?)
        .map_err(|error| Error::invalid(field, error.to_string()))
}

/// `subdistricts/{9 digits}`.
pub fn subdistrict(field: &str, name: &str) -> Result<SubdistrictCode, Error> {
    SubdistrictCode::parse(strip(field, name, "subdistricts")?)
        .map_err(|error| Error::invalid(field, error.to_string()))
}

/// `communities/{12 digits}`.
pub fn community(field: &str, name: &str) -> Result<CommunityCode, Error> {
    CommunityCode::parse(strip(field, name, "communities")?)
        .map_err(|error| Error::invalid(field, error.to_string()))
}

/// `blocks/{15 digits}`.
pub fn block(field: &str, name: &str) -> Result<BlockCode, Error> {
    BlockCode::parse(strip(field, name, "blocks")?)
        .map_err(|error| Error::invalid(field, error.to_string()))
}

/// `staff/{id}`.
pub fn staff(field: &str, name: &str) -> Result<StaffId, Error> {
    StaffId::parse(strip(field, name, "staff")?)
        .map_err(|error| Error::invalid(field, error.to_string()))
}

/// A block code given bare (15 digits).
pub fn block_code(field: &str, code: &str) -> Result<BlockCode, Error> {
    BlockCode::parse(code).map_err(|error| Error::invalid(field, error.to_string()))
}

/// A staff id given bare.
pub fn staff_id(field: &str, id: &str) -> Result<StaffId, Error> {
    StaffId::parse(id).map_err(|error| Error::invalid(field, error.to_string()))
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
pub fn generation(field: &str, name: &str) -> Result<GenerationRef, Error> {
    let rest = name.strip_prefix("generations/").ok_or_else(|| {
        Error::invalid(
            field,
            format!("expected generations/{{id}} or generations/active, found {name:?}"),
        )
    })?;
    if rest == "active" {
        return Ok(GenerationRef::Active);
    }
    Uuid::parse_str(rest)
        .map(GenerationRef::Id)
        .map_err(|_| Error::invalid(field, format!("{rest:?} is not a generation id (a UUID)")))
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
pub fn parent(field: &str, name: &str, levels: ParentLevels) -> Result<Parent, Error> {
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
        ("districts", _) => district(field, name).map(Parent::District),
        ("subdistricts", ParentLevels::UpToSubdistrict | ParentLevels::UpToCommunity) => {
            subdistrict(field, name).map(Parent::Subdistrict)
        }
        ("communities", ParentLevels::UpToCommunity) => {
            community(field, name).map(Parent::Community)
        }
        _ => Err(Error::invalid(
            field,
            format!("expected {accepted}, found {name:?}"),
        )),
    }
}

/// Any division's resource name (district to block); returns its code.
pub fn division(field: &str, name: &str) -> Result<String, Error> {
    let (collection, _) = name.split_once('/').unwrap_or((name, ""));
    let code = match collection {
        "districts" => district(field, name)?.to_string(),
        "subdistricts" => subdistrict(field, name)?.to_string(),
        "communities" => community(field, name)?.to_string(),
        "blocks" => block(field, name)?.to_string(),
        _ => {
            return Err(Error::invalid(
                field,
                format!(
                    "expected districts/…, subdistricts/…, communities/… or blocks/…, found {name:?}"
                ),
            ));
        }
    };
    Ok(code)
}

/// The resource name of a division from its code (by length).
pub fn division_name(code: &str) -> String {
    let collection = match code.len() {
        DistrictCode::DIGITS => "districts",
        SubdistrictCode::DIGITS => "subdistricts",
        CommunityCode::DIGITS => "communities",
        _ => "blocks",
    };
    format!("{collection}/{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names_parse_to_codes_and_bad_ones_name_the_field() {
        assert_eq!(
            block("name", "blocks/430302001001017")
                .expect("valid")
                .to_string(),
            "430302001001017"
        );
        let error = block("name", "block/430302001001017").expect_err("wrong collection");
        assert!(
            matches!(&error, Error::InvalidArgument(violations) if violations[0].field == "name")
        );
        assert!(error.to_string().contains("expected blocks/{code}"));
        assert!(subdistrict("parent", "subdistricts/43030200").is_err());
        assert_eq!(
            staff("name", "staff/gov-1").expect("valid").as_str(),
            "gov-1"
        );
    }

    #[test]
    fn a_parent_may_only_be_a_level_the_list_accepts() {
        assert_eq!(
            parent("parent", "", ParentLevels::District).expect("empty"),
            Parent::All
        );
        assert!(matches!(
            parent(
                "parent",
                "communities/430302001001",
                ParentLevels::UpToCommunity
            ),
            Ok(Parent::Community(_))
        ));
        let error = parent(
            "parent",
            "communities/430302001001",
            ParentLevels::UpToSubdistrict,
        )
        .expect_err("too deep");
        assert!(
            error
                .to_string()
                .contains("districts/{code} or subdistricts/{code}")
        );
    }

    #[test]
    fn generation_names_are_uuids_or_active() {
        assert_eq!(
            generation("name", "generations/active").expect("alias"),
            GenerationRef::Active
        );
        let id = Uuid::now_v7();
        assert_eq!(
            generation("name", &generation_name(id)).expect("id"),
            GenerationRef::Id(id)
        );
        assert!(generation("name", "generations/17").is_err());
    }

    #[test]
    fn division_names_follow_the_code_length() {
        assert_eq!(division_name("430302"), "districts/430302");
        assert_eq!(division_name("430302001"), "subdistricts/430302001");
        assert_eq!(division_name("430302001001"), "communities/430302001001");
        assert_eq!(division_name("430302001001001"), "blocks/430302001001001");
        assert_eq!(
            division("division", "subdistricts/430302001").expect("valid"),
            "430302001"
        );
    }
}
