use serde_json::{Value, json};

use super::*;
use flatgov_vocabulary::BlockCode;

fn square(x: f64, y: f64, size: f64) -> Value {
    json!([
        [x, y],
        [x + size, y],
        [x + size, y + size],
        [x, y + size],
        [x, y]
    ])
}

fn kinds(result: Result<MultiPolygon<f64>, GeometryErrors>) -> Vec<(String, GeometryErrorKind)> {
    result
        .expect_err("should be rejected")
        .0
        .into_iter()
        .map(|error| (error.path, error.kind))
        .collect()
}

fn single_kind(result: Result<MultiPolygon<f64>, GeometryErrors>) -> (String, GeometryErrorKind) {
    let mut found = kinds(result);
    assert_eq!(found.len(), 1, "expected exactly one error, got {found:?}");
    found.remove(0)
}

#[test]
fn a_valid_polygon_becomes_a_one_part_multipolygon() {
    let geometry = json!({"type": "Polygon", "coordinates": [square(112.9, 27.8, 0.01)]});
    let parsed = parse_geometry(&geometry, "geometry").expect("valid");
    assert_eq!(parsed.0.len(), 1);
    assert_eq!(parsed.0[0].exterior().0.len(), 5);
}

#[test]
fn a_valid_multipolygon_keeps_every_part() {
    let geometry = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(2.0, 0.0, 1.0)]]});
    assert_eq!(parse_geometry(&geometry, "").expect("valid").0.len(), 2);
}

#[test]
fn an_altitude_is_accepted_and_dropped() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0, 5.0], [1.0, 0.0, 5.0], [1.0, 1.0, 5.0], [0.0, 0.0, 5.0]]]});
    assert!(parse_geometry(&geometry, "").is_ok());
}

#[test]
fn clockwise_shells_are_reoriented_counter_clockwise_and_holes_clockwise() {
    let clockwise_shell = json!([[0.0, 0.0], [0.0, 4.0], [4.0, 4.0], [4.0, 0.0], [0.0, 0.0]]);
    let counter_clockwise_hole =
        json!([[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]]);
    let geometry =
        json!({"type": "Polygon", "coordinates": [clockwise_shell, counter_clockwise_hole]});
    let parsed = parse_geometry(&geometry, "").expect("valid");
    use geo::Winding;
    assert!(parsed.0[0].exterior().is_ccw());
    assert!(parsed.0[0].interiors()[0].is_cw());
}

#[test]
fn a_point_is_the_wrong_geometry_type() {
    let geometry = json!({"type": "Point", "coordinates": [112.9, 27.8]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "features[3].geometry")),
        (
            "features[3].geometry.type".to_owned(),
            GeometryErrorKind::WrongType {
                found: "Point".into()
            }
        )
    );
}

#[test]
fn a_geometry_that_is_not_an_object_is_malformed() {
    assert_eq!(
        single_kind(parse_geometry(&json!([1, 2]), "features[0].geometry")),
        (
            "features[0].geometry".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a geometry object",
                found: "an array"
            }
        )
    );
    assert!(matches!(
        single_kind(parse_geometry(&Value::Null, "g")).1,
        GeometryErrorKind::Malformed { found: "null", .. }
    ));
}

#[test]
fn missing_type_or_coordinates_are_named() {
    assert_eq!(
        single_kind(parse_geometry(&json!({"coordinates": []}), "g")),
        (
            "g.type".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a \"type\" member",
                found: "nothing"
            }
        )
    );
    assert_eq!(
        single_kind(parse_geometry(&json!({"type": "Polygon"}), "g")),
        (
            "g.coordinates".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a \"coordinates\" member",
                found: "nothing"
            }
        )
    );
    assert_eq!(
        single_kind(parse_geometry(&json!({"type": 7, "coordinates": []}), "g")),
        (
            "g.type".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a string",
                found: "a number"
            }
        )
    );
}

