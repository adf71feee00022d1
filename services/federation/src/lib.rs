//! The flatgov federation service.
