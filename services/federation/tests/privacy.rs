//! People's data over time (PIPL): consent to the register, its
//! withdrawal, retention after support ends, and the export for an access
//! request — through the API, against real PostgreSQL and NATS.

mod common;

use chrono::{Months, Utc};
use common::*;
use flatgov_proto::federation::v1 as proto;
use flatgov_testkit::with_token;
use tonic::Code;

/// A person registered by the women's federation with a plan of two
/// measures (one by the Red Cross), an assessment and a visit; the
/// register token and the plan.
async fn supported_person(
    federation: &Federation,
    number: &str,
) -> (String, proto::Person, proto::SupportPlan) {
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let person = federation
        .client()
        .register_person(with_token(person_request("王桂兰", number), &womens))
        .await
        .expect("registered")
        .into_inner();
    federation
        .client()
        .create_assessment(with_token(
            proto::CreateAssessmentRequest {
                parent: person.name.clone(),
                request_id: String::new(),
                needs: vec![proto::Need {
                    area: proto::NeedArea::Income as i32,
                    severity: proto::Severity::High as i32,
                    description: "丈夫去世后无固定收入".into(),
                }],
                summary: "需临时救助".into(),
                assess_time: None,
            },
            &womens,
        ))
        .await
        .expect("assessed");
    let plan = federation
        .client()
        .create_support_plan(with_token(
            proto::CreateSupportPlanRequest {
                request_id: String::new(),
                plan: Some(proto::SupportPlanInput {
                    person: person.name.clone(),
                    goal: "渡过丧偶后的困难期".into(),
                    measures: vec![
                        measure(
                            "womens_federation",
                            proto::MeasureKind::Companionship,
                            "每周探访",
                        ),
                        measure("red_cross", proto::MeasureKind::MaterialAid, "米面油"),
                    ],
                    ..Default::default()
                }),
                referral: String::new(),
            },
            &womens,
        ))
        .await
        .expect("plan created")
        .into_inner();
    federation
        .client()
        .log_visit(with_token(
            proto::LogVisitRequest {
                parent: plan.name.clone(),
                request_id: String::new(),
                kind: proto::VisitKind::HomeVisit as i32,
                visit_time: None,
                notes: "情绪低落，邻居常来照看".into(),
            },
            &womens,
        ))
        .await
        .expect("visit logged");
    (womens, person, plan)
}

