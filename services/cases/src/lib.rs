//! The flatgov cases service: case intake from every channel, triage, three-tier dispatch,
//! time limits on a working-day calendar, escalation, verification, the resident's rating and
//! the indicators computed from the recorded transitions.
//!
//! [`domain`] holds the pure rules; the transport, store, events and deadline worker build
//! on it.

pub mod domain;
