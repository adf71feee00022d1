//! Bad input gets INVALID_ARGUMENT (or ALREADY_EXISTS / FAILED_PRECONDITION)
//! naming the feature and field, and changes nothing.

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{field_violations, with_token};
use serde_json::json;

use crate::common::*;

/// Generations, blocks and events written so far: a refused call must leave all three alone.
async fn footprint(registry: &Registry) -> (i64, i64, i64, u64) {
    let pool = registry.application.pool();
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .expect("count")
    };
    let bus = registry.test.bus().await;
    (
        count("select count(*) from generations").await,
        count("select count(*) from generation_blocks").await,
        count("select count(*) from communities").await,
        flatgov_testkit::events::events_committed(pool, &bus, "blocks", PATIENCE).await,
    )
}

async fn refused_import(registry: &mut Registry, geojson: String) -> tonic::Status {
    registry
        .import(api::ImportBlocksRequest {
            geojson,
            ..Default::default()
        })
        .await
        .expect_err("the import must be refused")
}

fn assert_names(status: &tonic::Status, field: &str, words: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let violations = field_violations(status);
    assert!(
        violations
            .iter()
            .any(|violation| violation.field == field && violation.description.contains(words)),
        "expected {field:?} with {words:?} in {violations:#?}"
    );
}

#[tokio::test]
async fn every_kind_of_bad_block_file_is_refused_naming_feature_and_field_and_changes_nothing() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let before = footprint(&registry).await;
    let good = |code: &str| block(code, 350, rectangle(112.90, 27.800, 112.91, 27.805));
    let with_geometry = |geometry: serde_json::Value| {
        collection(vec![good(A), block(B, 350, geometry)]).to_string()
    };

    let unclosed = json!({"type": "Polygon", "coordinates": [[[112.91, 27.80], [112.92, 27.80], [112.92, 27.805], [112.91, 27.805], [112.9101, 27.80]]]});
    let status = refused_import(&mut registry, with_geometry(unclosed)).await;
    assert_names(&status, "features[1].geometry.coordinates[0]", "not closed");
    assert!(
        status.message().contains(B),
        "the feature's code is named: {}",
        status.message()
    );

    let bow_tie = json!({"type": "Polygon", "coordinates": [[[112.91, 27.80], [112.92, 27.805], [112.92, 27.80], [112.91, 27.805], [112.91, 27.80]]]});
    let status = refused_import(&mut registry, with_geometry(bow_tie)).await;
    assert_names(
        &status,
        "features[1].geometry.coordinates[0]",
        "intersects itself",
    );

    let three_points = json!({"type": "Polygon", "coordinates": [[[112.91, 27.80], [112.92, 27.80], [112.91, 27.80]]]});
    let status = refused_import(&mut registry, with_geometry(three_points)).await;
    assert_names(
        &status,
        "features[1].geometry.coordinates[0]",
        "at least 4 positions",
    );

    let out_of_range = rectangle(112.91, 95.0, 112.92, 96.0);
    let status = refused_import(&mut registry, with_geometry(out_of_range)).await;
    assert_names(
        &status,
        "features[1].geometry.coordinates[0][0]",
        "latitude 95",
    );

    let nan = collection(vec![good(A)])
        .to_string()
        .replace("112.91", "NaN");
    let status = refused_import(&mut registry, nan).await;
    assert_names(&status, "geojson", "not valid JSON");

    let hole_outside = json!({"type": "Polygon", "coordinates": [
        [[112.91, 27.80], [112.92, 27.80], [112.92, 27.805], [112.91, 27.805], [112.91, 27.80]],
        [[112.95, 27.85], [112.95, 27.86], [112.96, 27.86], [112.95, 27.85]]]});
    let status = refused_import(&mut registry, with_geometry(hole_outside)).await;
    assert_names(&status, "features[1].geometry.coordinates[1]", "not inside");

    let not_a_collection = json!({"type": "Feature", "features": []}).to_string();
    let status = refused_import(&mut registry, not_a_collection).await;
    assert_names(&status, "type", "FeatureCollection");

    let empty = collection(vec![]).to_string();
    let status = refused_import(&mut registry, empty).await;
    assert_names(&status, "features", "at least one block");

    let duplicate = collection(vec![
        good(A),
        block(A, 350, rectangle(112.91, 27.80, 112.92, 27.805)),
    ])
    .to_string();
    let status = refused_import(&mut registry, duplicate).await;
    assert_names(
        &status,
        "features[1].properties.code",
        "also used by features[0]",
    );

    let unknown_parent = collection(vec![
        good(A),
        block(
            "430302009001001",
            350,
            rectangle(112.95, 27.80, 112.96, 27.81),
        ),
    ])
    .to_string();
    let status = refused_import(&mut registry, unknown_parent).await;
    assert_names(
        &status,
        "features[1].properties.code",
        "subdistrict 430302009 does not exist",
    );

    let unknown_community = collection(vec![
        good(A),
        block(
            "430302001007001",
            350,
            rectangle(112.91, 27.80, 112.92, 27.805),
        ),
    ])
    .to_string();
    let status = refused_import(&mut registry, unknown_community).await;
    assert_names(
        &status,
        "features[1].properties.code",
        "community 430302001007 does not exist",
    );

    let mut second_governor = good(A);
    second_governor["properties"]["team"]["governor"] =
        json!([format!("governor-{A}"), format!("governor-{B}")]);
    let status = refused_import(&mut registry, collection(vec![second_governor]).to_string()).await;
    assert_names(
        &status,
        "features[0].properties.team.governor",
        "exactly one governor, 2 were given",
    );

    let mut stranger = good(A);
    stranger["properties"]["team"]["supervisor"] = json!("nobody-at-all");
    let status = refused_import(&mut registry, collection(vec![stranger]).to_string()).await;
    assert_names(
        &status,
        "features[0].properties.team.supervisor",
        "not on the roster",
    );

    let mut households = good(A);
    households["properties"]["households"] = json!("350");
    let mut missing_name = block(B, 350, rectangle(112.91, 27.80, 112.92, 27.805));
    missing_name["properties"]["name"] = serde_json::Value::Null;
    let status = refused_import(
        &mut registry,
        collection(vec![households, missing_name]).to_string(),
    )
    .await;
    assert_names(
        &status,
        "features[0].properties.households",
        "non-negative integer",
    );
    assert_names(&status, "features[1].properties.name", "missing");

    assert_eq!(
        footprint(&registry).await,
        before,
        "no refused import left anything behind"
    );
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_points_names_tokens_and_hierarchy_requests_are_refused_with_their_field() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let admin = registry.admin.clone();

    let status = registry
        .locate(&admin, 27.80, 112.90, None)
        .await
        .expect_err("swapped");
    assert_names(&status, "point.latitude", "swapped");
    let status = registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points: vec![
                    GeoPoint {
                        longitude: 112.9,
                        latitude: 27.8,
                        ..Default::default()
                    },
                    GeoPoint {
                        longitude: f64::NAN,
                        latitude: 27.8,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect_err("NaN");
    assert_names(&status, "points[1].longitude", "finite");
    let too_many = api::LocatePointsRequest {
        points: vec![
            GeoPoint {
                longitude: 112.9,
                latitude: 27.8,
                ..Default::default()
            };
            10_001
        ],
        ..Default::default()
    };
    let status = registry
        .client
        .locate_points(with_token(too_many, &admin))
        .await
        .expect_err("too many");
    assert_names(&status, "points", "at most 10000");

    let status = registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: "blocks/43030200100100".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect_err("short code");
    assert_names(&status, "name", "15 digits");
    let status = registry
        .client
        .list_blocks(with_token(
            api::ListBlocksRequest {
                page_token: "forged".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect_err("forged token");
    assert_names(&status, "page_token", "not a token");

    let status = registry
        .client
        .create_subdistrict(with_token(
            api::CreateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430399001".into(),
                    display_name: "别区街道".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect_err("unknown district");
    assert_eq!(
        status.code(),
        tonic::Code::PermissionDenied,
        "outside the admin's district"
    );
    let status = registry
        .client
        .create_subdistrict(with_token(
            api::CreateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430302001".into(),
                    display_name: "雨湖路街道".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect_err("exists");
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
    let status = registry
        .client
        .update_subdistrict(with_token(
            api::UpdateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430302001".into(),
                    boundary_geojson: json!({"type": "Polygon", "coordinates": [[[112.90, 27.80], [112.92, 27.80], [112.92, 27.81], [112.90, 27.80], [112.90, 27.81], [112.90, 27.80]]]}).to_string(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["boundary_geojson".into()],
                }),
                allow_missing: false,
            },
            &admin,
        ))
        .await
        .expect_err("self-intersecting boundary");
    assert_names(
        &status,
        "subdistrict.boundary_geojson.coordinates[0]",
        "intersects itself",
    );
    let status = registry
        .client
        .delete_community(with_token(
            api::DeleteCommunityRequest {
                name: "communities/430302001001".into(),
            },
            &admin,
        ))
        .await
        .expect_err("in use");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    let status = registry
        .client
        .import_staff(with_token(
            api::ImportStaffRequest {
                staff: vec![
                    api::Staff {
                        id: "new-1".into(),
                        display_name: "李明".into(),
                        ..Default::default()
                    },
                    api::Staff {
                        id: "new-2".into(),
                        display_name: "王芳".into(),
                        phone: "call me".into(),
                        ..Default::default()
                    },
                    api::Staff {
                        id: "new-1".into(),
                        display_name: "李明".into(),
                        ..Default::default()
                    },
                ],
            },
            &admin,
        ))
        .await
        .expect_err("bad phone and duplicate id");
    assert_names(&status, "staff[1].phone", "phone number");
    assert_names(&status, "staff[2].id", "also staff[0]");
    let created = registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest {
                name: "staff/new-1".into(),
            },
            &admin,
        ))
        .await
        .expect_err("nothing was created");
    assert_eq!(created.code(), tonic::Code::NotFound);
    registry.application.shutdown().await.expect("shutdown");
}
