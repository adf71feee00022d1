//! What the cases service lets each caller see and do, what it tells them when it
//! refuses, and the audit trail it keeps — over real gRPC against real PostgreSQL.

mod support;

use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::cases::v1 as proto;
use flatgov_testkit::{field_violations, with_token};
use sqlx::Connection as _;
use support::*;
use tonic::Code;

async fn dispatched(world: &World, service: &Service, request_id: &str) -> proto::Case {
    let case = report(service, &world.resident(), street_light_report(request_id))
        .await
        .case
        .unwrap();
    service
        .case_until(&world.admin(), &case.name, "the dispatch", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await
}

async fn audit_records(service: &Service, token: &str, resource: &str) -> Vec<audit::AuditRecord> {
    AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap()
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 100,
                page_token: String::new(),
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

#[tokio::test]
async fn every_rpc_has_a_rule_and_a_probe_of_every_role_finds_the_table_enforced() {
    assert_eq!(
        flatgov_testkit::authz::uncovered(&flatgov_cases::policy::POLICY),
        Vec::<String>::new()
    );
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let report = flatgov_testkit::authz::probe(
        &service.application.grpc_url(),
        &flatgov_cases::policy::POLICY,
        world.auth(),
    )
    .await;
    println!(
        "probed {} calls, {} of them refusals the table expects",
        report.calls, report.refusals_expected
    );
    assert!(
        report.contradictions.is_empty(),
        "{:#?}",
        report.contradictions
    );
    assert!(report.refusals_expected >= 150, "{report:?}");
    service.stop().await;
}

#[tokio::test]
async fn a_me_too_report_never_shows_the_first_residents_words_attachments_or_contact() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let mut first = street_light_report("first");
    first.description = "flat 3-502 floods, I am home alone".into();
    let first = report(&service, &world.resident(), first)
        .await
        .case
        .unwrap();
    service
        .case_until(&world.admin(), &first.name, "the dispatch", |case| {
            state(case) == proto::CaseState::Dispatched
        })
        .await;

    let mut nearby = street_light_report("second");
    nearby.location = Some(point_in_block(20.0));
    nearby.description = "the lamp by the gate is out".into();
    nearby.reporter = Some(proto::Contact {
        name: "王五".into(),
        phone: "13700002222".into(),
    });
    let linked = report(&service, &world.other_resident(), nearby).await;
    assert!(linked.me_too);
    let seen = linked.case.unwrap();
    assert_eq!(seen.name, first.name, "linked to the open case");
    let answer = format!("{seen:?}");
    for private in ["3-502", "home alone", "lamp.jpg", "李四", "13900001111"] {
        assert!(!answer.contains(private), "{private} leaked: {answer}");
    }
    assert!(seen.description.is_empty() && seen.attachments.is_empty());
    assert!(seen.reporter.is_none());

    // Nor can the second resident read the first resident's case afterwards.
    let refused = service
        .client()
        .get_case(with_token(
            proto::GetCaseRequest {
                name: first.name.clone(),
            },
            &world.other_resident(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    service.stop().await;
}

#[tokio::test]
async fn a_resident_or_the_supervisor_cannot_handle_a_case_and_the_refusal_names_no_one() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched(&world, &service, "lamp").await;
    for token in [world.resident(), world.supervisor()] {
        let mut client = service.client();
        let refusals = [
            client
                .accept_case(with_token(
                    proto::AcceptCaseRequest {
                        name: case.name.clone(),
                    },
                    &token,
                ))
                .await
                .unwrap_err(),
            client
                .start_work(with_token(
                    proto::StartWorkRequest {
                        name: case.name.clone(),
                    },
                    &token,
                ))
                .await
                .unwrap_err(),
            client
                .resolve_case(with_token(
                    proto::ResolveCaseRequest {
                        name: case.name.clone(),
                        resolution_note: String::new(),
                    },
                    &token,
                ))
                .await
                .unwrap_err(),
        ];
        for refused in refusals {
            assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
            assert!(
                !refused.message().contains(GOVERNOR),
                "{}",
                refused.message()
            );
            assert!(!refused.message().contains("gov-"), "{}", refused.message());
        }
    }
    // A governor of the block who does not hold the case (it went to a department) is
    // told only that the assignee acts, not who the assignee is.
    let unchanged = service.get(&world.admin(), &case.name).await;
    assert_eq!(state(&unchanged), proto::CaseState::Dispatched);
    service.stop().await;
}

#[tokio::test]
async fn a_case_the_caller_may_not_see_is_answered_exactly_like_one_that_does_not_exist() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched(&world, &service, "lamp").await;
    let missing = format!("cases/{}", uuid::Uuid::now_v7());
    for token in [
        world.other_resident(),
        world.neighbour_governor(),
        world.other_dispatcher(),
        world.department("market_supervision"),
    ] {
        let mut client = service.client();
        let foreign = client
            .get_case(with_token(
                proto::GetCaseRequest {
                    name: case.name.clone(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        let absent = client
            .get_case(with_token(
                proto::GetCaseRequest {
                    name: missing.clone(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(foreign.code(), Code::NotFound);
        assert_eq!(absent.code(), Code::NotFound);
        assert_eq!(
            foreign.message().replace(&case.name, "X"),
            absent.message().replace(&missing, "X")
        );
        let history = client
            .get_case_history(with_token(
                proto::GetCaseHistoryRequest {
                    name: case.name.clone(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(history.code(), Code::NotFound);
    }
    // Lists never show it either.
    let listed = service
        .client()
        .list_cases(with_token(
            proto::ListCasesRequest::default(),
            &world.other_resident(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.cases.is_empty(), "{listed:?}");
    service.stop().await;
}

#[tokio::test]
async fn a_request_id_reused_with_other_content_is_refused_and_one_callers_id_never_answers_for_another()
 {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let first = report(&service, &world.resident(), street_light_report("ticket-1"))
        .await
        .case
        .unwrap();
    let mut different = street_light_report("ticket-1");
    different.location = Some(point_in_neighbour());
    different.description = "another matter entirely".into();
    let refused = service
        .client()
        .report_case(with_token(different, &world.resident()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, ["request_id"]);
    assert!(!refused.message().contains(&first.name));

    let mut far = street_light_report("ticket-1");
    far.location = Some(point_in_neighbour());
    let someone_else = report(&service, &world.other_resident(), far)
        .await
        .case
        .unwrap();
    assert_ne!(someone_else.name, first.name);
    let retry = report(&service, &world.resident(), street_light_report("ticket-1"))
        .await
        .case
        .unwrap();
    assert_eq!(retry.name, first.name);
    service.stop().await;
}

#[tokio::test]
async fn a_dispatcher_dismisses_a_report_with_a_reason_and_no_one_else_may_close_it() {
    let world = World::new();
    // Blocks and duties stay down: the report waits for triage, undispatched.
    let service = world.start().await;
    let case = report(&service, &world.resident(), street_light_report("dup"))
        .await
        .case
        .unwrap();
    for token in [world.governor(), world.resident(), world.integrator()] {
        let refused = service
            .client()
            .close_case(with_token(
                proto::CloseCaseRequest {
                    name: case.name.clone(),
                    reason: "duplicate".into(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let without_reason = service
        .client()
        .close_case(with_token(
            proto::CloseCaseRequest {
                name: case.name.clone(),
                reason: String::new(),
            },
            &world.admin(),
        ))
        .await
        .unwrap_err();
    assert_eq!(without_reason.code(), Code::InvalidArgument);
    let closed = service
        .client()
        .close_case(with_token(
            proto::CloseCaseRequest {
                name: case.name.clone(),
                reason: "a duplicate of a report from the same caller".into(),
            },
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&closed), proto::CaseState::Closed);
    let history = service.history(&world.admin(), &case.name).await;
    let last = history.last().unwrap();
    assert!(last.reason.contains("duplicate"), "{last:?}");
    service.stop().await;
}

#[tokio::test]
async fn writes_and_reads_of_contacts_are_audited_with_the_caller_and_the_case_and_refusals_too() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched(&world, &service, "lamp").await;
    service.get(&world.dispatcher(), &case.name).await;
    let refused = service
        .client()
        .accept_case(with_token(
            proto::AcceptCaseRequest {
                name: case.name.clone(),
            },
            &world.supervisor(),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let records = audit_records(&service, &world.admin(), &case.name).await;
    let summary: Vec<(String, String, String)> = records
        .iter()
        .map(|record| {
            (
                record.method.clone(),
                record.subject.clone(),
                record.outcome.clone(),
            )
        })
        .collect();
    assert!(
        summary.contains(&("ReportCase".into(), "resident-42".into(), "OK".into())),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("GetCase".into(), "disp-001".into(), "OK".into())),
        "{summary:?}"
    );
    // A refused call touched nothing, so it names no resource; it is in the trail all
    // the same.
    let all = audit_records(&service, &world.admin(), "").await;
    assert!(
        all.iter().any(|record| record.method == "AcceptCase"
            && record.subject == SUPERVISOR
            && record.outcome == "PERMISSION_DENIED"),
        "{all:?}"
    );
    for record in &all {
        let text = format!("{record:?}");
        assert!(
            !text.contains("13900001111") && !text.contains("李四"),
            "{text}"
        );
    }
    let verified = AuditTrailClient::connect(service.application.grpc_url())
        .await
        .unwrap()
        .verify_audit_trail(with_token(
            audit::VerifyAuditTrailRequest {},
            &world.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.intact, "{verified:?}");
    service.stop().await;
}

#[tokio::test]
async fn the_service_cannot_rewrite_or_delete_a_cases_history() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    dispatched(&world, &service, "lamp").await;
    let mut application = sqlx::PgConnection::connect(&world.application_database_url())
        .await
        .unwrap();
    for statement in [
        "update case_records set record = '{}'::jsonb",
        "delete from case_records",
        "delete from me_too_reports",
    ] {
        let refused = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut application)
            .await
            .expect_err(statement);
        let code = refused
            .as_database_error()
            .and_then(|error| error.code().map(|code| code.into_owned()));
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {refused}");
    }
    let records: i64 = sqlx::query_scalar("select count(*) from case_records")
        .fetch_one(&mut application)
        .await
        .unwrap();
    assert!(records >= 3, "report, triage and dispatch are recorded");
    service.stop().await;
}

#[tokio::test]
async fn open_cases_are_counted_per_block_for_those_who_see_them_and_for_no_one_else() {
    let world = World::new();
    let _directory = world.start_directory().await;
    let service = world.start().await;
    let case = dispatched(&world, &service, "counted-lamp").await;
    let block_code = case.block.trim_start_matches("blocks/").to_owned();
    let count = |token: String, subdistrict_code: &str| {
        let mut client = service.client();
        let request = proto::CountOpenCasesRequest {
            subdistrict_code: subdistrict_code.to_owned(),
        };
        async move {
            client
                .count_open_cases(with_token(request, &token))
                .await
                .map(|answer| answer.into_inner().blocks)
        }
    };

    for token in [world.admin(), world.dispatcher()] {
        let blocks = count(token, "").await.expect("counts");
        assert_eq!(
            blocks,
            [proto::BlockCaseCount {
                block_code: block_code.clone(),
                open: 1,
                overdue: 0,
            }]
        );
    }
    let narrowed = count(world.admin(), SUBDISTRICT).await.expect("counts");
    assert_eq!(narrowed.len(), 1);
    let elsewhere = count(world.admin(), "430302002").await.expect("counts");
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    for token in [
        world.other_dispatcher(),
        world.neighbour_governor(),
        world.department("market_supervision"),
        world.other_resident(),
    ] {
        let blocks = count(token, "").await.expect("counts");
        assert!(blocks.is_empty(), "a case they may not see: {blocks:?}");
    }

    let refused = count(world.admin(), "43030200x").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, ["subdistrict_code"]);
    service.stop().await;
}
