//! The matter catalogue: the everyday matters cases are classified against, each mapped
//! onto the list item that says who handles it.

use std::collections::{BTreeMap, BTreeSet};

use super::item_code::ItemCode;
use super::kinds::Tier;
use flatgov_vocabulary::MatterCode;

/// A matter cases are classified against, e.g. `broken_street_light` (路灯损坏).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matter {
    /// The stable code.
    code: MatterCode,
    /// The Chinese name.
    name: String,
    /// An English gloss.
    name_en: Option<String>,
    /// The list item the matter falls under; several matters may share one.
    item: ItemCode,
    /// A tier for this matter that differs from its item's default, e.g. a noisy
    /// neighbour starting at the front line under an item that usually needs a whistle.
    tier: Option<Tier>,
}

/// Why a matter cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("matter {code} has an empty name")]
pub struct MatterNameEmpty {
    /// The matter whose name is blank.
    pub code: MatterCode,
}

impl Matter {
    /// Builds a matter; the Chinese name must not be blank. A blank gloss is absent.
    pub fn new(
        code: MatterCode,
        name: &str,
        name_en: Option<&str>,
        item: ItemCode,
        tier: Option<Tier>,
    ) -> Result<Self, MatterNameEmpty> {
        let name = name.trim();
        if name.is_empty() {
            return Err(MatterNameEmpty { code });
        }
        let name_en = name_en
            .map(str::trim)
            .filter(|gloss| !gloss.is_empty())
            .map(str::to_owned);
        Ok(Self {
            code,
            name: name.to_owned(),
            name_en,
            item,
            tier,
        })
    }

    /// The stable code.
    pub fn code(&self) -> &MatterCode {
        &self.code
    }

    /// The Chinese name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The English gloss, if any.
    pub fn name_en(&self) -> Option<&str> {
        self.name_en.as_deref()
    }

    /// The list item the matter falls under.
    pub fn item(&self) -> ItemCode {
        self.item
    }

    /// The matter's own tier, when it differs from its item's default.
    pub fn tier(&self) -> Option<Tier> {
        self.tier
    }
}

/// A rule a matter breaks in the context of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueViolation {
    /// Another matter earlier in the input has the same code.
    #[error("duplicate matter code {code} (first given as matter {first_position})")]
    DuplicateCode {
        /// The repeated code.
        code: MatterCode,
        /// The 1-based position of the first matter with the code.
        first_position: usize,
    },
    /// The matter maps to an item no list has.
    #[error("matter {matter} maps to item {item}, which is on no list")]
    MissingItem {
        /// The matter.
        matter: MatterCode,
        /// The item that does not exist.
        item: ItemCode,
    },
}

/// A violation for the matter at a position in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("matter {position}: {violation}")]
pub struct CatalogueProblem {
    /// The 1-based position of the matter in the input.
    pub position: usize,
    /// What is wrong.
    pub violation: CatalogueViolation,
}

/// Every problem found while building a catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the matter catalogue", .problems.len())]
pub struct CatalogueInvalid {
    /// Every problem, in input order.
    pub problems: Vec<CatalogueProblem>,
}

/// The matter catalogue. Codes are unique and every matter maps to a known item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatterCatalogue {
    /// Every matter by code.
    by_code: BTreeMap<MatterCode, Matter>,
}

impl MatterCatalogue {
    /// Builds the catalogue from matters in input order, reporting every duplicate code
    /// and every matter whose item is not in `known_items` (usually every item code of
    /// the published lists and the drafts being prepared: a matter may be catalogued
    /// before its item takes effect). Nothing is built when there is any problem.
    pub fn new(
        matters: Vec<Matter>,
        known_items: &BTreeSet<ItemCode>,
    ) -> Result<Self, CatalogueInvalid> {
        let mut by_code: BTreeMap<MatterCode, (usize, Matter)> = BTreeMap::new();
        let mut problems = Vec::new();
        for (index, matter) in matters.into_iter().enumerate() {
            let position = index + 1;
            if !known_items.contains(&matter.item) {
                problems.push(CatalogueProblem {
                    position,
                    violation: CatalogueViolation::MissingItem {
                        matter: matter.code.clone(),
                        item: matter.item,
                    },
                });
            }
            if let Some((first_position, _)) = by_code.get(&matter.code) {
                problems.push(CatalogueProblem {
                    position,
                    violation: CatalogueViolation::DuplicateCode {
                        code: matter.code.clone(),
                        first_position: *first_position,
                    },
                });
            } else {
                by_code.insert(matter.code.clone(), (position, matter));
            }
        }
        if !problems.is_empty() {
            return Err(CatalogueInvalid { problems });
        }
        let by_code = by_code
            .into_iter()
            .map(|(code, (_, matter))| (code, matter))
            .collect();
        Ok(Self { by_code })
    }

