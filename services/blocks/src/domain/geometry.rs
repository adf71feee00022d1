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

use std::fmt;

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::orient::Direction;
use geo::{
    BoundingRect, Coord, GeodesicArea, Line, LineString, MultiPolygon, Orient, Polygon,
    PreparedGeometry, Relate,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::Value;

use super::codes::BlockCode;

/// One thing wrong with a geometry, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct GeometryError {
    /// JSON path of the offending member, e.g. `features[3].geometry.coordinates[0][5]`.
    pub path: String,
    /// The block the geometry belongs to, when the caller knows it; helps find the feature in a GIS tool.
    pub block_code: Option<BlockCode>,
    /// What is wrong.
    pub kind: GeometryErrorKind,
}

impl fmt::Display for GeometryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block_code {
            Some(code) => write!(formatter, "{} (block {code}): {}", self.path, self.kind),
            None => write!(formatter, "{}: {}", self.path, self.kind),
        }
    }
}

impl std::error::Error for GeometryError {}

/// Which coordinate of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// The first number of a position.
    Longitude,
    /// The second number of a position.
    Latitude,
    /// The optional third number (kept out of the model, but it must still be a number).
    Altitude,
}

impl fmt::Display for Axis {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Axis::Longitude => "longitude",
            Axis::Latitude => "latitude",
            Axis::Altitude => "altitude",
        })
    }
}

/// The kinds of geometry problems. [`GeometryErrorKind::code`] gives a stable identifier for each.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryErrorKind {
    /// The geometry or a nested member has the wrong JSON type, or a required member is missing.
    #[error("expected {expected}, found {found}")]
    Malformed {
        /// What the GeoJSON grammar requires here.
        expected: &'static str,
        /// What was found (a JSON type name, or "nothing").
        found: &'static str,
    },
    /// A geometry type other than Polygon or MultiPolygon.
    #[error("geometry type must be \"Polygon\" or \"MultiPolygon\", found {found:?}")]
    WrongType {
        /// The type found.
        found: String,
    },
    /// A polygon with no rings or a multipolygon with no polygons.
    #[error("{what} must not be empty")]
    Empty {
        /// "a polygon" or "a multipolygon".
        what: &'static str,
    },
    /// A position that is not 2 or 3 numbers.
    #[error("a position must have 2 or 3 numbers (longitude, latitude[, altitude]), found {count}")]
    PositionLength {
        /// How many numbers it has.
        count: usize,
    },
    /// NaN or infinity.
    #[error("{axis} is not a finite number")]
    NotFinite {
        /// Which coordinate.
        axis: Axis,
    },
    /// A longitude outside [-180, 180].
    #[error("longitude {value} is outside [-180, 180]")]
    LongitudeOutOfRange {
        /// The value given.
        value: f64,
    },
    /// A latitude outside [-90, 90] (often a sign of swapped lat/lon).
    #[error("latitude {value} is outside [-90, 90] (are longitude and latitude swapped?)")]
    LatitudeOutOfRange {
        /// The value given.
        value: f64,
    },
    /// Fewer than 4 positions in a ring.
    #[error("a ring needs at least 4 positions (the first repeated as the last), has {count}")]
    TooFewPositions {
        /// How many positions it has.
        count: usize,
    },
    /// Fewer than 3 distinct positions once repeated consecutive positions are dropped.
    #[error("a ring needs at least 3 distinct positions, has {count}")]
    TooFewDistinctPositions {
        /// How many distinct consecutive positions it has.
        count: usize,
    },
    /// The last position differs from the first.
    #[error("ring is not closed: last position {last:?} differs from first position {first:?}")]
    Unclosed {
        /// The first position.
        first: [f64; 2],
        /// The last position.
        last: [f64; 2],
    },
    /// Two segments of a ring cross, touch, or overlap (segment `k` runs from position `k` to `k + 1`).
    #[error(
        "ring intersects itself: segment {first_segment}-{} meets segment {second_segment}-{} at {at:?}",
        first_segment + 1,
        second_segment + 1
    )]
    SelfIntersection {
        /// Index of the first position of the first segment.
        first_segment: usize,
        /// Index of the first position of the second segment.
        second_segment: usize,
        /// A point where they meet.
        at: [f64; 2],
    },
    /// A hole that is (partly) outside its polygon's shell.
    #[error("hole is not inside the polygon's shell (ring 0)")]
    HoleOutsideShell,
    /// A hole whose boundary runs along the shell's boundary.
    #[error("hole touches the polygon's shell (ring 0) along an edge")]
    HoleTouchesShellAlongEdge,
    /// Two holes of one polygon overlap or share an edge.
    #[error("hole overlaps or shares an edge with hole (ring {other_ring})")]
    HolesOverlap {
        /// Ring index of the other hole.
        other_ring: usize,
    },
    /// Two polygons of a multipolygon overlap or share an edge; they must be merged or fixed.
    #[error(
        "polygon overlaps or shares an edge with polygon {other_polygon} of the same multipolygon"
    )]
    PolygonsOverlap {
        /// Index of the other polygon.
        other_polygon: usize,
    },
}

impl GeometryErrorKind {
    /// A stable snake_case identifier, for machines (API error details, metrics).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed_geometry",
            Self::WrongType { .. } => "wrong_geometry_type",
            Self::Empty { .. } => "empty_geometry",
            Self::PositionLength { .. } => "bad_position_length",
            Self::NotFinite { .. } => "non_finite_coordinate",
            Self::LongitudeOutOfRange { .. } => "longitude_out_of_range",
            Self::LatitudeOutOfRange { .. } => "latitude_out_of_range",
            Self::TooFewPositions { .. } => "too_few_positions",
            Self::TooFewDistinctPositions { .. } => "too_few_distinct_positions",
            Self::Unclosed { .. } => "unclosed_ring",
            Self::SelfIntersection { .. } => "self_intersecting_ring",
            Self::HoleOutsideShell => "hole_outside_shell",
            Self::HoleTouchesShellAlongEdge => "hole_touches_shell",
            Self::HolesOverlap { .. } => "holes_overlap",
            Self::PolygonsOverlap { .. } => "polygons_overlap",
        }
    }
}

