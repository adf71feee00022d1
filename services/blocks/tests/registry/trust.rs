//! Trust: the policy table against the proto and the running service, drafts
//! only for the administrators they concern, phones only where the privacy
//! rule says, paged exports, and every write on the audit trail.

use flatgov_auth::Role;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::{field_violations, with_token};
use sqlx::Connection as _;

use crate::common::*;

fn point(longitude: f64, latitude: f64) -> GeoPoint {
    GeoPoint {
        longitude,
        latitude,
        ..Default::default()
    }
}

/// A draft over both subdistricts: the 2 × 2 tiling of 430302001 and block F
/// of 430302002.
async fn draft_over_two_subdistricts(registry: &mut Registry) -> api::Generation {
    registry.seed_hierarchy_and_staff().await;
    registry.seed_second_subdistrict().await;
    let mut features = tiling();
    features.push(block_f());
    registry
        .import(import_request(features))
        .await
        .expect("the draft")
}

async fn export_as(
    registry: &mut Registry,
    token: Option<&str>,
    request: api::ExportGeoJsonRequest,
) -> Result<api::ExportGeoJsonResponse, tonic::Status> {
    let request = match token {
        Some(token) => with_token(request, token),
        None => tonic::Request::new(request),
    };
    registry
        .client
        .export_geo_json(request)
        .await
        .map(tonic::Response::into_inner)
}

