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

use chrono::TimeDelta;
use futures::StreamExt as _;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::application::ops::{OpError, Shared};
use crate::config::TriageSettings;
use crate::directory::{Directory, LocatedBlock, ResolvedResponsibility};
use crate::domain::lifecycle::{Assignee, Tier};
use crate::domain::units::DutyUnit;
use crate::domain::values::{MatterCode, Reason};
use crate::store::{self, ClaimedJob, RefusalDetails, TriageStatus};

/// The notification channel intake and ClassifyCase wake the worker on.
mod dispatch;
mod plan;

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
        let lease = TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::seconds(5));
        let mut connection = self.shared.pool.acquire().await?;
        let jobs =
            store::claim_jobs(&mut connection, now, now + lease, self.settings.batch_size).await?;
        drop(connection);
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok(0);
        }
        tracing::debug!(claimed, "triage jobs claimed");
        let held: Vec<uuid::Uuid> = jobs.iter().map(|job| job.case_id.as_uuid()).collect();
        let work = futures::stream::iter(jobs).for_each_concurrent(
            self.settings.concurrency,
            |job| async move {
                self.work(job).await;
            },
        );
        // The lease is short so that a replica killed mid-triage holds its jobs
        // for seconds, not a minute; a live worker renews it while it works.
        tokio::select! {
            () = work => {}
            () = self.renew_leases(&held, lease) => {}
        }
        Ok(claimed)
    }

    /// Extends the lease of the jobs this pass holds every quarter lease, so
    /// a slow call to another service does not let a second replica take a
    /// job that is still being worked. Never returns.
    async fn renew_leases(&self, held: &[uuid::Uuid], lease: TimeDelta) {
        let mut ticker = tokio::time::interval(self.settings.lease / 4);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let until = self.shared.clock.now() + lease;
            let renewed = async {
                let mut connection = self.shared.pool.acquire().await?;
                store::renew_leases(&mut connection, held, until).await
            }
            .await;
            if let Err(error) = renewed {
                // The lease may then run out and another replica take the
                // job: the apply step's revision and version checks make that
                // a wasted call, never a second dispatch.
                tracing::warn!(%error, "cannot renew the triage leases");
            }
        }
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
mod tests;
