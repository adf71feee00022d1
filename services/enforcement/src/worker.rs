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

use flatgov_grpc::clock::Clock;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::application::whistle::{self, Answer, Decision};
use crate::config::Settings;
use crate::domain::{AgencyCode, BlockCode, Command, MatterCode, SubdistrictCode};
use crate::duties::DutiesClient;
use crate::events;
use crate::store::{self, StoreError};

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
    /// When deadlines are due.
    clock: Clock,
}

impl DeadlineWorker {
    pub fn new(pool: PgPool, settings: Arc<Settings>, duties: DutiesClient, clock: Clock) -> Self {
        Self {
            pool,
            settings,
            duties,
            clock,
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
            Some(next) => (next - self.clock.now())
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
    pub async fn pass(&self) -> Result<usize, StoreError> {
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

    async fn mark_late(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut transaction = store::begin(&self.pool).await?;
        let late = store::mark_late_summonses(&mut transaction, now, BATCH).await?;
        for summons in &late {
            events::agency_late(&mut transaction, summons, now).await?;
        }
        store::commit(transaction).await?;
        Ok(late.len())
    }

    /// Marks rectification orders past their deadline unchecked, one
    /// operation at a time through the aggregate (which reopens a concluded
    /// operation into follow-up). Each operation is locked before its
    /// orders, the order every other change takes, so the worker and a
    /// call recording the check cannot deadlock.
    async fn mark_overdue_orders(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let candidates = {
            let mut connection = store::connection(&self.pool).await?;
            store::operations_with_overdue_orders(&mut connection, now, BATCH).await?
        };
        let mut fired = 0;
        for id in candidates {
            let mut transaction = store::begin(&self.pool).await?;
            // Held by a call or another replica: it comes round again.
            let Some(mut operation) = store::try_lock_operation(&mut transaction, id).await? else {
                continue;
            };
            let mut records = Vec::new();
            for order in operation.orders_due(now) {
                match operation.apply("enforcement", Command::MarkOrderOverdue { order }, now) {
                    Ok(marked) => records.extend(marked),
                    Err(refusal) => tracing::warn!(operation = %id, %refusal, "order not marked"),
                }
            }
            fired += records
                .iter()
                .filter(|record| matches!(record, crate::domain::Record::OrderOverdue { .. }))
                .count();
            store::save(&mut transaction, operation.facts(), now, &records).await?;
            events::publish(&mut transaction, operation.facts(), now, &records).await?;
            store::commit(transaction).await?;
        }
        Ok(fired)
    }

    /// Resolves the agencies of one operation that is due; false when none is.
    async fn resolve_one(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut transaction = store::begin(&self.pool).await?;
        let Some(row) = store::claim_resolving_operation(&mut transaction, now).await? else {
            return Ok(false);
        };
        self.resolve(&mut transaction, &row).await?;
        store::commit(transaction).await?;
        Ok(true)
    }

    async fn resolve(
        &self,
        connection: &mut PgConnection,
        row: &store::OperationRow,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
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
                let operation = store::aggregate(&mut *connection, row).await?;
                whistle::open(connection, operation, selection, &self.settings, now).await
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
