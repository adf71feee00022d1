//! Importing a boundary generation: a GeoJSON FeatureCollection of blocks (and one
//! of subdistrict boundaries) parsed into drafts, with every problem collected.
//!
//! # Block features
//!
//! ```json
//! {"type": "FeatureCollection", "features": [
//!   {"type": "Feature",
//!    "properties": {"code": "430302001002017", "name": "雨湖路第017区块",
//!                   "households": 352, "community_name": "和平社区"},
//!    "geometry": {"type": "Polygon", "coordinates": [[[112.91, 27.85], ...]]}}
//! ]}
//! ```
//!
//! | property | required | rule |
//! |---|---|---|
//! | `code` | yes | a string of 15 digits, a valid [`BlockCode`] (a JSON number is refused: leading zeros and precision would be at risk) |
//! | `name` | yes | a string, a valid [`PlaceName`] (1–100 characters, no control characters) |
//! | `households` | yes | a JSON integer from 0 to 4,294,967,295 (`352.0` or `"352"` are refused) |
//! | `community_name` | no | a [`PlaceName`]: the community's name, so an import can introduce a community the registry does not know yet; `null` is the same as absent |
//!
//! Any other property is ignored: GIS tools add their own (`fid`, `OBJECTID`, styling).
//! The geometry must be a `Polygon` or `MultiPolygon` that passes [`parse_geometry`].
//!
//! # Subdistrict features
//!
//! Same envelope; properties `code` (a 9-digit [`SubdistrictCode`], required),
//! `name` (required) and `name_en` (optional English or pinyin name). The geometry is
//! the subdistrict's land, against which validation computes gaps.
//!
//! # Problems
//!
//! A collection of the wrong shape gives one problem. Otherwise every feature is
//! checked and every problem reported — missing or malformed properties, invalid
//! geometry, duplicate codes — each naming the feature index, the feature's code
//! as written (when it has one) and the JSON path of the offending field. Nothing
//! is returned unless everything is sound, so a rejected import changes nothing.

use std::collections::HashMap;
use std::fmt;

use geo::MultiPolygon;
use serde_json::{Map, Value};

use super::geometry::{json_type_name, parse_geometry, to_geojson};
use super::names::PlaceName;
use flatgov_vocabulary::{BlockCode, SubdistrictCode};

/// A block as drafted for a new boundary generation: sound, but not yet validated against its neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockDraft {
    /// The block's stable 15-digit code; its prefix names the community and subdistrict.
    pub code: BlockCode,
    /// Display name, e.g. `雨湖路第017区块`.
    pub name: PlaceName,
    /// Households living in the block; the flattening reform targets about 350.
    pub households: u32,
    /// Name of the block's community, when the import file gives one.
    pub community_name: Option<PlaceName>,
    /// The block's land, WGS84 lon/lat, shells counter-clockwise.
    pub geometry: MultiPolygon<f64>,
}

/// A subdistrict's land: what its blocks must cover exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct SubdistrictBoundary {
    /// The 9-digit subdistrict code.
    pub code: SubdistrictCode,
    /// Display name, e.g. `雨湖路街道`.
    pub name: PlaceName,
    /// English or pinyin name for English-language screens, e.g. `Yuhulu Subdistrict`.
    pub name_en: Option<PlaceName>,
    /// The subdistrict's land, WGS84 lon/lat, shells counter-clockwise.
    pub geometry: MultiPolygon<f64>,
}

/// One problem found in an import file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportProblem {
    /// Index of the feature in `features`, or `None` for a problem with the whole document.
    pub feature_index: Option<usize>,
    /// The feature's `code` property as written, when it is a string (even an invalid one).
    pub code: Option<String>,
    /// JSON path of the offending member, e.g. `features[3].properties.households`.
    pub field: String,
    /// A stable snake_case identifier for machines: `invalid_json`, `wrong_shape`,
    /// `missing_field`, `malformed_field`, `duplicate_code`, `unsupported_crs` (the
    /// file declares a `crs` other than WGS84 or CGCS2000), or a geometry error code
    /// such as `unclosed_ring` (see [`super::geometry::GeometryErrorKind::code`]).
    pub reason: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(
                formatter,
                "{} (code {code:?}): {}",
                self.field, self.message
            ),
            None => write!(formatter, "{}: {}", self.field, self.message),
        }
    }
}

