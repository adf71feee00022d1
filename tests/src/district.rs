//! The demo district as a journey needs it: a block's team and a point
//! that lies inside it, read through the block registry's public API.

use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;

use crate::{Platform, with_token};

/// A closed ring of lon/lat positions (first = last).
pub type Ring = Vec<[f64; 2]>;

/// A block of the loaded demo district.
#[derive(Debug, Clone)]
pub struct DemoBlock {
    /// `blocks/{code}`.
    pub name: String,
    /// 15 digits.
    pub code: String,
    pub community_code: String,
    pub subdistrict_code: String,
    /// Staff id of the governor (`demo-<code>-governor` in the demo).
    pub governor: String,
    /// Staff id of the supervisor (`demo-<code>-supervisor` in the demo).
    pub supervisor: String,
    /// The outer ring of the block's (first) polygon, lon/lat, closed.
    pub outline: Ring,
    /// A point well inside the block, confirmed by `LocatePoint`.
    pub inside: GeoPoint,
}

impl Platform {
    /// A block of the active generation with its team and a point inside
    /// it; panics when the registry does not place that point in the block.
    pub async fn demo_block(&self, code: &str) -> DemoBlock {
        let block = self
            .blocks()
            .get_block(with_token(
                blocks::GetBlockRequest {
                    name: format!("blocks/{code}"),
                    view: blocks::BlockView::Full as i32,
                    ..Default::default()
                },
                &self.admin(),
            ))
            .await
            .unwrap_or_else(|status| panic!("GetBlock {code}: {status}"))
            .into_inner();
        let outline = outer_ring(&block.geometry_geojson)
            .unwrap_or_else(|| panic!("block {code} has no polygon: {}", block.geometry_geojson));
        let [longitude, latitude] = interior_point(&outline);
        let inside = GeoPoint {
            longitude,
            latitude,
            ..Default::default()
        };
        self.assert_located(&inside, code).await;
        let team = block.team.unwrap_or_default();
        DemoBlock {
            name: block.name,
            code: block.code,
            community_code: block.community_code,
            subdistrict_code: block.subdistrict_code,
            governor: team.governor,
            supervisor: team.supervisor,
            outline,
            inside,
        }
    }

    /// The codes of the active generation's blocks under `parent`
    /// (`subdistricts/…`, `communities/…`), in the registry's order.
    pub async fn block_codes(&self, parent: &str) -> Vec<String> {
        let mut codes = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .blocks()
                .list_blocks(with_token(
                    blocks::ListBlocksRequest {
                        parent: parent.to_owned(),
                        page_size: 500,
                        page_token: page_token.clone(),
                        ..Default::default()
                    },
                    &self.admin(),
                ))
                .await
                .unwrap_or_else(|status| panic!("ListBlocks {parent}: {status}"))
                .into_inner();
            codes.extend(page.blocks.into_iter().map(|block| block.code));
            if page.next_page_token.is_empty() {
                return codes;
            }
            page_token = page.next_page_token;
        }
    }

    /// Panics unless the registry places `point` in block `code` now.
    pub async fn assert_located(&self, point: &GeoPoint, code: &str) {
        let located = self
            .blocks()
            .locate_point(with_token(
                blocks::LocatePointRequest {
                    point: Some(*point),
                    ..Default::default()
                },
                &self.admin(),
            ))
            .await
            .unwrap_or_else(|status| panic!("LocatePoint {point:?}: {status}"))
            .into_inner()
            .block
            .unwrap_or_default();
        assert_eq!(
            located.code, code,
            "the point {point:?} chosen inside block {code} is located elsewhere"
        );
    }
}

/// The outer ring of a GeoJSON Polygon, or of a MultiPolygon's first
/// polygon, as lon/lat pairs.
pub fn outer_ring(geometry_geojson: &str) -> Option<Ring> {
    let geometry: serde_json::Value = serde_json::from_str(geometry_geojson).ok()?;
    let coordinates = geometry.get("coordinates")?;
    let ring = match geometry.get("type")?.as_str()? {
        "Polygon" => coordinates.get(0)?,
        "MultiPolygon" => coordinates.get(0)?.get(0)?,
        _ => return None,
    };
    ring.as_array()?
        .iter()
        .map(|position| Some([position.get(0)?.as_f64()?, position.get(1)?.as_f64()?]))
        .collect()
}

/// Whether `point` lies strictly inside the closed `ring` (even-odd rule).
pub fn contains(ring: &[[f64; 2]], point: [f64; 2]) -> bool {
    let [x, y] = point;
    let mut inside = false;
    for edge in ring.windows(2) {
        let ([x1, y1], [x2, y2]) = (edge[0], edge[1]);
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
    }
    inside
}

/// The distance (in degrees) from `point` to the nearest edge of `ring`.
fn distance_to_edges(ring: &[[f64; 2]], point: [f64; 2]) -> f64 {
    ring.windows(2)
        .map(|edge| {
            let ([x1, y1], [x2, y2]) = (edge[0], edge[1]);
            let (dx, dy) = (x2 - x1, y2 - y1);
            let length_squared = dx * dx + dy * dy;
            let along = if length_squared == 0.0 {
                0.0
            } else {
                (((point[0] - x1) * dx + (point[1] - y1) * dy) / length_squared).clamp(0.0, 1.0)
            };
            let (nearest_x, nearest_y) = (x1 + along * dx, y1 + along * dy);
            ((point[0] - nearest_x).powi(2) + (point[1] - nearest_y).powi(2)).sqrt()
        })
        .fold(f64::INFINITY, f64::min)
}