    /// The matter with this code.
    pub fn get(&self, code: &MatterCode) -> Option<&Matter> {
        self.by_code.get(code)
    }

    /// Every matter, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Matter> {
        self.by_code.values()
    }

    /// The matters that fall under an item, ordered by code.
    pub fn matters_for_item(&self, item: ItemCode) -> impl Iterator<Item = &Matter> {
        self.by_code
            .values()
            .filter(move |matter| matter.item == item)
    }

    /// How many matters.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether the catalogue is empty.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn matter(code: &str, item: &str) -> Matter {
        Matter::new(
            MatterCode::parse(code).unwrap(),
            "路灯损坏",
            Some("Broken street light"),
            ItemCode::parse(item).unwrap(),
            None,
        )
        .unwrap()
    }

    fn items(codes: &[&str]) -> BTreeSet<ItemCode> {
        codes
            .iter()
            .map(|code| ItemCode::parse(code).unwrap())
            .collect()
    }

    #[test]
    fn several_matters_may_map_to_one_item() {
        let catalogue = MatterCatalogue::new(
            vec![
                matter("broken_street_light", "SD-05-03"),
                matter("damaged_manhole_cover", "SD-05-03"),
                matter("night_noise", "SC-03-01"),
            ],
            &items(&["SD-05-03", "SC-03-01"]),
        )
        .unwrap();
        let under_facilities: Vec<&str> = catalogue
            .matters_for_item(ItemCode::parse("SD-05-03").unwrap())
            .map(|matter| matter.code().as_str())
            .collect();
        assert_eq!(
            under_facilities,
            ["broken_street_light", "damaged_manhole_cover"]
        );
        assert_eq!(catalogue.len(), 3);
    }

    #[test]
    fn a_matter_mapped_to_a_missing_item_is_refused_naming_both() {
        let invalid = MatterCatalogue::new(
            vec![matter("broken_street_light", "SD-05-09")],
            &items(&["SD-05-03"]),
        )
        .unwrap_err();
        assert_eq!(
            invalid.problems[0].to_string(),
            "matter 1: matter broken_street_light maps to item SD-05-09, which is on no list"
        );
    }

    #[test]
    fn a_duplicate_matter_code_is_refused_and_every_problem_is_reported() {
        let invalid = MatterCatalogue::new(
            vec![
                matter("night_noise", "SC-03-01"),
                matter("night_noise", "SC-03-01"),
                matter("garbage_overflow", "SD-06-01"),
            ],
            &items(&["SC-03-01"]),
        )
        .unwrap_err();
        let positions: Vec<usize> = invalid
            .problems
            .iter()
            .map(|problem| problem.position)
            .collect();
        assert_eq!(positions, [2, 3]);
        assert!(matches!(
            invalid.problems[0].violation,
            CatalogueViolation::DuplicateCode {
                first_position: 1,
                ..
            }
        ));
    }

    #[test]
    fn a_matter_without_a_name_is_refused() {
        let error = Matter::new(
            MatterCode::parse("night_noise").unwrap(),
            " ",
            None,
            ItemCode::parse("SC-03-01").unwrap(),
            None,
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "matter night_noise has an empty name");
    }

    #[test]
    fn a_matter_keeps_its_own_tier_and_drops_a_blank_gloss() {
        let matter = Matter::new(
            MatterCode::parse("neighbour_noise").unwrap(),
            "邻里噪声",
            Some(""),
            ItemCode::parse("SC-03-01").unwrap(),
            Some(Tier::FrontLine),
        )
        .unwrap();
        assert_eq!(matter.tier(), Some(Tier::FrontLine));
        assert_eq!(matter.name_en(), None);
    }
}
