//! Planning: what the block registry and the duty lists say a case needs, asked outside
//! any transaction; nothing is written here.

use crate::directory::{CallError, LocatedBlock};
use crate::domain::lifecycle::{CaseState, Tier};
use crate::domain::units::{BlockCode, assignee_name};
use crate::domain::values::MatterCode;
use crate::store::{ClaimedJob, JobPurpose, StoredCase, TriageStatus};

use super::dispatch::target_for;
use super::{DispatchPlan, Plan, TriageWorker};

impl TriageWorker {
    /// Asks the other services what the case needs; writes nothing.
    pub(super) async fn plan(
        &self,
        stored: &StoredCase,
        job: &ClaimedJob,
    ) -> Result<Plan, CallError> {
        match job.purpose {
            JobPurpose::Triage => self.plan_triage(stored, job).await,
            JobPurpose::Rehome => self.plan_rehome(stored, job).await,
        }
    }

    async fn find_block(
        &self,
        stored: &StoredCase,
        job: &ClaimedJob,
    ) -> Result<Option<LocatedBlock>, CallError> {
        let named = job
            .instructions
            .block_code
            .as_deref()
            .and_then(|code| BlockCode::parse(code).ok())
            .or_else(|| stored.block());
        let answer = match (named, stored.case.location()) {
            (Some(code), _) => self.directory.block(&code, None).await,
            (None, Some(point)) => self.directory.locate(point, None).await,
            (None, None) => return Ok(None),
        };
        match answer {
            Ok(block) => Ok(Some(block)),
            Err(CallError::NotFound(_) | CallError::Rejected(_)) => Ok(None),
            Err(unavailable) => Err(unavailable),
        }
    }

    async fn plan_triage(&self, stored: &StoredCase, job: &ClaimedJob) -> Result<Plan, CallError> {
        let state = stored.case.state();
        let instructed =
            job.instructions.matter_code.is_some() || job.instructions.block_code.is_some();
        let applicable = match state {
            CaseState::Reported => true,
            CaseState::AwaitingManualLocation | CaseState::Triaged => instructed,
            other => instructed && other.is_with_handler(),
        };
        if !applicable {
            return Ok(Plan::Nothing);
        }
        let started = std::time::Instant::now();
        let Some(block) = self.find_block(stored, job).await? else {
            let note = match (&job.instructions.block_code, stored.case.location()) {
                (Some(code), _) => format!("block {code} does not exist in the block registry"),
                (None, Some(point)) => format!(
                    "no block contains the point ({:.6}, {:.6}); a dispatcher places the case by hand",
                    point.latitude(),
                    point.longitude()
                ),
                (None, None) => "the case has neither a point nor a block".to_owned(),
            };
            return Ok(Plan::OutsideBlocks { note });
        };
        let matter = job
            .instructions
            .matter_code
            .as_deref()
            .and_then(|code| MatterCode::parse(code).ok())
            .or_else(|| stored.case.matter().code().cloned());
        let Some(matter) = matter else {
            return Ok(Plan::NeedsClassification {
                note: format!(
                    "located in block {}; the matter is unclassified: the subdistrict {} classifies it",
                    block.code,
                    block.code.subdistrict()
                ),
                block,
                status: TriageStatus::AwaitingClassification,
            });
        };
        let located_after = started.elapsed();
        let responsibility = match self.directory.responsibility(&matter, &block.code).await {
            Ok(responsibility) => responsibility,
            Err(CallError::NotFound(_) | CallError::Rejected(_)) => {
                return Ok(Plan::NeedsClassification {
                    note: format!(
                        "the duty lists do not know matter {matter}: the subdistrict {} classifies the case",
                        block.code.subdistrict()
                    ),
                    block,
                    status: TriageStatus::UnknownMatter,
                });
            }
            Err(unavailable) => return Err(unavailable),
        };
        let tier = job
            .instructions
            .tier
            .as_deref()
            .and_then(|tier| tier.parse::<Tier>().ok())
            .or(responsibility.default_tier)
            .unwrap_or(Tier::FrontLine);
        let target = target_for(
            &block,
            tier,
            &responsibility.responsibility.lead,
            &responsibility.responsibility.cooperating,
        );
        let resolved_after = started.elapsed();
        let refusal = if responsibility.responsibility.lead == target.unit {
            None
        } else {
            let attempted_by = job
                .requested_by
                .staff_id()
                .map(ToString::to_string)
                .unwrap_or_else(|| "system:cases".to_owned());
            let request_id = format!("{}:triage:{}", stored.name(), job.revision);
            self.directory
                .check_assignment(
                    &matter,
                    &responsibility.responsibility.lead,
                    &target.unit,
                    Some(&block.code),
                    &attempted_by,
                    &stored.name(),
                    &request_id,
                )
                .await
                .map_err(|error| match error {
                    CallError::NotFound(message) | CallError::Rejected(message) => {
                        CallError::Unavailable(message)
                    }
                    unavailable => unavailable,
                })?
                .map(|mut refusal| {
                    refusal.attempted_assignee = assignee_name(&target.assignee);
                    refusal
                })
        };
        tracing::debug!(
            locate_ms = located_after.as_secs_f64() * 1000.0,
            resolve_ms = (resolved_after - located_after).as_secs_f64() * 1000.0,
            gate_ms = (started.elapsed() - resolved_after).as_secs_f64() * 1000.0,
            "triage calls answered"
        );
        Ok(Plan::Dispatch(Box::new(DispatchPlan {
            block,
            matter,
            tier,
            responsibility,
            target,
            refusal,
        })))
    }

    async fn plan_rehome(&self, stored: &StoredCase, job: &ClaimedJob) -> Result<Plan, CallError> {
        if !stored.case.state().is_open() {
            return Ok(Plan::Nothing);
        }
        let Some(current) = stored.block() else {
            return Ok(Plan::Nothing);
        };
        // Without a point: the successor the block registry named for a retired block,
        // else the block itself (reshaped, still there).
        let successor = job
            .instructions
            .block_code
            .as_deref()
            .and_then(|code| BlockCode::parse(code).ok());
        let generation = job.generation.as_deref();
        let answer = match (stored.case.location(), successor) {
            (Some(point), _) => self.directory.locate(point, generation).await,
            (None, Some(successor)) => self.directory.block(&successor, generation).await,
            (None, None) => self.directory.block(&current, generation).await,
        };
        match answer {
            Ok(block) if block.code == current => Ok(Plan::Rehome {
                block: None,
                note: None,
            }),
            Ok(block) => Ok(Plan::Rehome {
                block: Some(block),
                note: None,
            }),
            Err(CallError::NotFound(_) | CallError::Rejected(_)) => Ok(Plan::Rehome {
                block: None,
                note: Some(match stored.case.location() {
                    Some(_) => format!(
                        "after a boundary change no block contains the case's point; block {current} is kept until a dispatcher places it"
                    ),
                    None => format!(
                        "block {current} no longer exists after a boundary change; a dispatcher places the case by hand"
                    ),
                }),
            }),
            Err(unavailable) => Err(unavailable),
        }
    }
}
