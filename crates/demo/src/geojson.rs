//! The demo's import files, in the schema the block registry's
//! `ImportBlocks` and `ImportSubdistricts` read (documented in docs/blocks.md).
//!
//! The registry's own writer (`flatgov_blocks::domain::import`) produces the
//! same text from the same data; the registry's tests compare the two, so the
//! demo's `request_id` digest (computed over this text) stays the same across
//! releases and a rerun never drafts a second generation.

use geo::{MultiPolygon, Polygon};
use serde_json::{Map, Value};

use crate::synthetic::{DemoBlock, DemoBoundary};

/// GeoJSON for blocks: properties `code`, `name`, `households` and, when known, `community_name`.
pub fn blocks_to_geojson(blocks: &[DemoBlock]) -> geojson::FeatureCollection {
    let features = blocks
        .iter()
        .map(|block| {
            let mut properties = Map::new();
            properties.insert("code".into(), Value::String(block.code.to_string()));
            properties.insert("name".into(), Value::String(block.name.clone()));
            properties.insert("households".into(), Value::from(block.households));
            if let Some(community_name) = &block.community_name {
                properties.insert(
                    "community_name".into(),
                    Value::String(community_name.clone()),
                );
            }
            feature(properties, &block.geometry)
        })
        .collect();
    collection(features)
}

/// GeoJSON for subdistrict boundaries: properties `code`, `name` and, when known, `name_en`.
pub fn subdistricts_to_geojson(subdistricts: &[DemoBoundary]) -> geojson::FeatureCollection {
    let features = subdistricts
        .iter()
        .map(|subdistrict| {
            let mut properties = Map::new();
            properties.insert("code".into(), Value::String(subdistrict.code.to_string()));
            properties.insert("name".into(), Value::String(subdistrict.name.clone()));
            if let Some(name_en) = &subdistrict.name_en {
                properties.insert("name_en".into(), Value::String(name_en.clone()));
            }
            feature(properties, &subdistrict.geometry)
        })
        .collect();
    collection(features)
}

fn collection(features: Vec<geojson::Feature>) -> geojson::FeatureCollection {
    geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
}

fn feature(properties: Map<String, Value>, geometry: &MultiPolygon<f64>) -> geojson::Feature {
    geojson::Feature {
        bbox: None,
        geometry: Some(to_geojson(geometry)),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }
}

/// A single polygon is written as `Polygon`, several as `MultiPolygon`.
fn to_geojson(geometry: &MultiPolygon<f64>) -> geojson::Geometry {
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
