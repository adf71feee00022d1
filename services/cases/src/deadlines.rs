//! The deadline worker: time limits live in the database (`cases.next_deadline_at`), not
//! in sleeping tasks, so after a restart every deadline still fires.
//!
//! Each pass lists cases whose next deadline has passed, then handles each in its own
//! transaction with the row locked (`FOR UPDATE SKIP LOCKED`, re-checking the deadline),
//! so several replicas fire each deadline once. Below the whistle an overdue case
//! escalates (front line → coordination meeting → whistle); at the whistle it is flagged
//! overdue and stays. The escalation or flag, its records, `CaseOverdue` and
//! `CaseEscalated` commit together.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_messaging::outbox;
use tokio_util::sync::CancellationToken;

use crate::domain::lifecycle::{Actor, Command, EscalationTrigger};
use crate::domain::sla::{self, OverdueConsequence};
use crate::domain::units::assignee_name;
use crate::domain::values::CaseId;
use crate::events::{self, EventContext};
use crate::ops::{self, OpError, Shared};
use crate::store;

/// Cases handled per pass.
const BATCH: i64 = 64;

/// Runs until `shutdown`.
pub async fn run(shared: Arc<Shared>, poll: Duration, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = shared.clock.refresh(&shared.pool).await {
            tracing::debug!(%error, "cannot refresh the test clock");
        }
        match run_once(&shared).await {
            Ok(fired) if fired > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "deadline pass failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// One pass: fires every deadline due now; returns how many cases it acted on.
pub async fn run_once(shared: &Shared) -> Result<usize, sqlx::Error> {
    let now = shared.clock.now();
    let due = {
        let mut connection = shared.pool.acquire().await?;
        store::due_cases(&mut connection, now, BATCH).await?
    };
    let mut fired = 0;
    for id in due {
        match fire(shared, id, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(case = %id, %error, "cannot act on a passed deadline; looking again later");
                let mut connection = shared.pool.acquire().await?;
                store::postpone_deadline(&mut connection, id, now + TimeDelta::minutes(10)).await?;
            }
        }
    }
    Ok(fired)
}

/// Acts on the passed deadline of one case, if no other replica holds or fired it.
#[tracing::instrument(skip(shared), fields(case = %id))]
async fn fire(shared: &Shared, id: CaseId, now: DateTime<Utc>) -> Result<bool, OpError> {
    let mut transaction = shared.pool.begin().await?;
    let Some(mut stored) = store::lock_due_case(&mut transaction, id, now).await? else {
        return Ok(false);
    };
    let Some(finding) = sla::assess(&stored.case, now) else {
        // Nothing passed after all (the schedule was stale): refresh it, and look again
        // in a minute at the latest rather than at once.
        store::save_case(&mut transaction, &stored).await?;
        let next = sla::next_deadline(&stored.case).map(|pending| pending.due);
        if next.is_some_and(|due| due < now) {
            store::postpone_deadline(&mut transaction, id, now + TimeDelta::minutes(1)).await?;
        }
        transaction.commit().await?;
        return Ok(false);
    };
    let before = stored.case.clone();
    let previous_assignee = before
        .assignment()
        .map(|assignment| assignee_name(&assignment.assignee));
    let mut records = Vec::new();
    let escalated_to = match finding.consequence {
        OverdueConsequence::Escalate { to } => {
            let (assignee, agencies) = shared
                .tier_handler(&mut transaction, &stored, to, None)
                .await?;
            let assignment = shared.assignment(&stored.case, to, assignee, now)?;
            if !agencies.is_empty() {
                stored.extras.escalation_agencies = agencies;
            }
            ops::apply(
                &mut stored,
                Actor::System,
                Command::Escalate {
                    trigger: EscalationTrigger::Overdue(finding.deadline),
                    assignment,
                },
                now,
                &mut records,
            )?;
            Some(to)
        }
        OverdueConsequence::FlagAtHighestTier => {
            ops::apply(
                &mut stored,
                Actor::System,
                Command::MarkOverdue {
                    deadline: finding.deadline,
                },
                now,
                &mut records,
            )?;
            None
        }
    };
    stored.updated_at = now;
    store::save_case(&mut transaction, &stored).await?;
    store::insert_records(&mut transaction, &records).await?;
    if let (Some(to), Some(record)) = (escalated_to, records.last()) {
        // The passed limit first, then the escalation it caused.
        let overdue = events::overdue(
            &stored,
            record,
            finding.deadline,
            finding.due,
            previous_assignee,
            true,
        );
        outbox::enqueue(&mut transaction, &stored.name(), &overdue).await?;
        tracing::info!(deadline = %finding.deadline, to = %to, "overdue case escalated");
    }
    events::publish_records(
        &mut transaction,
        &stored,
        &records,
        &EventContext::from_before(&before),
    )
    .await?;
    transaction.commit().await?;
    Ok(true)
}
