//! The demo district through the public API, as the CLI will load it: twice.

use flatgov_demo::{
    DEMO_ASSISTANTS, DEMO_GOVERNORS, DEMO_SEED, DEMO_SUPERVISORS, demo_data, load_demo,
};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::with_token;
use geo::InteriorPoint;

use crate::common::*;

#[tokio::test]
async fn the_demo_district_loads_through_the_api_and_a_second_load_changes_nothing() {
    let mut registry = Registry::start().await;
    let admin = registry.admin.clone();
    let first = load_demo(&mut registry.client, &admin, DEMO_SEED)
        .await
        .expect("first load");
    assert!(first.activated);
    assert_eq!(first.subdistricts.created, 8);
    assert_eq!(
        first.staff.created as usize,
        DEMO_GOVERNORS + DEMO_ASSISTANTS + DEMO_SUPERVISORS
    );
    assert_eq!(first.generation.block_count, 326);
    assert_eq!(first.generation.total_households, 326 * 350);

    let second = load_demo(&mut registry.client, &admin, DEMO_SEED)
        .await
        .expect("second load");
    assert!(!second.activated, "already in force");
    assert_eq!(second.generation.name, first.generation.name);
    assert_eq!(second.subdistricts.unchanged, 8);
    assert_eq!(second.staff.unchanged, first.staff.created);
    let generations = registry
        .client
        .list_generations(with_token(api::ListGenerationsRequest::default(), &admin))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(generations.generations.len(), 1);

    // A point inside every block finds that block, in one batch call.
    let data = demo_data(DEMO_SEED).expect("demo");
    let points: Vec<GeoPoint> = data
        .district
        .blocks
        .iter()
        .map(|block| {
            let inside = block.geometry.interior_point().expect("a point inside");
            GeoPoint {
                longitude: inside.x(),
                latitude: inside.y(),
                ..Default::default()
            }
        })
        .collect();
    let located = registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("batch")
        .into_inner();
    let codes: Vec<String> = located
        .locations
        .iter()
        .map(|location| {
            location
                .block
                .as_ref()
                .map(|block| block.code.clone())
                .unwrap_or_default()
        })
        .collect();
    let expected: Vec<String> = data.block_codes().iter().map(ToString::to_string).collect();
    assert_eq!(codes, expected);
    let with_teams = located
        .locations
        .iter()
        .filter(|location| {
            location
                .block
                .as_ref()
                .is_some_and(|block| block.team.is_some())
        })
        .count();
    assert_eq!(with_teams, 326);

    let yuhulu = registry
        .client
        .list_blocks(with_token(
            api::ListBlocksRequest {
                parent: "subdistricts/430302001".into(),
                page_size: 10,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(yuhulu.total_size, 41, "雨湖路 has 41 blocks");
    assert_eq!(yuhulu.blocks.len(), 10);
    assert!(!yuhulu.next_page_token.is_empty());
    registry.application.shutdown().await.expect("shutdown");
}
