//! Proto ⇄ domain: resource names, enums, units, items, matters and
//! exceptions. Parsing records every problem with the request field it was
//! found in, so a caller sees all of them at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::{self, optional_timestamp, timestamp};
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::flatgov::r#type::v1 as types;

use crate::domain::{
    AreaId, BlockCode, CommunityCode, DepartmentCode, ExceptionId, ExceptionScope, HandlingLevel,
    ItemCode, ItemFields, ListItem, ListKind, Location, Matter, MatterCode, PlaceException,
    PlaceRef, Responsible, SubdistrictCode, Tier, Unit, VersionNumber, WorkingDuration,
    WorkingUnit,
};
use crate::error::Error;
use crate::rules::VersionRecord;

// ---------------------------------------------------------------- names

pub fn department_name(code: &str) -> String {
    format!("departments/{code}")
}

pub fn matter_name(code: &str) -> String {
    format!("matters/{code}")
}

pub fn exception_name(id: &str) -> String {
    format!("exceptions/{id}")
}

pub fn list_name(kind: ListKind) -> String {
    format!("lists/{kind}")
}

pub fn version_name(kind: ListKind, number: VersionNumber) -> String {
    format!("lists/{kind}/versions/{}", number.get())
}

pub fn draft_name(kind: ListKind) -> String {
    format!("lists/{kind}/draft")
}

/// The code in `{collection}/{code}`, or INVALID_ARGUMENT naming the shape.
pub fn name_code<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, Error> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|code| !code.is_empty() && !code.contains('/'))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("{name:?} is not of the form {collection}/{{id}}"),
            )
        })
}

pub fn department_code(field: &str, name: &str) -> Result<DepartmentCode, Error> {
    let code = name_code(field, name, "departments")?;
    DepartmentCode::parse(code).map_err(|error| Error::invalid(field, error))
}

pub fn matter_code_from_name(field: &str, name: &str) -> Result<MatterCode, Error> {
    let code = name_code(field, name, "matters")?;
    MatterCode::parse(code).map_err(|error| Error::invalid(field, error))
}

pub fn exception_id(field: &str, name: &str) -> Result<ExceptionId, Error> {
    let id = name_code(field, name, "exceptions")?;
    ExceptionId::parse(id).map_err(|error| Error::invalid(field, error))
}

pub fn uuid_from_name(field: &str, name: &str, collection: &str) -> Result<uuid::Uuid, Error> {
    let id = name_code(field, name, collection)?;
    id.parse()
        .map_err(|_| Error::invalid(field, format!("{id:?} is not a UUID")))
}

/// Which version of a list a name means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    /// `lists/{kind}`: the version in effect at some instant.
    InEffect(ListKind),
    /// `lists/{kind}/versions/{number}`.
    Number(ListKind, VersionNumber),
    /// `lists/{kind}/draft`.
    Draft(ListKind),
}

impl VersionRef {
    pub fn kind(self) -> ListKind {
        match self {
            VersionRef::InEffect(kind) | VersionRef::Number(kind, _) | VersionRef::Draft(kind) => {
                kind
            }
        }
    }
}

fn shape_error(field: &str, name: &str) -> Error {
    Error::invalid(
        field,
        format!(
            "{name:?} is not lists/{{kind}}, lists/{{kind}}/versions/{{number}} or lists/{{kind}}/draft (kinds: subdistrict_duty, subdistrict_cooperation, residents_self_government, residents_assisting, residents_negative)"
        ),
    )
}

