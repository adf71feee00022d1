//! Issue 19, items 4 and 5, over real gRPC against real PostgreSQL and
//! NATS: duty rosters and the on-duty unit a whistle summons (with the
//! district duty desk when none is on duty, the gap flagged at summons
//! time), report-in by an officer of the summoned unit, per-unit report-in
//! indicators; and sensitive by default — police notes, findings and
//! penalty details restricted to the agency that recorded them.

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::enforcement::v1 as api;
use flatgov_testkit::{TestEnv, field_violations, with_token};
use support::*;
use tonic::Code;

/// Creates a unit of `agency` (by `token`) and returns its name.
async fn unit(
    client: &mut Client,
    token: &str,
    agency: &str,
    display_name: &str,
    stationed_in: &str,
    duty_desk: bool,
) -> String {
    client
        .create_unit(with_token(
            api::CreateUnitRequest {
                parent: format!("agencies/{agency}"),
                display_name: display_name.into(),
                stationed_subdistrict_code: stationed_in.into(),
                duty_desk,
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("unit created")
        .into_inner()
        .name
}

/// Creates an officer of `agency` in `unit` (or none) and returns its name.
async fn officer_in(
    client: &mut Client,
    token: &str,
    agency: &str,
    unit: &str,
    badge: &str,
) -> String {
    client
        .create_officer(with_token(
            api::CreateOfficerRequest {
                parent: format!("agencies/{agency}"),
                unit: unit.into(),
                display_name: format!("Officer {badge}"),
                badge_number: badge.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("officer created")
        .into_inner()
        .name
}

fn shift(
    unit: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    officers: &[&str],
) -> api::CreateDutyShiftRequest {
    api::CreateDutyShiftRequest {
        parent: unit.into(),
        start_time: Some(timestamp(starts_at)),
        end_time: Some(timestamp(ends_at)),
        officers: officers.iter().map(|name| (*name).to_owned()).collect(),
        note: "带班: 张所长".into(),
        ..Default::default()
    }
}

fn report(operation: &str, officers: &[&str]) -> api::ReportInRequest {
    api::ReportInRequest {
        operation: operation.into(),
        officers: officers.iter().map(|name| (*name).to_owned()).collect(),
        note: "on site".into(),
        ..Default::default()
    }
}

fn gap(summons: &api::Summons) -> api::DutyGap {
    api::DutyGap::try_from(summons.duty_gap).expect("a known gap")
}

#[tokio::test]
async fn a_whistle_summons_the_unit_on_duty_by_its_roster_and_only_its_officers_report_in() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let police = "public_security";
    let day_squad = unit(
        &mut client,
        &tokens.police,
        police,
        "日班警组",
        SUBDISTRICT,
        false,
    )
    .await;
    let night_squad = unit(
        &mut client,
        &tokens.police,
        police,
        "夜班警组",
        SUBDISTRICT,
        false,
    )
    .await;
    unit(
        &mut client,
        &tokens.police,
        police,
        "分局指挥中心",
        "",
        true,
    )
    .await;
    let day_officer = officer_in(&mut client, &tokens.police, police, &day_squad, "PS-101").await;
    // On the night squad's roster, though attached to no unit.
    let rostered = officer_in(&mut client, &tokens.police, police, "", "PS-102").await;
    let now = Utc::now();
    let night_shift = client
        .create_duty_shift(with_token(
            shift(
                &night_squad,
                now - TimeDelta::hours(1),
                now + TimeDelta::hours(11),
                &[&rostered],
            ),
            &tokens.police,
        ))
        .await
        .expect("shift rostered")
        .into_inner();
    assert!(
        night_shift.display_span.contains("北京时间"),
        "{}",
        night_shift.display_span
    );
    assert!(night_shift.display_span_en.contains("China Standard Time"));

    let units = client
        .list_units(with_token(
            api::ListUnitsRequest {
                parent: format!("agencies/{police}"),
                on_duty_only: true,
                ..Default::default()
            },
            &tokens.dispatcher,
        ))
        .await
        .expect("units listed")
        .into_inner()
        .units;
    assert_eq!(
        units
            .iter()
            .map(|unit| unit.name.as_str())
            .collect::<Vec<_>>(),
        vec![night_squad.as_str()],
        "only the squad whose shift runs is on duty now"
    );

    let opened = blow(&mut client, &tokens.dispatcher, whistle(&[police], true)).await;
    let summoned = summons(&opened, police);
    assert_eq!(summoned.summoned_unit, night_squad);
    assert_eq!(gap(summoned), api::DutyGap::NoGap);
    let events = events_of::<api::AgencySummoned>(&test, 1).await;
    assert_eq!(events[0].1.summoned_unit, night_squad);
    assert_eq!(events[0].1.duty_gap, api::DutyGap::NoGap as i32);

    // An officer of another squad is not the summoned unit's.
    let refused = client
        .report_in(with_token(
            report(&opened.name, &[&day_officer]),
            &tokens.police,
        ))
        .await
        .expect_err("not an officer of the summoned unit");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let violations = field_violations(&refused);
    assert_eq!(violations[0].field, "officers", "{violations:?}");
    assert!(
        violations[0].description.contains(&night_squad),
        "{violations:?}"
    );
    let unchanged = get(&mut client, &tokens.police, &opened.name).await;
    assert_eq!(
        summons(&unchanged, police).state,
        api::SummonsState::AwaitingReport as i32
    );

    let reported = client
        .report_in(with_token(
            report(&opened.name, &[&rostered, &day_officer]),
            &tokens.police,
        ))
        .await
        .expect("an officer on the summoned unit's shift reports in")
        .into_inner();
    let summons_after = summons(&reported, police);
    assert_eq!(summons_after.state, api::SummonsState::ReportedIn as i32);
    assert_eq!(
        summons_after.unit, night_squad,
        "the report names the summoned unit when it names none"
    );

    // The unit's report-in time is an indicator of its own.
    let figures = client
        .get_indicators(with_token(
            api::GetIndicatorsRequest {
                period_start: Some(timestamp(now - TimeDelta::days(1))),
                period_end: Some(timestamp(now + TimeDelta::days(1))),
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .expect("indicators")
        .into_inner();
    let night = figures
        .units
        .iter()
        .find(|row| row.unit == night_squad)
        .expect("a row for the night squad");
    assert_eq!(night.agency, format!("agencies/{police}"));
    assert_eq!(night.whistles_received, 1);
    assert_eq!(night.reported_in_on_time, 1);
    assert!(night.mean_time_to_report_in.is_some());
    assert_eq!(night.duty_gaps, 0);
}

#[tokio::test]
async fn with_no_unit_on_duty_the_duty_desk_is_summoned_and_the_gap_flagged_at_once() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let urban = "urban_management";
    let off_duty = unit(
        &mut client,
        &tokens.urban,
        urban,
        "城管中队",
        SUBDISTRICT,
        false,
    )
    .await;
    let desk = unit(
        &mut client,
        &tokens.urban,
        urban,
        "区城管总值班室",
        "",
        true,
    )
    .await;
    // A shift that has not begun does not put the squad on duty.
    let later = Utc::now() + TimeDelta::hours(3);
    let desk_officer = officer_in(&mut client, &tokens.urban, urban, &desk, "UM-900").await;
    client
        .create_duty_shift(with_token(
            shift(
                &off_duty,
                later,
                later + TimeDelta::hours(8),
                &[&desk_officer],
            ),
            &tokens.urban,
        ))
        .await
        .expect("a later shift");
    // A second desk of the same agency is refused: one desk per agency.
    let second_desk = client
        .create_unit(with_token(
            api::CreateUnitRequest {
                parent: format!("agencies/{urban}"),
                display_name: "另一个总值班室".into(),
                duty_desk: true,
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .expect_err("one duty desk per agency");
    assert_eq!(second_desk.code(), Code::AlreadyExists);

    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&[urban, "market_supervision"], false),
    )
    .await;
    let urban_summons = summons(&opened, urban);
    assert_eq!(urban_summons.summoned_unit, desk);
    assert_eq!(gap(urban_summons), api::DutyGap::NoneOnDuty);
    assert_eq!(
        urban_summons.state,
        api::SummonsState::AwaitingReport as i32,
        "flagged at the summons, long before any deadline"
    );
    // Market supervision stations nothing there and keeps no desk.
    let market_summons = summons(&opened, "market_supervision");
    assert_eq!(market_summons.summoned_unit, "");
    assert_eq!(gap(market_summons), api::DutyGap::NotStationed);
    let events = events_of::<api::AgencySummoned>(&test, 2).await;
    let flagged: Vec<(String, i32)> = events
        .iter()
        .map(|(_, event)| (event.agency.clone(), event.duty_gap))
        .collect();
    assert!(flagged.contains(&(urban.to_owned(), api::DutyGap::NoneOnDuty as i32)));
    assert!(flagged.contains(&(
        "market_supervision".to_owned(),
        api::DutyGap::NotStationed as i32
    )));

    let reported = client
        .report_in(with_token(
            report(&opened.name, &[&desk_officer]),
            &tokens.urban,
        ))
        .await
        .expect("the desk's officer reports in")
        .into_inner();
    assert_eq!(summons(&reported, urban).unit, desk);

    let now = Utc::now();
    let figures = client
        .get_indicators(with_token(
            api::GetIndicatorsRequest {
                period_start: Some(timestamp(now - TimeDelta::days(1))),
                period_end: Some(timestamp(now + TimeDelta::days(1))),
                agency: urban.into(),
                ..Default::default()
            },
            &tokens.urban,
        ))
        .await
        .expect("the agency's own figures")
        .into_inner();
    assert_eq!(figures.agencies[0].duty_gaps, 1);
    let desk_row = figures
        .units
        .iter()
        .find(|row| row.unit == desk)
        .expect("a row for the desk");
    assert_eq!((desk_row.whistles_received, desk_row.duty_gaps), (1, 1));
}

#[tokio::test]
async fn duty_rosters_are_kept_by_their_agency_and_refuse_overlapping_or_malformed_shifts() {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let police = "public_security";
    let squad = unit(
        &mut client,
        &tokens.police,
        police,
        "警组",
        SUBDISTRICT,
        false,
    )
    .await;
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-201").await;
    let on_duty = officer_in(&mut client, &tokens.police, police, &squad, "PS-201").await;
    let start_at = Utc::now() + TimeDelta::hours(1);
    // 20:00 to 08:00 style: twelve hours, across midnight somewhere.
    let first = shift(
        &squad,
        start_at,
        start_at + TimeDelta::hours(12),
        &[&on_duty],
    );

    let foreign = client
        .create_duty_shift(with_token(first.clone(), &tokens.urban))
        .await
        .expect_err("another agency's roster");
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let by_dispatcher = client
        .create_duty_shift(with_token(first.clone(), &tokens.dispatcher))
        .await
        .expect_err("dispatchers read rosters, they do not keep them");
    assert_eq!(by_dispatcher.code(), Code::PermissionDenied);

    let created = client
        .create_duty_shift(with_token(first.clone(), &tokens.police))
        .await
        .expect("rostered")
        .into_inner();
    assert!(created.name.starts_with(&format!("{squad}/shifts/")));
    assert_eq!(created.officers, vec![on_duty.clone()]);

    let overlapping = client
        .create_duty_shift(with_token(
            shift(
                &squad,
                start_at + TimeDelta::hours(11),
                start_at + TimeDelta::hours(20),
                &[&on_duty],
            ),
            &tokens.police,
        ))
        .await
        .expect_err("overlaps the first");
    assert_eq!(overlapping.code(), Code::FailedPrecondition);
    assert!(overlapping.message().contains(&created.name));

    let mut malformed = shift(
        &squad,
        start_at,
        start_at - TimeDelta::hours(1),
        &[&urban_officer],
    );
    malformed.note = "x".repeat(501);
    let refused = client
        .create_duty_shift(with_token(malformed, &tokens.police))
        .await
        .expect_err("malformed");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, vec!["end_time", "officers[0]", "note"]);

    // Dispatchers read the roster; integrators are not granted it.
    let listed = client
        .list_duty_shifts(with_token(
            api::ListDutyShiftsRequest {
                parent: squad.clone(),
                ..Default::default()
            },
            &tokens.dispatcher,
        ))
        .await
        .expect("the roster")
        .into_inner()
        .shifts;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, created.name);
    let integrator = client
        .list_duty_shifts(with_token(
            api::ListDutyShiftsRequest {
                parent: squad.clone(),
                ..Default::default()
            },
            &tokens.integrator,
        ))
        .await
        .expect_err("not for integrators");
    assert_eq!(integrator.code(), Code::PermissionDenied);

    let hidden = client
        .delete_duty_shift(with_token(
            api::DeleteDutyShiftRequest {
                name: created.name.clone(),
            },
            &tokens.urban,
        ))
        .await
        .expect_err("another agency's shift does not exist for it");
    assert_eq!(hidden.code(), Code::NotFound);
    client
        .delete_duty_shift(with_token(
            api::DeleteDutyShiftRequest {
                name: created.name.clone(),
            },
            &tokens.police,
        ))
        .await
        .expect("taken off the roster");
    let after = client
        .list_duty_shifts(with_token(
            api::ListDutyShiftsRequest {
                parent: squad.clone(),
                ..Default::default()
            },
            &tokens.police,
        ))
        .await
        .expect("the roster")
        .into_inner()
        .shifts;
    assert!(after.is_empty());
}

fn notes_and_details(
    operation: &str,
    notes: &str,
    notes_marking: api::Marking,
    details_marking: api::Marking,
) -> api::RecordActionRequest {
    let mut request = inspection(operation);
    request.notes = notes.into();
    request.notes_marking = notes_marking as i32;
    request.details_marking = details_marking as i32;
    request
}

fn action_of<'a>(operation: &'a api::Operation, name: &str) -> &'a api::Action {
    operation
        .actions
        .iter()
        .find(|action| action.name == name)
        .expect("the action is listed")
}

fn findings(action: &api::Action) -> String {
    match &action.details {
        Some(api::action::Details::Inspection(inspection)) => inspection.findings.clone(),
        other => panic!("an inspection, not {other:?}"),
    }
}

#[tokio::test]
async fn police_notes_are_sensitive_unless_marked_otherwise_and_restricted_details_stay_with_their_agency()
 {
    let test = TestEnv::new();
    let application = start(&test, &[]).await;
    let mut client = client(&application).await;
    let tokens = tokens(&test);
    let police_agency = client
        .get_agency(api::GetAgencyRequest {
            name: "agencies/public_security".into(),
        })
        .await
        .expect("public directory")
        .into_inner();
    assert!(police_agency.notes_sensitive_by_default);
    assert!(!police_agency.details_restricted_by_default);
    // Urban management restricts its findings and penalty details.
    let urban_agency = client
        .update_agency(with_token(
            api::UpdateAgencyRequest {
                name: "agencies/urban_management".into(),
                details_restricted_by_default: Some(true),
                ..Default::default()
            },
            &tokens.admin,
        ))
        .await
        .expect("updated")
        .into_inner();
    assert!(urban_agency.details_restricted_by_default);

    let police_officer = officer(&mut client, &tokens.police, "public_security", "PS-301").await;
    let urban_officer = officer(&mut client, &tokens.urban, "urban_management", "UM-301").await;
    let opened = blow(
        &mut client,
        &tokens.dispatcher,
        whistle(&["urban_management", "public_security"], false),
    )
    .await;
    let name = opened.name.clone();
    report_in(&mut client, &tokens.urban, &name, &[&urban_officer]).await;
    report_in(&mut client, &tokens.police, &name, &[&police_officer]).await;

    let evidence = api::Attachment {
        uri: "https://files.yuhu.gov.cn/evidence/ps-301.jpg".into(),
        media_type: "image/jpeg".into(),
        description: "到场人员照片".into(),
        sha256: String::new(),
    };
    let mut police_request = notes_and_details(
        &name,
        "suspect known to the station",
        api::Marking::Unspecified,
        api::Marking::Unspecified,
    );
    police_request.attachments = vec![evidence.clone()];
    let unmarked = record(&mut client, &tokens.police, police_request).await;
    assert!(
        unmarked.notes_sensitive,
        "police notes are sensitive by default"
    );
    let opened_up = record(
        &mut client,
        &tokens.police,
        notes_and_details(
            &name,
            "crowd dispersed",
            api::Marking::Open,
            api::Marking::Unspecified,
        ),
    )
    .await;
    assert!(!opened_up.notes_sensitive);
    let mut urban_request = notes_and_details(
        &name,
        "owner cooperative",
        api::Marking::Unspecified,
        api::Marking::Unspecified,
    );
    urban_request.attachments = vec![evidence.clone()];
    let restricted = record(&mut client, &tokens.urban, urban_request).await;
    assert!(restricted.details_restricted);
    assert!(!restricted.notes_sensitive);
    let shared = record(
        &mut client,
        &tokens.urban,
        notes_and_details(&name, "", api::Marking::Unspecified, api::Marking::Open),
    )
    .await;
    assert!(!shared.details_restricted);

    // The co-summoned urban officer: police notes hidden unless opened.
    let as_urban = get(&mut client, &tokens.urban, &name).await;
    let seen = action_of(&as_urban, &unmarked.name);
    assert_eq!((seen.notes.as_str(), seen.notes_redacted), ("", true));
    assert!(
        seen.attachments.is_empty() && seen.attachments_redacted,
        "evidence behind sensitive notes stays with the police"
    );
    assert_eq!(
        seen.summary, "inspected the site",
        "the summary stays visible"
    );
    assert_eq!(
        action_of(&as_urban, &opened_up.name).notes,
        "crowd dispersed"
    );
    // Its own restricted findings it sees.
    assert_eq!(
        findings(action_of(&as_urban, &restricted.name)),
        "extension built without a permit"
    );

    // The co-summoned police officer: urban findings restricted.
    let as_police = get(&mut client, &tokens.police, &name).await;
    let hidden = action_of(&as_police, &restricted.name);
    assert_eq!(findings(hidden), "");
    assert!(hidden.details_redacted);
    assert!(hidden.attachments.is_empty() && hidden.attachments_redacted);
    assert_eq!(
        action_of(&as_police, &unmarked.name).attachments,
        vec![evidence.clone()],
        "the police see their own evidence"
    );
    assert_eq!(
        hidden.notes, "owner cooperative",
        "only the details were restricted"
    );
    assert_eq!(
        findings(action_of(&as_police, &shared.name)),
        "extension built without a permit"
    );
    assert_eq!(
        action_of(&as_police, &unmarked.name).notes,
        "suspect known to the station"
    );

    // Dispatchers and integrators see only what the rules allow.
    for token in [&tokens.dispatcher, &tokens.integrator] {
        let seen = get(&mut client, token, &name).await;
        assert_eq!(action_of(&seen, &unmarked.name).notes, "");
        assert_eq!(findings(action_of(&seen, &restricted.name)), "");
        assert!(action_of(&seen, &restricted.name).details_redacted);
        for action in [&unmarked.name, &restricted.name] {
            assert!(action_of(&seen, action).attachments.is_empty());
            assert!(action_of(&seen, action).attachments_redacted);
        }
    }

    // A restricted penalty decision keeps its legal record to the agency.
    let mut penalty = inspection(&name);
    penalty.details = Some(api::record_action_request::Details::PenaltyDecision(
        api::PenaltyDecision {
            legal_basis: "《城市市容和环境卫生管理条例》第三十六条".into(),
            penalty: "fine".into(),
            fine_fen: 50_000,
            decision_number: "雨城管罚〔2026〕7号".into(),
        },
    ));
    let fined = record(&mut client, &tokens.urban, penalty).await;
    let as_police = get(&mut client, &tokens.police, &name).await;
    match &action_of(&as_police, &fined.name).details {
        Some(api::action::Details::PenaltyDecision(decision)) => {
            assert_eq!(decision, &api::PenaltyDecision::default());
        }
        other => panic!("a penalty decision, not {other:?}"),
    }

    // Contradicting markings are refused and change nothing.
    let mut contradiction =
        notes_and_details(&name, "x", api::Marking::Open, api::Marking::Unspecified);
    contradiction.notes_sensitive = true;
    let refused = client
        .record_action(with_token(contradiction, &tokens.police))
        .await
        .expect_err("sensitive and open at once");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&refused)[0].field, "notes_marking");
    let unchanged = get(&mut client, &tokens.police, &name).await;
    assert_eq!(unchanged.actions.len(), 5);
}
