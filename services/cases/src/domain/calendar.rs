//! The working-day calendar time limits are counted on: office hours, public holidays and
//! swapped working days (调休). It lives in the shared `flatgov-calendar` crate
//! (`crates/calendar`, holiday files in `crates/calendar/data/<year>.csv`) because the
//! notices service counts its return visits (回访) on the same working days.

pub use flatgov_calendar::*;
