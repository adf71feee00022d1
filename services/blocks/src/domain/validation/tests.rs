use super::*;
use crate::domain::team::StaffId;
use geo::{LineString, Polygon};

/// Test shapes are offsets from a point near Xiangtan, so areas are realistic.
const ORIGIN: (f64, f64) = (112.90, 27.85);

fn rectangle(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    let (lon, lat) = ORIGIN;
    MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (lon + x0, lat + y0),
            (lon + x1, lat + y0),
            (lon + x1, lat + y1),
            (lon + x0, lat + y1),
            (lon + x0, lat + y0),
        ]),
        vec![],
    )])
}

fn block(code: &str, households: u32, geometry: MultiPolygon<f64>) -> BlockDraft {
    BlockDraft {
        code: BlockCode::parse(code).expect("valid code"),
        name: PlaceName::parse(&format!("区块{code}")).expect("valid name"),
        households,
        community_name: None,
        geometry,
    }
}

fn subdistrict(code: &str, geometry: MultiPolygon<f64>) -> SubdistrictBoundary {
    SubdistrictBoundary {
        code: SubdistrictCode::parse(code).expect("valid code"),
        name: PlaceName::parse("雨湖路街道").expect("valid"),
        name_en: None,
        geometry,
    }
}

fn validate(subdistricts: &[SubdistrictBoundary], blocks: &[BlockDraft]) -> ValidationReport {
    validate_generation(
        subdistricts,
        blocks,
        &HashMap::new(),
        &ValidationSettings::default(),
    )
}

fn kinds(report: &ValidationReport) -> Vec<&'static str> {
    report
        .findings()
        .map(|finding| finding.kind().as_str())
        .collect()
}

/// Two blocks splitting a 0.02° × 0.01° subdistrict exactly.
fn two_halves() -> (SubdistrictBoundary, Vec<BlockDraft>) {
    (
        subdistrict("430302001", rectangle(0.0, 0.0, 0.02, 0.01)),
        vec![
            block("430302001001001", 350, rectangle(0.0, 0.0, 0.01, 0.01)),
            block("430302001001002", 350, rectangle(0.01, 0.0, 0.02, 0.01)),
        ],
    )
}

fn assert_close(actual: f64, expected: f64, relative: f64) {
    assert!(
        (actual - expected).abs() <= expected.abs() * relative,
        "{actual} is not within {relative} of {expected}"
    );
}

#[test]
fn blocks_that_tile_their_subdistrict_exactly_have_no_findings() {
    let (boundary, blocks) = two_halves();
    let report = validate(&[boundary], &blocks);
    assert_eq!(kinds(&report), Vec::<&str>::new());
    assert!(!report.has_errors());
    let subdistrict = &report.subdistricts[0];
    assert_eq!(subdistrict.block_count, 2);
    // Geodesic edges bulge slightly, so two halves differ from the whole in the 9th digit.
    assert_close(
        subdistrict.blocks_area_m2,
        subdistrict.land_area_m2.expect("has land"),
        1e-7,
    );
}

#[test]
fn a_strip_left_uncovered_is_a_gap_with_its_geometry_and_area() {
    let (boundary, mut blocks) = two_halves();
    blocks[1].geometry = rectangle(0.011, 0.0, 0.02, 0.01);
    let report = validate(&[boundary], &blocks);
    assert_eq!(kinds(&report), vec!["gap"]);
    let gap = report.findings().next().expect("one finding");
    let expected = area_m2(&rectangle(0.01, 0.0, 0.011, 0.01));
    assert_close(gap.area_m2().expect("has area"), expected, 1e-6);
    assert_close(
        area_m2(gap.geometry().expect("has geometry")),
        expected,
        1e-6,
    );
    assert!(report.has_errors());
    assert_eq!(gap.severity(), Severity::Error);
}

#[test]
fn two_separate_gaps_are_two_findings() {
    let boundary = subdistrict("430302001", rectangle(0.0, 0.0, 0.03, 0.01));
    let blocks = vec![
        block("430302001001001", 350, rectangle(0.0, 0.0, 0.01, 0.01)),
        block("430302001001002", 350, rectangle(0.015, 0.0, 0.02, 0.01)),
    ];
    let report = validate(&[boundary], &blocks);
    let gaps: Vec<f64> = report.findings().filter_map(Finding::area_m2).collect();
    assert_eq!(gaps.len(), 2);
    let total: f64 = gaps.iter().sum();
    assert_close(
        total,
        area_m2(&rectangle(0.01, 0.0, 0.015, 0.01)) + area_m2(&rectangle(0.02, 0.0, 0.03, 0.01)),
        1e-6,
    );
}

