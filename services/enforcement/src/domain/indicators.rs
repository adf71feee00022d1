//! Indicators over a period, computed from the recorded facts (summonses,
//! reports, actions, conclusions, ratings), so any past period can be
//! recomputed.
//!
//! Definitions:
//! - a summons is **late** when its report came after the deadline, or no
//!   report came and the deadline passed (before now, or before the
//!   operation was cancelled);
//! - a **no-show** is a late summons without a report;
//! - **time to report in** runs from the summons to the report; **time to
//!   conclude** from the whistle to the first conclusion;
//! - the **whistle rate** of a subdistrict is whistles per 30 days, and is
//!   judged against the mean of the subdistricts compared (those with
//!   whistles in the period or with stationed units): none is *unused*, more
//!   than twice the mean is *high*.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::action::ActionKind;
use super::codes::{AgencyCode, SubdistrictCode};
use super::vocabulary::{OperationState, WhistleSource};

/// More than this many times the mean whistle count is judged high.
pub const HIGH_WHISTLE_RATE_FACTOR: f64 = 2.0;

/// One agency's summons to one operation, with what followed.
#[derive(Debug, Clone)]
pub struct SummonsRecord {
    pub agency: AgencyCode,
    pub subdistrict: SubdistrictCode,
    pub blown_at: DateTime<Utc>,
    pub summoned_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    pub state: OperationState,
    pub first_concluded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub actions: BTreeMap<ActionKind, u32>,
    pub rating: Option<u32>,
    /// The unit the summons went to, if any.
    pub unit: Option<Uuid>,
    /// The summons found no unit of the agency on duty in the subdistrict.
    pub duty_gap: bool,
}

impl SummonsRecord {
    fn late(&self, now: DateTime<Utc>) -> bool {
        match self.reported_at {
            Some(reported_at) => reported_at > self.deadline,
            None => self.deadline < self.cancelled_at.unwrap_or(now),
        }
    }
}

