//! The joint operation aggregate: its states and the steps between them, as
//! a pure state machine.
//!
//! A whistle creates an operation with [`Operation::blow`] (still resolving
//! its agencies); storage brings one back with [`Operation::restore`]. It
//! changes only through [`Operation::apply`], which takes who acts, what
//! they ask ([`Command`]) and when, checks the guards, and returns the
//! [`Record`]s the store persists and the outbox publishes, in order. A
//! refused command returns a [`Refusal`] naming the current state or the
//! missing fact, and leaves the operation exactly as it was.
//!
//! ```text
//!   blow ──▶ resolving_agencies ──open──▶ open ──conclude──▶ concluded ◀─┐
//!                  │                       │ ▲                  │       │
//!                cancel                 cancel │              mark_order_ │conclude
//!                  ▼                       ▼   │              overdue     │
//!              cancelled ◀─────────────────┘   │                  ▼       │
//!                                              │              follow_up ──┘
//!   side steps while open:  summon, report_in, record_action, mark_order_overdue
//!   side steps in follow-up: record_action (the check of the overdue order)
//!   after the conclusion:    rate (concluded or in follow-up)
//! ```
//!
//! # Guards
//!
//! - Open: only while the agencies are being resolved.
//! - Summon: the operation is open and the agency not yet summoned.
//! - Report in: a summoned agency, while the operation is open, by an
//!   officer of the unit the summons went to (one of the officers named
//!   belongs to it or is on its running shift) when it went to a unit. A
//!   report naming the officers already reported is a harmless retry (no
//!   records); another report after the first is refused. A late agency
//!   still reports and is counted late.
//! - Record an action: open or in follow-up; the agency reported in. A
//!   rectification check refers to an unchecked rectification order the
//!   same agency issued in this operation.
//! - Conclude: open or in follow-up; only the lead agency; every summoned
//!   agency has reported in and recorded an action; no rectification
//!   order is past its deadline unchecked. Concluding a follow-up closes
//!   it ([`ConclusionKind::FollowUpClosed`]).
//! - Cancel: before the conclusion (resolving its agencies or open).
//! - Rate: concluded or in follow-up; a summoned agency; once per agency.
//! - Mark an order overdue (the deadline worker): an unchecked order whose
//!   deadline passed, not marked before, in an operation not cancelled; a
//!   concluded operation reopens into follow-up.
//!
//! Who may ask is not the aggregate's business: the policy table and the
//! scope checks (`crate::access`) decide that before a command is built.
//! The acting agency of an officer's command is part of the command. The
//! report-in clocks' late marks are the deadline worker's: a flag on the
//! summons that moves no state and is written by its claim query.

mod refusal;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use refusal::Refusal;

use super::action::{ActionDetails, NewAction};
use super::codes::AgencyCode;
use super::duty::Assignment;
use super::limits::ReportInLimits;
use super::selection::Selection;
use super::vocabulary::{AgencySelection, OperationState, Outcome};

/// What never changes about an operation once its whistle is blown.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The operation's id (`operations/{id}`).
    pub id: Uuid,
    /// `cases/{id}` the whistle came from, if any.
    pub case: Option<String>,
    /// 9-digit subdistrict code.
    pub subdistrict: String,
    /// 15-digit block code, when known.
    pub block: Option<String>,
    /// Matter catalogue code, when known.
    pub matter: Option<String>,
    /// Urgent whistles get the short report-in limit.
    pub urgent: bool,
    /// When the whistle was blown.
    pub blown_at: DateTime<Utc>,
}

impl Facts {
    /// `operations/{id}`.
    pub fn resource(&self) -> String {
        format!("operations/{}", self.id)
    }

    /// The division the operation is placed in: its block, or its
    /// subdistrict when the block is not known.
    pub fn place(&self) -> &str {
        self.block.as_deref().unwrap_or(&self.subdistrict)
    }
}

