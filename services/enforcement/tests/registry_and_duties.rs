//! Agencies, units and officers as data; agencies resolved from the duty
//! lists, including while the duty lists are down.
//!
//! The duty lists service is not part of this crate, so the two calls of
//! its gRPC contract that enforcement makes (`ResolveResponsibility`,
//! `GetDepartment`) are served by a small real gRPC server in the test with
//! fixed answers; PostgreSQL and NATS are the real ones.

mod support;

use flatgov_proto::duties::v1::{
    Department, GetDepartmentRequest, ResolveResponsibilityRequest, ResolveResponsibilityResponse,
};
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::flatgov::r#type::v1::{HandlingTier, Unit, UnitKind};
use flatgov_testkit::contract::{Contract, RunningContract};
use flatgov_testkit::{TestEnv, eventually, field_violations, free_port, with_token};
use support::*;
use tonic::{Code, Request, Status};

/// The two duty lists calls enforcement makes, answered as the reference
/// district's lists would: illegal construction is urban management's, with
/// housing and market supervision cooperating; other matters are unknown;
/// the reference departments exist.
fn resolve(request: ResolveResponsibilityRequest) -> Result<ResolveResponsibilityResponse, Status> {
    if request.matter_code != "illegal_construction" {
        return Err(Status::not_found(format!(
            "unknown matter {}",
            request.matter_code
        )));
    }
    let place = request.place.unwrap_or_default();
    if place.subdistrict_code != SUBDISTRICT {
        return Err(Status::invalid_argument("unexpected place"));
    }
    Ok(ResolveResponsibilityResponse {
        lead: Some(Unit {
            kind: UnitKind::Department as i32,
            code: "urban_management".into(),
        }),
        cooperating_departments: vec!["housing_construction".into(), "market_supervision".into()],
        default_tier: HandlingTier::Whistle as i32,
        list_item_code: "SC-01-01".into(),
        ..Default::default()
    })
}

fn department(request: GetDepartmentRequest) -> Result<Department, Status> {
    let code = request
        .name
        .strip_prefix("departments/")
        .unwrap_or_default();
    match code {
        "urban_management" | "market_supervision" | "public_security" | "emergency_management" => {
            Ok(Department {
                name: request.name.clone(),
                code: code.into(),
                ..Default::default()
            })
        }
        _ => Err(Status::not_found(format!("no department {code}"))),
    }
}

/// A duty lists answer that insists on the enforcement service's token, as
/// the real service does.
fn signed<Q, A>(
    answer: fn(Q) -> Result<A, Status>,
) -> impl Fn(Request<Q>) -> Result<A, Status> + Clone {
    move |request| {
        if request.metadata().get("authorization").is_none() {
            return Err(Status::unauthenticated(
                "the enforcement service signs its calls",
            ));
        }
        answer(request.into_inner())
    }
}

/// `flatgov.duties.v1.DutyLists` on `port`, answering only what enforcement
/// calls, until the returned value is dropped.
async fn serve_duties(port: u16) -> RunningContract {
    Contract::new("flatgov.duties.v1.DutyLists")
        .unary("ResolveResponsibility", signed(resolve))
        .unary("GetDepartment", signed(department))
        .serve(port)
        .await
}

