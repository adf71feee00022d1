//! Reading a file into records: the shapes of lists, departments and the
//! catalogue, CSV rows and JSON objects, and where each value was found.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::{ImportError, ImportProblem, Problem, SourceLocation};

/// The fields a shape has, and which of them are required or hold several values.
pub(super) struct Shape {
    /// Every field, in export order.
    fields: &'static [&'static str],
    /// Fields that must have a value.
    required: &'static [&'static str],
    /// Fields holding several values (`;`-separated in CSV, an array in JSON).
    multi_valued: &'static [&'static str],
    /// The JSON key of the array of records.
    json_array: &'static str,
}

pub(super) const LIST_SHAPE: Shape = Shape {
    fields: &[
        "code",
        "category",
        "category_en",
        "name",
        "name_en",
        "description",
        "legal_basis",
        "handling_level",
        "lead_department",
        "cooperating_departments",
        "default_tier",
        "response_limit",
        "resolution_limit",
    ],
    required: &[
        "code",
        "category",
        "name",
        "legal_basis",
        "handling_level",
        "default_tier",
        "response_limit",
        "resolution_limit",
    ],
    multi_valued: &["cooperating_departments"],
    json_array: "items",
};

pub(super) const DEPARTMENT_SHAPE: Shape = Shape {
    fields: &["code", "name", "name_en"],
    required: &["code", "name"],
    multi_valued: &[],
    json_array: "departments",
};

pub(super) const CATALOGUE_SHAPE: Shape = Shape {
    fields: &["code", "name", "name_en", "item", "tier"],
    required: &["code", "name", "item"],
    multi_valued: &[],
    json_array: "matters",
};

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    /// A CSV row.
    Csv { row: u64 },
    /// An element of the JSON record array.
    Json { array: &'static str, index: usize },
}

impl Origin {
    pub(super) fn field(self, field: &str) -> SourceLocation {
        match self {
            Origin::Csv { row } => SourceLocation::Cell {
                row,
                column: field.to_owned(),
            },
            Origin::Json { array, index } => SourceLocation::JsonPath {
                path: format!("{array}[{index}].{field}"),
            },
        }
    }
}

/// One record's raw values, by field name.
pub(super) struct Record {
    /// Where it came from.
    pub(super) origin: Origin,
    /// Single values by field; a CSV record has every header column, empty or not.
    pub(super) texts: BTreeMap<&'static str, String>,
    /// Multi-valued fields.
    pub(super) lists: BTreeMap<&'static str, Vec<String>>,
    /// Fields whose value had the wrong type (already reported, so not also "missing").
    pub(super) mistyped: BTreeSet<&'static str>,
}

/// Problems found so far, in input order.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<ImportProblem>);

impl Problems {
    pub(super) fn add(&mut self, location: SourceLocation, problem: impl Into<Problem>) {
        self.0.push(ImportProblem {
            location,
            problem: problem.into(),
        });
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, ImportError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ImportError { problems: self.0 })
        }
    }
}

impl Record {
    /// A required single value, or `None` after recording why there is none. An empty
    /// value is reported; an absent one only for JSON (in CSV an absent column has been
    /// reported once, at the header).
    pub(super) fn required(&self, field: &'static str, problems: &mut Problems) -> Option<&str> {
        match (self.texts.get(field), self.origin) {
            (Some(value), _) if !value.is_empty() => Some(value),
            (None, Origin::Csv { .. }) => None,
            (None, Origin::Json { .. }) if self.mistyped.contains(field) => None,
            _ => {
                problems.add(self.origin.field(field), Problem::MissingValue);
                None
            }
        }
    }