#[test]
fn wrong_nesting_is_reported_at_the_exact_member() {
    let geometry =
        json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], "oops", [1.0, 1.0], [0.0, 0.0]]]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")),
        (
            "g.coordinates[0][1]".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a position (an array of numbers)",
                found: "a string"
            }
        )
    );
    let not_rings = json!({"type": "Polygon", "coordinates": {"a": 1}});
    assert_eq!(
        single_kind(parse_geometry(&not_rings, "g")),
        (
            "g.coordinates".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "an array of rings",
                found: "an object"
            }
        )
    );
    let not_polygons = json!({"type": "MultiPolygon", "coordinates": 5});
    assert_eq!(
        single_kind(parse_geometry(&not_polygons, "g")).0,
        "g.coordinates"
    );
}

#[test]
fn a_non_number_coordinate_is_reported_at_its_index() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, null], [1.0, 1.0], [0.0, 0.0]]]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")),
        (
            "g.coordinates[0][1][1]".to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a number",
                found: "null"
            }
        )
    );
}

#[test]
fn positions_with_one_or_four_numbers_are_rejected() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[0.0], [1.0, 0.0], [1.0, 1.0, 0.0, 9.0], [0.0, 0.0]]]});
    assert_eq!(
        kinds(parse_geometry(&geometry, "")),
        vec![
            (
                "coordinates[0][0]".to_owned(),
                GeometryErrorKind::PositionLength { count: 1 }
            ),
            (
                "coordinates[0][2]".to_owned(),
                GeometryErrorKind::PositionLength { count: 4 }
            ),
        ]
    );
}

#[test]
fn out_of_range_coordinates_are_all_reported_with_their_positions() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [181.0, 0.0], [1.0, -90.5], [0.0, 0.0]]]});
    assert_eq!(
        kinds(parse_geometry(&geometry, "features[3].geometry")),
        vec![
            (
                "features[3].geometry.coordinates[0][1]".to_owned(),
                GeometryErrorKind::LongitudeOutOfRange { value: 181.0 }
            ),
            (
                "features[3].geometry.coordinates[0][2]".to_owned(),
                GeometryErrorKind::LatitudeOutOfRange { value: -90.5 }
            ),
        ]
    );
}

#[test]
fn the_range_limits_themselves_are_accepted() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, -90.0]]]});
    assert!(parse_geometry(&geometry, "").is_ok());
}

#[test]
fn nan_and_infinity_are_rejected_from_rust_values() {
    let geometry = geojson::Geometry::new_polygon(vec![vec![
        [0.0, 0.0],
        [f64::NAN, 0.0],
        [1.0, f64::INFINITY],
        [0.0, 0.0],
    ]]);
    assert_eq!(
        kinds(parse_geojson_geometry(&geometry, "g")),
        vec![
            (
                "g.coordinates[0][1]".to_owned(),
                GeometryErrorKind::NotFinite {
                    axis: Axis::Longitude
                }
            ),
            (
                "g.coordinates[0][2]".to_owned(),
                GeometryErrorKind::NotFinite {
                    axis: Axis::Latitude
                }
            ),
        ]
    );
    let with_bad_altitude = geojson::Geometry::new_polygon(vec![vec![
        vec![0.0, 0.0, f64::NEG_INFINITY],
        vec![1.0, 0.0],
        vec![1.0, 1.0],
        vec![0.0, 0.0],
    ]]);
    assert_eq!(
        single_kind(parse_geojson_geometry(&with_bad_altitude, "g")).1,
        GeometryErrorKind::NotFinite {
            axis: Axis::Altitude
        }
    );
}

#[test]
fn a_geojson_point_is_the_wrong_type_too() {
    let geometry = geojson::Geometry::new_point([1.0, 2.0]);
    assert_eq!(
        single_kind(parse_geojson_geometry(&geometry, "g")),
        (
            "g.type".to_owned(),
            GeometryErrorKind::WrongType {
                found: "Point".into()
            }
        )
    );
}

#[test]
fn a_ring_with_three_positions_is_too_short() {
    let geometry =
        json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")),
        (
            "g.coordinates[0]".to_owned(),
            GeometryErrorKind::TooFewPositions { count: 3 }
        )
    );
}

