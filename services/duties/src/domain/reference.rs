//! The reference district's duty lists, departments and matter catalogue, embedded.
//!
//! **The data is synthetic**, modelled on the lists such districts publish (a subdistrict
//! duty list of 13 categories / 35 items, a cooperation list of 10 categories / 21 items,
//! and residents' committee lists of 20, 30 and 8 items). Department names are generic
//! district bureaus; legal bases name real laws and policy documents but are indicative,
//! not an official citation. The files live in `services/duties/data/reference/` and
//! are described in `services/duties/data/README.md`; they are read here through the same
//! importers an operator's files go through.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::catalogue::MatterCatalogue;
use super::department::Departments;
use super::import::{self, ImportError};
use super::kinds::ListKind;
use super::list::ListContent;
use super::version::{DraftList, DutyLists, PublishError, VersionNumber};

/// A sentence to show wherever the reference data is loaded or displayed.
pub const SYNTHETIC_NOTICE: &str = "synthetic reference data modelled on published duty lists; not an official list of any district";

const DEPARTMENTS_CSV: &str = include_str!("../../data/reference/departments.csv");
const MATTERS_CSV: &str = include_str!("../../data/reference/matters.csv");

/// Each list's embedded CSV, named by its list kind (the file is `<kind>.csv`).
const LIST_CSVS: [(ListKind, &str); 5] = [
    (
        ListKind::SubdistrictDuty,
        include_str!("../../data/reference/subdistrict_duty.csv"),
    ),
    (
        ListKind::SubdistrictCooperation,
        include_str!("../../data/reference/subdistrict_cooperation.csv"),
    ),
    (
        ListKind::ResidentsSelfGovernment,
        include_str!("../../data/reference/residents_self_government.csv"),
    ),
    (
        ListKind::ResidentsAssisting,
        include_str!("../../data/reference/residents_assisting.csv"),
    ),
    (
        ListKind::ResidentsNegative,
        include_str!("../../data/reference/residents_negative.csv"),
    ),
];

/// An embedded reference file that does not import.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reference file {file} does not import: {source}")]
pub struct ReferenceError {
    /// The file, relative to `data/reference/`.
    pub file: String,
    /// Every problem in it.
    pub source: ImportError,
}

/// The reference district's data, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceData {
    /// The departments the lists name.
    pub departments: Departments,
    /// The content of each of the five lists.
    pub lists: BTreeMap<ListKind, ListContent>,
    /// The matter catalogue, every matter mapped to an item of the lists.
    pub catalogue: MatterCatalogue,
}

/// Loads and checks the embedded reference data.
pub fn load() -> Result<ReferenceData, ReferenceError> {
    let departments =
        import::departments_from_csv(DEPARTMENTS_CSV).map_err(|source| ReferenceError {
            file: "departments.csv".to_owned(),
            source,
        })?;
    let mut lists = BTreeMap::new();
    for (list, csv) in LIST_CSVS {
        let content =
            import::list_from_csv(list, csv, &departments).map_err(|source| ReferenceError {
                file: format!("{list}.csv"),
                source,
            })?;
        lists.insert(list, content);
    }
    let known_items = lists.values().flat_map(ListContent::codes).collect();
    let catalogue =
        import::catalogue_from_csv(MATTERS_CSV, &known_items).map_err(|source| ReferenceError {
            file: "matters.csv".to_owned(),
            source,
        })?;
    Ok(ReferenceData {
        departments,
        lists,
        catalogue,
    })
}

