use super::*;
use serde_json::json;

fn square(x: f64, y: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]]})
}

fn block_feature(code: &str, households: Value, x: f64) -> Value {
    json!({"type": "Feature", "properties": {"code": code, "name": format!("区块{code}"), "households": households}, "geometry": square(x, 27.85)})
}

fn collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

fn problems(result: Result<Vec<BlockDraft>, ImportErrors>) -> Vec<ImportProblem> {
    result.expect_err("should be rejected").problems
}

#[test]
fn a_sound_collection_becomes_drafts_in_document_order() {
    let document = collection(vec![
        block_feature("430302001001002", json!(352), 112.90),
        block_feature("430302001001001", json!(0), 112.91),
    ]);
    let drafts = parse_block_collection(&document).expect("sound");
    assert_eq!(drafts.len(), 2);
    assert_eq!(drafts[0].code.to_string(), "430302001001002");
    assert_eq!(drafts[0].households, 352);
    assert_eq!(
        drafts[1].households, 0,
        "zero households is allowed (a park block)"
    );
    assert_eq!(drafts[0].name.as_str(), "区块430302001001002");
    assert_eq!(drafts[0].community_name, None);
}

#[test]
fn optional_community_name_and_unknown_properties() {
    let mut feature = block_feature("430302001001001", json!(300), 112.90);
    feature["properties"]["community_name"] = json!("和平社区");
    feature["properties"]["fid"] = json!(17);
    let drafts = parse_block_collection(&collection(vec![feature])).expect("sound");
    assert_eq!(
        drafts[0].community_name.as_ref().map(PlaceName::as_str),
        Some("和平社区")
    );
    let mut with_null = block_feature("430302001001001", json!(300), 112.90);
    with_null["properties"]["community_name"] = Value::Null;
    assert_eq!(
        parse_block_collection(&collection(vec![with_null])).expect("sound")[0].community_name,
        None
    );
}

#[test]
fn invalid_json_text_is_one_problem_with_the_parser_position() {
    let found = problems(parse_block_collection_str(
        "{\"type\": \"FeatureCollection\", ",
    ));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reason, "invalid_json");
    assert!(found[0].message.contains("line 1"), "{}", found[0].message);
}

#[test]
fn the_wrong_top_level_shape_is_one_problem_naming_the_member() {
    let cases = [
        (
            json!([1, 2]),
            "",
            "expected a GeoJSON FeatureCollection object, found an array",
        ),
        (
            json!({"features": []}),
            "type",
            "missing; expected \"FeatureCollection\"",
        ),
        (
            json!({"type": "Feature", "features": []}),
            "type",
            "expected \"FeatureCollection\", found \"Feature\"",
        ),
        (
            json!({"type": 3, "features": []}),
            "type",
            "expected the string \"FeatureCollection\", found a number",
        ),
        (
            json!({"type": "FeatureCollection"}),
            "features",
            "missing; expected an array of features",
        ),
        (
            json!({"type": "FeatureCollection", "features": {}}),
            "features",
            "expected an array of features, found an object",
        ),
    ];
    for (document, field, message) in cases {
        let found = problems(parse_block_collection(&document));
        assert_eq!(found.len(), 1, "{document}");
        assert_eq!(
            (
                found[0].field.as_str(),
                found[0].message.as_str(),
                found[0].reason
            ),
            (field, message, "wrong_shape")
        );
        assert_eq!(found[0].feature_index, None);
    }
}

#[test]
fn an_empty_collection_is_sound_and_empty() {
    assert_eq!(
        parse_block_collection(&collection(vec![])).expect("sound"),
        vec![]
    );
}

