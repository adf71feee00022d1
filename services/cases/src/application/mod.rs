//! The service's use cases, free of proto: taking a report in ([`intake`]) and what the
//! API, the triage saga, the deadline worker and the event handlers share to move a case
//! ([`ops`]: the rules with their configuration, and saving a transition with its records
//! and events in the caller's transaction).

pub mod intake;
pub mod ops;
