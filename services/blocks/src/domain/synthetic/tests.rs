use super::*;
use crate::domain::geometry::{area_m2, parse_geometry, to_geojson};
use crate::domain::import::{
    blocks_to_geojson, parse_block_collection, parse_subdistrict_collection,
    subdistricts_to_geojson,
};
use crate::domain::validation::{ValidationSettings, validate_generation};
use geo::MultiPolygon;
use std::collections::{HashMap, HashSet};

fn demo() -> (Vec<SubdistrictBoundary>, Vec<BlockDraft>) {
    demo_generation(&demo_district(DEMO_SEED).expect("demo builds")).expect("demo names are valid")
}

#[test]
fn a_tiling_covers_its_rectangle_exactly_and_validates_clean() {
    let made = tiling(11, 326, Bounds::around_xiangtan(326)).expect("valid");
    let total: f64 = made
        .blocks
        .iter()
        .map(|(_, geometry)| area_m2(geometry))
        .sum();
    let rectangle = area_m2(&MultiPolygon(vec![made.bounds.to_polygon()]));
    assert!(
        (total - rectangle).abs() / rectangle < 1e-6,
        "{total} vs {rectangle}"
    );
    let (boundary, drafts) = single_subdistrict_generation(&made).expect("one subdistrict");
    let report = validate_generation(
        &[boundary],
        &drafts,
        &HashMap::new(),
        &ValidationSettings::default(),
    );
    assert_eq!(
        report
            .findings()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        Vec::<String>::new()
    );
}

#[test]
fn every_tiling_polygon_passes_the_import_geometry_rules() {
    let made = tiling(12, 500, Bounds::around_xiangtan(500)).expect("valid");
    for (code, geometry) in &made.blocks {
        let json = serde_json::to_value(to_geojson(geometry)).expect("serializes");
        assert!(
            parse_geometry(&json, "").is_ok(),
            "block {code} is not a valid polygon"
        );
    }
}

#[test]
fn demo_households_are_inside_the_default_band_and_average_350() {
    let demo = demo_district(DEMO_SEED).expect("demo builds");
    let (low, high) = ValidationSettings::default().households_band();
    assert!(
        demo.blocks
            .iter()
            .all(|block| (low..=high).contains(&block.households))
    );
    let total: u64 = demo
        .blocks
        .iter()
        .map(|block| u64::from(block.households))
        .sum();
    assert_eq!(total, 350 * 326);
    let distinct: HashSet<u32> = demo.blocks.iter().map(|block| block.households).collect();
    assert!(distinct.len() > 50, "households vary");
}

#[test]
fn the_demo_district_covers_about_61_square_kilometres() {
    let demo = demo_district(DEMO_SEED).expect("demo builds");
    let land: f64 = demo
        .subdistricts
        .iter()
        .map(|subdistrict| area_m2(&subdistrict.boundary.geometry))
        .sum();
    assert!(land > 55.0e6 && land < 70.0e6, "about 61 km²: {land}");
}

#[test]
fn the_demo_district_validates_with_zero_findings() {
    let (boundaries, drafts) = demo();
    let report = validate_generation(
        &boundaries,
        &drafts,
        &HashMap::new(),
        &ValidationSettings::default(),
    );
    assert_eq!(
        report
            .findings()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        Vec::<String>::new()
    );
    for subdistrict in &report.subdistricts {
        let land = subdistrict.land_area_m2.expect("has land");
        assert!(
            (subdistrict.blocks_area_m2 - land).abs() / land < 1e-6,
            "{}: blocks {} land {land}",
            subdistrict.code,
            subdistrict.blocks_area_m2
        );
    }
}

#[test]
fn other_seeds_give_other_but_equally_clean_demos() {
    for seed in [1, 2, 3] {
        let (boundaries, drafts) =
            demo_generation(&demo_district(seed).expect("demo builds")).expect("valid names");
        let report = validate_generation(
            &boundaries,
            &drafts,
            &HashMap::new(),
            &ValidationSettings::default(),
        );
        assert!(
            !report.has_errors() && report.warning_count() == 0,
            "seed {seed}"
        );
    }
    assert_ne!(
        demo_district(1).expect("builds").blocks,
        demo_district(2).expect("builds").blocks
    );
    assert_eq!(
        demo_district(1).expect("builds"),
        demo_district(1).expect("builds")
    );
}

#[test]
fn the_demo_round_trips_through_the_import_format() {
    let (boundaries, drafts) = demo();
    let blocks_json = serde_json::to_value(blocks_to_geojson(&drafts)).expect("serializes");
    assert_eq!(
        parse_block_collection(&blocks_json).expect("imports"),
        drafts
    );
    let boundaries_json =
        serde_json::to_value(subdistricts_to_geojson(&boundaries)).expect("serializes");
    assert_eq!(
        parse_subdistrict_collection(&boundaries_json).expect("imports"),
        boundaries
    );
}

#[test]
fn the_demo_crate_writes_exactly_the_import_files_the_registry_writes() {
    // The demo's request id is a digest of this text: were the two writers to
    // drift apart, a rerun of `flatgov demo load` would draft a new generation.
    let district = demo_district(DEMO_SEED).expect("demo builds");
    let (boundaries, drafts) = demo();
    assert_eq!(
        flatgov_demo::geojson::blocks_to_geojson(&district.blocks).to_string(),
        blocks_to_geojson(&drafts).to_string()
    );
    assert_eq!(
        flatgov_demo::geojson::subdistricts_to_geojson(&district.boundaries()).to_string(),
        subdistricts_to_geojson(&boundaries).to_string()
    );
}

#[test]
fn every_demo_team_keeps_one_governor_assistants_and_one_supervisor() {
    let data = flatgov_demo::demo_data(DEMO_SEED).expect("demo");
    for assignment in &data.teams {
        let team = assignment.team.as_ref().expect("team");
        crate::grpc::team_from_message("team", team).expect("every demo team keeps 1+N+1");
    }
}
