//! What the API, the triage saga, the deadline worker and the event handlers share: the
//! service's rules with their configuration, and saving a transition with its records
//! and events in the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::clock::Clock;
use crate::domain::calendar::{CalendarError, WorkingCalendar, WorkingDuration};
use crate::domain::lifecycle::{
    Actor, Assignee, Assignment, Case, Command, Tier, TransitionError, TransitionRecord,
};
use crate::domain::me_too::MeTooRule;
use crate::domain::sla::{Deadlines, SlaPolicy};
use crate::domain::units::{DepartmentCode, DutyUnit};
use crate::domain::values::UnitName;
use crate::events::{self, EventContext};
use crate::store::{self, StoredCase};

/// Why an operation on a case could not be done.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The lifecycle refused the command.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A deadline could not be computed on the calendar.
    #[error("cannot compute a deadline: {0}")]
    Calendar(#[from] CalendarError),
    /// The case lacks what the operation needs (e.g. a block to find its subdistrict).
    #[error("{0}")]
    Precondition(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The service's rules with their configuration, shared by every part of it.
#[derive(Debug, Clone)]
pub struct Shared {
    pub pool: PgPool,
    pub clock: Clock,
    pub calendar: WorkingCalendar,
    pub sla: SlaPolicy,
    pub me_too: MeTooRule,
}

/// Time limits from the duty lists for the matter at its default tier, when they gave
/// them: (acceptance, resolution).
pub type MatterLimits = Option<(WorkingDuration, WorkingDuration)>;

impl Shared {
    /// The deadlines of an assignment at `tier` given at `at`: the duty lists' limits for
    /// the matter when given, else the configured limits of the tier (and matter).
    pub fn deadlines(
        &self,
        case: &Case,
        tier: Tier,
        at: DateTime<Utc>,
        matter_limits: MatterLimits,
    ) -> Result<Deadlines, OpError> {
        let Some((acceptance, resolution)) = matter_limits else {
            let reckoning =
                self.sla
                    .assignment_deadlines(&self.calendar, case.matter(), tier, at)?;
            return Ok(reckoning.value);
        };
        let acceptance_due = self.calendar.add(at, acceptance)?.value;
        let resolution_due = self.calendar.add(at, resolution)?.value;
        Ok(Deadlines {
            acceptance_due,
            resolution_due: resolution_due.max(acceptance_due),
        })
    }

    /// An assignment of `assignee` at `tier` from `at`.
    pub fn assignment(
        &self,
        case: &Case,
        tier: Tier,
        assignee: Assignee,
        at: DateTime<Utc>,
    ) -> Result<Assignment, OpError> {
        Ok(self.deadlines(case, tier, at, None)?.assign_to(assignee))
    }

    /// The resolution deadline of a rework starting at `at`.
    pub fn rework_due(&self, case: &Case, at: DateTime<Utc>) -> Result<DateTime<Utc>, OpError> {
        let tier = case.tier().unwrap_or(Tier::FrontLine);
        Ok(self
            .sla
            .rework_deadline(&self.calendar, case.matter(), tier, at)?
            .value)
    }

    /// Who takes a case escalated (or reassigned) to `tier`, and the agencies a whistle
    /// names: the subdistrict platform for a meeting; for the whistle, the first of the
    /// agencies (given, or the duty lists' lead and cooperating departments), or the
    /// subdistrict platform when none is known.
    pub async fn tier_handler(
        &self,
        connection: &mut PgConnection,
        stored: &StoredCase,
        tier: Tier,
        agencies: Option<Vec<DepartmentCode>>,
    ) -> Result<(Assignee, Vec<DepartmentCode>), OpError> {
        let block = stored.block().ok_or_else(|| {
            OpError::Precondition("the case has no block, so no subdistrict to take it".into())
        })?;
        let platform = UnitName::platform(block.subdistrict());
        match tier {
            Tier::FrontLine => {
                let governor = stored
                    .extras
                    .team
                    .as_ref()
                    .and_then(|team| team.governor.as_deref())
                    .and_then(|id| crate::domain::values::StaffId::parse(id).ok());
                Ok((
                    governor
                        .map(Assignee::Staff)
                        .unwrap_or(Assignee::Unit(platform)),
                    Vec::new(),
                ))
            }
            Tier::CoordinationMeeting => Ok((Assignee::Unit(platform), Vec::new())),
            Tier::Whistle => {
                let agencies = match agencies.filter(|given| !given.is_empty()) {
                    Some(given) => given,
                    None => self.known_agencies(connection, stored).await?,
                };
                let assignee = agencies
                    .first()
                    .map(|agency| Assignee::Unit(DutyUnit::Department(agency.clone()).unit_name()))
                    .unwrap_or(Assignee::Unit(platform));
                Ok((assignee, agencies))
            }
        }
    }

    /// The departments the duty lists name for the case's matter (lead first), from the
    /// responsibility triage recorded, else from the local catalogue.
    async fn known_agencies(
        &self,
        connection: &mut PgConnection,
        stored: &StoredCase,
    ) -> Result<Vec<DepartmentCode>, OpError> {
        let mut agencies = Vec::new();
        if let Some(responsibility) = &stored.extras.responsibility {
            if let DutyUnit::Department(lead) = &responsibility.lead {
                agencies.push(lead.clone());
            }
            agencies.extend(responsibility.cooperating.iter().cloned());
        } else if let Some(code) = stored.case.matter().code() {
            agencies.extend(
                store::catalogue_departments(connection, code.as_str())
                    .await?
                    .iter()
                    .filter_map(|code| DepartmentCode::parse(code).ok()),
            );
        }
        let mut distinct: Vec<DepartmentCode> = Vec::new();
        for agency in agencies {
            if !distinct.contains(&agency) {
                distinct.push(agency);
            }
        }
        Ok(distinct)
    }
}

/// Applies `command` to the stored case, appending its records to `records`.
pub fn apply(
    stored: &mut StoredCase,
    actor: Actor,
    command: Command,
    at: DateTime<Utc>,
    records: &mut Vec<TransitionRecord>,
) -> Result<(), TransitionError> {
    records.extend(stored.case.apply(actor, command, at)?);
    Ok(())
}

/// Saves the case, its new records and their events, in the caller's transaction.
pub async fn persist(
    connection: &mut PgConnection,
    stored: &mut StoredCase,
    records: &[TransitionRecord],
    context: &EventContext,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    stored.updated_at = at;
    store::save_case(&mut *connection, stored).await?;
    store::insert_records(&mut *connection, records).await?;
    events::publish_records(connection, stored, records, context).await
}
