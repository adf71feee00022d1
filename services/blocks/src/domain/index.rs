//! The in-memory point → block lookup.
//!
//! [`BlockIndex`] bulk-loads one R-tree entry per polygon part (its bounding box)
//! and answers [`BlockIndex::locate`] by testing the few parts whose boxes hold the
//! point with an exact point-in-polygon test (`geo`'s winding number with robust
//! orientation predicates, so a point on an edge is recognised as on it, never
//! "nearly" on it).
//!
//! # Which block a point is in
//!
//! A point belongs to every block whose *closed* polygon holds it: interior or
//! boundary, minus hole interiors (a hole's own boundary still belongs to the
//! block). When several blocks qualify — the point lies on a shared edge or
//! vertex, or blocks overlap — the answer is **the lowest block code among them**.
//! The rule depends only on the geometry and the codes, not on insertion or tree
//! order, so a point resolves to the same block every time, after every rebuild,
//! and PostGIS reproduces it with `ST_Intersects(...) ORDER BY code LIMIT 1`.
//! A point in no closed polygon, or with a non-finite coordinate, gives `None`.

use std::collections::HashSet;
use std::ops::ControlFlow;

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RStarInsertionStrategy, RTree, RTreeParams};

use flatgov_vocabulary::BlockCode;

/// Why an index cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Two entries share a code; the lookup would be ambiguous.
    #[error("block {code} appears more than once in the index input")]
    DuplicateCode {
        /// The repeated code.
        code: BlockCode,
    },
    /// More than 4,294,967,295 vertices or rings: offsets are stored as `u32` to keep entries small.
    #[error("the index input has more than 4294967295 vertices or rings")]
    TooLarge,
}

/// Wider nodes than rstar's default (6): a bulk-loaded tree over a million parts is
/// 5 levels deep instead of 8, and each level's children are scanned from one
/// contiguous array, so a cold lookup waits on fewer cache misses.
struct WideNodes;

impl RTreeParams for WideNodes {
    const MIN_SIZE: usize = 6;
    const MAX_SIZE: usize = 16;
    const REINSERTION_COUNT: usize = 4;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// What a tree leaf knows about one polygon part: enough to answer without
/// touching any other table except the part's own vertices.
#[derive(Debug, Clone, Copy)]
struct PartRef {
    /// The owning block's code, compared directly for the lowest-code rule.
    code: BlockCode,
    /// `coords[exterior_start..exterior_end]` is the closed exterior ring.
    exterior_start: u32,
    /// End (exclusive) of the exterior ring.
    exterior_end: u32,
    /// `holes[first_hole..first_hole + hole_count]` are the part's holes.
    first_hole: u32,
    /// Number of holes (almost always 0).
    hole_count: u32,
}

type Leaf = GeomWithData<Rectangle<[f64; 2]>, PartRef>;

/// An immutable point → block index over one boundary generation.
pub struct BlockIndex {
    /// Number of distinct blocks given to `build`.
    block_count: usize,
    /// Every ring's vertices, back to back; parts and holes refer to ranges.
    coords: Vec<Coord<f64>>,
    /// `(start, end)` ranges of hole rings in `coords`.
    holes: Vec<(u32, u32)>,
    /// Bounding boxes of the parts, each carrying its `PartRef`.
    tree: RTree<Leaf, WideNodes>,
}

impl std::fmt::Debug for BlockIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BlockIndex")
            .field("blocks", &self.block_count)
            .field("parts", &self.tree.size())
            .field("vertices", &self.coords.len())
            .finish()
    }
}

fn offset(value: usize) -> Result<u32, IndexError> {
    u32::try_from(value).map_err(|_| IndexError::TooLarge)
}