/// Every problem in a rejected import (never empty).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("import rejected with {} problem(s): {}", problems.len(), summary(problems))]
pub struct ImportErrors {
    /// The problems, in document order.
    pub problems: Vec<ImportProblem>,
}

fn summary(problems: &[ImportProblem]) -> String {
    const SHOWN: usize = 5;
    let mut text = problems
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > SHOWN {
        text.push_str(&format!("; and {} more", problems.len() - SHOWN));
    }
    text
}

/// Parses a block FeatureCollection from JSON text.
pub fn parse_block_collection_str(text: &str) -> Result<Vec<BlockDraft>, ImportErrors> {
    parse_block_collection(&parse_json(text)?)
}

/// Parses a block FeatureCollection already held as JSON.
pub fn parse_block_collection(document: &Value) -> Result<Vec<BlockDraft>, ImportErrors> {
    let features = feature_array(document)?;
    let mut problems = Vec::new();
    let mut drafts = Vec::with_capacity(features.len());
    let mut first_use: HashMap<BlockCode, usize> = HashMap::with_capacity(features.len());
    for (feature_index, feature_value) in features.iter().enumerate() {
        let mut feature = FeatureReader::new(feature_index, feature_value, &mut problems);
        let code = feature.required_code(BlockCode::DIGITS, |text| {
            BlockCode::parse(text).map_err(|error| error.to_string())
        });
        let name = feature.required_name("name");
        let households = feature.required_households();
        let community_name = feature.optional_name("community_name");
        let geometry = feature.geometry(code);
        let (Some(code), Some(name), Some(households), Some(community_name), Some(geometry)) =
            (code, name, households, community_name, geometry)
        else {
            continue;
        };
        if let Some(first_index) = first_use.get(&code) {
            problems.push(duplicate_code_problem(
                feature_index,
                code.as_ref(),
                *first_index,
            ));
            continue;
        }
        first_use.insert(code, feature_index);
        drafts.push(BlockDraft {
            code,
            name,
            households,
            community_name,
            geometry,
        });
    }
    if problems.is_empty() {
        Ok(drafts)
    } else {
        Err(ImportErrors { problems })
    }
}

/// Parses a subdistrict-boundary FeatureCollection from JSON text.
pub fn parse_subdistrict_collection_str(
    text: &str,
) -> Result<Vec<SubdistrictBoundary>, ImportErrors> {
    parse_subdistrict_collection(&parse_json(text)?)
}

/// Parses a subdistrict-boundary FeatureCollection already held as JSON.
pub fn parse_subdistrict_collection(
    document: &Value,
) -> Result<Vec<SubdistrictBoundary>, ImportErrors> {
    let features = feature_array(document)?;
    let mut problems = Vec::new();
    let mut boundaries = Vec::with_capacity(features.len());
    let mut first_use: HashMap<SubdistrictCode, usize> = HashMap::with_capacity(features.len());
    for (feature_index, feature_value) in features.iter().enumerate() {
        let mut feature = FeatureReader::new(feature_index, feature_value, &mut problems);
        let code = feature.required_code(SubdistrictCode::DIGITS, |text| {
            SubdistrictCode::parse(text).map_err(|error| error.to_string())
        });
        let name = feature.required_name("name");
        let name_en = feature.optional_name("name_en");
        let geometry = feature.geometry(None);
        let (Some(code), Some(name), Some(name_en), Some(geometry)) =
            (code, name, name_en, geometry)
        else {
            continue;
        };
        if let Some(first_index) = first_use.get(&code) {
            problems.push(duplicate_code_problem(
                feature_index,
                code.as_ref(),
                *first_index,
            ));
            continue;
        }
        first_use.insert(code, feature_index);
        boundaries.push(SubdistrictBoundary {
            code,
            name,
            name_en,
            geometry,
        });
    }
    if problems.is_empty() {
        Ok(boundaries)
    } else {
        Err(ImportErrors { problems })
    }
}