/// One agency's summons as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summons {
    /// The agency summoned.
    pub agency: AgencyCode,
    /// Order of summoning; the lead is first.
    pub position: i32,
    /// When the agency must have reported in.
    pub report_in_due: DateTime<Utc>,
    /// The unit the summons went to (its on-duty unit in the subdistrict,
    /// or its duty desk), if any.
    pub unit: Option<Uuid>,
    /// Whether it reported in.
    pub reported_in: bool,
    /// The officers it sent (ids, sorted), once reported in.
    pub officers: Vec<Uuid>,
    /// Actions it recorded.
    pub actions_recorded: u32,
}

/// A rectification order issued in the operation, with its clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order's action id.
    pub id: Uuid,
    /// The agency that issued it (and alone checks it).
    pub agency: AgencyCode,
    /// Its deadline.
    pub due: DateTime<Utc>,
    /// Marked overdue: the deadline passed unchecked.
    pub overdue: bool,
    /// Checked (complied or not).
    pub checked: bool,
}

/// Every field of an operation the rules use, for the store to load.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// What never changes.
    pub facts: Facts,
    /// Where it stands.
    pub state: OperationState,
    /// The lead agency, once the agencies are known.
    pub lead: Option<AgencyCode>,
    /// Summonses in summoning order.
    pub summonses: Vec<Summons>,
    /// Agencies already rated.
    pub rated: Vec<AgencyCode>,
    /// Rectification orders issued.
    pub orders: Vec<Order>,
}

/// What someone asks an operation to do. [`Operation::apply`] checks and
/// performs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// The agencies are chosen: the operation opens and summons each, the
    /// lead first (resolving_agencies → open).
    Open {
        /// The agencies, the lead first, and how they were chosen.
        selection: Selection,
        /// How long a summoned agency has to report in.
        limits: ReportInLimits,
        /// Where each agency's summons goes, read from the rosters at the
        /// moment of the summons; an agency missing here is summoned as a
        /// whole.
        assignments: Vec<(AgencyCode, Assignment)>,
    },
    /// Summon one more agency, with its own deadline.
    Summon {
        /// The agency.
        agency: AgencyCode,
        /// How long it has to report in.
        limits: ReportInLimits,
        /// Where its summons goes.
        assignment: Assignment,
    },
    /// A summoned agency reports in with the officers it sends.
    ReportIn {
        /// The agency reporting (the caller's).
        agency: AgencyCode,
        /// The officers sent (ids, at least one).
        officers: Vec<Uuid>,
        /// The unit dispatched, if named; by default the unit summoned.
        unit: Option<Uuid>,
        /// The agency's note.
        note: String,
        /// The units the officers named belong to at the moment of the
        /// report: their own units and those on whose running shift they
        /// are.
        officer_units: Vec<Uuid>,
    },
    /// A reported-in agency records what it did.
    RecordAction(NewAction),
    /// The lead agency concludes.
    Conclude {
        /// The agency concluding (the caller's).
        agency: AgencyCode,
        /// How it ended.
        outcome: Outcome,
        /// What was achieved.
        summary: String,
    },
    /// Cancel before the conclusion.
    Cancel {
        /// Why.
        reason: String,
    },
    /// The subdistrict rates one agency's cooperation.
    Rate {
        /// The agency rated.
        agency: AgencyCode,
        /// 1 (poor) to 5 (excellent).
        score: i16,
        /// Why.
        comment: String,
    },
    /// A rectification order's deadline passed without a check.
    MarkOrderOverdue {
        /// The order's action id.
        order: Uuid,
    },
}

/// What a conclusion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConclusionKind {
    /// The first conclusion of an open operation: it moves the case on.
    First,
    /// Closing a follow-up: the case has already moved on.
    FollowUpClosed,
}

