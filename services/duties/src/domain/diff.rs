//! Item-by-item comparison of two versions of a list.

use super::item::ItemField;
use super::item_code::ItemCode;
use super::list::ListContent;

/// An item present in both versions whose fields differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChange {
    /// The item's code.
    pub code: ItemCode,
    /// The fields that differ, in field order (never empty).
    pub fields: Vec<ItemField>,
}

/// What changed from one version of a list to another. Every list is ordered by code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDiff {
    /// Codes only in the newer version.
    pub added: Vec<ItemCode>,
    /// Codes only in the older version.
    pub removed: Vec<ItemCode>,
    /// Codes in both whose items differ, with the fields that differ.
    pub changed: Vec<ItemChange>,
}

impl ListDiff {
    /// Whether the versions hold identical items.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares `older` with `newer` item by item: exactly the codes added, removed, and kept
/// with changed fields. Items with identical fields appear nowhere. Comparing versions of
/// two different lists reports every item as added or removed, since codes name the list.
pub fn diff(older: &ListContent, newer: &ListContent) -> ListDiff {
    let added = newer.codes().filter(|code| !older.contains(code)).collect();
    let removed = older.codes().filter(|code| !newer.contains(code)).collect();
    let changed = older
        .items()
        .filter_map(|before| {
            let after = newer.item(&before.code())?;
            let fields = before.changed_fields(after);
            (!fields.is_empty()).then(|| ItemChange {
                code: before.code(),
                fields,
            })
        })
        .collect();
    ListDiff {
        added,
        removed,
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::duration::WorkingDuration;
    use crate::domain::item::ListItem;
    use crate::domain::item::tests::{department, fields, item};
    use crate::domain::kinds::{ListKind, Tier};
    use crate::domain::list::tests::departments;

    fn list(items: Vec<ListItem>) -> ListContent {
        ListContent::new(ListKind::SubdistrictDuty, items, &departments()).unwrap()
    }

    fn code(text: &str) -> ItemCode {
        ItemCode::parse(text).unwrap()
    }

    #[test]
    fn a_version_diff_lists_exactly_the_changed_items() {
        let mut retimed = fields("SD-01-02");
        retimed.resolution_limit = WorkingDuration::parse("5d").unwrap();
        retimed.default_tier = Tier::CoordinationMeeting;
        let mut reassigned = fields("SD-01-03");
        reassigned.cooperating_departments = [department("housing_construction")].into();
        let older = list(vec![
            item("SD-01-01"),
            item("SD-01-02"),
            item("SD-01-03"),
            item("SD-01-04"),
            item("SD-02-01"),
        ]);
        let newer = list(vec![
            item("SD-01-01"),
            ListItem::new(retimed).unwrap(),
            ListItem::new(reassigned).unwrap(),
            item("SD-02-01"),
            item("SD-02-02"),
        ]);
        let difference = diff(&older, &newer);
        assert_eq!(difference.added, [code("SD-02-02")]);
        assert_eq!(difference.removed, [code("SD-01-04")]);
        assert_eq!(
            difference.changed,
            [
                ItemChange {
                    code: code("SD-01-02"),
                    fields: vec![ItemField::DefaultTier, ItemField::ResolutionLimit],
                },
                ItemChange {
                    code: code("SD-01-03"),
                    fields: vec![ItemField::CooperatingDepartments],
                },
            ]
        );
    }

    #[test]
    fn a_version_compared_with_itself_has_no_differences() {
        let version = list(vec![item("SD-01-01"), item("SD-01-02")]);
        assert!(diff(&version, &version).is_empty());
    }

    #[test]
    fn a_diff_is_the_mirror_of_the_reverse_diff() {
        let older = list(vec![item("SD-01-01")]);
        let newer = list(vec![item("SD-01-02")]);
        let forward = diff(&older, &newer);
        let backward = diff(&newer, &older);
        assert_eq!(forward.added, backward.removed);
        assert_eq!(forward.removed, backward.added);
    }

    #[test]
    fn a_changed_english_gloss_alone_counts_as_a_change() {
        let mut reglossed = fields("SD-01-01");
        reglossed.name_en = Some("Street facility patrol".into());
        let difference = diff(
            &list(vec![item("SD-01-01")]),
            &list(vec![ListItem::new(reglossed).unwrap()]),
        );
        assert_eq!(difference.changed[0].fields, [ItemField::NameEn]);
    }

    #[test]
    fn a_diff_from_an_empty_list_adds_every_item() {
        let difference = diff(
            &ListContent::empty(ListKind::SubdistrictDuty),
            &list(vec![item("SD-01-01"), item("SD-01-02")]),
        );
        assert_eq!(difference.added, [code("SD-01-01"), code("SD-01-02")]);
        assert!(difference.removed.is_empty() && difference.changed.is_empty());
    }
}
