//! Block and subdistrict geometry: GeoJSON in, validated `geo::MultiPolygon` out, and back.
//!
//! Coordinates are WGS84 longitude/latitude in degrees, as RFC 7946 requires.
//! Every geometry is held as a [`MultiPolygon<f64>`] (a GeoJSON `Polygon` becomes a
//! one-part multipolygon), oriented the RFC 7946 way: shells counter-clockwise,
//! holes clockwise. A consistent orientation matters: `geo`'s `unary_union` picks
//! its fill rule from the first ring's winding.
//!
//! # What is rejected
//!
//! [`parse_geometry`] and [`parse_geojson_geometry`] reject, each with a
//! [`GeometryError`] whose `path` names the exact member (for example
//! `features[3].geometry.coordinates[0][5]`):
//!
//! - a geometry that is not an object, lacks `type` or `coordinates`, or has a
//!   type other than `Polygon` / `MultiPolygon`;
//! - nesting that is not arrays of the right depth, or a non-number coordinate;
//! - a position with fewer than 2 or more than 3 numbers;
//! - a non-finite coordinate, a longitude outside [-180, 180] or a latitude outside [-90, 90];
//! - a polygon without rings, a multipolygon without polygons;
//! - a ring with fewer than 4 positions, or fewer than 3 distinct positions;
//! - a ring whose last position differs from its first (unclosed);
//! - a ring that crosses or touches itself, including spikes (a segment doubling back);
//! - a hole that is not inside its shell or runs along it, two holes that overlap;
//! - two polygons of a multipolygon that overlap or share an edge (they must be merged).
//!
//! Repeated consecutive positions are tolerated (many GIS tools write them) and
//! dropped. Problems are collected rather than stopping at the first: all
//! structural and coordinate problems are reported; ring-level checks run on every
//! ring whose coordinates are sound, and polygon-level checks on polygons whose
//! rings are all sound.
//!
//! # Area
//!
//! [`area_m2`] is the geodesic area on the WGS84 ellipsoid by Karney's algorithm
//! (GeographicLib, through `geo`'s `GeodesicArea`), accurate to floating-point
//! round-off (far below 1 m² at block scale). It treats edges as geodesics while
//! GeoJSON (and the boolean operations used in validation) treat them as straight
//! lines in lon/lat; for block-sized edges (< 2 km) at Xiangtan's latitude the two
//! differ by a few m² per km² (under 0.001 %).

mod checks;
mod errors;
mod parse;

use geo::{GeodesicArea, LineString, MultiPolygon, Polygon};

pub(crate) use errors::json_type_name;
pub use errors::{Axis, GeometryError, GeometryErrorKind, GeometryErrors};
pub use parse::{parse_geojson_geometry, parse_geometry};

/// Geodesic area on the WGS84 ellipsoid, in square metres (see the module docs for accuracy).
///
/// Works whatever the rings' orientation (so it is safe on results of boolean
/// operations): each ring's area is taken unsigned, holes are subtracted.
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry.0.iter().map(polygon_area_m2).sum()
}

/// Geodesic area of one polygon in square metres (shell minus holes).
pub fn polygon_area_m2(polygon: &Polygon<f64>) -> f64 {
    let ring_area = |ring: &LineString<f64>| {
        Polygon::new(ring.clone(), vec![])
            .geodesic_area_signed()
            .abs()
    };
    let holes: f64 = polygon.interiors().iter().map(ring_area).sum();
    (ring_area(polygon.exterior()) - holes).max(0.0)
}

/// GeoJSON for a geometry: a `Polygon` when it has exactly one part, a `MultiPolygon` otherwise.
///
/// Coordinates are written as held (shortest round-trip decimal), so parsing the
/// output gives back the same `f64` values.
pub fn to_geojson(geometry: &MultiPolygon<f64>) -> geojson::Geometry {
    let polygon_rings = |polygon: &Polygon<f64>| -> Vec<Vec<geojson::Position>> {
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .map(|ring| {
                ring.0
                    .iter()
                    .map(|coord| geojson::Position::from([coord.x, coord.y]))
                    .collect()
            })
            .collect()
    };
    match geometry.0.as_slice() {
        [single] => geojson::Geometry::new(geojson::GeometryValue::Polygon {
            coordinates: polygon_rings(single),
        }),
        parts => geojson::Geometry::new(geojson::GeometryValue::MultiPolygon {
            coordinates: parts.iter().map(polygon_rings).collect(),
        }),
    }
}

#[cfg(test)]
mod tests;
