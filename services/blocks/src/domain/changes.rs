//! What changes when a generation replaces another: blocks created, retired, reshaped.
//!
//! A code only in the new generation is *created*, a code only in the old one
//! is *retired*, a code in both with a different polygon is *reshaped*. Two
//! polygons are the same when they have the same rings as point sets in order
//! around the ring: where a ring starts, and in which order a multipolygon
//! lists its parts, do not matter ([`same_shape`]).
//!
//! For every retired or reshaped block the diff also names its *successors*:
//! the new generation's blocks that cover part of its old land, with the area
//! shared, largest first. Services holding work for a block without a point
//! use them to re-home it. Candidates come from an R-tree over the new blocks'
//! bounding boxes; each is intersected exactly.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use geo::{BooleanOps, BoundingRect, Coord, LineString, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::geometry::area_m2;
use flatgov_vocabulary::BlockCode;

/// How a block differs between the old generation and the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// The code exists only in the new generation.
    Created,
    /// The code exists only in the old generation.
    Retired,
    /// The code exists in both with a different polygon.
    Reshaped,
}

/// A block of the new generation covering part of an old block's land.
#[derive(Debug, Clone, PartialEq)]
pub struct Successor {
    /// The new block.
    pub code: BlockCode,
    /// Geodesic area of the old land it covers, in m².
    pub shared_area_m2: f64,
}

/// One changed block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockChange {
    /// The block code.
    pub code: BlockCode,
    /// What happened to it.
    pub kind: ChangeKind,
    /// For retired and reshaped blocks: who covers its old land now, largest share first.
    pub successors: Vec<Successor>,
}

/// The changes from `previous` to `next`, in code order. Unchanged blocks are left out.
///
/// Successor pieces at or below `tolerance_m2` are ignored (boolean operations
/// leave slivers along shared edges).
pub fn diff_generations(
    previous: &BTreeMap<BlockCode, MultiPolygon<f64>>,
    next: &BTreeMap<BlockCode, MultiPolygon<f64>>,
    tolerance_m2: f64,
) -> Vec<BlockChange> {
    let next_tree = successor_tree(next);
    let mut changes = Vec::new();
    for (code, old_geometry) in previous {
        let kind = match next.get(code) {
            None => ChangeKind::Retired,
            Some(new_geometry) if !same_shape(old_geometry, new_geometry) => ChangeKind::Reshaped,
            Some(_) => continue,
        };
        changes.push(BlockChange {
            code: *code,
            kind,
            successors: successors(old_geometry, &next_tree, tolerance_m2),
        });
    }
    for code in next.keys() {
        if !previous.contains_key(code) {
            changes.push(BlockChange {
                code: *code,
                kind: ChangeKind::Created,
                successors: Vec::new(),
            });
        }
    }
    changes.sort_by_key(|change| change.code);
    changes
}

type Candidate<'a> = GeomWithData<Rectangle<[f64; 2]>, (BlockCode, &'a MultiPolygon<f64>)>;

fn successor_tree(next: &BTreeMap<BlockCode, MultiPolygon<f64>>) -> RTree<Candidate<'_>> {
    let leaves = next
        .iter()
        .filter_map(|(code, geometry)| {
            let bounds = geometry.bounding_rect()?;
            Some(GeomWithData::new(
                Rectangle::from_corners(
                    [bounds.min().x, bounds.min().y],
                    [bounds.max().x, bounds.max().y],
                ),
                (*code, geometry),
            ))
        })
        .collect();
    RTree::bulk_load(leaves)
}

fn successors(
    old_geometry: &MultiPolygon<f64>,
    next_tree: &RTree<Candidate<'_>>,
    tolerance_m2: f64,
) -> Vec<Successor> {
    let Some(bounds) = old_geometry.bounding_rect() else {
        return Vec::new();
    };
    let envelope = AABB::from_corners(
        [bounds.min().x, bounds.min().y],
        [bounds.max().x, bounds.max().y],
    );
    let mut found: Vec<Successor> = next_tree
        .locate_in_envelope_intersecting(&envelope)
        .filter_map(|candidate| {
            let (code, new_geometry) = candidate.data;
            let shared = area_m2(&old_geometry.intersection(new_geometry));
            (shared > tolerance_m2).then_some(Successor {
                code,
                shared_area_m2: shared,
            })
        })
        .collect();
    found.sort_by(|first, second| {
        second
            .shared_area_m2
            .partial_cmp(&first.shared_area_m2)
            .unwrap_or(Ordering::Equal)
            .then(first.code.cmp(&second.code))
    });
    found
}

/// True when two geometries have the same parts with the same rings, whatever
/// vertex each ring starts at and whatever order the parts are listed in.
pub fn same_shape(first: &MultiPolygon<f64>, second: &MultiPolygon<f64>) -> bool {
    canonical(first) == canonical(second)
}

/// Rings as vertex bit patterns, each rotated to start at its smallest vertex,
/// holes sorted within a part, parts sorted.
fn canonical(geometry: &MultiPolygon<f64>) -> Vec<Vec<Vec<(u64, u64)>>> {
    let mut parts: Vec<Vec<Vec<(u64, u64)>>> = geometry
        .0
        .iter()
        .map(|polygon| {
            let mut holes: Vec<Vec<(u64, u64)>> =
                polygon.interiors().iter().map(canonical_ring).collect();
            holes.sort();
            let mut rings = vec![canonical_ring(polygon.exterior())];
            rings.extend(holes);
            rings
        })
        .collect();
    parts.sort();
    parts
}

