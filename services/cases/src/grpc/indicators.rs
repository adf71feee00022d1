//! GetIndicators: the three rates and the rest, recomputed from the recorded
//! transitions for any period, over the cases the caller reaches.

use std::collections::HashMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::cases::v1 as proto;

use super::CaseService;
use super::parse;
use crate::access;
use crate::convert;
use crate::domain::indicators::{IndicatorQuery, Indicators, Period, compute_indicators};
use crate::domain::lifecycle::{Action, Assignee, TransitionRecord};
use crate::domain::units::{BlockCode, DutyUnit, SubdistrictCode, parse_assignee};
use crate::domain::values::CaseId;
use crate::error::Error;
use crate::render;
use crate::store;

/// What to compute, read.
struct IndicatorRequest {
    period: Period,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    grouping: proto::IndicatorGrouping,
    subdistrict: Option<SubdistrictCode>,
}

impl TryFrom<proto::GetIndicatorsRequest> for IndicatorRequest {
    type Error = Error;

    fn try_from(request: proto::GetIndicatorsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let start = violations.check(
            "period_start",
            parse::required_instant(request.period_start.as_ref()),
        );
        let end = violations.check(
            "period_end",
            parse::required_instant(request.period_end.as_ref()),
        );
        let period = match (start, end) {
            (Some(start), Some(end)) => violations.check(
                "period_end",
                Period::new(start, end).map_err(|error| error.to_string()),
            ),
            _ => None,
        };
        let as_of = match &request.as_of {
            Some(timestamp) => violations.check(
                "as_of",
                convert::instant(timestamp).map_err(|error| error.to_string()),
            ),
            None => None,
        };
        let grouping = violations.check(
            "group_by",
            proto::IndicatorGrouping::try_from(request.group_by).map_err(|_| "is not a grouping"),
        );
        let subdistrict = if request.subdistrict_code.trim().is_empty() {
            None
        } else {
            violations.check(
                "subdistrict_code",
                SubdistrictCode::parse(request.subdistrict_code.trim())
                    .map_err(|error| error.to_string()),
            )
        };
        violations.finish()?;
        match (period, grouping) {
            (Some(period), Some(grouping)) => Ok(Self {
                period,
                as_of,
                grouping,
                subdistrict,
            }),
            _ => Err(Error::Internal(
                "a parsed indicator request went missing".into(),
            )),
        }
    }
}

pub(super) async fn get_indicators(
    service: &CaseService,
    access: &Access,
    request: proto::GetIndicatorsRequest,
) -> Result<proto::GetIndicatorsResponse, Error> {
    let asked = IndicatorRequest::try_from(request)?;
    let as_of = asked.as_of.unwrap_or_else(|| service.shared.clock.now());
    let scope = access::list_scope(access);
    let mut connection = service.shared.pool.acquire().await?;
    let records = store::records_for_indicators(
        &mut connection,
        &scope,
        asked.subdistrict.as_ref().map(SubdistrictCode::as_str),
        asked.period.start(),
        asked.period.end(),
        as_of,
    )
    .await?;
    let overdue_actions = store::overdue_actions_for_indicators(
        &mut connection,
        &scope,
        asked.subdistrict.as_ref().map(SubdistrictCode::as_str),
        asked.period.start(),
        asked.period.end(),
        as_of,
    )
    .await?;
    let keys = group_keys(&records, asked.grouping);
    let query = IndicatorQuery {
        period: asked.period,
        as_of,
    };
    let mut groups = compute_indicators(&records, &query, |case| keys.get(&case).cloned());
    for (owner, block_code) in &overdue_actions {
        let Some(key) = action_key(owner, block_code.as_deref(), asked.grouping) else {
            continue;
        };
        groups
            .entry(key)
            .or_insert_with(|| Indicators::empty(&query.period))
            .overdue_meeting_actions += 1;
    }
    Ok(proto::GetIndicatorsResponse {
        groups: groups
            .into_iter()
            .map(|(key, indicators)| render::indicator_group(key, &indicators))
            .collect(),
        as_of: Some(convert::timestamp(as_of)),
    })
}

/// The group an overdue meeting action counts in: its owner's (a department, a staff
/// member) when grouped by owner, its case's place otherwise.
fn action_key(
    owner: &str,
    block_code: Option<&str>,
    grouping: proto::IndicatorGrouping,
) -> Option<String> {
    let block = || block_code.and_then(|code| BlockCode::parse(code).ok());
    match grouping {
        proto::IndicatorGrouping::Unspecified | proto::IndicatorGrouping::Total => {
            Some("total".to_owned())
        }
        proto::IndicatorGrouping::Block => block().map(|code| code.to_string()),
        proto::IndicatorGrouping::Community => block().map(|code| code.community().to_string()),
        proto::IndicatorGrouping::Subdistrict => block().map(|code| code.subdistrict().to_string()),
        proto::IndicatorGrouping::Department => match parse_assignee(owner).ok()? {
            Assignee::Unit(unit) => match DutyUnit::of_unit_name(&unit)? {
                DutyUnit::Department(code) => Some(code.to_string()),
                _ => None,
            },
            Assignee::Staff(_) => None,
        },
        proto::IndicatorGrouping::Staff => match parse_assignee(owner).ok()? {
            Assignee::Staff(id) => Some(id.to_string()),
            Assignee::Unit(_) => None,
        },
    }
}