pub fn version_ref(field: &str, name: &str) -> Result<VersionRef, Error> {
    let parts: Vec<&str> = name.split('/').collect();
    let kind = match parts.as_slice() {
        ["lists", kind, ..] => {
            ListKind::parse(kind).map_err(|error| Error::invalid(field, error))?
        }
        _ => return Err(shape_error(field, name)),
    };
    match parts.as_slice() {
        [_, _] => Ok(VersionRef::InEffect(kind)),
        [_, _, "draft"] => Ok(VersionRef::Draft(kind)),
        [_, _, "versions", number] => number
            .parse::<u32>()
            .ok()
            .and_then(VersionNumber::new)
            .map(|number| VersionRef::Number(kind, number))
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("{number:?} is not a version number (1, 2, …)"),
                )
            }),
        _ => Err(shape_error(field, name)),
    }
}

/// `lists/{kind}` only.
pub fn list_kind(field: &str, name: &str) -> Result<ListKind, Error> {
    match version_ref(field, name)? {
        VersionRef::InEffect(kind) => Ok(kind),
        _ => Err(Error::invalid(
            field,
            format!("{name:?} is not of the form lists/{{kind}}"),
        )),
    }
}

/// `lists/{kind}/draft/items/{code}`.
pub fn draft_item(field: &str, name: &str) -> Result<(ListKind, ItemCode), Error> {
    let (list, code) = name.rsplit_once("/items/").ok_or_else(|| {
        Error::invalid(
            field,
            format!("{name:?} is not of the form lists/{{kind}}/draft/items/{{code}}"),
        )
    })?;
    let VersionRef::Draft(kind) = version_ref(field, list)? else {
        return Err(Error::invalid(
            field,
            format!("{name:?} is not of the form lists/{{kind}}/draft/items/{{code}}"),
        ));
    };
    let code = ItemCode::parse(code).map_err(|error| Error::invalid(field, error))?;
    if code.list() != kind {
        return Err(Error::invalid(
            field,
            format!("item {code} is not on the {kind} list"),
        ));
    }
    Ok((kind, code))
}

// ---------------------------------------------------------------- enums

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

fn level_from_proto(value: i32) -> Result<HandlingLevel, String> {
    match proto::HandlingLevel::try_from(value) {
        Ok(proto::HandlingLevel::Block) => Ok(HandlingLevel::Block),
        Ok(proto::HandlingLevel::Community) => Ok(HandlingLevel::Community),
        Ok(proto::HandlingLevel::Subdistrict) => Ok(HandlingLevel::Subdistrict),
        Ok(proto::HandlingLevel::Department) => Ok(HandlingLevel::Department),
        Ok(proto::HandlingLevel::Unspecified) => Err("a handling level is required".into()),
        Err(_) => Err(format!("{value} is not a handling level")),
    }
}

pub fn tier_to_proto(tier: Tier) -> types::HandlingTier {
    match tier {
        Tier::FrontLine => types::HandlingTier::FrontLine,
        Tier::CoordinationMeeting => types::HandlingTier::CoordinationMeeting,
        Tier::Whistle => types::HandlingTier::Whistle,
    }
}

