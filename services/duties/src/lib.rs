//! The flatgov duties service.
