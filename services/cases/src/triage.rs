//! The triage saga: locating a case's block, resolving responsibility and the tier,
//! asking the duty-list gate, and dispatching — after intake's commit, so intake needs
//! nothing but this service's database.
//!
//! Work waits in `triage_jobs`. A worker claims due jobs with a lease (`FOR UPDATE SKIP
//! LOCKED`, so replicas share them), asks the block registry and the duty lists outside
//! any transaction, then applies the result in one transaction with the case locked —
//! only if the job was not replaced meanwhile and the case did not change under it.
//! When a service is down the job is retried with exponential backoff, and the case says
//! what it is waiting for; nothing is ever dropped. The same queue re-homes open cases
//! after a boundary change (purpose `rehome`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_messaging::outbox;
use flatgov_proto::cases::v1 as proto;
use futures::StreamExt as _;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::config::TriageSettings;
use crate::directory::{CallError, Directory, LocatedBlock, ResolvedResponsibility};
use crate::domain::lifecycle::{Actor, Assignee, CaseKind, CaseState, Command, Tier};
use crate::domain::units::{BlockCode, DepartmentCode, DutyUnit, assignee_name};
use crate::domain::values::{BlockName, MatterCode, Reason, StaffId, UnitName};
use crate::events::{self, EventContext};
use crate::ops::{self, OpError, Shared};
use crate::store::{
    self, ClaimedJob, JobPurpose, Referral, ReferralState, RefusalDetails, StoredCase, TriageStatus,
};

/// The notification channel intake and ClassifyCase wake the worker on.
pub const NOTIFY_CHANNEL: &str = "flatgov_cases_triage";

/// Where the dispatch goes and what the gate is asked.
#[derive(Debug, Clone)]
struct Target {
    assignee: Assignee,
    unit: DutyUnit,
    fallback: bool,
}

/// What the other services said, decided before any write.
#[derive(Debug, Clone)]
enum Plan {
    /// The job is moot (the case moved on, or was closed).
    Nothing,
    /// No block contains the point, or the named block does not exist.
    OutsideBlocks { note: String },
    /// Located; the matter must be classified by the subdistrict.
    NeedsClassification {
        block: LocatedBlock,
        status: TriageStatus,
        note: String,
    },
    /// Place and dispatch (or record the gate's refusal).
    Dispatch(Box<DispatchPlan>),
    /// Re-home to `block` (`None`: the case stays where it is).
    Rehome {
        block: Option<LocatedBlock>,
        note: Option<String>,
    },
}

/// Where a case goes, and whether the gate let it.
#[derive(Debug, Clone)]
struct DispatchPlan {
    block: LocatedBlock,
    matter: MatterCode,
    tier: Tier,
    responsibility: ResolvedResponsibility,
    target: Target,
    refusal: Option<RefusalDetails>,
}

/// Runs the triage queue until `shutdown`.
pub struct TriageWorker {
    pub shared: Arc<Shared>,
    pub directory: Directory,
    pub settings: TriageSettings,
    pub poll: Duration,
}