/// One whistle.
#[derive(Debug, Clone)]
pub struct OperationRecord {
    pub subdistrict: SubdistrictCode,
    pub source: WhistleSource,
    pub urgent: bool,
    pub blown_at: DateTime<Utc>,
    pub state: OperationState,
    pub first_concluded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgencyFigures {
    pub agency: AgencyCode,
    /// `None` for the row over all subdistricts.
    pub subdistrict: Option<SubdistrictCode>,
    /// The unit summoned, in the rows per unit.
    pub unit: Option<Uuid>,
    /// Summonses that found no unit on duty in the subdistrict.
    pub duty_gaps: u32,
    pub whistles_received: u32,
    pub reported_in: u32,
    pub reported_in_on_time: u32,
    pub report_in_rate: Option<f64>,
    pub on_time_report_in_rate: Option<f64>,
    pub mean_time_to_report_in: Option<TimeDelta>,
    pub late: u32,
    pub no_shows: u32,
    pub operations_concluded: u32,
    pub mean_time_to_conclude: Option<TimeDelta>,
    pub actions_by_kind: BTreeMap<ActionKind, u32>,
    pub ratings: u32,
    pub mean_rating: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhistleRateAssessment {
    Unused,
    Normal,
    High,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubdistrictFigures {
    pub subdistrict: SubdistrictCode,
    pub whistles: u32,
    pub whistles_from_cases: u32,
    pub direct_whistles: u32,
    pub urgent_whistles: u32,
    pub concluded: u32,
    pub cancelled: u32,
    pub mean_time_to_conclude: Option<TimeDelta>,
    pub whistles_per_30_days: f64,
    pub relative_to_mean: Option<f64>,
    pub assessment: WhistleRateAssessment,
}

fn ratio(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) / f64::from(whole))
}

fn mean_delta(deltas: &[TimeDelta]) -> Option<TimeDelta> {
    if deltas.is_empty() {
        return None;
    }
    let total_ms: i64 = deltas.iter().map(TimeDelta::num_milliseconds).sum();
    let count = i64::try_from(deltas.len()).unwrap_or(i64::MAX);
    Some(TimeDelta::milliseconds(total_ms / count))
}

fn agency_figures(
    agency: AgencyCode,
    subdistrict: Option<SubdistrictCode>,
    unit: Option<Uuid>,
    records: &[&SummonsRecord],
    now: DateTime<Utc>,
) -> AgencyFigures {
    let count = |predicate: &dyn Fn(&SummonsRecord) -> bool| -> u32 {
        u32::try_from(records.iter().filter(|record| predicate(record)).count()).unwrap_or(u32::MAX)
    };
    let whistles_received = count(&|_| true);
    let reported_in = count(&|record| record.reported_at.is_some());
    let reported_in_on_time =
        count(&|record| record.reported_at.is_some_and(|at| at <= record.deadline));
    let late = count(&|record| record.late(now));
    let no_shows = count(&|record| record.reported_at.is_none() && record.late(now));
    let report_times: Vec<TimeDelta> = records
        .iter()
        .filter_map(|record| record.reported_at.map(|at| at - record.summoned_at))
        .collect();
    let conclude_times: Vec<TimeDelta> = records
        .iter()
        .filter_map(|record| record.first_concluded_at.map(|at| at - record.blown_at))
        .collect();
    let mut actions_by_kind = BTreeMap::new();
    for record in records {
        for (kind, number) in &record.actions {
            *actions_by_kind.entry(*kind).or_insert(0) += number;
        }
    }
    let ratings: Vec<u32> = records.iter().filter_map(|record| record.rating).collect();
    let rating_count = u32::try_from(ratings.len()).unwrap_or(u32::MAX);
    AgencyFigures {
        agency,
        subdistrict,
        unit,
        duty_gaps: count(&|record| record.duty_gap),
        whistles_received,
        reported_in,
        reported_in_on_time,
        report_in_rate: ratio(reported_in, whistles_received),
        on_time_report_in_rate: ratio(reported_in_on_time, whistles_received),
        mean_time_to_report_in: mean_delta(&report_times),
        late,
        no_shows,
        operations_concluded: u32::try_from(conclude_times.len()).unwrap_or(u32::MAX),
        mean_time_to_conclude: mean_delta(&conclude_times),
        actions_by_kind,
        ratings: rating_count,
        mean_rating: (rating_count > 0)
            .then(|| f64::from(ratings.iter().sum::<u32>()) / f64::from(rating_count)),
    }
}

/// Figures per agency (all subdistricts together), and per agency and
/// subdistrict, each sorted by agency then subdistrict.
pub fn agencies(
    records: &[SummonsRecord],
    now: DateTime<Utc>,
) -> (Vec<AgencyFigures>, Vec<AgencyFigures>) {
    let mut by_agency: BTreeMap<&AgencyCode, Vec<&SummonsRecord>> = BTreeMap::new();
    let mut by_pair: BTreeMap<(&AgencyCode, &SubdistrictCode), Vec<&SummonsRecord>> =
        BTreeMap::new();
    for record in records {
        by_agency.entry(&record.agency).or_default().push(record);
        by_pair
            .entry((&record.agency, &record.subdistrict))
            .or_default()
            .push(record);
    }
    let overall = by_agency
        .into_iter()
        .map(|(agency, group)| agency_figures(agency.clone(), None, None, &group, now))
        .collect();
    let per_subdistrict = by_pair
        .into_iter()
        .map(|((agency, subdistrict), group)| {
            agency_figures(agency.clone(), Some(*subdistrict), None, &group, now)
        })
        .collect();
    (overall, per_subdistrict)
}

/// Figures per unit summoned (its report-in times), all subdistricts
/// together, sorted by agency then unit. Summonses that went to no unit
/// are counted only in their agency's rows.
pub fn units(records: &[SummonsRecord], now: DateTime<Utc>) -> Vec<AgencyFigures> {
    let mut by_unit: BTreeMap<(&AgencyCode, Uuid), Vec<&SummonsRecord>> = BTreeMap::new();
    for record in records {
        if let Some(unit) = record.unit {
            by_unit
                .entry((&record.agency, unit))
                .or_default()
                .push(record);
        }
    }
    by_unit
        .into_iter()
        .map(|((agency, unit), group)| {
            agency_figures(agency.clone(), None, Some(unit), &group, now)
        })
        .collect()
}

/// Figures per subdistrict: every subdistrict with whistles in the period
/// and every one in `also_compared` (those with stationed units), sorted by
/// code. The period must be positive.
pub fn subdistricts(
    operations: &[OperationRecord],
    also_compared: &BTreeSet<SubdistrictCode>,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
) -> Vec<SubdistrictFigures> {
    let mut groups: BTreeMap<SubdistrictCode, Vec<&OperationRecord>> = also_compared
        .iter()
        .map(|code| (*code, Vec::new()))
        .collect();
    for operation in operations {
        groups
            .entry(operation.subdistrict)
            .or_default()
            .push(operation);
    }
    let period_days = (period_end - period_start).num_milliseconds() as f64 / 86_400_000.0;
    let total: usize = groups.values().map(Vec::len).sum();
    let mean = if groups.is_empty() {
        0.0
    } else {
        total as f64 / groups.len() as f64
    };
    groups
        .into_iter()
        .map(|(subdistrict, group)| {
            let count = |predicate: &dyn Fn(&OperationRecord) -> bool| -> u32 {
                u32::try_from(
                    group
                        .iter()
                        .filter(|operation| predicate(operation))
                        .count(),
                )
                .unwrap_or(u32::MAX)
            };
            let whistles = count(&|_| true);
            let conclude_times: Vec<TimeDelta> = group
                .iter()
                .filter_map(|operation| {
                    operation
                        .first_concluded_at
                        .map(|at| at - operation.blown_at)
                })
                .collect();
            let relative_to_mean = (mean > 0.0).then(|| f64::from(whistles) / mean);
            let assessment = if whistles == 0 {
                WhistleRateAssessment::Unused
            } else if relative_to_mean.is_some_and(|relative| relative > HIGH_WHISTLE_RATE_FACTOR) {
                WhistleRateAssessment::High
            } else {
                WhistleRateAssessment::Normal
            };
            SubdistrictFigures {
                subdistrict,
                whistles,
                whistles_from_cases: count(&|operation| {
                    operation.source == WhistleSource::CaseEscalation
                }),
                direct_whistles: count(&|operation| operation.source == WhistleSource::Direct),
                urgent_whistles: count(&|operation| operation.urgent),
                concluded: u32::try_from(conclude_times.len()).unwrap_or(u32::MAX),
                cancelled: count(&|operation| operation.state == OperationState::Cancelled),
                mean_time_to_conclude: mean_delta(&conclude_times),
                whistles_per_30_days: if period_days > 0.0 {
                    f64::from(whistles) * 30.0 / period_days
                } else {
                    0.0
                },
                relative_to_mean,
                assessment,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + TimeDelta::minutes(minutes)
    }

    fn agency(code: &str) -> AgencyCode {
        AgencyCode::parse(code).unwrap()
    }

    fn subdistrict(code: &str) -> SubdistrictCode {
        SubdistrictCode::parse(code).unwrap()
    }

    fn summons(code: &str, reported_after: Option<i64>) -> SummonsRecord {
        SummonsRecord {
            agency: agency(code),
            subdistrict: subdistrict("430302001"),
            blown_at: at(0),
            summoned_at: at(0),
            deadline: at(30),
            reported_at: reported_after.map(at),
            state: OperationState::Open,
            first_concluded_at: None,
            cancelled_at: None,
            actions: BTreeMap::new(),
            rating: None,
            unit: None,
            duty_gap: false,
        }
    }

    #[test]
    fn each_summoned_unit_gets_its_own_report_in_figures_and_gaps_count_per_agency() {
        let squad = Uuid::from_u128(1);
        let desk = Uuid::from_u128(2);
        let mut on_duty = summons("public_security", Some(10));
        on_duty.unit = Some(squad);
        let mut to_desk = summons("public_security", Some(40));
        to_desk.unit = Some(desk);
        to_desk.duty_gap = true;
        let mut nowhere = summons("public_security", Some(20));
        nowhere.duty_gap = true;
        let records = vec![on_duty, to_desk, nowhere];
        let rows = units(&records, at(120));
        assert_eq!(rows.len(), 2, "a summons to no unit has no unit row");
        let squad_row = rows.iter().find(|row| row.unit == Some(squad)).unwrap();
        assert_eq!(
            squad_row.mean_time_to_report_in,
            Some(TimeDelta::minutes(10))
        );
        assert_eq!((squad_row.reported_in_on_time, squad_row.duty_gaps), (1, 0));
        let desk_row = rows.iter().find(|row| row.unit == Some(desk)).unwrap();
        assert_eq!((desk_row.late, desk_row.duty_gaps), (1, 1));
        let (overall, _) = agencies(&records, at(120));
        assert_eq!(overall[0].duty_gaps, 2);
    }

    #[test]
    fn report_in_rates_count_on_time_late_and_missing_reports() {
        let records = vec![
            summons("urban_management", Some(10)),
            summons("urban_management", Some(50)),
            summons("urban_management", None),
            summons("urban_management", None),
        ];
        // The last summons' deadline has not passed yet.
        let mut pending = records;
        pending[3].deadline = at(1000);
        let (overall, per_subdistrict) = agencies(&pending, at(120));
        let figures = &overall[0];
        assert_eq!(figures.whistles_received, 4);
        assert_eq!(figures.reported_in, 2);
        assert_eq!(figures.reported_in_on_time, 1);
        assert_eq!(figures.report_in_rate, Some(0.5));
        assert_eq!(figures.on_time_report_in_rate, Some(0.25));
        assert_eq!(figures.late, 2, "one came late, one never came");
        assert_eq!(figures.no_shows, 1);
        assert_eq!(figures.mean_time_to_report_in, Some(TimeDelta::minutes(30)));
        assert_eq!(per_subdistrict.len(), 1);
        assert_eq!(
            per_subdistrict[0].subdistrict,
            Some(subdistrict("430302001"))
        );
    }

    #[test]
    fn an_agency_whose_operation_was_cancelled_before_its_deadline_is_no_no_show() {
        let mut record = summons("public_security", None);
        record.state = OperationState::Cancelled;
        record.cancelled_at = Some(at(10));
        let (overall, _) = agencies(&[record.clone()], at(500));
        assert_eq!(overall[0].no_shows, 0);
        record.cancelled_at = Some(at(45));
        let (overall, _) = agencies(&[record], at(500));
        assert_eq!(overall[0].no_shows, 1);
    }

    #[test]
    fn conclusions_actions_and_ratings_are_summed_per_agency() {
        let mut first = summons("market_supervision", Some(5));
        first.first_concluded_at = Some(at(120));
        first.actions = BTreeMap::from([
            (ActionKind::Inspection, 1),
            (ActionKind::PenaltyDecision, 1),
        ]);
        first.rating = Some(5);
        let mut second = summons("market_supervision", Some(20));
        second.first_concluded_at = Some(at(240));
        second.actions = BTreeMap::from([(ActionKind::Inspection, 2)]);
        second.rating = Some(2);
        let (overall, _) = agencies(&[first, second], at(500));
        let figures = &overall[0];
        assert_eq!(figures.operations_concluded, 2);
        assert_eq!(figures.mean_time_to_conclude, Some(TimeDelta::minutes(180)));
        assert_eq!(figures.actions_by_kind[&ActionKind::Inspection], 3);
        assert_eq!(figures.actions_by_kind[&ActionKind::PenaltyDecision], 1);
        assert_eq!(figures.ratings, 2);
        assert_eq!(figures.mean_rating, Some(3.5));
    }

    #[test]
    fn an_agency_without_whistles_has_no_rates_rather_than_zero() {
        assert_eq!(ratio(0, 0), None);
        assert_eq!(mean_delta(&[]), None);
    }

    fn whistle(code: &str, source: WhistleSource) -> OperationRecord {
        OperationRecord {
            subdistrict: subdistrict(code),
            source,
            urgent: false,
            blown_at: at(0),
            state: OperationState::Open,
            first_concluded_at: None,
        }
    }

    #[test]
    fn the_whistle_rate_is_judged_against_the_subdistricts_compared() {
        let mut operations = Vec::new();
        for _ in 0..7 {
            operations.push(whistle("430302001", WhistleSource::CaseEscalation));
        }
        operations.push(whistle("430302002", WhistleSource::Direct));
        let stationed: BTreeSet<SubdistrictCode> =
            [subdistrict("430302003"), subdistrict("430302004")].into();
        let start = at(0);
        let end = start + TimeDelta::days(60);
        let figures = subdistricts(&operations, &stationed, start, end);
        assert_eq!(figures.len(), 4);
        let busy = &figures[0];
        assert_eq!(busy.whistles, 7);
        assert_eq!(busy.whistles_from_cases, 7);
        assert_eq!(busy.whistles_per_30_days, 3.5);
        // Mean is 8 / 4 = 2; 7 / 2 = 3.5 > 2.
        assert_eq!(busy.relative_to_mean, Some(3.5));
        assert_eq!(busy.assessment, WhistleRateAssessment::High);
        assert_eq!(figures[1].direct_whistles, 1);
        assert_eq!(figures[1].assessment, WhistleRateAssessment::Normal);
        assert_eq!(figures[2].whistles, 0);
        assert_eq!(figures[2].assessment, WhistleRateAssessment::Unused);
    }

    #[test]
    fn with_no_whistle_anywhere_every_subdistrict_is_unused_and_none_is_compared() {
        let stationed: BTreeSet<SubdistrictCode> = [subdistrict("430302003")].into();
        let figures = subdistricts(&[], &stationed, at(0), at(60));
        assert_eq!(figures[0].relative_to_mean, None);
        assert_eq!(figures[0].assessment, WhistleRateAssessment::Unused);
    }
}
