//! Indicators per agency, per agency and subdistrict, and per
//! subdistrict, computed from the recorded facts the caller reaches.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;

use super::Enforcement;
use crate::access;
use crate::domain::duty::DutyGap;
use crate::domain::indicators::{self, AgencyFigures, SubdistrictFigures};
use crate::domain::{ActionKind, AgencyCode, OperationState, SubdistrictCode, WhistleSource};
use crate::error::Error;
use crate::store;

/// The figures asked for.
#[derive(Debug, Clone)]
pub struct IndicatorRequest {
    /// Whistles blown (and agencies summoned) from here…
    pub start: DateTime<Utc>,
    /// …to here, excluded; at most three years later.
    pub end: DateTime<Utc>,
    /// Only this subdistrict.
    pub subdistrict: Option<SubdistrictCode>,
    /// Only this agency.
    pub agency: Option<AgencyCode>,
}

/// The figures the caller may see.
pub struct Figures {
    /// One row per agency, all subdistricts together.
    pub agencies: Vec<AgencyFigures>,
    /// One row per agency and subdistrict.
    pub agencies_by_subdistrict: Vec<AgencyFigures>,
    /// One row per unit summoned.
    pub units: Vec<AgencyFigures>,
    /// One row per subdistrict the caller's jurisdiction covers.
    pub subdistricts: Vec<SubdistrictFigures>,
}

impl Enforcement {
    pub async fn indicators(
        &self,
        access: &Access,
        request: IndicatorRequest,
    ) -> Result<Figures, Error> {
        let IndicatorRequest {
            start,
            end,
            subdistrict,
            agency,
        } = request;
        // A filter the caller's grant can never reach is refused rather
        // than answered with figures that look like zeros.
        let reach = access::reach(access);
        let by_place = reach.everything || !reach.division_prefixes.is_empty();
        if let Some(subdistrict) = &subdistrict
            && reach.agency.is_none()
            && !reach.everything
            && !reach.division_prefixes.iter().any(|prefix| {
                prefix.starts_with(subdistrict.as_str()) || subdistrict.as_str().starts_with(prefix)
            })
        {
            return Err(Error::PermissionDenied(format!(
                "subdistrict {subdistrict} is outside the caller's jurisdiction"
            )));
        }
        if let Some(asked) = &agency
            && !by_place
            && reach.agency.as_deref() != Some(asked.as_str())
        {
            return Err(Error::PermissionDenied(format!(
                "officers see only their own agency's figures, not {asked}'s"
            )));
        }
        let now = self.clock.now();
        let mut connection = store::connection(&self.pool).await?;
        let (summonses, action_counts) = store::summons_facts(
            &mut connection,
            start,
            end,
            agency.as_ref().map(AgencyCode::as_str),
            subdistrict.as_ref().map(SubdistrictCode::as_str),
        )
        .await?;
        let whistles = store::whistle_facts(&mut connection, start, end).await?;
        let stationed = store::stationed_subdistricts(&mut connection).await?;

        let records: Vec<indicators::SummonsRecord> = summonses
            .iter()
            .filter(|row| {
                let place = row.block_code.as_deref().unwrap_or(&row.subdistrict_code);
                access::reaches_operation(access, place, &[row.agency_code.as_str()])
            })
            .filter_map(|row| {
                Some(indicators::SummonsRecord {
                    agency: AgencyCode::parse(&row.agency_code).ok()?,
                    subdistrict: SubdistrictCode::parse(&row.subdistrict_code).ok()?,
                    blown_at: row.blown_at,
                    summoned_at: row.summoned_at,
                    deadline: row.report_in_due,
                    reported_at: row.reported_at,
                    state: OperationState::parse(&row.state)?,
                    first_concluded_at: row.first_concluded_at,
                    cancelled_at: row.cancelled_at,
                    actions: action_counts
                        .iter()
                        .filter(|count| {
                            count.operation_id == row.operation_id
                                && count.agency_code == row.agency_code
                        })
                        .filter_map(|count| {
                            Some((
                                ActionKind::parse(&count.kind)?,
                                u32::try_from(count.count).unwrap_or(u32::MAX),
                            ))
                        })
                        .collect(),
                    rating: row.rating.and_then(|score| u32::try_from(score).ok()),
                    unit: row.summoned_unit_id,
                    duty_gap: row.duty_gap.as_deref().and_then(DutyGap::parse).is_some(),
                })
            })
            .collect();
        let (overall, per_subdistrict) = indicators::agencies(&records, now);
        let per_unit = indicators::units(&records, now);
        let operation_records: Vec<indicators::OperationRecord> = whistles
            .iter()
            .filter_map(|row| {
                Some(indicators::OperationRecord {
                    subdistrict: SubdistrictCode::parse(&row.subdistrict_code).ok()?,
                    source: WhistleSource::parse(&row.source)?,
                    urgent: row.urgent,
                    blown_at: row.blown_at,
                    state: OperationState::parse(&row.state)?,
                    first_concluded_at: row.first_concluded_at,
                })
            })
            .collect();
        let compared: BTreeSet<SubdistrictCode> = stationed
            .iter()
            .filter_map(|code| SubdistrictCode::parse(code).ok())
            .collect();
        let subdistricts = indicators::subdistricts(&operation_records, &compared, start, end)
            .into_iter()
            .filter(|figures| access::reaches_place(access, figures.subdistrict.as_str()))
            .filter(|figures| {
                subdistrict
                    .as_ref()
                    .is_none_or(|wanted| *wanted == figures.subdistrict)
            })
            .collect();
        Ok(Figures {
            agencies: overall,
            agencies_by_subdistrict: per_subdistrict,
            units: per_unit,
            subdistricts,
        })
    }
}