#[test]
fn every_problem_of_every_feature_is_collected_with_index_code_and_field() {
    let document = collection(vec![
        block_feature("430302001001001", json!(350), 112.90),
        json!({"type": "Feature", "properties": {"code": "43030200100100x", "households": -5}, "geometry": square(112.91, 27.85)}),
        json!("not a feature"),
        json!({"type": "Feature", "properties": {"code": "430302001001003", "name": "ok", "households": 12.5},
               "geometry": {"type": "Polygon", "coordinates": [[[112.9, 27.8], [113.0, 27.8], [112.9, 27.8]]]}}),
    ]);
    let found: Vec<(Option<usize>, Option<String>, String, &str)> =
        problems(parse_block_collection(&document))
            .into_iter()
            .map(|problem| {
                (
                    problem.feature_index,
                    problem.code,
                    problem.field,
                    problem.reason,
                )
            })
            .collect();
    let code_1 = Some("43030200100100x".to_owned());
    let code_3 = Some("430302001001003".to_owned());
    assert_eq!(
        found,
        vec![
            (
                Some(1),
                code_1.clone(),
                "features[1].properties.code".into(),
                "malformed_field"
            ),
            (
                Some(1),
                code_1.clone(),
                "features[1].properties.name".into(),
                "missing_field"
            ),
            (
                Some(1),
                code_1,
                "features[1].properties.households".into(),
                "malformed_field"
            ),
            (Some(2), None, "features[2]".into(), "wrong_shape"),
            (
                Some(3),
                code_3.clone(),
                "features[3].properties.households".into(),
                "malformed_field"
            ),
            (
                Some(3),
                code_3,
                "features[3].geometry.coordinates[0]".into(),
                "too_few_positions"
            ),
        ]
    );
}

#[test]
fn households_must_be_a_json_integer_within_range() {
    for (households, accepted) in [
        (json!(0), true),
        (json!(4_294_967_295_u64), true),
        (json!(4_294_967_296_u64), false),
        (json!(-1), false),
        (json!(350.0), false),
        (json!("350"), false),
        (json!(true), false),
    ] {
        let result = parse_block_collection(&collection(vec![block_feature(
            "430302001001001",
            households.clone(),
            112.9,
        )]));
        assert_eq!(result.is_ok(), accepted, "households {households}");
    }
    let found = problems(parse_block_collection(&collection(vec![block_feature(
        "430302001001001",
        json!(-5),
        112.9,
    )])));
    assert_eq!(
        found[0].message,
        "expected a non-negative integer up to 4294967295, found -5"
    );
    let missing = json!({"type": "Feature", "properties": {"code": "430302001001001", "name": "x"}, "geometry": square(112.9, 27.8)});
    let found = problems(parse_block_collection(&collection(vec![missing])));
    assert_eq!(
        (found[0].field.as_str(), found[0].reason),
        ("features[0].properties.households", "missing_field")
    );
}

#[test]
fn a_code_must_be_a_string_of_fifteen_digits() {
    let numeric = json!({"type": "Feature", "properties": {"code": 430_302_001_001_001_u64, "name": "x", "households": 1}, "geometry": square(112.9, 27.8)});
    let found = problems(parse_block_collection(&collection(vec![numeric])));
    assert_eq!(
        found[0].message,
        "expected a string of 15 digits, found a number"
    );
    assert_eq!(
        found[0].code, None,
        "a numeric code is not echoed as the feature's code"
    );
    let short = block_feature("43030200100100", json!(1), 112.9);
    let found = problems(parse_block_collection(&collection(vec![short])));
    assert_eq!(
        found[0].message,
        "block code \"43030200100100\" must have exactly 15 digits, has 14 characters"
    );
    let missing = json!({"type": "Feature", "properties": {"name": "x", "households": 1}, "geometry": square(112.9, 27.8)});
    let found = problems(parse_block_collection(&collection(vec![missing])));
    assert_eq!(
        (found[0].reason, found[0].message.as_str()),
        ("missing_field", "missing; expected a string of 15 digits")
    );
}

