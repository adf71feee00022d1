//! A list item: one duty, cooperation matter, committee matter or negative-list entry.

use std::fmt;

use super::duration::WorkingDuration;
use super::item_code::ItemCode;
use super::kinds::{HandlingLevel, ListKind, Tier};
use flatgov_vocabulary::DepartmentCode;

/// Who takes a matter on, or cooperates on it.
///
/// The three community-side roles are roles, not concrete units: which block team,
/// community or subdistrict follows from the place of the case, which the caller locates
/// (the blocks service owns the hierarchy).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Responsible {
    /// The "1+N+1" team of the block where the matter is.
    BlockTeam,
    /// The residents' committee of the community where the matter is.
    Community,
    /// The dispatch platform of the subdistrict where the matter is.
    SubdistrictPlatform,
    /// A named department.
    Department(DepartmentCode),
}

impl fmt::Display for Responsible {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Responsible::BlockTeam => formatter.write_str("the block team"),
            Responsible::Community => formatter.write_str("the residents' committee"),
            Responsible::SubdistrictPlatform => formatter.write_str("the subdistrict platform"),
            Responsible::Department(code) => write!(formatter, "department {code}"),
        }
    }
}

/// The fields of an item, named as the CSV columns and JSON keys that carry them.
/// Errors use it to say which field is wrong; diffs use it to say which field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemField {
    /// `code`
    Code,
    /// `category`
    Category,
    /// `category_en`
    CategoryEn,
    /// `name`
    Name,
    /// `name_en`
    NameEn,
    /// `description`
    Description,
    /// `legal_basis`
    LegalBasis,
    /// `handling_level`
    HandlingLevel,
    /// `lead_department`
    LeadDepartment,
    /// `cooperating_departments`
    CooperatingDepartments,
    /// `default_tier`
    DefaultTier,
    /// `response_limit`
    ResponseLimit,
    /// `resolution_limit`
    ResolutionLimit,
}

impl ItemField {
    /// Every field, in CSV column order.
    pub const ALL: [ItemField; 13] = [
        ItemField::Code,
        ItemField::Category,
        ItemField::CategoryEn,
        ItemField::Name,
        ItemField::NameEn,
        ItemField::Description,
        ItemField::LegalBasis,
        ItemField::HandlingLevel,
        ItemField::LeadDepartment,
        ItemField::CooperatingDepartments,
        ItemField::DefaultTier,
        ItemField::ResponseLimit,
        ItemField::ResolutionLimit,
    ];

    /// The CSV column name and JSON key.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemField::Code => "code",
            ItemField::Category => "category",
            ItemField::CategoryEn => "category_en",
            ItemField::Name => "name",
            ItemField::NameEn => "name_en",
            ItemField::Description => "description",
            ItemField::LegalBasis => "legal_basis",
            ItemField::HandlingLevel => "handling_level",
            ItemField::LeadDepartment => "lead_department",
            ItemField::CooperatingDepartments => "cooperating_departments",
            ItemField::DefaultTier => "default_tier",
            ItemField::ResponseLimit => "response_limit",
            ItemField::ResolutionLimit => "resolution_limit",
        }
    }
}

impl fmt::Display for ItemField {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The typed fields of an item before the rules that tie them together are checked.
/// [`ListItem::new`] turns it into an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFields {
    /// The stable code; its prefix fixes the list the item belongs to.
    pub code: ItemCode,
    /// The category name in Chinese (e.g. 城市管理); the same for every item of a category.
    pub category: String,
    /// An English gloss of the category.
    pub category_en: Option<String>,
    /// The item's name in Chinese.
    pub name: String,
    /// An English gloss of the name.
    pub name_en: Option<String>,
    /// What the item covers; may be empty.
    pub description: String,
    /// The law, regulation or policy document that puts the item on the list.
    pub legal_basis: String,
    /// The level that takes a case about the item on.
    pub handling_level: HandlingLevel,
    /// The department that leads when the level is `department` (required then);
    /// otherwise the competent department (业务主管部门) that guides the work, if any.
    pub lead_department: Option<DepartmentCode>,
    /// Departments that cooperate, in the order the list names them (lists name
    /// the principal cooperator first, and a whistle that needs a lead among
    /// them takes the first), each once.
    pub cooperating_departments: Vec<DepartmentCode>,
    /// The tier a case about the item starts at.
    pub default_tier: Tier,
    /// Time allowed to respond (accept and make contact).
    pub response_limit: WorkingDuration,
    /// Time allowed to resolve.
    pub resolution_limit: WorkingDuration,
}