#[test]
fn an_unclosed_ring_names_its_first_and_last_positions() {
    let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]});
    let (path, kind) = single_kind(parse_geometry(&geometry, "g"));
    assert_eq!(path, "g.coordinates[0]");
    assert_eq!(
        kind,
        GeometryErrorKind::Unclosed {
            first: [0.0, 0.0],
            last: [0.0, 1.0]
        }
    );
    assert!(kind.to_string().contains("not closed"));
}

#[test]
fn repeated_positions_are_dropped_but_three_distinct_positions_are_still_required() {
    let with_repeats = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]]});
    let parsed = parse_geometry(&with_repeats, "").expect("repeats are tolerated");
    assert_eq!(parsed.0[0].exterior().0.len(), 4);
    let degenerate = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
    assert_eq!(
        single_kind(parse_geometry(&degenerate, "")).1,
        GeometryErrorKind::TooFewDistinctPositions { count: 2 }
    );
}

#[test]
fn a_bow_tie_ring_is_self_intersecting_and_the_crossing_is_located() {
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]]});
    let (path, kind) = single_kind(parse_geometry(&bow_tie, "features[1].geometry"));
    assert_eq!(path, "features[1].geometry.coordinates[0]");
    assert_eq!(
        kind,
        GeometryErrorKind::SelfIntersection {
            first_segment: 0,
            second_segment: 2,
            at: [1.0, 1.0]
        }
    );
    assert_eq!(
        kind.to_string(),
        "ring intersects itself: segment 0-1 meets segment 2-3 at [1.0, 1.0]"
    );
}

#[test]
fn a_ring_touching_itself_at_a_vertex_is_self_intersecting() {
    // An "inverted hole": the ring comes back to (2, 0) before closing.
    let figure_eight = json!({"type": "Polygon", "coordinates": [[
        [0.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0], [4.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]
    ]]});
    assert!(matches!(
        single_kind(parse_geometry(&figure_eight, "")).1,
        GeometryErrorKind::SelfIntersection { .. }
    ));
}

#[test]
fn a_spike_doubling_back_on_itself_is_self_intersecting() {
    let spike = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 0.0], [3.0, 0.0], [2.5, 0.0], [2.0, 2.0], [0.0, 0.0]]]});
    assert!(matches!(
        single_kind(parse_geometry(&spike, "")).1,
        GeometryErrorKind::SelfIntersection {
            first_segment: 1,
            second_segment: 2,
            ..
        }
    ));
}

#[test]
fn self_intersection_indices_refer_to_positions_as_written_even_with_repeats() {
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]]});
    assert_eq!(
        single_kind(parse_geometry(&bow_tie, "")).1,
        GeometryErrorKind::SelfIntersection {
            first_segment: 1,
            second_segment: 3,
            at: [1.0, 1.0]
        }
    );
}

#[test]
fn a_long_ring_uses_the_tree_path_and_still_finds_a_crossing() {
    // A 200-vertex circle-like ring, valid; then swap two vertices far apart to make it cross.
    let steps = 200;
    let mut ring: Vec<Value> = (0..steps)
        .map(|step| {
            let angle = std::f64::consts::TAU * f64::from(step) / f64::from(steps);
            json!([angle.cos(), angle.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    let valid = json!({"type": "Polygon", "coordinates": [ring.clone()]});
    assert!(parse_geometry(&valid, "").is_ok());
    ring.swap(10, 100);
    let crossing = json!({"type": "Polygon", "coordinates": [ring]});
    assert!(matches!(
        single_kind(parse_geometry(&crossing, "")).1,
        GeometryErrorKind::SelfIntersection { .. }
    ));
}

#[test]
fn a_hole_inside_its_shell_is_accepted_and_subtracted_from_the_area() {
    let geometry = json!({"type": "Polygon", "coordinates": [square(112.90, 27.85, 0.01), square(112.902, 27.852, 0.005)]});
    let parsed = parse_geometry(&geometry, "").expect("valid");
    let shell_only = parse_geometry(
        &json!({"type": "Polygon", "coordinates": [square(112.90, 27.85, 0.01)]}),
        "",
    )
    .expect("valid");
    let hole_only = parse_geometry(
        &json!({"type": "Polygon", "coordinates": [square(112.902, 27.852, 0.005)]}),
        "",
    )
    .expect("valid");
    let expected = area_m2(&shell_only) - area_m2(&hole_only);
    assert!(
        (area_m2(&parsed) - expected).abs() < 0.01,
        "{} vs {expected}",
        area_m2(&parsed)
    );
}

#[test]
fn a_hole_outside_its_shell_is_rejected_at_the_hole() {
    let geometry =
        json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 1.0), square(5.0, 5.0, 1.0)]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")),
        (
            "g.coordinates[1]".to_owned(),
            GeometryErrorKind::HoleOutsideShell
        )
    );
    let crossing_hole =
        json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 1.0), square(0.5, 0.5, 1.0)]});
    assert_eq!(
        single_kind(parse_geometry(&crossing_hole, "g")).1,
        GeometryErrorKind::HoleOutsideShell
    );
}