impl BlockIndex {
    /// Builds the index from `(code, geometry)` pairs, in any order.
    ///
    /// Empty geometries are kept (the code counts in [`len`](Self::len)) but can
    /// never be found. Fails on a repeated code.
    pub fn build(
        blocks: impl IntoIterator<Item = (BlockCode, MultiPolygon<f64>)>,
    ) -> Result<Self, IndexError> {
        let mut seen = HashSet::new();
        let mut coords = Vec::new();
        let mut holes = Vec::new();
        let mut leaves = Vec::new();
        for (code, geometry) in blocks {
            if !seen.insert(code) {
                return Err(IndexError::DuplicateCode { code });
            }
            for polygon in geometry.0 {
                let Some(bounds) = polygon.bounding_rect() else {
                    continue;
                };
                let exterior_start = offset(coords.len())?;
                coords.extend_from_slice(&polygon.exterior().0);
                let exterior_end = offset(coords.len())?;
                let first_hole = offset(holes.len())?;
                for hole in polygon.interiors() {
                    let start = offset(coords.len())?;
                    coords.extend_from_slice(&hole.0);
                    holes.push((start, offset(coords.len())?));
                }
                let hole_count = offset(polygon.interiors().len())?;
                let part = PartRef {
                    code,
                    exterior_start,
                    exterior_end,
                    first_hole,
                    hole_count,
                };
                let rectangle = Rectangle::from_corners(
                    [bounds.min().x, bounds.min().y],
                    [bounds.max().x, bounds.max().y],
                );
                leaves.push(GeomWithData::new(rectangle, part));
            }
        }
        let tree = RTree::bulk_load_with_params(leaves);
        Ok(Self {
            block_count: seen.len(),
            coords,
            holes,
            tree,
        })
    }