/// What happened, for the store to persist and the outbox to publish, in
/// the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The agencies were chosen; the operation is open.
    Opened {
        /// The lead agency.
        lead: AgencyCode,
        /// Every agency summoned, the lead first.
        agencies: Vec<AgencyCode>,
        /// How they were chosen.
        how: AgencySelection,
        /// Why the selection is what it is.
        note: String,
    },
    /// An agency was summoned; its report-in clock runs from now.
    Summoned {
        /// The agency.
        agency: AgencyCode,
        /// Its place in summoning order.
        position: i32,
        /// Whether it leads.
        lead: bool,
        /// When it must have reported in.
        report_in_due: DateTime<Utc>,
        /// The unit it went to, and the gap when that is not an on-duty
        /// unit stationed in the subdistrict.
        assignment: Assignment,
    },
    /// An agency reported in.
    ReportedIn {
        /// The agency.
        agency: AgencyCode,
        /// The officers it sent (ids, sorted).
        officers: Vec<Uuid>,
        /// The unit dispatched, if named.
        unit: Option<Uuid>,
        /// Its note.
        note: String,
        /// Who reported (token subject).
        by: String,
        /// Its deadline.
        report_in_due: DateTime<Utc>,
        /// Whether it reported by the deadline.
        on_time: bool,
    },
    /// An agency recorded an action.
    ActionRecorded {
        /// The action.
        action: NewAction,
        /// Who recorded it (token subject).
        by: String,
    },
    /// A rectification order was checked.
    OrderChecked {
        /// The order's action id.
        order: Uuid,
        /// Whether it was complied with.
        complied: bool,
    },
    /// The lead agency concluded.
    Concluded {
        /// How it ended.
        outcome: Outcome,
        /// What was achieved.
        summary: String,
        /// Who concluded (token subject).
        by: String,
        /// First conclusion, or a follow-up closed.
        kind: ConclusionKind,
    },
    /// The operation was cancelled.
    Cancelled {
        /// Why.
        reason: String,
        /// Who cancelled (token subject).
        by: String,
    },
    /// An agency was rated.
    Rated {
        /// The agency.
        agency: AgencyCode,
        /// 1 to 5.
        score: i16,
        /// Why.
        comment: String,
        /// Who rated (token subject).
        by: String,
    },
    /// A rectification order passed its deadline unchecked.
    OrderOverdue {
        /// The order's action id.
        order: Uuid,
        /// The agency that issued it.
        agency: AgencyCode,
        /// Its deadline.
        due: DateTime<Utc>,
    },
    /// A concluded operation reopened because of the overdue order.
    FollowUpOpened {
        /// The order's action id.
        order: Uuid,
    },
}

/// The operation aggregate. Build it with [`Operation::blow`] or
/// [`Operation::restore`]; change it with [`Operation::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The snapshot's fields are the operation's; `Operation` only guards
    /// who changes them.
    inner: Snapshot,
}

impl Operation {
    /// A whistle just blown: its agencies are still to be chosen.
    pub fn blow(facts: Facts) -> Self {
        Self {
            inner: Snapshot {
                facts,
                state: OperationState::ResolvingAgencies,
                lead: None,
                summonses: Vec::new(),
                rated: Vec::new(),
                orders: Vec::new(),
            },
        }
    }

    /// An operation as stored.
    pub fn restore(snapshot: Snapshot) -> Self {
        Self { inner: snapshot }
    }

    pub fn facts(&self) -> &Facts {
        &self.inner.facts
    }

    pub fn state(&self) -> OperationState {
        self.inner.state
    }

    pub fn lead(&self) -> Option<&AgencyCode> {
        self.inner.lead.as_ref()
    }

    /// The agencies summoned, in summoning order.
    pub fn summoned(&self) -> impl Iterator<Item = &AgencyCode> {
        self.inner.summonses.iter().map(|summons| &summons.agency)
    }

    /// Rectification orders whose deadline passed by `at` unchecked and
    /// not yet marked overdue.
    pub fn orders_due(&self, at: DateTime<Utc>) -> Vec<Uuid> {
        self.inner
            .orders
            .iter()
            .filter(|order| !order.checked && !order.overdue && order.due <= at)
            .map(|order| order.id)
            .collect()
    }

