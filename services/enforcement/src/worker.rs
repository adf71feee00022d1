//! The deadline worker: report-in deadlines, rectification deadlines, and
//! agencies still to be resolved from the duty lists.
//!
//! Deadlines live in the database. Each pass claims what is due with
//! `FOR UPDATE SKIP LOCKED` and, in the same transaction, records the effect
//! and its events, so with several replicas every deadline fires once, and
//! after a restart nothing is lost. Between passes the worker sleeps until
//! the earliest pending deadline (at most [`SCAN_INTERVAL`]), woken early by
//! a PostgreSQL notification whenever any replica writes a new deadline.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use flatgov_grpc::time::timestamp;
use flatgov_proto::enforcement::v1::{AgencyLate, FollowUpOpened, RectificationOrderOverdue};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::Settings;
use crate::domain::{AgencyCode, BlockCode, MatterCode, SubdistrictCode};
use crate::duties::DutiesClient;
use crate::store;
use crate::whistle::{self, Answer, Decision, OperationFacts};

/// Longest sleep between passes (a safety net for missed notifications).
pub const SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Rows claimed per kind and pass.
const BATCH: i64 = 100;

/// Operations whose agencies are resolved per pass (each may call duties).
const RESOLUTIONS_PER_PASS: usize = 10;

#[derive(Clone)]
pub struct DeadlineWorker {
    pool: PgPool,
    settings: Arc<Settings>,
    duties: DutiesClient,
}

impl DeadlineWorker {
    pub fn new(pool: PgPool, settings: Arc<Settings>, duties: DutiesClient) -> Self {
        Self {
            pool,
            settings,
            duties,
        }
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = self.listen().await;
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match self.pass().await {
                Ok(fired) if fired > 0 => {
                    backoff = Duration::from_millis(200);
                }
                Ok(_) => {
                    backoff = Duration::from_millis(200);
                    let pause = self.pause().await;
                    self.wait(&mut listener, pause, &shutdown).await;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "deadline pass failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let result = async {
            let mut listener = PgListener::connect_with(&self.pool).await?;
            listener.listen(store::DEADLINE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match result {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for new deadlines, polling instead");
                None
            }
        }
    }

    /// How long until the next deadline, within [200 ms, SCAN_INTERVAL].
    async fn pause(&self) -> Duration {
        let next = match self.pool.acquire().await {
            Ok(mut connection) => store::next_deadline(&mut connection).await.ok().flatten(),
            Err(_) => None,
        };
        let floor = Duration::from_millis(200);
        match next {
            None => SCAN_INTERVAL,
            Some(next) => (next - Utc::now())
                .to_std()
                .map(|until| until.clamp(floor, SCAN_INTERVAL))
                // Already due but held by another replica: look again soon.
                .unwrap_or(floor),
        }
    }

    async fn wait(
        &self,
        listener: &mut Option<PgListener>,
        pause: Duration,
        shutdown: &CancellationToken,
    ) {
        let sleep = tokio::time::sleep(pause);
        match listener {
            Some(active) => {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = sleep => {}
                    notification = active.try_recv() => {
                        if let Err(error) = notification {
                            tracing::warn!(%error, "deadline listener failed, reconnecting");
                            *listener = None;
                        }
                    }
                }
            }
            None => {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = sleep => {}
                }
                *listener = self.listen().await;
            }
        }
    }

    /// Fires everything due now; returns how many deadlines fired.
    pub async fn pass(&self) -> Result<usize, sqlx::Error> {
        let mut fired = self.mark_late().await?;
        fired += self.mark_overdue_orders().await?;
        for _ in 0..RESOLUTIONS_PER_PASS {
            if !self.resolve_one().await? {
                break;
            }
            fired += 1;
        }
        Ok(fired)
    }