fn canonical_ring(ring: &LineString<f64>) -> Vec<(u64, u64)> {
    let mut coords: &[Coord<f64>] = &ring.0;
    // Drop the closing position; it repeats the first.
    if coords.len() > 1 && coords.first() == coords.last() {
        coords = &coords[..coords.len() - 1];
    }
    let key = |coord: &Coord<f64>| (coord.x.to_bits(), coord.y.to_bits());
    let start = coords
        .iter()
        .enumerate()
        .min_by(|(_, first), (_, second)| {
            first
                .x
                .total_cmp(&second.x)
                .then(first.y.total_cmp(&second.y))
        })
        .map(|(index, _)| index)
        .unwrap_or(0);
    coords[start..]
        .iter()
        .chain(&coords[..start])
        .map(key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Polygon, polygon};

    fn code(text: &str) -> BlockCode {
        BlockCode::parse(text).expect("valid code")
    }

    fn rectangle(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: x0, y: y0),
            (x: x1, y: y0),
            (x: x1, y: y1),
            (x: x0, y: y1),
            (x: x0, y: y0),
        ]])
    }

    const A: &str = "430302001001001";
    const B: &str = "430302001001002";
    const C: &str = "430302001001003";

    #[test]
    fn a_ring_starting_elsewhere_or_parts_in_another_order_is_the_same_shape() {
        let original = rectangle(0.0, 0.0, 1.0, 1.0);
        let rotated = MultiPolygon(vec![polygon![
            (x: 1.0, y: 1.0),
            (x: 0.0, y: 1.0),
            (x: 0.0, y: 0.0),
            (x: 1.0, y: 0.0),
            (x: 1.0, y: 1.0),
        ]]);
        assert!(same_shape(&original, &rotated));
        let two = |first: Polygon<f64>, second: Polygon<f64>| MultiPolygon(vec![first, second]);
        let left = rectangle(0.0, 0.0, 1.0, 1.0).0.remove(0);
        let right = rectangle(2.0, 0.0, 3.0, 1.0).0.remove(0);
        assert!(same_shape(
            &two(left.clone(), right.clone()),
            &two(right, left)
        ));
        assert!(!same_shape(&original, &rectangle(0.0, 0.0, 1.0, 1.0000001)));
    }

    #[test]
    fn a_split_block_is_reshaped_with_its_new_neighbour_as_successor_and_a_new_code_is_created() {
        let previous = BTreeMap::from([
            (code(A), rectangle(112.90, 27.80, 112.91, 27.81)),
            (code(B), rectangle(112.91, 27.80, 112.92, 27.81)),
        ]);
        // B keeps its west 40 %; C takes the east 60 %.
        let next = BTreeMap::from([
            (code(A), rectangle(112.90, 27.80, 112.91, 27.81)),
            (code(B), rectangle(112.91, 27.80, 112.914, 27.81)),
            (code(C), rectangle(112.914, 27.80, 112.92, 27.81)),
        ]);
        let changes = diff_generations(&previous, &next, 1.0);
        assert_eq!(changes.len(), 2, "A is unchanged and left out: {changes:?}");
        assert_eq!(changes[0].code, code(B));
        assert_eq!(changes[0].kind, ChangeKind::Reshaped);
        let successor_codes: Vec<BlockCode> = changes[0]
            .successors
            .iter()
            .map(|successor| successor.code)
            .collect();
        assert_eq!(
            successor_codes,
            vec![code(C), code(B)],
            "largest share first"
        );
        let total: f64 = changes[0]
            .successors
            .iter()
            .map(|successor| successor.shared_area_m2)
            .sum();
        let old_area = area_m2(&previous[&code(B)]);
        assert!((total - old_area).abs() < 1.0, "{total} vs {old_area}");
        assert_eq!(changes[1].code, code(C));
        assert_eq!(changes[1].kind, ChangeKind::Created);
        assert!(changes[1].successors.is_empty());
    }

    #[test]
    fn a_retired_block_names_the_blocks_that_took_its_land() {
        let previous = BTreeMap::from([
            (code(A), rectangle(112.90, 27.80, 112.91, 27.81)),
            (code(B), rectangle(112.91, 27.80, 112.92, 27.81)),
        ]);
        let next = BTreeMap::from([(code(A), rectangle(112.90, 27.80, 112.92, 27.81))]);
        let changes = diff_generations(&previous, &next, 1.0);
        assert_eq!(
            changes
                .iter()
                .map(|change| (change.code, change.kind))
                .collect::<Vec<_>>(),
            vec![
                (code(A), ChangeKind::Reshaped),
                (code(B), ChangeKind::Retired)
            ]
        );
        assert_eq!(changes[1].successors.len(), 1);
        assert_eq!(changes[1].successors[0].code, code(A));
    }

    #[test]
    fn identical_generations_have_no_changes() {
        let blocks = BTreeMap::from([(code(A), rectangle(0.0, 0.0, 0.001, 0.001))]);
        assert_eq!(diff_generations(&blocks, &blocks, 1.0), vec![]);
    }
}