pub fn optional_tier_to_proto(tier: Option<Tier>) -> i32 {
    tier.map_or(types::HandlingTier::Unspecified, tier_to_proto) as i32
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

/// The contract's duration has no minutes: a minute limit is rounded up to
/// whole working hours (the text form keeps it exactly).
pub fn duration_to_proto(duration: WorkingDuration) -> types::WorkingDuration {
    use types::working_duration::Amount;
    let amount = match duration.unit() {
        WorkingUnit::Minutes => Amount::WorkingMinutes(duration.amount()),
        WorkingUnit::Hours => Amount::WorkingHours(duration.amount()),
        WorkingUnit::Days => Amount::WorkingDays(duration.amount()),
    };
    types::WorkingDuration {
        amount: Some(amount),
    }
}

pub fn data_format(field: &str, value: i32) -> Result<proto::DataFormat, Error> {
    match proto::DataFormat::try_from(value) {
        Ok(proto::DataFormat::Csv) => Ok(proto::DataFormat::Csv),
        Ok(proto::DataFormat::Json) => Ok(proto::DataFormat::Json),
        _ => Err(Error::invalid(
            field,
            "must be DATA_FORMAT_CSV or DATA_FORMAT_JSON",
        )),
    }
}

// ---------------------------------------------------------------- units

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

pub fn unit_to_proto(unit: &Unit) -> types::Unit {
    let (kind, code) = match unit {
        Unit::Department(code) => (types::UnitKind::Department, code.as_str()),
        Unit::Subdistrict(code) => (types::UnitKind::Subdistrict, code.as_str()),
        Unit::Community(code) => (types::UnitKind::Community, code.as_str()),
        Unit::BlockTeam(code) => (types::UnitKind::BlockTeam, code.as_str()),
    };
    types::Unit {
        kind: kind as i32,
        code: code.to_owned(),
    }
}

/// Where a unit is, as a location: a block team's block, a community, a
/// subdistrict; a department is nowhere in particular.
pub fn unit_location(unit: &Unit) -> Location {
    match unit {
        Unit::Department(_) => Location::unknown(),
        Unit::Subdistrict(code) => Location::in_subdistrict(code.clone()),
        Unit::Community(code) => Location::in_community(code.clone()),
        Unit::BlockTeam(code) => Location::in_block(code.clone()),
    }
}

/// A role made concrete at a location: the block team of the location's
/// block, and so on; the code is empty when the location does not name
/// that division.
pub fn responsible_unit(responsible: &Responsible, location: &Location) -> types::Unit {
    let (kind, code) = match responsible {
        Responsible::BlockTeam => (
            types::UnitKind::BlockTeam,
            location.block().map(|code| code.to_string()),
        ),
        Responsible::Community => (
            types::UnitKind::Community,
            location.community().map(|code| code.to_string()),
        ),
        Responsible::SubdistrictPlatform => (
            types::UnitKind::Subdistrict,
            location.subdistrict().map(|code| code.to_string()),
        ),
        Responsible::Department(code) => (types::UnitKind::Department, Some(code.to_string())),
    };
    types::Unit {
        kind: kind as i32,
        code: code.unwrap_or_default(),
    }
}

/// A unit stored as kind and code text (refusals).
pub fn unit_kind_text(unit: &types::Unit) -> &'static str {
    match types::UnitKind::try_from(unit.kind) {
        Ok(types::UnitKind::Department) => "department",
        Ok(types::UnitKind::Subdistrict) => "subdistrict",
        Ok(types::UnitKind::Community) => "community",
        Ok(types::UnitKind::BlockTeam) => "block_team",
        _ => "unspecified",
    }
}

pub fn unit_from_text(kind: &str, code: &str) -> types::Unit {
    let kind = match kind {
        "department" => types::UnitKind::Department,
        "subdistrict" => types::UnitKind::Subdistrict,
        "community" => types::UnitKind::Community,
        "block_team" => types::UnitKind::BlockTeam,
        _ => types::UnitKind::Unspecified,
    };
    types::Unit {
        kind: kind as i32,
        code: code.to_owned(),
    }
}