    async fn mark_late(&self) -> Result<usize, sqlx::Error> {
        let now = Utc::now();
        let mut transaction = self.pool.begin().await?;
        let late = store::mark_late_summonses(&mut transaction, now, BATCH).await?;
        for summons in &late {
            let operation = format!("operations/{}", summons.operation_id);
            tracing::info!(%operation, agency = %summons.agency_code, "agency missed its report-in deadline");
            flatgov_messaging::outbox::enqueue(
                &mut transaction,
                &operation,
                &AgencyLate {
                    operation: operation.clone(),
                    case: summons.case_name.clone().unwrap_or_default(),
                    agency: summons.agency_code.clone(),
                    subdistrict_code: summons.subdistrict_code.clone(),
                    block_code: summons.block_code.clone().unwrap_or_default(),
                    urgent: summons.urgent,
                    report_in_deadline: Some(timestamp(summons.report_in_due)),
                    marked_at: Some(timestamp(now)),
                },
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(late.len())
    }

    async fn mark_overdue_orders(&self) -> Result<usize, sqlx::Error> {
        let now = Utc::now();
        let mut transaction = self.pool.begin().await?;
        let overdue = store::mark_overdue_orders(&mut transaction, now, BATCH).await?;
        for order in &overdue {
            let operation = format!("operations/{}", order.operation_id);
            let action = format!("{operation}/actions/{}", order.id);
            tracing::info!(%action, agency = %order.agency_code, "rectification order overdue");
            flatgov_messaging::outbox::enqueue(
                &mut transaction,
                &operation,
                &RectificationOrderOverdue {
                    action: action.clone(),
                    operation: operation.clone(),
                    case: order.case_name.clone().unwrap_or_default(),
                    agency: order.agency_code.clone(),
                    subdistrict_code: order.subdistrict_code.clone(),
                    deadline: Some(timestamp(order.rectification_due)),
                    marked_at: Some(timestamp(now)),
                },
            )
            .await?;
            if store::reopen_for_follow_up(&mut transaction, order.operation_id, now).await? {
                flatgov_messaging::outbox::enqueue(
                    &mut transaction,
                    &operation,
                    &FollowUpOpened {
                        operation: operation.clone(),
                        case: order.case_name.clone().unwrap_or_default(),
                        subdistrict_code: order.subdistrict_code.clone(),
                        rectification_order: action,
                        opened_at: Some(timestamp(now)),
                    },
                )
                .await?;
            }
        }
        transaction.commit().await?;
        Ok(overdue.len())
    }

    /// Resolves the agencies of one operation that is due; false when none is.
    async fn resolve_one(&self) -> Result<bool, sqlx::Error> {
        let now = Utc::now();
        let mut transaction = self.pool.begin().await?;
        let Some(row) = store::claim_resolving_operation(&mut transaction, now).await? else {
            return Ok(false);
        };
        self.resolve(&mut transaction, &row).await?;
        transaction.commit().await?;
        Ok(true)
    }

    async fn resolve(
        &self,
        connection: &mut PgConnection,
        row: &store::OperationRow,
    ) -> Result<(), sqlx::Error> {
        let now = Utc::now();
        let active = whistle::agency_codes(&store::active_agency_codes(&mut *connection).await?);
        let matter = row
            .matter_code
            .as_deref()
            .and_then(|code| MatterCode::parse(code).ok());
        let answer = match (&matter, self.duties.is_configured()) {
            (None, _) => Answer::NotAsked("no matter was given"),
            (Some(_), false) => Answer::NotAsked("no duty lists service is configured"),
            (Some(matter), true) => {
                let subdistrict = SubdistrictCode::parse(&row.subdistrict_code).ok();
                let block = row
                    .block_code
                    .as_deref()
                    .and_then(|code| BlockCode::parse(code).ok());
                match subdistrict {
                    Some(subdistrict) => Answer::Asked(
                        self.duties
                            .resolve(matter, &subdistrict, block.as_ref())
                            .await,
                    ),
                    None => Answer::NotAsked("the operation's subdistrict code is malformed"),
                }
            }
        };
        let give_up = row
            .resolve_fallback_at
            .is_none_or(|fallback| now >= fallback);
        let requested_lead = row
            .requested_lead
            .as_deref()
            .and_then(|code| AgencyCode::parse(code).ok());
        match whistle::decide(
            answer,
            matter.as_ref(),
            &active,
            &self.settings,
            requested_lead.as_ref(),
            give_up,
        ) {
            Decision::Summon(mut selection) => {
                if !row.agency_selection_note.is_empty() {
                    selection.note = format!("{}; {}", row.agency_selection_note, selection.note);
                }
                whistle::summon_all(
                    connection,
                    &OperationFacts::from_row(row),
                    &selection,
                    &self.settings,
                    now,
                )
                .await
            }
            Decision::Retry(reason) => {
                // Try again after the backoff, but no later than the moment
                // the patience runs out, so the fallback fires on time.
                let mut next = now + whistle::retry_delay(row.resolve_attempts);
                if let Some(fallback) = row.resolve_fallback_at.filter(|fallback| *fallback > now) {
                    next = next.min(fallback);
                }
                tracing::warn!(operation = %row.id, %reason, retry_at = %next, "agencies not resolved yet");
                store::postpone_resolution(connection, row.id, next, &reason).await
            }
        }
    }
}