#[test]
fn a_hole_in_a_multipolygon_part_is_located_by_polygon_and_ring() {
    let geometry = json!({"type": "MultiPolygon", "coordinates": [
        [square(0.0, 0.0, 1.0)],
        [square(3.0, 0.0, 1.0), square(9.0, 9.0, 0.1)]
    ]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")).0,
        "g.coordinates[1][1]"
    );
}

#[test]
fn a_hole_running_along_the_shell_is_rejected() {
    let geometry =
        json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 4.0), square(0.0, 1.0, 1.0)]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")).1,
        GeometryErrorKind::HoleTouchesShellAlongEdge
    );
}

#[test]
fn overlapping_holes_are_rejected() {
    let geometry = json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 10.0), square(1.0, 1.0, 2.0), square(2.0, 2.0, 2.0)]});
    assert_eq!(
        single_kind(parse_geometry(&geometry, "g")),
        (
            "g.coordinates[2]".to_owned(),
            GeometryErrorKind::HolesOverlap { other_ring: 1 }
        )
    );
}

#[test]
fn overlapping_or_edge_sharing_parts_of_a_multipolygon_are_rejected() {
    let overlapping = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 2.0)], [square(1.0, 1.0, 2.0)]]});
    assert_eq!(
        single_kind(parse_geometry(&overlapping, "g")),
        (
            "g.coordinates[1]".to_owned(),
            GeometryErrorKind::PolygonsOverlap { other_polygon: 0 }
        )
    );
    let sharing_an_edge = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(1.0, 0.0, 1.0)]]});
    assert!(parse_geometry(&sharing_an_edge, "g").is_err());
    let touching_at_a_corner = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(1.0, 1.0, 1.0)]]});
    assert!(
        parse_geometry(&touching_at_a_corner, "g").is_ok(),
        "touching at one point is allowed"
    );
}

#[test]
fn empty_polygons_and_multipolygons_are_rejected() {
    assert_eq!(
        single_kind(parse_geometry(
            &json!({"type": "Polygon", "coordinates": []}),
            "g"
        )),
        (
            "g.coordinates".to_owned(),
            GeometryErrorKind::Empty { what: "a polygon" }
        )
    );
    assert_eq!(
        single_kind(parse_geometry(
            &json!({"type": "MultiPolygon", "coordinates": []}),
            "g"
        ))
        .1,
        GeometryErrorKind::Empty {
            what: "a multipolygon"
        }
    );
    assert_eq!(
        single_kind(parse_geometry(
            &json!({"type": "MultiPolygon", "coordinates": [[]]}),
            "g"
        )),
        (
            "g.coordinates[0]".to_owned(),
            GeometryErrorKind::Empty { what: "a polygon" }
        )
    );
}