/// A rule an item's fields break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemViolation {
    /// A required text field is blank.
    #[error("{field} must not be empty")]
    EmptyText {
        /// The blank field.
        field: ItemField,
    },
    /// The handling level is not allowed on the item's list.
    #[error("handling level {level} is not allowed on the {list} list (allowed: {allowed})")]
    LevelNotAllowedOnList {
        /// The level given.
        level: HandlingLevel,
        /// The list the code puts the item on.
        list: ListKind,
        /// The allowed levels, comma separated.
        allowed: String,
    },
    /// A department-level item names no lead department.
    #[error("an item handled at department level needs a lead department")]
    LeadDepartmentMissing,
    /// The lead department is also listed as cooperating.
    #[error("lead department {department} is also listed as cooperating")]
    LeadAlsoCooperating {
        /// The department listed twice.
        department: DepartmentCode,
    },
    /// A cooperating department is named more than once.
    #[error("cooperating department {department} is listed twice")]
    CooperatingListedTwice {
        /// The department named again.
        department: DepartmentCode,
    },
    /// The response limit is longer than the resolution limit.
    #[error(
        "response limit {response} is longer than resolution limit {resolution} (a working day counts as 8h)"
    )]
    ResponseLongerThanResolution {
        /// The response limit.
        response: WorkingDuration,
        /// The resolution limit.
        resolution: WorkingDuration,
    },
}

/// Each value `named` holds more than once, in the order of its second
/// mention, once however often it repeats: what "listed twice" reports.
pub(super) fn named_again<T: PartialEq>(named: &[T]) -> impl Iterator<Item = &T> {
    named.iter().enumerate().filter_map(move |(index, value)| {
        let earlier = named[..index].iter().filter(|earlier| *earlier == value);
        (earlier.count() == 1).then_some(value)
    })
}

impl ItemViolation {
    /// The field the violation is reported against.
    pub fn field(&self) -> ItemField {
        match self {
            ItemViolation::EmptyText { field } => *field,
            ItemViolation::LevelNotAllowedOnList { .. } => ItemField::HandlingLevel,
            ItemViolation::LeadDepartmentMissing => ItemField::LeadDepartment,
            ItemViolation::LeadAlsoCooperating { .. }
            | ItemViolation::CooperatingListedTwice { .. } => ItemField::CooperatingDepartments,
            ItemViolation::ResponseLongerThanResolution { .. } => ItemField::ResponseLimit,
        }
    }
}

/// Every rule an item breaks, for the item with this code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {code} is invalid: {}", join_violations(.violations))]
pub struct ItemInvalid {
    /// The item's code.
    pub code: ItemCode,
    /// What is wrong, in field order.
    pub violations: Vec<ItemViolation>,
}

