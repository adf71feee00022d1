//! Pure types and rules of the three-mediation linkage: the words a dispute
//! is described in ([`values`]) and the guards of its track ([`track`]).

pub mod track;
pub mod values;

pub use track::{Conclusion, Track, TransitionError};
pub use values::{
    DisputeState, DisputeType, Level, MANY_PARTIES, Outcome, PartyRole, Resolution, RiskKind,
    SAME_PARTIES, Trigger, agreement_name, dispute_name, justice_office, mediation_committee,
    stage_name,
};
