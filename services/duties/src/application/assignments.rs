//! The gate: whether one unit may assign a matter to another under the
//! lists in force, recording (and counting) every refusal.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::{Access, Resource};
use flatgov_vocabulary::MatterCode;

use super::refusals::{Refusal, visible_refusal};
use super::retries::{self, Remembered, Retry};
use super::{Duties, record_audit};
use crate::domain::names::{matter_name, refusal_name, uuid_in, version_name};
use crate::domain::{AssignmentDecision, GateError, ItemCode, ItemStatus, Location, Unit};
use crate::error::Error;
use crate::events;
use crate::metrics::RefusalLabels;
use crate::store;
use crate::store::refusals::{NewRefusal, StoredUnit};

/// Check whether `from` may assign `matter` to `to`.
#[derive(Debug, Clone)]
pub struct CheckAssignment {
    pub matter: MatterCode,
    pub from: Unit,
    pub to: Unit,
    /// The instant whose lists apply.
    pub at: DateTime<Utc>,
    /// Where the matter is, so the unit responsible instead can be named
    /// concretely; else where the units are.
    pub place: Option<Location>,
    /// The case it is for (`cases/{id}`).
    pub case: Option<String>,
    /// Who is attempting it, as the caller says; the caller when empty.
    pub attempted_by: String,
    pub retry: Option<Retry>,
}

/// What the gate said.
#[derive(Debug, Clone)]
pub enum Answer {
    Allowed {
        item: ItemCode,
        /// The version in effect that has the item, if any.
        version_in_effect: Option<String>,
    },
    /// Boxed: a refusal is a whole record, an allowance two fields.
    Refused(Box<Refusal>),
}

/// The division code of a unit that is a place (not a department).
pub(super) fn unit_division(unit: &Unit) -> Option<&str> {
    match unit {
        Unit::Department(_) => None,
        Unit::Subdistrict(code) => Some(code.as_str()),
        Unit::Community(code) => Some(code.as_str()),
        Unit::BlockTeam(code) => Some(code.as_str()),
    }
}

/// Whether the caller may ask about assigning from `from` to `to`: one of
/// the units is a division it reaches, or its own department.
fn reaches_assignment(access: &Access, from: &Unit, to: &Unit) -> bool {
    let departments: Vec<&str> = [from, to]
        .into_iter()
        .filter_map(|unit| match unit {
            Unit::Department(code) => Some(code.as_str()),
            _ => None,
        })
        .collect();
    [from, to].into_iter().any(|unit| {
        access.reaches(&Resource {
            division: unit_division(unit),
            organisations: &departments,
            ..Resource::default()
        })
    })
}

/// Where a unit is: a block team's block, a community, a subdistrict; a
/// department is nowhere in particular.
fn unit_location(unit: &Unit) -> Location {
    match unit {
        Unit::Department(_) => Location::unknown(),
        Unit::Subdistrict(code) => Location::in_subdistrict(*code),
        Unit::Community(code) => Location::in_community(*code),
        Unit::BlockTeam(code) => Location::in_block(*code),
    }
}

pub async fn check(
    duties: &Duties,
    access: &Access,
    command: CheckAssignment,
) -> Result<Answer, Error> {
    if !reaches_assignment(access, &command.from, &command.to) {
        // The units are public; asking about them is what is refused.
        return Err(Error::PermissionDenied(
            "the assignment involves neither the caller's department nor a division in its jurisdiction"
                .into(),
        ));
    }
    access
        .audit()
        .resource(matter_name(command.matter.as_str()));
    if let Some(first) = retries::recall(&duties.pool, access, command.retry.as_ref()).await? {
        return replayed(duties, access, first).await;
    }
    let rules = duties.rules.current(&duties.pool).await?;
    let decision = match rules.duty_rules().check_assignment(
        &command.matter,
        &command.from,
        &command.to,
        command.at,
    ) {
        Ok(decision) => decision,
        Err(GateError::UnknownMatter { matter }) => {
            return Err(Error::NotFound(format!(
                "matter {matter} is not in the matter catalogue"
            )));
        }
    };
    let item = rules
        .catalogue
        .get(&command.matter)
        .map(|matter| matter.item())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "matter {} is not in the matter catalogue",
                command.matter
            ))
        })?;
    let refusal = match decision {
        AssignmentDecision::Allowed(_) => {
            let version_in_effect = match rules.lists.in_effect_at(command.at).item_status(item) {
                ItemStatus::InEffect { version, .. } => {
                    Some(version_name(item.list(), version.number()))
                }
                ItemStatus::NotInEffect(_) => None,
            };
            return Ok(Answer::Allowed {
                item,
                version_in_effect,
            });
        }
        AssignmentDecision::Refused(refusal) => refusal,
    };
    let location = command.place.clone().unwrap_or_else(|| match &command.to {
        Unit::Department(_) => unit_location(&command.from),
        division => unit_location(division),
    });
    let caller = access.subject().to_owned();
    let record = NewRefusal {
        id: uuid::Uuid::now_v7(),
        matter_code: command.matter.to_string(),
        item_code: item.to_string(),
        item_version: refusal
            .item_version
            .map(|item| i32::try_from(item.version.get()).unwrap_or(i32::MAX)),
        from: StoredUnit::of(&command.from),
        to: StoredUnit::of(&command.to),
        reason_code: refusal.reason.code(),
        reason: refusal.message.clone(),
        responsible: StoredUnit::responsible_at(&refusal.responsible_instead, &location),
        case_name: command.case.clone(),
        attempted_by: if command.attempted_by.is_empty() {
            caller.clone()
        } else {
            command.attempted_by.clone()
        },
        caller,
        checked_at: command.at,
    };
    let name = refusal_name(record.id);
    let mut transaction = store::begin(&duties.pool, "recording a refusal").await?;
    if retries::remember(&mut transaction, access, command.retry.as_ref(), &name).await?
        == Remembered::LostRace
    {
        store::roll_back(transaction, "recording a refusal").await?;
        let first = retries::recall(&duties.pool, access, command.retry.as_ref())
            .await?
            .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
        return replayed(duties, access, first).await;
    }
    let row = store::refusals::insert(&mut transaction, &record).await?;
    events::assignment_refused(&mut transaction, &row).await?;
    access.audit().resource(name.clone());
    record_audit(&mut transaction, access, "recording a refusal").await?;
    store::commit(transaction, "recording a refusal").await?;
    duties
        .metrics
        .assignments_refused
        .get_or_create(&RefusalLabels {
            from_kind: row.from_kind.clone(),
            from_code: row.from_code.clone(),
            reason: row.reason_code.clone(),
        })
        .inc();
    tracing::info!(
        refusal = %name,
        matter = %row.matter_code,
        from = %command.from,
        to = %command.to,
        reason = %row.reason_code,
        "assignment refused"
    );
    Ok(Answer::Refused(Box::new(Refusal::shaped(access, row))))
}

/// The first answer to a retried check: the refusal it recorded, re-read
/// with the caller's current access.
async fn replayed(duties: &Duties, access: &Access, first: String) -> Result<Answer, Error> {
    let id = uuid_in(&first, "refusals")
        .ok_or_else(|| Error::corrupt(format!("remembered resource {first:?}")))?;
    let refusal = visible_refusal(duties, access, id).await?;
    access.audit().resource(first);
    Ok(Answer::Refused(Box::new(refusal)))
}
