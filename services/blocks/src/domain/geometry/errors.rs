//! What a geometry walk reports: the errors, with the JSON path of each,
//! and the raw positions the walk collects before checking them.

use std::fmt;

use serde_json::Value;

use flatgov_vocabulary::BlockCode;

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
pub(super) fn member_path(base: &str, member: &str) -> String {
    if base.is_empty() {
        member.to_owned()
    } else {
        format!("{base}.{member}")
    }
}

/// Collects errors while walking one geometry.
pub(super) struct Collector {
    pub(super) errors: Vec<GeometryError>,
}

impl Collector {
    pub(super) fn push(&mut self, path: String, kind: GeometryErrorKind) {
        self.errors.push(GeometryError {
            path,
            block_code: None,
            kind,
        });
    }
}

/// Positions of one ring as given (each position a list of numbers), before checks.
pub(super) type RawRing = Vec<Vec<f64>>;
/// Rings of one polygon; `None` marks a ring whose JSON structure was already reported broken.
pub(super) type RawPolygon = Vec<Option<RawRing>>;