/// Every problem found in one geometry (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct GeometryErrors(pub Vec<GeometryError>);

impl GeometryErrors {
    /// Attaches the block code to every error, once the caller knows which block this is.
    pub fn with_block_code(mut self, code: BlockCode) -> Self {
        for error in &mut self.0 {
            error.block_code = Some(code);
        }
        self
    }
}

impl fmt::Display for GeometryErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, error) in self.0.iter().enumerate() {
            if position > 0 {
                formatter.write_str("; ")?;
            }
            write!(formatter, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GeometryErrors {}

/// Name of a JSON value's type, for "expected X, found Y" messages.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Joins a JSON path and a member name (`""` + `coordinates` → `coordinates`).
fn member_path(base: &str, member: &str) -> String {
    if base.is_empty() {
        member.to_owned()
    } else {
        format!("{base}.{member}")
    }
}

/// Collects errors while walking one geometry.
struct Collector {
    errors: Vec<GeometryError>,
}

impl Collector {
    fn push(&mut self, path: String, kind: GeometryErrorKind) {
        self.errors.push(GeometryError {
            path,
            block_code: None,
            kind,
        });
    }
}

/// Positions of one ring as given (each position a list of numbers), before checks.
type RawRing = Vec<Vec<f64>>;
/// Rings of one polygon; `None` marks a ring whose JSON structure was already reported broken.
type RawPolygon = Vec<Option<RawRing>>;

/// Parses a GeoJSON geometry object (`Polygon` or `MultiPolygon`) held as JSON.
///
/// `path` is the JSON path of the geometry itself (e.g. `features[3].geometry`,
/// or `""` for a bare geometry); error paths extend it.
pub fn parse_geometry(value: &Value, path: &str) -> Result<MultiPolygon<f64>, GeometryErrors> {
    let mut collector = Collector { errors: Vec::new() };
    let Some(object) = value.as_object() else {
        collector.push(
            path.to_owned(),
            GeometryErrorKind::Malformed {
                expected: "a geometry object",
                found: json_type_name(value),
            },
        );
        return Err(GeometryErrors(collector.errors));
    };
    let type_name = match object.get("type") {
        Some(Value::String(type_name)) => type_name.as_str(),
        Some(other) => {
            collector.push(
                member_path(path, "type"),
                GeometryErrorKind::Malformed {
                    expected: "a string",
                    found: json_type_name(other),
                },
            );
            return Err(GeometryErrors(collector.errors));
        }
        None => {
            collector.push(
                member_path(path, "type"),
                GeometryErrorKind::Malformed {
                    expected: "a \"type\" member",
                    found: "nothing",
                },
            );
            return Err(GeometryErrors(collector.errors));
        }
    };
    let is_multi = match type_name {
        "Polygon" => false,
        "MultiPolygon" => true,
        other => {
            collector.push(
                member_path(path, "type"),
                GeometryErrorKind::WrongType {
                    found: other.to_owned(),
                },
            );
            return Err(GeometryErrors(collector.errors));
        }
    };
    let coordinates_path = member_path(path, "coordinates");
    let Some(coordinates) = object.get("coordinates") else {
        collector.push(
            coordinates_path,
            GeometryErrorKind::Malformed {
                expected: "a \"coordinates\" member",
                found: "nothing",
            },
        );
        return Err(GeometryErrors(collector.errors));
    };
    let raw_polygons: Vec<Option<RawPolygon>> = if is_multi {
        match json_array(
            coordinates,
            &coordinates_path,
            "an array of polygons",
            &mut collector,
        ) {
            Some(polygons) => polygons
                .iter()
                .enumerate()
                .map(|(polygon_index, polygon)| {
                    json_polygon(
                        polygon,
                        &format!("{coordinates_path}[{polygon_index}]"),
                        &mut collector,
                    )
                })
                .collect(),
            None => return Err(GeometryErrors(collector.errors)),
        }
    } else {
        match json_polygon(coordinates, &coordinates_path, &mut collector) {
            Some(polygon) => vec![Some(polygon)],
            None => return Err(GeometryErrors(collector.errors)),
        }
    };
    build_multipolygon(raw_polygons, is_multi, &coordinates_path, collector)
}

/// Parses a [`geojson::Geometry`] (for callers that already deserialized GeoJSON).
///
/// Same checks and paths as [`parse_geometry`]; this form can also meet NaN and
/// infinities, which JSON text cannot carry but Rust values can.
pub fn parse_geojson_geometry(
    geometry: &geojson::Geometry,
    path: &str,
) -> Result<MultiPolygon<f64>, GeometryErrors> {
    let collector = Collector { errors: Vec::new() };
    let coordinates_path = member_path(path, "coordinates");
    let to_raw_polygon = |rings: &geojson::PolygonType| -> Option<RawPolygon> {
        Some(
            rings
                .iter()
                .map(|ring| {
                    Some(
                        ring.iter()
                            .map(|position| position.as_slice().to_vec())
                            .collect(),
                    )
                })
                .collect(),
        )
    };
    match &geometry.value {
        geojson::GeometryValue::Polygon { coordinates } => build_multipolygon(
            vec![to_raw_polygon(coordinates)],
            false,
            &coordinates_path,
            collector,
        ),
        geojson::GeometryValue::MultiPolygon { coordinates } => build_multipolygon(
            coordinates.iter().map(to_raw_polygon).collect(),
            true,
            &coordinates_path,
            collector,
        ),
        other => {
            let mut collector = collector;
            collector.push(
                member_path(path, "type"),
                GeometryErrorKind::WrongType {
                    found: other.type_name().to_owned(),
                },
            );
            Err(GeometryErrors(collector.errors))
        }
    }
}

fn json_array<'a>(
    value: &'a Value,
    path: &str,
    expected: &'static str,
    collector: &mut Collector,
) -> Option<&'a Vec<Value>> {
    match value {
        Value::Array(items) => Some(items),
        other => {
            collector.push(
                path.to_owned(),
                GeometryErrorKind::Malformed {
                    expected,
                    found: json_type_name(other),
                },
            );
            None
        }
    }
}