impl ReferenceData {
    /// The five lists published as version 1, all taking effect at `effective_from`.
    pub fn publish(
        &self,
        effective_from: DateTime<Utc>,
        published_at: DateTime<Utc>,
    ) -> Result<DutyLists, PublishError> {
        let mut lists = DutyLists::new();
        for content in self.lists.values() {
            let draft = DraftList::with_content(VersionNumber::FIRST, content.clone());
            lists.publish(&draft, effective_from, published_at)?;
        }
        Ok(lists)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::domain::gate::{RefusalReason, Unit};
    use crate::domain::item::Responsible;
    use crate::domain::kinds::{HandlingLevel, Tier};
    use crate::domain::resolution::{DutyRules, Location, PlaceExceptions};
    use flatgov_vocabulary::{
        BlockCode, CommunityCode, DepartmentCode, MatterCode, SubdistrictCode,
    };

    fn reference() -> ReferenceData {
        load().unwrap_or_else(|error| panic!("{error}"))
    }

    fn counts(data: &ReferenceData, list: ListKind) -> (usize, usize) {
        let content = &data.lists[&list];
        (content.categories().len(), content.len())
    }

    #[test]
    fn the_reference_lists_have_the_published_shape() {
        let data = reference();
        assert_eq!(counts(&data, ListKind::SubdistrictDuty), (13, 35));
        assert_eq!(counts(&data, ListKind::SubdistrictCooperation), (10, 21));
        assert_eq!(counts(&data, ListKind::ResidentsSelfGovernment).1, 20);
        assert_eq!(counts(&data, ListKind::ResidentsAssisting).1, 30);
        assert_eq!(counts(&data, ListKind::ResidentsNegative).1, 8);
    }

    #[test]
    fn every_reference_matter_maps_to_an_existing_item() {
        let data = reference();
        let items: BTreeSet<_> = data.lists.values().flat_map(ListContent::codes).collect();
        assert!(
            (50..=80).contains(&data.catalogue.len()),
            "{}",
            data.catalogue.len()
        );
        for matter in data.catalogue.iter() {
            assert!(
                items.contains(&matter.item()),
                "{} maps to {}",
                matter.code(),
                matter.item()
            );
        }
    }

    #[test]
    fn every_reference_item_and_matter_carries_an_english_gloss() {
        let data = reference();
        for item in data.lists.values().flat_map(ListContent::items) {
            assert!(item.fields().name_en.is_some(), "{}", item.code());
            assert!(item.fields().category_en.is_some(), "{}", item.code());
        }
        for matter in data.catalogue.iter() {
            assert!(matter.name_en().is_some(), "{}", matter.code());
        }
        for department in data.departments.iter() {
            assert!(department.name_en().is_some(), "{}", department.code());
        }
    }

    #[test]
    fn the_reference_departments_include_the_three_whistle_agencies() {
        let data = reference();
        for code in ["urban_management", "market_supervision", "public_security"] {
            assert!(
                data.departments
                    .contains(&DepartmentCode::parse(code).unwrap())
            );
        }
    }

    #[test]
    fn the_reference_data_says_it_is_synthetic() {
        assert!(SYNTHETIC_NOTICE.starts_with("synthetic"));
        let readme = include_str!("../../data/README.md");
        assert!(readme.contains("synthetic"));
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
    }

    fn resolve(data: &ReferenceData, matter: &str) -> (Responsible, Tier) {
        let lists = data.publish(at(), at()).unwrap();
        let exceptions = PlaceExceptions::none();
        let rules = DutyRules::new(&lists, &data.catalogue, &exceptions);
        let location = Location::in_block(BlockCode::parse("430302001004017").unwrap());
        let responsibility = rules
            .resolve(&MatterCode::parse(matter).unwrap(), &location, at())
            .unwrap();
        (responsibility.lead, responsibility.tier)
    }

    fn department(code: &str) -> Responsible {
        Responsible::Department(DepartmentCode::parse(code).unwrap())
    }

    #[test]
    fn reference_matters_resolve_to_sensible_leads_and_tiers() {
        let data = reference();
        let expectations = [
            (
                "illegal_construction",
                department("urban_management"),
                Tier::Whistle,
            ),
            (
                "food_safety_complaint",
                department("market_supervision"),
                Tier::Whistle,
            ),
            ("night_noise", department("public_security"), Tier::Whistle),
            (
                "broken_street_light",
                Responsible::BlockTeam,
                Tier::FrontLine,
            ),
            (
                "illegal_street_vending",
                Responsible::BlockTeam,
                Tier::FrontLine,
            ),
            (
                "blocked_fire_escape",
                Responsible::BlockTeam,
                Tier::FrontLine,
            ),
            ("garbage_overflow", Responsible::BlockTeam, Tier::FrontLine),
            (
                "stairwell_water_leak",
                Responsible::BlockTeam,
                Tier::FrontLine,
            ),
            ("neighbour_dispute", Responsible::BlockTeam, Tier::FrontLine),
            (
                "elderly_subsidy_application",
                Responsible::Community,
                Tier::FrontLine,
            ),
            (
                "pension_annual_review",
                Responsible::Community,
                Tier::FrontLine,
            ),
            (
                "medical_insurance_payment",
                Responsible::Community,
                Tier::FrontLine,
            ),
            (
                "subsistence_allowance_application",
                Responsible::Community,
                Tier::FrontLine,
            ),
            (
                "major_collective_dispute",
                Responsible::SubdistrictPlatform,
                Tier::CoordinationMeeting,
            ),
            (
                "dangerous_building",
                department("housing_construction"),
                Tier::Whistle,
            ),
        ];
        for (matter, lead, tier) in expectations {
            assert_eq!(resolve(&data, matter), (lead, tier), "{matter}");
        }
    }

    #[test]
    fn whistle_items_in_the_reference_lists_are_led_by_departments() {
        let data = reference();
        for item in data.lists.values().flat_map(ListContent::items) {
            if item.default_tier() == Tier::Whistle {
                assert_eq!(
                    item.handling_level(),
                    HandlingLevel::Department,
                    "{}",
                    item.code()
                );
            }
        }
    }

    #[test]
    fn the_reference_gate_refuses_pushing_negative_list_tasks_onto_a_committee() {
        let data = reference();
        let lists = data.publish(at(), at()).unwrap();
        let exceptions = PlaceExceptions::none();
        let rules = DutyRules::new(&lists, &data.catalogue, &exceptions);
        let negative_matters: Vec<_> = data
            .catalogue
            .iter()
            .filter(|matter| matter.item().list() == ListKind::ResidentsNegative)
            .collect();
        assert!(negative_matters.len() >= 8);
        let community = Unit::Community(CommunityCode::parse("430302001004").unwrap());
        let subdistrict = Unit::Subdistrict(SubdistrictCode::parse("430302001").unwrap());
        for matter in negative_matters {
            let decision = rules
                .check_assignment(matter.code(), &subdistrict, &community, at())
                .unwrap();
            let refusal = decision
                .refusal()
                .unwrap_or_else(|| panic!("{} allowed", matter.code()));
            assert_eq!(refusal.reason, RefusalReason::NegativeList);
            assert!(matches!(
                refusal.responsible_instead,
                Responsible::Department(_)
            ));
        }
    }

    #[test]
    fn the_reference_lists_publish_as_version_one_of_each_list() {
        let data = reference();
        let lists = data.publish(at(), at()).unwrap();
        for list in ListKind::ALL {
            let version = lists.history(list).in_effect_at(at()).unwrap();
            assert_eq!(version.number(), VersionNumber::FIRST);
            assert_eq!(version.content(), &data.lists[&list]);
        }
    }
}
