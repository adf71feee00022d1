//! The content of one list: its items, checked against each other and the departments.

use std::collections::BTreeMap;

use super::department::Departments;
use super::item::{ItemField, ListItem};
use super::item_code::ItemCode;
use super::kinds::ListKind;
use flatgov_vocabulary::DepartmentCode;

/// A rule an item breaks in the context of its list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListViolation {
    /// Another item earlier in the input has the same code.
    #[error("duplicate item code {code} (first given as item {first_position})")]
    DuplicateCode {
        /// The repeated code.
        code: ItemCode,
        /// The 1-based position of the first item with the code.
        first_position: usize,
    },
    /// The code's prefix names another list.
    #[error("item code {code} belongs to the {code_list} list, not the {list} list")]
    WrongList {
        /// The item's code.
        code: ItemCode,
        /// The list the code names.
        code_list: ListKind,
        /// The list being built.
        list: ListKind,
    },
    /// A department the item names is not in the department set.
    #[error("unknown department {department}")]
    UnknownDepartment {
        /// The department that does not exist.
        department: DepartmentCode,
        /// Whether it is the lead (else cooperating) department.
        field: ItemField,
    },
    /// The item's category number already has another name on this list.
    #[error("category {category:02} is named {expected:?} by item {named_by}, not {found:?}")]
    CategoryNameDiffers {
        /// The category number.
        category: u8,
        /// The name the category was first given.
        expected: String,
        /// The code of the item that first named it.
        named_by: ItemCode,
        /// The name this item gives.
        found: String,
    },
}

impl ListViolation {
    /// The field the violation is reported against.
    pub fn field(&self) -> ItemField {
        match self {
            ListViolation::DuplicateCode { .. } | ListViolation::WrongList { .. } => {
                ItemField::Code
            }
            ListViolation::UnknownDepartment { field, .. } => *field,
            ListViolation::CategoryNameDiffers { .. } => ItemField::Category,
        }
    }
}

/// A violation for the item at a position in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {position} ({code}): {violation}")]
pub struct ListProblem {
    /// The 1-based position of the item in the input.
    pub position: usize,
    /// The item's code.
    pub code: ItemCode,
    /// What is wrong.
    pub violation: ListViolation,
}

/// Every problem found while building a list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the {list} list, first: {}", .problems.len(), first_problem(.problems))]
pub struct ListInvalid {
    /// The list being built.
    pub list: ListKind,
    /// Every problem, in input order.
    pub problems: Vec<ListProblem>,
}

