//! Boundary files as surveying offices deliver them — GeoJSON, Shapefile
//! (`.shp` with its `.dbf`, `.prj` and optional `.cpg`) and GeoPackage — read
//! into the GeoJSON FeatureCollection the block registry imports.
//!
//! The coordinate reference system is checked before anything is sent:
//! WGS84 (EPSG:4326, OGC CRS84) and CGCS2000 (EPSG:4490) are accepted (they
//! agree to within centimetres); anything else — a projected Gauss–Krüger
//! zone, Web Mercator, Xi'an 1980, Beijing 1954 — is refused with a message
//! naming the system found, since reading it as degrees would put the
//! blocks somewhere else. The registry checks a GeoJSON file's `crs` member
//! again on its side.
//!
//! Attribute names in Shapefiles and GeoPackages follow the offices' habits
//! (`CODE`, `编码`, `区块编码`, `HOUSEHOLDS`, `户数`, …): they are mapped to the
//! registry's property names (`code`, `name`, `name_en`, `households`,
//! `community_name`); others pass through and are ignored by the registry.

use std::path::Path;

use anyhow::Context as _;
use serde_json::{Map, Value, json};

use crate::labels::{self, Language};

/// Whether a file is a boundary layer (rather than a table), by extension.
pub fn is_boundary_file(file: &Path) -> bool {
    matches!(
        extension(file).as_str(),
        "geojson" | "json" | "shp" | "gpkg"
    )
}

fn extension(file: &Path) -> String {
    file.extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// The layer as GeoJSON text, after its CRS has been checked.
pub fn read_layer(file: &Path) -> anyhow::Result<String> {
    match extension(file).as_str() {
        "geojson" | "json" => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if let Ok(document) = serde_json::from_str::<Value>(&text)
                && let Some(name) = document
                    .get("crs")
                    .and_then(|crs| crs.get("properties"))
                    .and_then(|properties| properties.get("name"))
                    .and_then(Value::as_str)
                && !epsg_name_is_accepted(name)
            {
                return Err(refused(file, name));
            }
            Ok(text)
        }
        "shp" => read_shapefile(file),
        "gpkg" => read_geopackage(file),
        _ => anyhow::bail!(
            "{}: name the file .geojson, .shp or .gpkg so its format is known",
            file.display()
        ),
    }
}

/// Features in a FeatureCollection's text (0 when it is not one).
pub fn feature_count(geojson: &str) -> usize {
    serde_json::from_str::<Value>(geojson)
        .ok()
        .and_then(|document| {
            document
                .get("features")
                .and_then(Value::as_array)
                .map(Vec::len)
        })
        .unwrap_or(0)
}

