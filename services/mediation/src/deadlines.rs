//! The overdue worker: time limits live in the database (`stages.due_time`),
//! not in sleeping tasks, so after a restart every limit still fires.
//!
//! Each pass lists disputes whose running stage is past its limit, then
//! handles each in its own transaction with the dispute locked
//! (`FOR UPDATE SKIP LOCKED`, re-checking the limit and that the stage was
//! not marked yet), so with several replicas each stage escalates once. The
//! mark, the escalation and their events commit together: people's
//! mediation is handed to the subdistrict's justice office; administrative
//! and judicial mediation stay, flagged. `StageOverdue` alerts the
//! subdistrict either way. The same pass lapses agreements' 30-day
//! windows for judicial confirmation that closed without a decision.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_vocabulary::CommunityCode;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::application::Mediation;
use crate::application::disputes::{NextStage, start_stage};
use crate::domain::track::overdue_escalates;
use crate::domain::{Level, Outcome, Trigger, justice_office};
use crate::error::Error;
use crate::events;
use crate::store::{self, DatabaseContext as _};

/// Disputes handled per pass.
const BATCH: i64 = 64;

/// Runs until `shutdown`.
pub async fn run(mediation: Arc<Mediation>, poll: Duration, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = mediation.clock.refresh(&mediation.pool).await {
            tracing::debug!(%error, "cannot refresh the test clock");
        }
        match run_once(&mediation).await {
            Ok(fired) if fired > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "overdue pass failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// One pass: acts on every limit passed by now; returns how many stages it
/// marked.
pub async fn run_once(mediation: &Mediation) -> Result<usize, Error> {
    let now = mediation.clock.now();
    let due = {
        let mut connection = mediation
            .pool
            .acquire()
            .await
            .context("finding passed time limits")?;
        store::due_stages(&mut connection, now, BATCH).await?
    };
    let mut fired = lapse_windows(mediation, now).await?;
    for id in due {
        match fire(mediation, id, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(dispute = %id, %error, "cannot act on a passed time limit; looking again next pass");
            }
        }
    }
    Ok(fired)
}

/// Lapses the judicial-confirmation windows that closed undecided, with
/// their events, in one transaction; returns how many.
async fn lapse_windows(mediation: &Mediation, now: DateTime<Utc>) -> Result<usize, Error> {
    const CONTEXT: &str = "lapsing confirmation windows";
    let mut transaction = mediation.pool.begin().await.context(CONTEXT)?;
    let lapsed = store::lapse_windows(&mut transaction, now, BATCH).await?;
    for window in &lapsed {
        events::confirmation_lapsed(&mut transaction, window).await?;
    }
    transaction.commit().await.context(CONTEXT)?;
    if !lapsed.is_empty() {
        tracing::info!(count = lapsed.len(), "judicial confirmation windows lapsed");
    }
    Ok(lapsed.len())
}

/// Marks the passed limit of one dispute's running stage, if no other
/// replica holds or marked it.
#[tracing::instrument(skip(mediation), fields(dispute = %id))]
async fn fire(mediation: &Mediation, id: Uuid, now: DateTime<Utc>) -> Result<bool, Error> {
    const CONTEXT: &str = "escalating an overdue stage";
    let mut transaction = mediation.pool.begin().await.context(CONTEXT)?;
    let Some(mut stored) = store::lock_due(&mut transaction, id, now).await? else {
        return Ok(false);
    };
    let mut stage = stored.current()?.clone();
    let level = store::parse_level(&stage.level)?;
    stage.overdue_time = Some(now);
    store::update_stage(&mut transaction, id, &stage).await?;
    // The passed limit first, then the escalation it causes.
    let escalated_to = overdue_escalates(level)
        .then(|| u32::try_from(stage.number + 1).ok())
        .flatten();
    events::stage_overdue(&mut transaction, &stored.dispute, &stage, escalated_to, now).await?;
    if escalated_to.is_some() {
        let community = CommunityCode::parse(&stored.dispute.community_code)
            .map_err(|error| Error::corrupt(format!("community code: {error}")))?;
        stage.outcome = Some(Outcome::Failed.as_str().to_owned());
        stage.conclude_time = Some(now);
        store::update_stage(&mut transaction, id, &stage).await?;
        events::stage_concluded(
            &mut transaction,
            &stored.dispute,
            &stage,
            Outcome::Failed,
            now,
        )
        .await?;
        start_stage(
            mediation,
            &mut transaction,
            &mut stored,
            NextStage {
                level: Level::Administrative,
                organisation: justice_office(&community.subdistrict()),
                trigger: Trigger::Overdue,
                reason: None,
            },
            now,
        )
        .await?;
    }
    transaction.commit().await.context(CONTEXT)?;
    tracing::info!(stage = stage.number, %level, escalated = escalated_to.is_some(), "overdue stage marked");
    Ok(true)
}
