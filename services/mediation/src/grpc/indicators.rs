//! Indicators: parse, measure, render.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::instant;
use flatgov_proto::mediation::v1 as proto;
use flatgov_vocabulary::DivisionCode;

use super::MediationService;
use crate::application::indicators::{self, GetIndicators};
use crate::contract;
use crate::error::Error;
use crate::store::parse_level;

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

pub(super) async fn get_indicators(
    service: &MediationService,
    access: &Access,
    request: proto::GetIndicatorsRequest,
) -> Result<proto::Indicators, Error> {
    let mut violations = Violations::new();
    let division = match request.division_code.trim() {
        "" => Some(None),
        code => violations
            .check("division_code", DivisionCode::parse(code))
            .map(|code| Some(code.to_string())),
    };
    let mut time = |field: &str, value: Option<&prost_types::Timestamp>| match value {
        None => {
            violations.add(field, "is required");
            None
        }
        Some(value) => violations.check(field, instant(value)),
    };
    let start = time("period_start", request.period_start.as_ref());
    let end = time("period_end", request.period_end.as_ref());
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        violations.add("period_end", "must be after period_start");
    }
    let (Some(division), Some(start), Some(end)) = (division, start, end) else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    let command = GetIndicators {
        division,
        start,
        end,
    };
    let rows = indicators::get(&service.mediation, access, &command).await?;
    let levels = rows
        .levels
        .iter()
        .map(|(level, concluded, agreements)| {
            Ok(proto::LevelIndicators {
                level: contract::level(parse_level(level)?) as i32,
                concluded: count(*concluded),
                agreements: count(*agreements),
                success_rate: rate(*agreements, *concluded),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(proto::Indicators {
        received: count(rows.received),
        levels,
        agreements_signed: count(rows.agreements_signed),
        agreements_performed: count(rows.agreements_performed),
        agreements_breached: count(rows.agreements_breached),
        mean_hours_to_agreement: rows.mean_hours_to_agreement.unwrap_or(0.0),
        confirmation_rate: rate(rows.confirmed, rows.confirmation_ended),
        monthly: rows
            .monthly
            .iter()
            .map(|(month, disputes)| proto::MonthCount {
                month: month.clone(),
                disputes: count(*disputes),
            })
            .collect(),
    })
}
