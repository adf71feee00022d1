//! Indicators per organisation and period.

use chrono::Duration;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_proto::federation::v1 as proto;

use super::FederationService;
use super::parse::{self, finish};
use crate::application::indicators::{self as app, IndicatorQuery, OrganisationIndicators};
use crate::error::{Error, Result};

/// The longest period one call may cover.
const MAX_PERIOD_DAYS: i64 = 5 * 366;

fn render(row: OrganisationIndicators) -> proto::OrganisationIndicators {
    proto::OrganisationIndicators {
        organisation: row.organisation,
        activities_held: row.activities_held,
        activities_led: row.activities_led,
        registrations: row.registrations,
        attendance: row.attendance,
        attendance_rate: row.attendance_rate,
        people_supported: row.people_supported,
        measures_committed: row.measures_committed,
        measures_delivered: row.measures_delivered,
        support_plans_led: row.support_plans_led,
        referrals_accepted: row.referrals_accepted,
        referrals_declined: row.referrals_declined,
        mean_seconds_to_accept: row.mean_seconds_to_accept,
        p90_seconds_to_accept: row.p90_seconds_to_accept,
        rights_requests_received: row.rights_requests_received,
        rights_requests_resolved: row.rights_requests_resolved,
        rights_requests_closed: row.rights_requests_closed,
        mean_seconds_to_resolve: row.mean_seconds_to_resolve,
        proposals_submitted: row.proposals_submitted,
        proposals_co_signed: row.proposals_co_signed,
        proposals_answered: row.proposals_answered,
        applications_accepted: row.applications_accepted,
    }
}

impl TryFrom<proto::GetIndicatorsRequest> for IndicatorQuery {
    type Error = Error;

    fn try_from(request: proto::GetIndicatorsRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let from = violations.check(
            "start_time",
            parse::required_time(request.start_time.as_ref()),
        );
        let to = violations.check("end_time", parse::required_time(request.end_time.as_ref()));
        let only = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                violations.add("end_time", "must be after the start time");
            } else if to - from > Duration::days(MAX_PERIOD_DAYS) {
                violations.add("end_time", "the period may cover at most five years");
            }
        }
        finish(violations, || {
            Some(IndicatorQuery {
                from: from?,
                to: to?,
                only: only?,
            })
        })
    }
}

pub async fn get_indicators(
    service: &FederationService,
    _access: &Access,
    request: proto::GetIndicatorsRequest,
) -> Result<proto::GetIndicatorsResponse> {
    let query = IndicatorQuery::try_from(request)?;
    let indicators = app::compute(&service.app, &query).await?;
    Ok(proto::GetIndicatorsResponse {
        organisations: indicators.organisations.into_iter().map(render).collect(),
        total: Some(render(indicators.total)),
    })
}