    /// Performs `command` for `by` (a token subject) at `at`, or refuses
    /// it and changes nothing.
    pub fn apply(
        &mut self,
        by: &str,
        command: Command,
        at: DateTime<Utc>,
    ) -> Result<Vec<Record>, Refusal> {
        let mut next = self.inner.clone();
        let records = match command {
            Command::Open {
                selection,
                limits,
                assignments,
            } => open(&mut next, selection, limits, &assignments, at)?,
            Command::Summon {
                agency,
                limits,
                assignment,
            } => summon(&mut next, agency, limits, assignment, at)?,
            Command::ReportIn {
                agency,
                officers,
                unit,
                note,
                officer_units,
            } => report_in(
                &mut next,
                by,
                Report {
                    agency,
                    officers,
                    unit,
                    note,
                    officer_units,
                },
                at,
            )?,
            Command::RecordAction(action) => record_action(&mut next, by, action)?,
            Command::Conclude {
                agency,
                outcome,
                summary,
            } => conclude(&mut next, by, agency, outcome, summary, at)?,
            Command::Cancel { reason } => {
                require_state(
                    next.state,
                    "cancelling",
                    &[OperationState::ResolvingAgencies, OperationState::Open],
                    "resolving its agencies or open",
                )?;
                next.state = OperationState::Cancelled;
                vec![Record::Cancelled {
                    reason,
                    by: by.to_owned(),
                }]
            }
            Command::Rate {
                agency,
                score,
                comment,
            } => rate(&mut next, by, agency, score, comment)?,
            Command::MarkOrderOverdue { order } => mark_order_overdue(&mut next, order, at)?,
        };
        self.inner = next;
        Ok(records)
    }
}

fn require_state(
    state: OperationState,
    step: &'static str,
    allowed: &[OperationState],
    needed: &'static str,
) -> Result<(), Refusal> {
    if allowed.contains(&state) {
        return Ok(());
    }
    Err(Refusal::WrongState {
        state,
        step,
        needed,
    })
}

fn summons_of<'a>(
    operation: &'a mut Snapshot,
    agency: &AgencyCode,
) -> Result<&'a mut Summons, Refusal> {
    operation
        .summonses
        .iter_mut()
        .find(|summons| &summons.agency == agency)
        .ok_or_else(|| Refusal::NotSummoned {
            agency: agency.clone(),
        })
}

fn open(
    operation: &mut Snapshot,
    selection: Selection,
    limits: ReportInLimits,
    assignments: &[(AgencyCode, Assignment)],
    at: DateTime<Utc>,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "opening",
        &[OperationState::ResolvingAgencies],
        "still resolving its agencies",
    )?;
    let lead = selection.lead().clone();
    let mut records = vec![Record::Opened {
        lead: lead.clone(),
        agencies: selection.agencies.clone(),
        how: selection.how,
        note: selection.note,
    }];
    operation.state = OperationState::Open;
    operation.lead = Some(lead.clone());
    for agency in selection.agencies {
        let position = i32::try_from(operation.summonses.len()).unwrap_or(i32::MAX);
        let is_lead = agency == lead;
        let assignment = assignments
            .iter()
            .find(|(assigned, _)| *assigned == agency)
            .map(|(_, assignment)| *assignment)
            .unwrap_or_default();
        records.push(add_summons(
            operation,
            NewSummons {
                agency,
                position,
                lead: is_lead,
                assignment,
            },
            limits,
            at,
        ));
    }
    Ok(records)
}

/// A summons about to be issued.
struct NewSummons {
    agency: AgencyCode,
    position: i32,
    lead: bool,
    assignment: Assignment,
}

fn add_summons(
    operation: &mut Snapshot,
    summons: NewSummons,
    limits: ReportInLimits,
    at: DateTime<Utc>,
) -> Record {
    let NewSummons {
        agency,
        position,
        lead,
        assignment,
    } = summons;
    let report_in_due = limits.deadline(operation.facts.urgent, at);
    operation.summonses.push(Summons {
        agency: agency.clone(),
        position,
        unit: assignment.unit,
        report_in_due,
        reported_in: false,
        officers: Vec::new(),
        actions_recorded: 0,
    });
    Record::Summoned {
        agency,
        position,
        lead,
        report_in_due,
        assignment,
    }
}

