//! The mediation service over real gRPC against real PostgreSQL and NATS:
//! the two journeys, the overdue worker, the track's guards, and
//! disputes outside the caller's reach.

mod support;

use chrono::{TimeDelta, Utc};
use flatgov_auth::Role;
use flatgov_messaging::Envelope;
use flatgov_proto::mediation::v1 as proto;
use flatgov_testkit::events::{committed_envelopes, decoded, events_committed};
use flatgov_testkit::{eventually, field_violations, with_token};
use support::*;
use tonic::Code;

fn current(dispute: &proto::Dispute) -> &proto::Stage {
    dispute.stages.last().expect("a dispute has a stage")
}

async fn envelopes(service: &Service) -> Vec<Envelope> {
    let bus = service.test.bus().await;
    committed_envelopes(service.application.pool(), &bus, "mediation", PATIENCE).await
}

#[tokio::test]
async fn a_neighbour_noise_dispute_fails_in_the_community_reaches_agreement_at_the_justice_office_is_performed_and_closes()
 {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let registered = service.register(neighbour_noise()).await;
    assert_eq!(registered.parties.len(), 2);
    let first = current(&registered);
    assert_eq!(first.level, proto::MediationLevel::Peoples as i32);
    assert_eq!(first.organisation, "mediation_committee_430302001004");
    // People's mediation has 30 working days: at least six calendar weeks.
    let started = first.start_time.unwrap().seconds;
    assert!(first.due_time.unwrap().seconds - started >= 40 * 86_400);

    let dispute = registered.name.clone();
    client
        .assign_mediator(with_token(
            proto::AssignMediatorRequest {
                dispute: dispute.clone(),
                mediator: "王调解员".into(),
                adviser: String::new(),
            },
            &dispatcher,
        ))
        .await
        .expect("mediator assigned");
    client
        .record_session(with_token(
            proto::RecordSessionRequest {
                dispute: dispute.clone(),
                session: Some(proto::Session {
                    time: Some(timestamp(Utc::now())),
                    attendees: vec!["张伟".into(), "李娜".into(), "王调解员".into()],
                    notes: "双方各执一词，未能达成一致".into(),
                    ..Default::default()
                }),
            },
            &dispatcher,
        ))
        .await
        .expect("session recorded");
    let failed = client
        .conclude_stage(with_token(
            proto::ConcludeStageRequest {
                dispute: dispute.clone(),
                outcome: proto::StageOutcome::Failed as i32,
            },
            &dispatcher,
        ))
        .await
        .expect("stage concluded")
        .into_inner();
    assert_eq!(failed.state, proto::DisputeState::AwaitingHandOver as i32);

    let handed = client
        .hand_over_dispute(with_token(
            proto::HandOverDisputeRequest {
                dispute: dispute.clone(),
                to_level: proto::MediationLevel::Administrative as i32,
                organisation: String::new(),
                reason: "社区调解未果，移交司法所".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("handed over")
        .into_inner();
    let office = current(&handed);
    assert_eq!(office.number, 2);
    assert_eq!(office.organisation, "justice_office_430302001");
    assert_eq!(office.hand_over_reason, "社区调解未果，移交司法所");
    assert_eq!(office.trigger, proto::StageTrigger::HandedOver as i32);

    let deadline = Utc::now() + TimeDelta::days(14);
    let signed = client
        .sign_agreement(with_token(
            proto::SignAgreementRequest {
                dispute: dispute.clone(),
                terms: "李娜承诺晚十点后不再产生噪音，并铺设地垫".into(),
                acceptances: vec![
                    proto::Acceptance {
                        party: 1,
                        accept_time: Some(timestamp(Utc::now())),
                    },
                    proto::Acceptance {
                        party: 2,
                        accept_time: Some(timestamp(Utc::now())),
                    },
                ],
                performance_deadline: Some(timestamp(deadline)),
            },
            &dispatcher,
        ))
        .await
        .expect("agreement signed")
        .into_inner();
    assert_eq!(signed.state, proto::DisputeState::Performing as i32);
    let agreement = current(&signed).agreement.clone().expect("an agreement");
    assert_eq!(agreement.acceptances.len(), 2);
    let window = agreement.confirmation_window_closes.unwrap().seconds
        - agreement.sign_time.unwrap().seconds;
    assert_eq!(window, 30 * 86_400, "judicial confirmation within 30 days");

    let closed = client
        .record_follow_up(with_token(
            proto::RecordFollowUpRequest {
                dispute: dispute.clone(),
                performed: true,
                notes: "回访：噪音问题已解决".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("follow-up recorded")
        .into_inner();
    assert_eq!(closed.state, proto::DisputeState::Closed as i32);
    assert_eq!(
        closed.resolution,
        proto::DisputeResolution::Performed as i32
    );

    let envelopes = envelopes(&service).await;
    let kinds: Vec<&str> = envelopes.iter().map(|e| e.subject.as_str()).collect();
    let expected = [
        "dispute.registered",
        "stage.started",
        "stage.concluded",
        "stage.started",
        "stage.concluded",
        "agreement.signed",
        "agreement.performed",
        "dispute.closed",
    ];
    assert_eq!(kinds.len(), expected.len(), "{kinds:?}");
    for (subject, verb) in kinds.iter().zip(expected) {
        assert!(subject.ends_with(verb), "{kinds:?}");
    }
    // Integrators read every event without seeing a party, the summary,
    // the notes, the terms or the mediator.
    for envelope in &envelopes {
        assert_eq!(envelope.resource, dispute);
        for secret in ["张伟", "李娜", "13800138000", "噪音", "王调解员", "司法所"] {
            let payload = String::from_utf8_lossy(&envelope.payload);
            assert!(
                !payload.contains(secret),
                "{} carries {secret}",
                envelope.subject
            );
        }
    }
    let started: Vec<proto::StageStarted> = decoded(&envelopes);
    assert_eq!(started[1].previous_stage, 1);
    assert_eq!(started[1].organisation, "justice_office_430302001");
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wage_dispute_is_referred_to_the_court_and_the_court_reads_the_referral_as_an_event() {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let mut request = neighbour_noise();
    let dispute = request.dispute.as_mut().unwrap();
    dispute.r#type = proto::DisputeType::Wages as i32;
    dispute.case = String::new();
    dispute.summary = "装修公司拖欠三名工人工资共计两万元".into();
    dispute.parties = vec![
        party(proto::PartyRole::Applicant, "赵强", "13700137000"),
        party(proto::PartyRole::Applicant, "钱亮", "13700137001"),
        party(proto::PartyRole::Applicant, "孙明", "13700137002"),
        party(proto::PartyRole::Respondent, "某装修公司", "073158880000"),
    ];
    // Wage arrears go straight to the human-resources department.
    request.first_level = proto::MediationLevel::Administrative as i32;
    request.organisation = "human_resources".into();
    let registered = service.register(request).await;
    assert_eq!(current(&registered).organisation, "human_resources");

    // The department's officer works on the dispute while it mediates.
    let officer = service.department_officer("human_resources");
    let referred = client
        .hand_over_dispute(with_token(
            proto::HandOverDisputeRequest {
                dispute: registered.name.clone(),
                to_level: proto::MediationLevel::Judicial as i32,
                organisation: "yuhu_court".into(),
                reason: "用人单位拒不到场，诉调对接".into(),
            },
            &officer,
        ))
        .await
        .expect("referred to the court")
        .into_inner();
    assert_eq!(referred.stages.len(), 2);
    assert_eq!(
        referred.stages[0].outcome,
        proto::StageOutcome::Failed as i32
    );
    let court = current(&referred);
    assert_eq!(court.level, proto::MediationLevel::Judicial as i32);
    assert_eq!(court.organisation, "yuhu_court");
    assert_eq!(referred.state, proto::DisputeState::Mediating as i32);

    // Once the court holds it, the department no longer reaches it.
    let status = client
        .get_dispute(with_token(
            proto::GetDisputeRequest {
                name: registered.name.clone(),
            },
            &officer,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let started: Vec<proto::StageStarted> = decoded(&envelopes(&service).await);
    let referral = started.last().expect("a referral");
    assert_eq!(referral.level, proto::MediationLevel::Judicial as i32);
    assert_eq!(referral.organisation, "yuhu_court");
    assert_eq!(referral.r#type, proto::DisputeType::Wages as i32);
    assert_eq!(referral.trigger, proto::StageTrigger::HandedOver as i32);

    // Judicial mediation that fails leaves the parties to litigation.
    let closed = client
        .conclude_stage(with_token(
            proto::ConcludeStageRequest {
                dispute: registered.name.clone(),
                outcome: proto::StageOutcome::Failed as i32,
            },
            &service.dispatcher,
        ))
        .await
        .expect("concluded")
        .into_inner();
    assert_eq!(
        closed.resolution,
        proto::DisputeResolution::Litigation as i32
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn overdue_peoples_mediation_is_handed_to_the_justice_office_once_and_the_subdistrict_is_alerted()
 {
    let service = Service::start().await;
    let registered = service.register(neighbour_noise()).await;
    let admin = service.test.auth.admin_token();
    service
        .client
        .clone()
        .advance_test_clock(with_token(
            proto::AdvanceTestClockRequest {
                by: Some(prost_types::Duration {
                    seconds: 70 * 86_400,
                    nanos: 0,
                }),
            },
            &admin,
        ))
        .await
        .expect("clock moved");
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let name = registered.name.clone();
    let escalated = eventually("the overdue stage escalates", PATIENCE, || {
        let mut client = client.clone();
        let request = with_token(proto::GetDisputeRequest { name: name.clone() }, &dispatcher);
        async move {
            let dispute = client.get_dispute(request).await.ok()?.into_inner();
            (dispute.stages.len() == 2).then_some(dispute)
        }
    })
    .await;
    assert!(escalated.stages[0].overdue_time.is_some());
    let office = current(&escalated);
    assert_eq!(office.trigger, proto::StageTrigger::Overdue as i32);
    assert_eq!(office.organisation, "justice_office_430302001");

    // Several more passes change nothing: the limit fired once.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = client
        .get_dispute(with_token(proto::GetDisputeRequest { name }, &dispatcher))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.stages.len(), 2);
    let overdue: Vec<proto::StageOverdue> = decoded(&envelopes(&service).await);
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].subdistrict_code, SUBDISTRICT);
    assert_eq!(overdue[0].escalated_to_stage, 2);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_breached_agreement_reopens_the_dispute_where_it_was_agreed() {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let registered = service.register(neighbour_noise()).await;
    let accept = |party| proto::Acceptance {
        party,
        accept_time: Some(timestamp(Utc::now())),
    };
    // An agreement needs every party: one missing changes nothing.
    let status = client
        .sign_agreement(with_token(
            proto::SignAgreementRequest {
                dispute: registered.name.clone(),
                terms: "互相谅解".into(),
                acceptances: vec![accept(1)],
                performance_deadline: Some(timestamp(Utc::now() + TimeDelta::days(7))),
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status)[0].field, "acceptances");
    client
        .sign_agreement(with_token(
            proto::SignAgreementRequest {
                dispute: registered.name.clone(),
                terms: "互相谅解".into(),
                acceptances: vec![accept(2), accept(1)],
                performance_deadline: Some(timestamp(Utc::now() + TimeDelta::days(7))),
            },
            &dispatcher,
        ))
        .await
        .expect("signed");
    let reopened = client
        .record_follow_up(with_token(
            proto::RecordFollowUpRequest {
                dispute: registered.name.clone(),
                performed: false,
                notes: "回访：仍有噪音".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("follow-up")
        .into_inner();
    assert_eq!(reopened.state, proto::DisputeState::Mediating as i32);
    assert_eq!(
        reopened.stages[0].agreement.as_ref().unwrap().state,
        proto::AgreementState::Breached as i32
    );
    let stage = current(&reopened);
    assert_eq!(stage.number, 2);
    assert_eq!(stage.trigger, proto::StageTrigger::Reopened as i32);
    assert_eq!(stage.organisation, "mediation_committee_430302001004");
    let breached: Vec<proto::AgreementBreached> = decoded(&envelopes(&service).await);
    assert_eq!(breached.len(), 1);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dispute_outside_the_callers_jurisdiction_is_as_if_it_did_not_exist() {
    let service = Service::start().await;
    let registered = service.register(neighbour_noise()).await;
    let stranger = service.token_in(
        "dispatcher-2",
        &[Role::SubdistrictDispatcher],
        OTHER_SUBDISTRICT,
    );
    let mut client = service.client.clone();
    let outside = client
        .get_dispute(with_token(
            proto::GetDisputeRequest {
                name: registered.name.clone(),
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    let missing = client
        .get_dispute(with_token(
            proto::GetDisputeRequest {
                name: "disputes/01890a5d-ac96-774b-bcce-b302099a8057".into(),
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        outside.message().replace(&registered.name, "X"),
        missing
            .message()
            .replace("disputes/01890a5d-ac96-774b-bcce-b302099a8057", "X")
    );
    let listed = client
        .list_disputes(with_token(proto::ListDisputesRequest::default(), &stranger))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.disputes.is_empty());
    let own = client
        .list_disputes(with_token(
            proto::ListDisputesRequest::default(),
            &service.dispatcher,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.disputes.len(), 1);
    assert!(own.disputes[0].parties.is_empty(), "lists show no parties");
    assert!(own.disputes[0].summary.is_empty());
    assert_eq!(own.disputes[0].party_count, 2);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_refused_field_by_field_without_echoing_personal_data_and_changes_nothing() {
    let service = Service::start().await;
    let bus = service.test.bus().await;
    let before = events_committed(service.application.pool(), &bus, "mediation", PATIENCE).await;
    let mut request = neighbour_noise();
    let dispute = request.dispute.as_mut().unwrap();
    dispute.parties[0].phone = "138-secret".into();
    dispute.parties[1].id_number = "43030219900101123".into();
    dispute.parties.truncate(2);
    dispute.community_code = "4303".into();
    let status = service
        .client
        .clone()
        .register_dispute(with_token(request, &service.dispatcher))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(
        fields,
        [
            "dispute.community_code",
            "dispute.parties[0].phone",
            "dispute.parties[1].id_number"
        ]
    );
    assert!(!status.message().contains("138-secret"));
    assert!(!status.message().contains("43030219900101123"));
    let after = events_committed(service.application.pool(), &bus, "mediation", PATIENCE).await;
    assert_eq!(before, after);
    service.application.shutdown().await.unwrap();
}

async fn signed(service: &Service) -> proto::Dispute {
    let registered = service.register(neighbour_noise()).await;
    let accept = |party| proto::Acceptance {
        party,
        accept_time: Some(timestamp(Utc::now())),
    };
    service
        .client
        .clone()
        .sign_agreement(with_token(
            proto::SignAgreementRequest {
                dispute: registered.name.clone(),
                terms: "互相谅解".into(),
                acceptances: vec![accept(1), accept(2)],
                performance_deadline: Some(timestamp(Utc::now() + TimeDelta::days(7))),
            },
            &service.dispatcher,
        ))
        .await
        .expect("signed")
        .into_inner()
}

fn confirm(dispute: &str) -> proto::RecordConfirmationRequest {
    proto::RecordConfirmationRequest {
        dispute: dispute.into(),
        court: "yuhu_court".into(),
        confirmed: true,
    }
}

#[tokio::test]
async fn a_court_confirms_an_agreement_within_thirty_days_and_an_undecided_window_lapses_once() {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let confirmed_dispute = signed(&service).await;
    let confirmed = client
        .record_confirmation(with_token(confirm(&confirmed_dispute.name), &dispatcher))
        .await
        .expect("confirmation recorded")
        .into_inner();
    let agreement = current(&confirmed).agreement.clone().unwrap();
    assert_eq!(
        agreement.confirmation,
        proto::ConfirmationState::Confirmed as i32
    );
    assert_eq!(agreement.confirmation_court, "yuhu_court");
    let twice = client
        .record_confirmation(with_token(confirm(&confirmed_dispute.name), &dispatcher))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);

    let undecided = signed(&service).await;
    service
        .client
        .clone()
        .advance_test_clock(with_token(
            proto::AdvanceTestClockRequest {
                by: Some(prost_types::Duration {
                    seconds: 31 * 86_400,
                    nanos: 0,
                }),
            },
            &service.test.auth.admin_token(),
        ))
        .await
        .expect("clock moved");
    let name = undecided.name.clone();
    let lapsed = eventually("the window lapses", PATIENCE, || {
        let mut client = client.clone();
        let request = with_token(proto::GetDisputeRequest { name: name.clone() }, &dispatcher);
        async move {
            let dispute = client.get_dispute(request).await.ok()?.into_inner();
            let agreement = current(&dispute).agreement.clone()?;
            (agreement.confirmation == proto::ConfirmationState::Lapsed as i32).then_some(dispute)
        }
    })
    .await;
    assert_eq!(lapsed.name, undecided.name);
    let late = client
        .record_confirmation(with_token(confirm(&undecided.name), &dispatcher))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    let envelopes = envelopes(&service).await;
    let decided: Vec<proto::AgreementConfirmed> = decoded(&envelopes);
    assert_eq!(decided.len(), 1);
    assert!(decided[0].confirmed);
    let lapses: Vec<proto::AgreementConfirmationLapsed> = decoded(&envelopes);
    assert_eq!(
        lapses.len(),
        1,
        "the confirmed agreement's window does not lapse"
    );
    assert_eq!(lapses[0].dispute, undecided.name);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn repeats_between_the_same_parties_are_linked_and_many_parties_and_threats_alert_the_subdistrict_once()
 {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let first = service.register(neighbour_noise()).await;
    assert!(first.risks.is_empty());
    let repeat = service.register(neighbour_noise()).await;
    assert_eq!(repeat.linked_disputes, std::slice::from_ref(&first.name));
    assert_eq!(repeat.risks[0].kind, proto::RiskKind::Repeat as i32);

    let mut crowd = neighbour_noise();
    let dispute = crowd.dispute.as_mut().unwrap();
    dispute.parties = (0..6)
        .map(|n| {
            party(
                proto::PartyRole::Applicant,
                &format!("业主{n}"),
                &format!("1360013600{n}"),
            )
        })
        .collect();
    let many = service.register(crowd).await;
    assert_eq!(many.risks[0].kind, proto::RiskKind::ManyParties as i32);

    for _ in 0..2 {
        client
            .flag_threat(with_token(
                proto::FlagThreatRequest {
                    dispute: first.name.clone(),
                },
                &service.dispatcher,
            ))
            .await
            .expect("threat flagged");
    }
    // One flag of each kind, the threat once though flagged twice. The three are
    // about three disputes: the stream keeps each dispute's order, not an order
    // across disputes (the relay publishes resources side by side).
    let flagged: Vec<proto::RiskFlagged> = decoded(&envelopes(&service).await);
    let mut kinds: Vec<i32> = flagged.iter().map(|flag| flag.kind).collect();
    kinds.sort_unstable();
    let mut expected = [
        proto::RiskKind::Repeat as i32,
        proto::RiskKind::ManyParties as i32,
        proto::RiskKind::Threat as i32,
    ];
    expected.sort_unstable();
    assert_eq!(kinds, expected);
    let of_kind = |kind: proto::RiskKind| {
        flagged
            .iter()
            .find(|flag| flag.kind == kind as i32)
            .expect("a flag of the kind")
    };
    assert_eq!(
        of_kind(proto::RiskKind::Repeat).linked_disputes,
        std::slice::from_ref(&first.name)
    );
    assert_eq!(of_kind(proto::RiskKind::ManyParties).parties, 6);
    assert!(
        flagged
            .iter()
            .all(|flag| flag.subdistrict_code == SUBDISTRICT)
    );
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn indicators_count_received_disputes_success_per_level_and_the_monthly_trend_for_the_callers_place_only()
 {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let agreed = signed(&service).await;
    let failed = service.register(neighbour_noise()).await;
    client
        .conclude_stage(with_token(
            proto::ConcludeStageRequest {
                dispute: failed.name.clone(),
                outcome: proto::StageOutcome::Failed as i32,
            },
            &dispatcher,
        ))
        .await
        .expect("failed");
    client
        .record_follow_up(with_token(
            proto::RecordFollowUpRequest {
                dispute: agreed.name.clone(),
                performed: true,
                notes: "已履行".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("performed");
    let request = || proto::GetIndicatorsRequest {
        division_code: SUBDISTRICT.into(),
        period_start: Some(timestamp(Utc::now() - TimeDelta::days(1))),
        period_end: Some(timestamp(Utc::now() + TimeDelta::days(1))),
    };
    let indicators = client
        .get_indicators(with_token(request(), &dispatcher))
        .await
        .expect("indicators")
        .into_inner();
    assert_eq!(indicators.received, 2);
    assert_eq!(indicators.levels.len(), 1);
    let peoples = &indicators.levels[0];
    assert_eq!(peoples.level, proto::MediationLevel::Peoples as i32);
    assert_eq!((peoples.concluded, peoples.agreements), (2, 1));
    assert!((peoples.success_rate - 0.5).abs() < 1e-9);
    assert_eq!(indicators.agreements_signed, 1);
    assert_eq!(indicators.agreements_performed, 1);
    assert!(indicators.mean_hours_to_agreement >= 0.0);
    assert_eq!(indicators.monthly.len(), 1);
    assert_eq!(indicators.monthly[0].disputes, 2);

    let stranger = service.token_in(
        "dispatcher-2",
        &[Role::SubdistrictDispatcher],
        OTHER_SUBDISTRICT,
    );
    let status = client
        .get_indicators(with_token(request(), &stranger))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    service.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_legal_adviser_consulted_on_a_stage_never_mediates_it_and_advisers_are_listed_for_the_callers_communities()
 {
    let service = Service::start().await;
    let mut client = service.client.clone();
    let dispatcher = service.dispatcher.clone();
    let adviser = client
        .create_adviser(with_token(
            proto::CreateAdviserRequest {
                request_id: "adviser-1".into(),
                adviser: Some(proto::Adviser {
                    display_name: "周律师".into(),
                    phone: "13500135000".into(),
                    community_code: COMMUNITY.into(),
                    ..Default::default()
                }),
            },
            &dispatcher,
        ))
        .await
        .expect("adviser registered")
        .into_inner();
    // A unit's adviser serves the whole district: a subdistrict's dispatcher
    // registers none.
    let unit = client
        .create_adviser(with_token(
            proto::CreateAdviserRequest {
                request_id: String::new(),
                adviser: Some(proto::Adviser {
                    display_name: "吴律师".into(),
                    phone: "13500135001".into(),
                    unit: "human_resources".into(),
                    ..Default::default()
                }),
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(unit.code(), Code::NotFound);

    let registered = service.register(neighbour_noise()).await;
    let consulted = client
        .record_consultation(with_token(
            proto::RecordConsultationRequest {
                dispute: registered.name.clone(),
                adviser: adviser.name.clone(),
                time: Some(timestamp(Utc::now())),
                notes: "解释相邻关系的法律规定".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("consultation recorded")
        .into_inner();
    assert_eq!(current(&consulted).consultations.len(), 1);
    assert_eq!(current(&consulted).consultations[0].adviser, adviser.name);
    let refused = client
        .assign_mediator(with_token(
            proto::AssignMediatorRequest {
                dispute: registered.name.clone(),
                mediator: "周律师".into(),
                adviser: adviser.name.clone(),
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    // On another dispute the adviser may mediate, and then not advise.
    let other = service.register(neighbour_noise()).await;
    let mediated = client
        .assign_mediator(with_token(
            proto::AssignMediatorRequest {
                dispute: other.name.clone(),
                mediator: "周律师".into(),
                adviser: adviser.name.clone(),
            },
            &dispatcher,
        ))
        .await
        .expect("adviser mediates")
        .into_inner();
    assert_eq!(current(&mediated).mediator_adviser, adviser.name);
    let advising = client
        .record_consultation(with_token(
            proto::RecordConsultationRequest {
                dispute: other.name.clone(),
                adviser: adviser.name.clone(),
                time: Some(timestamp(Utc::now())),
                notes: "咨询".into(),
            },
            &dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(advising.code(), Code::FailedPrecondition);

    let listed = client
        .list_advisers(with_token(
            proto::ListAdvisersRequest::default(),
            &dispatcher,
        ))
        .await
        .expect("advisers")
        .into_inner();
    assert_eq!(listed.advisers.len(), 1);
    assert_eq!(listed.advisers[0].phone, "13500135000");
    let stranger = service.token_in(
        "dispatcher-2",
        &[Role::SubdistrictDispatcher],
        OTHER_SUBDISTRICT,
    );
    let theirs = client
        .list_advisers(with_token(proto::ListAdvisersRequest::default(), &stranger))
        .await
        .expect("advisers")
        .into_inner();
    assert!(theirs.advisers.is_empty());
    service.application.shutdown().await.unwrap();
}