fn first_problem(problems: &[ListProblem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The items of one list, keyed by code. Every item's code belongs to the list, codes are
/// unique, each category number has one name, and every department named exists in the
/// department set the content was built against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListContent {
    /// Which list.
    list: ListKind,
    /// The items by code.
    items: BTreeMap<ItemCode, ListItem>,
}

impl ListContent {
    /// A list with no items.
    pub fn empty(list: ListKind) -> Self {
        Self {
            list,
            items: BTreeMap::new(),
        }
    }

    /// Builds a list from items in input order, reporting every problem: duplicate codes,
    /// codes of another list, departments missing from `departments`, and a category
    /// number given two names. Nothing is built when there is any problem.
    pub fn new(
        list: ListKind,
        items: Vec<ListItem>,
        departments: &Departments,
    ) -> Result<Self, ListInvalid> {
        let mut content = Self::empty(list);
        let mut first_positions: BTreeMap<ItemCode, usize> = BTreeMap::new();
        let mut problems = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let position = index + 1;
            let code = item.code();
            let mut violations = content.violations_for(&item, departments);
            if let Some(first_position) = first_positions.get(&code) {
                violations.insert(
                    0,
                    ListViolation::DuplicateCode {
                        code,
                        first_position: *first_position,
                    },
                );
            } else {
                first_positions.insert(code, position);
                if violations.is_empty() {
                    content.items.insert(code, item);
                }
            }
            problems.extend(violations.into_iter().map(|violation| ListProblem {
                position,
                code,
                violation,
            }));
        }
        if problems.is_empty() {
            Ok(content)
        } else {
            Err(ListInvalid { list, problems })
        }
    }

    /// What is wrong with `item` on this list, judged against the other items (an item
    /// with the same code is the one it would replace, so it is not judged against).
    fn violations_for(&self, item: &ListItem, departments: &Departments) -> Vec<ListViolation> {
        let code = item.code();
        let mut violations = Vec::new();
        if code.list() != self.list {
            violations.push(ListViolation::WrongList {
                code,
                code_list: code.list(),
                list: self.list,
            });
        }
        let category_namer = self
            .items
            .values()
            .find(|other| other.code() != code && other.code().category() == code.category());
        if let Some(namer) = category_namer
            && namer.category() != item.category()
        {
            violations.push(ListViolation::CategoryNameDiffers {
                category: code.category(),
                expected: namer.category().to_owned(),
                named_by: namer.code(),
                found: item.category().to_owned(),
            });
        }
        for (field, department) in named_departments(item) {
            if !departments.contains(department) {
                violations.push(ListViolation::UnknownDepartment {
                    department: department.clone(),
                    field,
                });
            }
        }
        violations
    }

    /// Which list.
    pub fn list(&self) -> ListKind {
        self.list
    }

    /// The item with this code.
    pub fn item(&self, code: &ItemCode) -> Option<&ListItem> {
        self.items.get(code)
    }

    /// Whether an item with this code is on the list.
    pub fn contains(&self, code: &ItemCode) -> bool {
        self.items.contains_key(code)
    }

    /// Every item, ordered by code.
    pub fn items(&self) -> impl Iterator<Item = &ListItem> {
        self.items.values()
    }

    /// Every item code, ordered.
    pub fn codes(&self) -> impl Iterator<Item = ItemCode> + '_ {
        self.items.keys().copied()
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The categories in number order, with their Chinese names.
    pub fn categories(&self) -> Vec<(u8, &str)> {
        let mut categories: Vec<(u8, &str)> = self
            .items
            .values()
            .map(|item| (item.code().category(), item.category()))
            .collect();
        categories.dedup_by_key(|(number, _)| *number);
        categories
    }

    /// Puts an item on the list, replacing the one with the same code; returns the
    /// replaced item. Refused, changing nothing, when the item's code belongs to another
    /// list, a department it names is unknown, or its category name differs from the
    /// other items of its category. The other items are not judged again.
    pub fn put(
        &mut self,
        item: ListItem,
        departments: &Departments,
    ) -> Result<Option<ListItem>, ListInvalid> {
        let code = item.code();
        let violations = self.violations_for(&item, departments);
        if !violations.is_empty() {
            return Err(ListInvalid {
                list: self.list,
                problems: violations
                    .into_iter()
                    .map(|violation| ListProblem {
                        position: 1,
                        code,
                        violation,
                    })
                    .collect(),
            });
        }
        Ok(self.items.insert(code, item))
    }

    /// Takes an item off the list; `None` when there is no item with this code.
    pub fn remove(&mut self, code: &ItemCode) -> Option<ListItem> {
        self.items.remove(code)
    }
}