#[test]
fn a_hole_in_the_coverage_inside_one_block_is_a_gap() {
    let boundary = subdistrict("430302001", rectangle(0.0, 0.0, 0.01, 0.01));
    let (lon, lat) = ORIGIN;
    let ring = |x0: f64, y0: f64, x1: f64, y1: f64| {
        LineString::from(vec![
            (lon + x0, lat + y0),
            (lon + x1, lat + y0),
            (lon + x1, lat + y1),
            (lon + x0, lat + y1),
            (lon + x0, lat + y0),
        ])
    };
    let with_hole = MultiPolygon(vec![Polygon::new(
        ring(0.0, 0.0, 0.01, 0.01),
        vec![ring(0.004, 0.004, 0.006, 0.006)],
    )]);
    let report = validate(&[boundary], &[block("430302001001001", 350, with_hole)]);
    assert_eq!(kinds(&report), vec!["gap"]);
    assert_close(
        report
            .findings()
            .next()
            .and_then(Finding::area_m2)
            .expect("area"),
        area_m2(&rectangle(0.004, 0.004, 0.006, 0.006)),
        1e-6,
    );
}

#[test]
fn overlapping_blocks_are_one_overlap_naming_both_codes_lower_first() {
    let (boundary, mut blocks) = two_halves();
    blocks[1].geometry = rectangle(0.009, 0.0, 0.02, 0.01);
    blocks.reverse();
    let report = validate(&[boundary], &blocks);
    assert_eq!(kinds(&report), vec!["overlap"]);
    let overlap = report.findings().next().expect("one finding");
    assert_eq!(
        overlap
            .blocks()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["430302001001001", "430302001001002"]
    );
    assert_close(
        overlap.area_m2().expect("area"),
        area_m2(&rectangle(0.009, 0.0, 0.01, 0.01)),
        1e-6,
    );
    assert_eq!(
        overlap.to_string(),
        format!(
            "blocks 430302001001001 and 430302001001002 overlap on {:.1} m²",
            overlap.area_m2().expect("area")
        )
    );
}

#[test]
fn a_block_inside_another_overlaps_by_its_whole_area() {
    let (boundary, mut blocks) = two_halves();
    blocks.push(block(
        "430302001001003",
        350,
        rectangle(0.002, 0.002, 0.004, 0.004),
    ));
    let report = validate(&[boundary], &blocks);
    assert_eq!(kinds(&report), vec!["overlap"]);
    assert_close(
        report
            .findings()
            .next()
            .and_then(Finding::area_m2)
            .expect("area"),
        area_m2(&rectangle(0.002, 0.002, 0.004, 0.004)),
        1e-6,
    );
}

#[test]
fn overlaps_at_or_below_the_tolerance_are_not_reported() {
    let (boundary, mut blocks) = two_halves();
    // A sliver about 0.1 m wide and 1.1 km long: ~110 m².
    blocks[1].geometry = rectangle(0.009_999, 0.0, 0.02, 0.01);
    let sliver_area = area_m2(&rectangle(0.009_999, 0.0, 0.01, 0.01));
    assert!(sliver_area > 50.0 && sliver_area < 200.0, "{sliver_area}");
    let mut settings = ValidationSettings {
        area_tolerance_m2: sliver_area * 1.01,
        ..ValidationSettings::default()
    };
    assert_eq!(
        kinds(&validate_generation(
            std::slice::from_ref(&boundary),
            &blocks,
            &HashMap::new(),
            &settings
        )),
        Vec::<&str>::new()
    );
    settings.area_tolerance_m2 = sliver_area * 0.99;
    assert_eq!(
        kinds(&validate_generation(
            &[boundary],
            &blocks,
            &HashMap::new(),
            &settings
        )),
        vec!["overlap"]
    );
}

#[test]
fn a_block_reaching_past_its_subdistrict_is_outside_by_the_part_outside() {
    let (boundary, mut blocks) = two_halves();
    blocks[1].geometry = rectangle(0.01, 0.0, 0.025, 0.01);
    let report = validate(&[boundary], &blocks);
    assert_eq!(kinds(&report), vec!["block_outside_subdistrict"]);
    let outside = report.findings().next().expect("finding");
    assert_eq!(outside.blocks()[0].to_string(), "430302001001002");
    assert_close(
        outside.area_m2().expect("area"),
        area_m2(&rectangle(0.02, 0.0, 0.025, 0.01)),
        1e-6,
    );
}

