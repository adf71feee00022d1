//! The service's errors: the core error every service shares
//! ([`flatgov_grpc::error::Error`], mapped to gRPC codes in one place),
//! extended with what only this service knows — its lifecycle's refusals.

pub use flatgov_grpc::error::Error;

use crate::domain::TransitionError;

/// The errand's state does not allow the command; the message names that state.
impl From<TransitionError> for Error {
    fn from(error: TransitionError) -> Self {
        Error::FailedPrecondition(error.to_string())
    }
}
