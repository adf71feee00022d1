//! Why the operation refuses a command.

use std::fmt;

use crate::domain::codes::AgencyCode;
use crate::domain::vocabulary::OperationState;

/// Why a step is refused. Each is a FAILED_PRECONDITION for the caller,
/// but [`Refusal::NotLead`], a PERMISSION_DENIED, and
/// [`Refusal::NotOfSummonedUnit`], an INVALID_ARGUMENT naming `officers`. A refusal only reaches a
/// caller who sees the operation (and may read its summonses), and names
/// no agency but the caller's own or those the operation shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the operation is {}; {step} needs it to be {needed}", .state.describe())]
    WrongState {
        state: OperationState,
        step: &'static str,
        needed: &'static str,
    },
    #[error("agency {agency} is not summoned to this operation")]
    NotSummoned { agency: AgencyCode },
    #[error("agency {agency} is already summoned to this operation")]
    AlreadySummoned { agency: AgencyCode },
    #[error("agency {agency} already reported in with other officers; its report stands")]
    AlreadyReportedIn { agency: AgencyCode },
    #[error("agency {agency} must report in before recording actions")]
    NotReportedIn { agency: AgencyCode },
    #[error("only the lead agency may {step}; agency {caller} does not lead this operation")]
    NotLead {
        step: &'static str,
        caller: AgencyCode,
    },
    #[error("not every summoned agency has reported in: waiting for {}", List(.missing))]
    AgenciesNotReportedIn { missing: Vec<AgencyCode> },
    #[error("not every summoned agency has recorded an action: waiting for {}", List(.missing))]
    AgenciesWithoutActions { missing: Vec<AgencyCode> },
    #[error("rectification orders are overdue and unchecked: {}; record their checks first", .orders.join(", "))]
    OverdueOrdersUnchecked { orders: Vec<String> },
    #[error("agency {agency} was already rated in this operation")]
    AlreadyRated { agency: AgencyCode },
    #[error("rectification order {order} {why}")]
    OrderNotCheckable { order: String, why: String },
    #[error("rectification order {order} is not past its deadline unchecked")]
    OrderNotOverdue { order: String },
    /// The caller's own agency's unit: naming it reveals nothing.
    #[error(
        "the report-in is made by an officer of the summoned unit {unit}: name at least one of its officers or of those on its running shift"
    )]
    NotOfSummonedUnit { unit: String },
}

/// Agency codes joined with commas.
struct List<'a>(&'a [AgencyCode]);

impl fmt::Display for List<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<&str> = self.0.iter().map(AgencyCode::as_str).collect();
        formatter.write_str(&codes.join(", "))
    }
}
