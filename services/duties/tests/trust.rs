//! Who may see and do what on the duty lists service: the policy table
//! against the proto and probed as every role, drafts kept to district-wide
//! administrators, reference data changed only district-wide, refusals and
//! assessments read within one's jurisdiction or for one's own department,
//! request ids that answer only their caller, people shown only to those
//! who see staff, and every write in the audit trail.

mod support;

use flatgov_auth::Role;
use flatgov_duties::policy::POLICY;
use flatgov_grpc::time::timestamp;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::flatgov::r#type::v1::{HandlingTier, UnitKind};
use flatgov_testkit::authz::{probe, uncovered};
use flatgov_testkit::{field_violations, with_token};
use support::*;
use tonic::Code;

#[tokio::test]
async fn every_rpc_has_a_rule_and_a_probe_as_every_role_finds_the_table_enforced() {
    assert_eq!(uncovered(&POLICY), Vec::<String>::new());
    let service = Service::start().await;
    let report = probe(&service.application.grpc_url(), &POLICY, &service.test.auth).await;
    println!(
        "probe of {}: {} calls over {} RPCs, {} refused by the table as expected, {} contradictions",
        POLICY.service,
        report.calls,
        POLICY.rules.len(),
        report.refusals_expected,
        report.contradictions.len(),
    );
    let contradictions = &report.contradictions;
    assert!(contradictions.is_empty(), "{contradictions:#?}");
    assert_eq!(POLICY.rules.len(), 39);
    assert!(
        report.refusals_expected > report.calls / 2,
        "most RPCs are for few roles: {report:?}"
    );
    service.application.shutdown().await.unwrap();
}