/// The block codes of an exported FeatureCollection, in order.
fn exported_codes(geojson: &str) -> Vec<String> {
    let collection: serde_json::Value = serde_json::from_str(geojson).expect("GeoJSON");
    collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|feature| {
            feature["properties"]["code"]
                .as_str()
                .expect("a code")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn every_rpc_has_a_rule_and_the_probe_finds_the_table_enforced_for_every_role() {
    assert_eq!(
        flatgov_testkit::authz::uncovered(&flatgov_blocks::policy::POLICY),
        Vec::<String>::new()
    );
    let registry = Registry::start().await;
    let report = flatgov_testkit::authz::probe(
        &registry.application.grpc_url(),
        &flatgov_blocks::policy::POLICY,
        &registry.test.auth,
    )
    .await;
    println!(
        "probe: {} calls, {} refusals expected, {} contradictions",
        report.calls,
        report.refusals_expected,
        report.contradictions.len(),
    );
    let contradictions = &report.contradictions;
    assert!(contradictions.is_empty(), "{contradictions:#?}");
    assert!(report.refusals_expected > 200, "{report:?}");
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_draft_generation_is_served_only_to_the_administrators_it_concerns_and_only_where_they_reach()
 {
    let mut registry = Registry::start().await;
    let draft = draft_over_two_subdistricts(&mut registry).await;
    let unknown = "generations/0193a0b0-0000-7000-8000-000000000000";

    let resident = registry.token("resident-1", &[Role::Resident], "districts/430302");
    let governor = registry.token(
        &format!("governor-{A}"),
        &[Role::Governor],
        &format!("blocks/{A}"),
    );
    let dispatcher = registry.dispatcher("430302001");
    let integrator = registry.token("gis-portal", &[Role::Integrator], "districts/430302");
    let elsewhere = registry.admin_of("districts/430303");
    let export = |generation: &str| api::ExportGeoJsonRequest {
        generation: generation.to_owned(),
        ..Default::default()
    };
    let never_there = export_as(&mut registry, None, export(unknown))
        .await
        .expect_err("no such generation");
    assert_eq!(never_there.code(), tonic::Code::NotFound);
    for token in [
        None,
        Some(&resident),
        Some(&governor),
        Some(&dispatcher),
        Some(&integrator),
        Some(&elsewhere),
    ] {
        let hidden = export_as(
            &mut registry,
            token.map(String::as_str),
            export(&draft.name),
        )
        .await
        .expect_err("a draft is not public");
        assert_eq!(hidden.code(), tonic::Code::NotFound, "{token:?}");
        assert_eq!(
            hidden.message().replace(&draft.name, "G"),
            never_there.message().replace(unknown, "G"),
            "a hidden draft reads exactly like no generation"
        );
    }

    // The lookups given the draft's name answer the same way.
    let hidden = registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: format!("blocks/{A}"),
                generation: draft.name.clone(),
                ..Default::default()
            },
            &dispatcher,
        ))
        .await
        .expect_err("GetBlock in a draft");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .locate_point(with_token(
            api::LocatePointRequest {
                point: Some(point(112.905, 27.802)),
                generation: draft.name.clone(),
                ..Default::default()
            },
            &elsewhere,
        ))
        .await
        .expect_err("LocatePoint in a draft");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points: vec![point(112.905, 27.802)],
                generation: draft.name.clone(),
                ..Default::default()
            },
            &integrator,
        ))
        .await
        .expect_err("LocatePoints in a draft");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .list_blocks(with_token(
            api::ListBlocksRequest {
                generation: draft.name.clone(),
                ..Default::default()
            },
            &elsewhere,
        ))
        .await
        .expect_err("ListBlocks in a draft");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .get_generation(with_token(
            api::GetGenerationRequest {
                name: draft.name.clone(),
            },
            &dispatcher,
        ))
        .await
        .expect_err("GetGeneration of a draft");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .get_generation(with_token(
            api::GetGenerationRequest {
                name: draft.name.clone(),
            },
            &elsewhere,
        ))
        .await
        .expect_err("another district's administrator");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    for token in [&integrator, &elsewhere] {
        let listed = registry
            .client
            .list_generations(with_token(api::ListGenerationsRequest::default(), token))
            .await
            .expect("they list generations")
            .into_inner();
        assert!(listed.generations.is_empty(), "{listed:?}");
    }
    let listed = registry
        .client
        .list_generations(with_token(
            api::ListGenerationsRequest::default(),
            &registry.admin,
        ))
        .await
        .expect("the district's administrator")
        .into_inner();
    assert_eq!(listed.generations.len(), 1);

    // The district's administrator sees all of it; the administrator of
    // the second subdistrict only its block.
    let admin = registry.admin.clone();
    let whole = export_as(&mut registry, Some(&admin), export(&draft.name))
        .await
        .expect("the district's administrator");
    assert_eq!(exported_codes(&whole.geojson), vec![A, B, C, D, F]);
    let second = registry.admin_of("subdistricts/430302002");
    let part = export_as(&mut registry, Some(&second), export(&draft.name))
        .await
        .expect("the second subdistrict's administrator");
    assert_eq!(exported_codes(&part.geojson), vec![F]);
    let outside = registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: format!("blocks/{A}"),
                generation: draft.name.clone(),
                ..Default::default()
            },
            &second,
        ))
        .await
        .expect_err("A lies outside their subdistrict");
    assert_eq!(outside.code(), tonic::Code::NotFound);
    let located = registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points: vec![point(112.905, 27.802), point(112.925, 27.805)],
                generation: draft.name.clone(),
                ..Default::default()
            },
            &second,
        ))
        .await
        .expect("their part of the draft")
        .into_inner();
    let codes: Vec<Option<String>> = located
        .locations
        .iter()
        .map(|location| location.block.as_ref().map(|block| block.code.clone()))
        .collect();
    assert_eq!(codes, vec![None, Some(F.to_owned())]);
    // They see the draft but may not validate or discard what is not all theirs.
    let refused = registry
        .client
        .validate_generation(with_token(
            api::ValidateGenerationRequest {
                name: draft.name.clone(),
                settings: None,
            },
            &second,
        ))
        .await
        .expect_err("part of it is another subdistrict's");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        !refused.message().contains("430302001"),
        "{}",
        refused.message()
    );
    let refused = registry
        .client
        .discard_generation(with_token(
            api::DiscardGenerationRequest {
                name: draft.name.clone(),
            },
            &second,
        ))
        .await
        .expect_err("part of it is another subdistrict's");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // Once in force, the map is public again, without its author.
    registry.activate(&draft.name).await.expect("activation");
    let public = export_as(&mut registry, None, export(""))
        .await
        .expect("the active map is public");
    assert_eq!(public.feature_count, 5);
    let seen = registry
        .client
        .get_generation(with_token(
            api::GetGenerationRequest {
                name: "generations/active".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("dispatchers follow the generation in force")
        .into_inner();
    assert_eq!(seen.name, draft.name);
    assert_eq!(
        seen.created_by, "",
        "the importing administrator is not named"
    );
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn deleting_staff_validating_and_discarding_a_draft_stop_at_the_administrators_jurisdiction()
{
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let draft = registry
        .import(import_request(tiling()))
        .await
        .expect("draft");
    let elsewhere = registry.admin_of("districts/430303");
    let other_subdistrict = registry.admin_of("subdistricts/430302002");
    let governor = format!("governor-{A}");

    for token in [&elsewhere, &other_subdistrict] {
        let refused = registry
            .client
            .delete_staff(with_token(
                api::DeleteStaffRequest {
                    name: format!("staff/{governor}"),
                },
                token,
            ))
            .await
            .expect_err("not theirs");
        assert_eq!(refused.code(), tonic::Code::NotFound);
        assert_eq!(
            refused.message(),
            format!("staff {governor} does not exist"),
            "as for someone not on the roster: no word of the teams they serve on"
        );
        let refused = registry
            .client
            .validate_generation(with_token(
                api::ValidateGenerationRequest {
                    name: draft.name.clone(),
                    settings: None,
                },
                token,
            ))
            .await
            .expect_err("not theirs");
        assert_eq!(refused.code(), tonic::Code::NotFound);
        let refused = registry
            .client
            .discard_generation(with_token(
                api::DiscardGenerationRequest {
                    name: draft.name.clone(),
                },
                token,
            ))
            .await
            .expect_err("not theirs");
        assert_eq!(refused.code(), tonic::Code::NotFound);
    }
    let admin = registry.admin.clone();
    let still = registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest {
                name: format!("staff/{governor}"),
            },
            &admin,
        ))
        .await
        .expect("still on the roster")
        .into_inner();
    assert_eq!(still.id, governor);
    let still_draft = registry
        .client
        .get_generation(with_token(
            api::GetGenerationRequest {
                name: draft.name.clone(),
            },
            &admin,
        ))
        .await
        .expect("still there")
        .into_inner();
    assert_eq!(still_draft.state, api::GenerationState::Draft as i32);
    assert_eq!(still_draft.created_by, "admin");

    // The subdistrict's own administrator may discard it, and a second
    // discard answers the same.
    let own = registry.admin_of("subdistricts/430302001");
    let discarded = registry
        .client
        .discard_generation(with_token(
            api::DiscardGenerationRequest {
                name: draft.name.clone(),
            },
            &own,
        ))
        .await
        .expect("theirs")
        .into_inner();
    assert_eq!(discarded.state, api::GenerationState::Discarded as i32);
    let again = registry
        .client
        .discard_generation(with_token(
            api::DiscardGenerationRequest {
                name: draft.name.clone(),
            },
            &own,
        ))
        .await
        .expect("already discarded")
        .into_inner();
    assert_eq!(again.state, api::GenerationState::Discarded as i32);
    let gone = registry
        .client
        .list_blocks(with_token(
            api::ListBlocksRequest {
                generation: draft.name.clone(),
                ..Default::default()
            },
            &own,
        ))
        .await
        .expect("a discarded draft lists nothing")
        .into_inner();
    assert!(gone.blocks.is_empty());
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_resident_whose_subject_is_a_staff_id_does_not_receive_that_staff_members_phone() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let governor = format!("governor-{A}");
    let contacts = |token: String| {
        let mut client = registry.client.clone();
        async move {
            client
                .locate_point(with_token(
                    api::LocatePointRequest {
                        point: Some(point(112.905, 27.802)),
                        view: api::BlockView::Contacts as i32,
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .expect("locate")
                .into_inner()
                .block
                .expect("block")
                .team
                .expect("team")
                .members
        }
    };
    let impostor = registry.token(&governor, &[Role::Resident], "districts/430302");
    let members = contacts(impostor).await;
    assert_eq!(members[0].staff, governor);
    assert_eq!(members[0].phone, "", "no phone for a resident");
    assert!(members[0].phone_withheld);
    assert_eq!(members[0].display_name, "", "nor a name");
    let integrator = registry.token(&governor, &[Role::Integrator], "districts/430302");
    assert_eq!(contacts(integrator).await[0].phone, "");

    // The governor, calling as staff, sees their own phone and their team's names.
    let themself = registry.token(&governor, &[Role::Governor], &format!("blocks/{A}"));
    let members = contacts(themself).await;
    assert_eq!(members[0].phone, "1380000001");
    assert_eq!(members[2].display_name, format!("supervisor of {A}"));
    assert_eq!(members[2].phone, "", "not the supervisor's phone");
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_export_comes_in_pages_that_together_are_the_whole_layer() {
    let mut registry = Registry::start().await;
    let draft = draft_over_two_subdistricts(&mut registry).await;
    registry.activate(&draft.name).await.expect("activation");

    let mut codes = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = export_as(
            &mut registry,
            None,
            api::ExportGeoJsonRequest {
                page_size: 2,
                page_token: page_token.clone(),
                include_teams: true,
                ..Default::default()
            },
        )
        .await
        .expect("a page");
        pages += 1;
        assert!(page.feature_count <= 2);
        assert_eq!(page.generation, draft.name);
        codes.extend(exported_codes(&page.geojson));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(codes, vec![A, B, C, D, F]);

    let first = export_as(
        &mut registry,
        None,
        api::ExportGeoJsonRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    let foreign = export_as(
        &mut registry,
        None,
        api::ExportGeoJsonRequest {
            page_size: 2,
            page_token: first.next_page_token,
            parent: "subdistricts/430302001".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("a token of another export");
    assert_eq!(foreign.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations(&foreign)[0].field, "page_token");

    let subdistricts = export_as(
        &mut registry,
        None,
        api::ExportGeoJsonRequest {
            layer: api::ExportLayer::Subdistricts as i32,
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .expect("the first subdistrict");
    assert_eq!(exported_codes(&subdistricts.geojson), vec!["430302001"]);
    let rest = export_as(
        &mut registry,
        None,
        api::ExportGeoJsonRequest {
            layer: api::ExportLayer::Subdistricts as i32,
            page_size: 1,
            page_token: subdistricts.next_page_token,
            ..Default::default()
        },
    )
    .await
    .expect("the second subdistrict");
    assert_eq!(exported_codes(&rest.geojson), vec!["430302002"]);
    assert!(rest.next_page_token.is_empty());
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_directory_is_public_and_administrators_change_it_only_within_their_jurisdiction() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.seed_second_subdistrict().await;

    // Anyone reads the directory, without a token.
    let district = registry
        .client
        .get_district(api::GetDistrictRequest {
            name: "districts/430302".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(district.display_name, "雨湖区");
    let districts = registry
        .client
        .list_districts(api::ListDistrictsRequest::default())
        .await
        .expect("public")
        .into_inner();
    assert_eq!(districts.districts.len(), 1);
    let subdistricts = registry
        .client
        .list_subdistricts(api::ListSubdistrictsRequest {
            parent: "districts/430302".into(),
            ..Default::default()
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(subdistricts.subdistricts.len(), 2);
    let community = registry
        .client
        .get_community(api::GetCommunityRequest {
            name: "communities/430302002001".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(community.subdistrict, "subdistricts/430302002");

    // The first subdistrict's administrator keeps its own places...
    let yuhulu = registry.admin_of("subdistricts/430302001");
    let renamed = registry
        .client
        .update_subdistrict(with_token(
            api::UpdateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430302001".into(),
                    display_name_en: "Yuhulu".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name_en".into()],
                }),
                allow_missing: false,
            },
            &yuhulu,
        ))
        .await
        .expect("their subdistrict")
        .into_inner();
    assert_eq!(renamed.display_name_en, "Yuhulu");
    let read_back = registry
        .client
        .get_subdistrict(api::GetSubdistrictRequest {
            name: "subdistricts/430302001".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(read_back.display_name_en, "Yuhulu");
    registry
        .client
        .create_community(with_token(
            api::CreateCommunityRequest {
                community: Some(api::Community {
                    name: "communities/430302001009".into(),
                    display_name: "临时社区".into(),
                    ..Default::default()
                }),
            },
            &yuhulu,
        ))
        .await
        .expect("a community of their subdistrict");
    registry
        .client
        .delete_community(with_token(
            api::DeleteCommunityRequest {
                name: "communities/430302001009".into(),
            },
            &yuhulu,
        ))
        .await
        .expect("and gone again");

    // ...and may see but not change anyone else's.
    let refusals = vec![
        registry
            .client
            .create_district(with_token(
                api::CreateDistrictRequest {
                    district: Some(api::District {
                        name: "districts/430303".into(),
                        display_name: "岳塘区".into(),
                        ..Default::default()
                    }),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .update_district(with_token(
                api::UpdateDistrictRequest {
                    district: Some(api::District {
                        name: "districts/430302".into(),
                        display_name: "改名".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .delete_district(with_token(
                api::DeleteDistrictRequest {
                    name: "districts/430302".into(),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .create_subdistrict(with_token(
                api::CreateSubdistrictRequest {
                    subdistrict: Some(api::Subdistrict {
                        name: "subdistricts/430302003".into(),
                        display_name: "新街道".into(),
                        ..Default::default()
                    }),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .update_subdistrict(with_token(
                api::UpdateSubdistrictRequest {
                    subdistrict: Some(api::Subdistrict {
                        name: "subdistricts/430302002".into(),
                        display_name: "改名".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .delete_subdistrict(with_token(
                api::DeleteSubdistrictRequest {
                    name: "subdistricts/430302002".into(),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .import_subdistricts(with_token(
                api::ImportSubdistrictsRequest {
                    geojson: collection(vec![serde_json::json!({
                        "type": "Feature",
                        "properties": {"code": "430302002", "name": "改名"},
                        "geometry": rectangle(112.92, 27.80, 112.93, 27.81)})])
                    .to_string(),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .create_community(with_token(
                api::CreateCommunityRequest {
                    community: Some(api::Community {
                        name: "communities/430302002009".into(),
                        display_name: "别处社区".into(),
                        ..Default::default()
                    }),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .update_community(with_token(
                api::UpdateCommunityRequest {
                    community: Some(api::Community {
                        name: "communities/430302002001".into(),
                        display_name: "改名".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
        registry
            .client
            .delete_community(with_token(
                api::DeleteCommunityRequest {
                    name: "communities/430302002001".into(),
                },
                &yuhulu,
            ))
            .await
            .map(|_| ()),
    ];
    for (index, refusal) in refusals.into_iter().enumerate() {
        let status = refusal.expect_err("outside their subdistrict");
        assert_eq!(
            status.code(),
            tonic::Code::PermissionDenied,
            "{index}: {status:?}"
        );
        assert!(
            status
                .message()
                .contains("outside the caller's jurisdiction"),
            "{index}: {}",
            status.message()
        );
    }
    let untouched = registry
        .client
        .get_subdistrict(api::GetSubdistrictRequest {
            name: "subdistricts/430302002".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(untouched.display_name, "城正街街道");

    // The district's administrator adds and removes a subdistrict.
    let admin = registry.admin.clone();
    registry
        .client
        .create_subdistrict(with_token(
            api::CreateSubdistrictRequest {
                subdistrict: Some(api::Subdistrict {
                    name: "subdistricts/430302003".into(),
                    display_name: "新街道".into(),
                    ..Default::default()
                }),
            },
            &admin,
        ))
        .await
        .expect("a new subdistrict");
    registry
        .client
        .delete_subdistrict(with_token(
            api::DeleteSubdistrictRequest {
                name: "subdistricts/430302003".into(),
            },
            &admin,
        ))
        .await
        .expect("an empty subdistrict can go");
    let gone = registry
        .client
        .get_subdistrict(api::GetSubdistrictRequest {
            name: "subdistricts/430302003".into(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);

    // A district-level administrator of the next district makes and
    // removes their own.
    let yuetang = registry.admin_of("districts/430303");
    registry
        .client
        .update_district(with_token(
            api::UpdateDistrictRequest {
                district: Some(api::District {
                    name: "districts/430303".into(),
                    display_name: "岳塘区".into(),
                    ..Default::default()
                }),
                update_mask: None,
                allow_missing: true,
            },
            &yuetang,
        ))
        .await
        .expect("their district, created by upsert");
    let created = registry
        .client
        .get_district(api::GetDistrictRequest {
            name: "districts/430303".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert_eq!(created.display_name, "岳塘区");
    registry
        .client
        .delete_district(with_token(
            api::DeleteDistrictRequest {
                name: "districts/430303".into(),
            },
            &yuetang,
        ))
        .await
        .expect("and deleted");
    let gone = registry
        .client
        .get_district(api::GetDistrictRequest {
            name: "districts/430303".into(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_roster_is_kept_by_administrators_within_their_jurisdiction_and_retries_are_the_callers_own()
 {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.seed_second_subdistrict().await;
    let yuhulu = registry.admin_of("subdistricts/430302001");
    let admin = registry.admin.clone();
    let person = |division: &str| api::Staff {
        display_name: "钱小红".into(),
        phone: "13700000000".into(),
        division: division.to_owned(),
        ..Default::default()
    };
    let create = |staff: api::Staff, request_id: &str| api::CreateStaffRequest {
        staff: Some(staff),
        staff_id: String::new(),
        request_id: request_id.to_owned(),
    };

    let created = registry
        .client
        .create_staff(with_token(
            create(person("communities/430302001001"), "hire-17"),
            &yuhulu,
        ))
        .await
        .expect("in their subdistrict")
        .into_inner();
    assert_eq!(created.phone, "13700000000");
    let retried = registry
        .client
        .create_staff(with_token(
            create(person("communities/430302001001"), "hire-17"),
            &yuhulu,
        ))
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(retried.id, created.id, "the retry returns the first person");
    let reused = registry
        .client
        .create_staff(with_token(
            create(person("communities/430302001002"), "hire-17"),
            &yuhulu,
        ))
        .await
        .expect_err("same id, other content");
    assert_eq!(reused.code(), tonic::Code::InvalidArgument);
    assert_eq!(field_violations(&reused)[0].field, "request_id");
    let someone_elses = registry
        .client
        .create_staff(with_token(
            create(person("communities/430302001001"), "hire-17"),
            &admin,
        ))
        .await
        .expect("another caller's id is their own")
        .into_inner();
    assert_ne!(someone_elses.id, created.id);

    let updated = registry
        .client
        .update_staff(with_token(
            api::UpdateStaffRequest {
                staff: Some(api::Staff {
                    name: created.name.clone(),
                    phone: "13700000001".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["phone".into()],
                }),
                allow_missing: false,
            },
            &yuhulu,
        ))
        .await
        .expect("their person")
        .into_inner();
    assert_eq!(updated.phone, "13700000001");
    let moved_away = registry
        .client
        .update_staff(with_token(
            api::UpdateStaffRequest {
                staff: Some(api::Staff {
                    name: created.name.clone(),
                    division: "subdistricts/430302002".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["division".into()],
                }),
                allow_missing: false,
            },
            &yuhulu,
        ))
        .await
        .expect_err("not to another subdistrict");
    assert_eq!(moved_away.code(), tonic::Code::PermissionDenied);
    for division in ["subdistricts/430302002", ""] {
        let refused = registry
            .client
            .create_staff(with_token(create(person(division), ""), &yuhulu))
            .await
            .expect_err("outside their subdistrict, or nowhere");
        assert_eq!(
            refused.code(),
            tonic::Code::PermissionDenied,
            "{division:?}"
        );
    }

    // The second subdistrict's staff are out of their reach: as if absent.
    let foreign = format!("staff/governor-{F}");
    let hidden = registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest {
                name: foreign.clone(),
            },
            &yuhulu,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let hidden = registry
        .client
        .update_staff(with_token(
            api::UpdateStaffRequest {
                staff: Some(api::Staff {
                    name: foreign.clone(),
                    display_name: "改名".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                allow_missing: false,
            },
            &yuhulu,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let taken = registry
        .client
        .import_staff(with_token(
            api::ImportStaffRequest {
                staff: vec![api::Staff {
                    id: format!("governor-{F}"),
                    display_name: "冒名".into(),
                    division: "subdistricts/430302001".into(),
                    ..Default::default()
                }],
            },
            &yuhulu,
        ))
        .await
        .expect_err("someone they cannot see holds the id");
    assert_eq!(taken.code(), tonic::Code::AlreadyExists);
    let listed = registry
        .client
        .list_staff(with_token(
            api::ListStaffRequest {
                page_size: 500,
                ..Default::default()
            },
            &yuhulu,
        ))
        .await
        .expect("their roster")
        .into_inner();
    assert!(
        listed
            .staff
            .iter()
            .all(|staff| !staff.id.ends_with(F) && staff.display_name != "冒名"),
        "{listed:?}"
    );
    assert!(listed.staff.iter().any(|staff| staff.id == created.id));
    let unchanged = registry
        .client
        .get_staff(with_token(api::GetStaffRequest { name: foreign }, &admin))
        .await
        .expect("the district's administrator")
        .into_inner();
    assert_eq!(unchanged.display_name, format!("governor of {F}"));

    registry
        .client
        .delete_staff(with_token(
            api::DeleteStaffRequest {
                name: created.name.clone(),
            },
            &yuhulu,
        ))
        .await
        .expect("their person, on no team");
    let deleted = registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest { name: created.name },
            &admin,
        ))
        .await
        .expect_err("deleted");
    assert_eq!(deleted.code(), tonic::Code::NotFound);
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn teams_are_set_by_the_administrators_of_their_block_and_a_draft_block_elsewhere_is_not_found()
 {
    let mut registry = Registry::start().await;
    let draft = draft_over_two_subdistricts(&mut registry).await;
    let second = registry.admin_of("subdistricts/430302002");
    let team = |code: &str| api::Team {
        governor: format!("governor-{code}"),
        assistants: vec![],
        supervisor: format!("supervisor-{code}"),
        members: vec![],
    };
    let on_draft = |code: &str| api::SetBlockTeamRequest {
        block: format!("blocks/{code}"),
        team: Some(team(code)),
        generation: draft.name.clone(),
    };
    let set = registry
        .client
        .set_block_team(with_token(on_draft(F), &second))
        .await
        .expect("their block of the draft")
        .into_inner();
    assert!(set.team.expect("team").assistants.is_empty());
    let hidden = registry
        .client
        .set_block_team(with_token(on_draft(A), &second))
        .await
        .expect_err("A lies outside their subdistrict");
    assert_eq!(hidden.code(), tonic::Code::NotFound);

    registry.activate(&draft.name).await.expect("activation");
    let refused = registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{A}"),
                team: Some(team(B)),
                generation: String::new(),
            },
            &second,
        ))
        .await
        .expect_err("A is on the public map but not theirs");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let admin = registry.admin.clone();
    let kept = registry
        .locate(&admin, 112.905, 27.802, None)
        .await
        .expect("A");
    assert_eq!(kept.team.expect("team").governor, format!("governor-{A}"));
    registry.application.shutdown().await.expect("shutdown");
}

async fn records_about(
    trail: &mut AuditTrailClient<tonic::transport::Channel>,
    admin: &str,
    resource: &str,
) -> Vec<audit::AuditRecord> {
    trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 500,
                page_token: String::new(),
            },
            admin,
        ))
        .await
        .expect("the audit trail")
        .into_inner()
        .records
}

#[tokio::test]
async fn writes_and_refused_writes_are_on_the_audit_trail_with_who_what_and_outcome_and_no_personal_data()
 {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let admin = registry.admin.clone();
    registry
        .client
        .create_staff(with_token(
            api::CreateStaffRequest {
                staff: Some(api::Staff {
                    display_name: "孙丽".into(),
                    phone: "13611112222".into(),
                    division: format!("blocks/{A}"),
                    ..Default::default()
                }),
                staff_id: "audit-1".into(),
                request_id: String::new(),
            },
            &admin,
        ))
        .await
        .expect("created");
    let governor = registry.token(
        &format!("governor-{A}"),
        &[Role::Governor],
        &format!("blocks/{A}"),
    );
    let refused = registry
        .client
        .delete_staff(with_token(
            api::DeleteStaffRequest {
                name: "staff/audit-1".into(),
            },
            &governor,
        ))
        .await
        .expect_err("governors keep no roster");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let elsewhere = registry.admin_of("districts/430303");
    let hidden = registry
        .client
        .delete_staff(with_token(
            api::DeleteStaffRequest {
                name: "staff/audit-1".into(),
            },
            &elsewhere,
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let dispatcher = registry.dispatcher("430302001");
    registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest {
                name: "staff/audit-1".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("a personal-data read");

    let mut trail = AuditTrailClient::connect(registry.application.grpc_url())
        .await
        .expect("the audit trail is served on the registry's port");
    let about = records_about(&mut trail, &admin, "staff/audit-1").await;
    let summary: Vec<(&str, &str, &str)> = about
        .iter()
        .map(|record| {
            (
                record.subject.as_str(),
                record.method.as_str(),
                record.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("dispatcher", "GetStaff", "OK"),
            ("admin-districts-430303", "DeleteStaff", "NOT_FOUND"),
            ("admin", "CreateStaff", "OK"),
        ],
        "newest first"
    );
    assert!(
        about
            .iter()
            .all(|record| record.service == "flatgov.blocks.v1.BlockRegistry")
    );
    let all = records_about(&mut trail, &admin, "").await;
    let layer_refusal = all
        .iter()
        .find(|record| record.subject == format!("governor-{A}"))
        .expect("the refused write is recorded too");
    assert_eq!(layer_refusal.method, "DeleteStaff");
    assert_eq!(layer_refusal.outcome, "PERMISSION_DENIED");
    assert_eq!(layer_refusal.roles, vec!["governor"]);
    for record in &all {
        let text = format!("{record:?}");
        assert!(
            !text.contains("13611112222") && !text.contains("孙丽"),
            "no personal data in {record:?}"
        );
    }
    let verified = trail
        .verify_audit_trail(with_token(audit::VerifyAuditTrailRequest {}, &admin))
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.intact, "{verified:?}");
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_application_may_append_to_the_team_history_but_never_change_or_delete_it() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let app_url = flatgov_testkit::application_url(registry.test.database.url());
    let mut app = sqlx::PgConnection::connect(&app_url)
        .await
        .expect("the application role connects");
    for statement in [
        "update block_team_history set governor = 'someone-else'",
        "delete from block_team_history",
    ] {
        let refused = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut app)
            .await
            .expect_err(statement);
        let code = refused
            .as_database_error()
            .and_then(|error| error.code().map(|code| code.into_owned()));
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {refused}");
    }
    let entries: i64 = sqlx::query_scalar("select count(*) from block_team_history")
        .fetch_one(&mut app)
        .await
        .expect("readable");
    assert_eq!(entries, 4, "one entry per block's first team");
    registry.application.shutdown().await.expect("shutdown");
}