/// GeoJSON for block drafts, in the schema [`parse_block_collection`] reads.
pub fn blocks_to_geojson(blocks: &[BlockDraft]) -> geojson::FeatureCollection {
    let features = blocks
        .iter()
        .map(|block| {
            let mut properties = Map::new();
            properties.insert("code".into(), Value::String(block.code.to_string()));
            properties.insert("name".into(), Value::String(block.name.to_string()));
            properties.insert("households".into(), Value::from(block.households));
            if let Some(community_name) = &block.community_name {
                properties.insert(
                    "community_name".into(),
                    Value::String(community_name.to_string()),
                );
            }
            feature(properties, &block.geometry)
        })
        .collect();
    geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
}

/// GeoJSON for subdistrict boundaries, in the schema [`parse_subdistrict_collection`] reads.
pub fn subdistricts_to_geojson(subdistricts: &[SubdistrictBoundary]) -> geojson::FeatureCollection {
    let features = subdistricts
        .iter()
        .map(|subdistrict| {
            let mut properties = Map::new();
            properties.insert("code".into(), Value::String(subdistrict.code.to_string()));
            properties.insert("name".into(), Value::String(subdistrict.name.to_string()));
            if let Some(name_en) = &subdistrict.name_en {
                properties.insert("name_en".into(), Value::String(name_en.to_string()));
            }
            feature(properties, &subdistrict.geometry)
        })
        .collect();
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

fn parse_json(text: &str) -> Result<Value, ImportErrors> {
    serde_json::from_str(text).map_err(|error| ImportErrors {
        problems: vec![ImportProblem {
            feature_index: None,
            code: None,
            field: String::new(),
            reason: "invalid_json",
            message: format!("not valid JSON: {error}"),
        }],
    })
}

fn document_problem(field: &str, message: String) -> ImportErrors {
    ImportErrors {
        problems: vec![ImportProblem {
            feature_index: None,
            code: None,
            field: field.to_owned(),
            reason: "wrong_shape",
            message,
        }],
    }
}

/// Checks the FeatureCollection envelope and returns its features.
fn feature_array(document: &Value) -> Result<&Vec<Value>, ImportErrors> {
    let Some(object) = document.as_object() else {
        return Err(document_problem(
            "",
            format!(
                "expected a GeoJSON FeatureCollection object, found {}",
                json_type_name(document)
            ),
        ));
    };
    match object.get("type") {
        Some(Value::String(type_name)) if type_name == "FeatureCollection" => {}
        Some(Value::String(type_name)) => {
            return Err(document_problem(
                "type",
                format!("expected \"FeatureCollection\", found {type_name:?}"),
            ));
        }
        Some(other) => {
            return Err(document_problem(
                "type",
                format!(
                    "expected the string \"FeatureCollection\", found {}",
                    json_type_name(other)
                ),
            ));
        }
        None => {
            return Err(document_problem(
                "type",
                "missing; expected \"FeatureCollection\"".to_owned(),
            ));
        }
    }
    check_crs(object.get("crs"))?;
    match object.get("features") {
        Some(Value::Array(features)) => Ok(features),
        Some(other) => Err(document_problem(
            "features",
            format!(
                "expected an array of features, found {}",
                json_type_name(other)
            ),
        )),
        None => Err(document_problem(
            "features",
            "missing; expected an array of features".to_owned(),
        )),
    }
}

/// The coordinate reference systems a file may declare: WGS84 (EPSG:4326,
/// OGC CRS84) and CGCS2000 (EPSG:4490), which agree to within centimetres —
/// far below a block's width — so both are read as they are.
const ACCEPTED_CRS: [&str; 2] = ["4326", "4490"];

/// Refuses a file whose (GeoJSON 2008) `crs` member names any other system:
/// projected coordinates (a Gauss–Krüger zone, Web Mercator) or Xi'an 1980
/// read as degrees would land the blocks somewhere else entirely. RFC 7946
/// dropped `crs`, so its absence means WGS84.
fn check_crs(crs: Option<&Value>) -> Result<(), ImportErrors> {
    let Some(crs) = crs else {
        return Ok(());
    };
    if crs.is_null() {
        return Ok(());
    }
    let named = crs
        .get("properties")
        .and_then(|properties| properties.get("name"))
        .and_then(Value::as_str);
    let Some(named) = named else {
        return Err(crs_problem(format!(
            "a coordinate reference system other than a name ({crs}) cannot be checked; \
             accepted: WGS84 (EPSG:4326, CRS84) or CGCS2000 (EPSG:4490)"
        )));
    };
    if crs_is_accepted(named) {
        return Ok(());
    }
    Err(crs_problem(format!(
        "the file's coordinate reference system is {named}; accepted: WGS84 (EPSG:4326, \
         CRS84) or CGCS2000 (EPSG:4490) in longitude/latitude degrees — reproject the file \
         (e.g. ogr2ogr -t_srs EPSG:4490) and import it again"
    )))
}

/// `EPSG:4490`, `urn:ogc:def:crs:EPSG::4326`, `urn:ogc:def:crs:OGC:1.3:CRS84`,
/// `http://www.opengis.net/def/crs/EPSG/0/4490` and the like.
fn crs_is_accepted(name: &str) -> bool {
    let name = name.trim();
    if name.to_ascii_uppercase().ends_with("CRS84") {
        return true;
    }
    let upper = name.to_ascii_uppercase();
    if !upper.contains("EPSG") {
        return false;
    }
    let code = name
        .rsplit(|character: char| !character.is_ascii_digit())
        .next()
        .unwrap_or_default();
    ACCEPTED_CRS.contains(&code)
}

fn crs_problem(message: String) -> ImportErrors {
    ImportErrors {
        problems: vec![ImportProblem {
            feature_index: None,
            code: None,
            field: "crs".to_owned(),
            reason: "unsupported_crs",
            message,
        }],
    }
}

fn duplicate_code_problem(feature_index: usize, code: &str, first_index: usize) -> ImportProblem {
    ImportProblem {
        feature_index: Some(feature_index),
        code: Some(code.to_owned()),
        field: format!("features[{feature_index}].properties.code"),
        reason: "duplicate_code",
        message: format!("code {code} is also used by features[{first_index}]"),
    }
}

/// Reads one feature's members, recording problems as it goes.
///
/// Each reader method returns `None` when its member is unusable (and a problem
/// was recorded), so a caller reads every member before deciding, and all of a
/// feature's problems are reported together.
struct FeatureReader<'a> {
    feature_index: usize,
    /// `properties` when it is an object; `None` after reporting it.
    properties: Option<&'a Map<String, Value>>,
    /// The `geometry` member when present.
    geometry: Option<&'a Value>,
    /// The `code` property as written, to name the feature in every problem.
    code_as_written: Option<String>,
    problems: &'a mut Vec<ImportProblem>,
}

