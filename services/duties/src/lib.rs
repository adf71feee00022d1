//! The flatgov duties service: the published duty lists (权责清单) of a district, the
//! matter catalogue cases are classified against, who is responsible for a matter at a
//! place, and the gate that refuses pushing off-list matters down onto subdistricts and
//! residents' committees.
//!
//! [`domain`] holds the pure rules; transport, storage and events build on it.

pub mod domain;
