//! Indicators per agency, per agency and subdistrict, and per
//! subdistrict over a period.

use chrono::TimeDelta;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::{self, timestamp};
use flatgov_proto::enforcement::v1 as api;

use super::parse::{finish, optional};
use super::{EnforcementService, render};
use crate::application::indicators::IndicatorRequest;
use crate::domain::indicators;
use crate::domain::{SubdistrictCode, parse_agency};
use crate::error::Error;

/// The longest period figures are computed over.
const LONGEST_PERIOD_DAYS: i64 = 3 * 366;

impl TryFrom<api::GetIndicatorsRequest> for IndicatorRequest {
    type Error = Error;

    fn try_from(request: api::GetIndicatorsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        // An unset or invalid period bound is reported as required.
        let start = request
            .period_start
            .as_ref()
            .and_then(|start| time::instant(start).ok());
        let end = request
            .period_end
            .as_ref()
            .and_then(|end| time::instant(end).ok());
        if start.is_none() {
            violations.add("period_start", "is required");
        }
        if end.is_none() {
            violations.add("period_end", "is required");
        }
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                violations.add("period_end", "must be after period_start");
            } else if end - start > TimeDelta::days(LONGEST_PERIOD_DAYS) {
                violations.add("period_end", "a period spans at most three years");
            }
        }
        let subdistrict = optional(
            &mut violations,
            "subdistrict_code",
            &request.subdistrict_code,
            SubdistrictCode::parse,
        );
        let agency = optional(&mut violations, "agency", &request.agency, parse_agency);
        finish(violations, || {
            Some(IndicatorRequest {
                start: start?,
                end: end?,
                subdistrict: subdistrict?,
                agency: agency?,
            })
        })
    }
}

pub(super) async fn get_indicators(
    service: &EnforcementService,
    access: &Access,
    request: api::GetIndicatorsRequest,
) -> Result<api::GetIndicatorsResponse, Error> {
    let asked = IndicatorRequest::try_from(request)?;
    let (start, end) = (asked.start, asked.end);
    let figures = service.app.indicators(access, asked).await?;
    Ok(api::GetIndicatorsResponse {
        period_start: Some(timestamp(start)),
        period_end: Some(timestamp(end)),
        agencies: figures.agencies.iter().map(agency_indicators).collect(),
        agencies_by_subdistrict: figures
            .agencies_by_subdistrict
            .iter()
            .map(agency_indicators)
            .collect(),
        subdistricts: figures
            .subdistricts
            .iter()
            .map(subdistrict_indicators)
            .collect(),
        units: figures.units.iter().map(agency_indicators).collect(),
    })
}

fn duration(delta: Option<TimeDelta>) -> Option<prost_types::Duration> {
    delta.map(|delta| prost_types::Duration {
        seconds: delta.num_seconds(),
        nanos: delta.subsec_nanos(),
    })
}

fn agency_indicators(figures: &indicators::AgencyFigures) -> api::AgencyIndicators {
    api::AgencyIndicators {
        agency: format!("agencies/{}", figures.agency),
        subdistrict_code: figures
            .subdistrict
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        whistles_received: figures.whistles_received,
        reported_in: figures.reported_in,
        reported_in_on_time: figures.reported_in_on_time,
        report_in_rate: figures.report_in_rate,
        on_time_report_in_rate: figures.on_time_report_in_rate,
        mean_time_to_report_in: duration(figures.mean_time_to_report_in),
        late: figures.late,
        no_shows: figures.no_shows,
        operations_concluded: figures.operations_concluded,
        mean_time_to_conclude: duration(figures.mean_time_to_conclude),
        actions_by_kind: figures
            .actions_by_kind
            .iter()
            .map(|(kind, count)| api::ActionCount {
                kind: render::action_kind(*kind) as i32,
                count: *count,
            })
            .collect(),
        ratings: figures.ratings,
        mean_rating: figures.mean_rating,
        unit: figures
            .unit
            .map(|unit| format!("agencies/{}/units/{unit}", figures.agency))
            .unwrap_or_default(),
        duty_gaps: figures.duty_gaps,
    }
}

fn subdistrict_indicators(figures: &indicators::SubdistrictFigures) -> api::SubdistrictIndicators {
    api::SubdistrictIndicators {
        subdistrict_code: figures.subdistrict.to_string(),
        whistles: figures.whistles,
        whistles_from_cases: figures.whistles_from_cases,
        direct_whistles: figures.direct_whistles,
        urgent_whistles: figures.urgent_whistles,
        concluded: figures.concluded,
        cancelled: figures.cancelled,
        mean_time_to_conclude: duration(figures.mean_time_to_conclude),
        whistles_per_30_days: figures.whistles_per_30_days,
        relative_to_mean: figures.relative_to_mean,
        assessment: match figures.assessment {
            indicators::WhistleRateAssessment::Unused => api::WhistleRateAssessment::Unused,
            indicators::WhistleRateAssessment::Normal => api::WhistleRateAssessment::Normal,
            indicators::WhistleRateAssessment::High => api::WhistleRateAssessment::High,
        } as i32,
    }
}
