//! Journeys of the three-mediation linkage (三调联动), every service its own
//! process: a neighbour-noise dispute reported as a case fails in the
//! community, reaches an agreement at the justice office, is performed and
//! closes; a wage dispute is referred to the court. An integrator (a court,
//! a justice bureau) follows both on the mediation stream, which names the
//! case and never a party.

use flatgov_journeys::events::{assert_nowhere, short_type, types_about};
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::mediation::v1 as mediation;

use crate::support::*;

const SUBDISTRICT: &str = "430302001";

fn party(role: mediation::PartyRole, name: &str, phone: &str) -> mediation::Party {
    mediation::Party {
        role: role as i32,
        name: name.into(),
        phone: phone.into(),
        ..Default::default()
    }
}

fn now() -> prost_types::Timestamp {
    flatgov_grpc::time::timestamp(chrono::Utc::now())
}

fn current(dispute: &mediation::Dispute) -> &mediation::Stage {
    dispute.stages.last().expect("a dispute has a stage")
}

#[tokio::test]
async fn journey_a_neighbour_noise_case_is_mediated_by_the_community_then_the_justice_office_performed_and_closed()
 {
    let platform = Platform::start().await;
    platform.load_demo();
    let block = platform
        .block_codes(&format!("subdistricts/{SUBDISTRICT}"))
        .await
        .into_iter()
        .next()
        .expect("the subdistrict has blocks");
    let community = block[..12].to_owned();
    let resident = Resident::new("resident-zhang", "张伟", "13800138000");

    // The demo district hired legal advisers: one in each of 27 units and
    // one in every community, the dispute's among them.
    let admin = platform.admin();
    let mut advisers = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = platform
            .mediation()
            .list_advisers(with_token(
                mediation::ListAdvisersRequest {
                    division_code: String::new(),
                    page_size: 100,
                    page_token,
                },
                &admin,
            ))
            .await
            .expect("the district's advisers")
            .into_inner();
        advisers.extend(page.advisers);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let units = advisers
        .iter()
        .filter(|adviser| !adviser.unit.is_empty())
        .count();
    assert_eq!(units, 27);
    assert_eq!(
        advisers
            .iter()
            .filter(|adviser| adviser.community_code == community)
            .count(),
        1
    );

    // The dispute arrives as a case: cases stays the intake.
    let mut request = app_report(
        &resident,
        "neighbour_dispute",
        Default::default(),
        "楼上邻居深夜噪音, 多次沟通无果",
    );
    request.kind = cases::CaseKind::Dispute as i32;
    request.location = None;
    request.block = format!("blocks/{block}");
    request.matter_code = String::new();
    let case = report(&platform, &resident, request).await;

    let dispatcher = platform.dispatcher(SUBDISTRICT);
    let mut client = platform.mediation();
    let dispute = client
        .register_dispute(with_token(
            mediation::RegisterDisputeRequest {
                request_id: format!("dispute-of-{}", case.name),
                dispute: Some(mediation::Dispute {
                    case: case.name.clone(),
                    r#type: mediation::DisputeType::Neighbour as i32,
                    community_code: community.clone(),
                    summary: "楼上邻居深夜噪音".into(),
                    parties: vec![
                        party(mediation::PartyRole::Applicant, "张伟", "13800138000"),
                        party(mediation::PartyRole::Respondent, "李娜", "13900139000"),
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            },
            &dispatcher,
        ))
        .await
        .expect("dispute registered")
        .into_inner();
    assert_eq!(
        current(&dispute).organisation,
        format!("mediation_committee_{community}")
    );

    // The community's committee fails; the justice office takes it over.
    client
        .conclude_stage(with_token(
            mediation::ConcludeStageRequest {
                dispute: dispute.name.clone(),
                outcome: mediation::StageOutcome::Failed as i32,
            },
            &dispatcher,
        ))
        .await
        .expect("community mediation failed");
    let handed = client
        .hand_over_dispute(with_token(
            mediation::HandOverDisputeRequest {
                dispute: dispute.name.clone(),
                to_level: mediation::MediationLevel::Administrative as i32,
                organisation: String::new(),
                reason: "社区调解未果".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("handed to the justice office")
        .into_inner();
    assert_eq!(
        current(&handed).organisation,
        format!("justice_office_{SUBDISTRICT}")
    );
    let deadline = flatgov_grpc::time::timestamp(chrono::Utc::now() + chrono::TimeDelta::days(14));
    client
        .sign_agreement(with_token(
            mediation::SignAgreementRequest {
                dispute: dispute.name.clone(),
                terms: "晚十点后保持安静, 铺设地垫".into(),
                acceptances: vec![
                    mediation::Acceptance {
                        party: 1,
                        accept_time: Some(now()),
                    },
                    mediation::Acceptance {
                        party: 2,
                        accept_time: Some(now()),
                    },
                ],
                performance_deadline: Some(deadline),
            },
            &dispatcher,
        ))
        .await
        .expect("agreement signed");
    let closed = client
        .record_follow_up(with_token(
            mediation::RecordFollowUpRequest {
                dispute: dispute.name.clone(),
                performed: true,
                notes: "回访: 已无噪音".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("followed up")
        .into_inner();
    assert_eq!(closed.state, mediation::DisputeState::Closed as i32);

    let events = platform
        .events_until("mediation", "the dispute closes on the stream", |events| {
            types_about(events, &dispute.name).contains(&"DisputeClosed")
        })
        .await;
    assert_eq!(
        types_about(&events, &dispute.name),
        [
            "DisputeRegistered",
            "StageStarted",
            "StageConcluded",
            "StageStarted",
            "StageConcluded",
            "AgreementSigned",
            "AgreementPerformed",
            "DisputeClosed",
        ]
    );
    let registered: mediation::DisputeRegistered = events
        .iter()
        .find(|event| short_type(event) == "DisputeRegistered")
        .expect("registered")
        .decode()
        .expect("decodes");
    assert_eq!(registered.case, case.name);
    for secret in ["张伟", "李娜", "13800138000", "13900139000", "噪音"] {
        assert_nowhere("mediation", &events, secret);
    }
}

#[tokio::test]
async fn journey_a_wage_dispute_is_referred_to_the_court_which_reads_the_referral_on_the_stream() {
    let platform = Platform::start().await;
    let dispatcher = platform.dispatcher(SUBDISTRICT);
    let mut client = platform.mediation();
    let dispute = client
        .register_dispute(with_token(
            mediation::RegisterDisputeRequest {
                dispute: Some(mediation::Dispute {
                    r#type: mediation::DisputeType::Wages as i32,
                    community_code: format!("{SUBDISTRICT}004"),
                    summary: "装修公司拖欠工资".into(),
                    parties: vec![
                        party(mediation::PartyRole::Applicant, "赵强", "13700137000"),
                        party(
                            mediation::PartyRole::Respondent,
                            "某装修公司",
                            "073158880000",
                        ),
                    ],
                    ..Default::default()
                }),
                first_level: mediation::MediationLevel::Administrative as i32,
                organisation: "human_resources".into(),
                ..Default::default()
            },
            &dispatcher,
        ))
        .await
        .expect("dispute registered")
        .into_inner();
    let officer = platform.officer("human_resources");
    let referred = client
        .hand_over_dispute(with_token(
            mediation::HandOverDisputeRequest {
                dispute: dispute.name.clone(),
                to_level: mediation::MediationLevel::Judicial as i32,
                organisation: "yuhu_court".into(),
                reason: "用人单位拒不到场".into(),
            },
            &officer,
        ))
        .await
        .expect("referred to the court")
        .into_inner();
    assert_eq!(current(&referred).organisation, "yuhu_court");

    let events = platform
        .events_until("mediation", "the referral on the stream", |events| {
            types_about(events, &dispute.name)
                .iter()
                .filter(|kind| **kind == "StageStarted")
                .count()
                == 2
        })
        .await;
    let referral: mediation::StageStarted = events
        .iter()
        .rfind(|event| short_type(event) == "StageStarted")
        .expect("the referral")
        .decode()
        .expect("decodes");
    assert_eq!(referral.level, mediation::MediationLevel::Judicial as i32);
    assert_eq!(referral.organisation, "yuhu_court");
    assert_eq!(referral.r#type, mediation::DisputeType::Wages as i32);
    for secret in ["赵强", "13700137000", "拖欠", "拒不到场"] {
        assert_nowhere("mediation", &events, secret);
    }
}