/// Reads a polygon's rings from JSON; structural problems are reported and mark the ring `None`.
fn json_polygon(value: &Value, path: &str, collector: &mut Collector) -> Option<RawPolygon> {
    let rings = json_array(value, path, "an array of rings", collector)?;
    let polygon = rings
        .iter()
        .enumerate()
        .map(|(ring_index, ring)| json_ring(ring, &format!("{path}[{ring_index}]"), collector))
        .collect();
    Some(polygon)
}

fn json_ring(value: &Value, path: &str, collector: &mut Collector) -> Option<RawRing> {
    let positions = json_array(value, path, "an array of positions", collector)?;
    let mut ring = Vec::with_capacity(positions.len());
    let mut sound = true;
    for (position_index, position) in positions.iter().enumerate() {
        let position_path = format!("{path}[{position_index}]");
        let Some(numbers) = json_array(
            position,
            &position_path,
            "a position (an array of numbers)",
            collector,
        ) else {
            sound = false;
            continue;
        };
        let mut coordinates = Vec::with_capacity(numbers.len());
        for (number_index, number) in numbers.iter().enumerate() {
            match number.as_f64() {
                Some(coordinate) => coordinates.push(coordinate),
                None => {
                    collector.push(
                        format!("{position_path}[{number_index}]"),
                        GeometryErrorKind::Malformed {
                            expected: "a number",
                            found: json_type_name(number),
                        },
                    );
                    sound = false;
                }
            }
        }
        ring.push(coordinates);
    }
    sound.then_some(ring)
}

/// Runs the coordinate, ring, polygon and multipolygon checks and builds the oriented result.
fn build_multipolygon(
    raw_polygons: Vec<Option<RawPolygon>>,
    is_multi: bool,
    coordinates_path: &str,
    mut collector: Collector,
) -> Result<MultiPolygon<f64>, GeometryErrors> {
    if raw_polygons.is_empty() {
        collector.push(
            coordinates_path.to_owned(),
            GeometryErrorKind::Empty {
                what: "a multipolygon",
            },
        );
    }
    let mut polygons = Vec::with_capacity(raw_polygons.len());
    for (polygon_index, raw_polygon) in raw_polygons.into_iter().enumerate() {
        let polygon_path = if is_multi {
            format!("{coordinates_path}[{polygon_index}]")
        } else {
            coordinates_path.to_owned()
        };
        let Some(raw_polygon) = raw_polygon else {
            continue;
        };
        if let Some(polygon) = checked_polygon(raw_polygon, &polygon_path, &mut collector) {
            polygons.push((polygon_index, polygon));
        }
    }
    if !collector.errors.is_empty() {
        return Err(GeometryErrors(collector.errors));
    }
    check_parts_disjoint(&polygons, coordinates_path, &mut collector);
    if !collector.errors.is_empty() {
        return Err(GeometryErrors(collector.errors));
    }
    let oriented = polygons
        .into_iter()
        .map(|(_, polygon)| polygon.orient(Direction::Default))
        .collect();
    Ok(MultiPolygon(oriented))
}

/// Checks one polygon's rings and holes; returns it when every check passed.
fn checked_polygon(
    raw_polygon: RawPolygon,
    polygon_path: &str,
    collector: &mut Collector,
) -> Option<Polygon<f64>> {
    if raw_polygon.is_empty() {
        collector.push(
            polygon_path.to_owned(),
            GeometryErrorKind::Empty { what: "a polygon" },
        );
        return None;
    }
    let errors_before = collector.errors.len();
    let mut rings: Vec<LineString<f64>> = Vec::with_capacity(raw_polygon.len());
    let mut every_ring_sound = true;
    for (ring_index, raw_ring) in raw_polygon.into_iter().enumerate() {
        let ring_path = format!("{polygon_path}[{ring_index}]");
        // A ring already reported as structurally broken stays out, and so do the
        // polygon-level checks, which would otherwise see the wrong shell.
        let Some(raw_ring) = raw_ring else {
            every_ring_sound = false;
            continue;
        };
        match checked_ring(&raw_ring, &ring_path, collector) {
            Some(ring) => rings.push(ring),
            None => every_ring_sound = false,
        }
    }
    if !every_ring_sound || collector.errors.len() > errors_before {
        return None;
    }
    let mut rings = rings.into_iter();
    let shell = rings.next()?;
    let polygon = Polygon::new(shell, rings.collect());
    check_holes(&polygon, polygon_path, collector);
    (collector.errors.len() == errors_before).then_some(polygon)
}

