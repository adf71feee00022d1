//! The service's clock: the chassis' [`flatgov_grpc::clock`]. A test deployment
//! (`ERRANDS_TEST_CONTROLS=enabled`) may move it forward with `AdvanceTestClock`;
//! the offset is kept in this service's `test_clock` table.

pub use flatgov_grpc::clock::{Clock, ClockError, truncate_to_micros};
