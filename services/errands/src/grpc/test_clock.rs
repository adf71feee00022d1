//! AdvanceTestClock: test deployments move their clock forward so time
//! limits of days can be exercised in seconds. FAILED_PRECONDITION unless the
//! service runs with ERRANDS_TEST_CONTROLS=enabled (never in production).

use chrono::TimeDelta;
use flatgov_auth::policy::Access;
use flatgov_grpc::time::timestamp;
use flatgov_proto::errands::v1 as proto;

use super::ErrandsService;
use crate::error::Error;

/// The furthest one call moves the clock.
const MAX_ADVANCE_DAYS: i64 = 400;

fn duration(delta: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: delta.num_seconds(),
        nanos: delta.subsec_nanos(),
    }
}

pub(super) async fn advance_test_clock(
    service: &ErrandsService,
    access: &Access,
    request: proto::AdvanceTestClockRequest,
) -> Result<proto::AdvanceTestClockResponse, Error> {
    let by = request
        .by
        .as_ref()
        .filter(|by| (0..1_000_000_000).contains(&by.nanos))
        .and_then(|by| TimeDelta::new(by.seconds, u32::try_from(by.nanos).ok()?))
        .filter(|by| *by > TimeDelta::zero() && *by <= TimeDelta::days(MAX_ADVANCE_DAYS))
        .ok_or_else(|| {
            Error::invalid("by", "a positive duration of at most 400 days is required")
        })?;
    let errands = &service.errands;
    let offset = errands.clock.advance(&errands.pool, by).await?;
    access.audit().resource("testClock");
    Ok(proto::AdvanceTestClockResponse {
        now: Some(timestamp(errands.clock.now())),
        offset: Some(duration(offset)),
    })
}
