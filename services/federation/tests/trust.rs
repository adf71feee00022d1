//! Who may see and do what in the federation: the policy table against the
//! proto and the running service, the leaks it closes, and the audit trail
//! of writes and personal-data reads.

mod common;

use common::*;
use flatgov_auth::Role;
use flatgov_federation::policy::POLICY;
use flatgov_proto::audit::v1 as audit;
use flatgov_proto::audit::v1::audit_trail_client::AuditTrailClient;
use flatgov_proto::federation::v1 as proto;
use flatgov_proto::federation::v1::federation_client::FederationClient;
use flatgov_testkit::with_token;
use tonic::Code;
use tonic_types::StatusExt as _;

#[tokio::test]
async fn every_rpc_of_the_federation_has_a_rule_and_the_probe_finds_the_table_enforced() {
    assert_eq!(
        flatgov_testkit::authz::uncovered(&POLICY),
        Vec::<String>::new()
    );
    let federation = Federation::start().await;
    let report = flatgov_testkit::authz::probe(
        &federation.application.grpc_url(),
        &POLICY,
        &federation.test.auth,
    )
    .await;
    println!(
        "probe of {}: {} calls, {} refusals expected, {} contradictions",
        POLICY.service,
        report.calls,
        report.refusals_expected,
        report.contradictions.len(),
    );
    let contradictions = &report.contradictions;
    assert!(contradictions.is_empty(), "{contradictions:#?}");
    assert!(report.refusals_expected > 400, "{report:?}");
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_directories_of_organisations_series_announced_activities_and_programmes_are_read_without_a_token()
 {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let announced = published_activity(&federation, &league, 10).await;
    let draft = published_activity_attempt(&federation, &league)
        .await
        .unwrap();
    let programme = federation
        .client()
        .create_programme(with_token(programme_request(), &league))
        .await
        .unwrap()
        .into_inner();
    let mut anonymous = FederationClient::connect(federation.application.grpc_url())
        .await
        .unwrap();

    let organisations = anonymous
        .list_organisations(proto::ListOrganisationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(organisations.organisations.len(), 10);
    let red_cross = anonymous
        .get_organisation(proto::GetOrganisationRequest {
            name: "organisations/red_cross".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(red_cross.short_name, "红十字会");
    let series = anonymous
        .list_series(proto::ListSeriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.series.len(), 2, "Youth Home and Youth Night School");
    anonymous
        .get_series(proto::GetSeriesRequest {
            name: "series/youth_home".into(),
        })
        .await
        .unwrap();

    let activities = anonymous
        .list_activities(proto::ListActivitiesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .activities;
    let names: Vec<&str> = activities.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [announced.name.as_str()], "drafts are not announced");
    assert!(
        activities[0].created_by.is_empty(),
        "the public is not told which staff member created it"
    );
    let unseen_draft = anonymous
        .get_activity(proto::GetActivityRequest {
            name: draft.name.clone(),
        })
        .await;
    assert_code(
        unseen_draft,
        Code::NotFound,
        &format!("{} does not exist", draft.name),
    );

    let programmes = anonymous
        .list_programmes(proto::ListProgrammesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .programmes;
    assert_eq!(programmes.len(), 1);
    let read = anonymous
        .get_programme(proto::GetProgrammeRequest {
            name: programme.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.title, "青年创业孵化营");
    assert!(read.created_by.is_empty());

    let register = anonymous
        .list_people(proto::ListPeopleRequest::default())
        .await;
    assert_code(register, Code::Unauthenticated, "");
    federation.application.shutdown().await.unwrap();
}

fn programme_request() -> proto::CreateProgrammeRequest {
    let now = chrono::Utc::now();
    proto::CreateProgrammeRequest {
        request_id: String::new(),
        title: "青年创业孵化营".into(),
        description: "三个月孵化".into(),
        kind: proto::ProgrammeKind::Incubation as i32,
        co_organisers: vec!["industry_commerce_federation".into()],
        audiences: vec![proto::Audience::Youth as i32],
        application_open_time: timestamp(now - chrono::Duration::days(1)),
        application_close_time: timestamp(now + chrono::Duration::days(30)),
        places: 5,
    }
}

#[tokio::test]
async fn registering_an_id_number_another_organisation_holds_reveals_nothing_of_its_record_and_offers_a_consented_sharing_request()
 {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let red_cross = federation
        .staff_with(
            "red_cross",
            "rc-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let number = id_number("43030219560312004");
    let held = federation.register_person(&womens, "李秀英", &number).await;

    let mut attempt = person_request("李某", &number);
    attempt.phone = "13900000001".into();
    let refused = refusal(
        federation
            .client()
            .register_person(with_token(attempt, &red_cross))
            .await,
        Code::FailedPrecondition,
    );
    let said = format!("{refused:?}");
    for secret in [
        "李秀英",
        "13812345678",
        "雨湖路",
        "独居",
        "womens_federation",
        held.name.as_str(),
    ] {
        assert!(
            !said.contains(secret),
            "the refusal reveals {secret}: {said}"
        );
    }
    assert!(refused.message().contains("CreateSharingRequest"), "{said}");
    let precondition = refused
        .get_details_precondition_failure()
        .expect("a precondition failure detail");
    assert_eq!(
        precondition.violations[0].r#type,
        "PERSON_HELD_BY_ANOTHER_ORGANISATION"
    );
    assert_eq!(
        federation
            .count("select count(*) from person_registrations")
            .await,
        1,
        "the refused registration joined nothing"
    );
    assert_eq!(
        federation.count("select count(*) from people").await,
        1,
        "and made no second person"
    );

    // Asking changes nothing the requester can see until it is approved.
    let asked = federation.ask_to_share(&red_cross, &number).await.unwrap();
    assert_eq!(asked.state, proto::SharingRequestState::Pending as i32);
    assert!(
        asked.person.is_empty(),
        "the requester is not told who it is"
    );
    let get_person = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetPersonRequest {
                name: held.name.clone(),
            },
            &token,
        );
        async move { client.get_person(request).await }
    };
    refusal(get_person(red_cross.clone()).await, Code::NotFound);
    let again = federation.ask_to_share(&red_cross, &number).await;
    assert_code(again, Code::AlreadyExists, &asked.name);

    // The holder sees who it concerns; the requester may not decide; a
    // third organisation does not see it at all.
    let waiting = federation
        .client()
        .list_sharing_requests(with_token(
            proto::ListSharingRequestsRequest {
                state: proto::SharingRequestState::Pending as i32,
                ..Default::default()
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner()
        .sharing_requests;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].person, held.name);
    assert_eq!(
        waiting[0].requesting_organisation,
        "organisations/red_cross"
    );
    let own_decision = federation.approve_sharing(&red_cross, &asked.name).await;
    assert_code(
        own_decision,
        Code::PermissionDenied,
        "only an organisation that registered the person",
    );
    let family_planning = federation
        .staff_with(
            "family_planning_association",
            "fpa-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let outsider_reads = federation
        .client()
        .get_sharing_request(with_token(
            proto::GetSharingRequestRequest {
                name: asked.name.clone(),
            },
            &family_planning,
        ))
        .await;
    assert_code(
        outsider_reads,
        Code::NotFound,
        &format!("{} does not exist", asked.name),
    );
    let outsider_approves = federation
        .approve_sharing(&family_planning, &asked.name)
        .await;
    refusal(outsider_approves, Code::NotFound);
    let outsider_declines = federation
        .client()
        .decline_sharing_request(with_token(
            proto::DeclineSharingRequestRequest {
                name: asked.name.clone(),
                reason: "不同意".into(),
            },
            &family_planning,
        ))
        .await;
    refusal(outsider_declines, Code::NotFound);
    let outsiders_list = federation
        .client()
        .list_sharing_requests(with_token(
            proto::ListSharingRequestsRequest::default(),
            &family_planning,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(outsiders_list.sharing_requests.is_empty());

    // Declined: the requester still sees nothing of the record.
    let declined = federation
        .client()
        .decline_sharing_request(with_token(
            proto::DeclineSharingRequestRequest {
                name: asked.name.clone(),
                reason: "本人未在妇联签署共享同意".into(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.state, proto::SharingRequestState::Declined as i32);
    let seen_by_requester = federation
        .client()
        .get_sharing_request(with_token(
            proto::GetSharingRequestRequest {
                name: asked.name.clone(),
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_requester.decline_reason, "本人未在妇联签署共享同意");
    assert!(seen_by_requester.person.is_empty());
    refusal(get_person(red_cross.clone()).await, Code::NotFound);

    // Asked again with consent, approved: the record is shared.
    let second = federation.ask_to_share(&red_cross, &number).await.unwrap();
    let approved = federation
        .approve_sharing(&womens, &second.name)
        .await
        .unwrap();
    assert_eq!(approved.state, proto::SharingRequestState::Approved as i32);
    let shared = get_person(red_cross.clone()).await.unwrap().into_inner();
    assert_eq!(shared.full_name, "李秀英");
    assert_eq!(shared.registrations.len(), 2);
    let now_told = federation
        .client()
        .get_sharing_request(with_token(
            proto::GetSharingRequestRequest {
                name: second.name.clone(),
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now_told.person, held.name);
    refusal(get_person(family_planning).await, Code::NotFound);
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_replayed_request_id_answers_only_its_own_caller_and_rereads_the_person_through_their_current_access()
 {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let red_cross = federation
        .staff_with(
            "red_cross",
            "rc-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let mut request = person_request("孙梅", &id_number("43030219850101002"));
    request.request_id = "hotline-2026-000123".into();
    let send = |request: proto::RegisterPersonRequest, token: &str| {
        let mut client = federation.client();
        let request = with_token(request, token);
        async move {
            client
                .register_person(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let first = send(request.clone(), &womens).await.unwrap();
    assert_eq!(
        send(request.clone(), &womens).await.unwrap().name,
        first.name,
        "a retry by the same caller answers with the first result"
    );

    // Before: another organisation sending the same request id received
    // the person. Now the id is the caller's own: red_cross's call is its
    // own registration, refused without the record.
    let replay_by_another = send(request.clone(), &red_cross).await;
    let refused = refusal(replay_by_another, Code::FailedPrecondition);
    assert!(!format!("{refused:?}").contains("孙梅"));
    assert!(!format!("{refused:?}").contains(&first.name));

    let mut other_content = request.clone();
    other_content.phone = "13700000000".into();
    let reused = send(other_content, &womens).await;
    let status = refusal(reused, Code::InvalidArgument);
    let violations = flatgov_testkit::field_violations(&status);
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "request_id");

    // A replay reads the person again with the caller's access of now.
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
        send(request, &womens).await,
        Code::PermissionDenied,
        "PEOPLE_REGISTER",
    );
    assert_eq!(federation.count("select count(*) from people").await, 1);
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn another_organisations_staff_list_and_permissions_are_not_readable_while_its_own_and_administrators_are()
 {
    let federation = Federation::start().await;
    federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let womens_colleague = federation
        .staff_with("womens_federation", "wf-2", &[])
        .await;
    let red_cross = federation.staff_with("red_cross", "rc-1", &[]).await;
    let staff_member = "organisations/womens_federation/staff/wf-1";
    let get = |token: String, name: &str| {
        let mut client = federation.client();
        let request = with_token(proto::GetStaffRequest { name: name.into() }, &token);
        async move {
            client
                .get_staff(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let list = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListStaffRequest {
                parent: "organisations/womens_federation".into(),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_staff(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };

    // Before: any caller read any organisation's staff and permissions.
    let foreign = refusal(get(red_cross.clone(), staff_member).await, Code::NotFound);
    let missing = refusal(
        get(
            red_cross.clone(),
            "organisations/womens_federation/staff/nobody",
        )
        .await,
        Code::NotFound,
    );
    assert_eq!(
        foreign.message().replace("wf-1", "X"),
        missing.message().replace("nobody", "X"),
        "an existing staff member of another organisation reads as a missing one"
    );
    let foreign_list = refusal(list(red_cross.clone()).await, Code::PermissionDenied);
    assert!(!foreign_list.message().contains("wf-1"));
    refusal(
        list(federation.resident("ada")).await,
        Code::PermissionDenied,
    );
    refusal(
        list(federation.integrator("feed", "districts/430302")).await,
        Code::PermissionDenied,
    );

    let own = get(womens_colleague.clone(), staff_member).await.unwrap();
    assert_eq!(
        own.permissions,
        [proto::StaffPermission::PeopleRegister as i32]
    );
    assert_eq!(list(womens_colleague).await.unwrap().staff.len(), 2);
    assert_eq!(list(federation.admin()).await.unwrap().staff.len(), 2);
    federation.application.shutdown().await.unwrap();
}

async fn audit_trail(federation: &Federation, resource: &str) -> Vec<audit::AuditRecord> {
    let mut trail = AuditTrailClient::connect(federation.application.grpc_url())
        .await
        .unwrap();
    trail
        .list_audit_records(with_token(
            audit::ListAuditRecordsRequest {
                resource: resource.into(),
                page_size: 500,
                page_token: String::new(),
            },
            &federation.admin(),
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

#[tokio::test]
async fn writes_and_register_reads_are_audited_with_who_what_and_outcome_and_refused_ones_too() {
    let federation = Federation::start().await;
    let womens = federation
        .staff_with(
            "womens_federation",
            "wf-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let red_cross = federation
        .staff_with(
            "red_cross",
            "rc-1",
            &[proto::StaffPermission::PeopleRegister],
        )
        .await;
    let draft = federation
        .client()
        .create_proposal(with_token(
            proto::CreateProposalRequest {
                request_id: String::new(),
                title: "关于增设社区托育点的建议".into(),
                body: "建议在每个街道增设普惠托育点。".into(),
                addressee: proto::Addressee::Cppcc as i32,
                session: String::new(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    let foreign_submit = federation
        .client()
        .submit_proposal(with_token(
            proto::SubmitProposalRequest {
                name: draft.name.clone(),
            },
            &red_cross,
        ))
        .await;
    refusal(foreign_submit, Code::PermissionDenied);
    let resident_drafts = federation
        .client()
        .create_proposal(with_token(
            proto::CreateProposalRequest {
                title: "x".into(),
                body: "y".into(),
                addressee: proto::Addressee::Cppcc as i32,
                ..Default::default()
            },
            &federation.resident("ada"),
        ))
        .await;
    refusal(resident_drafts, Code::PermissionDenied);

    let about_draft = audit_trail(&federation, &draft.name).await;
    assert_eq!(about_draft.len(), 2, "{about_draft:#?}");
    let refused = &about_draft[0];
    assert_eq!(
        (refused.subject.as_str(), refused.method.as_str()),
        ("rc-1", "SubmitProposal")
    );
    assert_eq!(refused.outcome, "PERMISSION_DENIED");
    let written = &about_draft[1];
    assert_eq!(written.subject, "wf-1");
    assert_eq!(written.roles, ["federation_staff"]);
    assert_eq!(written.organisation, "womens_federation");
    assert_eq!(written.service, "flatgov.federation.v1.Federation");
    assert_eq!(written.method, "CreateProposal");
    assert_eq!(written.resources, std::slice::from_ref(&draft.name));
    assert_eq!(written.outcome, "OK");
    let everything = audit_trail(&federation, "").await;
    assert!(
        everything.iter().any(|record| record.subject == "ada"
            && record.method == "CreateProposal"
            && record.outcome == "PERMISSION_DENIED"),
        "a role the table refuses is recorded too: {everything:#?}"
    );

    // Reading the register is recorded, refused reads included, and no
    // record carries the person's data.
    let person = federation
        .register_person(&womens, "张桂兰", &id_number("43030219480101002"))
        .await;
    let read = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetPersonRequest {
                name: person.name.clone(),
            },
            &token,
        );
        async move { client.get_person(request).await }
    };
    read(womens.clone()).await.unwrap();
    refusal(read(red_cross.clone()).await, Code::NotFound);
    let about_person = audit_trail(&federation, &person.name).await;
    let outcomes: Vec<(&str, &str, &str)> = about_person
        .iter()
        .map(|record| {
            (
                record.subject.as_str(),
                record.method.as_str(),
                record.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("rc-1", "GetPerson", "NOT_FOUND"),
            ("wf-1", "GetPerson", "OK"),
            ("wf-1", "RegisterPerson", "OK"),
        ]
    );
    for record in audit_trail(&federation, "").await {
        let text = format!("{record:?}");
        assert!(
            !text.contains("张桂兰") && !text.contains("13812345678"),
            "{text}"
        );
    }
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_staff_member_without_the_organisations_claim_or_of_a_non_member_acts_for_nobody() {
    let federation = Federation::start().await;
    let no_claim = federation
        .test
        .auth
        .token("drifter", &[Role::FederationStaff]);
    let attempt = published_activity_attempt(&federation, &no_claim).await;
    assert_code(attempt, Code::PermissionDenied, "names no organisation");
    assert_eq!(federation.count("select count(*) from activities").await, 0);
    federation.application.shutdown().await.unwrap();
}