    /// An optional single value; empty counts as absent.
    pub(super) fn optional(&self, field: &'static str) -> Option<&str> {
        self.texts
            .get(field)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Parses a required value, recording any problem at the field.
    pub(super) fn parse_required<T, E: Into<Problem>>(
        &self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        problems: &mut Problems,
    ) -> Option<T> {
        let value = self.required(field, problems)?;
        parse(value)
            .map_err(|error| problems.add(self.origin.field(field), error))
            .ok()
    }

    /// Parses an optional value. `Some(None)` is absent; `None` means a problem was recorded.
    pub(super) fn parse_optional<T, E: Into<Problem>>(
        &self,
        field: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
        problems: &mut Problems,
    ) -> Option<Option<T>> {
        match self.optional(field) {
            None => Some(None),
            Some(value) => parse(value)
                .map(Some)
                .map_err(|error| problems.add(self.origin.field(field), error))
                .ok(),
        }
    }
}

pub(super) fn read_csv(text: &str, shape: &Shape, problems: &mut Problems) -> Vec<Record> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = reader.records();
    let header = match rows.next() {
        None => {
            problems.add(SourceLocation::Document, Problem::NoHeader);
            return Vec::new();
        }
        Some(Err(error)) => {
            problems.add(
                csv_error_location(&error),
                Problem::MalformedCsv(error.to_string()),
            );
            return Vec::new();
        }
        Some(Ok(header)) => header,
    };
    let header_row = row_number(text, header.position());
    let mut columns: Vec<Option<&'static str>> = Vec::new();
    for name in &header {
        let known = shape.fields.iter().copied().find(|field| *field == name);
        match known {
            None => problems.add(
                SourceLocation::Cell {
                    row: header_row,
                    column: name.to_owned(),
                },
                Problem::UnknownColumn(name.to_owned()),
            ),
            Some(field) if columns.contains(&Some(field)) => problems.add(
                SourceLocation::Cell {
                    row: header_row,
                    column: name.to_owned(),
                },
                Problem::RepeatedColumn(name.to_owned()),
            ),
            Some(_) => {}
        }
        columns.push(known);
    }
    for required in shape.required {
        if !columns.contains(&Some(*required)) {
            problems.add(
                SourceLocation::Row { row: header_row },
                Problem::MissingColumn(required),
            );
        }
    }
    let mut records = Vec::new();
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                problems.add(
                    csv_error_location(&error),
                    Problem::MalformedCsv(error.to_string()),
                );
                continue;
            }
        };
        let row_number = row_number(text, row.position());
        if row.len() != columns.len() {
            problems.add(
                SourceLocation::Row { row: row_number },
                Problem::FieldCount {
                    expected: columns.len(),
                    found: row.len(),
                },
            );
            continue;
        }
        let mut record = Record {
            origin: Origin::Csv { row: row_number },
            texts: BTreeMap::new(),
            lists: BTreeMap::new(),
            mistyped: BTreeSet::new(),
        };
        for (column, value) in columns.iter().zip(row.iter()) {
            let Some(field) = column else { continue };
            if shape.multi_valued.contains(field) {
                let values = value
                    .split(';')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_owned)
                    .collect();
                record.lists.insert(field, values);
            } else {
                record.texts.insert(field, value.to_owned());
            }
        }
        records.push(record);
    }
    records
}

/// The line of `text` a record starts on. The reader's own line count points at the
/// blank lines it skipped before the record, so the record's first character is found
/// from its byte offset instead.
pub(super) fn row_number(text: &str, position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else { return 0 };
    let offset = usize::try_from(position.byte())
        .unwrap_or(text.len())
        .min(text.len());
    let skipped_breaks = text.as_bytes()[offset..]
        .iter()
        .take_while(|byte| matches!(byte, b'\n' | b'\r'))
        .count();
    let start = offset + skipped_breaks;
    let breaks_before = text.as_bytes()[..start]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count();
    u64::try_from(breaks_before).map_or(u64::MAX, |breaks| breaks + 1)
}

pub(super) fn csv_error_location(error: &csv::Error) -> SourceLocation {
    match error.position() {
        Some(position) => SourceLocation::Row {
            row: position.line(),
        },
        None => SourceLocation::Document,
    }
}

