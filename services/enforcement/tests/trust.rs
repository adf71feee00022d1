//! Who may see and do what, over real gRPC against real PostgreSQL and
//! NATS: the policy table against the proto and the running service, the
//! scope checks that need data (an operation's place, the agencies it
//! summoned, the agency that holds an officer), answers that reveal
//! nothing, caller-scoped request ids, and the audit trail.

mod support;

use flatgov_auth::{Role, TokenRequest};
use flatgov_enforcement::policy::POLICY;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::enforcement::v1 as api;
use flatgov_testkit::{TestEnv, field_violations, with_token};
use sqlx::Connection as _;
use support::*;
use tonic::Code;
use tonic::transport::Channel;

/// A name for an operation that does not exist.
const MISSING_OPERATION: &str = "operations/0193a1b2-0000-7000-8000-00000000dead";

fn token(test: &TestEnv, subject: &str, roles: &[Role], jurisdiction: &str) -> String {
    test.auth.token_for(
        TokenRequest::new(subject, roles).jurisdiction(jurisdiction.parse().expect("jurisdiction")),
    )
}

/// The NOT_FOUND an operation that does not exist gets, with the name
/// replaced: what a caller out of reach must get, word for word.
fn as_if_missing(missing: &tonic::Status, name: &str) -> String {
    missing.message().replace(MISSING_OPERATION, name)
}

async fn audit_client(application: &flatgov_grpc::Application) -> AuditTrailClient<Channel> {
    AuditTrailClient::connect(application.grpc_url())
        .await
        .expect("connect to the audit trail")
}