#[test]
fn a_block_of_one_subdistrict_intruding_into_another_is_outside_and_leaves_no_gap_claim_on_its_own()
{
    let west = subdistrict("430302001", rectangle(0.0, 0.0, 0.01, 0.01));
    let east = subdistrict("430302002", rectangle(0.01, 0.0, 0.02, 0.01));
    let blocks = vec![
        block("430302001001001", 350, rectangle(0.0, 0.0, 0.012, 0.01)),
        block("430302002001001", 350, rectangle(0.012, 0.0, 0.02, 0.01)),
    ];
    let report = validate(&[west, east], &blocks);
    let by_subdistrict: Vec<(String, Vec<&str>)> = report
        .subdistricts
        .iter()
        .map(|subdistrict| {
            (
                subdistrict.code.to_string(),
                subdistrict
                    .findings
                    .iter()
                    .map(|finding| finding.kind().as_str())
                    .collect(),
            )
        })
        .collect();
    // East's own blocks leave the strip 0.010–0.012 uncovered (the intruder is not east's).
    assert_eq!(
        by_subdistrict,
        vec![
            ("430302001".to_owned(), vec!["block_outside_subdistrict"]),
            ("430302002".to_owned(), vec!["gap"])
        ]
    );
}

#[test]
fn a_subdistrict_without_blocks_is_one_gap_of_its_whole_land() {
    let boundary = subdistrict("430302003", rectangle(0.0, 0.0, 0.01, 0.01));
    let report = validate(&[boundary], &[]);
    assert_eq!(kinds(&report), vec!["gap"]);
    assert_close(
        report
            .findings()
            .next()
            .and_then(Finding::area_m2)
            .expect("area"),
        report.subdistricts[0].land_area_m2.expect("land"),
        1e-6,
    );
}

#[test]
fn blocks_whose_subdistrict_has_no_boundary_are_each_reported() {
    let (boundary, mut blocks) = two_halves();
    blocks.push(block(
        "430302009001001",
        350,
        rectangle(0.05, 0.0, 0.06, 0.01),
    ));
    let report = validate(&[boundary], &blocks);
    let orphan = report
        .subdistricts
        .iter()
        .find(|subdistrict| subdistrict.code.to_string() == "430302009")
        .expect("reported");
    assert_eq!(orphan.name, None);
    assert_eq!(orphan.findings.len(), 1);
    assert_eq!(
        orphan.findings[0].kind().as_str(),
        "subdistrict_boundary_missing"
    );
    assert_eq!(
        orphan.findings[0].to_string(),
        "block 430302009001001 belongs to subdistrict 430302009, which has no boundary"
    );
}

#[test]
fn households_outside_the_band_are_warnings_that_do_not_block_activation() {
    let (boundary, mut blocks) = two_halves();
    blocks[0].households = 174;
    blocks[1].households = 526;
    let report = validate(std::slice::from_ref(&boundary), &blocks);
    assert_eq!(
        kinds(&report),
        vec!["households_outside_band", "households_outside_band"]
    );
    assert!(!report.has_errors());
    assert_eq!(report.warning_count(), 2);
    blocks[0].households = 175;
    blocks[1].households = 525;
    assert_eq!(
        kinds(&validate(&[boundary], &blocks)),
        Vec::<&str>::new(),
        "the band's ends are inside"
    );
}

#[test]
fn the_households_band_is_configurable() {
    let settings = ValidationSettings {
        households_target: 300,
        households_band_fraction: 0.1,
        ..ValidationSettings::default()
    };
    assert_eq!(settings.households_band(), (270, 330));
    assert_eq!(ValidationSettings::default().households_band(), (175, 525));
    let wide = ValidationSettings {
        households_band_fraction: 2.0,
        ..ValidationSettings::default()
    };
    assert_eq!(wide.households_band(), (0, 1050));
}

#[test]
fn teams_breaking_one_plus_n_plus_one_are_errors_and_unknown_blocks_warnings() {
    let (boundary, blocks) = two_halves();
    let staff = |id: &str| StaffId::parse(id).expect("valid");
    let mut teams = HashMap::new();
    teams.insert(
        blocks[0].code,
        TeamFacts {
            governors: vec![staff("g1")],
            assistants: vec![staff("a1")],
            supervisors: vec![staff("s1")],
        },
    );
    teams.insert(
        blocks[1].code,
        TeamFacts {
            governors: vec![staff("g2"), staff("g3")],
            assistants: vec![],
            supervisors: vec![staff("g2")],
        },
    );
    teams.insert(
        BlockCode::parse("430302001001099").expect("valid"),
        TeamFacts::default(),
    );
    let report = validate_generation(&[boundary], &blocks, &teams, &ValidationSettings::default());
    assert_eq!(
        kinds(&report),
        vec![
            "team_governor_count",
            "team_supervisor_is_governor",
            "team_for_unknown_block"
        ]
    );
    assert_eq!(report.error_count(), 2);
    assert_eq!(report.warning_count(), 1);
    assert_eq!(
        report.general_findings[0].to_string(),
        "team facts given for block 430302001001099, which is not in this generation"
    );
}