#[test]
fn a_feature_without_properties_or_geometry_or_type_is_named() {
    let document = collection(vec![
        json!({"type": "Feature", "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": [], "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": {"code": "430302001001003", "name": "x", "households": 1}, "geometry": null}),
        json!({"properties": {"code": "430302001001004", "name": "x", "households": 1}, "geometry": square(112.9, 27.8)}),
        json!({"type": "Point", "properties": {"code": "430302001001005", "name": "x", "households": 1}, "geometry": square(112.9, 27.8)}),
    ]);
    let found: Vec<(String, &str)> = problems(parse_block_collection(&document))
        .into_iter()
        .map(|problem| (problem.field, problem.reason))
        .collect();
    assert_eq!(
        found,
        vec![
            ("features[0].properties".into(), "missing_field"),
            ("features[1].properties".into(), "wrong_shape"),
            ("features[2].geometry".into(), "missing_field"),
            ("features[3].type".into(), "missing_field"),
            ("features[4].type".into(), "wrong_shape"),
        ]
    );
}

#[test]
fn a_blank_or_non_string_name_is_malformed() {
    let mut blank = block_feature("430302001001001", json!(1), 112.9);
    blank["properties"]["name"] = json!("   ");
    let mut numeric = block_feature("430302001001002", json!(1), 112.91);
    numeric["properties"]["name"] = json!(17);
    let mut bad_community = block_feature("430302001001003", json!(1), 112.92);
    bad_community["properties"]["community_name"] = json!("");
    let found: Vec<(String, String)> = problems(parse_block_collection(&collection(vec![
        blank,
        numeric,
        bad_community,
    ])))
    .into_iter()
    .map(|problem| (problem.field, problem.message))
    .collect();
    assert_eq!(
        found,
        vec![
            (
                "features[0].properties.name".into(),
                "name must not be empty".into()
            ),
            (
                "features[1].properties.name".into(),
                "expected a string, found a number".into()
            ),
            (
                "features[2].properties.community_name".into(),
                "name must not be empty".into()
            ),
        ]
    );
}

#[test]
fn duplicate_codes_are_reported_at_each_repeat_naming_the_first_use() {
    let document = collection(vec![
        block_feature("430302001001001", json!(1), 112.90),
        block_feature("430302001001002", json!(1), 112.91),
        block_feature("430302001001001", json!(1), 112.92),
        block_feature("430302001001001", json!(1), 112.93),
    ]);
    let found = problems(parse_block_collection(&document));
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].feature_index, Some(2));
    assert_eq!(found[0].reason, "duplicate_code");
    assert_eq!(
        found[0].message,
        "code 430302001001001 is also used by features[0]"
    );
    assert_eq!(found[1].field, "features[3].properties.code");
}

#[test]
fn geometry_problems_carry_the_block_code() {
    let mut feature = block_feature("430302001001001", json!(1), 112.9);
    feature["geometry"] = json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]});
    let found = problems(parse_block_collection(&collection(vec![feature])));
    assert_eq!(found[0].field, "features[0].geometry.type");
    assert_eq!(found[0].reason, "wrong_geometry_type");
    assert_eq!(
        found[0].message,
        "block 430302001001001: geometry type must be \"Polygon\" or \"MultiPolygon\", found \"LineString\""
    );
    assert_eq!(
        found[0].to_string(),
        "features[0].geometry.type (code \"430302001001001\"): block 430302001001001: geometry type must be \"Polygon\" or \"MultiPolygon\", found \"LineString\""
    );
}

#[test]
fn the_error_summary_counts_and_truncates() {
    let features = (1..=7)
        .map(|number| {
            block_feature(
                &format!("430302001001{number:03}"),
                json!(-1),
                112.9 + f64::from(number) * 0.01,
            )
        })
        .collect();
    let error = parse_block_collection(&collection(features)).expect_err("bad households");
    let text = error.to_string();
    assert!(
        text.starts_with("import rejected with 7 problem(s): features[0].properties.households"),
        "{text}"
    );
    assert!(text.ends_with("; and 2 more"), "{text}");
}

