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

use geo::{BoundingRect, Coord, Intersects, MultiPolygon, Polygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use super::codes::BlockCode;

/// Why an index cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Two entries share a code; the lookup would be ambiguous.
    #[error("block {code} appears more than once in the index input")]
    DuplicateCode {
        /// The repeated code.
        code: BlockCode,
    },
}

/// One polygon part of a block, the unit the R-tree points at.
#[derive(Debug)]
struct Part {
    /// Position of the owning block in `BlockIndex::codes`.
    block: u32,
    /// The part's closed polygon, tested exactly.
    polygon: Polygon<f64>,
}

/// An immutable point → block index over one boundary generation.
#[derive(Debug)]
pub struct BlockIndex {
    /// Block codes; parts refer to them by position.
    codes: Vec<BlockCode>,
    /// Every polygon part of every block.
    parts: Vec<Part>,
    /// Bounding boxes of `parts`, carrying the part's position.
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
}

impl BlockIndex {
    /// Builds the index from `(code, geometry)` pairs, in any order.
    ///
    /// Empty geometries are kept (the code counts in [`len`](Self::len)) but can
    /// never be found. Fails on a repeated code.
    pub fn build(
        blocks: impl IntoIterator<Item = (BlockCode, MultiPolygon<f64>)>,
    ) -> Result<Self, IndexError> {
        let mut codes = Vec::new();
        let mut parts = Vec::new();
        let mut seen = HashSet::new();
        for (code, geometry) in blocks {
            if !seen.insert(code) {
                return Err(IndexError::DuplicateCode { code });
            }
            let block = codes.len() as u32;
            codes.push(code);
            parts.extend(
                geometry
                    .0
                    .into_iter()
                    .map(|polygon| Part { block, polygon }),
            );
        }
        let entries: Vec<GeomWithData<Rectangle<[f64; 2]>, u32>> = parts
            .iter()
            .enumerate()
            .filter_map(|(position, part)| {
                let bounds = part.polygon.bounding_rect()?;
                let rectangle = Rectangle::from_corners(
                    [bounds.min().x, bounds.min().y],
                    [bounds.max().x, bounds.max().y],
                );
                Some(GeomWithData::new(rectangle, position as u32))
            })
            .collect();
        let tree = RTree::bulk_load(entries);
        Ok(Self { codes, parts, tree })
    }

    /// The block holding the point (`lon`, `lat` in WGS84 degrees), by the rule in the module docs.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&BlockCode> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let point = Coord { x: lon, y: lat };
        let mut best: Option<&BlockCode> = None;
        for entry in self.tree.locate_all_at_point(&[lon, lat]) {
            let part = &self.parts[entry.data as usize];
            let code = &self.codes[part.block as usize];
            // Skip the exact test when it cannot change the answer.
            if best.is_some_and(|current| current <= code) {
                continue;
            }
            if part.polygon.intersects(&point) {
                best = Some(code);
            }
        }
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
        self.codes.len()
    }

    /// True when no block is indexed.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::synthetic::{Bounds, SplitMix64, tiling};
    use geo::LineString;

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
