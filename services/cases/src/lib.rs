//! The flatgov cases service.