/// Reads the JSON document's record array; returns the document object (for other
/// top-level keys; `None` when there is no object) and the records. `other_keys` are the
/// top-level keys besides the array.
pub(super) fn read_json(
    text: &str,
    shape: &Shape,
    other_keys: &[&str],
    problems: &mut Problems,
) -> (Option<serde_json::Map<String, Json>>, Vec<Record>) {
    let document = match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(document)) => document,
        Ok(_) => {
            problems.add(
                SourceLocation::Document,
                Problem::WrongType("a JSON object"),
            );
            return (None, Vec::new());
        }
        Err(error) => {
            problems.add(
                SourceLocation::Document,
                Problem::MalformedJson(error.to_string()),
            );
            return (None, Vec::new());
        }
    };
    for key in document.keys() {
        if key != shape.json_array && !other_keys.contains(&key.as_str()) {
            problems.add(
                SourceLocation::JsonPath { path: key.clone() },
                Problem::UnknownField,
            );
        }
    }
    let array_location = SourceLocation::JsonPath {
        path: shape.json_array.to_owned(),
    };
    let elements = match document.get(shape.json_array) {
        None | Some(Json::Null) => {
            problems.add(array_location, Problem::MissingValue);
            return (Some(document), Vec::new());
        }
        Some(Json::Array(elements)) => elements,
        Some(_) => {
            problems.add(array_location, Problem::WrongType("an array of objects"));
            return (Some(document), Vec::new());
        }
    };
    let mut records = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let origin = Origin::Json {
            array: shape.json_array,
            index,
        };
        let Json::Object(object) = element else {
            problems.add(
                SourceLocation::JsonPath {
                    path: format!("{}[{index}]", shape.json_array),
                },
                Problem::WrongType("an object"),
            );
            continue;
        };
        let mut record = Record {
            origin,
            texts: BTreeMap::new(),
            lists: BTreeMap::new(),
            mistyped: BTreeSet::new(),
        };
        for (key, value) in object {
            let Some(field) = shape.fields.iter().copied().find(|field| field == key) else {
                problems.add(origin.field(key), Problem::UnknownField);
                continue;
            };
            let multi_valued = shape.multi_valued.contains(&field);
            match (value, multi_valued) {
                (Json::Null, _) => {}
                (Json::String(text), false) => {
                    record.texts.insert(field, text.trim().to_owned());
                }
                (Json::Array(values), true) => {
                    let texts: Option<Vec<String>> = values
                        .iter()
                        .map(|value| value.as_str().map(|text| text.trim().to_owned()))
                        .collect();
                    match texts {
                        Some(texts) => {
                            record.lists.insert(field, texts);
                        }
                        None => {
                            record.mistyped.insert(field);
                            problems.add(
                                origin.field(field),
                                Problem::WrongType("an array of strings"),
                            );
                        }
                    }
                }
                (_, multi_valued) => {
                    record.mistyped.insert(field);
                    let expected = if multi_valued {
                        "an array of strings"
                    } else {
                        "a string"
                    };
                    problems.add(origin.field(field), Problem::WrongType(expected));
                }
            }
        }
        records.push(record);
    }
    (Some(document), records)
}

/// Where the record at a 1-based position among the records that parsed came from.
/// Positions always come from those records; the document is a safe fallback.
pub(super) fn located(origins: &[Origin], position: usize, field: &str) -> SourceLocation {
    position
        .checked_sub(1)
        .and_then(|index| origins.get(index))
        .map_or(SourceLocation::Document, |origin| origin.field(field))
}

/// Orders problems as they appear in the input (rows, or record index), keeping the
/// order of problems found at the same record.
pub(super) fn sort_by_input_order(problems: &mut Problems) {
    problems.0.sort_by_key(|problem| match &problem.location {
        SourceLocation::Document => (0, 0),
        SourceLocation::Row { row } | SourceLocation::Cell { row, .. } => (1, *row),
        SourceLocation::JsonPath { path } => (2, json_index(path)),
    });
}

pub(super) fn json_index(path: &str) -> u64 {
    path.split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(index, _)| index.parse().ok())
        .unwrap_or(0)
}
