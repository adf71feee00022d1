//! Pure rules: the catalogue's matters and the errand's track. No I/O.

pub mod catalogue;
pub mod errand;

pub use catalogue::{CatalogueMatter, ChecklistItem, MatterError};
pub use errand::{
    Action, Channel, DecisionResult, ErrandState, TellingChannel, TransitionError,
    missing_materials, trips_saved,
};

/// `errands/{id}`.
pub fn errand_name(id: uuid::Uuid) -> String {
    format!("errands/{id}")
}

/// `catalogue/versions/{n}`.
pub fn catalogue_name(version: u32) -> String {
    format!("catalogue/versions/{version}")
}