fn summon(
    operation: &mut Snapshot,
    agency: AgencyCode,
    limits: ReportInLimits,
    assignment: Assignment,
    at: DateTime<Utc>,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "summoning an agency",
        &[OperationState::Open],
        "open",
    )?;
    if operation
        .summonses
        .iter()
        .any(|summons| summons.agency == agency)
    {
        return Err(Refusal::AlreadySummoned { agency });
    }
    let position = operation
        .summonses
        .iter()
        .map(|summons| summons.position)
        .max()
        .unwrap_or(-1)
        + 1;
    Ok(vec![add_summons(
        operation,
        NewSummons {
            agency,
            position,
            lead: false,
            assignment,
        },
        limits,
        at,
    )])
}

/// A report-in as the command gave it.
struct Report {
    agency: AgencyCode,
    officers: Vec<Uuid>,
    unit: Option<Uuid>,
    note: String,
    officer_units: Vec<Uuid>,
}

fn report_in(
    operation: &mut Snapshot,
    by: &str,
    report: Report,
    at: DateTime<Utc>,
) -> Result<Vec<Record>, Refusal> {
    let Report {
        agency,
        mut officers,
        unit,
        note,
        officer_units,
    } = report;
    // No agency is summoned yet while the agencies are being resolved.
    if operation.state == OperationState::ResolvingAgencies {
        return Err(Refusal::WrongState {
            state: operation.state,
            step: "reporting in",
            needed: "open",
        });
    }
    officers.sort();
    officers.dedup();
    let state = operation.state;
    let summons = summons_of(operation, &agency)?;
    if summons.reported_in {
        if summons.officers == officers {
            // A retried report: the first one stands, nothing changes.
            return Ok(Vec::new());
        }
        return Err(Refusal::AlreadyReportedIn { agency });
    }
    require_state(state, "reporting in", &[OperationState::Open], "open")?;
    if let Some(summoned_unit) = summons.unit
        && !officer_units.contains(&summoned_unit)
    {
        return Err(Refusal::NotOfSummonedUnit {
            unit: format!("agencies/{agency}/units/{summoned_unit}"),
        });
    }
    summons.reported_in = true;
    summons.officers = officers.clone();
    Ok(vec![Record::ReportedIn {
        agency,
        officers,
        unit: unit.or(summons.unit),
        note,
        by: by.to_owned(),
        report_in_due: summons.report_in_due,
        on_time: at <= summons.report_in_due,
    }])
}

fn record_action(
    operation: &mut Snapshot,
    by: &str,
    action: NewAction,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "recording an action",
        &[OperationState::Open, OperationState::FollowUp],
        "open or in follow-up",
    )?;
    let summons = summons_of(operation, &action.agency)?;
    if !summons.reported_in {
        return Err(Refusal::NotReportedIn {
            agency: action.agency,
        });
    }
    summons.actions_recorded += 1;
    let mut records = Vec::new();
    let mut checked = None;
    match &action.details {
        ActionDetails::RectificationOrder { deadline, .. } => {
            operation.orders.push(Order {
                id: action.id,
                agency: action.agency.clone(),
                due: *deadline,
                overdue: false,
                checked: false,
            });
        }
        ActionDetails::RectificationCheck {
            rectification_order,
            complied,
            ..
        } => {
            let resource = operation.facts.resource();
            let refuse = |why: &str| Refusal::OrderNotCheckable {
                order: format!("{resource}/actions/{rectification_order}"),
                why: why.to_owned(),
            };
            let order = operation
                .orders
                .iter_mut()
                .find(|order| order.id == *rectification_order)
                .ok_or_else(|| refuse("is not a rectification order of this operation"))?;
            if order.agency != action.agency {
                return Err(refuse(
                    "was issued by another agency; only that agency checks it",
                ));
            }
            if order.checked {
                return Err(refuse("has already been checked"));
            }
            order.checked = true;
            checked = Some(Record::OrderChecked {
                order: order.id,
                complied: *complied,
            });
        }
        _ => {}
    }
    records.push(Record::ActionRecorded {
        action,
        by: by.to_owned(),
    });
    records.extend(checked);
    Ok(records)
}

