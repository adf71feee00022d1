//! The redistricting cycle: import → validate (a real gap and overlap) → refused
//! activation → fixed → activation → event → lookups (shared edges, outside,
//! history) → a split with its successors.

use flatgov_proto::blocks::v1 as api;
use flatgov_proto::blocks::v1::{BlockChangeKind, BlockGenerationActivated, BlockTeamChanged};
use flatgov_testkit::events::{decoded, read_stream};
use flatgov_testkit::with_token;
use tonic_types::StatusExt as _;

use crate::common::*;

#[tokio::test]
async fn a_generation_with_a_gap_and_an_overlap_is_reported_refused_then_fixed_activated_and_served()
 {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;

    // D stops short of the east edge (a gap), C reaches down into A (an overlap).
    let faulty = registry
        .import(import_request(vec![
            block(A, 350, rectangle(112.90, 27.800, 112.91, 27.805)),
            block(B, 340, rectangle(112.91, 27.800, 112.92, 27.805)),
            block(C, 360, rectangle(112.90, 27.804, 112.91, 27.810)),
            block(D, 355, rectangle(112.91, 27.805, 112.919, 27.810)),
        ]))
        .await
        .expect("a draft is accepted whatever its coverage");
    assert_eq!(faulty.state, api::GenerationState::Draft as i32);
    assert_eq!(faulty.block_count, 4);

    let report = registry.validate(&faulty.name).await;
    assert!(!report.activatable);
    assert_eq!(report.error_count, 2, "{report:#?}");
    let subdistrict = &report.subdistricts[0];
    assert_eq!(subdistrict.subdistrict_code, "430302001");
    let gap = subdistrict
        .findings
        .iter()
        .find(|finding| finding.kind == "gap")
        .expect("the gap is reported");
    // 0.001° × 0.005° at 27.8° N ≈ 98.5 m × 554 m.
    assert!(
        (gap.area_m2 - 54_600.0).abs() < 1_500.0,
        "gap area {}",
        gap.area_m2
    );
    assert!(gap.geometry_geojson.contains("Polygon"));
    assert_eq!(gap.severity, api::FindingSeverity::Error as i32);
    let overlap = subdistrict
        .findings
        .iter()
        .find(|finding| finding.kind == "overlap")
        .expect("the overlap is reported");
    assert_eq!(overlap.block_codes, vec![A.to_owned(), C.to_owned()]);
    // 0.01° × 0.001° ≈ 985 m × 111 m.
    assert!(
        (overlap.area_m2 - 109_000.0).abs() < 3_000.0,
        "overlap area {}",
        overlap.area_m2
    );

    let refused = registry
        .activate(&faulty.name)
        .await
        .expect_err("errors remain");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("gap"), "{}", refused.message());
    let failure = refused.get_details_precondition_failure().expect("details");
    assert_eq!(failure.violations.len(), 2);
    let still_draft = registry
        .client
        .get_generation(with_token(
            api::GetGenerationRequest {
                name: faulty.name.clone(),
            },
            &registry.admin,
        ))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still_draft.state, api::GenerationState::Draft as i32);
    let nothing_in_force = registry
        .locate(&registry.admin.clone(), 112.905, 27.802, None)
        .await
        .expect_err("nothing is in force");
    assert_eq!(nothing_in_force.code(), tonic::Code::FailedPrecondition);

    let fixed = registry
        .import(import_request(tiling()))
        .await
        .expect("import");
    let report = registry.validate(&fixed.name).await;
    assert!(report.activatable, "{report:#?}");
    assert_eq!(report.error_count, 0);
    let active = registry.activate(&fixed.name).await.expect("activation");
    assert_eq!(active.state, api::GenerationState::Active as i32);
    assert!(active.activate_time.is_some());

    let bus = registry.test.bus().await;
    // District, subdistrict, 2 communities, the activation, 4 first teams.
    let events = read_stream(&bus, "blocks", 9, PATIENCE).await;
    assert_eq!(events.len(), 9);
    let activated: Vec<BlockGenerationActivated> = decoded(&events);
    assert_eq!(activated.len(), 1, "one activation event");
    assert_eq!(activated[0].generation, active.name);
    assert_eq!(activated[0].previous_generation, "");
    let created: Vec<&str> = activated[0]
        .changes
        .iter()
        .filter(|change| change.kind == BlockChangeKind::Created as i32)
        .map(|change| change.block_code.as_str())
        .collect();
    assert_eq!(created, vec![A, B, C, D]);
    let team_events = events
        .iter()
        .filter(|event| event.is::<BlockTeamChanged>())
        .count();
    assert_eq!(team_events, 4, "each block's first team is announced");
    for event in &events {
        let payload = String::from_utf8_lossy(&event.payload);
        assert!(!payload.contains("1380000"), "no phone number in any event");
        assert!(!payload.contains("governor of"), "no name in any event");
    }

    let admin = registry.admin.clone();
    let inside = registry
        .locate(&admin, 112.915, 27.807, None)
        .await
        .expect("inside D");
    assert_eq!(inside.code, D);
    assert_eq!(inside.community_code, "430302001002");
    assert_eq!(inside.subdistrict_code, "430302001");
    assert_eq!(inside.generation, active.name);
    let team = inside.team.expect("a team");
    assert_eq!(team.governor, format!("governor-{D}"));
    assert_eq!(team.supervisor, format!("supervisor-{D}"));
    assert!(
        team.members.is_empty(),
        "the basic view carries ids and roles only"
    );

    // The edge between A and B, and the vertex all four share: the lowest code, every time.
    for _ in 0..3 {
        let edge = registry
            .locate(&admin, 112.91, 27.8025, None)
            .await
            .expect("edge");
        assert_eq!(edge.code, A);
        let corner = registry
            .locate(&admin, 112.91, 27.805, None)
            .await
            .expect("corner");
        assert_eq!(corner.code, A);
        let upper_edge = registry
            .locate(&admin, 112.91, 27.8075, None)
            .await
            .expect("edge");
        assert_eq!(upper_edge.code, C);
    }
    let outside = registry
        .locate(&admin, 112.95, 27.85, None)
        .await
        .expect_err("outside every block");
    assert_eq!(outside.code(), tonic::Code::NotFound);
    assert!(
        outside.message().contains("outside every block"),
        "{}",
        outside.message()
    );

    let batch = registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points: vec![
                    point(112.905, 27.802),
                    point(112.95, 27.85),
                    point(112.915, 27.802),
                ],
                at: None,
                view: api::BlockView::Unspecified as i32,
                generation: String::new(),
            },
            &admin,
        ))
        .await
        .expect("batch")
        .into_inner();
    let answers: Vec<Option<&str>> = batch
        .locations
        .iter()
        .map(|location| location.block.as_ref().map(|block| block.code.as_str()))
        .collect();
    assert_eq!(answers, vec![Some(A), None, Some(B)]);

    // Redistricting: B splits into a western B and a new eastern E (its team set on the draft).
    let before_split = std::time::SystemTime::now();
    let split = registry
        .import(import_request(vec![
            block(A, 350, rectangle(112.90, 27.800, 112.91, 27.805)),
            block(B, 200, rectangle(112.91, 27.800, 112.915, 27.805)),
            serde_json::json!({"type": "Feature",
                "properties": {"code": E, "name": "区块003", "households": 140},
                "geometry": rectangle(112.915, 27.800, 112.92, 27.805)}),
            block(C, 360, rectangle(112.90, 27.805, 112.91, 27.810)),
            block(D, 355, rectangle(112.91, 27.805, 112.92, 27.810)),
        ]))
        .await
        .expect("split draft");
    let report = registry.validate(&split.name).await;
    assert!(!report.activatable, "E has no team yet");
    assert!(
        report.subdistricts[0]
            .findings
            .iter()
            .any(|finding| finding.kind == "team_governor_count"
                && finding.block_codes == vec![E.to_owned()])
    );
    assert!(
        report.subdistricts[0]
            .findings
            .iter()
            .any(|finding| finding.kind == "households_outside_band"
                && finding.severity == api::FindingSeverity::Warning as i32),
        "E's 140 households are a warning"
    );
    registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{E}"),
                team: Some(api::Team {
                    governor: format!("governor-{E}"),
                    assistants: vec![],
                    supervisor: format!("supervisor-{E}"),
                    members: vec![],
                }),
                generation: split.name.clone(),
            },
            &admin,
        ))
        .await
        .expect("team on the draft");
    assert!(registry.validate(&split.name).await.activatable);
    let in_force_before = registry
        .locate(&admin, 112.918, 27.802, None)
        .await
        .expect("old B");
    assert_eq!(in_force_before.code, B, "a draft changes nothing in force");
    let second = registry.activate(&split.name).await.expect("activation");
    assert_eq!(second.previous_generation, active.name);

    let moved = registry
        .locate(&admin, 112.918, 27.802, None)
        .await
        .expect("now E");
    assert_eq!(moved.code, E);
    assert_eq!(moved.team.expect("team").governor, format!("governor-{E}"));
    let kept = registry
        .locate(&admin, 112.905, 27.802, None)
        .await
        .expect("A");
    assert_eq!(
        kept.team.expect("carried over").governor,
        format!("governor-{A}")
    );

    // Which block was this point in before the split?
    let then = prost_types::Timestamp::from(before_split);
    let historical = registry
        .locate(&admin, 112.918, 27.802, Some(then))
        .await
        .expect("historical lookup");
    assert_eq!(historical.code, B);
    assert_eq!(historical.generation, active.name);
    assert_eq!(
        historical.team.expect("team then").governor,
        format!("governor-{B}")
    );
    assert!(historical.valid_to.is_some(), "that shape of B has ended");
    // A consumer of the activation event asks about exactly the generations it names.
    for (generation, expected) in [(&active.name, B), (&second.name, E)] {
        let answer = registry
            .client
            .locate_point(with_token(
                api::LocatePointRequest {
                    point: Some(point(112.918, 27.802)),
                    generation: generation.clone(),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .expect("locate in a named generation")
            .into_inner()
            .block
            .expect("block");
        assert_eq!(answer.code, expected);
        assert_eq!(&answer.generation, generation);
        assert!(answer.team.is_some(), "with the team of that generation");
    }
    let long_ago = prost_types::Timestamp {
        seconds: 1_577_836_800,
        nanos: 0,
    };
    let before_everything = registry
        .locate(&admin, 112.918, 27.802, Some(long_ago))
        .await
        .expect_err("nothing was in force in 2020");
    assert_eq!(before_everything.code(), tonic::Code::FailedPrecondition);

    // Then the second activation and E's first team (B kept its team).
    let events = read_stream(&bus, "blocks", 11, PATIENCE).await;
    assert_eq!(events.len(), 11);
    let activated: Vec<BlockGenerationActivated> = decoded(&events);
    assert_eq!(activated.len(), 2);
    let changes: Vec<(&str, i32)> = activated[1]
        .changes
        .iter()
        .map(|change| (change.block_code.as_str(), change.kind))
        .collect();
    assert_eq!(
        changes,
        vec![
            (B, BlockChangeKind::Reshaped as i32),
            (E, BlockChangeKind::Created as i32)
        ]
    );
    let successors: Vec<&str> = activated[1].changes[0]
        .successors
        .iter()
        .map(|successor| successor.block_code.as_str())
        .collect();
    assert_eq!(successors, vec![B, E], "B's old land is now B's and E's");

    // The retired generation stays readable, and GeoJSON round-trips.
    let old_b = registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: format!("blocks/{B}"),
                generation: active.name.clone(),
                at: None,
                view: api::BlockView::Full as i32,
            },
            &admin,
        ))
        .await
        .expect("old B")
        .into_inner();
    assert!(old_b.geometry_geojson.contains("112.92"));
    assert!(old_b.area_m2 > 500_000.0);
    let exported = registry
        .client
        .export_geo_json(with_token(
            api::ExportGeoJsonRequest {
                include_teams: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(exported.feature_count, 5);
    assert_eq!(exported.generation, second.name);
    let reimported = registry
        .import(api::ImportBlocksRequest {
            geojson: exported.geojson,
            ..Default::default()
        })
        .await
        .expect("an export imports as it is");
    assert!(registry.validate(&reimported.name).await.activatable);
    registry.application.shutdown().await.expect("shutdown");
}

fn point(longitude: f64, latitude: f64) -> flatgov_proto::flatgov::r#type::v1::GeoPoint {
    flatgov_proto::flatgov::r#type::v1::GeoPoint {
        longitude,
        latitude,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_retried_import_returns_the_first_generation_and_a_reused_request_id_is_refused() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let mut request = import_request(tiling());
    request.request_id = "load-2026-12".into();
    let first = registry.import(request.clone()).await.expect("first");
    let retry = registry.import(request.clone()).await.expect("retry");
    assert_eq!(retry.name, first.name);
    request.description = "something else".into();
    let reused = registry
        .import(request)
        .await
        .expect_err("different content");
    assert_eq!(reused.code(), tonic::Code::InvalidArgument);
    let violations = flatgov_testkit::field_violations(&reused);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].field, "request_id");
    let listed = registry
        .client
        .list_generations(with_token(
            api::ListGenerationsRequest::default(),
            &registry.admin,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.generations.len(), 1, "no second draft was made");

    registry.activate(&first.name).await.expect("activation");
    let again = registry
        .activate(&first.name)
        .await
        .expect("activating again is harmless");
    assert_eq!(
        again.activate_time,
        registry
            .activate(&first.name)
            .await
            .expect("again")
            .activate_time
    );
    let discard = registry
        .client
        .discard_generation(with_token(
            api::DiscardGenerationRequest {
                name: first.name.clone(),
            },
            &registry.admin,
        ))
        .await
        .expect_err("the active generation cannot be discarded");
    assert_eq!(discard.code(), tonic::Code::FailedPrecondition);
    assert!(
        discard.message().contains("active"),
        "{}",
        discard.message()
    );
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_partial_import_replaces_one_subdistrict_and_keeps_the_others() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry
        .client
        .create_subdistrict(with_token(
            api::CreateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430302002".into(),
                    display_name: "城正街街道".into(),
                    boundary_geojson: rectangle(112.92, 27.80, 112.93, 27.81).to_string(),
                    ..Default::default()
                }),
            },
            &registry.admin,
        ))
        .await
        .expect("second subdistrict");
    let other = "430302002001001";
    let mut staff = Vec::new();
    for post in ["governor", "assistant", "supervisor"] {
        staff.push(api::Staff {
            id: format!("{post}-{other}"),
            display_name: format!("{post} of {other}"),
            ..Default::default()
        });
    }
    registry
        .client
        .import_staff(with_token(
            api::ImportStaffRequest { staff },
            &registry.admin,
        ))
        .await
        .expect("staff");
    let mut features = tiling();
    let mut other_block = block(other, 350, rectangle(112.92, 27.80, 112.93, 27.81));
    other_block["properties"]["community_name"] = "新华社区".into();
    features.push(other_block);
    registry.activate_blocks(features).await;

    // Only 430302002 is re-imported: its block becomes two.
    let west = "430302002001002";
    let partial = registry
        .import(api::ImportBlocksRequest {
            geojson: collection(vec![
                serde_json::json!({"type": "Feature", "properties": {"code": other, "name": "西", "households": 300},
                                   "geometry": rectangle(112.92, 27.80, 112.925, 27.81)}),
                serde_json::json!({"type": "Feature", "properties": {"code": west, "name": "东", "households": 300},
                                   "geometry": rectangle(112.925, 27.80, 112.93, 27.81)}),
            ])
            .to_string(),
            teams: vec![api::BlockTeamAssignment {
                block_code: west.into(),
                team: Some(api::Team {
                    governor: format!("governor-{other}"),
                    assistants: vec![],
                    supervisor: format!("supervisor-{A}"),
                    members: vec![],
                }),
            }],
            subdistricts: vec!["subdistricts/430302002".into()],
            ..Default::default()
        })
        .await
        .expect("partial import");
    assert_eq!(partial.block_count, 6, "4 copied + 2 imported");
    assert!(!partial.base_generation.is_empty());
    registry.activate(&partial.name).await.expect("activation");
    let admin = registry.admin.clone();
    assert_eq!(
        registry
            .locate(&admin, 112.928, 27.805, None)
            .await
            .expect("west")
            .code,
        west
    );
    assert_eq!(
        registry
            .locate(&admin, 112.905, 27.802, None)
            .await
            .expect("A")
            .code,
        A
    );
    registry.application.shutdown().await.expect("shutdown");
}