/// A request's place: the subdistrict is required, the rest optional, and
/// the divisions must nest.
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
fn optional_code<T, E: std::fmt::Display>(
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

// ---------------------------------------------------------------- items

pub fn item_to_proto(item: &ListItem, parent: &str) -> proto::ListItem {
    let fields = item.fields();
    proto::ListItem {
        name: format!("{parent}/items/{}", fields.code),
        code: fields.code.to_string(),
        category: fields.category.clone(),
        category_en: fields.category_en.clone().unwrap_or_default(),
        display_name: fields.name.clone(),
        display_name_en: fields.name_en.clone().unwrap_or_default(),
        description: fields.description.clone(),
        legal_basis: fields.legal_basis.clone(),
        handling_level: level_to_proto(fields.handling_level) as i32,
        lead_department: fields
            .lead_department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cooperating_departments: fields
            .cooperating_departments
            .iter()
            .map(ToString::to_string)
            .collect(),
        default_tier: tier_to_proto(fields.default_tier) as i32,
        response_limit: fields.response_limit.to_string(),
        resolution_limit: fields.resolution_limit.to_string(),
    }
}

/// The import shape's field name for a proto field, for error paths.
fn item_field(field: &str, name: &str) -> String {
    format!("{field}.{name}")
}

/// The typed fields of an item in a request; every problem recorded with
/// its path under `field`.
pub fn item_fields_from_proto(
    field: &str,
    item: &proto::ListItem,
    violations: &mut Violations,
) -> Option<ItemFields> {
    let code = violations.check(item_field(field, "code"), ItemCode::parse(&item.code));
    let required = |violations: &mut Violations, name: &str, value: &str| {
        if value.trim().is_empty() {
            violations.add(item_field(field, name), "a value is required");
            None
        } else {
            Some(value.to_owned())
        }
    };
    let category = required(violations, "category", &item.category);
    let name = required(violations, "display_name", &item.display_name);
    let legal_basis = required(violations, "legal_basis", &item.legal_basis);
    let handling_level = violations.check(
        item_field(field, "handling_level"),
        level_from_proto(item.handling_level),
    );
    let lead_department = optional_code(
        violations,
        item_field(field, "lead_department"),
        item.lead_department.trim(),
        DepartmentCode::parse,
    );
    let mut cooperating = Some(Vec::new());
    for (index, code) in item.cooperating_departments.iter().enumerate() {
        match DepartmentCode::parse(code.trim()) {
            Ok(code) => {
                if let Some(named) = cooperating.as_mut() {
                    named.push(code);
                }
            }
            Err(error) => {
                violations.add(format!("{field}.cooperating_departments[{index}]"), error);
                cooperating = None;
            }
        }
    }
    let default_tier = match tier_from_proto(item.default_tier) {
        Ok(Some(tier)) => Some(tier),
        Ok(None) => {
            violations.add(item_field(field, "default_tier"), "a tier is required");
            None
        }
        Err(error) => {
            violations.add(item_field(field, "default_tier"), error);
            None
        }
    };
    let response_limit = violations.check(
        item_field(field, "response_limit"),
        WorkingDuration::parse(item.response_limit.trim()),
    );
    let resolution_limit = violations.check(
        item_field(field, "resolution_limit"),
        WorkingDuration::parse(item.resolution_limit.trim()),
    );
    let gloss = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    Some(ItemFields {
        code: code?,
        category: category?,
        category_en: gloss(&item.category_en),
        name: name?,
        name_en: gloss(&item.display_name_en),
        description: item.description.clone(),
        legal_basis: legal_basis?,
        handling_level: handling_level?,
        lead_department: lead_department?,
        cooperating_departments: cooperating?,
        default_tier: default_tier?,
        response_limit: response_limit?,
        resolution_limit: resolution_limit?,
    })
}

/// The proto field an item's import-shape field is reported under.
pub fn item_proto_field(shape_field: &str) -> &str {
    match shape_field {
        "name" => "display_name",
        "name_en" => "display_name_en",
        other => other,
    }
}

pub fn version_to_proto(
    kind: ListKind,
    number: VersionNumber,
    record: &VersionRecord,
    item_count: usize,
    category_count: usize,
    in_effect: bool,
) -> proto::ListVersion {
    use crate::rules::VersionState;
    let (name, state) = match record.state {
        VersionState::Draft => (draft_name(kind), proto::VersionState::Draft),
        VersionState::Published => (version_name(kind, number), proto::VersionState::Published),
    };
    proto::ListVersion {
        name,
        kind: list_kind_to_proto(kind) as i32,
        number: number.get(),
        state: state as i32,
        effective_from: optional_timestamp(record.effective_from),
        publish_time: optional_timestamp(record.publish_time),
        published_by: record.published_by.clone().unwrap_or_default(),
        item_count: u32::try_from(item_count).unwrap_or(u32::MAX),
        category_count: u32::try_from(category_count).unwrap_or(u32::MAX),
        in_effect,
        create_time: Some(timestamp(record.create_time)),
        update_time: Some(timestamp(record.update_time)),
    }
}

// -------------------------------------------------------------- matters

pub fn matter_to_proto(
    matter: &Matter,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
) -> proto::Matter {
    proto::Matter {
        name: matter_name(matter.code().as_str()),
        code: matter.code().to_string(),
        display_name: matter.name().to_owned(),
        display_name_en: matter.name_en().unwrap_or_default().to_owned(),
        list_item_code: matter.item().to_string(),
        tier: optional_tier_to_proto(matter.tier()),
        create_time: Some(timestamp(create_time)),
        update_time: Some(timestamp(update_time)),
    }
}

pub fn matter_from_proto(field: &str, matter: &proto::Matter) -> Result<Matter, Error> {
    let mut violations = Violations::new();
    let (code_field, code_text) = if matter.code.is_empty() && !matter.name.is_empty() {
        let code = matter.name.strip_prefix("matters/").unwrap_or(&matter.name);
        (format!("{field}.name"), code)
    } else {
        (format!("{field}.code"), matter.code.as_str())
    };
    let code = violations.check(code_field, MatterCode::parse(code_text));
    let item = violations.check(
        format!("{field}.list_item_code"),
        ItemCode::parse(&matter.list_item_code),
    );
    let tier = violations.check(format!("{field}.tier"), tier_from_proto(matter.tier));
    let (Some(code), Some(item), Some(tier)) = (code, item, tier) else {
        return Err(Error::from(violations));
    };
    let gloss = Some(matter.display_name_en.as_str()).filter(|text| !text.trim().is_empty());
    match Matter::new(code, &matter.display_name, gloss, item, tier) {
        Ok(matter) => {
            violations.finish()?;
            Ok(matter)
        }
        Err(error) => {
            violations.add(format!("{field}.display_name"), error);
            Err(Error::from(violations))
        }
    }
}

// ----------------------------------------------------------- exceptions

pub fn responsible_to_proto(responsible: &Responsible) -> proto::Responsible {
    let (role, department) = match responsible {
        Responsible::BlockTeam => (proto::ResponsibleRole::BlockTeam, String::new()),
        Responsible::Community => (proto::ResponsibleRole::Community, String::new()),
        Responsible::SubdistrictPlatform => {
            (proto::ResponsibleRole::SubdistrictPlatform, String::new())
        }
        Responsible::Department(code) => (proto::ResponsibleRole::Department, code.to_string()),
    };
    proto::Responsible {
        role: role as i32,
        department,
    }
}

fn responsible_from_proto(
    field: &str,
    responsible: Option<&proto::Responsible>,
    violations: &mut Violations,
) -> Option<Responsible> {
    let Some(responsible) = responsible else {
        violations.add(field, "a responsible unit is required");
        return None;
    };
    match proto::ResponsibleRole::try_from(responsible.role) {
        Ok(proto::ResponsibleRole::BlockTeam) => Some(Responsible::BlockTeam),
        Ok(proto::ResponsibleRole::Community) => Some(Responsible::Community),
        Ok(proto::ResponsibleRole::SubdistrictPlatform) => Some(Responsible::SubdistrictPlatform),
        Ok(proto::ResponsibleRole::Department) => violations
            .check(
                format!("{field}.department"),
                DepartmentCode::parse(&responsible.department),
            )
            .map(Responsible::Department),
        _ => {
            violations.add(
                format!("{field}.role"),
                "must be RESPONSIBLE_ROLE_BLOCK_TEAM, _COMMUNITY, _SUBDISTRICT_PLATFORM or _DEPARTMENT",
            );
            None
        }
    }
}

pub fn place_ref_to_proto(place: &PlaceRef) -> proto::ExceptionPlace {
    use proto::exception_place::Place;
    let place = match place {
        PlaceRef::Subdistrict(code) => Place::SubdistrictCode(code.to_string()),
        PlaceRef::Community(code) => Place::CommunityCode(code.to_string()),
        PlaceRef::Block(code) => Place::BlockCode(code.to_string()),
        PlaceRef::Area(id) => Place::Area(id.to_string()),
    };
    proto::ExceptionPlace { place: Some(place) }
}

/// A place exception in a request (without its window's defaults applied).
pub fn exception_from_proto(
    field: &str,
    exception: &proto::PlaceException,
    now: DateTime<Utc>,
) -> Result<PlaceException, Error> {
    use proto::exception_place::Place;
    let mut violations = Violations::new();
    let id = violations.check(format!("{field}.id"), ExceptionId::parse(&exception.id));
    let place_field = format!("{field}.place");
    let place = match exception
        .place
        .as_ref()
        .and_then(|place| place.place.as_ref())
    {
        None => {
            violations.add(&place_field, "a place is required");
            None
        }
        Some(Place::SubdistrictCode(code)) => violations
            .check(
                format!("{place_field}.subdistrict_code"),
                SubdistrictCode::parse(code),
            )
            .map(PlaceRef::Subdistrict),
        Some(Place::CommunityCode(code)) => violations
            .check(
                format!("{place_field}.community_code"),
                CommunityCode::parse(code),
            )
            .map(PlaceRef::Community),
        Some(Place::BlockCode(code)) => violations
            .check(format!("{place_field}.block_code"), BlockCode::parse(code))
            .map(PlaceRef::Block),
        Some(Place::Area(id)) => violations
            .check(format!("{place_field}.area"), AreaId::parse(id))
            .map(PlaceRef::Area),
    };
    let scope = match (
        exception.matter_code.is_empty(),
        exception.list_item_code.is_empty(),
    ) {
        (false, true) => violations
            .check(
                format!("{field}.matter_code"),
                MatterCode::parse(&exception.matter_code),
            )
            .map(ExceptionScope::Matter),
        (true, false) => violations
            .check(
                format!("{field}.list_item_code"),
                ItemCode::parse(&exception.list_item_code),
            )
            .map(ExceptionScope::Item),
        _ => {
            violations.add(
                format!("{field}.matter_code"),
                "exactly one of matter_code and list_item_code is required",
            );
            None
        }
    };
    let lead = responsible_from_proto(
        &format!("{field}.lead"),
        exception.lead.as_ref(),
        &mut violations,
    );
    let mut cooperating = Vec::new();
    for (index, responsible) in exception.cooperating.iter().enumerate() {
        if let Some(responsible) = responsible_from_proto(
            &format!("{field}.cooperating[{index}]"),
            Some(responsible),
            &mut violations,
        ) {
            cooperating.push(responsible);
        }
    }
    let tier = violations.check(format!("{field}.tier"), tier_from_proto(exception.tier));
    let effective_from = violations
        .check(
            format!("{field}.effective_from"),
            time::optional_instant(exception.effective_from.as_ref()),
        )
        .map(|effective_from| effective_from.unwrap_or(now));
    let effective_until = violations.check(
        format!("{field}.effective_until"),
        time::optional_instant(exception.effective_until.as_ref()),
    );
    let (
        Some(id),
        Some(place),
        Some(scope),
        Some(lead),
        Some(tier),
        Some(effective_from),
        Some(effective_until),
    ) = (
        id,
        place,
        scope,
        lead,
        tier,
        effective_from,
        effective_until,
    )
    else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    Ok(PlaceException {
        id,
        place,
        scope,
        lead,
        cooperating,
        tier,
        effective_from,
        effective_until,
        reason: exception.reason.trim().to_owned(),
    })
}

pub fn exception_to_proto(
    exception: &PlaceException,
    created_by: &str,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
) -> proto::PlaceException {
    let (matter_code, list_item_code) = match &exception.scope {
        ExceptionScope::Matter(code) => (code.to_string(), String::new()),
        ExceptionScope::Item(code) => (String::new(), code.to_string()),
    };
    proto::PlaceException {
        name: exception_name(exception.id.as_str()),
        id: exception.id.to_string(),
        place: Some(place_ref_to_proto(&exception.place)),
        matter_code,
        list_item_code,
        lead: Some(responsible_to_proto(&exception.lead)),
        cooperating: exception
            .cooperating
            .iter()
            .map(responsible_to_proto)
            .collect(),
        tier: optional_tier_to_proto(exception.tier),
        effective_from: Some(timestamp(exception.effective_from)),
        effective_until: optional_timestamp(exception.effective_until),
        reason: exception.reason.clone(),
        created_by: created_by.to_owned(),
        create_time: Some(timestamp(create_time)),
        update_time: Some(timestamp(update_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_parse_into_the_version_they_mean() {
        assert_eq!(
            version_ref("name", "lists/subdistrict_duty").unwrap(),
            VersionRef::InEffect(ListKind::SubdistrictDuty)
        );
        assert_eq!(
            version_ref("name", "lists/residents_negative/versions/3").unwrap(),
            VersionRef::Number(ListKind::ResidentsNegative, VersionNumber::new(3).unwrap())
        );
        assert_eq!(
            version_ref("name", "lists/subdistrict_cooperation/draft").unwrap(),
            VersionRef::Draft(ListKind::SubdistrictCooperation)
        );
        for bad in [
            "lists",
            "list/subdistrict_duty",
            "lists/duty",
            "lists/subdistrict_duty/versions/0",
            "lists/subdistrict_duty/versions/x",
            "lists/subdistrict_duty/drafts",
        ] {
            assert!(version_ref("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_draft_item_name_must_name_an_item_of_that_list() {
        assert_eq!(
            draft_item("name", "lists/subdistrict_duty/draft/items/SD-01-02").unwrap(),
            (
                ListKind::SubdistrictDuty,
                ItemCode::parse("SD-01-02").unwrap()
            )
        );
        assert!(draft_item("name", "lists/subdistrict_duty/draft/items/SC-01-02").is_err());
        assert!(draft_item("name", "lists/subdistrict_duty/versions/2/items/SD-01-02").is_err());
    }

    #[test]
    fn a_minute_limit_stays_in_minutes_in_the_contract_duration() {
        use types::working_duration::Amount;
        let half_hour = duration_to_proto(WorkingDuration::parse("30m").unwrap());
        assert_eq!(half_hour.amount, Some(Amount::WorkingMinutes(30)));
        let days = duration_to_proto(WorkingDuration::parse("3d").unwrap());
        assert_eq!(days.amount, Some(Amount::WorkingDays(3)));
    }

    #[test]
    fn a_role_is_made_concrete_with_the_divisions_the_location_names() {
        let location = Location::in_block(BlockCode::parse("430302001004017").unwrap());
        let team = responsible_unit(&Responsible::BlockTeam, &location);
        assert_eq!(team.code, "430302001004017");
        let platform = responsible_unit(&Responsible::SubdistrictPlatform, &location);
        assert_eq!(platform.code, "430302001");
        let unknown_block = responsible_unit(
            &Responsible::BlockTeam,
            &Location::in_subdistrict(SubdistrictCode::parse("430302001").unwrap()),
        );
        assert_eq!(unknown_block.kind, types::UnitKind::BlockTeam as i32);
        assert_eq!(unknown_block.code, "");
    }

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
        let error = Error::from(violations).to_string();
        assert!(
            error.contains("place.subdistrict_code: subdistrict code is empty"),
            "{error}"
        );
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
        let error = Error::from(violations).to_string();
        assert!(
            error.contains("place: block 430302001004017 is not in subdistrict 430302002"),
            "{error}"
        );
    }
}
