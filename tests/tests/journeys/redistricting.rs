//! Journey 5: a redistricting splits a block in two. The district exports
//! the subdistrict's blocks, cuts one block's polygon in halves, gives the
//! new half a code and a 1+N+1 team, re-imports the subdistrict as a new
//! generation, validates and activates it. The open cases in the split-off
//! half move to the new block's team with a recorded reason; the case in
//! the remaining half stays.

use flatgov_journeys::district::{DemoBlock, Ring, interior_point, split_quadrilateral};
use flatgov_journeys::events::{count_about, short_type};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use serde_json::{Value, json};

use crate::support::*;

const SUBDISTRICT: &str = "430302005";

/// The first block of the subdistrict whose polygon has four corners, so
/// it splits cleanly into two quadrilaterals.
async fn quadrilateral_block(platform: &Platform) -> DemoBlock {
    for code in platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
    {
        let block = platform.demo_block(&code).await;
        if split_quadrilateral(&block.outline).is_some() {
            return block;
        }
    }
    panic!("no block of {SUBDISTRICT} has four corners");
}

fn point(ring: &Ring) -> GeoPoint {
    let [longitude, latitude] = interior_point(ring);
    GeoPoint {
        longitude,
        latitude,
        ..Default::default()
    }
}

async fn create_staff(platform: &Platform, id: &str, display_name: &str, division: &str) {
    platform
        .blocks()
        .create_staff(with_token(
            blocks::CreateStaffRequest {
                staff: Some(blocks::Staff {
                    display_name: display_name.into(),
                    phone: "17000000000".into(),
                    unit: "岳塘街道办事处（示例）".into(),
                    division: division.into(),
                    ..Default::default()
                }),
                staff_id: id.into(),
                request_id: format!("journey-5-{id}"),
            },
            &platform.admin(),
        ))
        .await
        .unwrap_or_else(|status| panic!("CreateStaff {id}: {status}"));
}