impl<'a> FeatureReader<'a> {
    fn new(feature_index: usize, value: &'a Value, problems: &'a mut Vec<ImportProblem>) -> Self {
        let mut reader = Self {
            feature_index,
            properties: None,
            geometry: None,
            code_as_written: None,
            problems,
        };
        let Some(object) = value.as_object() else {
            reader.problem(
                String::new(),
                "wrong_shape",
                format!("expected a Feature object, found {}", json_type_name(value)),
            );
            return reader;
        };
        if let Some(Value::String(code)) = object
            .get("properties")
            .and_then(|properties| properties.get("code"))
        {
            reader.code_as_written = Some(code.clone());
        }
        match object.get("type") {
            Some(Value::String(type_name)) if type_name == "Feature" => {}
            Some(other) => reader.problem(
                "type".into(),
                "wrong_shape",
                format!("expected \"Feature\", found {other}"),
            ),
            None => reader.problem(
                "type".into(),
                "missing_field",
                "missing; expected \"Feature\"".into(),
            ),
        }
        match object.get("properties") {
            Some(Value::Object(properties)) => reader.properties = Some(properties),
            Some(other) => reader.problem(
                "properties".into(),
                "wrong_shape",
                format!("expected an object, found {}", json_type_name(other)),
            ),
            None => reader.problem(
                "properties".into(),
                "missing_field",
                "missing; expected an object".into(),
            ),
        }
        match object.get("geometry") {
            Some(Value::Null) | None => reader.problem(
                "geometry".into(),
                "missing_field",
                "missing; a block needs a Polygon or MultiPolygon".into(),
            ),
            Some(geometry) => reader.geometry = Some(geometry),
        }
        reader
    }

