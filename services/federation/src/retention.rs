//! The retention worker: a record on the register whose support ended
//! (no active plan) and that nothing has touched for longer than the
//! retention period (`FEDERATION_NEEDY_RECORD_RETENTION_MONTHS`) is
//! anonymised, as a withdrawal of consent would (migration
//! `0004_personal_data.sql` says what is kept).
//!
//! Time limits live in the database, not in sleeping tasks: each pass
//! lists the records whose retention ran out, then erases each in its own
//! transaction with the person locked (`FOR UPDATE SKIP LOCKED`,
//! re-checking the rule), so several replicas erase each record once and
//! a restart loses nothing. The erasure and its audit record commit
//! together.

use std::time::Duration;

use chrono::{DateTime, Months, Utc};
use flatgov_grpc::clock::Clock;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::privacy::{self as store, ErasureReason};
use crate::store::{Context as _, Result};

/// Who the audit trail names for an erasure by retention.
pub const WORKER: &str = "retention-worker";

/// Records erased per pass.
const BATCH: i64 = 64;

/// How long needy records are kept after support ends, and how often the
/// worker looks.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Months a record is kept after its support ended.
    pub months: u32,
    /// Time between passes when nothing was due.
    pub poll: Duration,
}

/// Runs until `shutdown`.
pub async fn run(pool: PgPool, clock: Clock, retention: Retention, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match run_once(&pool, retention.months, clock.now()).await {
            Ok(erased) if erased as i64 == BATCH => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "retention pass failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(retention.poll) => {}
        }
    }
}

/// One pass as of `now`: anonymises every record whose retention of
/// `months` ran out; returns how many it erased.
pub async fn run_once(pool: &PgPool, months: u32, now: DateTime<Utc>) -> Result<usize> {
    let cutoff = now
        .checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let due = {
        let mut connection = pool.acquire().await.context("starting a retention pass")?;
        store::retention_expired(&mut connection, cutoff, BATCH).await?
    };
    let mut erased = 0;
    for person in due {
        if erase(pool, person, cutoff, now).await? {
            erased += 1;
        }
    }
    Ok(erased)
}

/// Erases one record if no other replica holds or erased it.
#[tracing::instrument(skip(pool), fields(person = %person))]
async fn erase(
    pool: &PgPool,
    person: Uuid,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut transaction = pool.begin().await.context("erasing an expired record")?;
    if !store::lock_retention_expired(&mut transaction, person, cutoff).await? {
        return Ok(false);
    }
    let erased = store::erase_person(
        &mut transaction,
        person,
        ErasureReason::RetentionExpired,
        now,
    )
    .await?;
    // No caller asked for this erasure: the trail names the worker.
    flatgov_audit::append(
        &mut transaction,
        &flatgov_audit::Entry {
            subject: WORKER.into(),
            service: crate::policy::POLICY.service.into(),
            method: WORKER.into(),
            resources: vec![format!("people/{person}")],
            outcome: "OK".into(),
            ..Default::default()
        },
    )
    .await
    .context("recording an erasure in the audit trail")?;
    transaction
        .commit()
        .await
        .context("erasing an expired record")?;
    tracing::info!("needy record anonymised: its retention ran out");
    Ok(erased)
}
