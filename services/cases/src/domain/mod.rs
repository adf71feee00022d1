//! The case dispatch domain: pure types and rules, free of any database, network or clock.
//!
//! - [`values`]: validated identifiers, names and bounded text.
//! - [`geo`]: points and distances.
//! - [`calendar`]: the working-day calendar (holidays, swapped working days, office hours).
//! - [`lifecycle`]: the case aggregate, its states, guarded transitions and their records.
//! - [`sla`]: time limits per tier and matter, deadlines, and what a passed deadline implies.
//! - [`me_too`]: linking a report to a nearby open case of the same matter.
//! - [`indicators`]: the rates and times of the evaluation, computed from the records.
//! - [`units`]: division codes, the duty lists' units and the text form of assignees.

pub mod calendar;
pub mod geo;
pub mod indicators;
pub mod lifecycle;
pub mod me_too;
pub mod sla;
pub mod units;
pub mod values;
