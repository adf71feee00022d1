//! Importing (and exporting) lists, departments and the matter catalogue as CSV or JSON.
//!
//! Every import collects **all** problems it finds, each with the place it was found
//! (CSV row and column, or JSON path), and returns nothing at all when there is any
//! problem: an import is applied whole or not at all. Rules that tie several fields of a
//! record together (a department-level item needs a lead department, the response limit
//! may not exceed the resolution limit) and rules across records (duplicate codes, one
//! name per category) are judged for the records whose every field parses.
//!
//! # A list
//!
//! One file holds one list; the caller says which [`ListKind`] it is, and every item code
//! must carry that list's prefix.
//!
//! | column / key | required | content |
//! |---|---|---|
//! | `code` | yes | item code `<PREFIX>-<CC>-<NN>`, e.g. `SD-05-03` ([`ItemCode`]) |
//! | `category` | yes | category name in Chinese; the same for every item with the same `CC` |
//! | `category_en` | no | English gloss of the category |
//! | `name` | yes | item name in Chinese |
//! | `name_en` | no | English gloss of the name |
//! | `description` | no | what the item covers |
//! | `legal_basis` | yes | the law, regulation or document that puts it on the list |
//! | `handling_level` | yes | `block`, `community`, `subdistrict` or `department`, as the list allows ([`ListKind::allowed_levels`]) |
//! | `lead_department` | if level is `department` | department code; below department level, the competent department |
//! | `cooperating_departments` | no | department codes, principal cooperator first (the order is kept), each once: in CSV separated by `;`, in JSON an array of strings |
//! | `default_tier` | yes | `front_line`, `coordination_meeting` or `whistle` |
//! | `response_limit` | yes | working duration `1`–`999` + `m`/`h`/`d`, e.g. `2h` ([`WorkingDuration`]) |
//! | `resolution_limit` | yes | working duration, not shorter than `response_limit` |
//!
//! Departments must exist in the department set given to the import.
//!
//! **CSV**: UTF-8 (a leading byte-order mark, as spreadsheet programs write, is ignored),
//! comma separated, `"` quoting, a header row naming the columns in any order. Optional
//! columns may be left out; an unknown or repeated column is an error. Values are trimmed;
//! an empty cell is an absent value. Rows are numbered as lines of the file, the header
//! being row 1, so "row 7" is what a text editor or spreadsheet shows; blank lines are
//! skipped but counted.
//!
//! ```text
//! code,category,category_en,name,name_en,description,legal_basis,handling_level,lead_department,cooperating_departments,default_tier,response_limit,resolution_limit
//! SC-01-01,城市管理执法,Urban management enforcement,违法建设查处,Investigating illegal construction,,《中华人民共和国城乡规划法》,department,urban_management,natural_resources;housing_construction,whistle,2h,15d
//! ```
//!
//! **JSON**: an object with `kind` (the list kind, which must match the one requested)
//! and `items`, an array of objects with the keys above. Values are strings (an array of
//! strings for `cooperating_departments`); an absent key or `null` is an absent value;
//! unknown keys are errors. Problems are located by path, e.g. `items[3].lead_department`.
//!
//! ```json
//! {"kind": "subdistrict_cooperation", "items": [{"code": "SC-01-01", "category": "城市管理执法",
//!   "name": "违法建设查处", "legal_basis": "《中华人民共和国城乡规划法》",
//!   "handling_level": "department", "lead_department": "urban_management",
//!   "cooperating_departments": ["natural_resources"], "default_tier": "whistle",
//!   "response_limit": "2h", "resolution_limit": "15d"}]}
//! ```
//!
//! # Departments
//!
//! Columns / keys `code` (required, [`DepartmentCode`]), `name` (required, Chinese) and
//! `name_en` (optional). JSON: `{"departments": [{"code": …, "name": …}, …]}`.
//!
//! # The matter catalogue
//!
//! Columns / keys `code` (required, [`MatterCode`]), `name` (required, Chinese), `name_en`
//! (optional), `item` (required, the [`ItemCode`] the matter falls under, which must be
//! among the known item codes given to the import) and `tier` (optional, the matter's own
//! tier when it differs from the item's default). JSON: `{"matters": [{…}, …]}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value as Json;

use super::catalogue::{CatalogueViolation, Matter, MatterCatalogue, MatterNameEmpty};
use super::codes::{CodeError, DepartmentCode, MatterCode};
use super::department::{Department, DepartmentError, Departments};
use super::duration::{DurationError, WorkingDuration};
use super::item::{ItemField, ItemFields, ItemViolation, ListItem};
use super::item_code::{ItemCode, ItemCodeError};
use super::kinds::{HandlingLevel, ListKind, Tier, UnknownVariant};
use super::list::{ListContent, ListViolation};

