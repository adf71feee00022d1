//! Pure types and rules of joint enforcement, with their unit tests. Nothing
//! here knows of gRPC, SQL or NATS.

pub mod action;
pub mod codes;
pub mod duty;
pub mod indicators;
pub mod limits;
pub mod operation;
pub mod selection;
pub mod text;
pub mod visibility;
pub mod vocabulary;

pub use action::{ActionDetails, ActionKind, Attachment, Marking, NewAction, RectificationStatus};
pub use codes::{
    ActionName, AgencyCode, BlockCode, CaseName, InvalidValue, MatterCode, OfficerName,
    OperationName, ShiftName, SubdistrictCode, UnitName, name_of_agency, parse_agency,
};
pub use limits::{LimitDuration, ReportInLimits};
pub use operation::{Command, ConclusionKind, Facts, Operation, Record, Refusal};
pub use text::Text;
pub use visibility::Viewer;
pub use vocabulary::{AgencySelection, OperationState, Outcome, WhistleSource};