/// The `code` property of every feature, as text.
pub fn codes(geojson: &str) -> Vec<String> {
    let Ok(document) = serde_json::from_str::<Value>(geojson) else {
        return Vec::new();
    };
    document
        .get("features")
        .and_then(Value::as_array)
        .map(|features| {
            features
                .iter()
                .filter_map(|feature| {
                    feature
                        .get("properties")
                        .and_then(|properties| properties.get("code"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn refused(file: &Path, crs: &str) -> anyhow::Error {
    match labels::current() {
        Language::ZhCn => anyhow::anyhow!(
            "{} 的坐标系是 {crs}；只接受 WGS84（EPSG:4326）或 CGCS2000（EPSG:4490）经纬度坐标：请先转换坐标系（例如 ogr2ogr -t_srs EPSG:4490）再导入",
            file.display()
        ),
        Language::En => anyhow::anyhow!(
            "{}: its coordinate reference system is {crs}; only WGS84 (EPSG:4326) or CGCS2000 (EPSG:4490) longitude/latitude is accepted: reproject it first (e.g. ogr2ogr -t_srs EPSG:4490)",
            file.display()
        ),
    }
}

/// `EPSG:4490`, `urn:ogc:def:crs:EPSG::4326`, `…OGC:1.3:CRS84`.
fn epsg_name_is_accepted(name: &str) -> bool {
    let upper = name.trim().to_ascii_uppercase();
    if upper.ends_with("CRS84") {
        return true;
    }
    let code = upper
        .rsplit(|character: char| !character.is_ascii_digit())
        .next()
        .unwrap_or_default();
    upper.contains("EPSG") && matches!(code, "4326" | "4490")
}

/// A `.prj` (ESRI WKT) names an accepted CRS; otherwise the name it gives.
fn wkt_crs(wkt: &str) -> Result<(), String> {
    let trimmed = wkt.trim();
    let keyword: String = trimmed
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    let name = trimmed.split('"').nth(1).unwrap_or(trimmed).to_owned();
    let geographic = matches!(
        keyword.as_str(),
        "GEOGCS" | "GEOGCRS" | "GEODCRS" | "GEOGRAPHICCRS"
    );
    if !geographic {
        return Err(name);
    }
    let squeezed: String = trimmed
        .to_ascii_uppercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let accepted = [
        "WGS84",
        "WGS1984",
        "CGCS2000",
        "CHINA2000",
        "CHINAGEODETICCOORDINATESYSTEM2000",
    ]
    .iter()
    .any(|pattern| squeezed.contains(pattern))
        && !squeezed.contains("XIAN1980")
        && !squeezed.contains("BEIJING1954");
    if accepted { Ok(()) } else { Err(name) }
}

/// The registry's property for an attribute name as offices write it.
fn property_name(attribute: &str) -> String {
    let lower = attribute.trim().to_lowercase();
    let canonical = match lower.as_str() {
        "code" | "编码" | "区块编码" | "街道编码" | "block_code" | "blockcode" => "code",
        "name" | "名称" | "区块名称" | "街道名称" => "name",
        "name_en" | "英文名称" | "nameen" => "name_en",
        "households" | "户数" | "househol" | "hh" => "households",
        "community_name" | "community_" | "comm_name" | "社区名称" | "所属社区" => {
            "community_name"
        }
        _ => return attribute.to_owned(),
    };
    canonical.to_owned()
}

/// A property value: codes as text (a number would lose leading zeros and
/// be refused), whole numbers as integers.
fn property_value(name: &str, value: Value) -> Value {
    match (name, &value) {
        ("code", Value::Number(number)) => number
            .as_f64()
            .filter(|number| number.fract() == 0.0)
            .map_or(value.clone(), |number| {
                Value::String(format!("{number:.0}"))
            }),
        ("households", Value::Number(number)) => number
            .as_f64()
            .filter(|number| number.fract() == 0.0 && *number >= 0.0)
            .map_or(value.clone(), |number| json!(number as u64)),
        ("households", Value::String(text)) => text
            .trim()
            .parse::<u64>()
            .map_or(value.clone(), |number| json!(number)),
        _ => value,
    }
}

fn feature(properties: Map<String, Value>, polygons: Vec<Vec<Vec<[f64; 2]>>>) -> Value {
    json!({
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "MultiPolygon", "coordinates": polygons},
    })
}

fn collection(features: Vec<Value>, crs: &str) -> String {
    json!({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": crs}},
        "features": features,
    })
    .to_string()
}

/// Twice the signed area: positive for a counter-clockwise ring.
fn signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|pair| pair[0][0] * pair[1][1] - pair[1][0] * pair[0][1])
        .sum()
}

/// Orients rings as RFC 7946 has them: shells counter-clockwise, holes clockwise.
fn oriented(mut ring: Vec<[f64; 2]>, shell: bool) -> Vec<[f64; 2]> {
    let counter_clockwise = signed_area(&ring) > 0.0;
    if counter_clockwise != shell {
        ring.reverse();
    }
    ring
}

fn read_shapefile(file: &Path) -> anyhow::Result<String> {
    let projection = file.with_extension("prj");
    let wkt = std::fs::read_to_string(&projection).map_err(|_| match labels::current() {
        Language::ZhCn => anyhow::anyhow!(
            "{} 缺少同名的 .prj 文件，无法判断坐标系：请连同 .prj 一起提供",
            file.display()
        ),
        Language::En => anyhow::anyhow!(
            "{} has no .prj beside it, so its coordinate reference system is unknown: supply the .prj too",
            file.display()
        ),
    })?;
    wkt_crs(&wkt).map_err(|name| refused(file, &name))?;
    let crs = if wkt.to_ascii_uppercase().contains("2000") {
        "urn:ogc:def:crs:EPSG::4490"
    } else {
        "urn:ogc:def:crs:OGC:1.3:CRS84"
    };
    let mut reader = shapefile::Reader::from_path(file)
        .with_context(|| format!("cannot open {} as a Shapefile", file.display()))?;
    let mut features = Vec::new();
    for (index, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item
            .with_context(|| format!("{}: record {} is unreadable", file.display(), index + 1))?;
        let rings: Vec<(bool, Vec<[f64; 2]>)> = match shape {
            shapefile::Shape::Polygon(polygon) => polygon
                .into_inner()
                .into_iter()
                .map(|ring| ring_points(ring, |point| [point.x, point.y]))
                .collect(),
            shapefile::Shape::PolygonM(polygon) => polygon
                .into_inner()
                .into_iter()
                .map(|ring| ring_points(ring, |point| [point.x, point.y]))
                .collect(),
            shapefile::Shape::PolygonZ(polygon) => polygon
                .into_inner()
                .into_iter()
                .map(|ring| ring_points(ring, |point| [point.x, point.y]))
                .collect(),
            other => anyhow::bail!(
                "{}: record {} is a {}, not a polygon",
                file.display(),
                index + 1,
                other.shapetype()
            ),
        };
        let mut polygons: Vec<Vec<Vec<[f64; 2]>>> = Vec::new();
        for (outer, points) in rings {
            match polygons.last_mut() {
                Some(polygon) if !outer => polygon.push(oriented(points, false)),
                _ => polygons.push(vec![oriented(points, true)]),
            }
        }
        let mut properties = Map::new();
        for (attribute, value) in record {
            let name = property_name(&attribute);
            let value = property_value(&name, dbase_value(value));
            properties.insert(name, value);
        }
        features.push(feature(properties, polygons));
    }
    Ok(collection(features, crs))
}

fn ring_points<P>(
    ring: shapefile::PolygonRing<P>,
    coordinates: impl Fn(&P) -> [f64; 2],
) -> (bool, Vec<[f64; 2]>) {
    let outer = matches!(ring, shapefile::PolygonRing::Outer(_));
    (outer, ring.into_inner().iter().map(coordinates).collect())
}

fn dbase_value(value: shapefile::dbase::FieldValue) -> Value {
    use shapefile::dbase::FieldValue;
    match value {
        FieldValue::Character(text) => {
            text.map_or(Value::Null, |text| Value::String(text.trim().to_owned()))
        }
        FieldValue::Memo(text) => Value::String(text),
        FieldValue::Numeric(number) => number.map_or(Value::Null, |number| json!(number)),
        FieldValue::Float(number) => number.map_or(Value::Null, |number| json!(number)),
        FieldValue::Double(number) | FieldValue::Currency(number) => json!(number),
        FieldValue::Integer(number) => json!(number),
        FieldValue::Logical(flag) => flag.map_or(Value::Null, Value::Bool),
        FieldValue::Date(date) => date.map_or(Value::Null, |date| {
            Value::String(format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                date.month(),
                date.day()
            ))
        }),
        FieldValue::DateTime(_) => Value::Null,
    }
}

fn read_geopackage(file: &Path) -> anyhow::Result<String> {
    let connection = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} as a GeoPackage", file.display()))?;
    let layers: Vec<(String, String, i64)> = connection
        .prepare(
            "SELECT c.table_name, g.column_name, g.srs_id FROM gpkg_contents c \
             JOIN gpkg_geometry_columns g ON g.table_name = c.table_name \
             WHERE c.data_type = 'features' ORDER BY c.table_name",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()
        })
        .with_context(|| format!("{} is not a GeoPackage with feature layers", file.display()))?;
    let (table, geometry_column, srs_id) = match layers.as_slice() {
        [only] => only.clone(),
        [] => anyhow::bail!("{} has no feature layer", file.display()),
        several => anyhow::bail!(
            "{} has {} feature layers ({}); save the one to import in a GeoPackage of its own",
            file.display(),
            several.len(),
            several
                .iter()
                .map(|layer| layer.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let (srs_name, organization, coordsys_id): (String, String, i64) = connection
        .query_row(
            "SELECT srs_name, organization, organization_coordsys_id \
             FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .with_context(|| {
            format!(
                "{}: layer {table} names an unknown srs_id {srs_id}",
                file.display()
            )
        })?;
    let crs = format!("{organization}:{coordsys_id}");
    if !(organization.eq_ignore_ascii_case("EPSG") && matches!(coordsys_id, 4326 | 4490)) {
        return Err(refused(file, &format!("{srs_name} ({crs})")));
    }
    let mut statement = connection
        .prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))
        .with_context(|| format!("{}: cannot read layer {table}", file.display()))?;
    let names: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut rows = statement.query([])?;
    let mut features = Vec::new();
    while let Some(row) = rows.next()? {
        let mut properties = Map::new();
        let mut polygons = Vec::new();
        for (index, column) in names.iter().enumerate() {
            let value = row.get_ref(index)?;
            if *column == geometry_column {
                let blob = value.as_blob().with_context(|| {
                    format!(
                        "{}: feature {} has no geometry",
                        file.display(),
                        features.len() + 1
                    )
                })?;
                polygons = gpkg_polygons(blob).with_context(|| {
                    format!("{}: feature {}", file.display(), features.len() + 1)
                })?;
                continue;
            }
            let json_value = match value {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(number) => json!(number),
                rusqlite::types::ValueRef::Real(number) => json!(number),
                rusqlite::types::ValueRef::Text(text) => {
                    Value::String(String::from_utf8_lossy(text).trim().to_owned())
                }
                rusqlite::types::ValueRef::Blob(_) => continue,
            };
            let name = property_name(column);
            properties.insert(name.clone(), property_value(&name, json_value));
        }
        features.push(feature(properties, polygons));
    }
    let urn = format!("urn:ogc:def:crs:EPSG::{coordsys_id}");
    Ok(collection(features, &urn))
}

/// A GeoPackage geometry blob (header + WKB) as polygons of rings.
fn gpkg_polygons(blob: &[u8]) -> anyhow::Result<Vec<Vec<Vec<[f64; 2]>>>> {
    anyhow::ensure!(
        blob.len() >= 8 && &blob[..2] == b"GP",
        "not a GeoPackage geometry"
    );
    let flags = blob[3];
    let envelope = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        other => anyhow::bail!("unknown envelope kind {other}"),
    };
    let mut wkb = Wkb {
        bytes: &blob[8 + envelope..],
        position: 0,
    };
    wkb.polygons()
}

