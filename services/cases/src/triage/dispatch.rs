//! Applying a plan: placing, dispatching and re-homing a case in one transaction with
//! the case locked, and who a dispatch goes to.

use chrono::{DateTime, Utc};
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;

use crate::application::ops::{self, OpError};
use crate::directory::{LocatedBlock, ResolvedResponsibility};
use crate::domain::lifecycle::{Actor, Assignee, CaseKind, CaseState, Command, Tier};
use crate::domain::units::{BlockCode, DepartmentCode, DutyUnit};
use crate::domain::values::{BlockName, Reason, StaffId, UnitName};
use crate::events::{self, EventContext};
use crate::store::{self, ClaimedJob, Referral, ReferralState, StoredCase, TriageStatus};

use super::{DispatchPlan, ExtraEvents, Plan, Target, TriageWorker, reason_text};

impl TriageWorker {
    /// Applies a plan in one transaction, unless the job was replaced or the case changed.
    pub(super) async fn apply(
        &self,
        job: &ClaimedJob,
        planned_version: u32,
        plan: Plan,
    ) -> Result<(), OpError> {
        let mut transaction = self.shared.pool.begin().await?;
        let Some(mut stored) = store::load_case(&mut transaction, job.case_id, true).await? else {
            return Ok(());
        };
        if stored.case.version() != planned_version {
            transaction.rollback().await?;
            let mut connection = self.shared.pool.acquire().await?;
            store::release_job(&mut connection, job, self.shared.clock.now()).await?;
            return Ok(());
        }
        if !store::finish_job(&mut transaction, job).await? {
            // A newer request replaced the job; it runs next.
            return Ok(());
        }
        let now = self.shared.clock.now();
        match plan {
            Plan::Nothing => {}
            Plan::OutsideBlocks { note } => {
                let before = stored.case.clone();
                let mut records = Vec::new();
                if stored.case.state() == CaseState::Reported {
                    ops::apply(
                        &mut stored,
                        Actor::System,
                        Command::FlagLocationOutsideBlocks,
                        now,
                        &mut records,
                    )?;
                }
                if matches!(
                    stored.case.state(),
                    CaseState::Reported | CaseState::AwaitingManualLocation
                ) {
                    stored.triage_status = TriageStatus::OutsideBlocks;
                }
                stored.triage_note = Some(note);
                ops::persist(
                    &mut transaction,
                    &mut stored,
                    &records,
                    &EventContext::from_before(&before),
                    now,
                )
                .await?;
            }
            Plan::NeedsClassification {
                block,
                status,
                note,
            } => {
                if stored.case.state() == CaseState::Reported {
                    stored.located_block = Some(block.code);
                    stored.extras.team = Some(block.team);
                    stored.triage_status = status;
                }
                stored.triage_note = Some(note);
                ops::persist(
                    &mut transaction,
                    &mut stored,
                    &[],
                    &EventContext::default(),
                    now,
                )
                .await?;
            }
            Plan::Dispatch(plan) => {
                self.dispatch(&mut transaction, &mut stored, job, *plan, now)
                    .await?;
            }
            Plan::Rehome { block, note } => {
                self.rehome(&mut transaction, &mut stored, job, block, note, now)
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn dispatch(
        &self,
        transaction: &mut sqlx::PgConnection,
        stored: &mut StoredCase,
        job: &ClaimedJob,
        plan: DispatchPlan,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let DispatchPlan {
            block,
            matter,
            tier,
            responsibility,
            target,
            refusal,
        } = plan;
        let before = stored.case.clone();
        let actor = job.requested_by.clone();
        let reason = job
            .instructions
            .reason
            .as_deref()
            .and_then(|text| Reason::parse(text).ok())
            .unwrap_or_else(|| reason_text("recategorised by a dispatcher"));
        let block_name = BlockName::of_code(block.code);
        stored.located_block = Some(block.code);
        stored.extras.team = Some(block.team);
        stored.extras.responsibility = Some(responsibility.responsibility.clone());
        let mut records = Vec::new();
        match stored.case.state() {
            CaseState::Reported | CaseState::AwaitingManualLocation => ops::apply(
                stored,
                actor.clone(),
                Command::Triage {
                    block: block_name,
                    matter: matter.clone(),
                    tier,
                },
                now,
                &mut records,
            )?,
            CaseState::Triaged
                if stored.case.matter().code() == Some(&matter)
                    && stored.case.tier() == Some(tier) => {}
            _ => ops::apply(
                stored,
                actor.clone(),
                Command::Reclassify {
                    matter: matter.clone(),
                    tier,
                    reason,
                },
                now,
                &mut records,
            )?,
        }
        let mut extra_events = ExtraEvents::default();
        match refusal {
            Some(refusal) => {
                let reason = reason_text(&format!("{}: {}", refusal.reason_code, refusal.reason));
                stored.extras.refusal = Some(refusal);
                ops::apply(
                    stored,
                    Actor::System,
                    Command::RefuseDispatch { reason },
                    now,
                    &mut records,
                )?;
                stored.triage_status = TriageStatus::DispatchRefused;
                stored.triage_note =
                    Some("the duty-list gate refused the dispatch; see the refusal".to_owned());
            }
            None => {
                let limits = if Some(tier) == responsibility.default_tier {
                    responsibility.limits
                } else {
                    None
                };
                let assignment = self
                    .shared
                    .deadlines(&stored.case, tier, now, limits)?
                    .assign_to(target.assignee.clone());
                stored.extras.refusal = None;
                stored.extras.dispatch_fallback = target.fallback;
                if tier == Tier::Whistle {
                    stored.extras.escalation_agencies = whistle_agencies(&responsibility);
                }
                ops::apply(
                    stored,
                    actor,
                    Command::Dispatch { assignment },
                    now,
                    &mut records,
                )?;
                stored.triage_status = TriageStatus::Complete;
                stored.triage_note = None;
                extra_events.whistle = tier == Tier::Whistle;
                if stored.case.kind() == CaseKind::NeedyPersonSupport
                    && stored.extras.referral.is_none()
                {
                    stored.extras.referral = Some(Referral {
                        state: ReferralState::Pending,
                        referral: None,
                        organisation: None,
                        support_plan: None,
                        note: None,
                        updated_at: now,
                    });
                    extra_events.referral = true;
                }
            }
        }
        ops::persist(
            transaction,
            stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        if let Some(record) = records.last() {
            let resource = stored.name();
            if extra_events.whistle {
                let event = events::escalated(
                    stored,
                    record,
                    None,
                    Tier::Whistle,
                    proto::EscalationReason::Triage,
                    stored.case.assignment(),
                );
                outbox::enqueue(transaction, &resource, &event).await?;
            }
            if extra_events.referral {
                outbox::enqueue(transaction, &resource, &events::referred(stored, now)).await?;
            }
        }
        Ok(())
    }

    async fn rehome(
        &self,
        transaction: &mut sqlx::PgConnection,
        stored: &mut StoredCase,
        job: &ClaimedJob,
        block: Option<LocatedBlock>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let before = stored.case.clone();
        let mut records = Vec::new();
        if let Some(note) = note {
            stored.triage_note = Some(note);
        }
        if let Some(block) = block {
            let old_block = stored.block();
            let generation = job
                .generation
                .clone()
                .unwrap_or_else(|| "a new generation".to_owned());
            let reason = reason_text(&format!(
                "boundary generation {generation} moved the case from block {} to block {}",
                old_block
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                block.code
            ));
            let old_team = stored.extras.team.clone().unwrap_or_default();
            stored.located_block = Some(block.code);
            stored.extras.team = Some(block.team.clone());
            if stored.case.block().is_some() {
                let assignment =
                    self.rehome_assignment(stored, old_block.as_ref(), &old_team, &block, now)?;
                ops::apply(
                    stored,
                    Actor::System,
                    Command::Rehome {
                        block: BlockName::of_code(block.code),
                        assignment,
                        reason,
                    },
                    now,
                    &mut records,
                )?;
            }
        }
        let mut context = EventContext::from_before(&before);
        context.generation = job.generation.clone();
        ops::persist(transaction, stored, &records, &context, now).await?;
        Ok(())
    }

    /// The new block's team (or subdistrict platform) for a case with a handler that was
    /// with the old block's team (or platform); `None` when the handler stays.
    fn rehome_assignment(
        &self,
        stored: &StoredCase,
        old_block: Option<&BlockCode>,
        old_team: &store::Team,
        block: &LocatedBlock,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::domain::lifecycle::Assignment>, OpError> {
        let case = &stored.case;
        let (Some(assignment), Some(tier)) = (case.assignment(), case.tier()) else {
            return Ok(None);
        };
        if !case.state().is_with_handler() {
            return Ok(None);
        }
        let old_platform = old_block.map(|code| UnitName::platform(code.subdistrict()));
        let new_platform = Some(UnitName::platform(block.code.subdistrict()));
        let with_old_team = match &assignment.assignee {
            Assignee::Staff(id) => old_team.governor.as_deref() == Some(id.as_str()),
            Assignee::Unit(unit) => old_block.is_some_and(|code| unit.as_str() == code.name()),
        };
        let with_old_platform = matches!(&assignment.assignee, Assignee::Unit(unit) if Some(unit) == old_platform.as_ref());
        let new_assignee = if tier == Tier::FrontLine && with_old_team {
            match block
                .team
                .governor
                .as_deref()
                .and_then(|id| StaffId::parse(id).ok())
            {
                Some(governor) => Assignee::Staff(governor),
                None => match new_platform {
                    Some(platform) => Assignee::Unit(platform),
                    None => return Ok(None),
                },
            }
        } else if with_old_platform && old_platform != new_platform {
            match new_platform {
                Some(platform) => Assignee::Unit(platform),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        if new_assignee == assignment.assignee {
            return Ok(None);
        }
        Ok(Some(self.shared.assignment(
            case,
            tier,
            new_assignee,
            now,
        )?))
    }
}

fn whistle_agencies(responsibility: &ResolvedResponsibility) -> Vec<DepartmentCode> {
    let mut agencies = Vec::new();
    if let DutyUnit::Department(lead) = &responsibility.responsibility.lead {
        agencies.push(lead.clone());
    }
    for department in &responsibility.responsibility.cooperating {
        if !agencies.contains(department) {
            agencies.push(department.clone());
        }
    }
    agencies
}

/// Who a case placed in `block` at `tier` goes to: the block's governor at the front line,
/// the subdistrict platform for a meeting, the lead (or first cooperating) department at
/// the whistle — and the subdistrict platform (兜底) when the tier's handler is unknown.
pub(super) fn target_for(
    block: &LocatedBlock,
    tier: Tier,
    lead: &DutyUnit,
    cooperating: &[DepartmentCode],
) -> Target {
    let subdistrict = block.code.subdistrict();
    let platform = || Target {
        assignee: Assignee::Unit(UnitName::platform(subdistrict)),
        unit: DutyUnit::Subdistrict(subdistrict),
        fallback: tier == Tier::FrontLine || tier == Tier::Whistle,
    };
    match tier {
        Tier::FrontLine => match block
            .team
            .governor
            .as_deref()
            .and_then(|id| StaffId::parse(id).ok())
        {
            Some(governor) => Target {
                assignee: Assignee::Staff(governor),
                unit: DutyUnit::BlockTeam(block.code),
                fallback: false,
            },
            None => platform(),
        },
        Tier::CoordinationMeeting => Target {
            fallback: false,
            ..platform()
        },
        Tier::Whistle => {
            let department = match lead {
                DutyUnit::Department(code) => Some(code.clone()),
                _ => cooperating.first().cloned(),
            };
            match department {
                Some(code) => {
                    let unit = DutyUnit::Department(code);
                    Target {
                        assignee: Assignee::Unit(unit.unit_name()),
                        unit,
                        fallback: false,
                    }
                }
                None => platform(),
            }
        }
    }
}
