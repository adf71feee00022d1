//! Walking GeoJSON (text or `geojson` values) into raw rings, then into
//! checked geometry.

use serde_json::Value;

use super::checks::build_multipolygon;
use super::errors::{
    Collector, GeometryErrorKind, GeometryErrors, RawPolygon, RawRing, json_type_name, member_path,
};
use geo::MultiPolygon;

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
