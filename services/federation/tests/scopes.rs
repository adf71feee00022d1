//! Every RPC called as a user allowed to, with its effect checked, and every
//! data-scoped RPC called by someone of a granted role but another
//! organisation, owner or jurisdiction: NOT_FOUND where they may not see
//! the resource (worded as for a missing one), PERMISSION_DENIED where
//! they see it but may not do this to it.

mod common;

use chrono::Utc;
use common::*;
use flatgov_auth::{Role, TokenRequest};
use flatgov_proto::federation::v1 as proto;
use flatgov_testkit::with_token;
use tonic::Code;

#[tokio::test]
async fn organisations_are_admitted_by_district_administrators_and_staff_lists_kept_by_each_organisation()
 {
    let federation = Federation::start().await;
    let admin = federation.admin();
    let admitted = federation
        .client()
        .create_organisation(with_token(
            proto::CreateOrganisationRequest {
                code: "volunteers_association".into(),
                display_name: "区志愿者协会".into(),
                display_name_en: "District Volunteers Association".into(),
                short_name: "志协".into(),
                description: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(admitted.name, "organisations/volunteers_association");
    // An administrator of one subdistrict does not change what binds the
    // whole district.
    let subdistrict_admin = federation.test.auth.token_for(
        TokenRequest::new("sub-admin", &[Role::DistrictAdmin])
            .jurisdiction("subdistricts/430302001".parse().unwrap()),
    );
    let narrow = federation
        .client()
        .update_organisation(with_token(
            proto::UpdateOrganisationRequest {
                name: admitted.name.clone(),
                active: Some(false),
                ..Default::default()
            },
            &subdistrict_admin,
        ))
        .await;
    assert_code(
        narrow,
        Code::PermissionDenied,
        "only with a district-wide jurisdiction",
    );
    let deactivated = federation
        .client()
        .update_organisation(with_token(
            proto::UpdateOrganisationRequest {
                name: admitted.name.clone(),
                active: Some(false),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!deactivated.active);
    let inactive_staff = federation.staff("volunteers_association", "va-1");
    assert_code(
        published_activity_attempt(&federation, &inactive_staff).await,
        Code::PermissionDenied,
        "inactive",
    );

    // A staff manager keeps their own organisation's list, not another's.
    let manager = federation
        .staff_with(
            "womens_federation",
            "wf-admin",
            &[proto::StaffPermission::ManageStaff],
        )
        .await;
    let added = federation
        .client()
        .create_staff(with_token(
            proto::CreateStaffRequest {
                parent: "organisations/womens_federation".into(),
                staff_id: "wf-7".into(),
                display_name: "王干事".into(),
                position: "干事".into(),
                permissions: vec![proto::StaffPermission::PeopleRegister as i32],
            },
            &manager,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.name, "organisations/womens_federation/staff/wf-7");
    let elsewhere = federation
        .client()
        .create_staff(with_token(
            proto::CreateStaffRequest {
                parent: "organisations/red_cross".into(),
                staff_id: "rc-9".into(),
                display_name: "李".into(),
                ..Default::default()
            },
            &manager,
        ))
        .await;
    assert_code(
        elsewhere,
        Code::PermissionDenied,
        "managed by its own organisation's staff managers",
    );
    federation.staff_with("red_cross", "rc-1", &[]).await;
    let foreign_update = federation
        .client()
        .update_staff(with_token(
            proto::UpdateStaffRequest {
                name: "organisations/red_cross/staff/rc-1".into(),
                active: Some(false),
                ..Default::default()
            },
            &manager,
        ))
        .await;
    assert_code(
        foreign_update,
        Code::NotFound,
        "organisations/red_cross/staff/rc-1 is not on the staff list",
    );
    let without_permission = federation
        .client()
        .update_staff(with_token(
            proto::UpdateStaffRequest {
                name: "organisations/womens_federation/staff/wf-admin".into(),
                position: Some("主席".into()),
                ..Default::default()
            },
            &federation.staff("womens_federation", "wf-7"),
        ))
        .await;
    assert_code(
        without_permission,
        Code::PermissionDenied,
        "STAFF_PERMISSION_MANAGE_STAFF",
    );
    let listed = federation
        .client()
        .list_staff(with_token(
            proto::ListStaffRequest {
                parent: "organisations/womens_federation".into(),
                ..Default::default()
            },
            &manager,
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = listed.staff.iter().map(|s| s.staff_id.as_str()).collect();
    assert_eq!(ids, ["wf-7", "wf-admin"]);
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_activity_is_changed_by_its_lead_its_registrations_seen_by_organisers_and_participants_and_drafts_by_nobody_else()
 {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let co_organiser = federation.staff("literary_art_federation", "laf-1");
    let outsider = federation.staff("red_cross", "rc-1");

    let series = federation
        .client()
        .create_series(with_token(
            proto::CreateSeriesRequest {
                code: "youth_reading_club".into(),
                display_name: "青年读书会".into(),
                display_name_en: "Youth Reading Club".into(),
                description: String::new(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(series.organisation, "organisations/communist_youth_league");
    let listed_series = federation
        .client()
        .list_series(with_token(
            proto::ListSeriesRequest {
                organisation: "organisations/communist_youth_league".into(),
                ..Default::default()
            },
            &outsider,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed_series.series.iter().any(|s| s.name == series.name));
    let read_series = federation
        .client()
        .get_series(with_token(
            proto::GetSeriesRequest {
                name: series.name.clone(),
            },
            &outsider,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read_series.display_name, "青年读书会");

    // Drafts: the lead and the administrators see them; another
    // organisation is answered as if there were none.
    let draft = published_activity_attempt(&federation, &league)
        .await
        .unwrap();
    let publish_foreign = federation
        .client()
        .publish_activity(with_token(
            proto::PublishActivityRequest {
                name: draft.name.clone(),
            },
            &outsider,
        ))
        .await;
    assert_code(
        publish_foreign,
        Code::NotFound,
        &format!("{} does not exist", draft.name),
    );
    let register_on_draft =
        register(&federation, &federation.resident("ada"), &draft.name, "").await;
    assert_code(register_on_draft, Code::NotFound, "does not exist");
    let drafts_seen = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListActivitiesRequest {
                state: proto::ActivityState::Draft as i32,
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_activities(request)
                .await
                .unwrap()
                .into_inner()
                .activities
                .len()
        }
    };
    assert_eq!(drafts_seen(league.clone()).await, 1);
    assert_eq!(drafts_seen(federation.admin()).await, 1);
    assert_eq!(drafts_seen(outsider.clone()).await, 0);

    // An announced activity: seen by all, changed by its lead only.
    let activity = published_activity(&federation, &league, 5).await;
    let complete_foreign = federation
        .client()
        .complete_activity(with_token(
            proto::CompleteActivityRequest {
                name: activity.name.clone(),
                summary: String::new(),
            },
            &co_organiser,
        ))
        .await;
    assert_code(
        complete_foreign,
        Code::PermissionDenied,
        "only the organisation leading",
    );
    let desk_registration = register(&federation, &outsider, &activity.name, "card-9").await;
    assert_code(
        desk_registration,
        Code::PermissionDenied,
        "only the organisers of",
    );
    let ada = register(&federation, &federation.resident("ada"), &activity.name, "")
        .await
        .unwrap();
    let bo = register(&federation, &federation.resident("bo"), &activity.name, "")
        .await
        .unwrap();
    let list = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListRegistrationsRequest {
                parent: activity.name.clone(),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_registrations(request)
                .await
                .map(|response| response.into_inner().registrations)
        }
    };
    assert_eq!(list(co_organiser.clone()).await.unwrap().len(), 2);
    let own = list(federation.resident("ada")).await.unwrap();
    assert_eq!(own.len(), 1, "a resident lists only their own");
    assert_eq!(own[0].name, ada.name);
    assert_code(
        list(outsider.clone()).await,
        Code::PermissionDenied,
        "only the organisers of",
    );
    let peek = federation
        .client()
        .get_registration(with_token(
            proto::GetRegistrationRequest {
                name: bo.name.clone(),
            },
            &federation.resident("ada"),
        ))
        .await;
    assert_code(peek, Code::NotFound, &format!("{} does not exist", bo.name));
    let cancel_someone_else = federation
        .client()
        .cancel_registration(with_token(
            proto::CancelRegistrationRequest {
                name: bo.name.clone(),
                reason: String::new(),
            },
            &federation.resident("ada"),
        ))
        .await;
    assert_code(cancel_someone_else, Code::NotFound, "does not exist");

    let cancel_foreign = federation
        .client()
        .cancel_activity(with_token(
            proto::CancelActivityRequest {
                name: activity.name.clone(),
                reason: "场地冲突".into(),
            },
            &co_organiser,
        ))
        .await;
    assert_code(
        cancel_foreign,
        Code::PermissionDenied,
        "only the organisation leading",
    );
    let cancelled = federation
        .client()
        .cancel_activity(with_token(
            proto::CancelActivityRequest {
                name: activity.name.clone(),
                reason: "场地冲突".into(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state, proto::ActivityState::Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "场地冲突");
    let after = list(league.clone()).await.unwrap();
    assert!(
        after
            .iter()
            .all(|r| r.status == proto::RegistrationStatus::Cancelled as i32),
        "live registrations are cancelled with the activity"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_person_their_assessments_plans_and_visits_reach_only_the_organisations_the_record_belongs_to()
 {
    let federation = Federation::start().await;
    let permission = [proto::StaffPermission::PeopleRegister];
    let womens = federation
        .staff_with("womens_federation", "wf-1", &permission)
        .await;
    let red_cross = federation
        .staff_with("red_cross", "rc-1", &permission)
        .await;
    let outsider = federation
        .staff_with("family_planning_association", "fpa-1", &permission)
        .await;
    let person = federation
        .register_person(&womens, "赵丽", &id_number("43030219900505002"))
        .await;
    let not_found = format!("{} does not exist", person.name);

    let update = |token: String, phone: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::UpdatePersonRequest {
                name: person.name.clone(),
                phone: Some(phone.into()),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .update_person(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(
        update(womens.clone(), "13811112222").await.unwrap().phone,
        "13811112222"
    );
    assert_code(
        update(outsider.clone(), "13000000000").await,
        Code::NotFound,
        &not_found,
    );

    let assess = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::CreateAssessmentRequest {
                parent: person.name.clone(),
                request_id: String::new(),
                needs: vec![proto::Need {
                    area: proto::NeedArea::Income as i32,
                    severity: proto::Severity::High as i32,
                    description: "收入不足".into(),
                }],
                summary: "需临时救助".into(),
                assess_time: None,
            },
            &token,
        );
        async move {
            client
                .create_assessment(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let assessment = assess(womens.clone()).await.unwrap();
    assert_eq!(assessment.organisation, "organisations/womens_federation");
    assert_code(assess(outsider.clone()).await, Code::NotFound, &not_found);
    let read_assessment = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetAssessmentRequest {
                name: assessment.name.clone(),
            },
            &token,
        );
        async move { client.get_assessment(request).await }
    };
    assert_eq!(
        read_assessment(womens.clone())
            .await
            .unwrap()
            .into_inner()
            .summary,
        "需临时救助"
    );
    assert_code(
        read_assessment(outsider.clone()).await,
        Code::NotFound,
        &not_found,
    );
    let list_assessments = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListAssessmentsRequest {
                parent: person.name.clone(),
                ..Default::default()
            },
            &token,
        );
        async move { client.list_assessments(request).await }
    };
    assert_eq!(
        list_assessments(womens.clone())
            .await
            .unwrap()
            .into_inner()
            .assessments
            .len(),
        1
    );
    assert_code(
        list_assessments(outsider.clone()).await,
        Code::NotFound,
        &not_found,
    );

    // Planning for someone else's person is planning for nobody.
    let foreign_plan = federation
        .client()
        .create_support_plan(with_token(
            proto::CreateSupportPlanRequest {
                plan: Some(proto::SupportPlanInput {
                    person: person.name.clone(),
                    measures: vec![measure(
                        "family_planning_association",
                        proto::MeasureKind::CareService,
                        "上门照护",
                    )],
                    ..Default::default()
                }),
                ..Default::default()
            },
            &outsider,
        ))
        .await;
    assert_code(foreign_plan, Code::NotFound, &not_found);

    // The Red Cross commits a measure: it reaches the person through it.
    let plan = federation
        .plan(
            &womens,
            &person.name,
            vec![measure(
                "red_cross",
                proto::MeasureKind::MaterialAid,
                "米面油",
            )],
        )
        .await;
    let plan_not_found = format!("{} does not exist", plan.name);
    assert_eq!(
        federation
            .client()
            .get_person(with_token(
                proto::GetPersonRequest {
                    name: person.name.clone(),
                },
                &red_cross,
            ))
            .await
            .unwrap()
            .into_inner()
            .full_name,
        "赵丽"
    );
    let add = |token: String, organisation: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::AddSupportMeasureRequest {
                parent: plan.name.clone(),
                request_id: String::new(),
                measure: Some(measure(
                    organisation,
                    proto::MeasureKind::Companionship,
                    "每周探访",
                )),
            },
            &token,
        );
        async move {
            client
                .add_support_measure(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let added = add(red_cross.clone(), "red_cross").await.unwrap();
    assert_eq!(added.state, proto::MeasureState::Committed as i32);
    assert_code(
        add(red_cross.clone(), "federation_of_trade_unions").await,
        Code::PermissionDenied,
        "only the plan's lead commits on behalf of another",
    );
    assert_code(
        add(outsider.clone(), "family_planning_association").await,
        Code::NotFound,
        &plan_not_found,
    );
    let foreign_delivery = federation
        .client()
        .record_delivery(with_token(
            proto::RecordDeliveryRequest {
                measure: added.name.clone(),
                description: "探访".into(),
                ..Default::default()
            },
            &outsider,
        ))
        .await;
    assert_code(foreign_delivery, Code::NotFound, &plan_not_found);

    let visit = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::LogVisitRequest {
                parent: plan.name.clone(),
                request_id: String::new(),
                kind: proto::VisitKind::HomeVisit as i32,
                visit_time: None,
                notes: "精神状态良好".into(),
            },
            &token,
        );
        async move {
            client
                .log_visit(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let logged = visit(womens.clone()).await.unwrap();
    assert_eq!(logged.organisation, "organisations/womens_federation");
    assert_code(
        visit(outsider.clone()).await,
        Code::NotFound,
        &plan_not_found,
    );
    let visits = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListVisitsRequest {
                parent: plan.name.clone(),
                ..Default::default()
            },
            &token,
        );
        async move { client.list_visits(request).await }
    };
    let seen = visits(red_cross.clone()).await.unwrap().into_inner().visits;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name, logged.name);
    assert_code(
        visits(outsider.clone()).await,
        Code::NotFound,
        &plan_not_found,
    );

    let get_plan = federation
        .client()
        .get_support_plan(with_token(
            proto::GetSupportPlanRequest {
                name: plan.name.clone(),
            },
            &outsider,
        ))
        .await;
    assert_code(get_plan, Code::NotFound, &plan_not_found);
    let plans = |token: String| {
        let mut client = federation.client();
        let request = with_token(proto::ListSupportPlansRequest::default(), &token);
        async move {
            client
                .list_support_plans(request)
                .await
                .unwrap()
                .into_inner()
                .support_plans
        }
    };
    assert_eq!(plans(red_cross.clone()).await.len(), 1);
    assert!(plans(outsider.clone()).await.is_empty());
    let people = federation
        .client()
        .list_people(with_token(proto::ListPeopleRequest::default(), &outsider))
        .await
        .unwrap()
        .into_inner();
    assert!(people.people.is_empty());

    let close = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::CloseSupportPlanRequest {
                name: plan.name.clone(),
                state: proto::SupportPlanState::Completed as i32,
                note: "已渡过难关".into(),
            },
            &token,
        );
        async move {
            client
                .close_support_plan(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        close(red_cross.clone()).await,
        Code::PermissionDenied,
        "only the plan's lead organisation closes it",
    );
    assert_code(
        close(outsider.clone()).await,
        Code::NotFound,
        &plan_not_found,
    );
    let closed = close(womens.clone()).await.unwrap();
    assert_eq!(closed.state, proto::SupportPlanState::Completed as i32);
    assert!(
        closed
            .measures
            .iter()
            .all(|m| m.state == proto::MeasureState::Withdrawn as i32),
        "undelivered measures are withdrawn"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn integrators_read_referrals_only_within_their_jurisdiction_and_without_staff_ids() {
    let federation = Federation::start().await;
    let case = "cases/0193a3c2-7d1e-7000-8000-00000000c0de";
    publish_case_referred(&federation, &uuid::Uuid::now_v7().to_string(), case, 10).await;
    let referral = referral_for(&federation, case).await;
    federation
        .client()
        .decline_referral(with_token(
            proto::DeclineReferralRequest {
                name: referral.name.clone(),
                reason: "已由民政部门救助".into(),
            },
            &federation.staff("red_cross", "rc-1"),
        ))
        .await
        .unwrap();
    let get = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetReferralRequest {
                name: referral.name.clone(),
            },
            &token,
        );
        async move {
            client
                .get_referral(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let staff_view = get(federation.staff("womens_federation", "wf-1"))
        .await
        .unwrap();
    assert_eq!(staff_view.decided_by, "rc-1");
    let local = federation.integrator("feed-1", "subdistricts/430302001");
    let local_view = get(local.clone()).await.unwrap();
    assert_eq!(local_view.state, proto::ReferralState::Declined as i32);
    assert!(
        local_view.decided_by.is_empty(),
        "no staff ids for integrators"
    );
    let elsewhere = federation.integrator("feed-2", "subdistricts/430302002");
    assert_code(
        get(elsewhere.clone()).await,
        Code::NotFound,
        &format!("{} does not exist", referral.name),
    );
    let list = |token: String| {
        let mut client = federation.client();
        let request = with_token(proto::ListReferralsRequest::default(), &token);
        async move {
            client
                .list_referrals(request)
                .await
                .unwrap()
                .into_inner()
                .referrals
        }
    };
    assert_eq!(list(local).await.len(), 1);
    assert!(list(elsewhere).await.is_empty());
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rights_request_is_transferred_by_its_handler_and_listed_only_by_the_organisations_involved()
 {
    let federation = Federation::start().await;
    let red_cross = federation.staff("red_cross", "rc-1");
    let unions = federation.staff("federation_of_trade_unions", "ftu-1");
    let womens = federation.staff("womens_federation", "wf-1");
    let submitted = federation
        .client()
        .submit_rights_request(with_token(
            proto::SubmitRightsRequestRequest {
                category: proto::RightsCategory::Workers as i32,
                channel: proto::RightsChannel::WalkIn as i32,
                description: "女工产假期间被辞退".into(),
                requester_name: "陈女士".into(),
                requester_phone: "13900000002".into(),
                ..Default::default()
            },
            &red_cross,
        ))
        .await
        .unwrap()
        .into_inner();
    let transfer = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::TransferRightsRequestRequest {
                name: submitted.name.clone(),
                organisation: "womens_federation".into(),
                reason: "涉及女职工权益".into(),
            },
            &token,
        );
        async move {
            client
                .transfer_rights_request(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        transfer(federation.staff("red_cross", "rc-2")).await,
        Code::PermissionDenied,
        "only the organisation handling",
    );
    assert_code(
        transfer(federation.staff("family_planning_association", "fpa-1")).await,
        Code::NotFound,
        &format!("{} does not exist", submitted.name),
    );
    let transferred = transfer(unions.clone()).await.unwrap();
    assert_eq!(transferred.organisation, "organisations/womens_federation");
    let linked = federation
        .client()
        .link_rights_request_case(with_token(
            proto::LinkRightsRequestCaseRequest {
                name: submitted.name.clone(),
                case: "cases/0193a3c2-7d1e-7000-8000-000000000888".into(),
            },
            &unions,
        ))
        .await;
    assert_code(linked, Code::NotFound, "does not exist");
    let list = |token: String| {
        let mut client = federation.client();
        let request = with_token(proto::ListRightsRequestsRequest::default(), &token);
        async move {
            client
                .list_rights_requests(request)
                .await
                .unwrap()
                .into_inner()
                .rights_requests
        }
    };
    let handler_view = list(womens).await;
    assert_eq!(handler_view.len(), 1);
    assert_eq!(handler_view[0].requester_phone, "13900000002");
    assert_eq!(
        list(red_cross).await.len(),
        1,
        "the recorder keeps seeing it"
    );
    assert!(
        list(unions).await.is_empty(),
        "the former handler no longer sees it"
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn programmes_are_closed_by_their_lead_and_applications_reach_only_the_applicant_and_the_organisers()
 {
    let federation = Federation::start().await;
    let league = federation.staff("communist_youth_league", "cyl-1");
    let co_organiser = federation.staff("industry_commerce_federation", "icf-1");
    let outsider = federation.staff("red_cross", "rc-1");
    let now = Utc::now();
    let programme = federation
        .client()
        .create_programme(with_token(
            proto::CreateProgrammeRequest {
                request_id: String::new(),
                title: "青年创业孵化营".into(),
                description: String::new(),
                kind: proto::ProgrammeKind::Incubation as i32,
                co_organisers: vec!["industry_commerce_federation".into()],
                audiences: vec![proto::Audience::Youth as i32],
                application_open_time: timestamp(now - chrono::Duration::days(1)),
                application_close_time: timestamp(now + chrono::Duration::days(30)),
                places: 3,
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    let apply = |token: String, title: &str| {
        let mut client = federation.client();
        let request = with_token(
            proto::SubmitApplicationRequest {
                parent: programme.name.clone(),
                request_id: String::new(),
                applicant_name: "周杰".into(),
                applicant_phone: "13700000000".into(),
                project_title: title.into(),
                project_summary: String::new(),
                team_size: 2,
                block_code: String::new(),
            },
            &token,
        );
        async move {
            client
                .submit_application(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let zhou = apply(federation.resident("zhou"), "社区团购")
        .await
        .unwrap();
    apply(federation.resident("wu"), "莲子电商").await.unwrap();
    let at_the_desk = apply(co_organiser.clone(), "湘绣工坊").await.unwrap();
    assert_eq!(at_the_desk.submitted_by, "icf-1");
    assert_code(
        apply(outsider.clone(), "外卖").await,
        Code::PermissionDenied,
        "only the organisers of",
    );

    let list = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::ListApplicationsRequest {
                parent: programme.name.clone(),
                ..Default::default()
            },
            &token,
        );
        async move {
            client
                .list_applications(request)
                .await
                .map(|response| response.into_inner().applications)
        }
    };
    assert_eq!(list(league.clone()).await.unwrap().len(), 3);
    let own = list(federation.resident("zhou")).await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].name, zhou.name);
    assert_code(
        list(outsider.clone()).await,
        Code::PermissionDenied,
        "only the organisers of",
    );

    let decide = federation
        .client()
        .decide_application(with_token(
            proto::DecideApplicationRequest {
                name: zhou.name.clone(),
                accept: true,
                note: String::new(),
            },
            &outsider,
        ))
        .await;
    assert_code(decide, Code::PermissionDenied, "only the organisers of");
    let mentor = federation
        .client()
        .create_mentor(with_token(
            proto::CreateMentorRequest {
                request_id: String::new(),
                display_name: "黄老师".into(),
                expertise: vec!["电商运营".into()],
                phone: "13600000000".into(),
                biography: String::new(),
            },
            &outsider,
        ))
        .await
        .unwrap()
        .into_inner();
    let read_mentor = federation
        .client()
        .get_mentor(with_token(
            proto::GetMentorRequest {
                name: mentor.name.clone(),
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read_mentor.phone, "13600000000", "staff reach the pool");
    let pool = federation
        .client()
        .list_mentors(with_token(
            proto::ListMentorsRequest {
                expertise: "电商运营".into(),
                ..Default::default()
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner()
        .mentors;
    assert_eq!(pool.len(), 1);
    let resident_reads_pool = federation
        .client()
        .list_mentors(with_token(
            proto::ListMentorsRequest::default(),
            &federation.resident("zhou"),
        ))
        .await;
    assert_code(
        resident_reads_pool,
        Code::PermissionDenied,
        "is not granted",
    );
    let assign = federation
        .client()
        .assign_mentor(with_token(
            proto::AssignMentorRequest {
                name: zhou.name.clone(),
                mentor: mentor.name.clone(),
            },
            &outsider,
        ))
        .await;
    assert_code(assign, Code::PermissionDenied, "only the organisers of");
    let progress = federation
        .client()
        .record_progress(with_token(
            proto::RecordProgressRequest {
                name: zhou.name.clone(),
                milestone: "注册".into(),
                note: String::new(),
                r#final: false,
            },
            &outsider,
        ))
        .await;
    assert_code(progress, Code::PermissionDenied, "only the organisers of");

    let close = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::CloseProgrammeRequest {
                name: programme.name.clone(),
            },
            &token,
        );
        async move {
            client
                .close_programme(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_code(
        close(co_organiser).await,
        Code::PermissionDenied,
        "only the organisation leading a programme closes it",
    );
    let closed = close(league).await.unwrap();
    assert_eq!(closed.state, proto::ProgrammeState::Closed as i32);
    assert_code(
        apply(federation.resident("late"), "迟到").await,
        Code::FailedPrecondition,
        "programme is closed",
    );
    federation.application.shutdown().await.unwrap();
}

#[tokio::test]
async fn draft_proposals_stay_within_the_federation_and_only_the_drafter_submits_and_records_the_answer()
 {
    let federation = Federation::start().await;
    let womens = federation.staff("womens_federation", "wf-1");
    let league = federation.staff("communist_youth_league", "cyl-1");
    let district_feed = federation.integrator("feed", "districts/430302");
    let draft = federation
        .client()
        .create_proposal(with_token(
            proto::CreateProposalRequest {
                request_id: String::new(),
                title: "关于妇女就业的建议".into(),
                body: "正文".into(),
                addressee: proto::Addressee::PeoplesCongress as i32,
                session: String::new(),
            },
            &womens,
        ))
        .await
        .unwrap()
        .into_inner();
    let get = |token: String| {
        let mut client = federation.client();
        let request = with_token(
            proto::GetProposalRequest {
                name: draft.name.clone(),
            },
            &token,
        );
        async move {
            client
                .get_proposal(request)
                .await
                .map(tonic::Response::into_inner)
        }
    };
    assert_eq!(get(league.clone()).await.unwrap().drafted_by, "wf-1");
    assert_code(
        get(district_feed.clone()).await,
        Code::NotFound,
        &format!("{} does not exist", draft.name),
    );
    let subdistrict_feed = federation.integrator("feed-2", "subdistricts/430302001");
    assert_code(
        get(subdistrict_feed).await,
        Code::PermissionDenied,
        "only with a district-wide jurisdiction",
    );
    let submit_foreign = federation
        .client()
        .submit_proposal(with_token(
            proto::SubmitProposalRequest {
                name: draft.name.clone(),
            },
            &league,
        ))
        .await;
    assert_code(
        submit_foreign,
        Code::PermissionDenied,
        "only the organisation that drafted",
    );
    federation
        .client()
        .submit_proposal(with_token(
            proto::SubmitProposalRequest {
                name: draft.name.clone(),
            },
            &womens,
        ))
        .await
        .unwrap();
    let answer_foreign = federation
        .client()
        .record_proposal_response(with_token(
            proto::RecordProposalResponseRequest {
                name: draft.name.clone(),
                kind: proto::ResponseKind::Adopted as i32,
                responder: "区人社局".into(),
                text: "采纳".into(),
                answer_time: None,
            },
            &league,
        ))
        .await;
    assert_code(
        answer_foreign,
        Code::PermissionDenied,
        "only the organisation that drafted",
    );
    let submitted = get(district_feed.clone()).await.unwrap();
    assert_eq!(submitted.state, proto::ProposalState::Submitted as i32);
    assert!(
        submitted.drafted_by.is_empty(),
        "no staff ids for integrators"
    );
    let drafts_and_more = federation
        .client()
        .create_proposal(with_token(
            proto::CreateProposalRequest {
                title: "另一草稿".into(),
                body: "正文".into(),
                addressee: proto::Addressee::Cppcc as i32,
                ..Default::default()
            },
            &league,
        ))
        .await
        .unwrap()
        .into_inner();
    let listed = |token: String| {
        let mut client = federation.client();
        let request = with_token(proto::ListProposalsRequest::default(), &token);
        async move {
            client
                .list_proposals(request)
                .await
                .unwrap()
                .into_inner()
                .proposals
                .into_iter()
                .map(|proposal| proposal.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(district_feed).await,
        std::slice::from_ref(&draft.name)
    );
    assert_eq!(listed(womens).await.len(), 2);
    assert!(
        listed(federation.admin())
            .await
            .contains(&drafts_and_more.name)
    );
    federation.application.shutdown().await.unwrap();
}
