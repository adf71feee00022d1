//! Points as Chinese apps send them: a GCJ-02 point from a phone lands in the
//! same block as its true WGS84 position, even a few metres from a block edge.

use flatgov_demo::{DEMO_SEED, demo_data, load_demo};
use flatgov_proto::blocks::v1 as api;
use flatgov_proto::flatgov::r#type::v1::{CoordinateSystem as ProtoSystem, GeoPoint};
use flatgov_testkit::{field_violations, with_token};
use flatgov_vocabulary::CoordinateSystem;
use geo::{Coord, InteriorPoint};

use crate::common::*;

/// Metres per degree of latitude (and of longitude at the equator), for small offsets.
const METRES_PER_DEGREE: f64 = 111_195.0;

/// For every demo block, a point `metres` inside the middle of its first edge:
/// on the line from the edge's midpoint to a point inside the block.
fn points_near_edges(metres: f64) -> Vec<(String, Coord<f64>)> {
    let data = demo_data(DEMO_SEED).expect("demo");
    data.district
        .blocks
        .iter()
        .map(|block| {
            let polygon = &block.geometry.0[0];
            let ring = &polygon.exterior().0;
            let midpoint = Coord {
                x: (ring[0].x + ring[1].x) / 2.0,
                y: (ring[0].y + ring[1].y) / 2.0,
            };
            let inside = polygon.interior_point().expect("a point inside").0;
            let (east, north) = (
                (inside.x - midpoint.x) * METRES_PER_DEGREE * midpoint.y.to_radians().cos(),
                (inside.y - midpoint.y) * METRES_PER_DEGREE,
            );
            let fraction = metres / (east * east + north * north).sqrt();
            (
                block.code.to_string(),
                Coord {
                    x: midpoint.x + (inside.x - midpoint.x) * fraction,
                    y: midpoint.y + (inside.y - midpoint.y) * fraction,
                },
            )
        })
        .collect()
}

async fn locate_all(registry: &mut Registry, points: Vec<GeoPoint>) -> Vec<String> {
    let admin = registry.admin.clone();
    registry
        .client
        .locate_points(with_token(
            api::LocatePointsRequest {
                points,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect("batch")
        .into_inner()
        .locations
        .into_iter()
        .map(|location| location.block.map(|block| block.code).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn a_gcj02_point_from_a_phone_lands_in_the_block_of_its_true_position_near_edges() {
    let mut registry = Registry::start().await;
    let admin = registry.admin.clone();
    load_demo(&mut registry.client, &admin, DEMO_SEED)
        .await
        .expect("demo loads");
    let near_edges = points_near_edges(5.0);
    let expected: Vec<String> = near_edges.iter().map(|(code, _)| code.clone()).collect();

    let true_positions = near_edges
        .iter()
        .map(|(_, point)| GeoPoint {
            longitude: point.x,
            latitude: point.y,
            coordinate_system: ProtoSystem::Unspecified as i32,
        })
        .collect();
    assert_eq!(locate_all(&mut registry, true_positions).await, expected);

    for (system, proto_system) in [
        (CoordinateSystem::Gcj02, ProtoSystem::Gcj02),
        (CoordinateSystem::Bd09, ProtoSystem::Bd09),
    ] {
        let as_sent: Vec<(f64, f64)> = near_edges
            .iter()
            .map(|(_, point)| system.from_wgs84(point.x, point.y))
            .collect();
        let flagged = as_sent
            .iter()
            .map(|&(longitude, latitude)| GeoPoint {
                longitude,
                latitude,
                coordinate_system: proto_system as i32,
            })
            .collect();
        assert_eq!(
            locate_all(&mut registry, flagged).await,
            expected,
            "{system} points land in their true blocks"
        );

        // Read as WGS84, the same numbers miss: the offset is wider than a block.
        let unflagged = as_sent
            .iter()
            .map(|&(longitude, latitude)| GeoPoint {
                longitude,
                latitude,
                coordinate_system: ProtoSystem::Unspecified as i32,
            })
            .collect();
        let misplaced = locate_all(&mut registry, unflagged)
            .await
            .iter()
            .zip(&expected)
            .filter(|(found, wanted)| found != wanted)
            .count();
        assert!(
            misplaced * 10 > expected.len() * 9,
            "{system} read as WGS84 lands in the wrong block for most points ({misplaced} of {})",
            expected.len()
        );
    }
}

#[tokio::test]
async fn an_unknown_coordinate_system_is_named_and_nothing_is_located() {
    let mut registry = Registry::start().await;
    let admin = registry.admin.clone();
    let status = registry
        .client
        .locate_point(with_token(
            api::LocatePointRequest {
                point: Some(GeoPoint {
                    longitude: 112.93,
                    latitude: 27.86,
                    coordinate_system: 7,
                }),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, vec!["point.coordinate_system".to_owned()]);
}