#[test]
fn problems_in_several_rings_are_all_reported() {
    let geometry = json!({"type": "MultiPolygon", "coordinates": [
        [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]],
        [[[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 6.0]]],
        [[[7.0, 7.0], [8.0, 95.0], [8.0, 8.0], [7.0, 7.0]]]
    ]});
    let found: Vec<String> = kinds(parse_geometry(&geometry, ""))
        .into_iter()
        .map(|(path, kind)| format!("{path} {}", kind.code()))
        .collect();
    assert_eq!(
        found,
        vec![
            "coordinates[0][0] too_few_positions",
            "coordinates[1][0] unclosed_ring",
            "coordinates[2][0][1] latitude_out_of_range"
        ]
    );
}

#[test]
fn errors_display_their_path_and_block_code() {
    let geometry =
        json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
    let code = BlockCode::parse("430302001002017").expect("valid");
    let errors = parse_geometry(&geometry, "features[3].geometry")
        .expect_err("too short")
        .with_block_code(code);
    assert_eq!(
        errors.to_string(),
        "features[3].geometry.coordinates[0] (block 430302001002017): a ring needs at least 4 positions (the first repeated as the last), has 3"
    );
}

#[test]
fn area_of_a_small_lon_lat_rectangle_matches_the_ellipsoid_formula() {
    // Near Xiangtan: 0.01° × 0.01° at 27.86° N. On the ellipsoid such a cell has area
    // M(φ)·N(φ)·cos φ·Δφ·Δλ (radii of curvature at the centre), accurate to ~1e-8 here.
    let (semi_major, flattening) = (6_378_137.0_f64, 1.0 / 298.257_223_563);
    let eccentricity_squared = flattening * (2.0 - flattening);
    let latitude = (27.865_f64).to_radians();
    let sin_squared = latitude.sin().powi(2);
    let meridional = semi_major * (1.0 - eccentricity_squared)
        / (1.0 - eccentricity_squared * sin_squared).powf(1.5);
    let prime_vertical = semi_major / (1.0 - eccentricity_squared * sin_squared).sqrt();
    let step = 0.01_f64.to_radians();
    let expected = meridional * prime_vertical * latitude.cos() * step * step;
    let cell = parse_geometry(
        &json!({"type": "Polygon", "coordinates": [square(112.90, 27.86, 0.01)]}),
        "",
    )
    .expect("valid");
    let measured = area_m2(&cell);
    // Edges along parallels are geodesics here, which bulge a few m² from the parallel.
    assert!(
        (measured - expected).abs() / expected < 1e-4,
        "measured {measured} expected {expected}"
    );
    assert!(
        measured > 1.0e6 && measured < 1.2e6,
        "about 1.09 km²: {measured}"
    );
}

#[test]
fn area_does_not_depend_on_ring_orientation() {
    let counter_clockwise: MultiPolygon<f64> = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (0.01, 0.0),
            (0.01, 0.01),
            (0.0, 0.01),
            (0.0, 0.0),
        ]),
        vec![],
    )]);
    let clockwise: MultiPolygon<f64> = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (0.0, 0.0),
            (0.0, 0.01),
            (0.01, 0.01),
            (0.01, 0.0),
            (0.0, 0.0),
        ]),
        vec![],
    )]);
    assert!((area_m2(&counter_clockwise) - area_m2(&clockwise)).abs() < 1e-6);
    assert!(area_m2(&clockwise) > 1.0e6);
}

#[test]
fn geojson_output_round_trips_exactly() {
    let geometry = json!({"type": "MultiPolygon", "coordinates": [
        [square(112.912_345_678_9, 27.851_234_567_8, 0.001), square(112.912_5, 27.851_5, 0.0001)],
        [square(112.95, 27.85, 0.001)]
    ]});
    let parsed = parse_geometry(&geometry, "").expect("valid");
    let output = serde_json::to_value(to_geojson(&parsed)).expect("serializes");
    assert_eq!(output["type"], "MultiPolygon");
    assert_eq!(parse_geometry(&output, "").expect("reparses"), parsed);
    let single = MultiPolygon(vec![parsed.0[1].clone()]);
    let single_output = serde_json::to_value(to_geojson(&single)).expect("serializes");
    assert_eq!(single_output["type"], "Polygon");
    assert_eq!(
        parse_geometry(&single_output, "").expect("reparses"),
        single
    );
}