fn join_violations(violations: &[ItemViolation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A valid list item. Built only by [`ListItem::new`], so its level fits its list, a
/// department-level item has a lead department, and its limits are consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The validated fields.
    fields: ItemFields,
    /// Who takes a case about the item on, derived from level and lead department.
    lead: Responsible,
}

fn trimmed(text: String) -> String {
    let trimmed_text = text.trim();
    if trimmed_text.len() == text.len() {
        text
    } else {
        trimmed_text.to_owned()
    }
}

fn trimmed_gloss(gloss: Option<String>) -> Option<String> {
    gloss.map(trimmed).filter(|text| !text.is_empty())
}

impl ListItem {
    /// Checks the rules that tie an item's fields together and reports every one broken:
    /// required text present (category, name, legal basis); the level allowed on the list
    /// named by the code's prefix ([`ListKind::allowed_levels`]); a lead department when
    /// the level is `department`; the lead not also cooperating; the response limit not
    /// longer than the resolution limit. Text is trimmed; blank glosses become absent.
    /// Whether departments exist is checked by the list, which knows the department set.
    pub fn new(fields: ItemFields) -> Result<Self, ItemInvalid> {
        let fields = ItemFields {
            category: trimmed(fields.category),
            category_en: trimmed_gloss(fields.category_en),
            name: trimmed(fields.name),
            name_en: trimmed_gloss(fields.name_en),
            description: trimmed(fields.description),
            legal_basis: trimmed(fields.legal_basis),
            ..fields
        };
        let mut violations = Vec::new();
        for (field, text) in [
            (ItemField::Category, &fields.category),
            (ItemField::Name, &fields.name),
            (ItemField::LegalBasis, &fields.legal_basis),
        ] {
            if text.is_empty() {
                violations.push(ItemViolation::EmptyText { field });
            }
        }
        let list = fields.code.list();
        if !list.allowed_levels().contains(&fields.handling_level) {
            let allowed = list
                .allowed_levels()
                .iter()
                .map(|level| level.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            violations.push(ItemViolation::LevelNotAllowedOnList {
                level: fields.handling_level,
                list,
                allowed,
            });
        }
        let lead = match (fields.handling_level, &fields.lead_department) {
            (HandlingLevel::Block, _) => Some(Responsible::BlockTeam),
            (HandlingLevel::Community, _) => Some(Responsible::Community),
            (HandlingLevel::Subdistrict, _) => Some(Responsible::SubdistrictPlatform),
            (HandlingLevel::Department, Some(department)) => {
                Some(Responsible::Department(department.clone()))
            }
            (HandlingLevel::Department, None) => {
                violations.push(ItemViolation::LeadDepartmentMissing);
                None
            }
        };
        if let Some(department) = &fields.lead_department
            && fields.cooperating_departments.contains(department)
        {
            violations.push(ItemViolation::LeadAlsoCooperating {
                department: department.clone(),
            });
        }
        for department in named_again(&fields.cooperating_departments) {
            violations.push(ItemViolation::CooperatingListedTwice {
                department: department.clone(),
            });
        }
        if fields.response_limit.working_minutes() > fields.resolution_limit.working_minutes() {
            violations.push(ItemViolation::ResponseLongerThanResolution {
                response: fields.response_limit,
                resolution: fields.resolution_limit,
            });
        }
        match lead {
            Some(lead) if violations.is_empty() => Ok(Self { fields, lead }),
            _ => {
                violations.sort_by_key(ItemViolation::field);
                Err(ItemInvalid {
                    code: fields.code,
                    violations,
                })
            }
        }
    }

    /// All fields.
    pub fn fields(&self) -> &ItemFields {
        &self.fields
    }

    /// The stable code.
    pub fn code(&self) -> ItemCode {
        self.fields.code
    }

    /// The list the item is on.
    pub fn list(&self) -> ListKind {
        self.fields.code.list()
    }

    /// The category name in Chinese.
    pub fn category(&self) -> &str {
        &self.fields.category
    }

    /// The item name in Chinese.
    pub fn name(&self) -> &str {
        &self.fields.name
    }

    /// The level that takes a case on.
    pub fn handling_level(&self) -> HandlingLevel {
        self.fields.handling_level
    }

    /// The lead department (or competent department below department level).
    pub fn lead_department(&self) -> Option<&DepartmentCode> {
        self.fields.lead_department.as_ref()
    }

    /// The cooperating departments.
    pub fn cooperating_departments(&self) -> &[DepartmentCode] {
        &self.fields.cooperating_departments
    }

    /// The tier a case starts at.
    pub fn default_tier(&self) -> Tier {
        self.fields.default_tier
    }

    /// Time allowed to respond.
    pub fn response_limit(&self) -> WorkingDuration {
        self.fields.response_limit
    }

    /// Time allowed to resolve.
    pub fn resolution_limit(&self) -> WorkingDuration {
        self.fields.resolution_limit
    }

    /// Who takes a case about the item on: the role for the handling level, or the lead
    /// department when the level is `department`.
    pub fn lead(&self) -> &Responsible {
        &self.lead
    }

    /// Who cooperates, in a stable order: the subdistrict platform for a cooperation-list
    /// item (that is what the list means), then the competent department of an item
    /// handled below department level, then the cooperating departments by code.
    pub fn cooperators(&self) -> Vec<Responsible> {
        let mut cooperators = Vec::new();
        if self.list() == ListKind::SubdistrictCooperation {
            cooperators.push(Responsible::SubdistrictPlatform);
        }
        if self.fields.handling_level != HandlingLevel::Department
            && let Some(department) = &self.fields.lead_department
        {
            cooperators.push(Responsible::Department(department.clone()));
        }
        cooperators.extend(
            self.fields
                .cooperating_departments
                .iter()
                .cloned()
                .map(Responsible::Department),
        );
        cooperators
    }

    /// The unit a department should hand the item's matters to: the subdistrict platform
    /// for a subdistrict duty (the subdistrict dispatches to its communities and block
    /// teams itself), otherwise whoever leads the item.
    pub fn assignee(&self) -> Responsible {
        match self.list() {
            ListKind::SubdistrictDuty => Responsible::SubdistrictPlatform,
            _ => self.lead.clone(),
        }
    }

    /// The fields that differ between two items, in field order.
    pub fn changed_fields(&self, other: &ListItem) -> Vec<ItemField> {
        let mine = &self.fields;
        let theirs = &other.fields;
        let comparisons = [
            (ItemField::Code, mine.code == theirs.code),
            (ItemField::Category, mine.category == theirs.category),
            (
                ItemField::CategoryEn,
                mine.category_en == theirs.category_en,
            ),
            (ItemField::Name, mine.name == theirs.name),
            (ItemField::NameEn, mine.name_en == theirs.name_en),
            (
                ItemField::Description,
                mine.description == theirs.description,
            ),
            (
                ItemField::LegalBasis,
                mine.legal_basis == theirs.legal_basis,
            ),
            (
                ItemField::HandlingLevel,
                mine.handling_level == theirs.handling_level,
            ),
            (
                ItemField::LeadDepartment,
                mine.lead_department == theirs.lead_department,
            ),
            (
                ItemField::CooperatingDepartments,
                mine.cooperating_departments == theirs.cooperating_departments,
            ),
            (
                ItemField::DefaultTier,
                mine.default_tier == theirs.default_tier,
            ),
            (
                ItemField::ResponseLimit,
                mine.response_limit == theirs.response_limit,
            ),
            (
                ItemField::ResolutionLimit,
                mine.resolution_limit == theirs.resolution_limit,
            ),
        ];
        comparisons
            .into_iter()
            .filter(|(_, same)| !same)
            .map(|(field, _)| field)
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn department(text: &str) -> DepartmentCode {
        DepartmentCode::parse(text).unwrap()
    }

    /// A valid subdistrict-duty item handled by the block team, for tests to adjust.
    pub(crate) fn fields(code: &str) -> ItemFields {
        let code = ItemCode::parse(code).unwrap();
        let handling_level = code.list().allowed_levels()[0];
        let lead_department =
            (handling_level == HandlingLevel::Department).then(|| department("urban_management"));
        ItemFields {
            code,
            category: "城市管理".into(),
            category_en: Some("City management".into()),
            name: "市政设施巡查报修".into(),
            name_en: Some("Municipal facility patrol and reporting".into()),
            description: "发现并上报路灯、井盖等市政设施损坏".into(),
            legal_basis: "《城市道路管理条例》".into(),
            handling_level,
            lead_department,
            cooperating_departments: Vec::new(),
            default_tier: Tier::FrontLine,
            response_limit: WorkingDuration::parse("2h").unwrap(),
            resolution_limit: WorkingDuration::parse("3d").unwrap(),
        }
    }

    pub(crate) fn item(code: &str) -> ListItem {
        ListItem::new(fields(code)).unwrap()
    }

    #[test]
    fn a_block_level_duty_is_led_by_the_block_team() {
        assert_eq!(item("SD-05-03").lead(), &Responsible::BlockTeam);
    }

    #[test]
    fn a_department_level_item_is_led_by_its_lead_department() {
        let mut cooperation = fields("SC-01-01");
        cooperation.lead_department = Some(department("urban_management"));
        let item = ListItem::new(cooperation).unwrap();
        assert_eq!(
            item.lead(),
            &Responsible::Department(department("urban_management"))
        );
    }

    #[test]
    fn a_department_level_item_without_a_lead_department_is_refused() {
        let mut cooperation = fields("SC-01-01");
        cooperation.lead_department = None;
        let error = ListItem::new(cooperation).unwrap_err();
        assert_eq!(error.violations, vec![ItemViolation::LeadDepartmentMissing]);
        assert_eq!(error.violations[0].field(), ItemField::LeadDepartment);
    }

    #[test]
    fn a_level_the_list_does_not_allow_is_refused_naming_the_allowed_levels() {
        let mut cooperation = fields("SC-01-01");
        cooperation.handling_level = HandlingLevel::Subdistrict;
        let error = ListItem::new(cooperation).unwrap_err();
        assert_eq!(
            error.violations,
            vec![ItemViolation::LevelNotAllowedOnList {
                level: HandlingLevel::Subdistrict,
                list: ListKind::SubdistrictCooperation,
                allowed: "department".into(),
            }]
        );
        let mut committee = fields("RS-01-01");
        committee.handling_level = HandlingLevel::Department;
        committee.lead_department = Some(department("civil_affairs"));
        let message = ListItem::new(committee).unwrap_err().to_string();
        assert!(
            message.contains(
                "not allowed on the residents_self_government list (allowed: block, community)"
            ),
            "{message}"
        );
    }

    #[test]
    fn every_broken_rule_is_reported_at_once_in_field_order() {
        let mut broken = fields("SD-01-01");
        broken.name = "  ".into();
        broken.legal_basis = String::new();
        broken.lead_department = Some(department("civil_affairs"));
        broken.cooperating_departments = [department("civil_affairs")].into();
        broken.response_limit = WorkingDuration::parse("2d").unwrap();
        broken.resolution_limit = WorkingDuration::parse("8h").unwrap();
        let error = ListItem::new(broken).unwrap_err();
        let fields: Vec<_> = error.violations.iter().map(ItemViolation::field).collect();
        assert_eq!(
            fields,
            [
                ItemField::Name,
                ItemField::LegalBasis,
                ItemField::CooperatingDepartments,
                ItemField::ResponseLimit
            ]
        );
        assert!(
            error
                .to_string()
                .starts_with("item SD-01-01 is invalid: name must not be empty")
        );
    }

    #[test]
    fn a_response_limit_equal_to_the_resolution_limit_is_allowed() {
        let mut same = fields("SD-01-01");
        same.response_limit = WorkingDuration::parse("1d").unwrap();
        same.resolution_limit = WorkingDuration::parse("8h").unwrap();
        assert!(ListItem::new(same).is_ok());
    }

    #[test]
    fn text_is_trimmed_and_blank_glosses_are_dropped() {
        let mut padded = fields("SD-01-01");
        padded.name = " 路灯 ".into();
        padded.name_en = Some("   ".into());
        let item = ListItem::new(padded).unwrap();
        assert_eq!(item.name(), "路灯");
        assert_eq!(item.fields().name_en, None);
    }

    #[test]
    fn a_cooperation_item_lists_the_subdistrict_platform_first_then_departments_in_the_lists_order()
    {
        let mut cooperation = fields("SC-01-01");
        cooperation.cooperating_departments = [
            department("natural_resources"),
            department("housing_construction"),
        ]
        .into();
        let item = ListItem::new(cooperation).unwrap();
        assert_eq!(
            item.cooperators(),
            vec![
                Responsible::SubdistrictPlatform,
                Responsible::Department(department("natural_resources")),
                Responsible::Department(department("housing_construction")),
            ]
        );
    }

    #[test]
    fn a_cooperating_department_named_twice_is_refused_once_naming_it() {
        let mut repeated = fields("SD-01-01");
        repeated.cooperating_departments = [
            department("urban_management"),
            department("public_security"),
            department("urban_management"),
            department("urban_management"),
        ]
        .into();
        let error = ListItem::new(repeated).unwrap_err();
        assert_eq!(
            error.violations,
            [ItemViolation::CooperatingListedTwice {
                department: department("urban_management")
            }]
        );
        assert!(
            error
                .to_string()
                .contains("cooperating department urban_management is listed twice"),
            "{error}"
        );
    }

    #[test]
    fn the_competent_department_of_a_committee_item_cooperates() {
        let mut assisting = fields("RA-02-04");
        assisting.handling_level = HandlingLevel::Community;
        assisting.lead_department = Some(department("civil_affairs"));
        let item = ListItem::new(assisting).unwrap();
        assert_eq!(item.lead(), &Responsible::Community);
        assert_eq!(
            item.cooperators(),
            vec![Responsible::Department(department("civil_affairs"))]
        );
    }

    #[test]
    fn a_department_hands_a_subdistrict_duty_to_the_subdistrict_platform_even_when_blocks_do_it() {
        let duty = item("SD-05-03");
        assert_eq!(duty.lead(), &Responsible::BlockTeam);
        assert_eq!(duty.assignee(), Responsible::SubdistrictPlatform);
        let committee = item("RS-03-01");
        assert_eq!(committee.assignee(), Responsible::BlockTeam);
    }

    #[test]
    fn changed_fields_names_exactly_the_fields_that_differ() {
        let before = item("SD-05-03");
        let mut changed = fields("SD-05-03");
        changed.default_tier = Tier::CoordinationMeeting;
        changed.cooperating_departments = [department("housing_construction")].into();
        let after = ListItem::new(changed).unwrap();
        assert_eq!(
            before.changed_fields(&after),
            [ItemField::CooperatingDepartments, ItemField::DefaultTier]
        );
        assert!(before.changed_fields(&before).is_empty());
    }

    #[test]
    fn item_fields_are_named_as_their_csv_columns() {
        let names: Vec<_> = ItemField::ALL.iter().map(|field| field.as_str()).collect();
        assert_eq!(names[0], "code");
        assert_eq!(names[12], "resolution_limit");
        assert_eq!(ItemField::LeadDepartment.to_string(), "lead_department");
    }
}