#[test]
fn blocks_round_trip_through_geojson_output() {
    let mut feature = block_feature("430302001001001", json!(352), 112.9);
    feature["properties"]["community_name"] = json!("和平社区");
    let document = collection(vec![
        feature,
        block_feature("430302001001002", json!(340), 112.91),
    ]);
    let drafts = parse_block_collection(&document).expect("sound");
    let output = serde_json::to_value(blocks_to_geojson(&drafts)).expect("serializes");
    assert_eq!(parse_block_collection(&output).expect("reparses"), drafts);
}

#[test]
fn subdistrict_boundaries_parse_with_their_own_code_rule() {
    let document = collection(vec![
        json!({"type": "Feature", "properties": {"code": "430302001", "name": "雨湖路街道", "name_en": "Yuhulu Subdistrict"}, "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": {"code": "430302002", "name": "城正街街道"}, "geometry": square(112.95, 27.8)}),
    ]);
    let boundaries = parse_subdistrict_collection(&document).expect("sound");
    assert_eq!(boundaries[0].code.to_string(), "430302001");
    assert_eq!(
        boundaries[0].name_en.as_ref().map(PlaceName::as_str),
        Some("Yuhulu Subdistrict")
    );
    assert_eq!(boundaries[1].name_en, None);
    let output = serde_json::to_value(subdistricts_to_geojson(&boundaries)).expect("serializes");
    assert_eq!(
        parse_subdistrict_collection(&output).expect("reparses"),
        boundaries
    );
}

#[test]
fn subdistrict_problems_are_collected_too() {
    let document = collection(vec![
        json!({"type": "Feature", "properties": {"code": "430302001001", "name": "x"}, "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": {"code": "430302002"}, "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": {"code": "430302002", "name": "y"}, "geometry": square(112.9, 27.8)}),
        json!({"type": "Feature", "properties": {"code": "430302002", "name": "z"}, "geometry": square(112.9, 27.8)}),
    ]);
    let found: Vec<(String, &str)> = parse_subdistrict_collection(&document)
        .expect_err("bad")
        .problems
        .into_iter()
        .map(|problem| (problem.field, problem.reason))
        .collect();
    assert_eq!(
        found,
        vec![
            ("features[0].properties.code".into(), "malformed_field"),
            ("features[1].properties.name".into(), "missing_field"),
            ("features[3].properties.code".into(), "duplicate_code"),
        ]
    );
    assert!(parse_subdistrict_collection_str("[]").is_err());
}

fn with_crs(name: &str) -> Value {
    let mut document = collection(vec![
        json!({"type": "Feature", "properties": {"code": "430302002", "name": "y"}, "geometry": square(112.9, 27.8)}),
    ]);
    document["crs"] = json!({"type": "name", "properties": {"name": name}});
    document
}

#[test]
fn wgs84_and_cgcs2000_files_are_accepted_whichever_way_they_name_their_crs() {
    for name in [
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:EPSG::4326",
        "EPSG:4326",
        "EPSG:4490",
        "urn:ogc:def:crs:EPSG::4490",
        "http://www.opengis.net/def/crs/EPSG/0/4490",
    ] {
        assert!(
            parse_subdistrict_collection(&with_crs(name)).is_ok(),
            "{name} should be accepted"
        );
    }
}

#[test]
fn a_file_in_another_crs_is_refused_with_the_crs_it_declares() {
    for name in [
        "urn:ogc:def:crs:EPSG::4549",
        "EPSG:3857",
        "urn:ogc:def:crs:EPSG::4610",
    ] {
        let problems = parse_block_collection(&with_crs(name))
            .expect_err("refused")
            .problems;
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "unsupported_crs");
        assert_eq!(problems[0].field, "crs");
        assert!(
            problems[0].message.contains(name),
            "{}",
            problems[0].message
        );
    }
}
