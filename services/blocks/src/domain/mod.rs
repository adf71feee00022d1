//! The block registry's pure domain: codes, geometry, import, validation, lookup.
//!
//! Nothing here touches a database, the network or the clock, so every rule is
//! unit-tested beside its code and the service layers (gRPC, storage, events)
//! can be built on top without re-checking what these types guarantee.
//!
//! - [`codes`]: district → subdistrict → community → block codes.
//! - [`names`]: place names.
//! - [`geometry`]: GeoJSON Polygon/MultiPolygon ⇄ validated `geo::MultiPolygon`, geodesic area.
//! - [`import`]: a FeatureCollection of blocks (or of subdistrict boundaries) → drafts, with every problem collected.
//! - [`team`]: the facts about a block's 1+N+1 team that validation needs.
//! - [`validation`]: gaps, overlaps, blocks outside their subdistrict, households band, team rule.
//! - [`index`]: the in-memory point → block lookup.
//! - [`synthetic`]: deterministic tilings and the synthetic demo district.

pub mod codes;
pub mod geometry;
pub mod import;
pub mod index;
pub mod names;
pub mod synthetic;
pub mod team;
pub mod validation;
