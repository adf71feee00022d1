//! The flatgov blocks service.
