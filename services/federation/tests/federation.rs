//! The federation service against real PostgreSQL and NATS, over real gRPC.

mod common;

use chrono::Utc;
use common::*;
use flatgov_auth::{Role, TokenRequest};
use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_client::FederationClient;
use flatgov_testkit::events::decoded;
use flatgov_testkit::{TestEnv, eventually, with_token};
use tonic::Code;

#[tokio::test]
async fn the_ten_district_mass_organisations_are_members_with_chinese_and_english_names() {
    let federation = Federation::start().await;
    let token = federation.resident("resident-1");
    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = federation
            .client()
            .list_organisations(with_token(
                proto::ListOrganisationsRequest {
                    page_size: 4,
                    page_token: page_token.clone(),
                    include_inactive: false,
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.organisations.len() <= 4);
        codes.extend(
            page.organisations
                .into_iter()
                .map(|organisation| organisation.code),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    for code in [
        "communist_youth_league",
        "womens_federation",
        "disabled_persons_federation",
        "federation_of_trade_unions",
        "red_cross",
        "science_technology_association",
    ] {
        assert!(codes.contains(&code.to_owned()), "{code} is a member");
    }
    let womens = federation
        .client()
        .get_organisation(with_token(
            proto::GetOrganisationRequest {
                name: "organisations/womens_federation".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(womens.display_name, "区妇女联合会");
    assert_eq!(womens.display_name_en, "District Women's Federation");
    assert_eq!(womens.short_name, "妇联");
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn registering_past_capacity_waitlists_and_a_cancellation_promotes_the_first_in_line() {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let activity = published_activity(&federation, &league, 1).await;
    assert_eq!(
        activity.lead_organisation,
        "organisations/communist_youth_league"
    );

    let first = register(&federation, &federation.resident("ada"), &activity.name, "")
        .await
        .unwrap();
    let second = register(&federation, &federation.resident("bo"), &activity.name, "")
        .await
        .unwrap();
    let third = register(&federation, &league, &activity.name, "card-0003")
        .await
        .unwrap();
    assert_eq!(first.status, proto::RegistrationStatus::Confirmed as i32);
    assert_eq!(
        first.participant, "ada",
        "a resident registers as themselves"
    );
    assert_eq!(second.status, proto::RegistrationStatus::Waitlisted as i32);
    assert_eq!(second.waitlist_position, 1);
    assert_eq!(third.waitlist_position, 2);

    let again = register(&federation, &federation.resident("bo"), &activity.name, "").await;
    assert_code(again, Code::AlreadyExists, "already registered");

    let cancelled = federation
        .client()
        .cancel_registration(with_token(
            proto::CancelRegistrationRequest {
                name: first.name.clone(),
                reason: "有事".into(),
            },
            &federation.resident("ada"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        cancelled.status,
        proto::RegistrationStatus::Cancelled as i32
    );
    let promoted = federation
        .client()
        .get_registration(with_token(
            proto::GetRegistrationRequest {
                name: second.name.clone(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(promoted.status, proto::RegistrationStatus::Confirmed as i32);
    assert!(promoted.promote_time.is_some());
    let still_waiting = federation
        .client()
        .get_registration(with_token(
            proto::GetRegistrationRequest {
                name: third.name.clone(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still_waiting.waitlist_position, 1, "the line moved up");
    let activity = federation
        .client()
        .get_activity(with_token(
            proto::GetActivityRequest {
                name: activity.name.clone(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (activity.confirmed, activity.waitlisted),
        (1, 1),
        "capacity is never exceeded"
    );

    // published, three registrations, a cancellation and a promotion
    let events = federation.events(6).await;
    assert_eq!(decoded::<proto::ActivityPublished>(&events).len(), 1);
    let changes: Vec<(String, String)> = decoded::<proto::RegistrationChanged>(&events)
        .into_iter()
        .map(|change| (change.status, change.previous_status))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("confirmed".into(), String::new()),
            ("waitlisted".into(), String::new()),
            ("waitlisted".into(), String::new()),
            ("cancelled".into(), "confirmed".into()),
            ("confirmed".into(), "waitlisted".into()),
        ]
    );
    for event in &events {
        assert!(
            !String::from_utf8_lossy(&event.payload).contains("card-0003"),
            "participants stay out of events"
        );
    }
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn checking_in_someone_not_registered_is_refused_and_attendance_is_final_when_held() {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let co_organiser = federation.staff("literary_art_federation", "laf-1");
    let outsider = federation.staff("red_cross", "rc-1");
    let activity = published_activity(&federation, &league, 1).await;
    register(&federation, &league, &activity.name, "card-1")
        .await
        .unwrap();
    register(&federation, &league, &activity.name, "card-2")
        .await
        .unwrap();

    let check_in = |participant: &str, token: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::CheckInRequest {
                activity: activity.name.clone(),
                participant: participant.into(),
            },
            token,
        );
        async move {
            client
                .check_in(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        check_in("walk-in-9", &league).await,
        Code::FailedPrecondition,
        "not registered",
    );
    assert_code(
        check_in("card-2", &league).await,
        Code::FailedPrecondition,
        "waitlist",
    );
    let refused = assert_code(
        check_in("card-1", &outsider).await,
        Code::PermissionDenied,
        "only the organisers of",
    );
    assert!(
        !refused.message().contains("communist_youth_league"),
        "a refusal names no other organisation"
    );
    assert_eq!(
        federation
            .count("select count(*) from registrations where status = 'attended'")
            .await,
        0,
        "refused check-ins changed nothing"
    );
    let attended = check_in("card-1", &co_organiser).await.unwrap();
    assert_eq!(attended.status, proto::RegistrationStatus::Attended as i32);
    let twice = check_in("card-1", &league).await.unwrap();
    assert_eq!(
        twice.check_in_time, attended.check_in_time,
        "checking in twice changes nothing"
    );

    let held = federation
        .client()
        .complete_activity(with_token(
            proto::CompleteActivityRequest {
                name: activity.name.clone(),
                summary: "到场一人".into(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.state, proto::ActivityState::Held as i32);
    assert_code(
        check_in("card-1", &league).await,
        Code::FailedPrecondition,
        "activity is held",
    );
    // published, two registrations, one check-in, held
    let events = federation.events(5).await;
    let held_events = decoded::<proto::ActivityHeld>(&events);
    assert_eq!(held_events.len(), 1);
    assert_eq!((held_events[0].registered, held_events[0].attended), (1, 1));

    let indicators = federation
        .client()
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                start_time: timestamp(Utc::now() - chrono::Duration::days(1)),
                end_time: timestamp(Utc::now() + chrono::Duration::days(1)),
                organisation: String::new(),
            },
            &federation.admin(),
        ))
        .await
        .unwrap()
        .into_inner();
    let of = |code: &str| {
        indicators
            .organisations
            .iter()
            .find(|row| row.organisation == format!("organisations/{code}"))
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            of("communist_youth_league").activities_held,
            of("communist_youth_league").activities_led
        ),
        (1, 1)
    );
    assert_eq!(
        (
            of("literary_art_federation").activities_held,
            of("literary_art_federation").activities_led
        ),
        (1, 0)
    );
    assert_eq!(of("communist_youth_league").attendance, 1);
    let total = indicators.total.unwrap();
    assert_eq!(
        total.activities_held, 1,
        "a co-organised activity is one activity in the total"
    );
    assert_eq!(total.attendance_rate, 1.0);
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_activity_with_bad_input_names_every_problem_and_writes_nothing() {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let now = Utc::now();
    let refused = federation
        .client()
        .create_activity(with_token(
            proto::CreateActivityRequest {
                request_id: String::new(),
                title: "  ".into(),
                description: String::new(),
                series: "series/no_such_series".into(),
                co_organisers: vec!["urban_management".into(), "communist_youth_league".into()],
                place: None,
                start_time: timestamp(now),
                end_time: timestamp(now - chrono::Duration::hours(1)),
                capacity: 0,
                audiences: vec![],
            },
            &league,
        ))
        .await;
    let status = assert_code(refused, Code::InvalidArgument, "title");
    for field in [
        "place",
        "end_time",
        "capacity",
        "audiences",
        "co_organisers[0]: urban_management is not a member organisation",
        "co_organisers[1]",
        "series",
    ] {
        assert!(
            status.message().contains(field),
            "`{}` names {field}",
            status.message()
        );
    }
    assert_eq!(federation.count("select count(*) from activities").await, 0);
    let outsider = federation.test.auth.token_for(
        TokenRequest::new("x", &[Role::FederationStaff]).organisation("urban_management"),
    );
    let not_member = published_activity_attempt(&federation, &outsider).await;
    assert_code(
        not_member,
        Code::PermissionDenied,
        "not a member of the federation",
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_person_registered_by_two_organisations_is_one_person_and_the_id_number_is_never_stored()
{
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let disabled = federation
        .staff_with(
            "disabled_persons_federation",
            "dpf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let number = id_number("43030219560312004");
    let first = federation
        .client()
        .register_person(with_token(person_request("李秀英", &number), &womens))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.id_number_masked,
        format!("4303**********{}", &number[14..])
    );
    assert_eq!(first.birth_date, "1956-03-12");
    assert_eq!(first.gender, proto::Gender::Female as i32);

    // Typed differently by the second organisation: spaces, lower-case x.
    let typed_differently = format!("{} {}", &number[..6], &number[6..]).to_lowercase();
    let mut second_request = person_request("李秀英", &typed_differently);
    second_request.categories = vec![proto::DifficultyCategory::Disability as i32];
    let held_elsewhere = federation
        .client()
        .register_person(with_token(second_request, &disabled))
        .await;
    assert_code(
        held_elsewhere,
        Code::FailedPrecondition,
        "already on the register of another member organisation",
    );
    // With the person's consent the holder shares the record: still one
    // person, now registered by both.
    let asked = federation
        .ask_to_share(&disabled, &typed_differently)
        .await
        .unwrap();
    federation
        .approve_sharing(&womens, &asked.name)
        .await
        .unwrap();
    let second = federation
        .client()
        .get_person(with_token(
            proto::GetPersonRequest {
                name: first.name.clone(),
            },
            &disabled,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.name, first.name, "one person, not two");
    let registrars: Vec<&str> = second
        .registrations
        .iter()
        .map(|registration| registration.organisation.as_str())
        .collect();
    assert_eq!(
        registrars,
        vec![
            "organisations/womens_federation",
            "organisations/disabled_persons_federation"
        ]
    );
    assert_eq!(
        second.registrations[1]
            .consent
            .as_ref()
            .unwrap()
            .document_reference,
        "DPF-2026-0007",
        "the second organisation holds the record with the consent it recorded"
    );

    let duplicate = federation
        .client()
        .register_person(with_token(person_request("李秀英", &number), &womens))
        .await;
    let status = assert_code(duplicate, Code::AlreadyExists, &first.name);
    assert!(
        !status.message().contains(&number),
        "errors never repeat the ID number"
    );
    assert_eq!(federation.count("select count(*) from people").await, 1);
    assert_eq!(
        federation
            .count("select count(*) from person_registrations")
            .await,
        2
    );

    let digits = &number[..17];
    let leaked = federation
        .count(&format!(
            "select (select count(*) from people p where row_to_json(p)::text like '%{digits}%')
                  + (select count(*) from person_registrations r where row_to_json(r)::text like '%{digits}%')"
        ))
        .await;
    assert_eq!(leaked, 0, "the raw ID number is stored nowhere");
    // Whatever the registrations announced (today nothing: a person in
    // difficulty is not an event), no event may carry the number.
    let published = federation.committed_events().await;
    assert!(
        published.iter().all(|event| !event
            .payload
            .windows(digits.len())
            .any(|window| window == digits.as_bytes())),
        "no event carries the raw ID number"
    );

    let valid = id_number("43030219560312005");
    let wrong_check = if valid.ends_with('0') { '1' } else { '0' };
    let mistyped_number = format!("{}{wrong_check}", &valid[..17]);
    let mistyped = federation
        .client()
        .register_person(with_token(
            person_request("王五", &mistyped_number),
            &womens,
        ))
        .await;
    assert_code(
        mistyped,
        Code::InvalidArgument,
        "id_number: check character",
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_register_is_readable_only_by_staff_holding_the_permission_for_people_they_work_with() {
    let federation = Federation::start().await;
    let registrar = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let person = federation
        .client()
        .register_person(with_token(
            person_request("张桂兰", &id_number("43030219480101002")),
            &registrar,
        ))
        .await
        .unwrap()
        .into_inner();
    let get = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetPersonRequest {
                name: person.name.clone(),
            },
            &token,
        );
        async move {
            client
                .get_person(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let colleague_without_permission = federation
        .staff_with("womens_federation", "wf-2", &[])
        .await;
    assert_code(
        get(colleague_without_permission).await,
        Code::PermissionDenied,
        "PEOPLE_REGISTER",
    );
    assert_code(
        get(federation.staff("womens_federation", "not-on-the-list")).await,
        Code::PermissionDenied,
        "PEOPLE_REGISTER",
    );
    let other_organisation = federation
        .staff_with(
            "red_cross",
            "rc-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    // Another organisation is answered as if the person did not exist.
    assert_code(
        get(other_organisation.clone()).await,
        Code::NotFound,
        &format!("{} does not exist", person.name),
    );
    assert_code(
        get(federation.admin()).await,
        Code::PermissionDenied,
        "GetPerson is not granted to the caller's roles [district_admin]",
    );
    assert_code(
        get(federation.test.auth.token("partner", &[Role::Integrator])).await,
        Code::PermissionDenied,
        "GetPerson is not granted to the caller's roles [integrator]",
    );
    // The whole-register permission no longer opens other organisations'
    // records: sharing takes the person's consent.
    let coordinator = federation
        .staff_with(
            "red_cross",
            "rc-lead",
            &[proto::StaffPermission::PeopleRegisterAll],
        )
        .await;
    assert_code(
        get(coordinator).await,
        Code::NotFound,
        &format!("{} does not exist", person.name),
    );
    assert_eq!(get(registrar.clone()).await.unwrap().phone, "13812345678");

    let listed = federation
        .client()
        .list_people(with_token(
            proto::ListPeopleRequest::default(),
            &other_organisation,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.people.is_empty(),
        "the list shows only people the organisation works with"
    );

    // Withdrawing the permission takes effect at once.
    federation
        .client()
        .update_staff(with_token(
            proto::UpdateStaffRequest {
                name: "organisations/womens_federation/staff/wf-1".into(),
                replace_permissions: true,
                ..Default::default()
            },
            &federation.admin(),
        ))
        .await
        .unwrap();
    assert_code(
        get(registrar).await,
        Code::PermissionDenied,
        "PEOPLE_REGISTER",
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_support_plan_without_measures_or_with_an_outsiders_measure_is_refused_and_writes_nothing()
 {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let person = federation
        .client()
        .register_person(with_token(
            person_request("赵丽", &id_number("43030219900505002")),
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    let create = |measures: Vec<proto::MeasureInput>| {
        let mut client = federation.client();
        let request = with_token(
            proto::CreateSupportPlanRequest {
                request_id: String::new(),
                plan: Some(proto::SupportPlanInput {
                    person: person.name.clone(),
                    goal: "稳定生活".into(),
                    measures,
                    ..Default::default()
                }),
                referral: String::new(),
            },
            &womens,
        );
        async move {
            client
                .create_support_plan(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        create(vec![]).await,
        Code::InvalidArgument,
        "plan.measures: a support plan needs at least one measure",
    );
    assert_code(
        create(vec![
            measure("red_cross", proto::MeasureKind::MaterialAid, "米面油"),
            measure("urban_management", proto::MeasureKind::Other, "清理楼道"),
        ])
        .await,
        Code::InvalidArgument,
        "plan.measures[1].organisation: urban_management is not a member organisation",
    );
    assert_eq!(
        federation.count("select count(*) from support_plans").await,
        0
    );
    assert_eq!(
        federation
            .count("select count(*) from support_measures")
            .await,
        0
    );
    assert!(
        federation.committed_events().await.is_empty(),
        "nothing was announced"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_referred_case_is_accepted_with_a_joint_plan_and_the_acceptance_is_published_back() {
    let federation = Federation::start().await;
    let case = "cases/0193a3c2-7d1e-7000-8000-00000000abcd";
    let event_id = uuid::Uuid::now_v7().to_string();
    publish_case_referred(&federation, &event_id, case, 30).await;
    publish_case_referred(&federation, &event_id, case, 30).await;
    let referral = referral_for(&federation, case).await;
    assert_eq!(referral.state, proto::ReferralState::Pending as i32);
    assert_eq!(referral.case_kind, "CASE_KIND_NEEDY_SUPPORT");
    assert_eq!(referral.subdistrict_code, "430302001");

    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let person = federation
        .client()
        .register_person(with_token(
            person_request("陈美华", &id_number("43030219700808002")),
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    let accepted = federation
        .client()
        .accept_referral(with_token(
            proto::AcceptReferralRequest {
                name: referral.name.clone(),
                support_plan: Some(proto::SupportPlanInput {
                    person: person.name.clone(),
                    goal: "渡过难关".into(),
                    measures: vec![
                        measure(
                            "womens_federation",
                            proto::MeasureKind::PsychologicalCounselling,
                            "每月心理疏导",
                        ),
                        measure("red_cross", proto::MeasureKind::MaterialAid, "米面油一次"),
                    ],
                    ..Default::default()
                }),
                note: "妇联牵头".into(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.state, proto::ReferralState::Accepted as i32);
    assert_eq!(accepted.organisation, "organisations/womens_federation");
    assert!(accepted.support_plan.starts_with("support-plans/"));

    let again = federation
        .client()
        .decline_referral(with_token(
            proto::DeclineReferralRequest {
                name: referral.name.clone(),
                reason: "不归我们".into(),
            },
            &federation.staff("red_cross", "rc-1"),
        ))
        .await;
    assert_code(again, Code::FailedPrecondition, "referral is accepted");

    let events = federation.events(2).await;
    let acceptances = decoded::<proto::ReferralAccepted>(&events);
    assert_eq!(acceptances.len(), 1);
    assert_eq!(acceptances[0].case, case);
    assert_eq!(acceptances[0].organisation, "womens_federation");
    assert_eq!(acceptances[0].support_plan, accepted.support_plan);
    assert_eq!(acceptances[0].referral, referral.name);
    let acceptance = events
        .iter()
        .find(|event| event.is::<proto::ReferralAccepted>())
        .unwrap();
    assert_eq!(acceptance.source, "flatgov/federation");
    assert_eq!(acceptance.resource, referral.name);
    assert_eq!(acceptance.header("ce-specversion").as_deref(), Some("1.0"));
    let plans = decoded::<proto::SupportPlanCreated>(&events);
    assert_eq!(
        plans[0].measure_organisations,
        vec!["womens_federation", "red_cross"]
    );
    assert_eq!(plans[0].case, case);
    for event in &events {
        let payload = String::from_utf8_lossy(&event.payload);
        assert!(
            !payload.contains("陈美华") && !payload.contains("13812345678"),
            "no personal data in events"
        );
    }
    assert_eq!(
        federation.count("select count(*) from referrals").await,
        1,
        "the redelivered event made no second referral"
    );

    // The plan's partner sees the person through its measure and delivers.
    let red_cross = federation
        .staff_with(
            "red_cross",
            "rc-2",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let plan = federation
        .client()
        .get_support_plan(with_token(
            proto::GetSupportPlanRequest {
                name: accepted.support_plan.clone(),
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    let red_cross_measure = plan
        .measures
        .iter()
        .find(|measure| measure.organisation == "organisations/red_cross")
        .unwrap();
    let wrong_deliverer = federation
        .client()
        .record_delivery(with_token(
            proto::RecordDeliveryRequest {
                measure: red_cross_measure.name.clone(),
                description: "米面油".into(),
                completes_measure: true,
                ..Default::default()
            },
            &womens,
        ))
        .await;
    let refused = assert_code(
        wrong_deliverer,
        Code::PermissionDenied,
        "only the organisation that committed a measure records its deliveries",
    );
    assert!(
        !refused.message().contains("red_cross"),
        "a refusal names no other organisation"
    );
    let delivered = federation
        .client()
        .record_delivery(with_token(
            proto::RecordDeliveryRequest {
                measure: red_cross_measure.name.clone(),
                request_id: uuid::Uuid::new_v4().to_string(),
                description: "米面油各一袋".into(),
                amount_fen: 0,
                deliver_time: None,
                completes_measure: true,
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(delivered.state, proto::MeasureState::Delivered as i32);
    assert_eq!(delivered.deliveries.len(), 1);
    let events = federation.events(3).await;
    let deliveries = decoded::<proto::MeasureDelivered>(&events);
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].measure_completed);

    let indicators = federation
        .client()
        .get_indicators(with_token(
            proto::GetIndicatorsRequest {
                start_time: timestamp(Utc::now() - chrono::Duration::days(1)),
                end_time: timestamp(Utc::now() + chrono::Duration::days(1)),
                organisation: "organisations/womens_federation".into(),
            },
            &federation.test.auth.token("partner", &[Role::Integrator]),
        ))
        .await
        .unwrap()
        .into_inner();
    let womens_row = &indicators.organisations[0];
    assert_eq!(womens_row.referrals_accepted, 1);
    assert!(
        womens_row.mean_seconds_to_accept >= 1700.0,
        "time to acceptance counts from the referral: {}",
        womens_row.mean_seconds_to_accept
    );
    assert_eq!(womens_row.support_plans_led, 1);
    assert_eq!(womens_row.measures_committed, 1);
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_declined_referral_publishes_the_reason_for_the_case_to_return_to_dispatch() {
    let federation = Federation::start().await;
    let case = "cases/0193a3c2-7d1e-7000-8000-00000000beef";
    publish_case_referred(&federation, &uuid::Uuid::now_v7().to_string(), case, 30).await;
    let referral = referral_for(&federation, case).await;
    let token = federation.staff("federation_of_trade_unions", "ftu-1");
    let no_reason = federation
        .client()
        .decline_referral(with_token(
            proto::DeclineReferralRequest {
                name: referral.name.clone(),
                reason: " ".into(),
            },
            &token,
        ))
        .await;
    assert_code(no_reason, Code::InvalidArgument, "reason");
    let declined = federation
        .client()
        .decline_referral(with_token(
            proto::DeclineReferralRequest {
                name: referral.name.clone(),
                reason: "当事人已由民政部门救助".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.state, proto::ReferralState::Declined as i32);
    let events = federation.events(1).await;
    let declines = decoded::<proto::ReferralDeclined>(&events);
    assert_eq!(declines.len(), 1);
    assert_eq!(declines[0].case, case);
    assert_eq!(declines[0].organisation, "federation_of_trade_unions");
    assert_eq!(declines[0].reason, "当事人已由民政部门救助");

    // After a decline the case may be referred again: a new referral.
    publish_case_referred(&federation, &uuid::Uuid::now_v7().to_string(), case, 0).await;
    eventually("the second referral", PATIENCE, || async {
        (federation
            .count("select count(*) from referrals where state = 'pending'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rights_request_is_routed_to_the_protecting_organisation_and_resolved_with_an_event() {
    let federation = Federation::start().await;
    let red_cross = federation.staff("red_cross", "rc-1");
    let unions = federation.staff("federation_of_trade_unions", "ftu-1");
    let womens = federation.staff("womens_federation", "wf-1");
    let submitted = federation
        .client()
        .submit_rights_request(with_token(
            proto::SubmitRightsRequestRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                category: proto::RightsCategory::Workers as i32,
                channel: proto::RightsChannel::WalkIn as i32,
                organisation: String::new(),
                description: "工地拖欠工资三个月".into(),
                requester_name: "刘强".into(),
                requester_phone: "13900000000".into(),
                block_code: "430302001004017".into(),
                case: String::new(),
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        submitted.organisation,
        "organisations/federation_of_trade_unions"
    );
    assert_eq!(
        submitted.recorded_by_organisation,
        "organisations/red_cross"
    );
    let name = submitted.name.clone();

    let not_handler = federation
        .client()
        .resolve_rights_request(with_token(
            proto::ResolveRightsRequestRequest {
                name: name.clone(),
                outcome: proto::RightsOutcome::Mediated as i32,
                note: "调解".into(),
            },
            &womens,
        ))
        .await;
    // Neither handling nor recording it, the Women's Federation is told
    // what it would be told of a request that does not exist.
    assert_code(
        not_handler,
        Code::NotFound,
        &format!("{name} does not exist"),
    );
    let unseen = federation
        .client()
        .get_rights_request(with_token(
            proto::GetRightsRequestRequest { name: name.clone() },
            &womens,
        ))
        .await;
    assert_code(unseen, Code::NotFound, &format!("{name} does not exist"));
    // The recording organisation sees the request but does not work on it.
    let recorder_acts = federation
        .client()
        .record_rights_action(with_token(
            proto::RecordRightsActionRequest {
                name: name.clone(),
                kind: proto::RightsActionKind::Note as i32,
                note: "转交".into(),
            },
            &red_cross,
        ))
        .await;
    let refused = assert_code(
        recorder_acts,
        Code::PermissionDenied,
        "only the organisation handling",
    );
    assert!(!refused.message().contains("federation_of_trade_unions"));

    federation
        .client()
        .record_rights_action(with_token(
            proto::RecordRightsActionRequest {
                name: name.clone(),
                kind: proto::RightsActionKind::Mediation as i32,
                note: "约谈施工方".into(),
            },
            &unions,
        ))
        .await
        .unwrap();
    federation
        .client()
        .link_rights_request_case(with_token(
            proto::LinkRightsRequestCaseRequest {
                name: name.clone(),
                case: "cases/0193a3c2-7d1e-7000-8000-000000000777".into(),
            },
            &unions,
        ))
        .await
        .unwrap();
    let resolved = federation
        .client()
        .resolve_rights_request(with_token(
            proto::ResolveRightsRequestRequest {
                name: name.clone(),
                outcome: proto::RightsOutcome::Mediated as i32,
                note: "施工方已结清工资".into(),
            },
            &unions,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.state, proto::RightsRequestState::Resolved as i32);
    assert_eq!(
        resolved.actions.len(),
        3,
        "mediation, case link, resolution"
    );
    let again = federation
        .client()
        .resolve_rights_request(with_token(
            proto::ResolveRightsRequestRequest {
                name: name.clone(),
                outcome: proto::RightsOutcome::Mediated as i32,
                note: "再次".into(),
            },
            &unions,
        ))
        .await;
    assert_code(
        again,
        Code::FailedPrecondition,
        "rights request is resolved",
    );

    let events = federation.events(2).await;
    let resolutions = decoded::<proto::RightsRequestResolved>(&events);
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].outcome, "mediated");
    assert_eq!(
        resolutions[0].case,
        "cases/0193a3c2-7d1e-7000-8000-000000000777"
    );
    for event in &events {
        let payload = String::from_utf8_lossy(&event.payload);
        assert!(!payload.contains("刘强") && !payload.contains("13900000000"));
    }

    let other = federation
        .client()
        .submit_rights_request(with_token(
            proto::SubmitRightsRequestRequest {
                category: proto::RightsCategory::Other as i32,
                channel: proto::RightsChannel::Hotline as i32,
                description: "其他".into(),
                ..Default::default()
            },
            &red_cross,
        ))
        .await;
    assert_code(other, Code::InvalidArgument, "RIGHTS_CATEGORY_OTHER");
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_member_organisations_co_sign_and_a_proposal_is_submitted_and_answered() {
    let federation = Federation::start().await;
    let womens = federation.staff("womens_federation", "wf-1");
    let league = federation.staff("communist_youth_league", "cyl-1");
    let draft = federation
        .client()
        .create_proposal(with_token(
            proto::CreateProposalRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                title: "关于增设社区托育点的建议".into(),
                body: "建议在每个街道增设普惠托育点。".into(),
                addressee: proto::Addressee::Cppcc as i32,
                session: "区政协二届五次会议".into(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    let co_sign = |organisation: &str, token: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::CoSignProposalRequest {
                name: draft.name.clone(),
                organisation: organisation.into(),
            },
            token,
        );
        async move {
            client
                .co_sign_proposal(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        co_sign("urban_management", &league).await,
        Code::InvalidArgument,
        "urban_management is not a member organisation of the federation",
    );
    let outsider = federation.test.auth.token_for(
        TokenRequest::new("um-1", &[Role::FederationStaff]).organisation("urban_management"),
    );
    assert_code(
        co_sign("", &outsider).await,
        Code::PermissionDenied,
        "not a member of the federation",
    );
    assert_code(
        co_sign("red_cross", &league).await,
        Code::PermissionDenied,
        "sign only for communist_youth_league",
    );
    assert_code(
        co_sign("", &womens).await,
        Code::InvalidArgument,
        "does not co-sign its own proposal",
    );
    assert_eq!(
        federation
            .count("select count(*) from proposal_signatures")
            .await,
        0
    );
    let signed = co_sign("", &league).await.unwrap();
    assert_eq!(signed.co_signatures.len(), 1);
    assert_code(
        co_sign("communist_youth_league", &league).await,
        Code::AlreadyExists,
        "co-signed",
    );

    let submitted = federation
        .client()
        .submit_proposal(with_token(
            proto::SubmitProposalRequest {
                name: draft.name.clone(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.state, proto::ProposalState::Submitted as i32);
    assert_code(
        co_sign("", &federation.staff("red_cross", "rc-1")).await,
        Code::FailedPrecondition,
        "proposal is submitted",
    );
    let answered = federation
        .client()
        .record_proposal_response(with_token(
            proto::RecordProposalResponseRequest {
                name: draft.name.clone(),
                kind: proto::ResponseKind::Adopted as i32,
                responder: "区卫健局".into(),
                text: "已列入年度民生实事".into(),
                answer_time: None,
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answered.state, proto::ProposalState::Answered as i32);
    let events = federation.events(2).await;
    let submissions = decoded::<proto::ProposalSubmitted>(&events);
    assert_eq!(submissions[0].co_signers, vec!["communist_youth_league"]);
    assert_eq!(submissions[0].addressee, "cppcc");
    assert_eq!(
        decoded::<proto::ProposalAnswered>(&events)[0].response,
        "adopted"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_entrepreneur_is_accepted_within_the_places_mentored_and_completes_the_programme() {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let now = Utc::now();
    let programme = federation
        .client()
        .create_programme(with_token(
            proto::CreateProgrammeRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                title: "青年创业孵化营".into(),
                description: "三个月孵化".into(),
                kind: proto::ProgrammeKind::Incubation as i32,
                co_organisers: vec!["industry_commerce_federation".into()],
                audiences: vec![
                    proto::Audience::Youth as i32,
                    proto::Audience::Entrepreneurs as i32,
                ],
                application_open_time: timestamp(now - chrono::Duration::days(1)),
                application_close_time: timestamp(now + chrono::Duration::days(30)),
                places: 1,
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    let apply = |title: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::SubmitApplicationRequest {
                parent: programme.name.clone(),
                request_id: String::new(),
                applicant_name: "周杰".into(),
                applicant_phone: "13700000000".into(),
                project_title: title.into(),
                project_summary: "社区团购".into(),
                team_size: 3,
                block_code: String::new(),
            },
            &federation.resident("zhou"),
        );
        async move {
            client
                .submit_application(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let first = apply("湘潭社区团购").await.unwrap();
    let second = apply("莲子电商").await.unwrap();
    let decide = |name: &str, accept: bool| {
        let mut client = federation.client();
        let request = with_token(
            proto::DecideApplicationRequest {
                name: name.into(),
                accept,
                note: String::new(),
            },
            &federation.staff("industry_commerce_federation", "icf-1"),
        );
        async move {
            client
                .decide_application(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(
        decide(&first.name, true).await.unwrap().state,
        proto::ApplicationState::Accepted as i32
    );
    assert_code(
        decide(&second.name, true).await,
        Code::FailedPrecondition,
        "all 1 places",
    );
    let mentor = federation
        .client()
        .create_mentor(with_token(
            proto::CreateMentorRequest {
                display_name: "黄老师".into(),
                expertise: vec!["电商运营".into()],
                ..Default::default()
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    federation
        .client()
        .assign_mentor(with_token(
            proto::AssignMentorRequest {
                name: first.name.clone(),
                mentor: mentor.name.clone(),
            },
            &league,
        ))
        .await
        .unwrap();
    let completed = federation
        .client()
        .record_progress(with_token(
            proto::RecordProgressRequest {
                name: first.name.clone(),
                milestone: "完成工商注册".into(),
                note: String::new(),
                r#final: true,
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(completed.state, proto::ApplicationState::Completed as i32);
    assert_eq!(completed.mentors, vec![mentor.name]);
    assert_eq!(completed.progress.len(), 1);
    let own = federation
        .client()
        .get_application(with_token(
            proto::GetApplicationRequest {
                name: first.name.clone(),
            },
            &federation.resident("someone-else"),
        ))
        .await;
    assert_code(
        own,
        Code::NotFound,
        &format!("{} does not exist", first.name),
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_returns_the_first_result() {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let draft = || {
        let mut client = federation.client();
        let request = with_token(
            proto::CreateProposalRequest {
                request_id: request_id.clone(),
                title: "关于妇女就业的建议".into(),
                body: "正文".into(),
                addressee: proto::Addressee::PeoplesCongress as i32,
                session: String::new(),
            },
            &womens,
        );
        async move { client.create_proposal(request).await.unwrap().into_inner() }
    };
    assert_eq!(draft().await.name, draft().await.name);
    assert_eq!(federation.count("select count(*) from proposals").await, 1);

    // Any id by the platform-wide rule, not only a UUID: a hotline ticket.
    let mut registration = person_request("孙梅", &id_number("43030219850101002"));
    registration.request_id = "12345-2026-000123".into();
    let register = |registration: proto::RegisterPersonRequest| {
        let mut client = federation.client();
        let request = with_token(registration, &womens);
        async move { client.register_person(request).await }
    };
    let first = register(registration.clone()).await.unwrap().into_inner();
    let retried = register(registration.clone())
        .await
        .expect("a retry is not a duplicate")
        .into_inner();
    assert_eq!(first.name, retried.name);
    assert_eq!(retried.registrations.len(), 1);

    let people_before = federation.count("select count(*) from people").await;
    let mut spaced = person_request("周兰", &id_number("43030219900101002"));
    spaced.request_id = "retry 1".into();
    let refused = register(spaced)
        .await
        .expect_err("a request id with a space");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("request_id: ' ' is not allowed"),
        "{}",
        refused.message()
    );
    assert_eq!(
        federation.count("select count(*) from people").await,
        people_before,
        "a refused registration writes nothing"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_identity_key_survives_restarts_and_a_different_key_is_refused_while_people_are_registered()
 {
    let test = TestEnv::new();
    let keys = tempfile::tempdir().unwrap();
    let original = keys.path().join("original.key");
    let other = keys.path().join("other.key");
    std::fs::write(&original, "a-secret-of-at-least-thirty-two-bytes-0001\n").unwrap();
    std::fs::write(&other, "another-secret-of-at-least-thirty-two-bytes").unwrap();
    let start = |key: &std::path::Path| {
        flatgov_federation::build(
            test.env()
                .with("FEDERATION_IDENTITY_KEY_FILE", key.display().to_string()),
        )
    };
    let admin = test.auth.admin_token();
    let staff = |organisation: &str, subject: &str| {
        test.auth.token_for(
            TokenRequest::new(subject, &[Role::FederationStaff]).organisation(organisation),
        )
    };
    let number = id_number("43030219620202002");

    let first_run = start(&original).await.unwrap();
    let mut client = FederationClient::connect(first_run.grpc_url())
        .await
        .unwrap();
    for (organisation, subject) in [("womens_federation", "wf-1"), ("red_cross", "rc-1")] {
        client
            .create_staff(with_token(
                proto::CreateStaffRequest {
                    parent: format!("organisations/{organisation}"),
                    staff_id: subject.into(),
                    display_name: subject.into(),
                    permissions: vec![proto::StaffPermission::PeopleRegister as i32],
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let person = client
        .register_person(with_token(
            person_request("钱芳", &number),
            &staff("womens_federation", "wf-1"),
        ))
        .await
        .unwrap()
        .into_inner();
    first_run.shutdown().await.unwrap();

    let refused = start(&other)
        .await
        .err()
        .expect("a different key is refused");
    assert!(
        refused.to_string().contains("FEDERATION_IDENTITY_KEY_FILE"),
        "{refused}"
    );

    let second_run = start(&original).await.unwrap();
    let mut client = FederationClient::connect(second_run.grpc_url())
        .await
        .unwrap();
    // Another organisation registering the number is told the person is
    // already on the register: the same key recognised them.
    let again = client
        .register_person(with_token(
            person_request("钱芳", &number),
            &staff("red_cross", "rc-1"),
        ))
        .await;
    assert_code(again, Code::FailedPrecondition, "already on the register");
    let same = client
        .get_person(with_token(
            proto::GetPersonRequest {
                name: person.name.clone(),
            },
            &staff("womens_federation", "wf-1"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.full_name, "钱芳", "the record is read after a restart");
    second_run.shutdown().await.unwrap();
}

#[tokio::test]
async fn residents_page_through_announced_activities_while_drafts_stay_with_their_organisers() {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let first = published_activity(&federation, &league, 5).await;
    let second = published_activity(&federation, &league, 5).await;
    let draft = published_activity_attempt(&federation, &league)
        .await
        .unwrap();

    let list = |token: String, organisation: &str, page_token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListActivitiesRequest {
                page_size: 1,
                page_token,
                organisation: organisation.into(),
                division_code: "430302001".into(),
                ..Default::default()
            },
            &token,
        );
        async move { client.list_activities(request).await.unwrap().into_inner() }
    };
    let resident = federation.resident("ada");
    let page_one = list(resident.clone(), "", String::new()).await;
    assert_eq!(page_one.activities.len(), 1);
    let page_two = list(resident.clone(), "", page_one.next_page_token.clone()).await;
    assert_eq!(page_two.activities.len(), 1);
    let seen = [
        page_one.activities[0].name.clone(),
        page_two.activities[0].name.clone(),
    ];
    assert!(
        seen.contains(&first.name) && seen.contains(&second.name),
        "each activity once: {seen:?}"
    );
    assert!(page_two.next_page_token.is_empty(), "the last page says so");

    let hidden = federation
        .client()
        .get_activity(with_token(
            proto::GetActivityRequest {
                name: draft.name.clone(),
            },
            &resident,
        ))
        .await;
    assert_code(
        hidden,
        Code::NotFound,
        &format!("{} does not exist", draft.name),
    );
    let mut organisers_view = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = list(
            league.clone(),
            "organisations/communist_youth_league",
            page_token,
        )
        .await;
        organisers_view.extend(page.activities.into_iter().map(|activity| activity.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        organisers_view.len(),
        2,
        "the venue-only draft has no block, so the division filter leaves it out"
    );
    let bad_token = federation
        .client()
        .list_activities(with_token(
            proto::ListActivitiesRequest {
                page_token: "forged".into(),
                ..Default::default()
            },
            &resident,
        ))
        .await;
    assert_code(bad_token, Code::InvalidArgument, "page_token");
    let other_filter = federation
        .client()
        .list_activities(with_token(
            proto::ListActivitiesRequest {
                page_size: 1,
                page_token: page_one.next_page_token,
                organisation: "organisations/communist_youth_league".into(),
                division_code: "430302001".into(),
                ..Default::default()
            },
            &resident,
        ))
        .await;
    assert_code(other_filter, Code::InvalidArgument, "page_token");
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn outside_development_the_service_refuses_to_start_without_its_identity_key() {
    let test = TestEnv::new();
    let without_key = test.env().with("FEDERATION_IDENTITY_KEY_FILE", "");
    let refused = flatgov_federation::build(without_key.clone())
        .await
        .err()
        .expect("no key, no start");
    assert!(
        refused
            .to_string()
            .contains("FEDERATION_IDENTITY_KEY_FILE is required"),
        "{refused}"
    );
    let development =
        flatgov_federation::build(without_key.with("FEDERATION_DEVELOPMENT_IDENTITY_KEY", "true"))
            .await
            .expect("a development machine may keep a generated key");
    development.shutdown().await.unwrap();
}
