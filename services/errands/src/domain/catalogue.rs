//! A convenience matter (便民事项) as the catalogue keeps it, checked whole
//! before a version is published: a matter that could never be decided in
//! time, or a checklist that names an item twice, never reaches an errand.

use std::collections::HashSet;

/// One item of a matter's materials checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    /// snake_case, unique within the matter.
    pub code: String,
    pub name_zh: String,
    /// Empty when no English name is kept.
    pub name_en: String,
    /// False for an item needed only in some cases.
    pub required: bool,
}

/// A matter of one catalogue version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueMatter {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The deciding department's code in the duties service.
    pub deciding_department: String,
    pub materials: Vec<ChecklistItem>,
    pub proxy_allowed: bool,
    pub in_person_required: bool,
    /// Working days.
    pub statutory_limit_days: u32,
    /// Working days, at most the statutory limit.
    pub promised_limit_days: u32,
    pub fee_fen: i64,
    pub fee_note: String,
    pub usual_trips: u32,
}

/// Why a matter cannot be published: the field (relative to the matter) and
/// the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterError {
    pub field: &'static str,
    pub rule: &'static str,
}

/// The longest limit a matter may carry: a year of working days.
pub const MAX_LIMIT_DAYS: u32 = 250;

impl CatalogueMatter {
    /// The rules between fields (each field's own form is checked at parse).
    pub fn check(&self) -> Vec<MatterError> {
        let mut errors = Vec::new();
        if self.statutory_limit_days == 0 || self.statutory_limit_days > MAX_LIMIT_DAYS {
            errors.push(MatterError {
                field: "statutory_limit_days",
                rule: "must be 1-250 working days",
            });
        }
        if self.promised_limit_days == 0 || self.promised_limit_days > self.statutory_limit_days {
            errors.push(MatterError {
                field: "promised_limit_days",
                rule: "must be at least 1 and at most the statutory limit",
            });
        }
        if self.fee_fen < 0 {
            errors.push(MatterError {
                field: "fee_fen",
                rule: "must not be negative",
            });
        }
        if self.fee_fen > 0 && self.fee_note.trim().is_empty() {
            errors.push(MatterError {
                field: "fee_note",
                rule: "must say what a fee is for",
            });
        }
        if self.materials.is_empty() {
            errors.push(MatterError {
                field: "materials",
                rule: "a matter needs at least one item on its checklist",
            });
        }
        let mut seen = HashSet::new();
        if self
            .materials
            .iter()
            .any(|item| !seen.insert(item.code.as_str()))
        {
            errors.push(MatterError {
                field: "materials",
                rule: "an item's code appears twice",
            });
        }
        errors
    }

    /// The codes of the items every errand of this matter needs.
    pub fn required_materials(&self) -> Vec<String> {
        self.materials
            .iter()
            .filter(|item| item.required)
            .map(|item| item.code.clone())
            .collect()
    }

    pub fn has_material(&self, code: &str) -> bool {
        self.materials.iter().any(|item| item.code == code)
    }

    /// The name in `english` or zh-CN (the default, and the fallback when no
    /// English name is kept).
    pub fn label(&self, english: bool) -> &str {
        label(&self.name_zh, &self.name_en, english)
    }
}

/// zh-CN unless English is asked for and kept.
pub fn label<'a>(zh: &'a str, en: &'a str, english: bool) -> &'a str {
    if english && !en.is_empty() { en } else { zh }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matter() -> CatalogueMatter {
        CatalogueMatter {
            code: "pension_annual_review".into(),
            name_zh: "养老金领取资格年审".into(),
            name_en: "Pension qualification annual review".into(),
            deciding_department: "human_resources".into(),
            materials: vec![ChecklistItem {
                code: "id_card".into(),
                name_zh: "居民身份证".into(),
                name_en: String::new(),
                required: true,
            }],
            proxy_allowed: true,
            in_person_required: true,
            statutory_limit_days: 20,
            promised_limit_days: 5,
            fee_fen: 0,
            fee_note: String::new(),
            usual_trips: 2,
        }
    }

    #[test]
    fn a_promise_longer_than_the_law_allows_is_refused() {
        let mut long_promise = matter();
        long_promise.promised_limit_days = 21;
        assert_eq!(long_promise.check()[0].field, "promised_limit_days");
        assert!(matter().check().is_empty());
    }

    #[test]
    fn a_checklist_naming_an_item_twice_or_nothing_is_refused() {
        let mut twice = matter();
        twice.materials.push(twice.materials[0].clone());
        assert_eq!(twice.check()[0].field, "materials");
        let mut empty = matter();
        empty.materials.clear();
        assert_eq!(empty.check()[0].field, "materials");
    }

    #[test]
    fn a_fee_must_say_what_it_is_for() {
        let mut fee = matter();
        fee.fee_fen = 1000;
        assert_eq!(fee.check()[0].field, "fee_note");
    }

    #[test]
    fn labels_are_chinese_unless_english_is_asked_for_and_kept() {
        let matter = matter();
        assert_eq!(matter.label(false), "养老金领取资格年审");
        assert_eq!(matter.label(true), "Pension qualification annual review");
        assert_eq!(label("居民身份证", "", true), "居民身份证");
    }
}
