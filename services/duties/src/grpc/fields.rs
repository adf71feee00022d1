//! Request fields every area reads the same way: codes used as filters,
//! bounded texts, case references, formats, enums, units, places, periods
//! and pages. Each parser answers with the value or with the description
//! of what is wrong, for `Violations::check` under the field's name, so a
//! command collects every problem of a request before any I/O.

use flatgov_vocabulary::{BlockCode, CommunityCode, DepartmentCode, SubdistrictCode};
use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_grpc::time;
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::flatgov::r#type::v1 as types;

use crate::application::{DataFormat, Page};
use crate::domain::{AreaId, HandlingLevel, ListKind, Location, Tier, Unit};

/// A division code prefix given as a filter: 6, 9, 12 or 15 digits.
pub fn division_filter(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let digits = value.bytes().all(|byte| byte.is_ascii_digit());
    if !digits || ![6, 9, 12, 15].contains(&value.len()) {
        return Err(format!(
            "{value:?} is not a division code (6, 9, 12 or 15 digits)"
        ));
    }
    Ok(Some(value.to_owned()))
}

/// A department code given as a filter.
pub fn department_filter(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    DepartmentCode::parse(value)
        .map(|code| Some(code.to_string()))
        .map_err(|error| error.to_string())
}

/// A free-text field, trimmed, at most `max_chars` long.
pub fn bounded_text(value: &str, max_chars: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max_chars {
        return Err(format!("is longer than {max_chars} characters"));
    }
    Ok(trimmed.to_owned())
}

/// A `cases/{id}` reference, when given.
pub fn case_reference(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let valid = value
        .strip_prefix("cases/")
        .is_some_and(|id| !id.is_empty() && id.len() <= 64 && !id.contains('/'));
    if !valid {
        return Err(format!("{value:?} is not a case name (cases/{{id}})"));
    }
    Ok(Some(value.to_owned()))
}

/// An optional instant; unset is `None`.
pub fn instant(value: Option<&prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, String> {
    time::optional_instant(value).map_err(|error| error.to_string())
}

/// `[start, end)`, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// `period_start` and `period_end`; an end not after the start is refused
/// at `period_end`.
pub fn period(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
    violations: &mut Violations,
) -> Option<Period> {
    let start = violations.check("period_start", instant(start));
    let end = violations.check("period_end", instant(end));
    let (start, end) = (start?, end?);
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        violations.add("period_end", "must be after period_start");
        return None;
    }
    Some(Period { start, end })
}

pub fn data_format(value: i32) -> Result<DataFormat, &'static str> {
    match proto::DataFormat::try_from(value) {
        Ok(proto::DataFormat::Csv) => Ok(DataFormat::Csv),
        Ok(proto::DataFormat::Json) => Ok(DataFormat::Json),
        _ => Err("must be DATA_FORMAT_CSV or DATA_FORMAT_JSON"),
    }
}

pub fn list_kind_to_proto(kind: ListKind) -> proto::ListKind {
    match kind {
        ListKind::SubdistrictDuty => proto::ListKind::SubdistrictDuty,
        ListKind::SubdistrictCooperation => proto::ListKind::SubdistrictCooperation,
        ListKind::ResidentsSelfGovernment => proto::ListKind::ResidentsSelfGovernment,
        ListKind::ResidentsAssisting => proto::ListKind::ResidentsAssisting,
        ListKind::ResidentsNegative => proto::ListKind::ResidentsNegative,
    }
}

pub fn level_to_proto(level: HandlingLevel) -> proto::HandlingLevel {
    match level {
        HandlingLevel::Block => proto::HandlingLevel::Block,
        HandlingLevel::Community => proto::HandlingLevel::Community,
        HandlingLevel::Subdistrict => proto::HandlingLevel::Subdistrict,
        HandlingLevel::Department => proto::HandlingLevel::Department,
    }
}

pub fn level_from_proto(value: i32) -> Result<HandlingLevel, String> {
    match proto::HandlingLevel::try_from(value) {
        Ok(proto::HandlingLevel::Block) => Ok(HandlingLevel::Block),
        Ok(proto::HandlingLevel::Community) => Ok(HandlingLevel::Community),
        Ok(proto::HandlingLevel::Subdistrict) => Ok(HandlingLevel::Subdistrict),
        Ok(proto::HandlingLevel::Department) => Ok(HandlingLevel::Department),
        Ok(proto::HandlingLevel::Unspecified) => Err("a handling level is required".into()),
        Err(_) => Err(format!("{value} is not a handling level")),
    }
}

/// A tier; `None` for unspecified (where the field is optional).
pub fn tier_from_proto(value: i32) -> Result<Option<Tier>, String> {
    match types::HandlingTier::try_from(value) {
        Ok(types::HandlingTier::Unspecified) => Ok(None),
        Ok(types::HandlingTier::FrontLine) => Ok(Some(Tier::FrontLine)),
        Ok(types::HandlingTier::CoordinationMeeting) => Ok(Some(Tier::CoordinationMeeting)),
        Ok(types::HandlingTier::Whistle) => Ok(Some(Tier::Whistle)),
        Err(_) => Err(format!("{value} is not a handling tier")),
    }
}

