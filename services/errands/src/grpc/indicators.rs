//! GetIndicators: a place and a period, counted over what the caller reaches.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::time::instant;
use flatgov_proto::errands::v1 as proto;
use flatgov_vocabulary::DivisionCode;

use super::ErrandsService;
use super::render;
use crate::application::indicators;
use crate::error::Error;

pub(super) async fn get_indicators(
    service: &ErrandsService,
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
        violations.add("period_end", "must come after period_start");
    }
    let (Some(division), Some(start), Some(end)) = (division, start, end) else {
        return Err(Error::from(violations));
    };
    violations.finish()?;
    let figures = indicators::indicators(&service.errands, access, division, (start, end)).await?;
    Ok(render::indicators(&figures))
}