fn duties_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_whistle_naming_no_agency_summons_the_duty_lists_lead_and_cooperating_agencies() {
    let test = TestEnv::new();
    let port = free_port();
    let _duties = serve_duties(port).await;
    let application = start(&test, &[("DUTIES_URL", &duties_url(port))]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);

    let opened = blow(&mut client, &tokens.dispatcher, whistle(&[], false)).await;
    assert_eq!(state(&opened), api::OperationState::Open);
    assert_eq!(
        opened.agency_selection,
        api::AgencySelection::DutyLists as i32
    );
    assert_eq!(opened.lead_agency, "agencies/urban_management");
    let agencies: Vec<&str> = opened
        .summons
        .iter()
        .map(|summons| summons.agency.as_str())
        .collect();
    assert_eq!(
        agencies,
        vec!["agencies/urban_management", "agencies/market_supervision"]
    );
    assert!(
        opened
            .agency_selection_note
            .contains("left out: housing_construction")
    );
    let deadline = &opened.summons[0];
    assert_eq!(
        deadline.report_in_deadline.unwrap().seconds - deadline.summon_time.unwrap().seconds,
        2 * 3600,
        "ordinary whistles give two hours by default"
    );

    let mut unknown_matter = whistle(&[], false);
    unknown_matter.matter_code = "stray_dogs".into();
    let fallback = blow(&mut client, &tokens.dispatcher, unknown_matter).await;
    assert_eq!(
        fallback.agency_selection,
        api::AgencySelection::DefaultSet as i32
    );
    assert_eq!(fallback.summons.len(), 3);
    assert!(
        fallback.agency_selection_note.contains("stray_dogs"),
        "{}",
        fallback.agency_selection_note
    );

    // Agencies are named by the duty lists' department codes.
    let agency = |code: &str| api::CreateAgencyRequest {
        code: code.into(),
        display_name: "区应急管理局".into(),
        display_name_en: String::new(),
        ..Default::default()
    };
    let not_a_department = client
        .create_agency(with_token(agency("emergency_office"), &tokens.admin))
        .await
        .unwrap_err();
    assert_eq!(not_a_department.code(), Code::InvalidArgument);
    assert!(
        not_a_department
            .message()
            .contains("not a department in the duty lists")
    );
    client
        .create_agency(with_token(agency("emergency_management"), &tokens.admin))
        .await
        .expect("a duty lists department becomes an agency");
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_whistle_blown_while_the_duty_lists_are_down_is_kept_and_summoned_when_they_return() {
    let test = TestEnv::new();
    let port = free_port();
    let application = start(&test, &[("DUTIES_URL", &duties_url(port))]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);

    let waiting = blow(&mut client, &tokens.dispatcher, whistle(&[], true)).await;
    assert_eq!(state(&waiting), api::OperationState::ResolvingAgencies);
    assert!(waiting.summons.is_empty());

    let _duties = serve_duties(port).await;
    let opened = eventually("the agencies to be summoned", PATIENCE, || async {
        let operation = get(&mut client.clone(), &tokens.dispatcher, &waiting.name).await;
        (state(&operation) == api::OperationState::Open).then_some(operation)
    })
    .await;
    assert_eq!(
        opened.agency_selection,
        api::AgencySelection::DutyLists as i32
    );
    assert_eq!(opened.lead_agency, "agencies/urban_management");
    let blown = events_of::<api::WhistleBlown>(&test, 1).await;
    assert_eq!(
        blown[0].1.agencies,
        vec!["urban_management", "market_supervision"]
    );
    assert!(blown[0].1.urgent);
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn when_the_duty_lists_stay_down_past_the_patience_the_default_set_is_summoned() {
    let test = TestEnv::new();
    let port = free_port();
    let application = start(
        &test,
        &[
            ("DUTIES_URL", &duties_url(port)),
            ("ENFORCEMENT_AGENCY_RESOLUTION_PATIENCE", "1s"),
        ],
    )
    .await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let mut with_lead = whistle(&[], false);
    with_lead.lead_agency = "public_security".into();
    let waiting = blow(&mut client, &tokens.dispatcher, with_lead).await;
    assert_eq!(state(&waiting), api::OperationState::ResolvingAgencies);

    let blown = events_of::<api::WhistleBlown>(&test, 1).await;
    assert_eq!(
        blown[0].1.lead_agency, "public_security",
        "the named lead leads the default set"
    );
    assert_eq!(blown[0].1.agencies.len(), 3);
    let opened = get(&mut client, &tokens.dispatcher, &waiting.name).await;
    assert_eq!(
        opened.agency_selection,
        api::AgencySelection::DefaultSet as i32
    );
    assert!(
        opened
            .agency_selection_note
            .contains("stayed unreachable for 1s"),
        "{}",
        opened.agency_selection_note
    );
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn agencies_units_and_officers_are_managed_as_data_by_those_responsible() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);

    let seeded = client
        .list_agencies(with_token(
            api::ListAgenciesRequest::default(),
            &tokens.integrator,
        ))
        .await
        .unwrap()
        .into_inner()
        .agencies;
    let names: Vec<(&str, &str)> = seeded
        .iter()
        .map(|agency| (agency.code.as_str(), agency.display_name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("market_supervision", "区市场监督管理局"),
            ("public_security", "区公安分局"),
            ("urban_management", "区城市管理和综合执法局"),
        ]
    );

    let create = api::CreateAgencyRequest {
        code: "emergency_management".into(),
        display_name: "区应急管理局".into(),
        display_name_en: "Emergency Management Bureau".into(),
        ..Default::default()
    };
    let refused = client
        .create_agency(with_token(create.clone(), &tokens.urban))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    client
        .create_agency(with_token(create.clone(), &tokens.admin))
        .await
        .expect("agency registered");
    let duplicate = client
        .create_agency(with_token(create, &tokens.admin))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let first_page = client
        .list_agencies(with_token(
            api::ListAgenciesRequest {
                page_size: 2,
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.agencies.len(), 2);
    let second_page = client
        .list_agencies(with_token(
            api::ListAgenciesRequest {
                page_size: 2,
                page_token: first_page.next_page_token.clone(),
                include_inactive: false,
            },
            &tokens.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.agencies.len(), 2);
    assert!(second_page.next_page_token.is_empty());
    // A token resumes only the listing it came from, not one with other filters.
    let other_filter = client
        .list_agencies(with_token(
            api::ListAgenciesRequest {
                page_size: 2,
                page_token: first_page.next_page_token,
                include_inactive: true,
            },
            &tokens.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(other_filter.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&other_filter)[0].field, "page_token");

    // Units stationed in a subdistrict, created idempotently by the agency.
    let unit_request = api::CreateUnitRequest {
        parent: "agencies/urban_management".into(),
        request_id: "squad-yuhu-1".into(),
        display_name: "雨湖路街道城管中队".into(),
        stationed_subdistrict_code: SUBDISTRICT.into(),
        on_duty: true,
        ..Default::default()
    };
    let unit = client
        .create_unit(with_token(unit_request.clone(), &tokens.urban))
        .await
        .expect("unit created")
        .into_inner();
    let retried = client
        .create_unit(with_token(unit_request.clone(), &tokens.urban))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.name, unit.name);
    let foreign = client
        .create_unit(with_token(unit_request, &tokens.market))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let stationed = client
        .list_units(with_token(
            api::ListUnitsRequest {
                stationed_subdistrict_code: SUBDISTRICT.into(),
                on_duty_only: true,
                ..Default::default()
            },
            &tokens.dispatcher,
        ))
        .await
        .unwrap()
        .into_inner()
        .units;
    assert_eq!(stationed.len(), 1);
    let off_duty = client
        .update_unit(with_token(
            api::UpdateUnitRequest {
                name: unit.name.clone(),
                on_duty: Some(false),
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!off_duty.on_duty);
    assert_eq!(
        off_duty.stationed_subdistrict_code, SUBDISTRICT,
        "unchanged fields stay"
    );

    // Officers: phones for their own agency only; badges unique per agency.
    let officer = client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: "agencies/urban_management".into(),
                request_id: String::new(),
                unit: unit.name.clone(),
                display_name: "王队长".into(),
                badge_number: "43030201".into(),
                phone: "13800138000".into(),
            },
            &tokens.urban,
        ))
        .await
        .expect("officer created")
        .into_inner();
    assert_eq!(officer.unit, unit.name);
    let seen = |token: &str| {
        let mut client = client.clone();
        let name = officer.name.clone();
        let token = token.to_owned();
        async move {
            client
                .get_officer(with_token(api::GetOfficerRequest { name }, &token))
                .await
                .map(|response| response.into_inner())
        }
    };
    assert_eq!(seen(&tokens.urban).await.unwrap().phone, "13800138000");
    let by_dispatcher = seen(&tokens.dispatcher).await.unwrap();
    assert_eq!(
        (
            by_dispatcher.display_name.as_str(),
            by_dispatcher.phone.as_str()
        ),
        ("王队长", "")
    );
    assert_eq!(
        seen(&tokens.integrator).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // Another agency's officers do not exist for the police.
    let police = seen(&tokens.police).await.unwrap_err();
    assert_eq!(police.code(), Code::NotFound);
    assert_eq!(police.message(), format!("{} does not exist", officer.name));
    let same_badge = client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: "agencies/urban_management".into(),
                display_name: "李".into(),
                badge_number: "43030201".into(),
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(same_badge.code(), Code::AlreadyExists);
    let bad_phone = client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: "agencies/urban_management".into(),
                display_name: "李".into(),
                badge_number: "43030202".into(),
                phone: "call me".into(),
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_phone.code(), Code::InvalidArgument);

    // A new agency can be summoned; an inactive one cannot.
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["emergency_management"], true),
    )
    .await;
    assert_eq!(opened.lead_agency, "agencies/emergency_management");
    client
        .update_agency(with_token(
            api::UpdateAgencyRequest {
                name: "agencies/emergency_management".into(),
                active: Some(false),
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .expect("deactivated");
    let inactive = client
        .blow_whistle(with_token(
            whistle(&["emergency_management"], true),
            &tokens.dispatcher,
        ))
        .await
        .unwrap_err();
    assert_eq!(inactive.code(), Code::FailedPrecondition);
    assert!(inactive.message().contains("emergency_management"));
    application.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_lead_agency_may_summon_another_agency_with_its_own_deadline() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management"], false),
    )
    .await;
    let summon = |token: String| {
        let mut client = client.clone();
        let operation = opened.name.clone();
        async move {
            client
                .summon_agency(with_token(
                    api::SummonAgencyRequest {
                        operation,
                        agency: "public_security".into(),
                    },
                    &token,
                ))
                .await
        }
    };
    // Market supervision is not summoned: the operation does not exist for it.
    assert_eq!(
        summon(tokens.market.clone()).await.unwrap_err().code(),
        Code::NotFound
    );
    let widened = summon(tokens.urban.clone())
        .await
        .expect("summoned")
        .into_inner();
    assert_eq!(widened.summons.len(), 2);
    assert!(!summons(&widened, "public_security").lead);
    let again = summon(tokens.urban.clone()).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    // The police, summoned but not leading, see the operation but may not
    // summon others.
    let not_lead = client
        .summon_agency(with_token(
            api::SummonAgencyRequest {
                operation: opened.name.clone(),
                agency: "market_supervision".into(),
            },
            &tokens.police,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_lead.code(), Code::PermissionDenied);
    assert_eq!(
        not_lead.message(),
        "only the lead agency may summon another agency; agency public_security does not lead this operation"
    );
    let summoned = events_of::<api::AgencySummoned>(&test, 2).await;
    assert_eq!(summoned[1].1.agency, "public_security");
    assert!(summoned[0].1.lead && !summoned[1].1.lead);
    application.shutdown().await.unwrap();
}
