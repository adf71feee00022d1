//! Who may see phone numbers, and who may change anything.

use flatgov_auth::Role;
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use flatgov_testkit::with_token;

use crate::common::*;

async fn staff_as(
    registry: &mut Registry,
    token: &str,
    id: &str,
) -> Result<api::Staff, tonic::Status> {
    registry
        .client
        .get_staff(with_token(
            api::GetStaffRequest {
                name: format!("staff/{id}"),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn contacts_as(registry: &mut Registry, token: &str) -> Vec<api::TeamMember> {
    registry
        .client
        .locate_point(with_token(
            api::LocatePointRequest {
                point: Some(GeoPoint {
                    longitude: 112.905,
                    latitude: 27.802,
                    ..Default::default()
                }),
                at: None,
                view: api::BlockView::Contacts as i32,
                generation: String::new(),
            },
            token,
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

#[tokio::test]
async fn phone_numbers_reach_only_admins_named_services_the_person_and_the_dispatcher_of_their_subdistrict()
 {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let governor = format!("governor-{A}");
    let phone = "1380000001";

    let admin = registry.admin.clone();
    assert_eq!(
        staff_as(&mut registry, &admin, &governor)
            .await
            .expect("admin")
            .phone,
        phone
    );
    // The roster is not granted to services; `notices` reads teams with
    // their contacts through the block, and sees phones there.
    let cases = registry.test.auth.service_token("cases");
    let refused = staff_as(&mut registry, &cases, &governor)
        .await
        .expect_err("no service reads the roster");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let notices = registry.test.auth.service_token("notices");
    let members = contacts_of_a(&mut registry, &notices).await;
    assert_eq!(members[0].phone, phone, "notices sees the governor's phone");
    let own_dispatcher = registry.dispatcher("430302001");
    let seen = staff_as(&mut registry, &own_dispatcher, &governor)
        .await
        .expect("dispatcher");
    assert_eq!(seen.phone, phone);
    assert!(!seen.phone_withheld);

    // Another subdistrict's dispatcher does not reach the person at all:
    // the same answer as for someone not on the roster.
    let other_dispatcher = registry.dispatcher("430302002");
    let hidden = staff_as(&mut registry, &other_dispatcher, &governor)
        .await
        .expect_err("other dispatcher");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    let nobody = staff_as(&mut registry, &other_dispatcher, "nobody-17")
        .await
        .expect_err("not on the roster");
    assert_eq!(nobody.code(), tonic::Code::NotFound);
    assert_eq!(
        hidden.message().replace(&governor, "X"),
        nobody.message().replace("nobody-17", "X"),
        "a person out of reach reads exactly like no person"
    );

    let themself = registry.token(&governor, &[Role::Governor], &format!("blocks/{A}"));
    assert_eq!(
        staff_as(&mut registry, &themself, &governor)
            .await
            .expect("self")
            .phone,
        phone
    );
    let colleague = staff_as(&mut registry, &themself, &format!("supervisor-{A}"))
        .await
        .expect("colleague");
    assert!(
        colleague.phone_withheld,
        "a governor does not see the supervisor's phone"
    );
    assert_eq!(
        colleague.display_name,
        format!("supervisor of {A}"),
        "but sees the colleague's name"
    );

    let resident = registry.token("resident-1", &[Role::Resident], "districts/430302");
    let refused = staff_as(&mut registry, &resident, &governor)
        .await
        .expect_err("resident");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // The same rule in a lookup's contacts view.
    let members = contacts_as(&mut registry, &own_dispatcher).await;
    assert_eq!(members.len(), 3, "governor, assistant, supervisor");
    assert_eq!(members[0].post, api::TeamPost::Governor as i32);
    assert_eq!(members[0].phone, phone);
    let members = contacts_as(&mut registry, &other_dispatcher).await;
    assert!(
        members.iter().all(|member| member.phone.is_empty()
            && member.phone_withheld
            && member.display_name.is_empty()),
        "a dispatcher elsewhere sees the public map of this block: posts and ids"
    );
    let members = contacts_as(&mut registry, &resident).await;
    assert!(
        members
            .iter()
            .all(|member| member.display_name.is_empty() && member.phone.is_empty()),
        "a resident sees posts and ids, not people"
    );
    let integrator = registry.token("gis-portal", &[Role::Integrator], "districts/430302");
    let located = registry
        .locate(&integrator, 112.905, 27.802, None)
        .await
        .expect("integrators locate");
    assert_eq!(located.code, A);
    registry.application.shutdown().await.expect("shutdown");
}

/// The team of block A in the contacts view, as `token` sees it through GetBlock.
async fn contacts_of_a(registry: &mut Registry, token: &str) -> Vec<api::TeamMember> {
    registry
        .client
        .get_block(with_token(
            api::GetBlockRequest {
                name: format!("blocks/{A}"),
                view: api::BlockView::Contacts as i32,
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("get block")
        .into_inner()
        .team
        .expect("team")
        .members
}

#[tokio::test]
async fn only_district_admins_within_their_jurisdiction_change_boundaries_and_teams() {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    let draft = registry
        .import(import_request(tiling()))
        .await
        .expect("import");
    let dispatcher = registry.dispatcher("430302001");
    let governor = registry.token(
        &format!("governor-{A}"),
        &[Role::Governor],
        &format!("blocks/{A}"),
    );
    let elsewhere = registry.token("admin-430303", &[Role::DistrictAdmin], "districts/430303");

    for token in [&dispatcher, &governor] {
        let refused = registry
            .client
            .activate_generation(with_token(
                api::ActivateGenerationRequest {
                    name: draft.name.clone(),
                },
                token,
            ))
            .await
            .expect_err("not theirs to activate");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    }
    // Another district's administrator does not see this district's draft.
    let refused = registry
        .client
        .activate_generation(with_token(
            api::ActivateGenerationRequest {
                name: draft.name.clone(),
            },
            &elsewhere,
        ))
        .await
        .expect_err("not theirs to activate");
    assert_eq!(refused.code(), tonic::Code::NotFound);
    let refused = registry
        .client
        .import_blocks(with_token(import_request(tiling()), &governor))
        .await
        .expect_err("governors do not import");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let refused = registry
        .client
        .import_blocks(with_token(import_request(tiling()), &elsewhere))
        .await
        .expect_err("another district's admin does not import here");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let refused = registry
        .client
        .create_community(with_token(
            api::CreateCommunityRequest {
                community: Some(api::Community {
                    name: "communities/430302001003".into(),
                    display_name: "新社区".into(),
                    ..Default::default()
                }),
            },
            &dispatcher,
        ))
        .await
        .expect_err("dispatchers do not edit the hierarchy");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    registry.activate(&draft.name).await.expect("the admin may");
    let refused = registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{A}"),
                team: Some(api::Team {
                    governor: format!("governor-{B}"),
                    assistants: vec![],
                    supervisor: format!("supervisor-{B}"),
                    members: vec![],
                }),
                generation: String::new(),
            },
            &dispatcher,
        ))
        .await
        .expect_err("dispatchers do not set teams");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let admin = registry.admin.clone();
    let unchanged = registry
        .locate(&admin, 112.905, 27.802, None)
        .await
        .expect("A");
    assert_eq!(
        unchanged.team.expect("team").governor,
        format!("governor-{A}")
    );

    // The map is public: a lookup needs no token (and gets the basic view).
    let anonymous = registry
        .client
        .locate_point(api::LocatePointRequest {
            point: Some(GeoPoint {
                longitude: 112.905,
                latitude: 27.802,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("no token needed")
        .into_inner()
        .block
        .expect("a block");
    assert_eq!(anonymous.code, A);
    let refused = registry
        .client
        .set_block_team(api::SetBlockTeamRequest {
            block: format!("blocks/{A}"),
            ..Default::default()
        })
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    registry.application.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_dispatcher_sees_the_phone_of_someone_serving_on_a_block_of_their_subdistrict_whatever_their_division_and_others_do_not_see_them()
 {
    let mut registry = Registry::start().await;
    registry.seed_hierarchy_and_staff().await;
    registry.activate_blocks(tiling()).await;
    let admin = registry.admin.clone();
    registry
        .client
        .import_staff(with_token(
            api::ImportStaffRequest {
                staff: vec![api::Staff {
                    id: "roaming-1".into(),
                    display_name: "赵强".into(),
                    phone: "0731-5823 4567".into(),
                    division: "districts/430302".into(),
                    ..Default::default()
                }],
            },
            &admin,
        ))
        .await
        .expect("staff");
    registry
        .client
        .set_block_team(with_token(
            api::SetBlockTeamRequest {
                block: format!("blocks/{A}"),
                team: Some(api::Team {
                    governor: "roaming-1".into(),
                    assistants: vec![],
                    supervisor: format!("supervisor-{A}"),
                    members: vec![],
                }),
                generation: String::new(),
            },
            &admin,
        ))
        .await
        .expect("team");
    let list_as = |token: String| {
        let mut client = registry.client.clone();
        async move {
            client
                .list_staff(with_token(
                    api::ListStaffRequest {
                        division: "districts/430302".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .expect("list")
                .into_inner()
                .staff
                .into_iter()
                .find(|staff| staff.id == "roaming-1")
        }
    };
    let seen = list_as(registry.dispatcher("430302001"))
        .await
        .expect("listed for the dispatcher of the block they serve on");
    assert_eq!(
        seen.phone, "0731-5823 4567",
        "serves on A, in the dispatcher's subdistrict"
    );
    assert!(
        list_as(registry.dispatcher("430302002")).await.is_none(),
        "a dispatcher elsewhere does not reach them: not even listed"
    );
    registry.application.shutdown().await.expect("shutdown");
}
