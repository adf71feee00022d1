//! The duty lists service over real gRPC, against real PostgreSQL and NATS.

mod support;

use chrono::{DateTime, Utc};
use flatgov_auth::Role;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::enforcement::v1::AgencyRated;
use flatgov_proto::flatgov::r#type::v1::{HandlingTier, UnitKind};
use flatgov_testkit::events::publish_as;
use flatgov_testkit::{eventually, with_token};
use support::*;
use tonic::Code;

#[tokio::test]
async fn the_reference_district_loads_through_the_public_api_and_loading_it_again_changes_nothing()
{
    let mut service = Service::start().await;
    let first = service.load_reference(None).await;
    assert!(first.iter().all(|unchanged| !unchanged), "{first:?}");

    let lists = service
        .client
        .list_duty_lists(with_token(
            proto::ListDutyListsRequest { at: None },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .lists;
    let shape: Vec<(String, u32, u32)> = lists
        .iter()
        .map(|list| {
            let version = list.in_effect.as_ref().expect("a version in effect");
            (
                list.name.clone(),
                version.category_count,
                version.item_count,
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("lists/subdistrict_duty".to_owned(), 13, 35),
            ("lists/subdistrict_cooperation".to_owned(), 10, 21),
            ("lists/residents_self_government".to_owned(), shape[2].1, 20),
            ("lists/residents_assisting".to_owned(), shape[3].1, 30),
            ("lists/residents_negative".to_owned(), shape[4].1, 8),
        ]
    );
    let before = service.written().await;
    let second = service.load_reference(None).await;
    assert!(second.iter().all(|unchanged| *unchanged), "{second:?}");
    assert_eq!(
        service.written().await,
        before,
        "a second load wrote nothing"
    );

    let published = service.events::<proto::ListVersionPublished>(5).await;
    assert_eq!(
        published.len(),
        5,
        "one event per list, none for the reload"
    );
    let duty = published
        .iter()
        .find(|(_, event)| event.list_kind == "subdistrict_duty")
        .unwrap();
    assert_eq!(duty.1.list_version, "lists/subdistrict_duty/versions/1");
    assert_eq!(duty.1.items_added.len(), 35);
    assert_eq!(
        duty.0.header("ce-source").as_deref(),
        Some("flatgov/duties")
    );

    let catalogues = service.events::<proto::MatterCataloguePublished>(1).await;
    let (_, latest) = catalogues.last().unwrap();
    assert_eq!(
        latest.matters.len(),
        79,
        "the catalogue import announced all matters"
    );
    let light = latest
        .matters
        .iter()
        .find(|matter| matter.code == "broken_street_light")
        .unwrap();
    assert_eq!(light.list_item_code, "SD-05-03");
    assert_eq!(light.default_tier, HandlingTier::FrontLine as i32);

    // Cooperating departments keep the list's order (urban management is
    // named first for street vending, so it leads a whistle), in the
    // announcement and in every answer.
    let vending = latest
        .matters
        .iter()
        .find(|matter| matter.code == "illegal_street_vending")
        .unwrap();
    assert_eq!(
        vending.cooperating_departments,
        ["urban_management", "market_supervision"]
    );
    let resolved = service
        .resolve("illegal_street_vending", at_block("430302001004017"))
        .await
        .unwrap();
    assert_eq!(
        resolved.cooperating_departments,
        ["urban_management", "market_supervision"]
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_off_list_push_onto_a_subdistrict_is_refused_and_counted_until_a_new_version_puts_it_on_the_cooperation_list()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    draft_shared_bikes(&mut service).await;
    let transport = service.department_officer("transport");

    let refused = service
        .check(
            &transport,
            "shared_bike_clutter",
            unit(UnitKind::Department, "transport"),
            unit(UnitKind::Subdistrict, SUBDISTRICT),
            None,
        )
        .await
        .unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.reason_code, "NOT_ON_SUBDISTRICT_LISTS");
    assert_eq!(
        refused.responsible_instead,
        Some(unit(UnitKind::Department, "transport")),
        "the matter stays with the department that tried"
    );
    assert!(
        refused.reason.contains("shared_bike_clutter"),
        "{}",
        refused.reason
    );
    assert!(refused.refusal.starts_with("refusals/"));

    let later = Utc::now() + chrono::Duration::hours(1);
    let published = service
        .client
        .publish_list(with_token(
            proto::PublishListRequest {
                name: "lists/subdistrict_cooperation".into(),
                effective_from: Some(timestamp(later)),
                request_id: "publish-bikes".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.name, "lists/subdistrict_cooperation/versions/2");
    assert!(!published.in_effect, "it takes effect in an hour");

    let still_refused = service
        .check(
            &transport,
            "shared_bike_clutter",
            unit(UnitKind::Department, "transport"),
            unit(UnitKind::Subdistrict, SUBDISTRICT),
            None,
        )
        .await
        .unwrap();
    assert!(
        !still_refused.allowed,
        "not before the new version takes effect"
    );
    let allowed = service
        .check(
            &transport,
            "shared_bike_clutter",
            unit(UnitKind::Department, "transport"),
            unit(UnitKind::Subdistrict, SUBDISTRICT),
            Some(later),
        )
        .await
        .unwrap();
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(
        allowed.list_version,
        "lists/subdistrict_cooperation/versions/2"
    );
    assert_eq!(allowed.list_item_code, "SC-07-03");

    let counts = service
        .client
        .count_refusals(with_token(
            proto::CountRefusalsRequest::default(),
            &transport,
        ))
        .await
        .unwrap()
        .into_inner();
    let month = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m")
        .to_string();
    assert_eq!(counts.total, 2);
    assert_eq!(counts.counts.len(), 1);
    assert_eq!(
        counts.counts[0].from,
        Some(unit(UnitKind::Department, "transport"))
    );
    assert_eq!(counts.counts[0].month, month);
    assert_eq!(counts.counts[0].by_reason["NOT_ON_SUBDISTRICT_LISTS"], 2);

    let listed = service
        .client
        .list_refusals(with_token(
            proto::ListRefusalsRequest::default(),
            &transport,
        ))
        .await
        .unwrap()
        .into_inner()
        .refusals;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].attempted_by, "staff-42", "who tried is recorded");
    assert_eq!(listed[0].caller, "officer-1");
    assert_eq!(listed[0].case, "cases/0193a1b2");
    assert_eq!(listed[0].matter_code, "shared_bike_clutter");

    let refusals = service.events::<proto::AssignmentRefused>(2).await;
    assert_eq!(refusals[0].1.reason_code, "NOT_ON_SUBDISTRICT_LISTS");
    assert_eq!(
        refusals[0].1.from,
        Some(unit(UnitKind::Department, "transport"))
    );
    assert_eq!(refusals[0].0.resource, refusals[0].1.refusal);
    let versions = service.events::<proto::ListVersionPublished>(6).await;
    let bikes = versions
        .iter()
        .find(|(_, event)| event.list_version == "lists/subdistrict_cooperation/versions/2")
        .unwrap();
    assert_eq!(bikes.1.items_added, ["SC-07-03"]);
    assert!(bikes.1.items_removed.is_empty() && bikes.1.items_changed.is_empty());

    let market = service.department_officer("market_supervision");
    let foreign = service
        .check(
            &market,
            "shared_bike_clutter",
            unit(UnitKind::Department, "transport"),
            unit(UnitKind::Subdistrict, SUBDISTRICT),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        foreign.code(),
        Code::PermissionDenied,
        "another department's assignment"
    );
    // Another department asking for transport's refusals sees none: a
    // list is narrowed to what the caller reaches, not refused.
    let other_refusals = service
        .client
        .list_refusals(with_token(
            proto::ListRefusalsRequest {
                from_department: "transport".into(),
                ..Default::default()
            },
            &market,
        ))
        .await
        .unwrap()
        .into_inner()
        .refusals;
    assert!(other_refusals.is_empty(), "{other_refusals:?}");
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retried_check_with_the_same_request_id_records_one_refusal() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let dispatcher = service.dispatcher(SUBDISTRICT);
    let request = proto::CheckAssignmentRequest {
        matter_code: "food_safety_inspection_task".into(),
        from: Some(unit(UnitKind::Subdistrict, SUBDISTRICT)),
        to: Some(unit(UnitKind::Community, COMMUNITY)),
        request_id: "dispatch-77".into(),
        ..Default::default()
    };
    let first = service
        .client
        .check_assignment(with_token(request.clone(), &dispatcher))
        .await
        .unwrap()
        .into_inner();
    let again = service
        .client
        .check_assignment(with_token(request, &dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.allowed);
    assert_eq!(first.reason_code, "NEGATIVE_LIST", "{first:?}");
    assert_eq!(
        first.responsible_instead,
        Some(unit(UnitKind::Department, "market_supervision"))
    );
    assert_eq!(first, again);
    let refusals: i64 = sqlx::query_scalar("select count(*) from refusals")
        .fetch_one(service.application.pool())
        .await
        .unwrap();
    assert_eq!(refusals, 1);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_place_exception_wins_over_the_area_rule_only_where_it_applies() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let general = service
        .resolve("broken_street_light", at_block(BLOCK))
        .await
        .unwrap();
    assert_eq!(general.lead, Some(unit(UnitKind::BlockTeam, BLOCK)));
    assert_eq!(general.list_item_code, "SD-05-03");
    assert_eq!(general.list_version, "lists/subdistrict_duty/versions/1");
    assert_eq!(general.exception, "");

    let exception = service
        .client
        .create_exception(with_token(
            proto::CreateExceptionRequest {
                exception: Some(proto::PlaceException {
                    id: "jianshe-road-lights".into(),
                    place: Some(proto::ExceptionPlace {
                        place: Some(proto::exception_place::Place::CommunityCode(
                            COMMUNITY.into(),
                        )),
                    }),
                    matter_code: "broken_street_light".into(),
                    lead: Some(proto::Responsible {
                        role: proto::ResponsibleRole::Department as i32,
                        department: "housing_construction".into(),
                    }),
                    cooperating: vec![proto::Responsible {
                        role: proto::ResponsibleRole::SubdistrictPlatform as i32,
                        department: String::new(),
                    }],
                    reason: "道路及路灯产权属区住房和城乡建设局".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exception.name, "exceptions/jianshe-road-lights");

    let here = service
        .resolve("broken_street_light", at_block(BLOCK))
        .await
        .unwrap();
    assert_eq!(
        here.lead,
        Some(unit(UnitKind::Department, "housing_construction"))
    );
    assert_eq!(here.cooperating, [unit(UnitKind::Subdistrict, SUBDISTRICT)]);
    assert_eq!(here.exception, "exceptions/jianshe-road-lights");
    assert_eq!(here.list_item_code, "SD-05-03", "the item still says so");
    assert_eq!(here.response_limit_text, general.response_limit_text);

    let next_community = service
        .resolve("broken_street_light", at_block("430302001005001"))
        .await
        .unwrap();
    assert_eq!(
        next_community.lead,
        Some(unit(UnitKind::BlockTeam, "430302001005001"))
    );
    let other_matter = service
        .resolve("damaged_manhole_cover", at_block(BLOCK))
        .await
        .unwrap();
    assert_eq!(
        other_matter.lead,
        Some(unit(UnitKind::BlockTeam, BLOCK)),
        "the exception is scoped to one matter"
    );

    let road = service
        .client
        .create_exception(with_token(
            proto::CreateExceptionRequest {
                exception: Some(proto::PlaceException {
                    id: "shaoshan-road-north".into(),
                    place: Some(proto::ExceptionPlace {
                        place: Some(proto::exception_place::Place::Area("shaoshan-road".into())),
                    }),
                    list_item_code: "SD-05-03".into(),
                    lead: Some(proto::Responsible {
                        role: proto::ResponsibleRole::Department as i32,
                        department: "transport".into(),
                    }),
                    reason: "韶山路北段属区交通运输局管养".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut on_the_road = at_block(BLOCK);
    on_the_road.areas = vec!["shaoshan-road".into()];
    let named_area = service
        .resolve("broken_street_light", on_the_road)
        .await
        .unwrap();
    assert_eq!(
        named_area.exception, road.name,
        "a named area is the most specific place"
    );
    assert_eq!(
        named_area.lead,
        Some(unit(UnitKind::Department, "transport"))
    );

    let repeated = service
        .client
        .create_exception(with_token(
            proto::CreateExceptionRequest {
                exception: Some(proto::PlaceException {
                    reason: "another reason".into(),
                    ..exception.clone()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(repeated.code(), Code::AlreadyExists);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_version_diff_lists_exactly_the_changed_items() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let draft = service
        .client
        .create_draft(with_token(
            proto::CreateDraftRequest {
                parent: "lists/subdistrict_duty".into(),
                empty: false,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(draft.name, "lists/subdistrict_duty/draft");
    assert_eq!(draft.number, 2);
    assert_eq!(draft.item_count, 35);

    let items = service
        .client
        .list_items(with_token(
            proto::ListItemsRequest {
                parent: "lists/subdistrict_duty/draft".into(),
                category: 5,
                ..Default::default()
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .items;
    let mut lights = items
        .iter()
        .find(|item| item.code == "SD-05-03")
        .unwrap()
        .clone();
    lights.default_tier = HandlingTier::CoordinationMeeting as i32;
    lights.resolution_limit = "5d".into();
    let mut new_item = lights.clone();
    new_item.code = "SD-05-05".into();
    new_item.display_name = "户外广告设施安全巡查".into();
    for item in [lights, new_item] {
        service
            .client
            .put_draft_item(with_token(
                proto::PutDraftItemRequest {
                    parent: "lists/subdistrict_duty".into(),
                    item: Some(item),
                },
                &service.admin,
            ))
            .await
            .unwrap();
    }
    service
        .client
        .delete_draft_item(with_token(
            proto::DeleteDraftItemRequest {
                name: "lists/subdistrict_duty/draft/items/SD-13-02".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap();

    let against_draft = service
        .client
        .diff_versions(with_token(
            proto::DiffVersionsRequest {
                from_version: "lists/subdistrict_duty/versions/1".into(),
                to_version: "lists/subdistrict_duty/draft".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    service
        .client
        .publish_list(with_token(
            proto::PublishListRequest {
                name: "lists/subdistrict_duty".into(),
                ..Default::default()
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let diff = service
        .client
        .diff_versions(with_token(
            proto::DiffVersionsRequest {
                from_version: "lists/subdistrict_duty/versions/1".into(),
                to_version: "lists/subdistrict_duty/versions/2".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(diff.added, ["SD-05-05"]);
    assert_eq!(diff.removed, ["SD-13-02"]);
    assert_eq!(diff.changed.len(), 1);
    assert_eq!(diff.changed[0].code, "SD-05-03");
    assert_eq!(diff.changed[0].fields, ["default_tier", "resolution_limit"]);
    assert_eq!(
        diff.changed[0].before.as_ref().unwrap().resolution_limit,
        "3d"
    );
    assert_eq!(
        diff.changed[0].after.as_ref().unwrap().resolution_limit,
        "5d"
    );
    let summary = |diff: &proto::DiffVersionsResponse| {
        let changed: Vec<(String, Vec<String>)> = diff
            .changed
            .iter()
            .map(|change| (change.code.clone(), change.fields.clone()))
            .collect();
        (diff.added.clone(), diff.removed.clone(), changed)
    };
    assert_eq!(
        summary(&against_draft),
        summary(&diff),
        "the draft became version 2 unchanged"
    );

    let published = service.events::<proto::ListVersionPublished>(6).await;
    let second = published
        .iter()
        .find(|(_, event)| event.list_version == "lists/subdistrict_duty/versions/2")
        .unwrap();
    assert_eq!(second.1.items_added, ["SD-05-05"]);
    assert_eq!(second.1.items_removed, ["SD-13-02"]);
    assert_eq!(second.1.items_changed, ["SD-05-03"]);

    let now = service
        .resolve("broken_street_light", at_block(BLOCK))
        .await
        .unwrap();
    assert_eq!(now.default_tier, HandlingTier::CoordinationMeeting as i32);
    assert_eq!(now.list_version, "lists/subdistrict_duty/versions/2");
    service.application.shutdown().await.unwrap();
}

/// Sends a list import that must be refused and returns the refusal.
async fn refused_import(service: &mut Service, request: proto::ImportListRequest) -> tonic::Status {
    service
        .client
        .import_list(with_token(request, &service.admin))
        .await
        .expect_err("the import is refused")
}

#[tokio::test]
async fn bad_input_is_refused_naming_what_is_wrong_and_writes_nothing() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let before = service.written().await;
    let header = LISTS[1].1.lines().next().unwrap();
    let first_row = LISTS[1].1.lines().nth(1).unwrap();
    let import = |content: String| proto::ImportListRequest {
        parent: "lists/subdistrict_cooperation".into(),
        format: proto::DataFormat::Csv as i32,
        content,
        publish: true,
        effective_from: None,
    };

    let duplicate = refused_import(
        &mut service,
        import(format!("{header}\n{first_row}\n{first_row}\n")),
    )
    .await;
    assert_eq!(duplicate.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&duplicate),
        ["content: row 3, column \"code\": duplicate item code SC-01-01 (first given as item 1)"]
    );

    let unknown_department = first_row.replace(",urban_management,", ",urban_mgmt,");
    let unknown = refused_import(
        &mut service,
        import(format!("{header}\n{unknown_department}\n")),
    )
    .await;
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&unknown),
        ["content: row 2, column \"lead_department\": unknown department urban_mgmt"]
    );

    let repeated_department = first_row.replace(
        ",natural_resources;housing_construction,",
        ",natural_resources;housing_construction;natural_resources,",
    );
    assert_ne!(repeated_department, first_row);
    let repeated = refused_import(
        &mut service,
        import(format!("{header}\n{repeated_department}\n")),
    )
    .await;
    assert_eq!(repeated.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&repeated),
        [
            "content: row 2, column \"cooperating_departments\": cooperating department natural_resources is listed twice"
        ]
    );

    let bad_cell = first_row.replace(",department,", ",district,");
    let malformed = refused_import(
        &mut service,
        import(format!("{header}\n{first_row}\n\n{bad_cell}\n")),
    )
    .await;
    assert_eq!(malformed.code(), Code::InvalidArgument);
    let problems = violations(&malformed);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("content: row 4, column \"handling_level\": handling level \"district\""),
        "{problems:?}"
    );
    let short_row = refused_import(
        &mut service,
        import(format!("{header}\nSC-01-01,城市管理执法\n")),
    )
    .await;
    assert_eq!(
        violations(&short_row),
        ["content: row 2: expected 13 fields as in the header, found 2"]
    );

    let earlier = Utc::now() - chrono::Duration::days(30);
    let backdated = refused_import(
        &mut service,
        proto::ImportListRequest {
            effective_from: Some(timestamp(earlier)),
            ..import(format!("{header}\n{first_row}\n"))
        },
    )
    .await;
    assert_eq!(backdated.code(), Code::FailedPrecondition);
    assert!(
        backdated
            .message()
            .contains("the current version v1 takes effect at"),
        "{}",
        backdated.message()
    );

    let missing_item = service
        .client
        .import_catalogue(with_token(
            proto::ImportCatalogueRequest {
                format: proto::DataFormat::Csv as i32,
                content: "code,name,item\nbroken_street_light,路灯损坏,SD-05-03\nghost_matter,幽灵事项,SD-99-01\n"
                    .into(),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing_item.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&missing_item),
        [
            "content: row 3, column \"item\": matter ghost_matter maps to item SD-99-01, which is on no list"
        ]
    );
    let missing_put = service
        .client
        .put_matter(with_token(
            proto::PutMatterRequest {
                matter: Some(proto::Matter {
                    code: "ghost_matter".into(),
                    display_name: "幽灵事项".into(),
                    list_item_code: "SC-09-09".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing_put.code(), Code::InvalidArgument);

    let unknown_lead = service
        .client
        .put_draft_item(with_token(
            proto::PutDraftItemRequest {
                parent: "lists/subdistrict_cooperation".into(),
                item: Some(proto::ListItem {
                    code: "SC-01-01".into(),
                    category: "城市管理执法".into(),
                    display_name: "违法建设查处".into(),
                    legal_basis: "《中华人民共和国城乡规划法》".into(),
                    handling_level: proto::HandlingLevel::Department as i32,
                    lead_department: "nobody".into(),
                    default_tier: HandlingTier::Whistle as i32,
                    response_limit: "2h".into(),
                    resolution_limit: "15d".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown_lead.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&unknown_lead),
        ["item.lead_department: unknown department nobody"]
    );

    let bad_place = service
        .resolve(
            "broken_street_light",
            proto::Place {
                subdistrict_code: "430302002".into(),
                block_code: BLOCK.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad_place.code(), Code::InvalidArgument);
    let slug = service
        .resolve(
            "broken_street_light",
            proto::Place {
                subdistrict_code: "yuhu-lu".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        violations(&slug),
        [
            "place.subdistrict_code: subdistrict code \"yuhu-lu\" must contain only digits 0-9, found 'y' at position 0"
        ]
    );
    let unknown_matter = service
        .resolve("alien_landing", at_block(BLOCK))
        .await
        .unwrap_err();
    assert_eq!(unknown_matter.code(), Code::NotFound);

    assert_eq!(service.written().await, before, "nothing was half-written");
    let lists = service
        .client
        .get_list(with_token(
            proto::GetListRequest {
                name: "lists/subdistrict_cooperation".into(),
                at: None,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lists.published_versions, 1);
    assert!(lists.draft.is_none(), "no draft was left behind");
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_district_admins_change_the_lists_and_anyone_reads_the_published_ones_without_a_token()
{
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let dispatcher = service.dispatcher(SUBDISTRICT);
    let refused = service
        .client
        .publish_list(with_token(
            proto::PublishListRequest {
                name: "lists/subdistrict_duty".into(),
                ..Default::default()
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let governor = service.test.auth.token("governor-1", &[Role::Governor]);
    let check = service
        .check(
            &governor,
            "broken_street_light",
            unit(UnitKind::Subdistrict, SUBDISTRICT),
            unit(UnitKind::BlockTeam, BLOCK),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        check.code(),
        Code::PermissionDenied,
        "governors do not assign"
    );
    let resolved = service
        .resolve("night_noise", at_block(BLOCK))
        .await
        .unwrap();
    assert_eq!(
        resolved.lead,
        Some(unit(UnitKind::Department, "public_security"))
    );
    // The published lists are public: a resident's app or a newspaper
    // reads them, and resolves who is responsible, without any token.
    let anonymous = service
        .client
        .get_list(proto::GetListRequest {
            name: "lists/subdistrict_duty".into(),
            at: None,
        })
        .await
        .expect("the published lists are public")
        .into_inner();
    assert_eq!(
        anonymous.in_effect.map(|version| version.item_count),
        Some(35)
    );
    let anonymous_resolve = service
        .client
        .resolve_responsibility(proto::ResolveResponsibilityRequest {
            matter_code: "night_noise".into(),
            place: Some(at_block(BLOCK)),
            at: None,
        })
        .await
        .expect("resolving is public")
        .into_inner();
    assert_eq!(anonymous_resolve.lead, resolved.lead);
    let forged = service
        .client
        .get_list(with_token(
            proto::GetListRequest {
                name: "lists/subdistrict_duty".into(),
                at: None,
            },
            "not-a-token",
        ))
        .await
        .unwrap_err();
    assert_eq!(
        forged.code(),
        Code::Unauthenticated,
        "a token that is sent must verify"
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_catalogue_is_announced_again_when_a_version_takes_effect() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    draft_shared_bikes(&mut service).await;
    // Whole seconds: PostgreSQL keeps microseconds.
    let soon = DateTime::from_timestamp(Utc::now().timestamp() + 2, 0).unwrap();
    service
        .client
        .publish_list(with_token(
            proto::PublishListRequest {
                name: "lists/subdistrict_cooperation".into(),
                effective_from: Some(timestamp(soon)),
                request_id: String::new(),
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let announced = service
        .events_until(|events: &[(_, proto::MatterCataloguePublished)]| {
            events
                .iter()
                .any(|(_, event)| event.effective_from == Some(timestamp(soon)))
        })
        .await;
    let (_, at_effect) = announced
        .iter()
        .find(|(_, event)| event.effective_from == Some(timestamp(soon)))
        .expect("an announcement at the version's effective instant");
    let bikes = at_effect
        .matters
        .iter()
        .find(|matter| matter.code == "shared_bike_clutter")
        .unwrap();
    assert_eq!(bikes.lead_department, "transport");
    assert_eq!(bikes.default_tier, HandlingTier::CoordinationMeeting as i32);
    assert_eq!(bikes.cooperating_departments, ["urban_management"]);
    let (_, before_effect) = &announced[announced.len() - 2];
    let unannounced = before_effect
        .matters
        .iter()
        .find(|matter| matter.code == "shared_bike_clutter")
        .unwrap();
    assert_eq!(
        unannounced.lead_department, "",
        "not in effect when the matter was added"
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_agency_rating_from_joint_enforcement_is_recorded_once_as_the_subdistricts_assessment() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let bus = service.test.bus().await;
    bus.ensure_stream("enforcement").await.unwrap();
    let rated = AgencyRated {
        operation: "operations/0193f0aa".into(),
        agency: "urban_management".into(),
        subdistrict_code: SUBDISTRICT.into(),
        score: 2,
        matter_code: "illegal_construction".into(),
        case: "cases/0193a1b2".into(),
        rated_at: Some(timestamp(Utc::now())),
    };
    for event_id in ["rating-1", "rating-1-replayed-with-a-new-id"] {
        publish_as(&bus, "enforcement", event_id, "operations/0193f0aa", &rated).await;
    }
    let dispatcher = service.dispatcher(SUBDISTRICT);
    let assessments = eventually("the rating to be recorded", PATIENCE, || {
        let mut client = service.client.clone();
        let dispatcher = dispatcher.clone();
        async move {
            let assessments = client
                .list_assessments(with_token(
                    proto::ListAssessmentsRequest {
                        department: "urban_management".into(),
                        ..Default::default()
                    },
                    &dispatcher,
                ))
                .await
                .ok()?
                .into_inner()
                .assessments;
            (!assessments.is_empty()).then_some(assessments)
        }
    })
    .await;
    assert_eq!(assessments.len(), 1);
    let assessment = &assessments[0];
    assert_eq!(
        assessment.source,
        proto::AssessmentSource::JointEnforcement as i32
    );
    assert_eq!(assessment.subdistrict_code, SUBDISTRICT);
    assert_eq!(assessment.score, 2);
    assert_eq!(assessment.operation, "operations/0193f0aa");
    assert_eq!(assessment.case, "cases/0193a1b2");

    let recorded = service.events::<proto::AssessmentRecorded>(1).await;
    assert_eq!(recorded[0].1.department, "urban_management");
    assert_eq!(recorded[0].1.operation, "operations/0193f0aa");

    // The second delivery is applied (or skipped) before anything after it.
    service
        .client
        .record_assessment(with_token(
            proto::RecordAssessmentRequest {
                assessment: Some(proto::Assessment {
                    subdistrict_code: SUBDISTRICT.into(),
                    department: "urban_management".into(),
                    matter_code: "illegal_street_vending".into(),
                    score: 5,
                    comment: "配合及时".into(),
                    ..Default::default()
                }),
                request_id: "assess-1".into(),
            },
            &dispatcher,
        ))
        .await
        .unwrap();
    let summary = eventually("both deliveries to be handled", PATIENCE, || {
        let mut client = service.client.clone();
        let admin = service.admin.clone();
        let bus = bus.clone();
        async move {
            let stream = bus
                .jetstream()
                .get_stream(bus.stream_name("enforcement"))
                .await
                .ok()?;
            let mut consumer = stream
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>(
                    "duties-on-agency-rated",
                )
                .await
                .ok()?;
            let info = consumer.info().await.ok()?;
            if info.num_pending > 0 || info.num_ack_pending > 0 {
                return None;
            }
            client
                .summarise_assessments(with_token(
                    proto::SummariseAssessmentsRequest::default(),
                    &admin,
                ))
                .await
                .ok()
                .map(|response| response.into_inner())
        }
    })
    .await;
    assert_eq!(summary.departments.len(), 1);
    let urban = &summary.departments[0];
    assert_eq!(urban.department, "urban_management");
    assert_eq!(
        urban.assessments, 2,
        "the replayed rating was not recorded twice"
    );
    assert!((urban.mean_score - 3.5).abs() < 1e-9);
    assert_eq!(urban.poor_assessments, 1);
    assert_eq!(
        summary.departments_by_subdistrict[0].subdistrict_code,
        SUBDISTRICT
    );

    let elsewhere = service
        .client
        .record_assessment(with_token(
            proto::RecordAssessmentRequest {
                assessment: Some(proto::Assessment {
                    subdistrict_code: "430302002".into(),
                    department: "urban_management".into(),
                    matter_code: "illegal_street_vending".into(),
                    score: 1,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        elsewhere.code(),
        Code::PermissionDenied,
        "another subdistrict's assessment"
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_subdistricts_opinion_on_a_departments_project_is_recorded_and_queryable_by_period() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let dispatcher = service.dispatcher(SUBDISTRICT);
    let opinion = service
        .client
        .record_opinion(with_token(
            proto::RecordOpinionRequest {
                opinion: Some(proto::Opinion {
                    subdistrict_code: SUBDISTRICT.into(),
                    department: "housing_construction".into(),
                    subject: proto::OpinionSubject::Project as i32,
                    title: "雨湖路老旧小区改造项目".into(),
                    stance: proto::OpinionStance::SupportWithConditions as i32,
                    text: "建议先行征求居民意见，并错峰施工".into(),
                    ..Default::default()
                }),
                request_id: "opinion-1".into(),
            },
            &dispatcher,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(opinion.name.starts_with("opinions/"));
    let housing = service.department_officer("housing_construction");
    let listed = service
        .client
        .list_opinions(with_token(
            proto::ListOpinionsRequest {
                period_start: Some(timestamp(Utc::now() - chrono::Duration::days(1))),
                period_end: Some(timestamp(Utc::now() + chrono::Duration::days(1))),
                ..Default::default()
            },
            &housing,
        ))
        .await
        .unwrap()
        .into_inner()
        .opinions;
    assert_eq!(
        listed,
        [opinion],
        "the department sees opinions on its work"
    );
    let last_month = service
        .client
        .list_opinions(with_token(
            proto::ListOpinionsRequest {
                period_end: Some(timestamp(Utc::now() - chrono::Duration::days(1))),
                ..Default::default()
            },
            &housing,
        ))
        .await
        .unwrap()
        .into_inner()
        .opinions;
    assert!(last_month.is_empty());
    let recorded = service.events::<proto::OpinionRecorded>(1).await;
    assert_eq!(recorded[0].1.stance, "support_with_conditions");
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn matters_page_by_their_filter_and_a_token_reused_with_another_filter_is_refused() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let admin = service.admin.clone();
    let list = |page_size: i32, page_token: String, list_item_code: &str| {
        let request = with_token(
            proto::ListMattersRequest {
                page_size,
                page_token,
                list_item_code: list_item_code.into(),
            },
            &admin,
        );
        let mut client = service.client.clone();
        async move { client.list_matters(request).await }
    };
    let first = list(1, String::new(), "SD-05-03")
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.matters.len(), 1);
    assert!(!first.next_page_token.is_empty(), "another matter follows");
    let second = list(1, first.next_page_token.clone(), "SD-05-03")
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.matters.len(), 1);
    assert_ne!(second.matters[0].code, first.matters[0].code);
    assert_eq!(second.matters[0].list_item_code, "SD-05-03");

    let other_filter = list(1, first.next_page_token, "")
        .await
        .expect_err("the token belongs to the SD-05-03 listing");
    assert_eq!(other_filter.code(), Code::InvalidArgument);
    assert!(
        violations(&other_filter)[0].starts_with("page_token: is not a token"),
        "{other_filter:?}"
    );
    let negative = list(-1, String::new(), "")
        .await
        .expect_err("a negative page size");
    assert_eq!(
        violations(&negative),
        ["page_size: must not be negative, found -1"]
    );
}

#[tokio::test]
async fn a_department_is_created_renamed_read_by_anyone_and_deleted_only_once_nothing_names_it() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    let created = client
        .create_department(with_token(
            proto::CreateDepartmentRequest {
                department: Some(proto::Department {
                    code: "neighbourhood_watch".into(),
                    display_name: "区邻里守望办公室".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "departments/neighbourhood_watch");
    let renamed = client
        .update_department(with_token(
            proto::UpdateDepartmentRequest {
                department: Some(proto::Department {
                    name: created.name.clone(),
                    display_name: "区邻里守望服务中心".into(),
                    display_name_en: "Neighbourhood Watch Centre".into(),
                    ..Default::default()
                }),
                allow_missing: false,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.display_name, "区邻里守望服务中心");

    // The directory is public: read without a token.
    let read = client
        .get_department(proto::GetDepartmentRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.display_name_en, "Neighbourhood Watch Centre");
    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_departments(proto::ListDepartmentsRequest {
                page_size: 10,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        codes.extend(
            page.departments
                .into_iter()
                .map(|department| department.code),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        codes.len(),
        32,
        "the 31 reference departments and the new one"
    );
    assert!(codes.contains(&"neighbourhood_watch".to_owned()));
    assert!(
        codes.windows(2).all(|pair| pair[0] < pair[1]),
        "in code order"
    );

    let named = client
        .delete_department(with_token(
            proto::DeleteDepartmentRequest {
                name: "departments/transport".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(named.code(), Code::FailedPrecondition);
    assert!(named.message().contains("lists/"), "{}", named.message());
    client
        .delete_department(with_token(
            proto::DeleteDepartmentRequest {
                name: created.name.clone(),
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let gone = client
        .get_department(proto::GetDepartmentRequest { name: created.name })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_published_version_exported_and_imported_again_changes_nothing_and_a_discarded_draft_is_gone()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    let version = client
        .get_list_version(proto::GetListVersionRequest {
            name: "lists/residents_negative/versions/1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.state, proto::VersionState::Published as i32);
    assert_eq!(version.item_count, 8);
    assert!(version.in_effect);
    let exported = client
        .export_list(proto::ExportListRequest {
            name: "lists/residents_negative".into(),
            at: None,
            format: proto::DataFormat::Json as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exported.version, "lists/residents_negative/versions/1");
    assert!(
        exported.content.contains("RN-01-02"),
        "{}",
        exported.content
    );
    let before = service.written().await;
    let imported = client
        .import_list(with_token(
            proto::ImportListRequest {
                parent: "lists/residents_negative".into(),
                format: proto::DataFormat::Json as i32,
                content: exported.content,
                publish: true,
                effective_from: None,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(imported.unchanged, "the export is what ImportList reads");
    assert_eq!(service.written().await, before);

    client
        .create_draft(with_token(
            proto::CreateDraftRequest {
                parent: "lists/residents_negative".into(),
                empty: false,
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let with_draft = client
        .list_list_versions(with_token(
            proto::ListListVersionsRequest {
                parent: "lists/residents_negative".into(),
                ..Default::default()
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    let names: Vec<&str> = with_draft
        .iter()
        .map(|version| version.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "lists/residents_negative/draft",
            "lists/residents_negative/versions/1"
        ],
        "newest first, the draft first"
    );
    client
        .discard_draft(with_token(
            proto::DiscardDraftRequest {
                name: "lists/residents_negative/draft".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let list = client
        .get_list(with_token(
            proto::GetListRequest {
                name: "lists/residents_negative".into(),
                at: None,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(list.draft.is_none(), "{list:?}");
    let reopened = client
        .create_draft(with_token(
            proto::CreateDraftRequest {
                parent: "lists/residents_negative".into(),
                empty: true,
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reopened.number, 3,
        "a discarded draft's number is not reused"
    );
    assert_eq!(reopened.item_count, 0);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_matter_is_read_by_anyone_and_a_deleted_one_leaves_the_announced_catalogue() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    let matter = client
        .get_matter(proto::GetMatterRequest {
            name: "matters/broken_street_light".into(),
        })
        .await
        .expect("the catalogue is public")
        .into_inner();
    assert_eq!(matter.list_item_code, "SD-05-03");
    assert_eq!(matter.display_name, "路灯损坏");
    client
        .delete_matter(with_token(
            proto::DeleteMatterRequest {
                name: "matters/broken_street_light".into(),
            },
            &service.admin,
        ))
        .await
        .unwrap();
    let gone = client
        .get_matter(proto::GetMatterRequest {
            name: "matters/broken_street_light".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let announced = service
        .events_until(|events: &[(_, proto::MatterCataloguePublished)]| {
            events.iter().any(|(_, event)| event.matters.len() == 78)
        })
        .await;
    let (_, latest) = announced.last().unwrap();
    assert!(
        latest
            .matters
            .iter()
            .all(|matter| matter.code != "broken_street_light")
    );
    let unknown = service
        .resolve("broken_street_light", at_block(BLOCK))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_exception_in_effect_is_ended_rather_than_deleted_and_stops_deciding_from_then_on() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    let exception = client
        .create_exception(with_token(
            proto::CreateExceptionRequest {
                exception: Some(proto::PlaceException {
                    id: "jianshe-road-lights".into(),
                    place: Some(proto::ExceptionPlace {
                        place: Some(proto::exception_place::Place::CommunityCode(
                            COMMUNITY.into(),
                        )),
                    }),
                    matter_code: "broken_street_light".into(),
                    lead: Some(proto::Responsible {
                        role: proto::ResponsibleRole::Department as i32,
                        department: "housing_construction".into(),
                    }),
                    reason: "道路及路灯产权属区住房和城乡建设局".into(),
                    ..Default::default()
                }),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let deleted = client
        .delete_exception(with_token(
            proto::DeleteExceptionRequest {
                name: exception.name.clone(),
            },
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(deleted.code(), Code::FailedPrecondition);
    // Whole seconds: PostgreSQL keeps microseconds.
    let until = DateTime::from_timestamp(Utc::now().timestamp() + 1800, 0).unwrap();
    let ended = client
        .end_exception(with_token(
            proto::EndExceptionRequest {
                name: exception.name.clone(),
                effective_until: Some(timestamp(until)),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.effective_until, Some(timestamp(until)));
    let officer = service.department_officer("housing_construction");
    let read = client
        .get_exception(with_token(
            proto::GetExceptionRequest {
                name: exception.name.clone(),
            },
            &officer,
        ))
        .await
        .expect("the department it names reads it")
        .into_inner();
    assert_eq!(read.effective_until, ended.effective_until);
    let in_effect_later = client
        .list_exceptions(with_token(
            proto::ListExceptionsRequest {
                in_effect_at: Some(timestamp(until + chrono::Duration::minutes(1))),
                ..Default::default()
            },
            &service.dispatcher(SUBDISTRICT),
        ))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    assert!(in_effect_later.is_empty(), "{in_effect_later:?}");
    let in_effect_now = client
        .list_exceptions(with_token(
            proto::ListExceptionsRequest {
                place: SUBDISTRICT.into(),
                ..Default::default()
            },
            &service.dispatcher(SUBDISTRICT),
        ))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    assert_eq!(in_effect_now.len(), 1);
    assert_eq!(in_effect_now[0].name, exception.name);
    let resolved_later = client
        .resolve_responsibility(proto::ResolveResponsibilityRequest {
            matter_code: "broken_street_light".into(),
            place: Some(at_block(BLOCK)),
            at: Some(timestamp(until + chrono::Duration::minutes(1))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved_later.exception, "");
    assert_eq!(resolved_later.lead, Some(unit(UnitKind::BlockTeam, BLOCK)));
    service.application.shutdown().await.unwrap();
}