/// Every read of a list version that could show a draft, as `token` sees
/// it: the draft's name, its number, its items, a diff to it, its export.
async fn draft_reads(
    service: &Service,
    token: Option<&str>,
) -> Vec<Result<String, (Code, String)>> {
    let mut client = service.client.clone();
    let draft = "lists/subdistrict_cooperation/draft";
    let numbered = "lists/subdistrict_cooperation/versions/2";
    let shape = |status: tonic::Status| (status.code(), status.message().to_owned());
    vec![
        client
            .get_list_version(as_caller(
                proto::GetListVersionRequest { name: draft.into() },
                token,
            ))
            .await
            .map(|response| response.into_inner().name)
            .map_err(shape),
        client
            .get_list_version(as_caller(
                proto::GetListVersionRequest {
                    name: numbered.into(),
                },
                token,
            ))
            .await
            .map(|response| response.into_inner().name)
            .map_err(shape),
        client
            .list_items(as_caller(
                proto::ListItemsRequest {
                    parent: draft.into(),
                    page_size: 500,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| {
                let items = response.into_inner().items;
                format!("{} items", items.len())
            })
            .map_err(shape),
        client
            .diff_versions(as_caller(
                proto::DiffVersionsRequest {
                    from_version: "lists/subdistrict_cooperation/versions/1".into(),
                    to_version: draft.into(),
                },
                token,
            ))
            .await
            .map(|response| response.into_inner().added.join(","))
            .map_err(shape),
        client
            .export_list(as_caller(
                proto::ExportListRequest {
                    name: draft.into(),
                    at: None,
                    format: proto::DataFormat::Csv as i32,
                },
                token,
            ))
            .await
            .map(|response| response.into_inner().version)
            .map_err(shape),
    ]
}

#[tokio::test]
async fn a_draft_is_seen_only_by_district_wide_administrators_and_is_to_everyone_else_as_if_there_were_none()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let dispatcher = service.dispatcher(SUBDISTRICT);
    let governor = service.test.auth.token("governor-1", &[Role::Governor]);
    let integrator = service.integrator("districts/430302");
    let officer = service.department_officer("transport");
    let subdistrict_admin = service.subdistrict_admin(SUBDISTRICT);
    let others: Vec<(&str, Option<&str>)> = vec![
        ("anonymous", None),
        ("governor", Some(&governor)),
        ("dispatcher", Some(&dispatcher)),
        ("integrator", Some(&integrator)),
        ("department officer", Some(&officer)),
        ("subdistrict-level administrator", Some(&subdistrict_admin)),
    ];
    let before = draft_reads(&service, None).await;
    assert!(before.iter().all(|read| read.is_err()), "{before:?}");

    draft_shared_bikes(&mut service).await;

    let admin = draft_reads(&service, Some(&service.admin)).await;
    assert_eq!(
        admin,
        [
            Ok("lists/subdistrict_cooperation/draft".to_owned()),
            Ok("lists/subdistrict_cooperation/draft".to_owned()),
            Ok("22 items".to_owned()),
            Ok("SC-07-03".to_owned()),
            Ok("lists/subdistrict_cooperation/draft".to_owned()),
        ]
    );
    for (who, token) in &others {
        let reads = draft_reads(&service, *token).await;
        assert_eq!(
            reads, before,
            "{who} is answered exactly as before the draft existed"
        );
        let list = service
            .client
            .clone()
            .get_list(as_caller(
                proto::GetListRequest {
                    name: "lists/subdistrict_cooperation".into(),
                    at: None,
                },
                *token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.draft, None, "{who}");
        assert_eq!(list.published_versions, 1, "{who}");
        let all = service
            .client
            .clone()
            .list_duty_lists(as_caller(proto::ListDutyListsRequest { at: None }, *token))
            .await
            .unwrap()
            .into_inner()
            .lists;
        assert!(all.iter().all(|list| list.draft.is_none()), "{who}");
        let versions = service
            .client
            .clone()
            .list_list_versions(as_caller(
                proto::ListListVersionsRequest {
                    parent: "lists/subdistrict_cooperation".into(),
                    ..Default::default()
                },
                *token,
            ))
            .await
            .unwrap()
            .into_inner()
            .versions;
        let names: Vec<&str> = versions
            .iter()
            .map(|version| version.name.as_str())
            .collect();
        assert_eq!(names, ["lists/subdistrict_cooperation/versions/1"], "{who}");
    }
    let admin_list = service
        .client
        .clone()
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
    assert_eq!(
        admin_list.draft.map(|draft| draft.item_count),
        Some(22),
        "the administrator sees the draft with the shared-bike item"
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn reference_data_changes_need_a_district_wide_administrator_and_exceptions_a_place_in_the_callers_jurisdiction()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let admin = service.subdistrict_admin(SUBDISTRICT);
    let mut client = service.client.clone();
    let before = service.written().await;
    let department = proto::Department {
        code: "civil_affairs".into(),
        display_name: "区民政局（新）".into(),
        ..Default::default()
    };
    let matter = proto::Matter {
        code: "broken_street_light".into(),
        display_name: "路灯损坏".into(),
        list_item_code: "SD-05-03".into(),
        ..Default::default()
    };
    let refusals = vec![
        (
            "CreateDepartment",
            client
                .create_department(with_token(
                    proto::CreateDepartmentRequest {
                        department: Some(proto::Department {
                            code: "neighbourhood_watch".into(),
                            display_name: "区邻里守望办公室".into(),
                            ..Default::default()
                        }),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "UpdateDepartment",
            client
                .update_department(with_token(
                    proto::UpdateDepartmentRequest {
                        department: Some(department),
                        allow_missing: false,
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "DeleteDepartment",
            client
                .delete_department(with_token(
                    proto::DeleteDepartmentRequest {
                        name: "departments/statistics".into(),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "ImportDepartments",
            client
                .import_departments(with_token(
                    proto::ImportDepartmentsRequest {
                        format: proto::DataFormat::Csv as i32,
                        content: "code,name,name_en\nstatistics,区统计局（改）,\n".into(),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "CreateDraft",
            client
                .create_draft(with_token(
                    proto::CreateDraftRequest {
                        parent: "lists/subdistrict_duty".into(),
                        empty: true,
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "PutDraftItem",
            client
                .put_draft_item(with_token(
                    proto::PutDraftItemRequest {
                        parent: "lists/subdistrict_duty".into(),
                        item: Some(proto::ListItem {
                            code: "SD-05-09".into(),
                            category: "城市管理".into(),
                            display_name: "井盖巡查".into(),
                            legal_basis: "《城市道路管理条例》".into(),
                            handling_level: proto::HandlingLevel::Block as i32,
                            lead_department: "urban_management".into(),
                            default_tier: HandlingTier::FrontLine as i32,
                            response_limit: "2h".into(),
                            resolution_limit: "3d".into(),
                            ..Default::default()
                        }),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "DeleteDraftItem",
            client
                .delete_draft_item(with_token(
                    proto::DeleteDraftItemRequest {
                        name: "lists/subdistrict_duty/draft/items/SD-13-02".into(),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "DiscardDraft",
            client
                .discard_draft(with_token(
                    proto::DiscardDraftRequest {
                        name: "lists/subdistrict_duty/draft".into(),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "ImportList",
            client
                .import_list(with_token(
                    proto::ImportListRequest {
                        parent: "lists/residents_negative".into(),
                        format: proto::DataFormat::Csv as i32,
                        content: LISTS[4].1.replace("market_supervision", "health"),
                        publish: true,
                        effective_from: None,
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "PublishList",
            client
                .publish_list(with_token(
                    proto::PublishListRequest {
                        name: "lists/subdistrict_duty".into(),
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "PutMatter",
            client
                .put_matter(with_token(
                    proto::PutMatterRequest {
                        matter: Some(proto::Matter {
                            tier: HandlingTier::Whistle as i32,
                            ..matter
                        }),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "DeleteMatter",
            client
                .delete_matter(with_token(
                    proto::DeleteMatterRequest {
                        name: "matters/night_noise".into(),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "ImportCatalogue",
            client
                .import_catalogue(with_token(
                    proto::ImportCatalogueRequest {
                        format: proto::DataFormat::Csv as i32,
                        content: MATTERS.lines().take(10).collect::<Vec<_>>().join("\n"),
                    },
                    &admin,
                ))
                .await
                .map(|_| ()),
        ),
    ];
    for (method, outcome) in refusals {
        let status = outcome.expect_err(method);
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{method}: {status:?}"
        );
    }
    assert_eq!(
        service.written().await,
        before,
        "an administrator of one subdistrict changed nothing district-wide"
    );

    // Exceptions: a place inside the administrator's subdistrict is theirs
    // to change; a place elsewhere, or a named area, is not.
    let exception =
        |id: &str, place: proto::exception_place::Place| proto::CreateExceptionRequest {
            exception: Some(proto::PlaceException {
                id: id.into(),
                place: Some(proto::ExceptionPlace { place: Some(place) }),
                matter_code: "broken_street_light".into(),
                lead: Some(proto::Responsible {
                    role: proto::ResponsibleRole::Department as i32,
                    department: "housing_construction".into(),
                }),
                effective_from: Some(timestamp(chrono::Utc::now() + chrono::Duration::days(7))),
                reason: "道路及路灯产权属区住房和城乡建设局".into(),
                ..Default::default()
            }),
        };
    use proto::exception_place::Place;
    let own = client
        .create_exception(with_token(
            exception(
                "jianshe-road-lights",
                Place::CommunityCode(COMMUNITY.into()),
            ),
            &admin,
        ))
        .await
        .expect("a community inside the administrator's subdistrict")
        .into_inner();
    assert_eq!(own.name, "exceptions/jianshe-road-lights");
    for place in [
        Place::SubdistrictCode("430302002".into()),
        Place::BlockCode("430302002001003".into()),
        Place::Area("shaoshan-road".into()),
    ] {
        let refused = client
            .create_exception(with_token(exception("elsewhere", place.clone()), &admin))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{place:?}");
    }
    client
        .create_exception(with_token(
            exception(
                "xiangjiang-lights",
                Place::SubdistrictCode("430302002".into()),
            ),
            &service.admin,
        ))
        .await
        .expect("a district-wide administrator sets exceptions anywhere");
    let elsewhere = "exceptions/xiangjiang-lights";
    let nowhere = "exceptions/no-such-exception";
    let end = |name: &str| proto::EndExceptionRequest {
        name: name.into(),
        effective_until: None,
    };
    let delete = |name: &str| proto::DeleteExceptionRequest { name: name.into() };
    let get = |name: &str| proto::GetExceptionRequest { name: name.into() };
    let ended_elsewhere = client
        .end_exception(with_token(end(elsewhere), &admin))
        .await
        .unwrap_err();
    let ended_nowhere = client
        .end_exception(with_token(end(nowhere), &admin))
        .await
        .unwrap_err();
    assert_eq!(ended_elsewhere.code(), Code::NotFound);
    assert_eq!(
        refusal_shape(&ended_elsewhere, elsewhere),
        refusal_shape(&ended_nowhere, nowhere)
    );
    let deleted_elsewhere = client
        .delete_exception(with_token(delete(elsewhere), &admin))
        .await
        .unwrap_err();
    let deleted_nowhere = client
        .delete_exception(with_token(delete(nowhere), &admin))
        .await
        .unwrap_err();
    assert_eq!(
        refusal_shape(&deleted_elsewhere, elsewhere),
        refusal_shape(&deleted_nowhere, nowhere)
    );
    let read_elsewhere = client
        .get_exception(with_token(get(elsewhere), &admin))
        .await
        .unwrap_err();
    let read_nowhere = client
        .get_exception(with_token(get(nowhere), &admin))
        .await
        .unwrap_err();
    assert_eq!(read_elsewhere.code(), Code::NotFound);
    assert_eq!(
        refusal_shape(&read_elsewhere, elsewhere),
        refusal_shape(&read_nowhere, nowhere)
    );
    let listed = client
        .list_exceptions(with_token(proto::ListExceptionsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .exceptions;
    let names: Vec<&str> = listed
        .iter()
        .map(|exception| exception.name.as_str())
        .collect();
    assert_eq!(names, ["exceptions/jianshe-road-lights"]);
    client
        .delete_exception(with_token(delete(elsewhere), &service.admin))
        .await
        .expect("it was there all along, for those who reach it");
    client
        .delete_exception(with_token(delete(&own.name), &admin))
        .await
        .expect("the administrator's own, not yet in effect");
    service.application.shutdown().await.unwrap();
}

/// Two refused assignments, into subdistricts 001 and 002, and an
/// assessment and an opinion by each subdistrict about different
/// departments.
struct Records {
    into_first: proto::CheckAssignmentResponse,
    into_second: proto::CheckAssignmentResponse,
}

const SECOND_SUBDISTRICT: &str = "430302002";

async fn record_in_two_subdistricts(service: &Service) -> Records {
    let mut client = service.client.clone();
    let market = service.department_officer("market_supervision");
    let check = |subdistrict: &str| {
        with_token(
            proto::CheckAssignmentRequest {
                matter_code: "food_safety_inspection_task".into(),
                from: Some(unit(UnitKind::Department, "market_supervision")),
                to: Some(unit(UnitKind::Subdistrict, subdistrict)),
                attempted_by: "staff-42".into(),
                ..Default::default()
            },
            &market,
        )
    };
    let into_first = client
        .check_assignment(check(SUBDISTRICT))
        .await
        .unwrap()
        .into_inner();
    let into_second = client
        .check_assignment(check(SECOND_SUBDISTRICT))
        .await
        .unwrap()
        .into_inner();
    assert!(!into_first.allowed && !into_second.allowed);
    for (subdistrict, department, score) in [
        (SUBDISTRICT, "urban_management", 4),
        (SECOND_SUBDISTRICT, "market_supervision", 2),
    ] {
        client
            .record_assessment(with_token(
                proto::RecordAssessmentRequest {
                    assessment: Some(proto::Assessment {
                        subdistrict_code: subdistrict.into(),
                        department: department.into(),
                        matter_code: "illegal_street_vending".into(),
                        score,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &service.dispatcher(subdistrict),
            ))
            .await
            .unwrap();
    }
    for (subdistrict, department) in [
        (SUBDISTRICT, "housing_construction"),
        (SECOND_SUBDISTRICT, "transport"),
    ] {
        client
            .record_opinion(with_token(
                proto::RecordOpinionRequest {
                    opinion: Some(proto::Opinion {
                        subdistrict_code: subdistrict.into(),
                        department: department.into(),
                        subject: proto::OpinionSubject::Project as i32,
                        title: "雨湖路老旧小区改造项目".into(),
                        stance: proto::OpinionStance::Support as i32,
                        text: "支持".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &service.dispatcher(subdistrict),
            ))
            .await
            .unwrap();
    }
    Records {
        into_first,
        into_second,
    }
}

/// What `token` reads of refusals, assessments and opinions: refusal
/// names, the refusal count, assessed (subdistrict, department) pairs,
/// summarised departments, opinion subdistricts.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    refusals: Vec<String>,
    refusals_counted: u32,
    assessments: Vec<(String, String)>,
    summarised: Vec<String>,
    opinions: Vec<(String, String)>,
}

async fn seen_by(service: &Service, token: &str) -> Seen {
    let mut client = service.client.clone();
    let refusals = client
        .list_refusals(with_token(proto::ListRefusalsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .refusals;
    let counted = client
        .count_refusals(with_token(proto::CountRefusalsRequest::default(), token))
        .await
        .unwrap()
        .into_inner();
    let assessments = client
        .list_assessments(with_token(proto::ListAssessmentsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .assessments;
    let summary = client
        .summarise_assessments(with_token(
            proto::SummariseAssessmentsRequest::default(),
            token,
        ))
        .await
        .unwrap()
        .into_inner();
    let opinions = client
        .list_opinions(with_token(proto::ListOpinionsRequest::default(), token))
        .await
        .unwrap()
        .into_inner()
        .opinions;
    let mut refusal_names: Vec<String> = refusals.into_iter().map(|refusal| refusal.name).collect();
    refusal_names.sort();
    let mut assessed: Vec<(String, String)> = assessments
        .into_iter()
        .map(|assessment| (assessment.subdistrict_code, assessment.department))
        .collect();
    assessed.sort();
    let mut opinions: Vec<(String, String)> = opinions
        .into_iter()
        .map(|opinion| (opinion.subdistrict_code, opinion.department))
        .collect();
    opinions.sort();
    Seen {
        refusals: refusal_names,
        refusals_counted: counted.total,
        assessments: assessed,
        summarised: summary
            .departments
            .into_iter()
            .map(|row| row.department)
            .collect(),
        opinions,
    }
}

#[tokio::test]
async fn integrators_and_dispatchers_read_refusals_and_assessments_only_in_their_jurisdiction_and_departments_only_their_own()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let records = record_in_two_subdistricts(&service).await;
    let first = records.into_first.refusal.clone();
    let second = records.into_second.refusal.clone();
    let pair =
        |subdistrict: &str, department: &str| (subdistrict.to_owned(), department.to_owned());
    let second_only = Seen {
        refusals: vec![second.clone()],
        refusals_counted: 1,
        assessments: vec![pair(SECOND_SUBDISTRICT, "market_supervision")],
        // The summary counts the subdistrict's opinions per department too.
        summarised: vec!["market_supervision".into(), "transport".into()],
        opinions: vec![pair(SECOND_SUBDISTRICT, "transport")],
    };
    let integrator = service.integrator("subdistricts/430302002");
    assert_eq!(seen_by(&service, &integrator).await, second_only);
    let dispatcher = service.token_in(
        "dispatcher-2",
        &[Role::SubdistrictDispatcher],
        "subdistricts/430302002",
    );
    assert_eq!(seen_by(&service, &dispatcher).await, second_only);

    let urban = service.department_officer("urban_management");
    assert_eq!(
        seen_by(&service, &urban).await,
        Seen {
            refusals: vec![],
            refusals_counted: 0,
            assessments: vec![pair(SUBDISTRICT, "urban_management")],
            summarised: vec!["urban_management".into()],
            opinions: vec![],
        }
    );
    let market = service.department_officer("market_supervision");
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    let market_sees = seen_by(&service, &market).await;
    assert_eq!(market_sees.refusals, both, "its own refusals, wherever");
    assert_eq!(
        market_sees.assessments,
        [pair(SECOND_SUBDISTRICT, "market_supervision")]
    );

    let district_integrator = service.integrator("districts/430302");
    let district = seen_by(&service, &district_integrator).await;
    assert_eq!(district.refusals, both);
    assert_eq!(district.assessments.len(), 2);
    assert_eq!(district.opinions.len(), 2);

    // One refusal by name: read where it is reached, and elsewhere
    // answered exactly as a refusal that does not exist.
    let nowhere = "refusals/0193f0aa-0000-7000-8000-000000000000";
    let get = |name: &str, token: &str| {
        let mut client = service.client.clone();
        let request = with_token(proto::GetRefusalRequest { name: name.into() }, token);
        async move { client.get_refusal(request).await }
    };
    let read = get(&second, &integrator).await.unwrap().into_inner();
    assert_eq!(
        read.to,
        Some(unit(UnitKind::Subdistrict, SECOND_SUBDISTRICT))
    );
    assert_eq!(read.matter_code, "food_safety_inspection_task");
    assert_eq!(read.reason_code, "NOT_ON_SUBDISTRICT_LISTS");
    for token in [&integrator, &dispatcher, &urban] {
        let hidden = get(&first, token).await.unwrap_err();
        let missing = get(nowhere, token).await.unwrap_err();
        assert_eq!(hidden.code(), Code::NotFound);
        assert_eq!(
            refusal_shape(&hidden, &first),
            refusal_shape(&missing, nowhere)
        );
    }

    // Recording is for one's own subdistrict only, and a refusal says so
    // without naming anyone.
    let first_dispatcher = service.dispatcher(SUBDISTRICT);
    let before = service.written().await;
    let foreign_opinion = service
        .client
        .clone()
        .record_opinion(with_token(
            proto::RecordOpinionRequest {
                opinion: Some(proto::Opinion {
                    subdistrict_code: SECOND_SUBDISTRICT.into(),
                    department: "transport".into(),
                    subject: proto::OpinionSubject::Plan as i32,
                    title: "湘江风光带规划".into(),
                    stance: proto::OpinionStance::Oppose as i32,
                    text: "反对".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &first_dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign_opinion.code(), Code::PermissionDenied);
    assert!(
        !foreign_opinion.message().contains("dispatcher"),
        "{}",
        foreign_opinion.message()
    );
    assert_eq!(service.written().await, before);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_id_answers_only_the_caller_that_sent_it_and_never_for_other_content() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    let first_dispatcher = service.dispatcher(SUBDISTRICT);
    let second_dispatcher = service.token_in(
        "dispatcher-2",
        &[Role::SubdistrictDispatcher],
        "subdistricts/430302001",
    );
    let check = proto::CheckAssignmentRequest {
        matter_code: "food_safety_inspection_task".into(),
        from: Some(unit(UnitKind::Subdistrict, SUBDISTRICT)),
        to: Some(unit(UnitKind::Community, COMMUNITY)),
        request_id: "dispatch-77".into(),
        ..Default::default()
    };
    let first = client
        .check_assignment(with_token(check.clone(), &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    let replayed = client
        .check_assignment(with_token(check.clone(), &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, first);
    let someone_else = client
        .check_assignment(with_token(check.clone(), &second_dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        someone_else.refusal, first.refusal,
        "another caller's id is its own: it records its own refusal"
    );
    let other_content = client
        .check_assignment(with_token(
            proto::CheckAssignmentRequest {
                case: "cases/0193a1b2".into(),
                ..check
            },
            &first_dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(other_content.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&other_content)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    let refusals: i64 = sqlx::query_scalar("select count(*) from refusals")
        .fetch_one(service.application.pool())
        .await
        .unwrap();
    assert_eq!(refusals, 2);

    let assessment = |score: u32| proto::RecordAssessmentRequest {
        assessment: Some(proto::Assessment {
            subdistrict_code: SUBDISTRICT.into(),
            department: "urban_management".into(),
            matter_code: "illegal_street_vending".into(),
            score,
            ..Default::default()
        }),
        request_id: "assess-1".into(),
    };
    let recorded = client
        .record_assessment(with_token(assessment(4), &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .record_assessment(with_token(assessment(4), &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, recorded);
    let theirs = client
        .record_assessment(with_token(assessment(4), &second_dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.name, recorded.name);
    let rescored = client
        .record_assessment(with_token(assessment(1), &first_dispatcher))
        .await
        .unwrap_err();
    assert_eq!(
        field_violations(&rescored)
            .into_iter()
            .map(|violation| violation.field)
            .collect::<Vec<_>>(),
        ["request_id"]
    );

    let opinion = proto::RecordOpinionRequest {
        opinion: Some(proto::Opinion {
            subdistrict_code: SUBDISTRICT.into(),
            department: "housing_construction".into(),
            subject: proto::OpinionSubject::Project as i32,
            title: "雨湖路老旧小区改造项目".into(),
            stance: proto::OpinionStance::Support as i32,
            text: "支持".into(),
            ..Default::default()
        }),
        request_id: "opinion-1".into(),
    };
    let given = client
        .record_opinion(with_token(opinion.clone(), &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    let given_again = client
        .record_opinion(with_token(opinion, &first_dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(given_again, given);

    draft_shared_bikes(&mut service).await;
    let publish = |name: &str| proto::PublishListRequest {
        name: name.into(),
        effective_from: None,
        request_id: "publish-1".into(),
    };
    let published = client
        .publish_list(with_token(
            publish("lists/subdistrict_cooperation"),
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let republished = client
        .publish_list(with_token(
            publish("lists/subdistrict_cooperation"),
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(republished.name, published.name);
    assert_eq!(published.name, "lists/subdistrict_cooperation/versions/2");
    let another_list = client
        .publish_list(with_token(
            publish("lists/subdistrict_duty"),
            &service.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(another_list.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&another_list)[0].field, "request_id");
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn who_published_created_recorded_or_attempted_is_shown_only_to_administrators_and_the_department_itself()
 {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let records = record_in_two_subdistricts(&service).await;
    let mut client = service.client.clone();

    let published_by = |token: Option<&str>| {
        let mut client = service.client.clone();
        let request = as_caller(
            proto::GetListRequest {
                name: "lists/subdistrict_duty".into(),
                at: None,
            },
            token,
        );
        async move {
            client
                .get_list(request)
                .await
                .unwrap()
                .into_inner()
                .latest
                .unwrap()
                .published_by
        }
    };
    assert_eq!(published_by(None).await, "");
    assert_eq!(published_by(Some(&service.admin)).await, "admin");

    let refusal = |token: String| {
        let mut client = service.client.clone();
        let request = with_token(
            proto::GetRefusalRequest {
                name: records.into_first.refusal.clone(),
            },
            &token,
        );
        async move { client.get_refusal(request).await.unwrap().into_inner() }
    };
    let to_subdistrict = refusal(service.dispatcher(SUBDISTRICT)).await;
    assert_eq!(
        (
            to_subdistrict.attempted_by.as_str(),
            to_subdistrict.caller.as_str()
        ),
        ("", ""),
        "the subdistrict learns what was pushed at it, not who pushed"
    );
    let own_department = refusal(service.department_officer("market_supervision")).await;
    assert_eq!(own_department.attempted_by, "staff-42");
    assert_eq!(own_department.caller, "officer-1");
    assert_eq!(
        refusal(service.admin.clone()).await.attempted_by,
        "staff-42"
    );

    let assessed = |token: String| {
        let mut client = service.client.clone();
        let request = with_token(
            proto::ListAssessmentsRequest {
                department: "urban_management".into(),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_assessments(request)
                .await
                .unwrap()
                .into_inner()
                .assessments
                .into_iter()
                .map(|assessment| assessment.recorded_by)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        assessed(service.department_officer("urban_management")).await,
        [""]
    );
    assert_eq!(assessed(service.admin.clone()).await, ["dispatcher-1"]);

    client
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
        .unwrap();
    let created_by = |token: String| {
        let mut client = service.client.clone();
        let request = with_token(
            proto::GetExceptionRequest {
                name: "exceptions/jianshe-road-lights".into(),
            },
            &token,
        );
        async move {
            client
                .get_exception(request)
                .await
                .unwrap()
                .into_inner()
                .created_by
        }
    };
    assert_eq!(created_by(service.dispatcher(SUBDISTRICT)).await, "");
    assert_eq!(
        created_by(service.department_officer("housing_construction")).await,
        "",
        "the department the exception names reads it"
    );
    assert_eq!(created_by(service.admin.clone()).await, "admin");
    service.application.shutdown().await.unwrap();
}

async fn audit_records(service: &Service, resource: &str) -> Vec<audit::AuditRecord> {
    let mut trail = AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap();
    trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 500,
                page_token: String::new(),
            },
            &service.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

#[tokio::test]
async fn writes_are_audited_with_who_what_and_outcome_and_refused_writes_too() {
    let mut service = Service::start().await;
    service.load_reference(None).await;
    let mut client = service.client.clone();
    client
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
        .unwrap();
    let created = audit_records(&service, "departments/neighbourhood_watch").await;
    assert_eq!(
        created.len(),
        1,
        "one record, in the change's transaction: {created:?}"
    );
    assert_eq!(created[0].subject, "admin");
    assert_eq!(created[0].roles, ["district_admin"]);
    assert_eq!(created[0].service, "flatgov.duties.v1.DutyLists");
    assert_eq!(created[0].method, "CreateDepartment");
    assert_eq!(created[0].outcome, "OK");

    let subdistrict_admin = service.subdistrict_admin(SUBDISTRICT);
    client
        .create_department(with_token(
            proto::CreateDepartmentRequest {
                department: Some(proto::Department {
                    code: "night_market".into(),
                    display_name: "区夜市管理办公室".into(),
                    ..Default::default()
                }),
            },
            &subdistrict_admin,
        ))
        .await
        .unwrap_err();
    let everything = audit_records(&service, "").await;
    let refused = everything
        .iter()
        .find(|record| record.subject == "admin-430302001")
        .expect("the refused write is on record");
    assert_eq!(refused.method, "CreateDepartment");
    assert_eq!(refused.outcome, "PERMISSION_DENIED");

    let records = record_in_two_subdistricts(&service).await;
    let refusal = audit_records(&service, &records.into_first.refusal).await;
    assert_eq!(refusal.len(), 1, "{refusal:?}");
    assert_eq!(refusal[0].method, "CheckAssignment");
    assert_eq!(refusal[0].subject, "officer-1");
    assert_eq!(refusal[0].organisation, "market_supervision");
    assert!(
        refusal[0]
            .resources
            .contains(&"matters/food_safety_inspection_task".to_owned()),
        "{refusal:?}"
    );

    let foreign = client
        .record_assessment(with_token(
            proto::RecordAssessmentRequest {
                assessment: Some(proto::Assessment {
                    subdistrict_code: SECOND_SUBDISTRICT.into(),
                    department: "urban_management".into(),
                    matter_code: "illegal_street_vending".into(),
                    score: 1,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            &service.dispatcher(SUBDISTRICT),
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let everything = audit_records(&service, "").await;
    assert_eq!(
        everything[0].method, "RecordAssessment",
        "newest first: {everything:?}"
    );
    assert_eq!(everything[0].outcome, "PERMISSION_DENIED");
    assert_eq!(everything[0].subject, "dispatcher-1");

    // Reading the published lists is not a write and reads nothing
    // personal: not recorded.
    let count = everything.len();
    client
        .get_list(proto::GetListRequest {
            name: "lists/subdistrict_duty".into(),
            at: None,
        })
        .await
        .unwrap();
    assert_eq!(audit_records(&service, "").await.len(), count);
    for record in &everything {
        assert!(
            !format!("{record:?}").contains("staff-42"),
            "no record carries what the caller wrote: {record:?}"
        );
    }
    service.application.shutdown().await.unwrap();
}