    fn path(&self, member: &str) -> String {
        if member.is_empty() {
            format!("features[{}]", self.feature_index)
        } else {
            format!("features[{}].{member}", self.feature_index)
        }
    }

    fn problem(&mut self, member: String, reason: &'static str, message: String) {
        let field = self.path(&member);
        self.problems.push(ImportProblem {
            feature_index: Some(self.feature_index),
            code: self.code_as_written.clone(),
            field,
            reason,
            message,
        });
    }

    /// The property `name`, if the properties object itself was usable.
    fn property(&self, name: &str) -> Option<Option<&'a Value>> {
        self.properties
            .map(|properties| properties.get(name).filter(|value| !value.is_null()))
    }

    fn required_code<Code>(
        &mut self,
        digits: usize,
        parse: impl Fn(&str) -> Result<Code, String>,
    ) -> Option<Code> {
        let field = "properties.code";
        match self.property("code")? {
            None => {
                self.problem(
                    field.into(),
                    "missing_field",
                    format!("missing; expected a string of {digits} digits"),
                );
                None
            }
            Some(Value::String(text)) => match parse(text) {
                Ok(code) => Some(code),
                Err(message) => {
                    self.problem(field.into(), "malformed_field", message);
                    None
                }
            },
            Some(other) => {
                self.problem(
                    field.into(),
                    "malformed_field",
                    format!(
                        "expected a string of {digits} digits, found {}",
                        json_type_name(other)
                    ),
                );
                None
            }
        }
    }

    fn required_name(&mut self, property: &str) -> Option<PlaceName> {
        match self.property(property)? {
            None => {
                self.problem(
                    format!("properties.{property}"),
                    "missing_field",
                    "missing; expected a non-empty string".into(),
                );
                None
            }
            Some(value) => self.name_value(property, value),
        }
    }

    /// `Some(None)` when absent, `Some(Some(name))` when sound, `None` after a problem.
    fn optional_name(&mut self, property: &str) -> Option<Option<PlaceName>> {
        match self.property(property)? {
            None => Some(None),
            Some(value) => self.name_value(property, value).map(Some),
        }
    }

    fn name_value(&mut self, property: &str, value: &Value) -> Option<PlaceName> {
        let field = format!("properties.{property}");
        let Value::String(text) = value else {
            self.problem(
                field,
                "malformed_field",
                format!("expected a string, found {}", json_type_name(value)),
            );
            return None;
        };
        match PlaceName::parse(text) {
            Ok(name) => Some(name),
            Err(error) => {
                self.problem(field, "malformed_field", error.to_string());
                None
            }
        }
    }

    fn required_households(&mut self) -> Option<u32> {
        let field = "properties.households";
        let value = match self.property("households")? {
            None => {
                self.problem(
                    field.into(),
                    "missing_field",
                    "missing; expected a non-negative integer".into(),
                );
                return None;
            }
            Some(value) => value,
        };
        let households = value.as_u64().and_then(|count| u32::try_from(count).ok());
        if households.is_none() {
            let found = match value {
                Value::Number(number) => format!("{number}"),
                other => json_type_name(other).to_owned(),
            };
            self.problem(
                field.into(),
                "malformed_field",
                format!(
                    "expected a non-negative integer up to {}, found {found}",
                    u32::MAX
                ),
            );
        }
        households
    }

    fn geometry(&mut self, block_code: Option<BlockCode>) -> Option<MultiPolygon<f64>> {
        let geometry = self.geometry?;
        let path = self.path("geometry");
        match parse_geometry(geometry, &path) {
            Ok(parsed) => Some(parsed),
            Err(errors) => {
                for error in errors.0 {
                    let message = match block_code {
                        Some(code) => format!("block {code}: {}", error.kind),
                        None => error.kind.to_string(),
                    };
                    self.problems.push(ImportProblem {
                        feature_index: Some(self.feature_index),
                        code: self.code_as_written.clone(),
                        field: error.path,
                        reason: error.kind.code(),
                        message,
                    });
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
