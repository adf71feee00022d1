//! Journey 4: a block governor on patrol finds an elderly woman living
//! alone who needs support; the case is referred to the federation; the
//! Women's Federation registers her (with her consent) and accepts the
//! referral with a support plan whose measures come from two
//! organisations; the case shows the acceptance and is handed to the
//! organisation; the Red Cross delivers its measure. No stream carries
//! who she is.

use flatgov_journeys::events::{STREAMS, assert_nowhere, count_about, types_about};
use flatgov_journeys::identity::with_check_character;
use flatgov_journeys::{PATIENCE, Platform, eventually, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::federation::v1 as federation;

use crate::support::*;

const SUBDISTRICT: &str = "430302004";
const LEAD_ORGANISATION: &str = "womens_federation";
const OTHER_ORGANISATION: &str = "red_cross";

fn timestamp_now() -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 60,
        nanos: 0,
    }
}

#[tokio::test]
async fn journey_a_needy_person_case_is_referred_to_the_federation_and_handed_to_the_organisation_that_takes_it_with_a_joint_plan()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let block_code = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let block = platform.demo_block(&block_code).await;
    let person_name = "孙桂英";
    let person_phone = "13607312468";
    let id_number = with_check_character("43030219480315002");
    let address = "雨湖区示例路 8 号 3 栋 201";

    // The governor reports from the patrol, with her contact.
    let governor = platform.governor(&block);
    let reported = platform
        .cases()
        .report_case(with_token(
            cases::ReportCaseRequest {
                request_id: "journey-4-needy".into(),
                kind: cases::CaseKind::NeedySupport as i32,
                channel: cases::Channel::Patrol as i32,
                location: Some(block.inside),
                block: String::new(),
                matter_code: "lonely_elderly_visit".into(),
                description: format!("独居老人{person_name}, 行动不便, 冬季缺少生活物资"),
                attachments: vec![],
                reporter: Some(cases::Contact {
                    name: person_name.into(),
                    phone: person_phone.into(),
                }),
                anonymous: false,
                urgent: false,
            },
            &governor,
        ))
        .await
        .expect("the governor reports from the patrol")
        .into_inner()
        .case
        .expect("the case");
    let name = reported.name;
    let referred = case_until(&platform, &name, "the referral to the federation", |case| {
        case.referral.as_ref().map(|referral| referral.state)
            == Some(cases::ReferralState::Pending as i32)
    })
    .await;
    assert_eq!(referred.assignee, format!("staff/{}", block.governor));
    assert_eq!(state(&referred), cases::CaseState::Dispatched);

    // The federation received it; its staff see the case without her data.
    let lead_staff =
        platform.federation_staff(&format!("{LEAD_ORGANISATION}-lead"), LEAD_ORGANISATION);
    let referral = eventually(
        "the federation to receive the referral",
        PATIENCE,
        || async {
            platform
                .federation()
                .list_referrals(with_token(
                    federation::ListReferralsRequest {
                        case: name.clone(),
                        page_size: 10,
                        ..Default::default()
                    },
                    &lead_staff,
                ))
                .await
                .ok()?
                .into_inner()
                .referrals
                .into_iter()
                .next()
        },
    )
    .await;
    assert_eq!(referral.state, federation::ReferralState::Pending as i32);
    assert_eq!(referral.block_code, block.code);
    assert_eq!(referral.subdistrict_code, SUBDISTRICT);
    let before = platform
        .cases()
        .get_case(with_token(
            cases::GetCaseRequest { name: name.clone() },
            &lead_staff,
        ))
        .await
        .expect("federation staff see a referred case")
        .into_inner();
    assert!(before.reporter.is_none() && before.personal_data_redacted);

    // The Women's Federation registers her with her written consent …
    let person = platform
        .federation()
        .register_person(with_token(
            federation::RegisterPersonRequest {
                request_id: "9b3c4e1a-4a7e-4d0e-9d3c-2f1e0a4b5c6d".into(),
                full_name: person_name.into(),
                id_number: id_number.clone(),
                phone: person_phone.into(),
                address: address.into(),
                block_code: block.code.clone(),
                categories: vec![federation::DifficultyCategory::ElderlyAlone as i32],
                circumstances: "独居, 子女在外地, 行动不便".into(),
                consent: Some(federation::Consent {
                    method: federation::ConsentMethod::Written as i32,
                    give_time: Some(timestamp_now()),
                    document_reference: "FL-2026-0315".into(),
                    guardian_name: String::new(),
                }),
            },
            &lead_staff,
        ))
        .await
        .expect("the person is registered")
        .into_inner();
    assert_eq!(person.birth_date, "1948-03-15");
    assert_eq!(person.gender, federation::Gender::Female as i32);

    // … and accepts the referral with a plan: its own visits, the Red
    // Cross's winter supplies.
    let accepted = platform
        .federation()
        .accept_referral(with_token(
            federation::AcceptReferralRequest {
                name: referral.name.clone(),
                support_plan: Some(federation::SupportPlanInput {
                    person: person.name.clone(),
                    assessment: String::new(),
                    goal: "保障冬季生活, 每周有人探访".into(),
                    measures: vec![
                        federation::MeasureInput {
                            organisation: LEAD_ORGANISATION.into(),
                            kind: federation::MeasureKind::Companionship as i32,
                            description: "巾帼志愿者每周上门探访一次".into(),
                            due_time: None,
                        },
                        federation::MeasureInput {
                            organisation: format!("organisations/{OTHER_ORGANISATION}"),
                            kind: federation::MeasureKind::MaterialAid as i32,
                            description: "冬季棉被一床, 米油一份".into(),
                            due_time: None,
                        },
                    ],
                    review_time: None,
                }),
                note: "妇联牵头, 红十字会提供物资".into(),
            },
            &lead_staff,
        ))
        .await
        .expect("the referral is accepted")
        .into_inner();
    assert_eq!(accepted.state, federation::ReferralState::Accepted as i32);
    let plan_name = accepted.support_plan.clone();
    assert!(plan_name.starts_with("support-plans/"), "{accepted:?}");

    // The case reflects it: accepted, with the organisation, showing the plan.
    let handed = case_until(
        &platform,
        &name,
        "the case to show the acceptance",
        |case| {
            case.referral.as_ref().map(|referral| referral.state)
                == Some(cases::ReferralState::Accepted as i32)
        },
    )
    .await;
    let on_case = handed.referral.clone().expect("the referral");
    assert_eq!(on_case.organisation, LEAD_ORGANISATION);
    assert_eq!(on_case.support_plan, plan_name);
    assert_eq!(on_case.referral, referral.name);
    assert_eq!(
        handed.assignee,
        format!("organisations/{LEAD_ORGANISATION}")
    );
    assert_eq!(state(&handed), cases::CaseState::Accepted);
    let for_organisation = platform
        .cases()
        .get_case(with_token(
            cases::GetCaseRequest { name: name.clone() },
            &lead_staff,
        ))
        .await
        .expect("the organisation sees its case")
        .into_inner();
    assert_eq!(
        for_organisation
            .reporter
            .map(|contact| contact.name)
            .as_deref(),
        Some(person_name),
        "the organisation that took the case sees who she is"
    );

    // The plan holds both organisations' measures; the Red Cross delivers.
    let plan = platform
        .federation()
        .get_support_plan(with_token(
            federation::GetSupportPlanRequest {
                name: plan_name.clone(),
            },
            &lead_staff,
        ))
        .await
        .expect("the plan")
        .into_inner();
    assert_eq!(plan.case, name);
    assert_eq!(plan.referral, referral.name);
    assert_eq!(plan.person, person.name);
    let organisations: Vec<&str> = plan
        .measures
        .iter()
        .map(|measure| measure.organisation.as_str())
        .collect();
    assert_eq!(
        organisations,
        [
            format!("organisations/{LEAD_ORGANISATION}"),
            format!("organisations/{OTHER_ORGANISATION}")
        ]
    );
    let red_cross_measure = plan.measures[1].name.clone();
    let delivered = platform
        .federation()
        .record_delivery(with_token(
            federation::RecordDeliveryRequest {
                measure: red_cross_measure,
                request_id: "4f6e2a1b-8c3d-4e5f-9a0b-1c2d3e4f5a6b".into(),
                description: "棉被一床, 大米 10 斤, 食用油 5 升已送到".into(),
                amount_fen: 0,
                deliver_time: None,
                completes_measure: true,
            },
            &platform.federation_staff(&format!("{OTHER_ORGANISATION}-worker"), OTHER_ORGANISATION),
        ))
        .await
        .expect("the Red Cross records its delivery")
        .into_inner();
    assert_eq!(delivered.state, federation::MeasureState::Delivered as i32);

    // Integrators saw the referral and its acceptance — and never her.
    let federation_events = platform
        .events_until("federation", "the acceptance on the stream", |events| {
            events
                .iter()
                .any(|event| event.is::<federation::ReferralAccepted>())
        })
        .await;
    let accepted_event: federation::ReferralAccepted = federation_events
        .iter()
        .find_map(|event| event.decode().ok())
        .expect("ReferralAccepted");
    assert_eq!(accepted_event.case, name);
    assert_eq!(accepted_event.organisation, LEAD_ORGANISATION);
    assert_eq!(accepted_event.support_plan, plan_name);
    let case_events = platform.events("cases").await;
    assert_eq!(count_about(&case_events, &name, "CaseReferred"), 1);
    let reported_event: cases::CaseReported = case_events
        .iter()
        .filter(|event| event.resource == name)
        .find_map(|event| event.decode().ok())
        .expect("CaseReported");
    assert!(
        reported_event.location.is_none(),
        "the home of a person in difficulty is not published"
    );
    let types = types_about(&case_events, &name);
    let referred_at = types.iter().position(|kind| *kind == "CaseReferred");
    let accepted_at = types.iter().rposition(|kind| *kind == "CaseAccepted");
    assert!(
        matches!((referred_at, accepted_at), (Some(referred), Some(accepted)) if referred < accepted),
        "{types:?}"
    );
    for service in STREAMS {
        let events = platform.events(service).await;
        for personal in [
            person_name,
            person_phone,
            id_number.as_str(),
            person.id_number_masked.as_str(),
            address,
        ] {
            assert_nowhere(service, &events, personal);
        }
    }
}
