//! The block registry's pure domain: codes, geometry, import, validation, lookup.
//!
//! Nothing here touches a database, the network or the clock, so every rule is
//! unit-tested beside its code and the service layers (gRPC, storage, events)
//! can be built on top without re-checking what these types guarantee.
//!
//! - codes: district → subdistrict → community → block codes come from `flatgov_vocabulary`.
//! - [`names`]: place names.
//! - [`geometry`]: GeoJSON Polygon/MultiPolygon ⇄ validated `geo::MultiPolygon`, geodesic area.
//! - [`import`]: a FeatureCollection of blocks (or of subdistrict boundaries) → drafts, with every problem collected.
//! - [`team`]: the 1+N+1 team (strict [`team::Team`]) and the facts validation checks.
//! - [`team_import`]: teams given as a `team` property of block features.
//! - [`staff`]: the roster's personal data (names, phones, units).
//! - [`changes`]: what a new generation creates, retires and reshapes, with successors.
//! - [`codec`]: the exact binary storage encoding of geometry.
//! - [`validation`]: gaps, overlaps, blocks outside their subdistrict, households band, team rule.
//! - [`index`]: the in-memory point → block lookup.
//! - [`synthetic`]: the `flatgov-demo` tilings and demo district as this crate's types.

pub mod changes;
pub mod codec;
pub mod geometry;
pub mod import;
pub mod index;
pub mod names;
pub mod staff;
pub mod synthetic;
pub mod team;
pub mod team_import;
pub mod validation;