#[test]
fn a_duplicate_code_is_an_error_and_only_the_first_draft_is_checked() {
    let (boundary, mut blocks) = two_halves();
    blocks.push(block(
        "430302001001001",
        350,
        rectangle(0.0, 0.0, 0.01, 0.01),
    ));
    let report = validate(&[boundary], &blocks);
    assert_eq!(
        kinds(&report),
        vec!["duplicate_block_code"],
        "the copy is not also reported as an overlap"
    );
}

/// A 2,000-block tiling with one shared vertex of one block moved by a quarter of
/// its distance to the block's centroid, outward or inward.
fn tiling_with_one_vertex_moved(factor: f64) -> (SubdistrictBoundary, Vec<BlockDraft>, BlockCode) {
    use crate::domain::synthetic::{Bounds, single_subdistrict_generation, tiling};
    use geo::Centroid;
    let made = tiling(21, 2_000, Bounds::around_xiangtan(2_000)).expect("tiling");
    let (boundary, mut drafts) = single_subdistrict_generation(&made).expect("one subdistrict");
    let moved = &mut drafts[1_000];
    let centroid = moved.geometry.centroid().expect("non-empty");
    moved.geometry.0[0].exterior_mut(|ring| {
        let vertex = &mut ring.0[2];
        vertex.x += (vertex.x - centroid.x()) * factor;
        vertex.y += (vertex.y - centroid.y()) * factor;
    });
    let code = moved.code;
    (boundary, drafts, code)
}

#[test]
fn one_vertex_pushed_out_in_a_large_tiling_is_found_as_overlaps_with_that_block() {
    let (boundary, drafts, moved) = tiling_with_one_vertex_moved(0.25);
    let report = validate(&[boundary], &drafts);
    let found = kinds(&report);
    assert!(
        !found.is_empty() && found.iter().all(|kind| *kind == "overlap"),
        "{found:?}"
    );
    assert!(
        report
            .findings()
            .all(|finding| finding.blocks().contains(&moved))
    );
    assert!(
        report
            .findings()
            .all(|finding| finding.area_m2().is_some_and(|area| area > 100.0))
    );
}

#[test]
fn one_vertex_pulled_in_in_a_large_tiling_is_found_as_one_gap() {
    let (boundary, drafts, _) = tiling_with_one_vertex_moved(-0.25);
    let report = validate(&[boundary], &drafts);
    assert_eq!(kinds(&report), vec!["gap"]);
}

#[test]
fn validation_agrees_with_brute_force_on_a_messy_random_layout() {
    // Random axis-aligned blocks over one subdistrict: the reported overlap area
    // between each pair must match an exact rectangle computation.
    let boundary = subdistrict("430302001", rectangle(0.0, 0.0, 0.05, 0.05));
    let mut state: u64 = 42;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rects = Vec::new();
    let mut blocks = Vec::new();
    for number in 1..=40 {
        let (x, y) = (next() * 0.04, next() * 0.04);
        let (w, h) = (0.002 + next() * 0.01, 0.002 + next() * 0.01);
        rects.push((x, y, (x + w).min(0.05), (y + h).min(0.05)));
        let (x0, y0, x1, y1) = rects[rects.len() - 1];
        blocks.push(block(
            &format!("430302001001{number:03}"),
            350,
            rectangle(x0, y0, x1, y1),
        ));
    }
    let report = validate(&[boundary], &blocks);
    let mut expected_pairs = Vec::new();
    for first in 0..rects.len() {
        for second in first + 1..rects.len() {
            let (a, b) = (rects[first], rects[second]);
            let (x0, y0, x1, y1) = (a.0.max(b.0), a.1.max(b.1), a.2.min(b.2), a.3.min(b.3));
            if x1 > x0 && y1 > y0 {
                let area = area_m2(&rectangle(x0, y0, x1, y1));
                if area > 1.0 {
                    expected_pairs.push((blocks[first].code, blocks[second].code, area));
                }
            }
        }
    }
    let mut found: Vec<(BlockCode, BlockCode, f64)> = report
        .findings()
        .filter_map(|finding| match finding {
            Finding::Overlap {
                first,
                second,
                area_m2,
                ..
            } => Some((*first, *second, *area_m2)),
            _ => None,
        })
        .collect();
    found.sort_by_key(|(first, second, _)| (*first, *second));
    assert!(!expected_pairs.is_empty());
    assert_eq!(found.len(), expected_pairs.len());
    for ((found_first, found_second, found_area), (first, second, area)) in
        found.iter().zip(&expected_pairs)
    {
        assert_eq!((found_first, found_second), (first, second));
        assert_close(*found_area, *area, 1e-5);
    }
}
