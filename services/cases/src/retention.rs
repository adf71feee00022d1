//! The retention worker: a reporter's contact is kept while their case is
//! worked and for `CASES_REPORTER_CONTACT_RETENTION_MONTHS` after it
//! closes, then erased with the contacts of the "me too" reports linked to
//! the case (migration `0010_reporter_contact_retention.sql`). The case
//! itself stays.
//!
//! Like the deadline worker, each pass lists the cases due, then erases
//! each in its own transaction with the case locked (`FOR UPDATE SKIP
//! LOCKED`, re-checking the rule), so several replicas erase each case
//! once. The erasure and its audit record commit together. The pass reads
//! the service's clock, so a test deployment moves time forward with
//! AdvanceTestClock instead of waiting months.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::application::ops::Shared;
use crate::store::retention as store;

/// Who the audit trail names for an erasure by retention.
pub const WORKER: &str = "retention-worker";

/// Cases handled per pass.
const BATCH: i64 = 64;

/// Runs until `shutdown`, looking every `poll`.
pub async fn run(shared: Arc<Shared>, months: u32, poll: Duration, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = shared.clock.refresh(&shared.pool).await {
            tracing::debug!(%error, "cannot refresh the test clock");
        }
        match run_once(&shared, months).await {
            Ok(erased) if erased as i64 == BATCH => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "contact retention pass failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// One pass: erases the contacts of every case closed more than `months`
/// ago by the service's clock; returns how many cases it erased.
pub async fn run_once(shared: &Shared, months: u32) -> Result<usize, sqlx::Error> {
    let now = shared.clock.now();
    let cutoff = now
        .checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let due = {
        let mut connection = shared.pool.acquire().await?;
        store::contacts_expired(&mut connection, cutoff, BATCH).await?
    };
    let mut erased = 0;
    for case in due {
        if erase(shared, case, cutoff, now).await? {
            erased += 1;
        }
    }
    Ok(erased)
}

#[tracing::instrument(skip(shared), fields(case = %case))]
async fn erase(
    shared: &Shared,
    case: Uuid,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut transaction = shared.pool.begin().await?;
    if !store::lock_contacts_expired(&mut transaction, case, cutoff).await? {
        return Ok(false);
    }
    let erased = store::erase_case_contacts(&mut transaction, case, now).await?;
    // No caller asked for this erasure: the trail names the worker.
    flatgov_audit::append(
        &mut transaction,
        &flatgov_audit::Entry {
            subject: WORKER.into(),
            service: crate::policy::POLICY.service.into(),
            method: WORKER.into(),
            resources: vec![format!("cases/{case}")],
            outcome: "OK".into(),
            ..Default::default()
        },
    )
    .await?;
    transaction.commit().await?;
    tracing::info!("reporter contacts erased: their retention ran out");
    Ok(erased)
}