impl TriageWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        let mut failures: u32 = 0;
        while !shutdown.is_cancelled() {
            if let Err(error) = self.shared.clock.refresh(&self.shared.pool).await {
                tracing::debug!(%error, "cannot refresh the test clock");
            }
            match self.run_once().await {
                Ok(claimed) => {
                    failures = 0;
                    if claimed > 0 {
                        continue;
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, "triage pass failed");
                }
            }
            let pause = if failures > 0 {
                self.poll
                    .min(Duration::from_millis(100 * u64::from(failures.min(50))))
            } else {
                self.poll
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
                notified = wait_for_notification(&mut listener) => {
                    if !notified {
                        listener = self.listen().await;
                    }
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.shared.pool).await.ok()?;
        listener.listen(NOTIFY_CHANNEL).await.ok()?;
        Some(listener)
    }

    /// Claims one batch of due jobs and works them; returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let now = self.shared.clock.now();
        let lease = TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::seconds(60));
        let mut connection = self.shared.pool.acquire().await?;
        let jobs =
            store::claim_jobs(&mut connection, now, now + lease, self.settings.batch_size).await?;
        drop(connection);
        let claimed = jobs.len();
        if claimed > 0 {
            tracing::debug!(claimed, "triage jobs claimed");
        }
        futures::stream::iter(jobs)
            .for_each_concurrent(self.settings.concurrency, |job| async move {
                self.work(job).await;
            })
            .await;
        Ok(claimed)
    }

    /// Works one job inside a span that continues the trace of the request
    /// that queued it.
    async fn work(&self, job: ClaimedJob) {
        use tracing::Instrument as _;
        let span = tracing::info_span!("triage", case = %job.case_id, attempt = job.attempts);
        flatgov_telemetry::continue_trace(&span, |name| {
            job.trace_headers
                .iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| value.clone())
        });
        self.work_in_span(job).instrument(span).await;
    }

    async fn work_in_span(&self, job: ClaimedJob) {
        let started = std::time::Instant::now();
        let loaded = {
            let mut connection = match self.shared.pool.acquire().await {
                Ok(connection) => connection,
                Err(error) => return self.retry(&job, &error.to_string(), "").await,
            };
            store::load_case(&mut connection, job.case_id, false).await
        };
        let stored = match loaded {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                tracing::warn!("triage job for a case that does not exist; dropped");
                return;
            }
            Err(error) => return self.retry(&job, &error.to_string(), "").await,
        };
        let loaded_after = started.elapsed();
        let plan = match self.plan(&stored, &job).await {
            Ok(plan) => plan,
            Err(error) => {
                let waiting_for = if error.to_string().starts_with("blocks") {
                    "the block registry"
                } else {
                    "the duty lists"
                };
                return self.retry(&job, &error.to_string(), waiting_for).await;
            }
        };
        let planned_after = started.elapsed();
        match self.apply(&job, stored.case.version(), plan).await {
            Ok(()) => tracing::debug!(
                load_ms = loaded_after.as_secs_f64() * 1000.0,
                calls_ms = (planned_after - loaded_after).as_secs_f64() * 1000.0,
                apply_ms = (started.elapsed() - planned_after).as_secs_f64() * 1000.0,
                "triage job done"
            ),
            Err(OpError::Transition(error)) => {
                tracing::error!(%error, "triage result refused by the lifecycle; job dropped");
                self.give_up(&job, &format!("triage could not be applied: {error}"))
                    .await;
            }
            Err(error) => self.retry(&job, &error.to_string(), "").await,
        }
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.settings
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.settings.max_backoff)
    }

    async fn retry(&self, job: &ClaimedJob, error: &str, waiting_for: &str) {
        let delay = self.backoff(job.attempts);
        let now = self.shared.clock.now();
        let next = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::seconds(60));
        let note = if waiting_for.is_empty() {
            format!(
                "triage failed ({error}); attempt {}, retrying at {}",
                job.attempts,
                next.to_rfc3339()
            )
        } else {
            format!(
                "waiting for {waiting_for} ({error}); attempt {}, retrying at {}",
                job.attempts,
                next.to_rfc3339()
            )
        };
        tracing::warn!(error, retry_in = ?delay, "triage will retry");
        let result = async {
            let mut connection = self.shared.pool.acquire().await?;
            store::retry_job(&mut connection, job, next, error, &note).await
        }
        .await;
        if let Err(error) = result {
            // The lease runs out and another pass takes the job again.
            tracing::warn!(%error, "cannot schedule the triage retry");
        }
    }

    async fn give_up(&self, job: &ClaimedJob, note: &str) {
        let result = async {
            let mut transaction = self.shared.pool.begin().await?;
            if store::finish_job(&mut transaction, job).await? {
                sqlx::query("update cases set triage_note = $2 where id = $1")
                    .bind(job.case_id.as_uuid())
                    .bind(note)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "cannot drop the triage job");
        }
    }

    /// Asks the other services what the case needs; writes nothing.
    async fn plan(&self, stored: &StoredCase, job: &ClaimedJob) -> Result<Plan, CallError> {
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

    /// Applies a plan in one transaction, unless the job was replaced or the case changed.
    async fn apply(
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

#[derive(Debug, Default)]
struct ExtraEvents {
    whistle: bool,
    referral: bool,
}

/// A reason from service-written text, cut to the limit.
pub fn reason_text(text: &str) -> Reason {
    let cut: String = text.chars().take(Reason::MAX_CHARS).collect();
    Reason::parse(&cut).unwrap_or_else(|_| {
        Reason::parse("no reason given")
            .unwrap_or_else(|_| unreachable!("a literal reason is valid"))
    })
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
fn target_for(
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

/// Waits for a notification; false when the listener is gone (the caller reconnects).
async fn wait_for_notification(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(active) => active.recv().await.is_ok(),
        None => {
            tokio::time::sleep(Duration::from_secs(1)).await;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::units::SubdistrictCode;
    use crate::store::Team;

    fn block(governor: Option<&str>) -> LocatedBlock {
        LocatedBlock {
            code: BlockCode::parse("430302001004017").unwrap(),
            team: Team {
                governor: governor.map(str::to_owned),
                supervisor: Some("sup-017".into()),
            },
        }
    }

    fn subdistrict() -> DutyUnit {
        DutyUnit::Subdistrict(SubdistrictCode::parse("430302001").unwrap())
    }

    #[test]
    fn the_front_line_goes_to_the_blocks_governor() {
        let target = target_for(
            &block(Some("gov-017")),
            Tier::FrontLine,
            &subdistrict(),
            &[],
        );
        assert_eq!(assignee_name(&target.assignee), "staff/gov-017");
        assert_eq!(
            target.unit,
            DutyUnit::BlockTeam(BlockCode::parse("430302001004017").unwrap())
        );
        assert!(!target.fallback);
    }

    #[test]
    fn a_block_without_a_governor_falls_back_to_its_subdistrict() {
        let target = target_for(&block(None), Tier::FrontLine, &subdistrict(), &[]);
        assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
        assert!(target.fallback);
    }

    #[test]
    fn a_meeting_goes_to_the_subdistrict_platform() {
        let target = target_for(
            &block(Some("gov-017")),
            Tier::CoordinationMeeting,
            &subdistrict(),
            &[],
        );
        assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
        assert!(!target.fallback);
    }

    #[test]
    fn a_whistle_goes_to_the_lead_department_or_else_the_first_cooperating_one() {
        let urban = DepartmentCode::parse("urban_management").unwrap();
        let market = DepartmentCode::parse("market_supervision").unwrap();
        let lead = DutyUnit::Department(urban.clone());
        let target = target_for(
            &block(None),
            Tier::Whistle,
            &lead,
            std::slice::from_ref(&market),
        );
        assert_eq!(
            assignee_name(&target.assignee),
            "departments/urban_management"
        );
        let target = target_for(&block(None), Tier::Whistle, &subdistrict(), &[market]);
        assert_eq!(
            assignee_name(&target.assignee),
            "departments/market_supervision"
        );
        let target = target_for(&block(None), Tier::Whistle, &subdistrict(), &[]);
        assert_eq!(assignee_name(&target.assignee), "subdistricts/430302001");
        assert!(target.fallback);
    }

    #[test]
    fn a_reason_written_by_the_service_is_cut_to_the_limit() {
        let long = "原".repeat(Reason::MAX_CHARS + 20);
        assert_eq!(
            reason_text(&long).as_str().chars().count(),
            Reason::MAX_CHARS
        );
        assert_eq!(reason_text("   ").as_str(), "no reason given");
    }
}