/// A reader of well-known binary (Polygon and MultiPolygon, 2D, Z, M, ZM,
/// ISO and EWKB flags).
struct Wkb<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Wkb<'_> {
    fn take<const N: usize>(&mut self) -> anyhow::Result<[u8; N]> {
        let end = self.position + N;
        anyhow::ensure!(end <= self.bytes.len(), "the geometry is cut short");
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.position..end]);
        self.position = end;
        Ok(out)
    }

    fn u32(&mut self, little: bool) -> anyhow::Result<u32> {
        let bytes = self.take::<4>()?;
        Ok(if little {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        })
    }

    fn f64(&mut self, little: bool) -> anyhow::Result<f64> {
        let bytes = self.take::<8>()?;
        Ok(if little {
            f64::from_le_bytes(bytes)
        } else {
            f64::from_be_bytes(bytes)
        })
    }

    /// Byte order, base type and coordinate width of the next geometry.
    fn header(&mut self) -> anyhow::Result<(bool, u32, usize)> {
        let little = self.take::<1>()?[0] == 1;
        let raw = self.u32(little)?;
        let ewkb_z = raw & 0x8000_0000 != 0;
        let ewkb_m = raw & 0x4000_0000 != 0;
        let iso = raw & 0x0FFF_FFFF;
        let base = iso % 1000;
        let dimensions = match iso / 1000 {
            1 | 2 => 3,
            3 => 4,
            _ => 2 + usize::from(ewkb_z) + usize::from(ewkb_m),
        };
        Ok((little, base, dimensions))
    }

    fn polygon_body(
        &mut self,
        little: bool,
        dimensions: usize,
    ) -> anyhow::Result<Vec<Vec<[f64; 2]>>> {
        let ring_count = self.u32(little)?;
        let mut rings = Vec::new();
        for ring_index in 0..ring_count {
            let point_count = self.u32(little)?;
            let mut ring = Vec::new();
            for _ in 0..point_count {
                let x = self.f64(little)?;
                let y = self.f64(little)?;
                for _ in 2..dimensions {
                    self.f64(little)?;
                }
                ring.push([x, y]);
            }
            rings.push(oriented(ring, ring_index == 0));
        }
        Ok(rings)
    }

    fn polygons(&mut self) -> anyhow::Result<Vec<Vec<Vec<[f64; 2]>>>> {
        let (little, base, dimensions) = self.header()?;
        match base {
            3 => Ok(vec![self.polygon_body(little, dimensions)?]),
            6 => {
                let count = self.u32(little)?;
                let mut polygons = Vec::new();
                for _ in 0..count {
                    let (inner_little, inner_base, inner_dimensions) = self.header()?;
                    anyhow::ensure!(inner_base == 3, "a MultiPolygon member is not a Polygon");
                    polygons.push(self.polygon_body(inner_little, inner_dimensions)?);
                }
                Ok(polygons)
            }
            other => {
                anyhow::bail!("the geometry is WKB type {other}, not a Polygon or MultiPolygon")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geographic_wgs84_and_cgcs2000_prj_files_are_accepted() {
        assert!(wkt_crs(r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#).is_ok());
        assert!(wkt_crs(r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4490"]]"#).is_ok());
    }

    #[test]
    fn a_projected_or_other_datum_prj_is_refused_by_name() {
        assert_eq!(
            wkt_crs(
                r#"PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000"]]]"#
            ),
            Err("CGCS2000_3_Degree_GK_CM_114E".to_owned())
        );
        assert_eq!(
            wkt_crs(
                r#"GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]]]"#
            ),
            Err("GCS_Xian_1980".to_owned())
        );
    }

    #[test]
    fn epsg_names_are_read_whichever_way_they_are_written() {
        assert!(epsg_name_is_accepted("urn:ogc:def:crs:EPSG::4490"));
        assert!(epsg_name_is_accepted("urn:ogc:def:crs:OGC:1.3:CRS84"));
        assert!(!epsg_name_is_accepted("urn:ogc:def:crs:EPSG::3857"));
    }

    #[test]
    fn office_attribute_names_become_the_registrys_properties() {
        assert_eq!(property_name("区块编码"), "code");
        assert_eq!(property_name("HOUSEHOLDS"), "households");
        assert_eq!(property_name("COMMUNITY_"), "community_name");
        assert_eq!(
            property_value("code", json!(430_302_001_001_001_u64)),
            json!("430302001001001")
        );
        assert_eq!(property_value("households", json!(352.0)), json!(352));
    }

    fn write_shapefile(directory: &Path, prj: Option<&str>) -> std::path::PathBuf {
        use shapefile::dbase::{FieldValue, Record, TableWriterBuilder};
        let file = directory.join("blocks.shp");
        let table = TableWriterBuilder::new()
            .add_character_field("CODE".try_into().expect("name"), 15)
            .add_character_field("NAME".try_into().expect("name"), 50)
            .add_numeric_field("HOUSEHOLDS".try_into().expect("name"), 10, 0);
        let mut writer = shapefile::Writer::from_path(&file, table).expect("writer");
        // A shapefile's outer ring runs clockwise.
        let polygon = shapefile::Polygon::with_rings(vec![shapefile::PolygonRing::Outer(vec![
            shapefile::Point::new(112.90, 27.85),
            shapefile::Point::new(112.90, 27.86),
            shapefile::Point::new(112.91, 27.86),
            shapefile::Point::new(112.91, 27.85),
            shapefile::Point::new(112.90, 27.85),
        ])]);
        let mut record = Record::default();
        record.insert(
            "CODE".into(),
            FieldValue::Character(Some("430302001001001".into())),
        );
        record.insert(
            "NAME".into(),
            FieldValue::Character(Some("Heping 001".into())),
        );
        record.insert("HOUSEHOLDS".into(), FieldValue::Numeric(Some(352.0)));
        writer
            .write_shape_and_record(&polygon, &record)
            .expect("a record");
        drop(writer);
        if let Some(prj) = prj {
            std::fs::write(file.with_extension("prj"), prj).expect("prj");
        }
        file
    }

    #[test]
    fn a_cgcs2000_shapefile_becomes_the_registrys_geojson() {
        let directory = tempfile::tempdir().expect("directory");
        let file = write_shapefile(
            directory.path(),
            Some(
                r#"GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
            ),
        );
        let geojson: Value =
            serde_json::from_str(&read_layer(&file).expect("reads")).expect("json");
        let feature = &geojson["features"][0];
        assert_eq!(feature["properties"]["code"], json!("430302001001001"));
        assert_eq!(feature["properties"]["households"], json!(352));
        assert_eq!(feature["properties"]["name"], json!("Heping 001"));
        let ring: Vec<[f64; 2]> =
            serde_json::from_value(feature["geometry"]["coordinates"][0][0].clone()).expect("ring");
        assert!(signed_area(&ring) > 0.0, "the shell is counter-clockwise");
        assert_eq!(
            geojson["crs"]["properties"]["name"],
            json!("urn:ogc:def:crs:EPSG::4490")
        );
    }

    #[test]
    fn a_projected_shapefile_or_one_without_prj_is_refused() {
        let directory = tempfile::tempdir().expect("directory");
        let file = write_shapefile(
            directory.path(),
            Some(
                r#"PROJCS["CGCS2000_3_Degree_GK_CM_114E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000"]]"#,
            ),
        );
        let error = read_layer(&file).expect_err("refused").to_string();
        assert!(error.contains("CGCS2000_3_Degree_GK_CM_114E"), "{error}");
        std::fs::remove_file(file.with_extension("prj")).expect("remove");
        assert!(read_layer(&file).is_err());
    }

    #[test]
    fn a_geopackage_blob_with_an_envelope_reads_as_a_polygon() {
        let mut blob = b"GP\x00\x03".to_vec(); // little-endian header, xy envelope
        blob.extend_from_slice(&4490_i32.to_le_bytes());
        blob.extend_from_slice(&[0u8; 32]);
        blob.push(1);
        blob.extend_from_slice(&3_u32.to_le_bytes());
        blob.extend_from_slice(&1_u32.to_le_bytes());
        blob.extend_from_slice(&4_u32.to_le_bytes());
        // A clockwise triangle, to be turned counter-clockwise.
        for (x, y) in [(0.0_f64, 0.0_f64), (0.0, 1.0), (1.0, 0.0), (0.0, 0.0)] {
            blob.extend_from_slice(&x.to_le_bytes());
            blob.extend_from_slice(&y.to_le_bytes());
        }
        let polygons = gpkg_polygons(&blob).expect("reads");
        assert_eq!(
            polygons,
            vec![vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]]
        );
    }
}