#[tokio::test]
async fn journey_a_block_split_by_a_new_boundary_generation_moves_its_open_cases_in_the_split_area_to_the_new_team()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let old = quadrilateral_block(&platform).await;
    let (kept_half, split_half) = split_quadrilateral(&old.outline).expect("four corners");
    let new_code = {
        let community_codes = platform
            .block_codes(&format!("communities/{}", old.community_code))
            .await;
        let highest = community_codes
            .iter()
            .filter_map(|code| code[12..].parse::<u32>().ok())
            .max()
            .expect("the community has blocks");
        format!("{}{:03}", old.community_code, highest + 1)
    };

    // Open cases before the change: two in the half that will split off
    // (one waiting, one the old governor is working on), one in the half
    // that stays.
    let resident = Resident::new("resident-li", "李建国", "13511112222");
    let waiting = report(
        &platform,
        &resident,
        app_report(
            &resident,
            "broken_street_light",
            point(&split_half),
            "路灯不亮",
        ),
    )
    .await
    .name;
    let mut working_request = app_report(
        &resident,
        "garbage_overflow",
        point(&split_half),
        "垃圾桶满了没人清运",
    );
    working_request.request_id = "journey-5-working".into();
    let working = report(&platform, &resident, working_request).await.name;
    let mut staying_request = app_report(
        &resident,
        "stairwell_clutter",
        point(&kept_half),
        "楼道堆满杂物",
    );
    staying_request.request_id = "journey-5-staying".into();
    let staying = report(&platform, &resident, staying_request).await.name;
    for name in [&waiting, &working, &staying] {
        let dispatched = case_until(&platform, name, "dispatch to the old governor", |case| {
            state(case) == cases::CaseState::Dispatched
        })
        .await;
        assert_eq!(dispatched.block, old.name);
        assert_eq!(dispatched.assignee, format!("staff/{}", old.governor));
    }
    platform
        .cases()
        .accept_case(with_token(
            cases::AcceptCaseRequest {
                name: working.clone(),
            },
            &platform.governor(&old),
        ))
        .await
        .expect("the old governor accepts");

    // The new block's team goes on the roster.
    let governor = format!("journey-{new_code}-governor");
    let assistant = format!("journey-{new_code}-assistant-1");
    let supervisor = format!("journey-{new_code}-supervisor");
    let division = format!("communities/{}", old.community_code);
    create_staff(&platform, &governor, "周新民", &division).await;
    create_staff(&platform, &assistant, "吴小燕", &division).await;
    create_staff(&platform, &supervisor, "郑国强", &division).await;

    // The subdistrict's blocks with the old block cut in two.
    let admin = platform.admin();
    let exported = platform
        .blocks()
        .export_geo_json(with_token(
            blocks::ExportGeoJsonRequest {
                parent: format!("subdistricts/{SUBDISTRICT}"),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("the subdistrict exports")
        .into_inner();
    let mut collection: Value = serde_json::from_str(&exported.geojson).expect("GeoJSON");
    let features = collection["features"]
        .as_array_mut()
        .expect("a FeatureCollection");
    let old_feature = features
        .iter_mut()
        .find(|feature| feature["properties"]["code"] == old.code.as_str())
        .expect("the old block is exported");
    let households = old_feature["properties"]["households"]
        .as_u64()
        .expect("households");
    let mut new_feature = old_feature.clone();
    old_feature["geometry"] = json!({"type": "Polygon", "coordinates": [kept_half]});
    old_feature["properties"]["households"] = json!(households - households / 2);
    new_feature["geometry"] = json!({"type": "Polygon", "coordinates": [split_half]});
    new_feature["properties"]["code"] = json!(new_code);
    new_feature["properties"]["name"] = json!(format!("新设第{}区块", &new_code[12..]));
    new_feature["properties"]["households"] = json!(households / 2);
    features.push(new_feature);
    let draft = platform
        .blocks()
        .import_blocks(with_token(
            blocks::ImportBlocksRequest {
                geojson: collection.to_string(),
                teams: vec![blocks::BlockTeamAssignment {
                    block_code: new_code.clone(),
                    team: Some(blocks::Team {
                        governor: governor.clone(),
                        assistants: vec![blocks::TeamAssistant {
                            staff: assistant.clone(),
                            role: blocks::AssistantRole::LiaisonCadre as i32,
                        }],
                        supervisor: supervisor.clone(),
                        members: vec![],
                    }),
                }],
                description: format!("split block {} into {} and {new_code}", old.code, old.code),
                request_id: "journey-5-split".into(),
                subdistricts: vec![format!("subdistricts/{SUBDISTRICT}")],
            },
            &admin,
        ))
        .await
        .expect("the new generation is imported as a draft")
        .into_inner();
    assert_eq!(draft.state, blocks::GenerationState::Draft as i32);
    let report = platform
        .blocks()
        .validate_generation(with_token(
            blocks::ValidateGenerationRequest {
                name: draft.name.clone(),
                settings: None,
            },
            &admin,
        ))
        .await
        .expect("the draft validates")
        .into_inner();
    assert!(report.activatable && report.error_count == 0, "{report:#?}");
    let active = platform
        .blocks()
        .activate_generation(with_token(
            blocks::ActivateGenerationRequest {
                name: draft.name.clone(),
            },
            &admin,
        ))
        .await
        .expect("the generation activates")
        .into_inner();
    assert_eq!(active.state, blocks::GenerationState::Active as i32);
    let new_block = platform.demo_block(&new_code).await;
    assert_eq!(new_block.governor, governor);

    // The open cases in the split-off half move to the new team.
    for name in [&waiting, &working] {
        let moved = case_until(&platform, name, "re-homing into the new block", |case| {
            case.block == new_block.name
        })
        .await;
        assert_eq!(moved.assignee, format!("staff/{governor}"), "{name}");
        assert_eq!(moved.community_code, old.community_code);
        let history = history(&platform, name).await;
        let rehomed: Vec<&cases::CaseRecord> = history
            .iter()
            .filter(|record| record.action == "rehomed")
            .collect();
        assert_eq!(rehomed.len(), 1, "{history:#?}");
        assert!(
            rehomed[0].reason.contains(&active.name),
            "the reason names the generation: {}",
            rehomed[0].reason
        );
        assert_eq!(rehomed[0].details.get("to_block"), Some(&new_block.name));
    }
    // The new governor takes over; the old one no longer may.
    platform
        .cases()
        .accept_case(with_token(
            cases::AcceptCaseRequest {
                name: waiting.clone(),
            },
            &platform.governor(&new_block),
        ))
        .await
        .expect("the new governor accepts the moved case");
    let old_governor = platform
        .cases()
        .start_work(with_token(
            cases::StartWorkRequest {
                name: working.clone(),
            },
            &platform.governor(&old),
        ))
        .await
        .expect_err("the old governor no longer handles the moved case");
    // The moved case now lies in another block: for the old governor it does not exist.
    assert_eq!(
        old_governor.code(),
        tonic::Code::NotFound,
        "{old_governor:?}"
    );

    // The case in the remaining half stays where it was, untouched.
    let unmoved = get_case(&platform, &staying).await;
    assert_eq!(unmoved.block, old.name);
    assert_eq!(unmoved.assignee, format!("staff/{}", old.governor));
    assert!(
        !actions(&platform, &staying)
            .await
            .contains(&"rehomed".to_owned())
    );

    // Integrators saw the new generation and each move once.
    let block_events = platform
        .events_until("blocks", "the activation on the stream", |events| {
            events.iter().any(|event| event.resource == active.name)
        })
        .await;
    let activated: blocks::BlockGenerationActivated = block_events
        .iter()
        .filter(|event| event.resource == active.name)
        .find_map(|event| event.decode().ok())
        .expect("BlockGenerationActivated");
    let change = |code: &str| {
        activated
            .changes
            .iter()
            .find(|change| change.block_code == code)
            .unwrap_or_else(|| panic!("no change for {code} in {activated:#?}"))
            .clone()
    };
    assert_eq!(
        change(&new_code).kind,
        blocks::BlockChangeKind::Created as i32
    );
    let reshaped = change(&old.code);
    assert_eq!(reshaped.kind, blocks::BlockChangeKind::Reshaped as i32);
    assert!(
        reshaped
            .successors
            .iter()
            .any(|successor| successor.block_code == new_code),
        "{reshaped:#?}"
    );
    let case_events = platform
        .events_until("cases", "both moves on the stream", |events| {
            count_about(events, &waiting, "CaseRehomed") == 1
                && count_about(events, &working, "CaseRehomed") == 1
        })
        .await;
    let moved_event: cases::CaseRehomed = case_events
        .iter()
        .filter(|event| event.resource == waiting && short_type(event) == "CaseRehomed")
        .find_map(|event| event.decode().ok())
        .expect("CaseRehomed");
    assert_eq!(moved_event.from_block_code, old.code);
    assert_eq!(moved_event.to_block_code, new_code);
    assert_eq!(moved_event.generation, active.name);
    assert_eq!(moved_event.assignee, format!("staff/{governor}"));
    assert_eq!(count_about(&case_events, &staying, "CaseRehomed"), 0);
}
