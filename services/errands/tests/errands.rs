//! The errands service over real gRPC, PostgreSQL and NATS: the catalogue,
//! an errand's track with the one-time notice of missing materials and a
//! return, reach, refusals field by field, and the indicators.

mod support;

use chrono::TimeDelta;
use flatgov_auth::Role;
use flatgov_proto::errands::v1 as proto;
use flatgov_testkit::with_token;
use support::*;
use tonic::Code;

#[tokio::test]
async fn the_catalogue_is_public_labelled_in_chinese_by_default_and_english_on_request() {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let chinese = client
        .get_catalogue(proto::GetCatalogueRequest::default())
        .await
        .expect("anyone reads the catalogue")
        .into_inner();
    assert_eq!(chinese.version, 1);
    assert!(chinese.matters.len() >= 10);
    let pension = &chinese.matters[0];
    assert_eq!(pension.label, "养老金领取资格年审");
    assert_eq!(
        pension.deciding_department,
        "human_resources_social_security"
    );
    assert!(pension.proxy_allowed && pension.in_person_required);
    assert!(pension.promised_limit_days < pension.statutory_limit_days);
    let english = client
        .get_catalogue(proto::GetCatalogueRequest {
            version: 1,
            language: "en".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        english.matters[0].label,
        "Pension qualification annual review"
    );
    assert_eq!(
        english.matters[0].materials[0].label,
        "Resident identity card"
    );
    // A new version leaves the first as it was.
    let mut fewer = flatgov_demo::errands::demo_catalogue();
    fewer.truncate(3);
    let second = client
        .publish_catalogue(with_token(
            proto::PublishCatalogueRequest {
                matters: fewer,
                request_id: String::new(),
            },
            &service.test.auth.admin_token(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.version, 2);
    let first = client
        .get_catalogue(proto::GetCatalogueRequest {
            version: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.matters.len(), chinese.matters.len());
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pension_review_handled_at_home_runs_to_the_resident_told_with_every_step_recorded() {
    let service = Service::start().await;
    let requested = service.request("pension_annual_review").await;
    assert_eq!(requested.state, proto::ErrandState::Collecting as i32);
    assert_eq!(
        requested.missing_materials,
        vec!["id_card".to_owned(), "face_check".to_owned()]
    );
    let collected = service
        .collect(&requested.name, &["id_card", "face_check"])
        .await;
    assert!(collected.missing_materials.is_empty());
    let submitted = service.submit(&requested.name).await;
    assert_eq!(submitted.state, proto::ErrandState::Submitted as i32);
    let submit = submitted.submit_time.unwrap();
    let promised = submitted.promised_due.unwrap();
    let statutory = submitted.statutory_due.unwrap();
    assert!(submit.seconds < promised.seconds && promised.seconds < statutory.seconds);
    let decided = service
        .decide(
            &requested.name,
            "human_resources_social_security",
            proto::Result::Approved,
            &[],
        )
        .await;
    assert_eq!(decided.state, proto::ErrandState::Decided as i32);
    let told = service.tell(&requested.name).await;
    assert_eq!(told.state, proto::ErrandState::Completed as i32);
    assert_eq!(told.told_by, proto::TellingChannel::Call as i32);
    // Handled at home: the two usual trips saved.
    assert_eq!(told.resident_trips, 0);
    assert_eq!(told.trips_saved, 2);
    let actions: Vec<(&str, &str)> = told
        .transitions
        .iter()
        .map(|transition| (transition.action.as_str(), transition.actor_role.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("requested", "assistant"),
            ("materials_collected", "assistant"),
            ("submitted", "assistant"),
            ("approved", "department_officer"),
            ("resident_told", "assistant"),
        ]
    );
    assert!(
        told.transitions
            .iter()
            .all(|transition| transition.time.is_some())
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn missing_materials_are_told_once_and_in_full_and_a_return_opens_a_new_round() {
    let service = Service::start().await;
    let requested = service.request("subsistence_allowance").await;
    service
        .collect(&requested.name, &["id_card", "household_register"])
        .await;
    let mut client = service.client.clone();
    // Nothing goes to the department while something is missing.
    let early = client
        .submit_errand(with_token(
            proto::SubmitErrandRequest {
                errand: requested.name.clone(),
                resident_trip: false,
            },
            &service.assistant,
        ))
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    let notified = client
        .notify_missing_materials(with_token(
            proto::NotifyMissingMaterialsRequest {
                errand: requested.name.clone(),
            },
            &service.assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(notified.state, proto::ErrandState::AwaitingMaterials as i32);
    assert_eq!(
        notified.notices[0].materials,
        vec!["income_proof", "property_declaration", "authorisation"]
    );
    // Never piecemeal: a second notice of the same round is refused.
    let again = client
        .notify_missing_materials(with_token(
            proto::NotifyMissingMaterialsRequest {
                errand: requested.name.clone(),
            },
            &service.assistant,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("already told"));
    service
        .collect(
            &requested.name,
            &["income_proof", "property_declaration", "authorisation"],
        )
        .await;
    service.submit(&requested.name).await;
    let returned = service
        .decide(
            &requested.name,
            "civil_affairs",
            proto::Result::Returned,
            &["income_proof"],
        )
        .await;
    assert_eq!(returned.state, proto::ErrandState::Returned as i32);
    assert_eq!(returned.returns, 1);
    assert_eq!(returned.missing_materials, vec!["income_proof"]);
    // The return is a new round: one more notice, of what the department named.
    let second = client
        .notify_missing_materials(with_token(
            proto::NotifyMissingMaterialsRequest {
                errand: requested.name.clone(),
            },
            &service.assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.notices.len(), 2);
    assert_eq!(second.notices[1].round, 1);
    assert_eq!(second.notices[1].materials, vec!["income_proof"]);
    service.collect(&requested.name, &["income_proof"]).await;
    let resubmitted = service.submit(&requested.name).await;
    // The limits run from the first submission: a return does not restart them.
    assert_eq!(resubmitted.statutory_due, returned.statutory_due);
    let approved = service
        .decide(
            &requested.name,
            "civil_affairs",
            proto::Result::Approved,
            &[],
        )
        .await;
    assert_eq!(approved.result, proto::Result::Approved as i32);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_errand_is_seen_only_by_its_handlers_its_department_and_its_resident() {
    let service = Service::start().await;
    let requested = service.request("elderly_allowance").await;
    let get = |token: String| {
        let mut client = service.client.clone();
        let name = requested.name.clone();
        async move {
            client
                .get_errand(with_token(proto::GetErrandRequest { name }, &token))
                .await
        }
    };
    let neighbour = service.block_token("assistant-2", Role::Assistant, OTHER_BLOCK);
    assert_eq!(get(neighbour).await.unwrap_err().code(), Code::NotFound);
    let other_department = service.department_officer("public_security");
    assert_eq!(
        get(other_department).await.unwrap_err().code(),
        Code::NotFound
    );
    let stranger = service.resident("resident-someone-else");
    assert_eq!(get(stranger).await.unwrap_err().code(), Code::NotFound);
    let deciding = get(service.department_officer("civil_affairs"))
        .await
        .unwrap();
    assert_eq!(deciding.into_inner().resident.unwrap().name, "刘秀英");
    let own = get(service.resident("resident-liu")).await.unwrap();
    assert_eq!(own.into_inner().name, requested.name);
    let centre = get(service.dispatcher(SUBDISTRICT)).await.unwrap();
    assert_eq!(centre.into_inner().name, requested.name);
    // A list shows no resident and no documents, and only what the caller reaches.
    let listed = service
        .client
        .clone()
        .list_errands(with_token(
            proto::ListErrandsRequest::default(),
            &service.department_officer("civil_affairs"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.errands.len(), 1);
    assert!(listed.errands[0].resident.is_none());
    assert!(listed.errands[0].documents.is_empty());
    let none = service
        .client
        .clone()
        .list_errands(with_token(
            proto::ListErrandsRequest::default(),
            &service.department_officer("public_security"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(none.errands.is_empty());
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_field_by_field_without_echoing_personal_data_and_changes_nothing() {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let mut bad = request("no_such_matter");
    bad.block_code = "43030".into();
    bad.resident = Some(proto::Resident {
        name: String::new(),
        phone: "abc13800138000".into(),
        id_number: "110105194912310021".into(),
        account: String::new(),
    });
    let status = client
        .request_errand(with_token(bad, &service.assistant))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_details_bad_request(&status).unwrap();
    let fields: Vec<&str> = details
        .field_violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(
        fields,
        vec![
            "block_code",
            "resident.name",
            "resident.phone",
            "resident.id_number"
        ]
    );
    assert!(!status.message().contains("13800138000"));
    assert!(!status.message().contains("110105194912310021"));
    // A matter not in the catalogue, and a document for no item on the list.
    let unknown = client
        .request_errand(with_token(request("no_such_matter"), &service.assistant))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    let requested = service.request("pension_annual_review").await;
    let stray = client
        .collect_materials(with_token(
            proto::CollectMaterialsRequest {
                errand: requested.name.clone(),
                documents: vec![document("marriage_certificate")],
                resident_trip: false,
            },
            &service.assistant,
        ))
        .await
        .unwrap_err();
    assert_eq!(stray.code(), Code::InvalidArgument);
    let refusal = client
        .record_result(with_token(
            proto::RecordResultRequest {
                errand: requested.name.clone(),
                result: proto::Result::Refused as i32,
                ..Default::default()
            },
            &service.department_officer("human_resources_social_security"),
        ))
        .await
        .unwrap_err();
    assert_eq!(refusal.code(), Code::InvalidArgument);
    let unchanged = client
        .get_errand(with_token(
            proto::GetErrandRequest {
                name: requested.name.clone(),
            },
            &service.assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(unchanged.documents.is_empty());
    assert_eq!(unchanged.transitions.len(), 1);
    let listed = client
        .list_errands(with_token(
            proto::ListErrandsRequest::default(),
            &service.assistant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.errands.len(), 1);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_speed_up_rate_counts_the_errands_decided_before_their_statutory_limit() {
    let service = Service::start().await;
    let start = chrono::Utc::now() - TimeDelta::minutes(1);
    // Fast: the pension review decided at once, told by a call.
    let fast = service.request("pension_annual_review").await;
    service
        .collect(&fast.name, &["id_card", "face_check"])
        .await;
    service.submit(&fast.name).await;
    service
        .decide(
            &fast.name,
            "human_resources_social_security",
            proto::Result::Approved,
            &[],
        )
        .await;
    service.tell(&fast.name).await;
    // Slow: an unemployment registration (5 working days) decided six weeks on.
    let slow = service.request("unemployment_registration").await;
    service
        .collect(&slow.name, &["id_card", "termination_proof"])
        .await;
    service.submit(&slow.name).await;
    service
        .client
        .clone()
        .advance_test_clock(with_token(
            proto::AdvanceTestClockRequest {
                by: Some(prost_types::Duration {
                    seconds: 42 * 24 * 3600,
                    nanos: 0,
                }),
            },
            &service.test.auth.admin_token(),
        ))
        .await
        .expect("clock moved");
    service
        .decide(
            &slow.name,
            "human_resources_social_security",
            proto::Result::Approved,
            &[],
        )
        .await;
    let indicators = service
        .client
        .clone()
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                division_code: SUBDISTRICT.into(),
                period_start: Some(timestamp(start)),
                period_end: Some(timestamp(start + TimeDelta::days(60))),
            },
            &service.dispatcher(SUBDISTRICT),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(indicators.requested, 2);
    assert_eq!(indicators.decided, 2);
    assert_eq!(indicators.within_promised_limit, 1);
    assert!((indicators.speed_up_rate - 0.5).abs() < 1e-9);
    // The fast one saved almost its 20 days; the slow one was ~25 days late.
    assert!(indicators.mean_working_days_saved < 0.0);
    assert_eq!(indicators.trips_saved, 2);
    assert_eq!(indicators.by_matter_and_block.len(), 2);
    let department = &indicators.departments[0];
    assert_eq!(department.department, "human_resources_social_security");
    assert_eq!(department.decisions, 2);
    // Half of the six weeks (about thirty working days) on average.
    assert!(department.mean_working_hours_to_decide > 40.0);
    println!(
        "speed-up rate {:.2}, mean working days saved {:.2}, department mean working hours to decide {:.1}",
        indicators.speed_up_rate,
        indicators.mean_working_days_saved,
        department.mean_working_hours_to_decide
    );
    service.application.shutdown().await.unwrap();
}