/// A unit in a request, e.g. `from` of CheckAssignment.
pub fn unit_from_proto(
    field: &str,
    unit: Option<&types::Unit>,
    violations: &mut Violations,
) -> Option<Unit> {
    let Some(unit) = unit else {
        violations.add(field, "a unit is required");
        return None;
    };
    let code_field = format!("{field}.code");
    match types::UnitKind::try_from(unit.kind) {
        Ok(types::UnitKind::Department) => violations
            .check(code_field, DepartmentCode::parse(&unit.code))
            .map(Unit::Department),
        Ok(types::UnitKind::Subdistrict) => violations
            .check(code_field, SubdistrictCode::parse(&unit.code))
            .map(Unit::Subdistrict),
        Ok(types::UnitKind::Community) => violations
            .check(code_field, CommunityCode::parse(&unit.code))
            .map(Unit::Community),
        Ok(types::UnitKind::BlockTeam) => violations
            .check(code_field, BlockCode::parse(&unit.code))
            .map(Unit::BlockTeam),
        _ => {
            violations.add(
                format!("{field}.kind"),
                "must be UNIT_KIND_DEPARTMENT, UNIT_KIND_SUBDISTRICT, UNIT_KIND_COMMUNITY or UNIT_KIND_BLOCK_TEAM",
            );
            None
        }
    }
}

/// A request's place: the subdistrict is required unless a community or
/// block names it, and the divisions must nest.
pub fn place_location(
    field: &str,
    place: Option<&proto::Place>,
    violations: &mut Violations,
) -> Option<Location> {
    let Some(place) = place else {
        violations.add(
            field,
            "a place with a subdistrict, community or block code is required",
        );
        return None;
    };
    let before = violations.len();
    let named_below = !place.block_code.is_empty() || !place.community_code.is_empty();
    let subdistrict = if place.subdistrict_code.is_empty() && named_below {
        // Derived from the block or community below.
        Some(None)
    } else {
        violations
            .check(
                format!("{field}.subdistrict_code"),
                SubdistrictCode::parse(&place.subdistrict_code),
            )
            .map(Some)
    };
    let community = optional_code(
        violations,
        format!("{field}.community_code"),
        &place.community_code,
        CommunityCode::parse,
    );
    let block = optional_code(
        violations,
        format!("{field}.block_code"),
        &place.block_code,
        BlockCode::parse,
    );
    let mut areas = BTreeSet::new();
    for (index, area) in place.areas.iter().enumerate() {
        if let Some(area) = violations.check(format!("{field}.areas[{index}]"), AreaId::parse(area))
        {
            areas.insert(area);
        }
    }
    if violations.len() != before {
        return None;
    }
    match Location::from_divisions(subdistrict.flatten(), community.flatten(), block.flatten()) {
        Ok(location) => Some(location.with_areas(areas)),
        Err(error) => {
            violations.add(field, error);
            None
        }
    }
}

/// An optional code: `Some(None)` when empty, `None` after a problem.
pub fn optional_code<T, E: std::fmt::Display>(
    violations: &mut Violations,
    field: String,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    if value.is_empty() {
        return Some(None);
    }
    violations.check(field, parse(value)).map(Some)
}

/// A list request's `page_size` and `page_token` for `query` (the list
/// and its filters, which a token is bound to), the token's key read as
/// the list's key type.
pub fn page<K: FromStr>(
    page_size: i32,
    page_token: &str,
    query: ListQuery,
    violations: &mut Violations,
) -> Option<Page<K>> {
    let request = match PageRequest::parse(page_size, page_token, &query) {
        Ok(request) => request,
        Err(problems) => {
            violations.extend(problems);
            return None;
        }
    };
    let after = match request.after_as::<K>() {
        Ok(after) => after,
        Err(problem) => {
            violations.extend([problem]);
            return None;
        }
    };
    Some(Page {
        after,
        size: request.size,
        query,
    })
}

/// Cuts rows fetched for `page` to one page and returns the next page's
/// token (empty on the last page).
pub fn next_page_token<K, T>(
    page: &Page<K>,
    rows: &mut Vec<T>,
    key: impl Fn(&T) -> String,
) -> String {
    page.size.next_page_token(rows, &page.query, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_given_by_its_block_alone_knows_its_subdistrict() {
        let mut violations = Violations::new();
        let place = proto::Place {
            block_code: "430302001004017".into(),
            ..Default::default()
        };
        let location = place_location("place", Some(&place), &mut violations).unwrap();
        assert_eq!(
            location.subdistrict().map(SubdistrictCode::as_str),
            Some("430302001")
        );
        let empty = proto::Place::default();
        assert!(place_location("place", Some(&empty), &mut violations).is_none());
        let problems = violations.into_vec();
        assert_eq!(problems[0].field, "place.subdistrict_code");
        assert_eq!(problems[0].description, "subdistrict code is empty");
    }

    #[test]
    fn a_place_whose_divisions_do_not_nest_is_refused_at_the_place() {
        let mut violations = Violations::new();
        let place = proto::Place {
            subdistrict_code: "430302002".into(),
            block_code: "430302001004017".into(),
            ..Default::default()
        };
        assert!(place_location("place", Some(&place), &mut violations).is_none());
        let problems = violations.into_vec();
        assert_eq!(problems[0].field, "place");
        assert_eq!(
            problems[0].description,
            "block 430302001004017 is not in subdistrict 430302002"
        );
    }

    #[test]
    fn a_period_that_ends_before_it_starts_is_refused_at_its_end() {
        let mut violations = Violations::new();
        let start = prost_types::Timestamp {
            seconds: 2_000,
            nanos: 0,
        };
        let end = prost_types::Timestamp {
            seconds: 1_000,
            nanos: 0,
        };
        assert!(period(Some(&start), Some(&end), &mut violations).is_none());
        assert_eq!(violations.into_vec()[0].field, "period_end");
    }

    #[test]
    fn filters_are_division_codes_and_cases_are_case_names() {
        assert_eq!(division_filter("430302001"), Ok(Some("430302001".into())));
        assert!(division_filter("4303020").is_err());
        assert_eq!(case_reference(""), Ok(None));
        assert!(case_reference("case/1").is_err());
        assert_eq!(bounded_text("  x  ", 3), Ok("x".into()));
        assert!(bounded_text("abcd", 3).is_err());
    }
}