/// Checks the positions of one ring, then its size, closure and simplicity.
fn checked_ring(
    raw_ring: &RawRing,
    ring_path: &str,
    collector: &mut Collector,
) -> Option<LineString<f64>> {
    let errors_before = collector.errors.len();
    let mut coords = Vec::with_capacity(raw_ring.len());
    for (position_index, numbers) in raw_ring.iter().enumerate() {
        let position_path = format!("{ring_path}[{position_index}]");
        if let Some(coord) = checked_position(numbers, &position_path, collector) {
            coords.push(coord);
        }
    }
    if collector.errors.len() > errors_before {
        return None;
    }
    if coords.len() < 4 {
        collector.push(
            ring_path.to_owned(),
            GeometryErrorKind::TooFewPositions {
                count: coords.len(),
            },
        );
        return None;
    }
    let (first, last) = (coords[0], coords[coords.len() - 1]);
    if first != last {
        collector.push(
            ring_path.to_owned(),
            GeometryErrorKind::Unclosed {
                first: [first.x, first.y],
                last: [last.x, last.y],
            },
        );
        return None;
    }
    // Drop repeated consecutive positions, remembering where each kept one came from
    // (the last of a run, where the next real segment starts), so errors name
    // segments as the caller wrote them.
    let mut distinct: Vec<Coord<f64>> = Vec::with_capacity(coords.len());
    let mut original_index: Vec<usize> = Vec::with_capacity(coords.len());
    for (index, coord) in coords.iter().enumerate() {
        if distinct.last() == Some(coord) {
            if let Some(last_index) = original_index.last_mut() {
                *last_index = index;
            }
        } else {
            distinct.push(*coord);
            original_index.push(index);
        }
    }
    if distinct.len() < 4 {
        collector.push(
            ring_path.to_owned(),
            GeometryErrorKind::TooFewDistinctPositions {
                count: distinct.len().saturating_sub(1),
            },
        );
        return None;
    }
    if let Some(crossing) = first_self_intersection(&distinct) {
        collector.push(
            ring_path.to_owned(),
            GeometryErrorKind::SelfIntersection {
                first_segment: original_index[crossing.first_segment],
                second_segment: original_index[crossing.second_segment],
                at: crossing.at,
            },
        );
        return None;
    }
    Some(LineString(distinct))
}

fn checked_position(
    numbers: &[f64],
    position_path: &str,
    collector: &mut Collector,
) -> Option<Coord<f64>> {
    if !(2..=3).contains(&numbers.len()) {
        collector.push(
            position_path.to_owned(),
            GeometryErrorKind::PositionLength {
                count: numbers.len(),
            },
        );
        return None;
    }
    let errors_before = collector.errors.len();
    let axes = [Axis::Longitude, Axis::Latitude, Axis::Altitude];
    for (axis, value) in axes.iter().zip(numbers) {
        if !value.is_finite() {
            collector.push(
                position_path.to_owned(),
                GeometryErrorKind::NotFinite { axis: *axis },
            );
        }
    }
    let (longitude, latitude) = (numbers[0], numbers[1]);
    if longitude.is_finite() && !(-180.0..=180.0).contains(&longitude) {
        collector.push(
            position_path.to_owned(),
            GeometryErrorKind::LongitudeOutOfRange { value: longitude },
        );
    }
    if latitude.is_finite() && !(-90.0..=90.0).contains(&latitude) {
        collector.push(
            position_path.to_owned(),
            GeometryErrorKind::LatitudeOutOfRange { value: latitude },
        );
    }
    (collector.errors.len() == errors_before).then_some(Coord {
        x: longitude,
        y: latitude,
    })
}

/// Where a ring first meets itself.
struct Crossing {
    first_segment: usize,
    second_segment: usize,
    at: [f64; 2],
}

/// Finds the self-intersection with the lowest segment pair, if any, in a closed ring
/// without repeated consecutive positions. Segment `k` joins positions `k` and `k + 1`.
///
/// Adjacent segments may only share their common position; any other contact
/// (including a collinear overlap, i.e. a spike) is a self-intersection. Candidate
/// pairs come from an R-tree over segment envelopes, so long subdistrict
/// boundaries are checked in about O(n log n) rather than O(n²).
fn first_self_intersection(ring: &[Coord<f64>]) -> Option<Crossing> {
    let segment_count = ring.len() - 1;
    let segment = |index: usize| Line::new(ring[index], ring[index + 1]);
    let are_adjacent = |first: usize, second: usize| {
        second == first + 1 || (first == 0 && second == segment_count - 1)
    };
    let mut best: Option<Crossing> = None;
    let mut consider = |first: usize, second: usize| {
        let Some(intersection) = line_intersection(segment(first), segment(second)) else {
            return;
        };
        let at = match intersection {
            // Two adjacent, non-collinear segments can only meet at their shared position.
            LineIntersection::SinglePoint { .. } if are_adjacent(first, second) => return,
            LineIntersection::SinglePoint { intersection, .. } => intersection,
            LineIntersection::Collinear { intersection } => intersection.start,
        };
        let is_better = best.as_ref().is_none_or(|current| {
            (first, second) < (current.first_segment, current.second_segment)
        });
        if is_better {
            best = Some(Crossing {
                first_segment: first,
                second_segment: second,
                at: [at.x, at.y],
            });
        }
    };
    const BRUTE_FORCE_LIMIT: usize = 64;
    if segment_count <= BRUTE_FORCE_LIMIT {
        for first in 0..segment_count {
            for second in first + 1..segment_count {
                consider(first, second);
            }
        }
    } else {
        let envelopes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = (0..segment_count)
            .map(|index| {
                let (start, end) = (ring[index], ring[index + 1]);
                GeomWithData::new(
                    Rectangle::from_corners([start.x, start.y], [end.x, end.y]),
                    index,
                )
            })
            .collect();
        let tree = RTree::bulk_load(envelopes);
        for first in 0..segment_count {
            let (start, end) = (ring[first], ring[first + 1]);
            let envelope = AABB::from_corners([start.x, start.y], [end.x, end.y]);
            for candidate in tree.locate_in_envelope_intersecting(&envelope) {
                if candidate.data > first {
                    consider(first, candidate.data);
                }
            }
        }
    }
    best
}

