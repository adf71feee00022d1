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

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value as Json;

use super::catalogue::{CatalogueViolation, Matter, MatterCatalogue, MatterNameEmpty};
use super::department::{Department, DepartmentError, Departments};
use super::duration::{DurationError, WorkingDuration};
use super::item::{ItemFields, ItemViolation, ListItem};
use super::item_code::{ItemCode, ItemCodeError};
use super::kinds::{HandlingLevel, ListKind, Tier, UnknownVariant};
use super::list::{ListContent, ListViolation};
use flatgov_vocabulary::{DepartmentCode, MatterCode, SnakeCodeError};

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
    /// A department or matter code is malformed.
    #[error(transparent)]
    Code(#[from] SnakeCodeError),
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

mod export;
mod source;
#[cfg(test)]
mod tests;

pub use export::{list_to_csv, list_to_json};
use source::{
    CATALOGUE_SHAPE, DEPARTMENT_SHAPE, LIST_SHAPE, Problems, Record, located, read_csv, read_json,
    sort_by_input_order,
};

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