fn conclude(
    operation: &mut Snapshot,
    by: &str,
    agency: AgencyCode,
    outcome: Outcome,
    summary: String,
    at: DateTime<Utc>,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "concluding",
        &[OperationState::Open, OperationState::FollowUp],
        "open or in follow-up",
    )?;
    if operation.lead.as_ref() != Some(&agency) {
        return Err(Refusal::NotLead {
            step: "conclude",
            caller: agency,
        });
    }
    let waiting: Vec<AgencyCode> = operation
        .summonses
        .iter()
        .filter(|summons| !summons.reported_in)
        .map(|summons| summons.agency.clone())
        .collect();
    if !waiting.is_empty() {
        return Err(Refusal::AgenciesNotReportedIn { missing: waiting });
    }
    let silent: Vec<AgencyCode> = operation
        .summonses
        .iter()
        .filter(|summons| summons.actions_recorded == 0)
        .map(|summons| summons.agency.clone())
        .collect();
    if !silent.is_empty() {
        return Err(Refusal::AgenciesWithoutActions { missing: silent });
    }
    let resource = operation.facts.resource();
    let mut unchecked: Vec<&Order> = operation
        .orders
        .iter()
        .filter(|order| !order.checked && (order.overdue || order.due <= at))
        .collect();
    unchecked.sort_by_key(|order| order.due);
    if !unchecked.is_empty() {
        return Err(Refusal::OverdueOrdersUnchecked {
            orders: unchecked
                .iter()
                .map(|order| format!("{resource}/actions/{}", order.id))
                .collect(),
        });
    }
    let kind = match operation.state {
        OperationState::FollowUp => ConclusionKind::FollowUpClosed,
        _ => ConclusionKind::First,
    };
    operation.state = OperationState::Concluded;
    Ok(vec![Record::Concluded {
        outcome,
        summary,
        by: by.to_owned(),
        kind,
    }])
}

fn rate(
    operation: &mut Snapshot,
    by: &str,
    agency: AgencyCode,
    score: i16,
    comment: String,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "rating an agency",
        &[OperationState::Concluded, OperationState::FollowUp],
        "concluded",
    )?;
    summons_of(operation, &agency)?;
    if operation.rated.contains(&agency) {
        return Err(Refusal::AlreadyRated { agency });
    }
    operation.rated.push(agency.clone());
    Ok(vec![Record::Rated {
        agency,
        score,
        comment,
        by: by.to_owned(),
    }])
}

fn mark_order_overdue(
    operation: &mut Snapshot,
    order_id: Uuid,
    at: DateTime<Utc>,
) -> Result<Vec<Record>, Refusal> {
    require_state(
        operation.state,
        "marking an order overdue",
        &[
            OperationState::Open,
            OperationState::Concluded,
            OperationState::FollowUp,
        ],
        "not cancelled",
    )?;
    let resource = operation.facts.resource();
    let order = operation
        .orders
        .iter_mut()
        .find(|order| order.id == order_id)
        .filter(|order| !order.checked && !order.overdue && order.due <= at)
        .ok_or_else(|| Refusal::OrderNotOverdue {
            order: format!("{resource}/actions/{order_id}"),
        })?;
    order.overdue = true;
    let mut records = vec![Record::OrderOverdue {
        order: order.id,
        agency: order.agency.clone(),
        due: order.due,
    }];
    if operation.state == OperationState::Concluded {
        operation.state = OperationState::FollowUp;
        records.push(Record::FollowUpOpened { order: order_id });
    }
    Ok(records)
}
