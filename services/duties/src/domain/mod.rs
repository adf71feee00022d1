//! The duty lists domain: pure types and rules, no I/O.
//!
//! - [`slugs`] (area and exception ids), [`ItemCode`], [`kinds`], [`duration`]: the service's own
//!   words (parse, don't validate); department, matter and division codes are
//!   `flatgov_vocabulary`'s.
//! - [`Department`]/[`Departments`], [`ListItem`], [`ListContent`]: what a list holds.
//! - [`DraftList`], [`PublishedList`], [`ListHistory`], [`DutyLists`], [`diff()`]: versions.
//! - [`Matter`]/[`MatterCatalogue`]: what cases are classified against.
//! - [`import`]: the CSV and JSON shapes of lists, departments and the catalogue.
//! - [`resolution`]: who is responsible for a matter at a place, exceptions included.
//! - [`gate`]: whether one unit may assign a matter to another.
//! - [`mod@reference`]: the synthetic reference district's data, embedded.
//! - [`names`]: the resource names of what the service holds.

pub mod diff;
pub mod duration;
pub mod gate;
pub mod import;
pub mod kinds;
pub mod names;
pub mod reference;
pub mod resolution;
pub mod slugs;

mod catalogue;
mod department;
mod item;
mod item_code;
mod list;
mod version;

pub use catalogue::{
    CatalogueInvalid, CatalogueProblem, CatalogueViolation, Matter, MatterCatalogue,
    MatterNameEmpty,
};
pub use department::{Department, DepartmentError, Departments};
pub use diff::{ItemChange, ListDiff, diff};
pub use duration::{DurationError, WorkingDuration, WorkingUnit};
pub use gate::{Allowance, AssignmentDecision, GateError, Refusal, RefusalReason, Unit, UnitType};
pub use import::{ImportError, ImportProblem, Problem, SourceLocation};
pub use item::{ItemField, ItemFields, ItemInvalid, ItemViolation, ListItem, Responsible};
pub use item_code::{ItemCode, ItemCodeError};
pub use kinds::{HandlingLevel, ListKind, Tier, UnknownVariant};
pub use list::{ListContent, ListInvalid, ListProblem, ListViolation};
pub use resolution::{
    DutyRules, ExceptionProblem, ExceptionScope, ExceptionViolation, ExceptionsInvalid, Location,
    LocationError, PlaceException, PlaceExceptions, PlaceRef, PlaceSpecificity, ResolveError,
    Responsibility,
};
pub use slugs::{AreaId, ExceptionId, SlugError};
pub use version::{
    DraftList, DutyLists, ItemRef, ItemStatus, ListHistory, ListsInEffect, NotInEffect,
    PublishError, PublishedList, VersionNumber,
};
