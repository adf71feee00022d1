//! The flatgov block registry service: district → subdistrict → community → block
//! hierarchy, block polygons in boundary generations, 1+N+1 teams and point → block lookup.
//!
//! [`domain`] holds the pure rules (codes, geometry parsing, generation validation,
//! the spatial index and synthetic data); it has no I/O.

pub mod domain;
