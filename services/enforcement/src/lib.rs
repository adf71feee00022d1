//! The flatgov enforcement service.
