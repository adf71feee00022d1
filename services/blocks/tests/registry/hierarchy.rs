//! Districts, subdistricts and communities: CRUD, upserts, events, paging.

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::{HierarchyChangeKind, HierarchyChanged};
use flatgov_testkit::events::{decoded, read_stream};
use flatgov_testkit::with_token;

use crate::common::*;

#[tokio::test]
async fn divisions_are_created_updated_listed_and_deleted_with_an_event_for_each_real_change() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let admin = registry.admin.clone();

    let subdistrict = registry
        .client
        .get_subdistrict(with_token(
            api::GetSubdistrictRequest {
                name: "subdistricts/430302001".into(),
            },
            &admin,
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(subdistrict.district, "districts/430302");
    // 0.02° × 0.01° at 27.8° N ≈ 1,970 m × 1,109 m.
    assert!(
        (subdistrict.land_area_m2 - 2_185_000.0).abs() < 20_000.0,
        "{}",
        subdistrict.land_area_m2
    );
    assert!(subdistrict.boundary_geojson.contains("Polygon"));

    // An upsert with the same values changes nothing; a rename is one update.
    let same = api::UpdateCommunityRequest {
        community: Some(api::Community {
            name: "communities/430302001001".into(),
            display_name: "和平社区".into(),
            ..Default::default()
        }),
        update_mask: None,
        allow_missing: true,
    };
    let unchanged = registry
        .client
        .update_community(with_token(same.clone(), &admin))
        .await
        .expect("upsert")
        .into_inner();
    let renamed = registry
        .client
        .update_community(with_token(
            api::UpdateCommunityRequest {
                community: Some(api::Community {
                    name: "communities/430302001001".into(),
                    display_name_en: "Heping Community".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name_en".into()],
                }),
                allow_missing: false,
            },
            &admin,
        ))
        .await
        .expect("rename")
        .into_inner();
    assert_eq!(renamed.display_name, "和平社区", "the mask kept the name");
    assert_eq!(renamed.display_name_en, "Heping Community");
    let seconds = |time: &Option<prost_types::Timestamp>| {
        time.as_ref()
            .map(|time| (time.seconds, time.nanos))
            .expect("a time")
    };
    assert!(seconds(&renamed.update_time) > seconds(&unchanged.update_time));
    let created = registry
        .client
        .update_community(with_token(
            api::UpdateCommunityRequest {
                community: Some(api::Community {
                    name: "communities/430302001003".into(),
                    display_name: "解放社区".into(),
                    ..Default::default()
                }),
                update_mask: None,
                allow_missing: true,
            },
            &admin,
        ))
        .await
        .expect("created by upsert")
        .into_inner();
    assert_eq!(created.subdistrict, "subdistricts/430302001");

    let first_page = registry
        .client
        .list_communities(with_token(
            api::ListCommunitiesRequest {
                parent: "subdistricts/430302001".into(),
                page_size: 2,
                page_token: String::new(),
            },
            &admin,
        ))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first_page.communities.len(), 2);
    let second_page = registry
        .client
        .list_communities(with_token(
            api::ListCommunitiesRequest {
                parent: "subdistricts/430302001".into(),
                page_size: 2,
                page_token: first_page.next_page_token.clone(),
            },
            &admin,
        ))
        .await
        .expect("page 2")
        .into_inner();
    let codes: Vec<String> = first_page
        .communities
        .iter()
        .chain(&second_page.communities)
        .map(|community| community.code.clone())
        .collect();
    assert_eq!(codes, vec!["430302001001", "430302001002", "430302001003"]);
    assert!(second_page.next_page_token.is_empty());

    let refused = registry
        .client
        .delete_subdistrict(with_token(
            api::DeleteSubdistrictRequest {
                name: "subdistricts/430302001".into(),
            },
            &admin,
        ))
        .await
        .expect_err("it has communities");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    registry
        .client
        .delete_community(with_token(
            api::DeleteCommunityRequest {
                name: "communities/430302001003".into(),
            },
            &admin,
        ))
        .await
        .expect("an unused community can go");

    let bus = registry.test.bus().await;
    let events: Vec<HierarchyChanged> = decoded(&read_stream(&bus, "blocks", 7, PATIENCE).await);
    let mut seen: Vec<(String, i32)> = events
        .iter()
        .map(|event| (event.division.clone(), event.kind))
        .collect();
    // Order is guaranteed per division (the per-entity key), so compare per division.
    seen.sort_by(|first, second| first.0.cmp(&second.0));
    assert_eq!(
        seen,
        vec![
            (
                "communities/430302001001".to_owned(),
                HierarchyChangeKind::Created as i32
            ),
            (
                "communities/430302001001".to_owned(),
                HierarchyChangeKind::Updated as i32
            ),
            (
                "communities/430302001002".to_owned(),
                HierarchyChangeKind::Created as i32
            ),
            (
                "communities/430302001003".to_owned(),
                HierarchyChangeKind::Created as i32
            ),
            (
                "communities/430302001003".to_owned(),
                HierarchyChangeKind::Deleted as i32
            ),
            (
                "districts/430302".to_owned(),
                HierarchyChangeKind::Created as i32
            ),
            (
                "subdistricts/430302001".to_owned(),
                HierarchyChangeKind::Created as i32
            ),
        ],
        "the no-op upsert published nothing"
    );
    registry.application.shutdown().await.expect("shutdown");
}