    /// The block holding the point (`lon`, `lat` in WGS84 degrees), by the rule in the module docs.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&BlockCode> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let point = Coord { x: lon, y: lat };
        let mut best: Option<&BlockCode> = None;
        let _: ControlFlow<()> = self.tree.locate_all_at_point_int(&[lon, lat], |leaf| {
            let part = &leaf.data;
            // Skip the exact test when it cannot change the answer.
            if best.is_some_and(|current| *current <= part.code) {
                return ControlFlow::Continue(());
            }
            if self.part_holds(part, point) {
                best = Some(&part.code);
            }
            ControlFlow::Continue(())
        });
        best
    }

    /// [`locate`](Self::locate) for many points, answers in the same order.
    pub fn locate_many(&self, points: &[(f64, f64)]) -> Vec<Option<&BlockCode>> {
        points
            .iter()
            .map(|&(lon, lat)| self.locate(lon, lat))
            .collect()
    }

    /// Number of blocks indexed.
    pub fn len(&self) -> usize {
        self.block_count
    }

    /// True when no block is indexed.
    pub fn is_empty(&self) -> bool {
        self.block_count == 0
    }

    /// True when the part's closed polygon holds the point: in or on the exterior,
    /// and not strictly inside a hole (a hole's rim belongs to the part).
    fn part_holds(&self, part: &PartRef, point: Coord<f64>) -> bool {
        let exterior = &self.coords[part.exterior_start as usize..part.exterior_end as usize];
        match position_in_ring(point, exterior) {
            RingPosition::Outside => false,
            RingPosition::OnBoundary => true,
            RingPosition::Inside => {
                let first = part.first_hole as usize;
                self.holes[first..first + part.hole_count as usize]
                    .iter()
                    .all(|&(start, end)| {
                        position_in_ring(point, &self.coords[start as usize..end as usize])
                            != RingPosition::Inside
                    })
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingPosition {
    Inside,
    OnBoundary,
    Outside,
}

/// Winding-number position of `point` relative to a closed ring, with robust
/// orientation tests: the same algorithm and edge rules as
/// `geo::coordinate_position::coord_pos_relative_to_ring`, on a slice so the
/// index can keep all vertices in one array.
fn position_in_ring(point: Coord<f64>, ring: &[Coord<f64>]) -> RingPosition {
    let between = |value: f64, bound_1: f64, bound_2: f64| {
        if bound_1 < bound_2 {
            bound_1 <= value && value <= bound_2
        } else {
            bound_2 <= value && value <= bound_1
        }
    };
    let mut winding_number = 0_i32;
    for edge in ring.windows(2) {
        let (start, end) = (edge[0], edge[1]);
        // An upward edge includes its start and excludes its end, a downward edge the
        // reverse; horizontal edges only matter when the point lies on them.
        if start.y <= point.y {
            if end.y >= point.y {
                let orientation = RobustKernel::orient2d(start, end, point);
                if orientation == Orientation::CounterClockwise && end.y != point.y {
                    winding_number += 1;
                } else if orientation == Orientation::Collinear && between(point.x, start.x, end.x)
                {
                    return RingPosition::OnBoundary;
                }
            }
        } else if end.y <= point.y {
            let orientation = RobustKernel::orient2d(start, end, point);
            if orientation == Orientation::Clockwise {
                winding_number -= 1;
            } else if orientation == Orientation::Collinear && between(point.x, start.x, end.x) {
                return RingPosition::OnBoundary;
            }
        }
    }
    if winding_number == 0 {
        RingPosition::Outside
    } else {
        RingPosition::Inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::synthetic::{Bounds, SplitMix64, tiling};
    use geo::{Intersects, LineString, Polygon};

    fn code(text: &str) -> BlockCode {
        BlockCode::parse(text).expect("valid code")
    }

    fn rectangle(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            vec![],
        )])
    }

    /// Four unit squares around (1, 1), codes 001 (south-west) … 004 (north-east).
    fn four_squares() -> Vec<(BlockCode, MultiPolygon<f64>)> {
        vec![
            (code("430302001001003"), rectangle(0.0, 1.0, 1.0, 2.0)),
            (code("430302001001001"), rectangle(0.0, 0.0, 1.0, 1.0)),
            (code("430302001001004"), rectangle(1.0, 1.0, 2.0, 2.0)),
            (code("430302001001002"), rectangle(1.0, 0.0, 2.0, 1.0)),
        ]
    }

    fn located(index: &BlockIndex, lon: f64, lat: f64) -> Option<String> {
        index.locate(lon, lat).map(ToString::to_string)
    }

    #[test]
    fn an_interior_point_resolves_to_its_block() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        assert_eq!(
            located(&index, 1.5, 0.5).as_deref(),
            Some("430302001001002")
        );
        assert_eq!(
            located(&index, 0.5, 1.5).as_deref(),
            Some("430302001001003")
        );
        assert_eq!(index.len(), 4);
    }

    #[test]
    fn a_point_on_a_shared_edge_resolves_to_the_lowest_code_every_time() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        for _ in 0..3 {
            assert_eq!(
                located(&index, 1.0, 0.5).as_deref(),
                Some("430302001001001"),
                "edge between 001 and 002"
            );
            assert_eq!(
                located(&index, 1.0, 1.5).as_deref(),
                Some("430302001001003"),
                "edge between 003 and 004"
            );
            assert_eq!(
                located(&index, 1.5, 1.0).as_deref(),
                Some("430302001001002"),
                "edge between 002 and 004"
            );
        }
        let mut reversed = four_squares();
        reversed.reverse();
        let rebuilt = BlockIndex::build(reversed).expect("builds");
        assert_eq!(
            located(&rebuilt, 1.0, 0.5).as_deref(),
            Some("430302001001001"),
            "insertion order does not matter"
        );
    }

    #[test]
    fn a_vertex_shared_by_four_blocks_resolves_to_the_lowest_of_the_four() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        assert_eq!(
            located(&index, 1.0, 1.0).as_deref(),
            Some("430302001001001")
        );
        let without_lowest: Vec<_> = four_squares()
            .into_iter()
            .filter(|(block, _)| block.number() != 1)
            .collect();
        let index = BlockIndex::build(without_lowest).expect("builds");
        assert_eq!(
            located(&index, 1.0, 1.0).as_deref(),
            Some("430302001001002")
        );
    }

    #[test]
    fn a_point_on_the_outer_boundary_belongs_to_the_block() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        assert_eq!(
            located(&index, 0.0, 0.0).as_deref(),
            Some("430302001001001")
        );
        assert_eq!(
            located(&index, 2.0, 0.3).as_deref(),
            Some("430302001001002")
        );
    }

    #[test]
    fn points_outside_every_block_or_not_finite_are_not_found() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        assert_eq!(index.locate(2.000_000_1, 0.5), None);
        assert_eq!(index.locate(-5.0, -5.0), None);
        assert_eq!(index.locate(f64::NAN, 0.5), None);
        assert_eq!(index.locate(0.5, f64::INFINITY), None);
        let empty = BlockIndex::build(Vec::new()).expect("builds");
        assert!(empty.is_empty());
        assert_eq!(empty.locate(0.5, 0.5), None);
    }

    #[test]
    fn a_hole_is_not_in_its_block_but_its_rim_is_and_an_island_block_fills_it() {
        let ring = |x0: f64, y0: f64, x1: f64, y1: f64| {
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
        };
        let donut = MultiPolygon(vec![Polygon::new(
            ring(0.0, 0.0, 3.0, 3.0),
            vec![ring(1.0, 1.0, 2.0, 2.0)],
        )]);
        let index =
            BlockIndex::build(vec![(code("430302001001005"), donut.clone())]).expect("builds");
        assert_eq!(index.locate(1.5, 1.5), None, "inside the hole");
        assert_eq!(
            located(&index, 1.0, 1.5).as_deref(),
            Some("430302001001005"),
            "on the hole's rim"
        );
        assert_eq!(
            located(&index, 0.5, 0.5).as_deref(),
            Some("430302001001005")
        );
        let with_island = vec![
            (code("430302001001005"), donut),
            (code("430302001001009"), rectangle(1.0, 1.0, 2.0, 2.0)),
        ];
        let index = BlockIndex::build(with_island).expect("builds");
        assert_eq!(
            located(&index, 1.5, 1.5).as_deref(),
            Some("430302001001009")
        );
        assert_eq!(
            located(&index, 1.0, 1.5).as_deref(),
            Some("430302001001005"),
            "the rim is shared; 005 < 009"
        );
    }

    #[test]
    fn every_part_of_a_multipolygon_block_is_found() {
        let parts = MultiPolygon(vec![
            rectangle(0.0, 0.0, 1.0, 1.0).0[0].clone(),
            rectangle(5.0, 5.0, 6.0, 6.0).0[0].clone(),
        ]);
        let index = BlockIndex::build(vec![(code("430302001001001"), parts)]).expect("builds");
        assert_eq!(
            located(&index, 0.5, 0.5).as_deref(),
            Some("430302001001001")
        );
        assert_eq!(
            located(&index, 5.5, 5.5).as_deref(),
            Some("430302001001001")
        );
        assert_eq!(index.locate(3.0, 3.0), None, "between the parts");
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn a_repeated_code_is_refused() {
        let mut blocks = four_squares();
        blocks.push((code("430302001001002"), rectangle(9.0, 9.0, 10.0, 10.0)));
        assert_eq!(
            BlockIndex::build(blocks)
                .expect_err("duplicate")
                .to_string(),
            "block 430302001001002 appears more than once in the index input"
        );
    }

    #[test]
    fn the_batch_form_answers_in_order() {
        let index = BlockIndex::build(four_squares()).expect("builds");
        let answers: Vec<Option<String>> = index
            .locate_many(&[(0.5, 0.5), (9.0, 9.0), (1.5, 1.5)])
            .into_iter()
            .map(|found| found.map(ToString::to_string))
            .collect();
        assert_eq!(
            answers,
            vec![
                Some("430302001001001".into()),
                None,
                Some("430302001001004".into())
            ]
        );
    }

    /// The rule applied literally: test every block.
    fn brute_force(
        blocks: &[(BlockCode, MultiPolygon<f64>)],
        lon: f64,
        lat: f64,
    ) -> Option<BlockCode> {
        let point = Coord { x: lon, y: lat };
        blocks
            .iter()
            .filter(|(_, geometry)| geometry.intersects(&point))
            .map(|(code, _)| *code)
            .min()
    }

    #[test]
    fn lookups_agree_with_brute_force_on_random_points_vertices_and_edge_midpoints() {
        let bounds = Bounds::around_xiangtan(400);
        let made = tiling(3, 400, bounds).expect("tiling");
        let index = BlockIndex::build(made.blocks.clone()).expect("builds");
        let mut random = SplitMix64::new(99);
        let margin = 0.01;
        let mut points: Vec<(f64, f64)> = (0..5_000)
            .map(|_| {
                (
                    random.range_f64(bounds.west - margin, bounds.east + margin),
                    random.range_f64(bounds.south - margin, bounds.north + margin),
                )
            })
            .collect();
        // Every shared vertex, and every edge midpoint (which may round off the edge: the
        // rule must still agree, whatever side it lands on).
        for (_, geometry) in &made.blocks {
            for line in geometry.0[0].exterior().lines() {
                points.push((line.start.x, line.start.y));
                points.push((
                    (line.start.x + line.end.x) / 2.0,
                    (line.start.y + line.end.y) / 2.0,
                ));
            }
        }
        let mut outside = 0;
        for (lon, lat) in points {
            let expected = brute_force(&made.blocks, lon, lat);
            outside += usize::from(expected.is_none());
            assert_eq!(
                index.locate(lon, lat).copied(),
                expected,
                "point ({lon}, {lat})"
            );
        }
        assert!(
            outside > 100,
            "the sample includes points outside the tiling"
        );
    }

    #[test]
    fn inside_a_tiling_every_point_is_found() {
        let bounds = Bounds::around_xiangtan(1_000);
        let index =
            BlockIndex::build(tiling(4, 1_000, bounds).expect("tiling").blocks).expect("builds");
        let mut random = SplitMix64::new(5);
        for _ in 0..5_000 {
            let (lon, lat) = (
                random.range_f64(bounds.west, bounds.east),
                random.range_f64(bounds.south, bounds.north),
            );
            assert!(
                index.locate(lon, lat).is_some(),
                "({lon}, {lat}) fell into a gap"
            );
        }
    }
}