/// Checks that every hole lies inside the shell and holes do not overlap each other.
fn check_holes(polygon: &Polygon<f64>, polygon_path: &str, collector: &mut Collector) {
    if polygon.interiors().is_empty() {
        return;
    }
    let shell = Polygon::new(polygon.exterior().clone(), vec![]);
    let prepared_shell = PreparedGeometry::from(&shell);
    let holes: Vec<Polygon<f64>> = polygon
        .interiors()
        .iter()
        .map(|ring| Polygon::new(ring.clone(), vec![]))
        .collect();
    for (hole_index, hole) in holes.iter().enumerate() {
        let ring_path = format!("{polygon_path}[{}]", hole_index + 1);
        let matrix = prepared_shell.relate(hole);
        if !matrix.is_contains() {
            collector.push(ring_path, GeometryErrorKind::HoleOutsideShell);
            continue;
        }
        if matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            collector.push(ring_path, GeometryErrorKind::HoleTouchesShellAlongEdge);
            continue;
        }
        for (other_index, other) in holes.iter().enumerate().skip(hole_index + 1) {
            if interiors_meet_or_share_edge(hole, other) {
                collector.push(
                    format!("{polygon_path}[{}]", other_index + 1),
                    GeometryErrorKind::HolesOverlap {
                        other_ring: hole_index + 1,
                    },
                );
            }
        }
    }
}

/// True when two polygons overlap in area or share a stretch of boundary.
fn interiors_meet_or_share_edge(first: &Polygon<f64>, second: &Polygon<f64>) -> bool {
    let (Some(first_box), Some(second_box)) = (first.bounding_rect(), second.bounding_rect())
    else {
        return false;
    };
    let boxes_meet = first_box.min().x <= second_box.max().x
        && second_box.min().x <= first_box.max().x
        && first_box.min().y <= second_box.max().y
        && second_box.min().y <= first_box.max().y;
    if !boxes_meet {
        return false;
    }
    let matrix = first.relate(second);
    matrix.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional
        || matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
}

/// Checks that the parts of a multipolygon neither overlap nor share an edge.
fn check_parts_disjoint(
    polygons: &[(usize, Polygon<f64>)],
    coordinates_path: &str,
    collector: &mut Collector,
) {
    for (position, (first_index, first)) in polygons.iter().enumerate() {
        for (second_index, second) in &polygons[position + 1..] {
            if interiors_meet_or_share_edge(first, second) {
                collector.push(
                    format!("{coordinates_path}[{second_index}]"),
                    GeometryErrorKind::PolygonsOverlap {
                        other_polygon: *first_index,
                    },
                );
            }
        }
    }
}

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
mod tests {
    use super::*;
    use serde_json::json;

    fn square(x: f64, y: f64, size: f64) -> Value {
        json!([
            [x, y],
            [x + size, y],
            [x + size, y + size],
            [x, y + size],
            [x, y]
        ])
    }

    fn kinds(
        result: Result<MultiPolygon<f64>, GeometryErrors>,
    ) -> Vec<(String, GeometryErrorKind)> {
        result
            .expect_err("should be rejected")
            .0
            .into_iter()
            .map(|error| (error.path, error.kind))
            .collect()
    }

    fn single_kind(
        result: Result<MultiPolygon<f64>, GeometryErrors>,
    ) -> (String, GeometryErrorKind) {
        let mut found = kinds(result);
        assert_eq!(found.len(), 1, "expected exactly one error, got {found:?}");
        found.remove(0)
    }

    #[test]
    fn a_valid_polygon_becomes_a_one_part_multipolygon() {
        let geometry = json!({"type": "Polygon", "coordinates": [square(112.9, 27.8, 0.01)]});
        let parsed = parse_geometry(&geometry, "geometry").expect("valid");
        assert_eq!(parsed.0.len(), 1);
        assert_eq!(parsed.0[0].exterior().0.len(), 5);
    }

