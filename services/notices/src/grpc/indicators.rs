//! GetIndicators.

use chrono::{TimeDelta, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::{optional_instant, timestamp};
use flatgov_proto::notices::v1 as proto;
use flatgov_vocabulary::DivisionCode;

use super::NoticesService;
use crate::application::indicators::{IndicatorsQuery, rate};
use crate::error::Error;

/// The period when the request gives no start.
const DEFAULT_PERIOD_DAYS: i64 = 30;

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl TryFrom<proto::GetIndicatorsRequest> for IndicatorsQuery {
    type Error = Error;

    fn try_from(request: proto::GetIndicatorsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let division = violations.check("parent", DivisionCode::parse_name(&request.parent));
        let start = violations
            .check(
                "start_time",
                optional_instant(request.start_time.as_ref()).map_err(|error| error.to_string()),
            )
            .flatten();
        let end = violations
            .check(
                "end_time",
                optional_instant(request.end_time.as_ref()).map_err(|error| error.to_string()),
            )
            .flatten()
            .unwrap_or_else(Utc::now);
        let start = start.unwrap_or(end - TimeDelta::days(DEFAULT_PERIOD_DAYS));
        if start >= end {
            violations.add("start_time", "must be before the end time (or now)");
        }
        violations.finish()?;
        let division = division.ok_or_else(|| Error::corrupt("a checked field went missing"))?;
        Ok(Self {
            division,
            start,
            end,
        })
    }
}

pub(super) async fn get_indicators(
    service: &NoticesService,
    access: &Access,
    request: proto::GetIndicatorsRequest,
) -> Result<proto::Indicators, Error> {
    let query = IndicatorsQuery::try_from(request)?;
    let (parent, start, end) = (query.division.name(), query.start, query.end);
    let view = service.notices.indicators(access, query).await?;
    Ok(proto::Indicators {
        parent,
        start_time: Some(timestamp(start)),
        end_time: Some(timestamp(end)),
        on_time_limit_seconds: count(view.on_time_seconds),
        feedback: view
            .feedback
            .iter()
            .map(|(milestone, counts)| proto::MilestoneFeedback {
                milestone: milestone.to_proto() as i32,
                due: count(counts.due),
                on_time: count(counts.on_time),
                late: count(counts.late),
                pending: count(counts.pending),
                given_up: count(counts.given_up),
                skipped: count(counts.skipped),
                on_time_rate: rate(counts.on_time, counts.due),
            })
            .collect(),
        cases_verified: count(view.cases_verified),
        return_visits: count(view.return_visits),
        return_visit_rate: rate(view.return_visits, view.cases_verified),
        notices: count(view.notices),
        blocks_targeted: count(view.blocks_targeted),
        blocks_delivered: count(view.blocks_delivered),
        notice_reach: rate(view.blocks_delivered, view.blocks_targeted),
    })
}