async fn records_about(
    trail: &mut AuditTrailClient<Channel>,
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

/// An operation summoning urban management (lead) and market supervision,
/// both reported in, urban management with one inspection.
async fn working_operation(client: &mut Client, tokens: &Tokens) -> api::Operation {
    let urban_officer = officer(client, &tokens.urban, "urban_management", "UM-100").await;
    let market_officer = officer(client, &tokens.market, "market_supervision", "MS-100").await;
    let opened = blow(
        client,
        &tokens.dispatcher,
        whistle(&["urban_management", "market_supervision"], false),
    )
    .await;
    report_in(client, &tokens.urban, &opened.name, &[&urban_officer]).await;
    report_in(client, &tokens.market, &opened.name, &[&market_officer]).await;
    record(client, &tokens.urban, inspection(&opened.name)).await;
    get(client, &tokens.admin, &opened.name).await
}

#[tokio::test]
async fn every_rpc_has_a_rule_and_the_probe_finds_the_table_enforced_over_grpc() {
    assert_eq!(
        flatgov_testkit::authz::uncovered(&POLICY),
        Vec::<String>::new()
    );
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let report = flatgov_testkit::authz::probe(&application.grpc_url(), &POLICY, &test.auth).await;
    println!(
        "probe of {}: {} calls, {} refusals expected by the table, {} contradictions",
        POLICY.service,
        report.calls,
        report.refusals_expected,
        report.contradictions.len(),
    );
    let contradictions = &report.contradictions;
    assert!(contradictions.is_empty(), "{contradictions:#?}");
    assert!(report.calls >= POLICY.rules.len() * 10, "{report:?}");
    assert!(report.refusals_expected > report.calls / 2, "{report:?}");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_agency_that_was_not_summoned_finds_no_operation_and_learns_nothing_of_who_was() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let operation = working_operation(&mut client, &tokens).await;
    let name = operation.name.clone();
    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-100").await;

    let report = |operation: &str| api::ReportInRequest {
        operation: operation.into(),
        officers: vec![police_officer.clone()],
        note: "on our way".into(),
        ..Default::default()
    };
    let missing = client
        .report_in(with_token(report(MISSING_OPERATION), &tokens.police))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let refused = client
        .report_in(with_token(report(&name), &tokens.police))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert_eq!(refused.message(), as_if_missing(&missing, &name));

    // Every other door is shut the same way.
    let mut refusals = vec![
        client
            .get_operation(with_token(
                api::GetOperationRequest { name: name.clone() },
                &tokens.police,
            ))
            .await
            .unwrap_err(),
        client
            .record_action(with_token(inspection(&name), &tokens.police))
            .await
            .unwrap_err(),
        client
            .conclude_operation(with_token(
                api::ConcludeOperationRequest {
                    operation: name.clone(),
                    outcome: api::OperationOutcome::Resolved as i32,
                    summary: "done".into(),
                },
                &tokens.police,
            ))
            .await
            .unwrap_err(),
        client
            .summon_agency(with_token(
                api::SummonAgencyRequest {
                    operation: name.clone(),
                    agency: "public_security".into(),
                },
                &tokens.police,
            ))
            .await
            .unwrap_err(),
    ];
    refusals.push(refused);
    for refusal in &refusals {
        assert_eq!(refusal.code(), Code::NotFound, "{refusal:?}");
        assert_eq!(refusal.message(), as_if_missing(&missing, &name));
        for other in ["urban_management", "market_supervision", "UM-100", "MS-100"] {
            assert!(!refusal.message().contains(other), "{refusal:?}");
        }
    }
    // Lists narrow to what the caller reaches; a filter never widens them.
    for filter in ["", "urban_management"] {
        let listed = client
            .list_operations(with_token(
                api::ListOperationsRequest {
                    agency: filter.into(),
                    ..Default::default()
                },
                &tokens.police,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.operations.is_empty(), "{filter}: {listed:?}");
    }
    let unchanged = get(&mut client, &tokens.admin, &name).await;
    assert_eq!(unchanged.summons.len(), 2, "nobody was summoned");
    assert_eq!(unchanged.actions.len(), 1, "nothing was recorded");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn integrators_see_only_operations_in_their_jurisdiction_and_never_notes_or_people() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let operation = working_operation(&mut client, &tokens).await;
    let name = operation.name.clone();
    let mut noted = inspection(&name);
    noted.notes = "the owner, Mr Zhang, promised to remove it".into();
    record(&mut client, &tokens.market, noted).await;
    // A whistle placed in the subdistrict but in no block.
    let mut unplaced = whistle(&["urban_management"], false);
    unplaced.block_code = String::new();
    let unplaced = blow(&mut client, &tokens.dispatcher, unplaced).await;

    let elsewhere = token(
        &test,
        "feed-elsewhere",
        &[Role::Integrator],
        &format!("subdistricts/{OTHER_SUBDISTRICT}"),
    );
    let missing = client
        .get_operation(with_token(
            api::GetOperationRequest {
                name: MISSING_OPERATION.into(),
            },
            &elsewhere,
        ))
        .await
        .unwrap_err();
    let refused = client
        .get_operation(with_token(
            api::GetOperationRequest { name: name.clone() },
            &elsewhere,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(refused.message(), as_if_missing(&missing, &name));
    let listed = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &elsewhere,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.operations.is_empty(), "{listed:?}");
    let now = chrono::Utc::now().timestamp();
    let period = |subdistrict: &str| api::GetIndicatorsRequest {
        period_start: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        period_end: Some(prost_types::Timestamp {
            seconds: now + 3600,
            nanos: 0,
        }),
        subdistrict_code: subdistrict.into(),
        agency: String::new(),
    };
    let figures = client
        .get_indicators(with_token(period(""), &elsewhere))
        .await
        .unwrap()
        .into_inner();
    assert!(
        figures.agencies.is_empty() && figures.subdistricts.is_empty(),
        "no figures of another jurisdiction: {figures:?}"
    );
    let outside = client
        .get_indicators(with_token(period(SUBDISTRICT), &elsewhere))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);

    // An integrator of the block sees the block's operation, not the one
    // placed only in the subdistrict.
    let block_feed = token(
        &test,
        "feed-block",
        &[Role::Integrator],
        &format!("blocks/{BLOCK}"),
    );
    let in_block = client
        .list_operations(with_token(
            api::ListOperationsRequest::default(),
            &block_feed,
        ))
        .await
        .unwrap()
        .into_inner()
        .operations;
    let names: Vec<&str> = in_block.iter().map(|seen| seen.name.as_str()).collect();
    assert_eq!(names, vec![name.as_str()]);
    let unplaced_refused = client
        .get_operation(with_token(
            api::GetOperationRequest {
                name: unplaced.name.clone(),
            },
            &block_feed,
        ))
        .await
        .unwrap_err();
    assert_eq!(unplaced_refused.code(), Code::NotFound);

    // What an integrator of the subdistrict sees: the operation, how many
    // officers came, what was done; never notes, names or staff ids.
    let seen = get(&mut client, &tokens.integrator, &name).await;
    assert_eq!(seen.summons.len(), 2);
    for summons in &seen.summons {
        assert_eq!(summons.officers.len(), 1, "the count of officers stays");
        assert_eq!(summons.officers[0], api::DispatchedOfficer::default());
        assert_eq!(summons.report_note, "");
    }
    assert_eq!(seen.blown_by, "");
    assert_eq!(seen.actions.len(), 2);
    for action in &seen.actions {
        assert_eq!(action.summary, "inspected the site");
        assert_eq!(action.notes, "");
        assert_eq!(action.recorded_by, "");
    }
    assert!(seen.actions[1].notes_redacted);
    let everything = format!("{seen:?}");
    for personal in [
        "Mr Zhang",
        "Officer UM-100",
        "UM-100",
        "officer-of-",
        "dispatcher-",
    ] {
        assert!(
            !everything.contains(personal),
            "an integrator sees {personal}"
        );
    }
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn police_notes_reach_only_the_police_and_every_read_of_an_operation_is_audited() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-200").await;
    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-200").await;
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "public_security"], false),
    )
    .await;
    let name = opened.name.clone();
    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    report_in(&mut client, &tokens.police, &name, &[&police_officer]).await;
    let mut investigation = inspection(&name);
    investigation.summary = "questioned the owner".into();
    investigation.notes = "suspect has a record, file 2026-117".into();
    investigation.notes_sensitive = true;
    let recorded = record(&mut client, &tokens.police, investigation).await;
    assert_eq!(recorded.notes, "suspect has a record, file 2026-117");

    for (who, token) in [
        ("the co-summoned agency", &tokens.urban),
        ("the dispatcher", &tokens.dispatcher),
        ("the administrator", &tokens.admin),
        ("an integrator", &tokens.integrator),
    ] {
        let seen = get(&mut client, token, &name).await;
        assert_eq!(seen.actions[0].notes, "", "{who} reads police notes");
        assert!(seen.actions[0].notes_redacted, "{who}");
        assert_eq!(seen.actions[0].summary, "questioned the owner");
    }
    let police_view = get(&mut client, &tokens.police, &name).await;
    assert_eq!(
        police_view.actions[0].notes,
        "suspect has a record, file 2026-117"
    );

    let mut trail = audit_client(&application).await;
    let records = records_about(&mut trail, &tokens.admin, &name).await;
    let reads: Vec<&str> = records
        .iter()
        .filter(|record| record.method == "GetOperation")
        .map(|record| record.subject.as_str())
        .collect();
    assert_eq!(
        reads,
        vec![
            "officer-of-public_security",
            "integrator-1",
            "admin",
            "dispatcher-430302001",
            "officer-of-urban_management",
        ],
        "every read, newest first"
    );
    assert!(records.iter().any(|record| record.method == "RecordAction"
        && record.subject == "officer-of-public_security"
        && record.outcome == "OK"
        && record.resources.contains(&recorded.name)));
    for record in &records {
        assert!(
            !format!("{record:?}").contains("2026-117"),
            "the trail never holds the notes: {record:?}"
        );
    }
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_agencies_directory_is_public_while_officers_stay_with_those_who_work_with_them() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let unit = client
        .create_unit(with_token(
            api::CreateUnitRequest {
                parent: "agencies/urban_management".into(),
                display_name: "雨湖路街道城管中队".into(),
                stationed_subdistrict_code: SUBDISTRICT.into(),
                on_duty: true,
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .unwrap()
        .into_inner();
    let officer_name = officer(&mut client, &tokens.urban, "urban_management", "UM-300").await;

    // Without any token: the agencies and their stationed units.
    let agency = client
        .get_agency(tonic::Request::new(api::GetAgencyRequest {
            name: "agencies/public_security".into(),
        }))
        .await
        .expect("agencies are public")
        .into_inner();
    assert_eq!(agency.display_name, "区公安分局");
    let agencies = client
        .list_agencies(tonic::Request::new(api::ListAgenciesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .agencies;
    assert_eq!(agencies.len(), 3);
    let found = client
        .get_unit(tonic::Request::new(api::GetUnitRequest {
            name: unit.name.clone(),
        }))
        .await
        .expect("units are public")
        .into_inner();
    assert_eq!(found.stationed_subdistrict_code, SUBDISTRICT);
    let stationed = client
        .list_units(tonic::Request::new(api::ListUnitsRequest {
            stationed_subdistrict_code: SUBDISTRICT.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(stationed, vec![found]);

    // Officers are not: no token, no officer.
    let anonymous = client
        .get_officer(tonic::Request::new(api::GetOfficerRequest {
            name: officer_name.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let list_officers = |token: &str| {
        let mut client = client.clone();
        let token = token.to_owned();
        async move {
            client
                .list_officers(with_token(
                    api::ListOfficersRequest {
                        parent: "agencies/urban_management".into(),
                        ..Default::default()
                    },
                    &token,
                ))
                .await
                .map(|response| response.into_inner().officers)
        }
    };
    assert_eq!(
        list_officers(&tokens.integrator).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let by_police = list_officers(&tokens.police).await.unwrap_err();
    assert_eq!(by_police.code(), Code::PermissionDenied);
    assert!(!by_police.message().contains("UM-300"), "{by_police:?}");
    let own = list_officers(&tokens.urban).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].phone, "13800000000");
    let by_dispatcher = list_officers(&tokens.dispatcher).await.unwrap();
    assert_eq!(
        (
            by_dispatcher[0].display_name.as_str(),
            by_dispatcher[0].phone.as_str()
        ),
        ("Officer UM-300", ""),
        "dispatchers know who comes, not their phones"
    );

    // Another agency's officers do not exist for the police, to change
    // either; its units and its roster are not theirs to manage.
    let missing_officer = "agencies/urban_management/officers/0193a1b2-0000-7000-8000-00000000dead";
    let change = |name: &str| api::UpdateOfficerRequest {
        name: name.into(),
        phone: Some("13900000000".into()),
        ..Default::default()
    };
    let missing = client
        .update_officer(with_token(change(missing_officer), &tokens.police))
        .await
        .unwrap_err();
    let refused = client
        .update_officer(with_token(change(&officer_name), &tokens.police))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(
        refused.message(),
        missing.message().replace(missing_officer, &officer_name)
    );
    let foreign_unit = client
        .update_unit(with_token(
            api::UpdateUnitRequest {
                name: unit.name.clone(),
                on_duty: Some(false),
                ..Default::default()
            },
            &tokens.police,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign_unit.code(), Code::PermissionDenied);
    let foreign_officer = client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: "agencies/urban_management".into(),
                display_name: "冒名".into(),
                badge_number: "PS-X".into(),
                ..Default::default()
            },
            &tokens.police,
        ))
        .await
        .unwrap_err();
    assert_eq!(foreign_officer.code(), Code::PermissionDenied);

    // The agency's own officer changes the officer: the phone changes and
    // the unit is let go.
    let changed = client
        .update_officer(with_token(
            api::UpdateOfficerRequest {
                name: officer_name.clone(),
                unit: Some(String::new()),
                phone: Some("13900000000".into()),
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .expect("the agency updates its officer")
        .into_inner();
    assert_eq!(
        (changed.phone.as_str(), changed.unit.as_str()),
        ("13900000000", "")
    );
    let unit_after = client
        .get_unit(tonic::Request::new(api::GetUnitRequest {
            name: unit.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(unit_after.on_duty, "the police changed nothing");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_id_answers_only_its_own_caller_and_never_for_other_content() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let first = token(
        &test,
        "dispatcher-a",
        &[Role::SubdistrictDispatcher],
        &format!("subdistricts/{SUBDISTRICT}"),
    );
    let second = token(
        &test,
        "dispatcher-b",
        &[Role::SubdistrictDispatcher],
        &format!("subdistricts/{SUBDISTRICT}"),
    );
    let with_id = |description: &str| api::BlowWhistleRequest {
        request_id: "ticket-2026-0042".into(),
        description: description.into(),
        ..whistle(&["urban_management"], false)
    };
    let opened = blow(&mut client, &first, with_id("a shed on the pavement")).await;
    let retried = blow(&mut client, &first, with_id("a shed on the pavement")).await;
    assert_eq!(retried.name, opened.name);
    let reused = client
        .blow_whistle(with_token(with_id("something else entirely"), &first))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    let violations = field_violations(&reused);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "request_id");
    // The same id from another dispatcher is that dispatcher's own: a new
    // operation, never the first caller's.
    let theirs = blow(&mut client, &second, with_id("a shed on the pavement")).await;
    assert_ne!(theirs.name, opened.name);

    // Actions and officers retry the same way.
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-400").await;
    report_in(&mut client, &tokens.urban, &opened.name, &[&urban_officer]).await;
    let mut action = inspection(&opened.name);
    action.request_id = "inspection-1".into();
    let recorded = record(&mut client, &tokens.urban, action.clone()).await;
    let again = record(&mut client, &tokens.urban, action.clone()).await;
    assert_eq!(again.name, recorded.name);
    action.summary = "a different inspection".into();
    let reused_action = client
        .record_action(with_token(action, &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&reused_action)[0].field, "request_id");
    let operation = get(&mut client, &tokens.admin, &opened.name).await;
    assert_eq!(operation.actions.len(), 1, "the retry recorded nothing");

    let create = api::CreateOfficerRequest {
        parent: "agencies/urban_management".into(),
        request_id: "hire-7".into(),
        display_name: "赵".into(),
        badge_number: "UM-401".into(),
        phone: String::new(),
        unit: String::new(),
    };
    let hired = client
        .create_officer(with_token(create.clone(), &tokens.urban))
        .await
        .unwrap()
        .into_inner();
    let rehired = client
        .create_officer(with_token(create, &tokens.urban))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rehired.name, hired.name);

    let pool = sqlx::PgPool::connect(test.database.url()).await.unwrap();
    let operations: i64 = sqlx::query_scalar("select count(*) from operations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(operations, 2, "one per caller");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn callers_of_a_granted_role_but_another_place_or_agency_find_nothing_to_act_on() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let operation = working_operation(&mut client, &tokens).await;
    let name = operation.name.clone();
    let other = &tokens.other_dispatcher;

    let cancel = |operation: &str| api::CancelOperationRequest {
        operation: operation.into(),
        reason: "not ours".into(),
    };
    let missing = client
        .cancel_operation(with_token(cancel(MISSING_OPERATION), other))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let refusals = [
        client
            .cancel_operation(with_token(cancel(&name), other))
            .await
            .unwrap_err(),
        client
            .rate_agency(with_token(
                api::RateAgencyRequest {
                    operation: name.clone(),
                    agency: "urban_management".into(),
                    score: 1,
                    comment: String::new(),
                },
                other,
            ))
            .await
            .unwrap_err(),
        client
            .summon_agency(with_token(
                api::SummonAgencyRequest {
                    operation: name.clone(),
                    agency: "public_security".into(),
                },
                other,
            ))
            .await
            .unwrap_err(),
        client
            .get_operation(with_token(
                api::GetOperationRequest { name: name.clone() },
                other,
            ))
            .await
            .unwrap_err(),
    ];
    for refusal in &refusals {
        assert_eq!(refusal.code(), Code::NotFound, "{refusal:?}");
        assert_eq!(refusal.message(), as_if_missing(&missing, &name));
    }
    let listed = client
        .list_operations(with_token(
            api::ListOperationsRequest {
                subdistrict_code: SUBDISTRICT.into(),
                ..Default::default()
            },
            other,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.operations.is_empty());

    let now = chrono::Utc::now().timestamp();
    let figures = |subdistrict: &str, agency: &str| api::GetIndicatorsRequest {
        period_start: Some(prost_types::Timestamp {
            seconds: now - 3600,
            nanos: 0,
        }),
        period_end: Some(prost_types::Timestamp {
            seconds: now + 3600,
            nanos: 0,
        }),
        subdistrict_code: subdistrict.into(),
        agency: agency.into(),
    };
    let outside = client
        .get_indicators(with_token(figures(SUBDISTRICT, ""), other))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
    let foreign_agency = client
        .get_indicators(with_token(figures("", "urban_management"), &tokens.market))
        .await
        .unwrap_err();
    assert_eq!(foreign_agency.code(), Code::PermissionDenied);
    let own = client
        .get_indicators(with_token(figures("", ""), &tokens.market))
        .await
        .unwrap()
        .into_inner();
    let agencies: Vec<&str> = own.agencies.iter().map(|row| row.agency.as_str()).collect();
    assert_eq!(agencies, vec!["agencies/market_supervision"]);
    assert!(
        own.subdistricts.is_empty(),
        "officers see their agency's figures, not the subdistricts'"
    );

    // A whistle for another subdistrict is refused before anything is opened.
    let elsewhere = client
        .blow_whistle(with_token(whistle(&["urban_management"], false), other))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::PermissionDenied);

    let unchanged = get(&mut client, &tokens.admin, &name).await;
    assert_eq!(state(&unchanged), api::OperationState::Open);
    assert_eq!(unchanged.summons.len(), 2);
    assert!(unchanged.ratings.is_empty());
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn writes_are_audited_with_who_what_and_outcome_and_refused_writes_too() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let mut request = whistle(&["urban_management"], false);
    request.description = "a kiosk blocks flat 3-502's fire exit".into();
    let opened = blow(&mut client, &tokens.dispatcher, request).await;
    let name = opened.name.clone();
    let refused = client
        .cancel_operation(with_token(
            api::CancelOperationRequest {
                operation: name.clone(),
                reason: "not ours".into(),
            },
            &tokens.other_dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let not_granted = client
        .record_action(with_token(inspection(&name), &tokens.integrator))
        .await
        .unwrap_err();
    assert_eq!(not_granted.code(), Code::PermissionDenied);

    let mut trail = audit_client(&application).await;
    let about = records_about(&mut trail, &tokens.admin, &name).await;
    let whistles: Vec<&audit::AuditRecord> = about
        .iter()
        .filter(|record| record.method == "BlowWhistle")
        .collect();
    assert_eq!(
        whistles.len(),
        1,
        "one record, written with the whistle: {about:?}"
    );
    let blown = whistles[0];
    assert_eq!(blown.subject, "dispatcher-430302001");
    assert_eq!(blown.roles, ["subdistrict_dispatcher"]);
    assert_eq!(blown.service, "flatgov.enforcement.v1.JointEnforcement");
    assert_eq!(blown.outcome, "OK");
    assert_eq!(blown.resources, vec![name.clone()]);
    let cancel = about
        .iter()
        .find(|record| record.method == "CancelOperation")
        .expect("the refused cancellation is recorded");
    assert_eq!(cancel.subject, "dispatcher-430302002");
    assert_eq!(cancel.outcome, "NOT_FOUND");

    let all = records_about(&mut trail, &tokens.admin, "").await;
    let layer_refusal = all
        .iter()
        .find(|record| record.method == "RecordAction")
        .expect("the write refused by the table is recorded");
    assert_eq!(layer_refusal.subject, "integrator-1");
    assert_eq!(layer_refusal.outcome, "PERMISSION_DENIED");
    for record in &all {
        assert!(
            !format!("{record:?}").contains("3-502"),
            "no record carries what the caller wrote: {record:?}"
        );
    }
    let verified = trail
        .verify_audit_trail(with_token(audit::VerifyAuditTrailRequest {}, &tokens.admin))
        .await
        .unwrap()
        .into_inner();
    assert!(verified.intact, "{verified:?}");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_application_role_may_add_to_the_enforcement_record_but_never_rewrite_it() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let operation = working_operation(&mut client, &tokens).await;
    let mut order = inspection(&operation.name);
    order.details = Some(api::record_action_request::Details::RectificationOrder(
        api::RectificationOrder {
            requirement: "remove the shed".into(),
            deadline: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() + 3600,
                nanos: 0,
            }),
            ..Default::default()
        },
    ));
    let order = record(&mut client, &tokens.urban, order).await;
    let mut check = inspection(&operation.name);
    check.details = Some(api::record_action_request::Details::RectificationCheck(
        api::RectificationCheck {
            rectification_order: order.name.clone(),
            complied: true,
            findings: "removed".into(),
        },
    ));
    record(&mut client, &tokens.urban, check).await;
    let checked = get(&mut client, &tokens.admin, &operation.name).await;
    let Some(api::action::Details::RectificationOrder(details)) = &checked
        .actions
        .iter()
        .find(|action| action.name == order.name)
        .expect("the order")
        .details
    else {
        panic!("a rectification order");
    };
    assert_eq!(
        details.status,
        api::RectificationStatus::Complied as i32,
        "the order's clock moves while the order itself stays as written"
    );

    let app_url = flatgov_testkit::application_url(test.database.url());
    let mut app = sqlx::PgConnection::connect(&app_url).await.unwrap();
    for statement in [
        "update actions set summary = 'rewritten'",
        "delete from actions",
        "update summons_officers set officer_id = officer_id",
        "delete from summons_officers",
        "update ratings set score = 5",
        "delete from ratings",
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
    application.shutdown().await.unwrap();
}