#[tokio::test]
async fn registering_a_person_without_their_consent_is_refused_and_writes_nothing() {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let mut request = person_request("陈淑芬", &id_number("43030219500101002"));
    request.consent = None;
    let status = assert_code(
        federation
            .client()
            .register_person(with_token(request, &womens))
            .await,
        Code::InvalidArgument,
        "consent",
    );
    let details =
        tonic_types::StatusExt::get_details_bad_request(&status).expect("field violations");
    assert_eq!(details.field_violations[0].field, "consent");
    assert!(
        details.field_violations[0]
            .description
            .contains("only with their consent")
    );
    assert_eq!(federation.count("select count(*) from people").await, 0);
    assert_eq!(
        federation
            .count("select count(*) from person_registrations")
            .await,
        0
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_person_who_withdraws_consent_is_anonymised_their_plans_end_and_nothing_more_is_recorded_about_them()
 {
    let federation = Federation::start().await;
    let number = id_number("43030219580817002");
    let (womens, person, plan) = supported_person(&federation, &number).await;

    let withdrawn = federation
        .client()
        .withdraw_consent(with_token(
            proto::WithdrawConsentRequest {
                name: person.name.clone(),
                method: proto::ConsentMethod::Written as i32,
                withdraw_time: None,
                document_reference: "WF-2026-0042-W".into(),
            },
            &womens,
        ))
        .await
        .expect("withdrawn")
        .into_inner();
    assert_eq!(withdrawn.name, person.name);
    assert!(withdrawn.consent_withdraw_time.is_some());
    assert!(withdrawn.erase_time.is_some());
    assert_eq!(
        withdrawn.erasure_reason,
        proto::ErasureReason::ConsentWithdrawn as i32
    );
    for (field, value) in [
        ("full_name", &withdrawn.full_name),
        ("id_number_masked", &withdrawn.id_number_masked),
        ("birth_date", &withdrawn.birth_date),
        ("phone", &withdrawn.phone),
        ("address", &withdrawn.address),
        ("block_code", &withdrawn.block_code),
        ("circumstances", &withdrawn.circumstances),
    ] {
        assert!(value.is_empty(), "{field} is erased, was {value:?}");
    }
    assert_eq!(withdrawn.gender, proto::Gender::Unspecified as i32);
    // Kept: the categories (indicators) and proof of the consent that
    // made the processing lawful while it lasted.
    assert_eq!(withdrawn.categories, person.categories);
    let consent = withdrawn.registrations[0].consent.as_ref().unwrap();
    assert_eq!(consent.document_reference, "WF-2026-0042");

    // The plan ended with the undelivered measures withdrawn; its words
    // are gone, its measures (what relief was promised) stay.
    let ended = federation
        .client()
        .get_support_plan(with_token(
            proto::GetSupportPlanRequest {
                name: plan.name.clone(),
            },
            &womens,
        ))
        .await
        .expect("plan readable")
        .into_inner();
    assert_eq!(ended.state, proto::SupportPlanState::Ended as i32);
    assert!(ended.goal.is_empty() && ended.close_note.is_empty());
    assert!(
        ended
            .measures
            .iter()
            .all(|measure| measure.state == proto::MeasureState::Withdrawn as i32)
    );
    assert_eq!(
        federation
            .count("select count(*) from visits where notes <> ''")
            .await,
        0,
        "visit notes are erased"
    );
    assert_eq!(
        federation
            .count("select count(*) from support_measures where description <> ''")
            .await,
        0,
        "what a measure promised, in words, is erased; its kind and state stay"
    );
    assert_eq!(
        federation
            .count(
                "select count(*) from assessments where summary <> '' or needs::text like '%收入%'"
            )
            .await,
        0,
        "the assessment's words are erased, its areas kept"
    );

    // Processing has stopped.
    assert_code(
        federation
            .client()
            .create_support_plan(with_token(
                proto::CreateSupportPlanRequest {
                    request_id: String::new(),
                    plan: Some(proto::SupportPlanInput {
                        person: person.name.clone(),
                        goal: "再试一次".into(),
                        measures: vec![measure(
                            "womens_federation",
                            proto::MeasureKind::Companionship,
                            "探访",
                        )],
                        ..Default::default()
                    }),
                    referral: String::new(),
                },
                &womens,
            ))
            .await,
        Code::FailedPrecondition,
        "withdrew their consent",
    );
    assert_code(
        federation
            .client()
            .log_visit(with_token(
                proto::LogVisitRequest {
                    parent: plan.name.clone(),
                    request_id: String::new(),
                    kind: proto::VisitKind::PhoneCall as i32,
                    visit_time: None,
                    notes: "回访".into(),
                },
                &womens,
            ))
            .await,
        Code::FailedPrecondition,
        "withdrew their consent",
    );
    assert_code(
        federation
            .client()
            .create_assessment(with_token(
                proto::CreateAssessmentRequest {
                    parent: person.name.clone(),
                    request_id: String::new(),
                    needs: vec![proto::Need {
                        area: proto::NeedArea::Income as i32,
                        severity: proto::Severity::Low as i32,
                        description: "复评".into(),
                    }],
                    summary: String::new(),
                    assess_time: None,
                },
                &womens,
            ))
            .await,
        Code::FailedPrecondition,
        "withdrew their consent",
    );
    assert_code(
        federation
            .client()
            .update_person(with_token(
                proto::UpdatePersonRequest {
                    name: person.name.clone(),
                    phone: Some("13900000000".into()),
                    ..Default::default()
                },
                &womens,
            ))
            .await,
        Code::FailedPrecondition,
        "withdrew their consent",
    );
    assert_code(
        federation
            .client()
            .withdraw_consent(with_token(
                proto::WithdrawConsentRequest {
                    name: person.name.clone(),
                    method: proto::ConsentMethod::Oral as i32,
                    withdraw_time: None,
                    document_reference: String::new(),
                },
                &womens,
            ))
            .await,
        Code::FailedPrecondition,
        "withdrew their consent already",
    );

    // The ID number no longer leads to the old record: registering the
    // person again, with new consent, starts a new one.
    let again = federation
        .client()
        .register_person(with_token(person_request("王桂兰", &number), &womens))
        .await
        .expect("registered anew")
        .into_inner();
    assert_ne!(again.name, person.name);

    // The withdrawal is in the audit trail; the event announcing the
    // ended plan carries no personal data.
    let trail = flatgov_audit::list(
        federation.application.pool(),
        &flatgov_audit::ListFilter {
            resource: Some(person.name.clone()),
            before_id: None,
            limit: 100,
        },
    )
    .await
    .expect("audit trail");
    assert!(
        trail
            .iter()
            .any(|record| record.entry.method == "WithdrawConsent" && record.entry.outcome == "OK"),
        "{trail:?}"
    );
    let events = federation.committed_events().await;
    let closed: Vec<_> = events
        .iter()
        .filter(|event| event.subject == "flatgov.federation.support_plan.closed")
        .collect();
    assert_eq!(closed.len(), 1);
    for event in &events {
        let payload = String::from_utf8_lossy(&event.payload);
        for personal in ["王桂兰", "13812345678", &number[..]] {
            assert!(
                !payload.contains(personal),
                "{personal} leaked into an event"
            );
        }
    }
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_record_is_anonymised_once_its_retention_after_support_ends_runs_out_and_not_before() {
    let federation = Federation::start().await;
    let (womens, person, plan) =
        supported_person(&federation, &id_number("43030219610203002")).await;
    let pool = federation.application.pool();
    let now = Utc::now();
    let five_years = 60;
    let far_future = now.checked_add_months(Months::new(10 * 12)).unwrap();

    // While support goes on, the record stays however long it lasts.
    assert_eq!(
        flatgov_federation::retention::run_once(pool, five_years, far_future)
            .await
            .unwrap(),
        0
    );
    federation
        .client()
        .close_support_plan(with_token(
            proto::CloseSupportPlanRequest {
                name: plan.name.clone(),
                state: proto::SupportPlanState::Completed as i32,
                note: "已渡过难关".into(),
            },
            &womens,
        ))
        .await
        .expect("closed");
    let almost = now.checked_add_months(Months::new(59)).unwrap();
    assert_eq!(
        flatgov_federation::retention::run_once(pool, five_years, almost)
            .await
            .unwrap(),
        0,
        "kept until the retention runs out"
    );
    let kept = federation
        .client()
        .get_person(with_token(
            proto::GetPersonRequest {
                name: person.name.clone(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.full_name, "王桂兰");

    let expired = now.checked_add_months(Months::new(61)).unwrap();
    assert_eq!(
        flatgov_federation::retention::run_once(pool, five_years, expired)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        flatgov_federation::retention::run_once(pool, five_years, expired)
            .await
            .unwrap(),
        0,
        "an erased record is erased once"
    );
    let erased = federation
        .client()
        .get_person(with_token(
            proto::GetPersonRequest {
                name: person.name.clone(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(erased.full_name.is_empty() && erased.phone.is_empty());
    assert_eq!(
        erased.erasure_reason,
        proto::ErasureReason::RetentionExpired as i32
    );
    assert!(erased.consent_withdraw_time.is_none());
    let trail = flatgov_audit::list(
        pool,
        &flatgov_audit::ListFilter {
            resource: Some(person.name.clone()),
            before_id: None,
            limit: 100,
        },
    )
    .await
    .expect("audit trail");
    assert!(
        trail
            .iter()
            .any(|record| record.entry.subject == flatgov_federation::retention::WORKER),
        "the erasure is audited: {trail:?}"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_district_administrators_export_everything_held_about_a_person_and_each_export_is_audited()
 {
    let federation = Federation::start().await;
    let number = id_number("43030219700704002");
    let (womens, person, plan) = supported_person(&federation, &number).await;
    let export = |request: proto::ExportPersonalDataRequest, token: String| {
        let mut client = federation.client();
        async move {
            client
                .export_personal_data(with_token(request, &token))
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let by_number = proto::ExportPersonalDataRequest {
        id_number: number.clone(),
        phone: String::new(),
    };
    assert_code(
        export(by_number.clone(), womens.clone()).await,
        Code::PermissionDenied,
        "",
    );
    assert_code(
        export(
            proto::ExportPersonalDataRequest::default(),
            federation.admin(),
        )
        .await,
        Code::InvalidArgument,
        "id_number",
    );
    assert_code(
        export(
            proto::ExportPersonalDataRequest {
                id_number: "430302".into(),
                phone: String::new(),
            },
            federation.admin(),
        )
        .await,
        Code::InvalidArgument,
        "id_number",
    );

    let exported = export(by_number, federation.admin())
        .await
        .expect("exported");
    assert_eq!(exported.people.len(), 1);
    assert_eq!(exported.people[0].name, person.name);
    assert_eq!(exported.people[0].full_name, "王桂兰");
    assert_eq!(exported.people[0].phone, "13812345678");
    assert_eq!(exported.assessments.len(), 1);
    assert_eq!(exported.assessments[0].summary, "需临时救助");
    assert_eq!(exported.support_plans.len(), 1);
    assert_eq!(exported.support_plans[0].name, plan.name);
    assert_eq!(exported.support_plans[0].measures.len(), 2);
    assert_eq!(exported.visits.len(), 1);
    assert_eq!(exported.visits[0].notes, "情绪低落，邻居常来照看");

    // The phone finds the same record, however it is typed.
    let by_phone = export(
        proto::ExportPersonalDataRequest {
            id_number: String::new(),
            phone: "138-1234-5678".into(),
        },
        federation.admin(),
    )
    .await
    .expect("exported");
    assert_eq!(by_phone.people.len(), 1);
    assert_eq!(by_phone.people[0].name, person.name);
    // Someone the register does not hold: an empty export, not an error.
    let nobody = export(
        proto::ExportPersonalDataRequest {
            id_number: id_number("43030219990909001"),
            phone: String::new(),
        },
        federation.admin(),
    )
    .await
    .expect("exported");
    assert!(nobody.people.is_empty() && nobody.support_plans.is_empty());

    let trail = flatgov_audit::list(
        federation.application.pool(),
        &flatgov_audit::ListFilter {
            resource: Some(person.name.clone()),
            before_id: None,
            limit: 100,
        },
    )
    .await
    .expect("audit trail");
    let exports: Vec<_> = trail
        .iter()
        .filter(|record| record.entry.method == "ExportPersonalData")
        .collect();
    assert_eq!(exports.len(), 2, "{trail:?}");
    assert!(exports[0].entry.resources.contains(&plan.name));
    for record in &exports {
        assert!(
            !record
                .entry
                .resources
                .iter()
                .any(|name| name.contains(&number)),
            "the audit trail never holds the ID number"
        );
    }
    federation.application.shutdown().await.unwrap();
}
