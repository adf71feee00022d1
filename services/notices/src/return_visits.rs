//! Return visits (回访). A verified case waits for its reporter's rating; if
//! none comes within N working days (`NOTICES_RETURN_VISIT_AFTER`, default
//! 3d), the reporter gets a return-visit message; still unrated M working
//! days later (`NOTICES_RETURN_VISIT_EXPIRY`, default 3d), the service
//! publishes `flatgov.notices.return_visit.expired` and the cases service,
//! which owns the closure, closes the case as unrated — so satisfaction
//! counts only the ratings given.
//!
//! Days are counted on the working calendar (crates/calendar: China
//! Standard Time, holidays and 调休). The events of the case (rated,
//! reopened, closed) settle a follow-up whenever they arrive; the worker
//! claims due rows with `FOR UPDATE SKIP LOCKED`, so each visit and each
//! expiry happens once across replicas and restarts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_calendar::{WorkingCalendar, WorkingDuration};
use flatgov_grpc::time::timestamp;
use flatgov_proto::notices::v1 as proto;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::Milestone;
use crate::store::feedback::NewFeedback;
use crate::store::return_visits::ClaimedVisit;
use crate::store::{self, DatabaseContext as _, StoreError};

/// Rows the worker handles in one transaction.
const BATCH: i64 = 100;

/// When visits and expiries fall due.
#[derive(Debug, Clone)]
pub struct ReturnVisitRules {
    pub calendar: WorkingCalendar,
    /// From verification to the return visit.
    pub after: WorkingDuration,
    /// From the return visit to the unrated closure.
    pub expiry: WorkingDuration,
}

impl ReturnVisitRules {
    /// `duration` of working time after `start`. A year without a holiday
    /// schedule counts as an ordinary week (logged), never as a failure.
    pub fn deadline(&self, start: DateTime<Utc>, duration: WorkingDuration) -> DateTime<Utc> {
        match self.calendar.add(start, duration) {
            Ok(reckoning) => {
                if reckoning.is_provisional() {
                    tracing::warn!(years = ?reckoning.years_without_data, "return visit counted on ordinary weeks: no holiday schedule for these years");
                }
                reckoning.value
            }
            Err(error) => {
                tracing::warn!(%error, "return visit counted in calendar days: the working calendar cannot count it");
                let days = match duration.span() {
                    flatgov_calendar::WorkingSpan::Days(days) => i64::from(days),
                    flatgov_calendar::WorkingSpan::Minutes(minutes) => {
                        i64::from(minutes.div_ceil(24 * 60))
                    }
                };
                start + chrono::TimeDelta::days(days)
            }
        }
    }
}

/// Makes due visits and expiries until `shutdown`, waking the delivery
/// worker (`deliveries`) when it recorded messages.
pub async fn run(
    pool: PgPool,
    rules: Arc<ReturnVisitRules>,
    deliveries: Arc<Notify>,
    poll: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let sleep_for = match work(&pool, &rules, &deliveries).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => {
                let next = async {
                    let mut connection = pool.acquire().await.ok()?;
                    store::return_visits::next_due(&mut connection)
                        .await
                        .ok()
                        .flatten()
                };
                next.await
                    .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(poll)
                    .min(poll)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot follow up verified cases now");
                poll
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(sleep_for) => {}
        }
    }
}

/// One batch of visits and one of expiries: answers whether there was any.
async fn work(
    pool: &PgPool,
    rules: &ReturnVisitRules,
    deliveries: &Notify,
) -> Result<bool, StoreError> {
    let mut transaction = store::begin(pool, "making return visits").await?;
    let due = store::return_visits::claim_due_visits(&mut transaction, BATCH).await?;
    let now = Utc::now();
    for visit in &due {
        let message = NewFeedback {
            case_id: visit.case_id,
            milestone: Milestone::ReturnVisit,
            block_code: visit.block_code.clone(),
            subdistrict_code: visit.subdistrict_code.clone(),
            handler: String::new(),
            closure: None,
            occurred_time: now,
        };
        store::feedback::insert_if_absent(&mut transaction, &message).await?;
        let expires = rules.deadline(now, rules.expiry);
        store::return_visits::mark_visited(&mut transaction, visit.case_id, now, expires).await?;
        tracing::info!(case = %visit.case_id, %expires, "return visit due: the reporter is asked again");
    }
    let expired = store::return_visits::claim_expired(&mut transaction, BATCH).await?;
    for visit in &expired {
        return_visit_expired(&mut transaction, visit, now).await?;
        store::return_visits::mark_expired(&mut transaction, visit.case_id).await?;
        tracing::info!(case = %visit.case_id, "return visit expired unrated: the cases service closes the case");
    }
    store::commit(transaction, "making return visits").await?;
    if !due.is_empty() {
        deliveries.notify_waiters();
    }
    Ok(!due.is_empty() || !expired.is_empty())
}

/// Publishes, in the caller's transaction, that a follow-up expired.
async fn return_visit_expired(
    connection: &mut sqlx::PgConnection,
    visit: &ClaimedVisit,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let case = format!("cases/{}", visit.case_id);
    let event = proto::ReturnVisitExpired {
        case: case.clone(),
        verified_sequence: u32::try_from(visit.verified_sequence).unwrap_or(0),
        verified_at: Some(timestamp(visit.verified_time)),
        visited_at: visit.visited_time.map(timestamp),
        expired_at: Some(timestamp(now)),
    };
    flatgov_messaging::outbox::enqueue(connection, &case, &event)
        .await
        .context("publishing an expired return visit")?;
    Ok(())
}