/// Each case's group key, from its records (so a past period groups as it stood).
fn group_keys(
    records: &[TransitionRecord],
    grouping: proto::IndicatorGrouping,
) -> HashMap<CaseId, String> {
    let mut ordered: Vec<&TransitionRecord> = records.iter().collect();
    ordered.sort_by_key(|record| (record.case_id, record.sequence));
    let mut keys: HashMap<CaseId, String> = HashMap::new();
    let block_code = crate::domain::values::BlockName::code;
    for record in ordered {
        let key = match (&record.action, grouping) {
            (_, proto::IndicatorGrouping::Unspecified | proto::IndicatorGrouping::Total) => {
                Some("total".to_owned())
            }
            (
                Action::Reported {
                    block: Some(block), ..
                }
                | Action::Triaged { block, .. }
                | Action::Rehomed {
                    to_block: block, ..
                },
                proto::IndicatorGrouping::Block
                | proto::IndicatorGrouping::Community
                | proto::IndicatorGrouping::Subdistrict,
            ) => block_code(block).map(|code| match grouping {
                proto::IndicatorGrouping::Community => code.community().to_string(),
                proto::IndicatorGrouping::Subdistrict => code.subdistrict().to_string(),
                _ => code.to_string(),
            }),
            (
                Action::Dispatched { assignment, .. }
                | Action::Reassigned { assignment, .. }
                | Action::Escalated { assignment, .. }
                | Action::Rehomed {
                    assignment: Some(assignment),
                    ..
                },
                proto::IndicatorGrouping::Department | proto::IndicatorGrouping::Staff,
            ) => match (&assignment.assignee, grouping) {
                (Assignee::Unit(unit), proto::IndicatorGrouping::Department) => {
                    match DutyUnit::of_unit_name(unit) {
                        Some(DutyUnit::Department(code)) => Some(code.to_string()),
                        _ => None,
                    }
                }
                (Assignee::Staff(id), proto::IndicatorGrouping::Staff) => Some(id.to_string()),
                _ => None,
            },
            _ => None,
        };
        if let Some(key) = key {
            keys.insert(record.case_id, key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geo::GeoPoint;
    use crate::domain::lifecycle::{
        Actor, Assignment, Case, CaseKind, Channel, Command, NewCase, Place, Tier,
    };
    use crate::domain::units::BlockCode;
    use crate::domain::values::{BlockName, Matter, MatterCode, Reason, UnitName};
    use chrono::{DateTime, TimeDelta, Utc};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_741_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn records_of_a_case_moved_between_blocks() -> (CaseId, Vec<TransitionRecord>) {
        let (mut case, first) = Case::report(
            NewCase {
                id: CaseId::new_v7(),
                kind: CaseKind::Problem,
                channel: Channel::Patrol,
                matter: Matter::Classified(MatterCode::parse("m_1").unwrap()),
                place: Place::Point(GeoPoint::new(27.8, 112.9).unwrap()),
            },
            Actor::System,
            at(0),
        );
        let mut records = vec![first];
        let old_block = BlockName::of_code(BlockCode::parse("430302001004017").unwrap());
        let new_block = BlockName::of_code(BlockCode::parse("430302002001003").unwrap());
        records.extend(
            case.apply(
                Actor::System,
                Command::Triage {
                    block: old_block,
                    matter: MatterCode::parse("m_1").unwrap(),
                    tier: Tier::FrontLine,
                },
                at(1),
            )
            .unwrap(),
        );
        let assignment = Assignment {
            assignee: Assignee::Unit(UnitName::parse("departments/urban_management").unwrap()),
            acceptance_due: at(100),
            resolution_due: at(1000),
        };
        records.extend(
            case.apply(Actor::System, Command::Dispatch { assignment }, at(2))
                .unwrap(),
        );
        records.extend(
            case.apply(
                Actor::System,
                Command::Rehome {
                    block: new_block,
                    assignment: None,
                    reason: Reason::parse("generation 2").unwrap(),
                },
                at(3),
            )
            .unwrap(),
        );
        (case.id(), records)
    }

    #[test]
    fn cases_are_grouped_by_their_latest_block_community_and_subdistrict() {
        let (id, records) = records_of_a_case_moved_between_blocks();
        let by_block = group_keys(&records, proto::IndicatorGrouping::Block);
        assert_eq!(by_block[&id], "430302002001003");
        let by_community = group_keys(&records, proto::IndicatorGrouping::Community);
        assert_eq!(by_community[&id], "430302002001");
        let by_subdistrict = group_keys(&records, proto::IndicatorGrouping::Subdistrict);
        assert_eq!(by_subdistrict[&id], "430302002");
        let total = group_keys(&records, proto::IndicatorGrouping::Total);
        assert_eq!(total[&id], "total");
    }

    #[test]
    fn cases_are_grouped_by_the_department_they_were_assigned_to_and_staff_only_if_assigned_personally()
     {
        let (id, records) = records_of_a_case_moved_between_blocks();
        assert_eq!(
            group_keys(&records, proto::IndicatorGrouping::Department)[&id],
            "urban_management"
        );
        assert!(!group_keys(&records, proto::IndicatorGrouping::Staff).contains_key(&id));
    }
}