/// Where in the input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// The input as a whole.
    Document,
    /// A CSV row (1 is the header).
    Row {
        /// The row number.
        row: u64,
    },
    /// A CSV cell.
    Cell {
        /// The row number.
        row: u64,
        /// The column name.
        column: String,
    },
    /// A JSON value, e.g. `items[3].lead_department`.
    JsonPath {
        /// The path from the document root.
        path: String,
    },
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceLocation::Document => formatter.write_str("document"),
            SourceLocation::Row { row } => write!(formatter, "row {row}"),
            SourceLocation::Cell { row, column } => {
                write!(formatter, "row {row}, column {column:?}")
            }
            SourceLocation::JsonPath { path } => formatter.write_str(path),
        }
    }
}

/// What is wrong at a location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The CSV could not be read.
    #[error("malformed CSV: {0}")]
    MalformedCsv(String),
    /// The JSON could not be parsed (the message gives line and column).
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The CSV has no header row.
    #[error("the file is empty: expected a header row")]
    NoHeader,
    /// A required column is missing from the header.
    #[error("required column {0:?} is missing")]
    MissingColumn(&'static str),
    /// A header names a column the shape does not have.
    #[error("unknown column {0:?}")]
    UnknownColumn(String),
    /// A header names a column twice.
    #[error("column {0:?} appears more than once")]
    RepeatedColumn(String),
    /// A row has more or fewer fields than the header.
    #[error("expected {expected} fields as in the header, found {found}")]
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A required value is empty or absent.
    #[error("a value is required")]
    MissingValue,
    /// A JSON object has a key the shape does not have.
    #[error("unknown field")]
    UnknownField,
    /// A JSON value has the wrong type.
    #[error("expected {0}")]
    WrongType(&'static str),
    /// A JSON list document is of another list than the one requested.
    #[error("the document is a {found} list, but a {expected} list was requested")]
    ListKindMismatch {
        /// The list requested.
        expected: ListKind,
        /// The list the document names.
        found: ListKind,
    },
    /// A department, matter or place code is malformed.
    #[error(transparent)]
    Code(#[from] CodeError),
    /// An item code is malformed.
    #[error(transparent)]
    ItemCode(#[from] ItemCodeError),
    /// A list kind, handling level or tier is misspelt.
    #[error(transparent)]
    Variant(#[from] UnknownVariant),
    /// A time limit is malformed.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// An item breaks a rule tying its fields together.
    #[error(transparent)]
    Item(#[from] ItemViolation),
    /// An item breaks a rule of its list.
    #[error(transparent)]
    List(#[from] ListViolation),
    /// A department is invalid or repeated.
    #[error(transparent)]
    Department(#[from] DepartmentError),
    /// A matter has no name.
    #[error(transparent)]
    MatterName(#[from] MatterNameEmpty),
    /// A matter is repeated or maps to a missing item.
    #[error(transparent)]
    Catalogue(#[from] CatalogueViolation),
}

/// One problem and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {problem}")]
pub struct ImportProblem {
    /// Where.
    pub location: SourceLocation,
    /// What.
    pub problem: Problem,
}

/// Every problem found in an import; nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s), nothing imported; {}", .problems.len(), list_problems(.problems))]
pub struct ImportError {
    /// Every problem, in input order.
    pub problems: Vec<ImportProblem>,
}

fn list_problems(problems: &[ImportProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fields a shape has, and which of them are required or hold several values.
struct Shape {
    /// Every field, in export order.
    fields: &'static [&'static str],
    /// Fields that must have a value.
    required: &'static [&'static str],
    /// Fields holding several values (`;`-separated in CSV, an array in JSON).
    multi_valued: &'static [&'static str],
    /// The JSON key of the array of records.
    json_array: &'static str,
}

const LIST_SHAPE: Shape = Shape {
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

const DEPARTMENT_SHAPE: Shape = Shape {
    fields: &["code", "name", "name_en"],
    required: &["code", "name"],
    multi_valued: &[],
    json_array: "departments",
};

const CATALOGUE_SHAPE: Shape = Shape {
    fields: &["code", "name", "name_en", "item", "tier"],
    required: &["code", "name", "item"],
    multi_valued: &[],
    json_array: "matters",
};

/// Where a record came from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// A CSV row.
    Csv { row: u64 },
    /// An element of the JSON record array.
    Json { array: &'static str, index: usize },
}

impl Origin {
    fn field(self, field: &str) -> SourceLocation {
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
struct Record {
    /// Where it came from.
    origin: Origin,
    /// Single values by field; a CSV record has every header column, empty or not.
    texts: BTreeMap<&'static str, String>,
    /// Multi-valued fields.
    lists: BTreeMap<&'static str, Vec<String>>,
    /// Fields whose value had the wrong type (already reported, so not also "missing").
    mistyped: BTreeSet<&'static str>,
}

/// Problems found so far, in input order.
#[derive(Default)]
struct Problems(Vec<ImportProblem>);

impl Problems {
    fn add(&mut self, location: SourceLocation, problem: impl Into<Problem>) {
        self.0.push(ImportProblem {
            location,
            problem: problem.into(),
        });
    }

    fn finish<T>(self, value: T) -> Result<T, ImportError> {
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
    fn required(&self, field: &'static str, problems: &mut Problems) -> Option<&str> {
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
    fn optional(&self, field: &'static str) -> Option<&str> {
        self.texts
            .get(field)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Parses a required value, recording any problem at the field.
    fn parse_required<T, E: Into<Problem>>(
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
    fn parse_optional<T, E: Into<Problem>>(
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

fn read_csv(text: &str, shape: &Shape, problems: &mut Problems) -> Vec<Record> {
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
fn row_number(text: &str, position: Option<&csv::Position>) -> u64 {
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

fn csv_error_location(error: &csv::Error) -> SourceLocation {
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
fn read_json(
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

/// Builds the typed fields of an item from a record, recording every field problem.
fn item_fields(record: &Record, problems: &mut Problems) -> Option<ItemFields> {
    let code = record.parse_required("code", ItemCode::parse, problems);
    let category = record.required("category", problems).map(str::to_owned);
    let name = record.required("name", problems).map(str::to_owned);
    let legal_basis = record.required("legal_basis", problems).map(str::to_owned);
    let handling_level = record.parse_required("handling_level", HandlingLevel::parse, problems);
    let lead_department = record.parse_optional("lead_department", DepartmentCode::parse, problems);
    let mut cooperating = Some(Vec::new());
    for value in record
        .lists
        .get("cooperating_departments")
        .into_iter()
        .flatten()
    {
        match DepartmentCode::parse(value) {
            Ok(department) => {
                if let Some(named) = cooperating.as_mut() {
                    named.push(department);
                }
            }
            Err(error) => {
                problems.add(record.origin.field("cooperating_departments"), error);
                cooperating = None;
            }
        }
    }
    let default_tier = record.parse_required("default_tier", Tier::parse, problems);
    let response_limit = record.parse_required("response_limit", WorkingDuration::parse, problems);
    let resolution_limit =
        record.parse_required("resolution_limit", WorkingDuration::parse, problems);
    Some(ItemFields {
        code: code?,
        category: category?,
        category_en: record.optional("category_en").map(str::to_owned),
        name: name?,
        name_en: record.optional("name_en").map(str::to_owned),
        description: record
            .optional("description")
            .unwrap_or_default()
            .to_owned(),
        legal_basis: legal_basis?,
        handling_level: handling_level?,
        lead_department: lead_department?,
        cooperating_departments: cooperating?,
        default_tier: default_tier?,
        response_limit: response_limit?,
        resolution_limit: resolution_limit?,
    })
}

fn build_list(
    list: ListKind,
    records: Vec<Record>,
    departments: &Departments,
    mut problems: Problems,
) -> Result<ListContent, ImportError> {
    let mut items = Vec::new();
    let mut origins = Vec::new();
    for record in &records {
        let Some(fields) = item_fields(record, &mut problems) else {
            continue;
        };
        match ListItem::new(fields) {
            Ok(item) => {
                items.push(item);
                origins.push(record.origin);
            }
            Err(invalid) => {
                for violation in invalid.violations {
                    problems.add(record.origin.field(violation.field().as_str()), violation);
                }
            }
        }
    }
    match ListContent::new(list, items, departments) {
        Ok(content) => problems.finish(content),
        Err(invalid) => {
            for problem in invalid.problems {
                let location = located(
                    &origins,
                    problem.position,
                    problem.violation.field().as_str(),
                );
                problems.add(location, problem.violation);
            }
            sort_by_input_order(&mut problems);
            problems.finish(ListContent::empty(list))
        }
    }
}

/// Where the record at a 1-based position among the records that parsed came from.
/// Positions always come from those records; the document is a safe fallback.
fn located(origins: &[Origin], position: usize, field: &str) -> SourceLocation {
    position
        .checked_sub(1)
        .and_then(|index| origins.get(index))
        .map_or(SourceLocation::Document, |origin| origin.field(field))
}

/// Orders problems as they appear in the input (rows, or record index), keeping the
/// order of problems found at the same record.
fn sort_by_input_order(problems: &mut Problems) {
    problems.0.sort_by_key(|problem| match &problem.location {
        SourceLocation::Document => (0, 0),
        SourceLocation::Row { row } | SourceLocation::Cell { row, .. } => (1, *row),
        SourceLocation::JsonPath { path } => (2, json_index(path)),
    });
}

fn json_index(path: &str) -> u64 {
    path.split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(index, _)| index.parse().ok())
        .unwrap_or(0)
}

/// Imports one list from CSV; see the module documentation for the shape.
pub fn list_from_csv(
    list: ListKind,
    text: &str,
    departments: &Departments,
) -> Result<ListContent, ImportError> {
    let mut problems = Problems::default();
    let records = read_csv(text, &LIST_SHAPE, &mut problems);
    build_list(list, records, departments, problems)
}

/// Imports one list from JSON; see the module documentation for the shape.
pub fn list_from_json(
    list: ListKind,
    text: &str,
    departments: &Departments,
) -> Result<ListContent, ImportError> {
    let mut problems = Problems::default();
    let (document, records) = read_json(text, &LIST_SHAPE, &["kind"], &mut problems);
    let kind_location = SourceLocation::JsonPath {
        path: "kind".to_owned(),
    };
    let kind = document.as_ref().map(|document| document.get("kind"));
    match kind {
        None => {}
        Some(None | Some(Json::Null)) => problems.add(kind_location, Problem::MissingValue),
        Some(Some(Json::String(kind))) => match ListKind::parse(kind) {
            Ok(found) if found != list => problems.add(
                kind_location,
                Problem::ListKindMismatch {
                    expected: list,
                    found,
                },
            ),
            Ok(_) => {}
            Err(error) => problems.add(kind_location, error),
        },
        Some(Some(_)) => problems.add(kind_location, Problem::WrongType("a string")),
    }
    build_list(list, records, departments, problems)
}

fn build_departments(
    records: Vec<Record>,
    mut problems: Problems,
) -> Result<Departments, ImportError> {
    let mut departments = Vec::new();
    for record in &records {
        let code = record.parse_required("code", DepartmentCode::parse, &mut problems);
        let name = record.required("name", &mut problems);
        if let (Some(code), Some(name)) = (code, name) {
            match Department::new(code, name, record.optional("name_en")) {
                Ok(department) => departments.push((record.origin, department)),
                Err(error) => problems.add(record.origin.field("name"), error),
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut unique = Vec::new();
    for (origin, department) in departments {
        if seen.insert(department.code().clone()) {
            unique.push(department);
        } else {
            problems.add(
                origin.field("code"),
                DepartmentError::DuplicateCode {
                    code: department.code().clone(),
                },
            );
        }
    }
    sort_by_input_order(&mut problems);
    match Departments::new(unique) {
        Ok(departments) => problems.finish(departments),
        // Duplicates were removed above, so this cannot happen; report rather than panic.
        Err(errors) => {
            for error in errors {
                problems.add(SourceLocation::Document, error);
            }
            problems.finish(Departments::default())
        }
    }
}

/// Imports the department set from CSV; see the module documentation for the shape.
pub fn departments_from_csv(text: &str) -> Result<Departments, ImportError> {
    let mut problems = Problems::default();
    let records = read_csv(text, &DEPARTMENT_SHAPE, &mut problems);
    build_departments(records, problems)
}

/// Imports the department set from JSON; see the module documentation for the shape.
pub fn departments_from_json(text: &str) -> Result<Departments, ImportError> {
    let mut problems = Problems::default();
    let (_, records) = read_json(text, &DEPARTMENT_SHAPE, &[], &mut problems);
    build_departments(records, problems)
}

fn build_catalogue(
    records: Vec<Record>,
    known_items: &BTreeSet<ItemCode>,
    mut problems: Problems,
) -> Result<MatterCatalogue, ImportError> {
    let mut matters = Vec::new();
    let mut origins = Vec::new();
    for record in &records {
        let code = record.parse_required("code", MatterCode::parse, &mut problems);
        let name = record.required("name", &mut problems);
        let item = record.parse_required("item", ItemCode::parse, &mut problems);
        let tier = record.parse_optional("tier", Tier::parse, &mut problems);
        let (Some(code), Some(name), Some(item), Some(tier)) = (code, name, item, tier) else {
            continue;
        };
        match Matter::new(code, name, record.optional("name_en"), item, tier) {
            Ok(matter) => {
                matters.push(matter);
                origins.push(record.origin);
            }
            Err(error) => problems.add(record.origin.field("name"), error),
        }
    }
    match MatterCatalogue::new(matters, known_items) {
        Ok(catalogue) => problems.finish(catalogue),
        Err(invalid) => {
            for problem in invalid.problems {
                let field = match problem.violation {
                    CatalogueViolation::DuplicateCode { .. } => "code",
                    CatalogueViolation::MissingItem { .. } => "item",
                };
                problems.add(
                    located(&origins, problem.position, field),
                    problem.violation,
                );
            }
            sort_by_input_order(&mut problems);
            problems.finish(MatterCatalogue::default())
        }
    }
}

/// Imports the matter catalogue from CSV, checking every matter's item against
/// `known_items`; see the module documentation for the shape.
pub fn catalogue_from_csv(
    text: &str,
    known_items: &BTreeSet<ItemCode>,
) -> Result<MatterCatalogue, ImportError> {
    let mut problems = Problems::default();
    let records = read_csv(text, &CATALOGUE_SHAPE, &mut problems);
    build_catalogue(records, known_items, problems)
}

/// Imports the matter catalogue from JSON, checking every matter's item against
/// `known_items`; see the module documentation for the shape.
pub fn catalogue_from_json(
    text: &str,
    known_items: &BTreeSet<ItemCode>,
) -> Result<MatterCatalogue, ImportError> {
    let mut problems = Problems::default();
    let (_, records) = read_json(text, &CATALOGUE_SHAPE, &[], &mut problems);
    build_catalogue(records, known_items, problems)
}

fn csv_field(value: &str) -> String {
    let needs_quotes = value.contains([',', '"', '\n', '\r']) || value.trim() != value;
    if needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn item_values(item: &ListItem) -> [String; 13] {
    let fields = item.fields();
    let cooperating: Vec<&str> = fields
        .cooperating_departments
        .iter()
        .map(DepartmentCode::as_str)
        .collect();
    [
        fields.code.to_string(),
        fields.category.clone(),
        fields.category_en.clone().unwrap_or_default(),
        fields.name.clone(),
        fields.name_en.clone().unwrap_or_default(),
        fields.description.clone(),
        fields.legal_basis.clone(),
        fields.handling_level.to_string(),
        fields
            .lead_department
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        cooperating.join(";"),
        fields.default_tier.to_string(),
        fields.response_limit.to_string(),
        fields.resolution_limit.to_string(),
    ]
}

/// Writes a list in the CSV shape [`list_from_csv`] reads, every column present.
pub fn list_to_csv(content: &ListContent) -> String {
    let mut csv = ItemField::ALL.map(ItemField::as_str).join(",");
    csv.push('\n');
    for item in content.items() {
        let row: Vec<String> = item_values(item)
            .iter()
            .map(|value| csv_field(value))
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    csv
}

/// Writes a list in the JSON shape [`list_from_json`] reads; absent values are left out.
pub fn list_to_json(content: &ListContent) -> String {
    let items: Vec<Json> = content
        .items()
        .map(|item| {
            let mut object = serde_json::Map::new();
            for (field, value) in ItemField::ALL.into_iter().zip(item_values(item)) {
                let json = if field == ItemField::CooperatingDepartments {
                    let codes = item
                        .cooperating_departments()
                        .iter()
                        .map(|code| Json::String(code.to_string()))
                        .collect();
                    Json::Array(codes)
                } else if value.is_empty() {
                    continue;
                } else {
                    Json::String(value)
                };
                object.insert(field.as_str().to_owned(), json);
            }
            Json::Object(object)
        })
        .collect();
    let document = serde_json::json!({
        "kind": content.list().as_str(),
        "items": items,
    });
    format!("{document:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list::tests::departments;

    const HEADER: &str = "code,category,category_en,name,name_en,description,legal_basis,handling_level,lead_department,cooperating_departments,default_tier,response_limit,resolution_limit";

    fn csv(rows: &[&str]) -> String {
        let mut text = HEADER.to_owned();
        for row in rows {
            text.push('\n');
            text.push_str(row);
        }
        text
    }

    const STREET_LIGHT: &str = "SD-05-03,城市管理,City management,市政设施巡查报修,Municipal facility patrol,\"发现路灯、井盖损坏, 及时上报\",《城市道路管理条例》,block,housing_construction,urban_management,front_line,2h,3d";
    const VENDING: &str = "SD-05-02,城市管理,City management,占道经营劝导,Discouraging street vending,,《城市市容和环境卫生管理条例》,block,,urban_management,front_line,30m,1d";

    fn problems(error: ImportError) -> Vec<String> {
        error.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_well_formed_csv_list_imports_every_item() {
        let content = list_from_csv(
            ListKind::SubdistrictDuty,
            &csv(&[STREET_LIGHT, VENDING]),
            &departments(),
        )
        .unwrap();
        assert_eq!(content.len(), 2);
        let light = content.item(&ItemCode::parse("SD-05-03").unwrap()).unwrap();
        assert_eq!(light.fields().description, "发现路灯、井盖损坏, 及时上报");
        assert_eq!(
            light.lead_department().map(DepartmentCode::as_str),
            Some("housing_construction")
        );
        assert_eq!(light.response_limit().to_string(), "2h");
    }

    #[test]
    fn csv_columns_may_come_in_any_order_and_optional_ones_may_be_left_out() {
        let text = "resolution_limit,response_limit,default_tier,handling_level,legal_basis,name,category,code\n\
                    3d,2h,front_line,block,《城市道路管理条例》,市政设施巡查报修,城市管理,SD-05-03";
        let content = list_from_csv(ListKind::SubdistrictDuty, text, &departments()).unwrap();
        let item = content.item(&ItemCode::parse("SD-05-03").unwrap()).unwrap();
        assert_eq!(item.fields().name_en, None);
        assert!(item.cooperating_departments().is_empty());
    }

    #[test]
    fn a_byte_order_mark_and_padding_around_values_are_ignored() {
        let text = format!(
            "\u{feff}{}",
            csv(&[
                " SD-05-02 , 城市管理 ,,占道经营劝导,,, 《条例》 , block ,, urban_management ; ,front_line, 30m ,1d"
            ])
        );
        let content = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap();
        let item = content.item(&ItemCode::parse("SD-05-02").unwrap()).unwrap();
        assert_eq!(item.category(), "城市管理");
        assert_eq!(item.cooperating_departments().len(), 1);
    }

    #[test]
    fn a_malformed_value_is_named_by_row_and_column() {
        let bad_limit = VENDING.replace(",30m,", ",30 minutes,");
        let error = list_from_csv(
            ListKind::SubdistrictDuty,
            &csv(&[STREET_LIGHT, &bad_limit]),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(error.problems.len(), 1);
        assert_eq!(
            error.problems[0].location,
            SourceLocation::Cell {
                row: 3,
                column: "response_limit".into()
            }
        );
        assert!(
            error.to_string().contains(
                "row 3, column \"response_limit\": time limit \"30 minutes\" is malformed"
            )
        );
    }

    #[test]
    fn every_problem_in_a_csv_list_is_collected_and_nothing_is_returned() {
        let rows = [
            STREET_LIGHT.replace("SD-05-03", "SD-5-3"),
            VENDING
                .replace(",block,", ",district,")
                .replace("front_line", "frontline"),
            STREET_LIGHT.replace("urban_management", "urban_mgmt"),
            STREET_LIGHT.to_owned(),
            VENDING.replace("《城市市容和环境卫生管理条例》", ""),
        ];
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let error =
            list_from_csv(ListKind::SubdistrictDuty, &csv(&rows), &departments()).unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 2, column \"code\": item code \"SD-5-3\" is malformed: expected <PREFIX>-<CC>-<NN> such as SD-01-03",
                "row 3, column \"handling_level\": handling level \"district\" is not one of: block, community, subdistrict, department",
                "row 3, column \"default_tier\": tier \"frontline\" is not one of: front_line, coordination_meeting, whistle",
                "row 4, column \"cooperating_departments\": unknown department urban_mgmt",
                "row 5, column \"code\": duplicate item code SD-05-03 (first given as item 1)",
                "row 6, column \"legal_basis\": a value is required",
            ]
        );
    }

    #[test]
    fn a_missing_required_column_is_reported_once_at_the_header() {
        let text = "code,category,name,legal_basis,handling_level,default_tier,response_limit\n\
                    SD-05-03,城市管理,巡查,《条例》,block,front_line,2h\n\
                    SD-05-04,城市管理,巡查,《条例》,block,front_line,2h";
        let error = list_from_csv(ListKind::SubdistrictDuty, text, &departments()).unwrap_err();
        assert_eq!(
            problems(error),
            ["row 1: required column \"resolution_limit\" is missing"]
        );
    }

    #[test]
    fn unknown_and_repeated_columns_are_refused() {
        let text = format!("{HEADER},lead_departmnet,name\n{},x,y", STREET_LIGHT);
        let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 1, column \"lead_departmnet\": unknown column \"lead_departmnet\"",
                "row 1, column \"name\": column \"name\" appears more than once",
            ]
        );
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_refused_with_its_row() {
        let text = csv(&[STREET_LIGHT, "SD-05-02,城市管理"]);
        let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
        assert_eq!(
            problems(error),
            ["row 3: expected 13 fields as in the header, found 2"]
        );
    }

    #[test]
    fn rows_are_numbered_as_lines_of_the_file_counting_blank_lines() {
        let text = format!(
            "{HEADER}\n\n{STREET_LIGHT}\n\n{}",
            VENDING.replace("30m", "0m")
        );
        let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
        assert!(matches!(
            &error.problems[0].location,
            SourceLocation::Cell { row: 5, .. }
        ));
    }

    #[test]
    fn an_empty_csv_has_no_header() {
        let error = list_from_csv(ListKind::SubdistrictDuty, "", &departments()).unwrap_err();
        assert_eq!(
            problems(error),
            ["document: the file is empty: expected a header row"]
        );
    }

    #[test]
    fn a_header_without_rows_is_an_empty_list() {
        let content = list_from_csv(ListKind::SubdistrictDuty, HEADER, &departments()).unwrap();
        assert!(content.is_empty());
    }

    #[test]
    fn an_item_of_another_list_and_a_level_the_list_forbids_are_refused_at_their_columns() {
        let wrong_list = STREET_LIGHT.replace("SD-05-03", "RS-01-01");
        let error = list_from_csv(
            ListKind::SubdistrictDuty,
            &csv(&[&wrong_list]),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 2, column \"code\": item code RS-01-01 belongs to the residents_self_government list, not the subdistrict_duty list"
            ]
        );
        let subdistrict_led_cooperation = STREET_LIGHT
            .replace("SD-05-03", "SC-05-03")
            .replace(",block,", ",subdistrict,");
        let error = list_from_csv(
            ListKind::SubdistrictCooperation,
            &csv(&[&subdistrict_led_cooperation]),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 2, column \"handling_level\": handling level subdistrict is not allowed on the subdistrict_cooperation list (allowed: department)"
            ]
        );
    }

    #[test]
    fn a_department_level_item_without_a_lead_is_refused_at_the_lead_column() {
        let leaderless = VENDING
            .replace("SD-05-02", "SC-05-02")
            .replace(",block,", ",department,");
        let error = list_from_csv(
            ListKind::SubdistrictCooperation,
            &csv(&[&leaderless]),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 2, column \"lead_department\": an item handled at department level needs a lead department"
            ]
        );
    }

    fn json_item(code: &str) -> serde_json::Value {
        serde_json::json!({
            "code": code,
            "category": "城市管理执法",
            "category_en": "Urban management enforcement",
            "name": "违法建设查处",
            "legal_basis": "《中华人民共和国城乡规划法》",
            "handling_level": "department",
            "lead_department": "urban_management",
            "cooperating_departments": ["natural_resources", "housing_construction"],
            "default_tier": "whistle",
            "response_limit": "2h",
            "resolution_limit": "15d",
        })
    }

    #[test]
    fn a_well_formed_json_list_imports_every_item() {
        let document = serde_json::json!({
            "kind": "subdistrict_cooperation",
            "items": [json_item("SC-01-01"), json_item("SC-01-02")],
        });
        let content = list_from_json(
            ListKind::SubdistrictCooperation,
            &document.to_string(),
            &departments(),
        )
        .unwrap();
        assert_eq!(content.len(), 2);
        assert_eq!(
            content
                .item(&ItemCode::parse("SC-01-01").unwrap())
                .unwrap()
                .cooperating_departments()
                .len(),
            2
        );
    }

    #[test]
    fn json_problems_are_located_by_path_and_all_collected() {
        let mut wrong_types = json_item("SC-01-02");
        wrong_types["response_limit"] = serde_json::json!(2);
        wrong_types["cooperating_departments"] = serde_json::json!("natural_resources");
        wrong_types["leader"] = serde_json::json!("x");
        let mut missing = json_item("SC-01-03");
        missing.as_object_mut().unwrap().remove("name");
        missing["lead_department"] = serde_json::Value::Null;
        let document = serde_json::json!({
            "kind": "subdistrict_cooperation",
            "version": 2,
            "items": [json_item("SC-01-01"), wrong_types, missing, json_item("SC-01-01"), "SC-01-04"],
        });
        let error = list_from_json(
            ListKind::SubdistrictCooperation,
            &document.to_string(),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "version: unknown field",
                "items[1].cooperating_departments: expected an array of strings",
                "items[1].leader: unknown field",
                "items[1].response_limit: expected a string",
                "items[2].name: a value is required",
                "items[3].code: duplicate item code SC-01-01 (first given as item 1)",
                "items[4]: expected an object",
            ]
        );
    }

    #[test]
    fn a_json_document_of_another_list_is_refused() {
        let document = serde_json::json!({"kind": "residents_negative", "items": []});
        let error = list_from_json(
            ListKind::SubdistrictDuty,
            &document.to_string(),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "kind: the document is a residents_negative list, but a subdistrict_duty list was requested"
            ]
        );
        let untyped = serde_json::json!({"items": []});
        let error = list_from_json(
            ListKind::SubdistrictDuty,
            &untyped.to_string(),
            &departments(),
        )
        .unwrap_err();
        assert_eq!(problems(error), ["kind: a value is required"]);
    }

    #[test]
    fn malformed_json_is_reported_with_its_line_and_column() {
        let error = list_from_json(
            ListKind::SubdistrictDuty,
            "{\n  \"kind\": ,\n}",
            &departments(),
        )
        .unwrap_err();
        assert_eq!(error.problems.len(), 1);
        let message = error.problems[0].to_string();
        assert!(
            message.starts_with("document: malformed JSON:"),
            "{message}"
        );
        assert!(message.contains("line 2"), "{message}");
        let error = list_from_json(ListKind::SubdistrictDuty, "[]", &departments()).unwrap_err();
        assert_eq!(problems(error), ["document: expected a JSON object"]);
    }

    #[test]
    fn a_list_survives_a_round_trip_through_csv_and_json() {
        let content = list_from_csv(
            ListKind::SubdistrictDuty,
            &csv(&[STREET_LIGHT, VENDING]),
            &departments(),
        )
        .unwrap();
        let from_csv = list_from_csv(
            ListKind::SubdistrictDuty,
            &list_to_csv(&content),
            &departments(),
        )
        .unwrap();
        assert_eq!(from_csv, content);
        let from_json = list_from_json(
            ListKind::SubdistrictDuty,
            &list_to_json(&content),
            &departments(),
        )
        .unwrap();
        assert_eq!(from_json, content);
    }

    #[test]
    fn departments_import_from_csv_and_json_refusing_duplicates_by_row() {
        let departments = departments_from_csv(
            "code,name,name_en\nhealth,区卫生健康局,Health\njudicial,区司法局,",
        )
        .unwrap();
        assert_eq!(departments.len(), 2);
        let error = departments_from_csv(
            "code,name\nhealth,区卫生健康局\nHealth,卫健\nhealth,卫健\njudicial,",
        )
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 3, column \"code\": department code \"Health\" is malformed: expected lower-case letters, digits and single underscores, starting with a letter (e.g. urban_management)",
                "row 4, column \"code\": department code health appears more than once",
                "row 5, column \"name\": a value is required",
            ]
        );
        let json = departments_from_json(
            r#"{"departments": [{"code": "health", "name": "区卫生健康局"}]}"#,
        )
        .unwrap();
        assert!(json.contains(&DepartmentCode::parse("health").unwrap()));
    }

    fn known(codes: &[&str]) -> BTreeSet<ItemCode> {
        codes
            .iter()
            .map(|code| ItemCode::parse(code).unwrap())
            .collect()
    }

    #[test]
    fn a_catalogue_imports_matters_with_their_optional_tier() {
        let text = "code,name,name_en,item,tier\n\
                    broken_street_light,路灯损坏,Broken street light,SD-05-03,\n\
                    neighbour_noise,邻里噪声,Noise from neighbours,SC-03-01,front_line";
        let catalogue = catalogue_from_csv(text, &known(&["SD-05-03", "SC-03-01"])).unwrap();
        let noise = catalogue
            .get(&MatterCode::parse("neighbour_noise").unwrap())
            .unwrap();
        assert_eq!(noise.tier(), Some(Tier::FrontLine));
        assert_eq!(
            catalogue
                .get(&MatterCode::parse("broken_street_light").unwrap())
                .unwrap()
                .tier(),
            None
        );
    }

    #[test]
    fn a_matter_mapped_to_a_missing_item_is_refused_at_its_item_cell() {
        let text = "code,name,item\n\
                    broken_street_light,路灯损坏,SD-05-03\n\
                    illegal_construction,违法建设,SC-01-01\n\
                    broken_street_light,路灯,SD-05-03\n\
                    night_noise,噪声,SC-03-01,\n\
                    garbage_overflow,垃圾满溢,SD-6-1";
        let error = catalogue_from_csv(text, &known(&["SD-05-03"])).unwrap_err();
        assert_eq!(
            problems(error),
            [
                "row 3, column \"item\": matter illegal_construction maps to item SC-01-01, which is on no list",
                "row 4, column \"code\": duplicate matter code broken_street_light (first given as matter 1)",
                "row 5: expected 3 fields as in the header, found 4",
                "row 6, column \"item\": item code \"SD-6-1\" is malformed: expected <PREFIX>-<CC>-<NN> such as SD-01-03",
            ]
        );
    }

    #[test]
    fn a_catalogue_imports_from_json() {
        let text = r#"{"matters": [{"code": "night_noise", "name": "夜间噪声扰民", "item": "SC-03-01", "tier": "whistle"}]}"#;
        let catalogue = catalogue_from_json(text, &known(&["SC-03-01"])).unwrap();
        assert_eq!(catalogue.len(), 1);
        let error = catalogue_from_json(r#"{"matters": [{"code": "night_noise", "name": "噪声", "item": "SC-03-01", "tier": "loud"}]}"#, &known(&["SC-03-01"]))
            .unwrap_err();
        assert_eq!(
            problems(error),
            [
                "matters[0].tier: tier \"loud\" is not one of: front_line, coordination_meeting, whistle"
            ]
        );
    }

    #[test]
    fn an_import_error_says_how_many_problems_and_that_nothing_was_imported() {
        let error =
            catalogue_from_csv("code,name,item\nx,,SD-01-01", &known(&["SD-01-01"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 problem(s), nothing imported; row 2, column \"name\": a value is required"
        );
    }
}
