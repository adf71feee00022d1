//! Pure types and rules of joint enforcement, with their unit tests.

pub mod action;
pub mod codes;
pub mod indicators;
pub mod limits;
pub mod operation;
pub mod selection;
pub mod text;
pub mod visibility;

pub use action::{ActionDetails, ActionKind, Attachment, RectificationStatus};
pub use codes::{
    ActionName, AgencyCode, BlockCode, CaseName, InvalidValue, MatterCode, OfficerName,
    OperationName, SubdistrictCode, UnitName,
};
pub use limits::{LimitDuration, ReportInLimits};
pub use operation::{
    AgencySelection, OperationState, Outcome, Refusal, SummonsFacts, WhistleSource,
};
pub use text::Text;
pub use visibility::Viewer;
