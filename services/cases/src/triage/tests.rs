use super::dispatch::target_for;
use super::*;
use crate::domain::units::{BlockCode, DepartmentCode, SubdistrictCode, assignee_name};
use crate::store::Team;

fn block(governor: Option<&str>) -> LocatedBlock {
    LocatedBlock {
        code: BlockCode::parse("430302001004017").unwrap(),
        team: Team {
            governor: governor.map(str::to_owned),
            supervisor: Some("sup-017".into()),
        },
    }
}

fn subdistrict() -> DutyUnit {
    DutyUnit::Subdistrict(SubdistrictCode::parse("430302001").unwrap())
}

#[test]
fn the_front_line_goes_to_the_blocks_governor() {
    let target = target_for(
        &block(Some("gov-017")),
        Tier::FrontLine,
        &subdistrict(),
        &[],
    );
    assert_eq!(assignee_name(&target.assignee), "staff/gov-017");
    assert_eq!(
        target.unit,
        DutyUnit::BlockTeam(BlockCode::parse("430302001004017").unwrap())
    );
    assert!(!target.fallback);
}

#[test]
fn a_block_without_a_governor_falls_back_to_its_subdistrict() {
    let target = target_for(&block(None), Tier::FrontLine, &subdistrict(), &[]);
    assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
    assert!(target.fallback);
}

#[test]
fn a_meeting_goes_to_the_subdistrict_platform() {
    let target = target_for(
        &block(Some("gov-017")),
        Tier::CoordinationMeeting,
        &subdistrict(),
        &[],
    );
    assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
    assert!(!target.fallback);
}

#[test]
fn a_whistle_goes_to_the_lead_department_or_else_the_first_cooperating_one() {
    let urban = DepartmentCode::parse("urban_management").unwrap();
    let market = DepartmentCode::parse("market_supervision").unwrap();
    let lead = DutyUnit::Department(urban.clone());
    let target = target_for(
        &block(None),
        Tier::Whistle,
        &lead,
        std::slice::from_ref(&market),
    );
    assert_eq!(
        assignee_name(&target.assignee),
        "departments/urban_management"
    );
    let target = target_for(&block(None), Tier::Whistle, &subdistrict(), &[market]);
    assert_eq!(
        assignee_name(&target.assignee),
        "departments/market_supervision"
    );
    let target = target_for(&block(None), Tier::Whistle, &subdistrict(), &[]);
    assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
    assert!(target.fallback);
}

#[test]
fn a_reason_written_by_the_service_is_cut_to_the_limit() {
    let long = "原".repeat(Reason::MAX_CHARS + 20);
    assert_eq!(
        reason_text(&long).as_str().chars().count(),
        Reason::MAX_CHARS
    );
    assert_eq!(reason_text("   ").as_str(), "no reason given");
}
