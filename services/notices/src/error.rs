//! The service's errors: the core error every service shares
//! ([`flatgov_grpc::error::Error`], mapped to gRPC codes in one place). The
//! notices' own refusals (a notice waiting for approval, a milestone's
//! template) are put into it where they are found, each naming the rule.

pub use flatgov_grpc::error::Error;
