//! AdvanceTestClock: test deployments move their clock forward so time limits of hours
//! and days can be exercised in seconds. FAILED_PRECONDITION unless the service runs
//! with CASES_TEST_CONTROLS=enabled (never in production).

use chrono::TimeDelta;
use flatgov_auth::policy::Access;
use flatgov_proto::cases::v1 as proto;

use super::CaseService;
use crate::convert;
use crate::error::Error;

/// The furthest one call moves the clock.
const MAX_ADVANCE_DAYS: i64 = 400;

pub(super) async fn advance_test_clock(
    service: &CaseService,
    access: &Access,
    request: proto::AdvanceTestClockRequest,
) -> Result<proto::AdvanceTestClockResponse, Error> {
    let by = request
        .by
        .as_ref()
        .and_then(convert::time_delta)
        .filter(|by| *by > TimeDelta::zero() && *by <= TimeDelta::days(MAX_ADVANCE_DAYS))
        .ok_or_else(|| {
            Error::invalid("by", "a positive duration of at most 400 days is required")
        })?;
    let offset = service
        .shared
        .clock
        .advance(&service.shared.pool, by)
        .await?;
    access.audit().resource("testClock");
    Ok(proto::AdvanceTestClockResponse {
        now: Some(convert::timestamp(service.shared.clock.now())),
        offset: Some(convert::duration(offset)),
    })
}
