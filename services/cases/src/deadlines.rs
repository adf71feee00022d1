//! The deadline worker: time limits live in the database (`cases.next_deadline_at`), not
//! in sleeping tasks, so after a restart every deadline still fires.
//!
//! Each pass lists cases whose next deadline has passed, then handles each in its own
//! transaction with the row locked (`FOR UPDATE SKIP LOCKED`, re-checking the deadline),
//! so several replicas fire each deadline once. Below the whistle an overdue case
//! escalates (front line → coordination meeting → whistle); at the whistle it is flagged
//! overdue and stays. The escalation or flag, its records, `CaseOverdue` and
//! `CaseEscalated` commit together.
//!
//! The same worker follows through on what was decided and would otherwise be left to
//! memory, with the same locking, so each fires once across replicas:
//!
//! - A parked case's review date (in `next_deadline_at` too, kind `parking_review`)
//!   returns it from the 挂账 register to where it was parked from, with a fresh
//!   resolution deadline when it returns to a handler, and publishes
//!   `CaseParkingReviewReminded` for its platform.
//! - A coordination meeting's action still open after its deadline turns overdue
//!   (`MeetingActionOverdue`) and escalates its case like a passed time limit: up a
//!   tier below the whistle; at the whistle (or when the case no longer has a handler)
//!   the action is only flagged.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use flatgov_messaging::outbox;
use tokio_util::sync::CancellationToken;

use crate::application::ops::{self, OpError, Shared};
use crate::domain::lifecycle::{Actor, Command, EscalationTrigger};
use crate::domain::sla::{self, OverdueConsequence};
use crate::domain::units::assignee_name;
use crate::domain::values::CaseId;
use crate::events::{self, EventContext};
use crate::store::{self, StoredCase};
use crate::triage::reason_text;

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

/// One pass: fires every deadline due now and every meeting action found overdue;
/// returns how many it acted on.
pub async fn run_once(shared: &Shared) -> Result<usize, sqlx::Error> {
    let cases = run_case_deadlines(shared).await?;
    let actions = run_meeting_actions(shared).await?;
    Ok(cases + actions)
}