    #[test]
    fn a_valid_multipolygon_keeps_every_part() {
        let geometry = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(2.0, 0.0, 1.0)]]});
        assert_eq!(parse_geometry(&geometry, "").expect("valid").0.len(), 2);
    }

    #[test]
    fn an_altitude_is_accepted_and_dropped() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0, 5.0], [1.0, 0.0, 5.0], [1.0, 1.0, 5.0], [0.0, 0.0, 5.0]]]});
        assert!(parse_geometry(&geometry, "").is_ok());
    }

    #[test]
    fn clockwise_shells_are_reoriented_counter_clockwise_and_holes_clockwise() {
        let clockwise_shell = json!([[0.0, 0.0], [0.0, 4.0], [4.0, 4.0], [4.0, 0.0], [0.0, 0.0]]);
        let counter_clockwise_hole =
            json!([[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]]);
        let geometry =
            json!({"type": "Polygon", "coordinates": [clockwise_shell, counter_clockwise_hole]});
        let parsed = parse_geometry(&geometry, "").expect("valid");
        use geo::Winding;
        assert!(parsed.0[0].exterior().is_ccw());
        assert!(parsed.0[0].interiors()[0].is_cw());
    }

    #[test]
    fn a_point_is_the_wrong_geometry_type() {
        let geometry = json!({"type": "Point", "coordinates": [112.9, 27.8]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "features[3].geometry")),
            (
                "features[3].geometry.type".to_owned(),
                GeometryErrorKind::WrongType {
                    found: "Point".into()
                }
            )
        );
    }

    #[test]
    fn a_geometry_that_is_not_an_object_is_malformed() {
        assert_eq!(
            single_kind(parse_geometry(&json!([1, 2]), "features[0].geometry")),
            (
                "features[0].geometry".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a geometry object",
                    found: "an array"
                }
            )
        );
        assert!(matches!(
            single_kind(parse_geometry(&Value::Null, "g")).1,
            GeometryErrorKind::Malformed { found: "null", .. }
        ));
    }

    #[test]
    fn missing_type_or_coordinates_are_named() {
        assert_eq!(
            single_kind(parse_geometry(&json!({"coordinates": []}), "g")),
            (
                "g.type".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a \"type\" member",
                    found: "nothing"
                }
            )
        );
        assert_eq!(
            single_kind(parse_geometry(&json!({"type": "Polygon"}), "g")),
            (
                "g.coordinates".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a \"coordinates\" member",
                    found: "nothing"
                }
            )
        );
        assert_eq!(
            single_kind(parse_geometry(&json!({"type": 7, "coordinates": []}), "g")),
            (
                "g.type".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a string",
                    found: "a number"
                }
            )
        );
    }

    #[test]
    fn wrong_nesting_is_reported_at_the_exact_member() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], "oops", [1.0, 1.0], [0.0, 0.0]]]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")),
            (
                "g.coordinates[0][1]".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a position (an array of numbers)",
                    found: "a string"
                }
            )
        );
        let not_rings = json!({"type": "Polygon", "coordinates": {"a": 1}});
        assert_eq!(
            single_kind(parse_geometry(&not_rings, "g")),
            (
                "g.coordinates".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "an array of rings",
                    found: "an object"
                }
            )
        );
        let not_polygons = json!({"type": "MultiPolygon", "coordinates": 5});
        assert_eq!(
            single_kind(parse_geometry(&not_polygons, "g")).0,
            "g.coordinates"
        );
    }

    #[test]
    fn a_non_number_coordinate_is_reported_at_its_index() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, null], [1.0, 1.0], [0.0, 0.0]]]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")),
            (
                "g.coordinates[0][1][1]".to_owned(),
                GeometryErrorKind::Malformed {
                    expected: "a number",
                    found: "null"
                }
            )
        );
    }

    #[test]
    fn positions_with_one_or_four_numbers_are_rejected() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0], [1.0, 0.0], [1.0, 1.0, 0.0, 9.0], [0.0, 0.0]]]});
        assert_eq!(
            kinds(parse_geometry(&geometry, "")),
            vec![
                (
                    "coordinates[0][0]".to_owned(),
                    GeometryErrorKind::PositionLength { count: 1 }
                ),
                (
                    "coordinates[0][2]".to_owned(),
                    GeometryErrorKind::PositionLength { count: 4 }
                ),
            ]
        );
    }

    #[test]
    fn out_of_range_coordinates_are_all_reported_with_their_positions() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [181.0, 0.0], [1.0, -90.5], [0.0, 0.0]]]});
        assert_eq!(
            kinds(parse_geometry(&geometry, "features[3].geometry")),
            vec![
                (
                    "features[3].geometry.coordinates[0][1]".to_owned(),
                    GeometryErrorKind::LongitudeOutOfRange { value: 181.0 }
                ),
                (
                    "features[3].geometry.coordinates[0][2]".to_owned(),
                    GeometryErrorKind::LatitudeOutOfRange { value: -90.5 }
                ),
            ]
        );
    }

    #[test]
    fn the_range_limits_themselves_are_accepted() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[-180.0, -90.0], [180.0, -90.0], [180.0, 90.0], [-180.0, -90.0]]]});
        assert!(parse_geometry(&geometry, "").is_ok());
    }

    #[test]
    fn nan_and_infinity_are_rejected_from_rust_values() {
        let geometry = geojson::Geometry::new_polygon(vec![vec![
            [0.0, 0.0],
            [f64::NAN, 0.0],
            [1.0, f64::INFINITY],
            [0.0, 0.0],
        ]]);
        assert_eq!(
            kinds(parse_geojson_geometry(&geometry, "g")),
            vec![
                (
                    "g.coordinates[0][1]".to_owned(),
                    GeometryErrorKind::NotFinite {
                        axis: Axis::Longitude
                    }
                ),
                (
                    "g.coordinates[0][2]".to_owned(),
                    GeometryErrorKind::NotFinite {
                        axis: Axis::Latitude
                    }
                ),
            ]
        );
        let with_bad_altitude = geojson::Geometry::new_polygon(vec![vec![
            vec![0.0, 0.0, f64::NEG_INFINITY],
            vec![1.0, 0.0],
            vec![1.0, 1.0],
            vec![0.0, 0.0],
        ]]);
        assert_eq!(
            single_kind(parse_geojson_geometry(&with_bad_altitude, "g")).1,
            GeometryErrorKind::NotFinite {
                axis: Axis::Altitude
            }
        );
    }

    #[test]
    fn a_geojson_point_is_the_wrong_type_too() {
        let geometry = geojson::Geometry::new_point([1.0, 2.0]);
        assert_eq!(
            single_kind(parse_geojson_geometry(&geometry, "g")),
            (
                "g.type".to_owned(),
                GeometryErrorKind::WrongType {
                    found: "Point".into()
                }
            )
        );
    }

    #[test]
    fn a_ring_with_three_positions_is_too_short() {
        let geometry =
            json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")),
            (
                "g.coordinates[0]".to_owned(),
                GeometryErrorKind::TooFewPositions { count: 3 }
            )
        );
    }

    #[test]
    fn an_unclosed_ring_names_its_first_and_last_positions() {
        let geometry = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]});
        let (path, kind) = single_kind(parse_geometry(&geometry, "g"));
        assert_eq!(path, "g.coordinates[0]");
        assert_eq!(
            kind,
            GeometryErrorKind::Unclosed {
                first: [0.0, 0.0],
                last: [0.0, 1.0]
            }
        );
        assert!(kind.to_string().contains("not closed"));
    }

    #[test]
    fn repeated_positions_are_dropped_but_three_distinct_positions_are_still_required() {
        let with_repeats = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]]});
        let parsed = parse_geometry(&with_repeats, "").expect("repeats are tolerated");
        assert_eq!(parsed.0[0].exterior().0.len(), 4);
        let degenerate = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
        assert_eq!(
            single_kind(parse_geometry(&degenerate, "")).1,
            GeometryErrorKind::TooFewDistinctPositions { count: 2 }
        );
    }

    #[test]
    fn a_bow_tie_ring_is_self_intersecting_and_the_crossing_is_located() {
        let bow_tie = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]]});
        let (path, kind) = single_kind(parse_geometry(&bow_tie, "features[1].geometry"));
        assert_eq!(path, "features[1].geometry.coordinates[0]");
        assert_eq!(
            kind,
            GeometryErrorKind::SelfIntersection {
                first_segment: 0,
                second_segment: 2,
                at: [1.0, 1.0]
            }
        );
        assert_eq!(
            kind.to_string(),
            "ring intersects itself: segment 0-1 meets segment 2-3 at [1.0, 1.0]"
        );
    }

    #[test]
    fn a_ring_touching_itself_at_a_vertex_is_self_intersecting() {
        // An "inverted hole": the ring comes back to (2, 0) before closing.
        let figure_eight = json!({"type": "Polygon", "coordinates": [[
            [0.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 0.0], [4.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]
        ]]});
        assert!(matches!(
            single_kind(parse_geometry(&figure_eight, "")).1,
            GeometryErrorKind::SelfIntersection { .. }
        ));
    }

    #[test]
    fn a_spike_doubling_back_on_itself_is_self_intersecting() {
        let spike = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 0.0], [3.0, 0.0], [2.5, 0.0], [2.0, 2.0], [0.0, 0.0]]]});
        assert!(matches!(
            single_kind(parse_geometry(&spike, "")).1,
            GeometryErrorKind::SelfIntersection {
                first_segment: 1,
                second_segment: 2,
                ..
            }
        ));
    }

    #[test]
    fn self_intersection_indices_refer_to_positions_as_written_even_with_repeats() {
        let bow_tie = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [0.0, 0.0], [2.0, 2.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]]});
        assert_eq!(
            single_kind(parse_geometry(&bow_tie, "")).1,
            GeometryErrorKind::SelfIntersection {
                first_segment: 1,
                second_segment: 3,
                at: [1.0, 1.0]
            }
        );
    }

    #[test]
    fn a_long_ring_uses_the_tree_path_and_still_finds_a_crossing() {
        // A 200-vertex circle-like ring, valid; then swap two vertices far apart to make it cross.
        let steps = 200;
        let mut ring: Vec<Value> = (0..steps)
            .map(|step| {
                let angle = std::f64::consts::TAU * f64::from(step) / f64::from(steps);
                json!([angle.cos(), angle.sin()])
            })
            .collect();
        ring.push(ring[0].clone());
        let valid = json!({"type": "Polygon", "coordinates": [ring.clone()]});
        assert!(parse_geometry(&valid, "").is_ok());
        ring.swap(10, 100);
        let crossing = json!({"type": "Polygon", "coordinates": [ring]});
        assert!(matches!(
            single_kind(parse_geometry(&crossing, "")).1,
            GeometryErrorKind::SelfIntersection { .. }
        ));
    }

    #[test]
    fn a_hole_inside_its_shell_is_accepted_and_subtracted_from_the_area() {
        let geometry = json!({"type": "Polygon", "coordinates": [square(112.90, 27.85, 0.01), square(112.902, 27.852, 0.005)]});
        let parsed = parse_geometry(&geometry, "").expect("valid");
        let shell_only = parse_geometry(
            &json!({"type": "Polygon", "coordinates": [square(112.90, 27.85, 0.01)]}),
            "",
        )
        .expect("valid");
        let hole_only = parse_geometry(
            &json!({"type": "Polygon", "coordinates": [square(112.902, 27.852, 0.005)]}),
            "",
        )
        .expect("valid");
        let expected = area_m2(&shell_only) - area_m2(&hole_only);
        assert!(
            (area_m2(&parsed) - expected).abs() < 0.01,
            "{} vs {expected}",
            area_m2(&parsed)
        );
    }

    #[test]
    fn a_hole_outside_its_shell_is_rejected_at_the_hole() {
        let geometry = json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 1.0), square(5.0, 5.0, 1.0)]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")),
            (
                "g.coordinates[1]".to_owned(),
                GeometryErrorKind::HoleOutsideShell
            )
        );
        let crossing_hole = json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 1.0), square(0.5, 0.5, 1.0)]});
        assert_eq!(
            single_kind(parse_geometry(&crossing_hole, "g")).1,
            GeometryErrorKind::HoleOutsideShell
        );
    }

    #[test]
    fn a_hole_in_a_multipolygon_part_is_located_by_polygon_and_ring() {
        let geometry = json!({"type": "MultiPolygon", "coordinates": [
            [square(0.0, 0.0, 1.0)],
            [square(3.0, 0.0, 1.0), square(9.0, 9.0, 0.1)]
        ]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")).0,
            "g.coordinates[1][1]"
        );
    }

    #[test]
    fn a_hole_running_along_the_shell_is_rejected() {
        let geometry = json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 4.0), square(0.0, 1.0, 1.0)]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")).1,
            GeometryErrorKind::HoleTouchesShellAlongEdge
        );
    }

    #[test]
    fn overlapping_holes_are_rejected() {
        let geometry = json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 10.0), square(1.0, 1.0, 2.0), square(2.0, 2.0, 2.0)]});
        assert_eq!(
            single_kind(parse_geometry(&geometry, "g")),
            (
                "g.coordinates[2]".to_owned(),
                GeometryErrorKind::HolesOverlap { other_ring: 1 }
            )
        );
    }

    #[test]
    fn overlapping_or_edge_sharing_parts_of_a_multipolygon_are_rejected() {
        let overlapping = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 2.0)], [square(1.0, 1.0, 2.0)]]});
        assert_eq!(
            single_kind(parse_geometry(&overlapping, "g")),
            (
                "g.coordinates[1]".to_owned(),
                GeometryErrorKind::PolygonsOverlap { other_polygon: 0 }
            )
        );
        let sharing_an_edge = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(1.0, 0.0, 1.0)]]});
        assert!(parse_geometry(&sharing_an_edge, "g").is_err());
        let touching_at_a_corner = json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0)], [square(1.0, 1.0, 1.0)]]});
        assert!(
            parse_geometry(&touching_at_a_corner, "g").is_ok(),
            "touching at one point is allowed"
        );
    }

    #[test]
    fn empty_polygons_and_multipolygons_are_rejected() {
        assert_eq!(
            single_kind(parse_geometry(
                &json!({"type": "Polygon", "coordinates": []}),
                "g"
            )),
            (
                "g.coordinates".to_owned(),
                GeometryErrorKind::Empty { what: "a polygon" }
            )
        );
        assert_eq!(
            single_kind(parse_geometry(
                &json!({"type": "MultiPolygon", "coordinates": []}),
                "g"
            ))
            .1,
            GeometryErrorKind::Empty {
                what: "a multipolygon"
            }
        );
        assert_eq!(
            single_kind(parse_geometry(
                &json!({"type": "MultiPolygon", "coordinates": [[]]}),
                "g"
            )),
            (
                "g.coordinates[0]".to_owned(),
                GeometryErrorKind::Empty { what: "a polygon" }
            )
        );
    }

    #[test]
    fn problems_in_several_rings_are_all_reported() {
        let geometry = json!({"type": "MultiPolygon", "coordinates": [
            [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]],
            [[[5.0, 5.0], [6.0, 5.0], [6.0, 6.0], [5.0, 6.0]]],
            [[[7.0, 7.0], [8.0, 95.0], [8.0, 8.0], [7.0, 7.0]]]
        ]});
        let found: Vec<String> = kinds(parse_geometry(&geometry, ""))
            .into_iter()
            .map(|(path, kind)| format!("{path} {}", kind.code()))
            .collect();
        assert_eq!(
            found,
            vec![
                "coordinates[0][0] too_few_positions",
                "coordinates[1][0] unclosed_ring",
                "coordinates[2][0][1] latitude_out_of_range"
            ]
        );
    }

    #[test]
    fn errors_display_their_path_and_block_code() {
        let geometry =
            json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]});
        let code = BlockCode::parse("430302001002017").expect("valid");
        let errors = parse_geometry(&geometry, "features[3].geometry")
            .expect_err("too short")
            .with_block_code(code);
        assert_eq!(
            errors.to_string(),
            "features[3].geometry.coordinates[0] (block 430302001002017): a ring needs at least 4 positions (the first repeated as the last), has 3"
        );
    }

    #[test]
    fn area_of_a_small_lon_lat_rectangle_matches_the_ellipsoid_formula() {
        // Near Xiangtan: 0.01° × 0.01° at 27.86° N. On the ellipsoid such a cell has area
        // M(φ)·N(φ)·cos φ·Δφ·Δλ (radii of curvature at the centre), accurate to ~1e-8 here.
        let (semi_major, flattening) = (6_378_137.0_f64, 1.0 / 298.257_223_563);
        let eccentricity_squared = flattening * (2.0 - flattening);
        let latitude = (27.865_f64).to_radians();
        let sin_squared = latitude.sin().powi(2);
        let meridional = semi_major * (1.0 - eccentricity_squared)
            / (1.0 - eccentricity_squared * sin_squared).powf(1.5);
        let prime_vertical = semi_major / (1.0 - eccentricity_squared * sin_squared).sqrt();
        let step = 0.01_f64.to_radians();
        let expected = meridional * prime_vertical * latitude.cos() * step * step;
        let cell = parse_geometry(
            &json!({"type": "Polygon", "coordinates": [square(112.90, 27.86, 0.01)]}),
            "",
        )
        .expect("valid");
        let measured = area_m2(&cell);
        // Edges along parallels are geodesics here, which bulge a few m² from the parallel.
        assert!(
            (measured - expected).abs() / expected < 1e-4,
            "measured {measured} expected {expected}"
        );
        assert!(
            measured > 1.0e6 && measured < 1.2e6,
            "about 1.09 km²: {measured}"
        );
    }

    #[test]
    fn area_does_not_depend_on_ring_orientation() {
        let counter_clockwise: MultiPolygon<f64> = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (0.01, 0.0),
                (0.01, 0.01),
                (0.0, 0.01),
                (0.0, 0.0),
            ]),
            vec![],
        )]);
        let clockwise: MultiPolygon<f64> = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (0.0, 0.01),
                (0.01, 0.01),
                (0.01, 0.0),
                (0.0, 0.0),
            ]),
            vec![],
        )]);
        assert!((area_m2(&counter_clockwise) - area_m2(&clockwise)).abs() < 1e-6);
        assert!(area_m2(&clockwise) > 1.0e6);
    }

    #[test]
    fn geojson_output_round_trips_exactly() {
        let geometry = json!({"type": "MultiPolygon", "coordinates": [
            [square(112.912_345_678_9, 27.851_234_567_8, 0.001), square(112.912_5, 27.851_5, 0.0001)],
            [square(112.95, 27.85, 0.001)]
        ]});
        let parsed = parse_geometry(&geometry, "").expect("valid");
        let output = serde_json::to_value(to_geojson(&parsed)).expect("serializes");
        assert_eq!(output["type"], "MultiPolygon");
        assert_eq!(parse_geometry(&output, "").expect("reparses"), parsed);
        let single = MultiPolygon(vec![parsed.0[1].clone()]);
        let single_output = serde_json::to_value(to_geojson(&single)).expect("serializes");
        assert_eq!(single_output["type"], "Polygon");
        assert_eq!(
            parse_geometry(&single_output, "").expect("reparses"),
            single
        );
    }
}