fn named_departments(item: &ListItem) -> Vec<(ItemField, &DepartmentCode)> {
    let lead = item
        .lead_department()
        .map(|department| (ItemField::LeadDepartment, department));
    let cooperating = item
        .cooperating_departments()
        .iter()
        .map(|department| (ItemField::CooperatingDepartments, department));
    lead.into_iter().chain(cooperating).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::department::Department;
    use crate::domain::item::ItemFields;
    use crate::domain::item::tests::{department, fields, item};

    /// A department set with the departments the test items name.
    pub(crate) fn departments() -> Departments {
        let names = [
            ("urban_management", "区城市管理和综合执法局"),
            ("market_supervision", "区市场监督管理局"),
            ("public_security", "区公安分局"),
            ("housing_construction", "区住房和城乡建设局"),
            ("civil_affairs", "区民政局"),
            ("natural_resources", "区自然资源局"),
        ];
        Departments::new(
            names
                .into_iter()
                .map(|(code, name)| Department::new(department(code), name, None).unwrap())
                .collect(),
        )
        .unwrap()
    }

    fn with(code: &str, change: impl FnOnce(&mut ItemFields)) -> ListItem {
        let mut item_fields = fields(code);
        change(&mut item_fields);
        ListItem::new(item_fields).unwrap()
    }

    #[test]
    fn a_list_keeps_its_items_ordered_by_code() {
        let content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-02-01"), item("SD-01-02"), item("SD-01-01")],
            &departments(),
        )
        .unwrap();
        let codes: Vec<String> = content.codes().map(|code| code.to_string()).collect();
        assert_eq!(codes, ["SD-01-01", "SD-01-02", "SD-02-01"]);
        assert_eq!(content.len(), 3);
    }

    #[test]
    fn a_duplicate_item_code_is_refused_naming_both_positions() {
        let invalid = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01"), item("SD-01-02"), item("SD-01-01")],
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            invalid.problems,
            vec![ListProblem {
                position: 3,
                code: ItemCode::parse("SD-01-01").unwrap(),
                violation: ListViolation::DuplicateCode {
                    code: ItemCode::parse("SD-01-01").unwrap(),
                    first_position: 1
                },
            }]
        );
    }

    #[test]
    fn an_item_of_another_list_is_refused() {
        let invalid = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("RS-01-01")],
            &departments(),
        )
        .unwrap_err();
        assert!(matches!(
            invalid.problems[0].violation,
            ListViolation::WrongList {
                code_list: ListKind::ResidentsSelfGovernment,
                list: ListKind::SubdistrictDuty,
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_lead_or_cooperating_department_is_refused_naming_the_field() {
        let unknown = with("SC-01-01", |item| {
            item.lead_department = Some(department("urban_mgmt"));
            item.cooperating_departments =
                [department("police"), department("civil_affairs")].into();
        });
        let invalid = ListContent::new(
            ListKind::SubdistrictCooperation,
            vec![unknown],
            &departments(),
        )
        .unwrap_err();
        let found: Vec<(ItemField, String)> = invalid
            .problems
            .iter()
            .map(|problem| (problem.violation.field(), problem.violation.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    ItemField::LeadDepartment,
                    "unknown department urban_mgmt".to_owned()
                ),
                (
                    ItemField::CooperatingDepartments,
                    "unknown department police".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn one_category_number_with_two_names_is_refused() {
        let renamed = with("SD-01-02", |item| item.category = "党的建设".into());
        let invalid = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01"), renamed],
            &departments(),
        )
        .unwrap_err();
        assert_eq!(invalid.problems.len(), 1);
        assert_eq!(invalid.problems[0].position, 2);
        assert_eq!(
            invalid.problems[0].violation.to_string(),
            "category 01 is named \"城市管理\" by item SD-01-01, not \"党的建设\""
        );
    }

    #[test]
    fn every_problem_in_a_list_is_reported_and_nothing_is_built() {
        let invalid = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![
                item("SD-01-01"),
                item("SD-01-01"),
                with("SD-01-03", |item| {
                    item.cooperating_departments = [department("nobody")].into()
                }),
                item("SC-01-01"),
            ],
            &departments(),
        )
        .unwrap_err();
        let positions: Vec<usize> = invalid
            .problems
            .iter()
            .map(|problem| problem.position)
            .collect();
        assert_eq!(positions, [2, 3, 4]);
        assert!(
            invalid
                .to_string()
                .starts_with("3 problem(s) in the subdistrict_duty list")
        );
    }

    #[test]
    fn categories_are_listed_once_each_in_number_order() {
        let content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![
                item("SD-01-01"),
                item("SD-01-02"),
                with("SD-02-01", |item| item.category = "党的建设".into()),
            ],
            &departments(),
        )
        .unwrap();
        assert_eq!(content.categories(), [(1, "城市管理"), (2, "党的建设")]);
    }

    #[test]
    fn putting_an_item_replaces_the_one_with_its_code() {
        let mut content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01")],
            &departments(),
        )
        .unwrap();
        let renamed = with("SD-01-01", |item| item.name = "路灯巡查".into());
        let replaced = content.put(renamed, &departments()).unwrap();
        assert_eq!(
            replaced.map(|item| item.name().to_owned()),
            Some("市政设施巡查报修".into())
        );
        assert_eq!(
            content
                .item(&ItemCode::parse("SD-01-01").unwrap())
                .unwrap()
                .name(),
            "路灯巡查"
        );
    }

    #[test]
    fn a_sole_item_may_rename_its_category_but_not_one_of_several() {
        let mut content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01")],
            &departments(),
        )
        .unwrap();
        let renamed = with("SD-01-01", |item| item.category = "市容管理".into());
        assert!(content.put(renamed, &departments()).is_ok());
        content
            .put(
                with("SD-01-02", |item| item.category = "市容管理".into()),
                &departments(),
            )
            .unwrap();
        let lonely_rename = with("SD-01-02", |item| item.category = "城市管理".into());
        assert!(content.put(lonely_rename, &departments()).is_err());
    }

    #[test]
    fn putting_an_invalid_item_changes_nothing() {
        let mut content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01")],
            &departments(),
        )
        .unwrap();
        let before = content.clone();
        let unknown = with("SD-01-02", |item| {
            item.lead_department = Some(department("nobody"))
        });
        let invalid = content.put(unknown, &departments()).unwrap_err();
        assert_eq!(
            invalid.problems[0].violation.field(),
            ItemField::LeadDepartment
        );
        assert_eq!(content, before);
    }

    #[test]
    fn removing_an_item_takes_it_off_the_list() {
        let mut content = ListContent::new(
            ListKind::SubdistrictDuty,
            vec![item("SD-01-01")],
            &departments(),
        )
        .unwrap();
        let code = ItemCode::parse("SD-01-01").unwrap();
        assert!(content.remove(&code).is_some());
        assert!(!content.contains(&code));
        assert!(content.remove(&code).is_none());
        assert!(content.is_empty());
    }
}