/// Every case deadline (and register review date) due now.
async fn run_case_deadlines(shared: &Shared) -> Result<usize, sqlx::Error> {
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
    if sla::review_due(&stored.case).is_some_and(|due| due < now) {
        return_from_register(shared, transaction, stored, now).await?;
        return Ok(true);
    }
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

/// Returns a parked case whose review date came to where it was parked from, and
/// reminds its platform.
async fn return_from_register(
    shared: &Shared,
    mut transaction: sqlx::Transaction<'static, sqlx::Postgres>,
    mut stored: StoredCase,
    now: DateTime<Utc>,
) -> Result<(), OpError> {
    let before = stored.case.clone();
    let parking = stored
        .case
        .parking()
        .cloned()
        .ok_or_else(|| OpError::Precondition("a parked case has no register entry".into()))?;
    // Back with a handler, the handler gets a fresh resolution deadline: the old one
    // passed, or nearly, while the case waited in the register.
    let resolution_due = match (parking.resume_to.is_with_handler(), stored.case.tier()) {
        (true, Some(tier)) => Some(
            shared
                .deadlines(&stored.case, tier, now, None)?
                .resolution_due,
        ),
        _ => None,
    };
    let review_on = parking.review_on.format("%Y-%m-%d").to_string();
    let reason = reason_text(&format!(
        "the register's review date {review_on} came (挂账复核到期): back to the platform's queue"
    ));
    let mut records = Vec::new();
    ops::apply(
        &mut stored,
        Actor::System,
        Command::Unpark {
            reason,
            resolution_due,
        },
        now,
        &mut records,
    )?;
    ops::persist(
        &mut transaction,
        &mut stored,
        &records,
        &EventContext::from_before(&before),
        now,
    )
    .await?;
    if let Some(record) = records.last() {
        let reminder = events::parking_review_reminded(&stored, record, &review_on);
        outbox::enqueue(&mut transaction, &stored.name(), &reminder).await?;
    }
    transaction.commit().await?;
    tracing::info!(case = %stored.case.id(), review_on, "parked case back from the register");
    Ok(())
}

/// Every open meeting action whose deadline passed.
async fn run_meeting_actions(shared: &Shared) -> Result<usize, sqlx::Error> {
    let now = shared.clock.now();
    let due = {
        let mut connection = shared.pool.acquire().await?;
        store::due_actions(&mut connection, now, BATCH).await?
    };
    let mut fired = 0;
    for (meeting_id, position, case_id) in due {
        match fire_action(shared, meeting_id, position, case_id, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            Err(error) => {
                // The action is marked overdue without moving the case, so a case that
                // cannot escalate does not hold the worker; the event says so.
                tracing::error!(meeting = %meeting_id, position, %error, "cannot escalate for an overdue meeting action; flagging it only");
                flag_action(shared, meeting_id, position, case_id, now).await?;
            }
        }
    }
    Ok(fired)
}

/// Marks one action overdue and escalates its case, if no other replica holds or
/// found it.
#[tracing::instrument(skip_all, fields(meeting = %meeting_id, position))]
async fn fire_action(
    shared: &Shared,
    meeting_id: uuid::Uuid,
    position: i32,
    case_id: CaseId,
    now: DateTime<Utc>,
) -> Result<bool, OpError> {
    let mut transaction = shared.pool.begin().await?;
    let mut stored = store::load_case(&mut transaction, case_id, true)
        .await?
        .ok_or_else(|| OpError::Precondition("the meeting's case is gone".into()))?;
    let Some(due) = store::lock_due_action(&mut transaction, meeting_id, position, now).await?
    else {
        return Ok(false);
    };
    store::mark_action_overdue(&mut transaction, meeting_id, position, now).await?;
    let escalate_to = stored
        .case
        .state()
        .is_with_handler()
        .then(|| stored.case.tier().and_then(|tier| tier.next()))
        .flatten();
    let mut escalated = false;
    if let Some(to) = escalate_to {
        let before = stored.case.clone();
        let (assignee, agencies) = shared
            .tier_handler(&mut transaction, &stored, to, None)
            .await?;
        let assignment = shared.assignment(&stored.case, to, assignee, now)?;
        if !agencies.is_empty() {
            stored.extras.escalation_agencies = agencies;
        }
        let mut records = Vec::new();
        ops::apply(
            &mut stored,
            Actor::System,
            Command::Escalate {
                trigger: EscalationTrigger::MeetingActionOverdue {
                    due: due.action.due,
                },
                assignment,
            },
            now,
            &mut records,
        )?;
        ops::persist(
            &mut transaction,
            &mut stored,
            &records,
            &EventContext::from_before(&before),
            now,
        )
        .await?;
        escalated = true;
    }
    let meeting = store::meeting_name(due.case_id, meeting_id);
    let event = events::meeting_action_overdue(&due, &meeting, now, escalated);
    outbox::enqueue(&mut transaction, &event.action.clone(), &event).await?;
    transaction.commit().await?;
    tracing::info!(case = %due.case_id, escalated, "meeting action overdue");
    Ok(true)
}

/// Marks one action overdue without touching its case.
async fn flag_action(
    shared: &Shared,
    meeting_id: uuid::Uuid,
    position: i32,
    case_id: CaseId,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut transaction = shared.pool.begin().await?;
    store::load_case(&mut transaction, case_id, true).await?;
    let Some(due) = store::lock_due_action(&mut transaction, meeting_id, position, now).await?
    else {
        return Ok(());
    };
    store::mark_action_overdue(&mut transaction, meeting_id, position, now).await?;
    let meeting = store::meeting_name(due.case_id, meeting_id);
    let event = events::meeting_action_overdue(&due, &meeting, now, false);
    outbox::enqueue(&mut transaction, &event.action.clone(), &event).await?;
    transaction.commit().await
}
