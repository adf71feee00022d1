//! The coordinate, ring, polygon and multipolygon checks, and the oriented
//! result.

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::orient::Direction;
use geo::{
    BoundingRect, Coord, Line, LineString, MultiPolygon, Orient, Polygon, PreparedGeometry, Relate,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::errors::{Axis, Collector, GeometryErrorKind, GeometryErrors, RawPolygon, RawRing};

/// Runs the coordinate, ring, polygon and multipolygon checks and builds the oriented result.
pub(super) fn build_multipolygon(
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
