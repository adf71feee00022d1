//! Handlers of other services' events. Each runs in the consumer's transaction with the
//! inbox row, so an event is applied once; state guards make a late or repeated event
//! harmless (it is acknowledged and changes nothing).

use std::sync::Arc;

use flatgov_messaging::{Envelope, EventHandler, HandlerError};
use flatgov_proto::blocks::v1::{BlockChangeKind, BlockGenerationActivated};
use flatgov_proto::duties::v1::MatterCataloguePublished;
use flatgov_proto::enforcement::v1::{OperationCancelled, OperationConcluded, OperationOutcome};
use flatgov_proto::federation::v1::{ReferralAccepted, ReferralDeclined};
use flatgov_proto::notices::v1::ReturnVisitExpired;
use sqlx::PgConnection;

use crate::application::ops::{self, OpError, Shared};
use crate::convert;
use crate::domain::lifecycle::{Actor, Assignee, CaseKind, CaseState, Command, Tier};
use crate::domain::units::OrganisationCode;
use crate::domain::values::CaseId;
use crate::domain::values::UnitName;
use crate::events::EventContext;
use crate::store::{self, CatalogueMatter, Referral, ReferralState, StoredCase};
use crate::triage::reason_text;

/// The service's event handlers; one value serves every consumer.
#[derive(Clone)]
pub struct Handlers {
    pub shared: Arc<Shared>,
}

fn reject(message: String) -> HandlerError {
    HandlerError::Reject(message)
}

fn op_error(error: OpError) -> HandlerError {
    match error {
        OpError::Database(error) => HandlerError::from(error),
        other => HandlerError::Reject(other.to_string()),
    }
}

/// The case an event names; `None` when it names none (a direct whistle).
fn case_named(name: &str) -> Result<Option<CaseId>, HandlerError> {
    if name.trim().is_empty() {
        return Ok(None);
    }
    CaseId::parse_resource_name(name)
        .map(Some)
        .map_err(|error| reject(error.to_string()))
}

impl Handlers {
    async fn load(
        &self,
        connection: &mut PgConnection,
        id: CaseId,
    ) -> Result<Option<StoredCase>, HandlerError> {
        let stored = store::load_case(connection, id, true).await?;
        if stored.is_none() {
            tracing::warn!(case = %id, "event about a case this service does not hold; ignored");
        }
        Ok(stored)
    }