/// A point inside `ring`, as far from its edges as a 24 × 24 grid over its
/// bounding box finds: never on a shared edge, so the lookup is unambiguous.
pub fn interior_point(ring: &[[f64; 2]]) -> [f64; 2] {
    const STEPS: usize = 24;
    let (mut west, mut south, mut east, mut north) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for [x, y] in ring {
        west = west.min(*x);
        east = east.max(*x);
        south = south.min(*y);
        north = north.max(*y);
    }
    let mut best: Option<([f64; 2], f64)> = None;
    for column in 1..STEPS {
        for row in 1..STEPS {
            let candidate = [
                west + (east - west) * column as f64 / STEPS as f64,
                south + (north - south) * row as f64 / STEPS as f64,
            ];
            if !contains(ring, candidate) {
                continue;
            }
            let clearance = distance_to_edges(ring, candidate);
            if best.is_none_or(|(_, best_clearance)| clearance > best_clearance) {
                best = Some((candidate, clearance));
            }
        }
    }
    best.map(|(point, _)| point)
        .unwrap_or_else(|| panic!("no point of a 24x24 grid lies inside the ring {ring:?}"))
}

/// Splits a quadrilateral (a closed ring of four corners) in two by joining
/// the midpoints of its first and third edges. Both halves keep the ring's
/// orientation and together cover exactly the quadrilateral.
pub fn split_quadrilateral(ring: &[[f64; 2]]) -> Option<(Ring, Ring)> {
    if ring.len() != 5 || ring[0] != ring[4] {
        return None;
    }
    let midpoint = |a: [f64; 2], b: [f64; 2]| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let first_middle = midpoint(ring[0], ring[1]);
    let third_middle = midpoint(ring[2], ring[3]);
    let first_half = vec![ring[0], first_middle, third_middle, ring[3], ring[0]];
    let second_half = vec![first_middle, ring[1], ring[2], third_middle, first_middle];
    Some((first_half, second_half))
}

/// The area of a closed ring (shoelace formula, in square degrees).
pub fn ring_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|edge| edge[0][0] * edge[1][1] - edge[1][0] * edge[0][1])
        .sum::<f64>()
        .abs()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skewed_quadrilateral() -> Vec<[f64; 2]> {
        vec![
            [112.90, 27.85],
            [112.91, 27.851],
            [112.912, 27.86],
            [112.899, 27.859],
            [112.90, 27.85],
        ]
    }

    #[test]
    fn the_outer_ring_of_a_polygon_or_multipolygon_is_read_as_lon_lat_pairs() {
        let polygon = r#"{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]}"#;
        let multi = r#"{"type":"MultiPolygon","coordinates":[[[[1,2],[3,2],[3,4],[1,2]]]]}"#;
        let expected = vec![[1.0, 2.0], [3.0, 2.0], [3.0, 4.0], [1.0, 2.0]];
        assert_eq!(outer_ring(polygon), Some(expected.clone()));
        assert_eq!(outer_ring(multi), Some(expected));
        assert_eq!(outer_ring(r#"{"type":"Point","coordinates":[1,2]}"#), None);
        assert_eq!(outer_ring("not json"), None);
    }

    #[test]
    fn an_interior_point_lies_inside_and_away_from_every_edge() {
        let ring = skewed_quadrilateral();
        let point = interior_point(&ring);
        assert!(contains(&ring, point));
        assert!(distance_to_edges(&ring, point) > 0.003);
    }

    #[test]
    fn an_interior_point_of_a_concave_ring_avoids_the_notch() {
        // A "U": the centre of its bounding box lies in the notch.
        let ring = vec![
            [0.0, 0.0],
            [3.0, 0.0],
            [3.0, 3.0],
            [2.0, 3.0],
            [2.0, 1.0],
            [1.0, 1.0],
            [1.0, 3.0],
            [0.0, 3.0],
            [0.0, 0.0],
        ];
        assert!(!contains(&ring, [1.5, 2.0]));
        assert!(contains(&ring, interior_point(&ring)));
    }

    #[test]
    fn a_point_outside_a_ring_is_not_contained() {
        let ring = skewed_quadrilateral();
        assert!(!contains(&ring, [112.95, 27.855]));
        assert!(!contains(&ring, [112.905, 27.80]));
    }

    #[test]
    fn the_halves_of_a_split_quadrilateral_cover_it_exactly_without_overlap() {
        let ring = skewed_quadrilateral();
        let (first, second) = split_quadrilateral(&ring).unwrap();
        let total = ring_area(&ring);
        let halves = ring_area(&first) + ring_area(&second);
        assert!((total - halves).abs() < total * 1e-6, "{total} vs {halves}");
        let first_point = interior_point(&first);
        let second_point = interior_point(&second);
        assert!(contains(&ring, first_point) && !contains(&second, first_point));
        assert!(contains(&ring, second_point) && !contains(&first, second_point));
    }

    #[test]
    fn only_a_closed_ring_of_four_corners_is_split() {
        let mut open = skewed_quadrilateral();
        open.pop();
        assert!(split_quadrilateral(&open).is_none());
        let pentagon = vec![
            [0.0, 0.0],
            [2.0, 0.0],
            [3.0, 1.0],
            [1.0, 2.0],
            [0.0, 1.0],
            [0.0, 0.0],
        ];
        assert!(split_quadrilateral(&pentagon).is_none());
    }
}
