//! Journey: a whistle reaches the unit on duty (issue 19, item 4). Urban
//! management's squad in the subdistrict keeps a duty roster: the squad the
//! demo stations there is off duty and a night patrol team is on its
//! running shift. Market supervision's squad there is off duty with no
//! roster, so its summons goes to its district duty desk and the gap is
//! flagged at the summons. The street-vending case of journey 2 escalates
//! to the whistle; the summonses reach the night patrol team and the desk;
//! integrators learn where each summons went, and a gap, from
//! `AgencySummoned` (ids only); only an officer of the summoned unit may
//! report in; the unit's report-in time becomes its own indicator.

use chrono::{TimeDelta, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_journeys::events::about;
use flatgov_journeys::{Platform, with_token};
use flatgov_proto::enforcement::v1 as enforcement;
use tonic::Code;

use crate::support::*;
use crate::whistle::{SUBDISTRICT, overdue_to_meeting, overdue_to_whistle, report_vending};

/// Creates a unit of `agency` and one officer in it; returns both names.
async fn unit_with_officer(
    platform: &Platform,
    agency: &str,
    unit: enforcement::CreateUnitRequest,
    badge: &str,
) -> (String, String) {
    let token = platform.officer(agency);
    let unit = platform
        .enforcement()
        .create_unit(with_token(unit, &token))
        .await
        .unwrap_or_else(|status| panic!("{agency} creates a unit: {status}"))
        .into_inner();
    let officer = platform
        .enforcement()
        .create_officer(with_token(
            enforcement::CreateOfficerRequest {
                parent: format!("agencies/{agency}"),
                unit: unit.name.clone(),
                display_name: "值班队员".into(),
                badge_number: badge.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("officer created")
        .into_inner();
    (unit.name, officer.name)
}

/// Takes the demo's squad of `agency` in the subdistrict off duty.
async fn off_duty(platform: &Platform, agency: &str) -> String {
    let (_, squad) = stationed_officer(platform, agency, SUBDISTRICT).await;
    platform
        .enforcement()
        .update_unit(with_token(
            enforcement::UpdateUnitRequest {
                name: squad.name.clone(),
                on_duty: Some(false),
                ..Default::default()
            },
            &platform.officer(agency),
        ))
        .await
        .expect("squad off duty");
    squad.name
}

#[tokio::test]
async fn journey_a_whistle_reaches_the_unit_on_duty_by_its_roster_and_a_gap_goes_to_the_duty_desk()
{
    let platform = Platform::start().await;
    platform.load_demo();
    let urban = "urban_management";
    let market = "market_supervision";
    let (demo_urban_officer, _) = stationed_officer(&platform, urban, SUBDISTRICT).await;
    off_duty(&platform, urban).await;
    off_duty(&platform, market).await;
    let (night_team, night_officer) = unit_with_officer(
        &platform,
        urban,
        enforcement::CreateUnitRequest {
            parent: format!("agencies/{urban}"),
            display_name: "夜间巡查组".into(),
            stationed_subdistrict_code: SUBDISTRICT.into(),
            ..Default::default()
        },
        "UM-N-01",
    )
    .await;
    let now = Utc::now();
    platform
        .enforcement()
        .create_duty_shift(with_token(
            enforcement::CreateDutyShiftRequest {
                parent: night_team.clone(),
                start_time: Some(timestamp(now - TimeDelta::hours(2))),
                end_time: Some(timestamp(now + TimeDelta::hours(10))),
                officers: vec![night_officer.clone()],
                note: "带班: 李队长".into(),
                ..Default::default()
            },
            &platform.officer(urban),
        ))
        .await
        .expect("the night shift is rostered");
    let (market_desk, desk_officer) = unit_with_officer(
        &platform,
        market,
        enforcement::CreateUnitRequest {
            parent: format!("agencies/{market}"),
            display_name: "区市场监管局总值班室".into(),
            duty_desk: true,
            ..Default::default()
        },
        "MS-D-01",
    )
    .await;

    let case = report_vending(&platform).await;
    overdue_to_meeting(&platform, &case).await;
    overdue_to_whistle(&platform, &case).await;
    let operation = open_operation(&platform, &case.name).await;
    let summons_of = |agency: &str| {
        operation
            .summons
            .iter()
            .find(|summons| summons.agency == format!("agencies/{agency}"))
            .cloned()
            .unwrap_or_else(|| panic!("{agency} is summoned"))
    };
    let urban_summons = summons_of(urban);
    assert_eq!(urban_summons.summoned_unit, night_team);
    assert_eq!(urban_summons.duty_gap, enforcement::DutyGap::NoGap as i32);
    let market_summons = summons_of(market);
    assert_eq!(market_summons.summoned_unit, market_desk);
    assert_eq!(
        market_summons.duty_gap,
        enforcement::DutyGap::NoneOnDuty as i32
    );

    // Integrators see where each summons went, and the gap, by id only.
    let events = platform
        .events_until("enforcement", "both summonses", |events| {
            about(events, &operation.name)
                .iter()
                .filter(|event| event.is::<enforcement::AgencySummoned>())
                .count()
                >= 2
        })
        .await;
    let summoned: Vec<(String, String, i32)> = about(&events, &operation.name)
        .into_iter()
        .filter_map(|event| event.decode::<enforcement::AgencySummoned>().ok())
        .map(|event| (event.agency, event.summoned_unit, event.duty_gap))
        .collect();
    assert!(summoned.contains(&(
        urban.to_owned(),
        night_team.clone(),
        enforcement::DutyGap::NoGap as i32
    )));
    assert!(summoned.contains(&(
        market.to_owned(),
        market_desk.clone(),
        enforcement::DutyGap::NoneOnDuty as i32
    )));

    // The demo squad's officer is not on the summoned unit.
    let refused = platform
        .enforcement()
        .report_in(with_token(
            enforcement::ReportInRequest {
                operation: operation.name.clone(),
                officers: vec![demo_urban_officer.name.clone()],
                ..Default::default()
            },
            &platform.officer(urban),
        ))
        .await
        .expect_err("an officer of another unit");
    assert_eq!(refused.code(), Code::InvalidArgument);
    for (agency, officer, unit) in [
        (urban, &night_officer, &night_team),
        (market, &desk_officer, &market_desk),
    ] {
        let reported = platform
            .enforcement()
            .report_in(with_token(
                enforcement::ReportInRequest {
                    operation: operation.name.clone(),
                    officers: vec![officer.clone()],
                    note: "已到现场".into(),
                    ..Default::default()
                },
                &platform.officer(agency),
            ))
            .await
            .unwrap_or_else(|status| panic!("{agency} reports in: {status}"))
            .into_inner();
        let summons = reported
            .summons
            .iter()
            .find(|summons| summons.agency == format!("agencies/{agency}"))
            .expect("the summons");
        assert_eq!(summons.state, enforcement::SummonsState::ReportedIn as i32);
        assert_eq!(&summons.unit, unit);
    }

    // The night team's report-in time is an indicator of its own.
    let figures = platform
        .enforcement()
        .get_indicators(with_token(
            enforcement::GetIndicatorsRequest {
                period_start: Some(timestamp(now - TimeDelta::days(1))),
                period_end: Some(timestamp(Utc::now() + TimeDelta::days(1))),
                subdistrict_code: SUBDISTRICT.into(),
                ..Default::default()
            },
            &platform.dispatcher(SUBDISTRICT),
        ))
        .await
        .expect("indicators")
        .into_inner();
    let night = figures
        .units
        .iter()
        .find(|row| row.unit == night_team)
        .expect("a row for the night team");
    assert_eq!((night.whistles_received, night.reported_in), (1, 1));
    assert!(night.mean_time_to_report_in.is_some());
    let market_row = figures
        .agencies
        .iter()
        .find(|row| row.agency == format!("agencies/{market}"))
        .expect("market supervision's row");
    assert_eq!(market_row.duty_gaps, 1);
}