    /// The lead agency concluded the joint operation: the case, at the whistle with its
    /// agency, is accepted, started and resolved on its word; verification follows.
    async fn operation_concluded(
        &self,
        connection: &mut PgConnection,
        event: OperationConcluded,
    ) -> Result<(), HandlerError> {
        let Some(id) = case_named(&event.case)? else {
            return Ok(());
        };
        let Some(mut stored) = self.load(connection, id).await? else {
            return Ok(());
        };
        if stored.case.tier() != Some(Tier::Whistle) || !stored.case.state().is_with_handler() {
            tracing::info!(case = %id, state = %stored.case.state(), "operation concluded for a case no longer at the whistle; nothing to do");
            return Ok(());
        }
        let now = self.shared.clock.now();
        let before = stored.case.clone();
        let mut records = Vec::new();
        let outcome =
            OperationOutcome::try_from(event.outcome).unwrap_or(OperationOutcome::Unspecified);
        let steps: &[Command] = match stored.case.state() {
            CaseState::Dispatched => &[Command::Accept, Command::StartWork, Command::Resolve],
            CaseState::Accepted => &[Command::StartWork, Command::Resolve],
            _ => &[Command::Resolve],
        };
        for step in steps {
            if let Err(error) =
                ops::apply(&mut stored, Actor::System, step.clone(), now, &mut records)
            {
                tracing::warn!(case = %id, %error, "the operation's conclusion cannot move the case");
                return Ok(());
            }
        }
        stored.resolution_note = Some(format!(
            "joint operation {} concluded: {}",
            event.operation,
            outcome
                .as_str_name()
                .trim_start_matches("OPERATION_OUTCOME_")
                .to_lowercase()
        ));
        ops::persist(
            connection,
            &mut stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        Ok(())
    }

    /// The joint operation was cancelled: the case returns to its subdistrict's platform
    /// (the dispatcher decides what next), at the meeting tier.
    async fn operation_cancelled(
        &self,
        connection: &mut PgConnection,
        event: OperationCancelled,
    ) -> Result<(), HandlerError> {
        let Some(id) = case_named(&event.case)? else {
            return Ok(());
        };
        let Some(mut stored) = self.load(connection, id).await? else {
            return Ok(());
        };
        if stored.case.tier() != Some(Tier::Whistle) || !stored.case.state().is_with_handler() {
            tracing::info!(case = %id, "operation cancelled for a case no longer at the whistle; nothing to do");
            return Ok(());
        }
        let now = self.shared.clock.now();
        let Some(block) = stored.block() else {
            return Ok(());
        };
        let platform = UnitName::platform(block.subdistrict());
        let assignment = self
            .shared
            .assignment(
                &stored.case,
                Tier::CoordinationMeeting,
                Assignee::Unit(platform),
                now,
            )
            .map_err(op_error)?;
        let reason = if event.reason.trim().is_empty() {
            format!("joint operation {} was cancelled", event.operation)
        } else {
            format!(
                "joint operation {} was cancelled: {}",
                event.operation,
                event.reason.trim()
            )
        };
        let before = stored.case.clone();
        let mut records = Vec::new();
        let command = Command::Reassign {
            assignment,
            tier: Some(Tier::CoordinationMeeting),
            reason: reason_text(&reason),
        };
        if let Err(error) = ops::apply(&mut stored, Actor::System, command, now, &mut records) {
            tracing::warn!(case = %id, %error, "the cancellation cannot move the case");
            return Ok(());
        }
        ops::persist(
            connection,
            &mut stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        Ok(())
    }

    /// An organisation accepted the referral: the case is handed to it and accepted.
    async fn referral_accepted(
        &self,
        connection: &mut PgConnection,
        event: ReferralAccepted,
    ) -> Result<(), HandlerError> {
        let Some(id) = case_named(&event.case)? else {
            return Ok(());
        };
        let organisation = OrganisationCode::parse(&event.organisation)
            .map_err(|error| reject(error.to_string()))?;
        let Some(mut stored) = self.load(connection, id).await? else {
            return Ok(());
        };
        if stored
            .extras
            .referral
            .as_ref()
            .is_some_and(|referral| referral.state == ReferralState::Accepted)
        {
            return Ok(());
        }
        let now = self.shared.clock.now();
        stored.extras.referral = Some(Referral {
            state: ReferralState::Accepted,
            referral: Some(event.referral.clone()),
            organisation: Some(organisation.to_string()),
            support_plan: (!event.support_plan.is_empty()).then(|| event.support_plan.clone()),
            note: None,
            updated_at: now,
        });
        let before = stored.case.clone();
        let mut records = Vec::new();
        if let (true, Some(tier)) = (stored.case.state().is_with_handler(), stored.case.tier()) {
            let unit =
                crate::domain::values::UnitName::parse(&format!("organisations/{organisation}"))
                    .map_err(|error| reject(error.to_string()))?;
            let assignment = self
                .shared
                .assignment(&stored.case, tier, Assignee::Unit(unit), now)
                .map_err(op_error)?;
            let hand_over = Command::Reassign {
                assignment,
                tier: None,
                reason: reason_text(&format!(
                    "referral {} accepted by {organisation}",
                    event.referral
                )),
            };
            let handed = ops::apply(&mut stored, Actor::System, hand_over, now, &mut records)
                .and_then(|()| {
                    ops::apply(
                        &mut stored,
                        Actor::System,
                        Command::Accept,
                        now,
                        &mut records,
                    )
                });
            if let Err(error) = handed {
                tracing::warn!(case = %id, %error, "the referral's acceptance cannot move the case");
                return Ok(());
            }
        }
        ops::persist(
            connection,
            &mut stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        Ok(())
    }

    /// The federation declined: the case stays with its block team, showing why.
    async fn referral_declined(
        &self,
        connection: &mut PgConnection,
        event: ReferralDeclined,
    ) -> Result<(), HandlerError> {
        let Some(id) = case_named(&event.case)? else {
            return Ok(());
        };
        let Some(mut stored) = self.load(connection, id).await? else {
            return Ok(());
        };
        let pending = stored
            .extras
            .referral
            .as_ref()
            .is_none_or(|referral| referral.state == ReferralState::Pending);
        if !pending || stored.case.kind() != CaseKind::NeedyPersonSupport {
            return Ok(());
        }
        let now = self.shared.clock.now();
        stored.extras.referral = Some(Referral {
            state: ReferralState::Declined,
            referral: Some(event.referral.clone()),
            organisation: (!event.organisation.is_empty()).then(|| event.organisation.clone()),
            support_plan: None,
            note: (!event.reason.trim().is_empty()).then(|| event.reason.trim().to_owned()),
            updated_at: now,
        });
        ops::persist(connection, &mut stored, &[], &EventContext::default(), now).await?;
        Ok(())
    }

    /// A new boundary generation: open cases in changed blocks are queued for re-homing
    /// (the saga re-locates each by its point, with a recorded reason).
    async fn generation_activated(
        &self,
        connection: &mut PgConnection,
        event: BlockGenerationActivated,
    ) -> Result<(), HandlerError> {
        let changed: Vec<String> = event
            .changes
            .iter()
            .filter(|change| {
                matches!(
                    BlockChangeKind::try_from(change.kind),
                    Ok(BlockChangeKind::Retired | BlockChangeKind::Reshaped)
                )
            })
            .map(|change| change.block_code.clone())
            .collect();
        // Only the newest map moves cases: a generation delivered after the one that
        // replaced it (a retry overtaken, a redriven dead letter) changes nothing.
        let activated_at = event
            .activated_at
            .as_ref()
            .and_then(|time| flatgov_grpc::time::instant(time).ok());
        let newest = match activated_at {
            Some(activated_at) => {
                store::record_generation_applied(connection, &event.generation, activated_at)
                    .await?
            }
            // The block registry always sets it; without it there is no order to keep.
            None => true,
        };
        if !newest {
            tracing::info!(generation = %event.generation, "a newer boundary generation was applied already; nothing to do");
            return Ok(());
        }
        if changed.is_empty() {
            return Ok(());
        }
        let queued = store::enqueue_rehoming(
            connection,
            &changed,
            &event.generation,
            self.shared.clock.now(),
        )
        .await?;
        tracing::info!(generation = %event.generation, changed = changed.len(), queued, "open cases queued for re-homing");
        Ok(())
    }

    /// Keeps the local copy of the matter catalogue.
    async fn catalogue_published(
        &self,
        connection: &mut PgConnection,
        event: MatterCataloguePublished,
    ) -> Result<(), HandlerError> {
        let matters: Vec<CatalogueMatter> = event
            .matters
            .iter()
            .filter(|matter| !matter.code.trim().is_empty())
            .map(|matter| CatalogueMatter {
                code: matter.code.trim().to_owned(),
                name: matter.name.clone(),
                list_item_code: matter.list_item_code.clone(),
                default_tier: flatgov_proto::flatgov::r#type::v1::HandlingTier::try_from(
                    matter.default_tier,
                )
                .ok()
                .and_then(convert::tier_from_proto)
                .map(|tier| tier.to_string()),
                lead_department: (!matter.lead_department.is_empty())
                    .then(|| matter.lead_department.clone()),
                cooperating_departments: matter.cooperating_departments.clone(),
            })
            .collect();
        let effective_from = event
            .effective_from
            .as_ref()
            .and_then(|at| convert::instant(at).ok());
        let replaced = store::replace_catalogue(
            connection,
            &matters,
            effective_from,
            self.shared.clock.now(),
        )
        .await?;
        tracing::info!(
            matters = matters.len(),
            replaced,
            "matter catalogue received"
        );
        Ok(())
    }
}

impl EventHandler for Handlers {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        if event.is::<OperationConcluded>() {
            self.operation_concluded(connection, event.decode()?).await
        } else if event.is::<OperationCancelled>() {
            self.operation_cancelled(connection, event.decode()?).await
        } else if event.is::<ReferralAccepted>() {
            self.referral_accepted(connection, event.decode()?).await
        } else if event.is::<ReferralDeclined>() {
            self.referral_declined(connection, event.decode()?).await
        } else if event.is::<BlockGenerationActivated>() {
            self.generation_activated(connection, event.decode()?).await
        } else if event.is::<MatterCataloguePublished>() {
            self.catalogue_published(connection, event.decode()?).await
        } else if event.is::<ReturnVisitExpired>() {
            self.return_visit_expired(connection, event.decode()?).await
        } else {
            Err(reject(format!(
                "the cases service does not consume {}",
                event.event_type
            )))
        }
    }
}
