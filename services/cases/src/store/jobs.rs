//! Triage jobs: queued, claimed under a lease by one replica, finished, retried or released.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row as _};

use crate::domain::lifecycle::Actor;
use crate::domain::values::CaseId;

use super::{decode_error, json};

/// Why a triage job exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPurpose {
    /// Place and dispatch the case (intake, classification by hand, recategorisation).
    Triage,
    /// Re-locate the case after a boundary change.
    Rehome,
}

/// What a dispatcher asked for with ClassifyCase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instructions {
    pub matter_code: Option<String>,
    pub block_code: Option<String>,
    pub tier: Option<String>,
    pub reason: Option<String>,
}

/// Queues triage for a case (or replaces a queued request with this newer one).
pub async fn enqueue_triage(
    connection: &mut PgConnection,
    case_id: CaseId,
    instructions: &Instructions,
    requested_by: &Actor,
    run_after: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into triage_jobs (case_id, purpose, matter_code, block_code, tier, reason, requested_by, run_after, trace_headers)
         values ($1, 'triage', $2, $3, $4, $5, $6, $7, $8)
         on conflict (case_id) do update set purpose = 'triage', revision = triage_jobs.revision + 1,
             matter_code = $2, block_code = $3, tier = $4, reason = $5, requested_by = $6,
             generation = null, attempts = 0, run_after = $7, lease_until = null, last_error = null,
             trace_headers = $8",
    )
    .bind(case_id.as_uuid())
    .bind(&instructions.matter_code)
    .bind(&instructions.block_code)
    .bind(&instructions.tier)
    .bind(&instructions.reason)
    .bind(json(requested_by)?)
    .bind(run_after)
    .bind(current_trace_headers())
    .execute(connection)
    .await?;
    Ok(())
}

/// The current span's W3C trace context, stored with queued work.
fn current_trace_headers() -> serde_json::Value {
    serde_json::Value::Object(
        flatgov_telemetry::trace_headers(&tracing::Span::current())
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect(),
    )
}

/// Records `generation` as the newest boundary generation applied, unless one
/// activated later (or at the same moment) was applied already; answers whether
/// it was recorded, i.e. whether its changes are to be applied.
pub async fn record_generation_applied(
    connection: &mut PgConnection,
    generation: &str,
    activated_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let recorded: Option<bool> = sqlx::query_scalar(
        "insert into boundary_generation_applied (singleton, generation, activated_at)
         values (true, $1, $2)
         on conflict (singleton) do update
             set generation = excluded.generation, activated_at = excluded.activated_at
             where boundary_generation_applied.activated_at < excluded.activated_at
         returning true",
    )
    .bind(generation)
    .bind(activated_at)
    .fetch_optional(connection)
    .await?;
    Ok(recorded.unwrap_or(false))
}

/// Queues re-homing into `generation` for the open cases in `block_codes`. A case
/// already waiting to be re-homed is re-aimed at this (newer) generation, and a
/// worker holding the older claim drops it (the revision moves on); a case waiting
/// for its first triage keeps that job, which locates it in the active map anyway.
/// Returns how many jobs were queued or re-aimed.
pub async fn enqueue_rehoming(
    connection: &mut PgConnection,
    block_codes: &[String],
    generation: &str,
    run_after: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let requested_by = json(&Actor::System)?;
    let queued = sqlx::query(
        "insert into triage_jobs (case_id, purpose, requested_by, generation, run_after, trace_headers)
         select id, 'rehome', $2, $3, $4, $5 from cases
         where state <> 'closed' and block_code = any($1)
         on conflict (case_id) do update
             set generation = excluded.generation, revision = triage_jobs.revision + 1,
                 attempts = 0, run_after = excluded.run_after, lease_until = null,
                 last_error = null, trace_headers = excluded.trace_headers
             where triage_jobs.purpose = 'rehome'",
    )
    .bind(block_codes)
    .bind(requested_by)
    .bind(generation)
    .bind(run_after)
    .bind(current_trace_headers())
    .execute(connection)
    .await?
    .rows_affected();
    Ok(queued)
}

/// Points the re-homing of point-less cases in `old_block` (retired) at `successor`, the
/// new block covering most of its land.
pub async fn direct_rehoming(
    connection: &mut PgConnection,
    old_block: &str,
    successor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update triage_jobs set block_code = $2
         where purpose = 'rehome' and case_id in (
             select id from cases where block_code = $1 and latitude is null and state <> 'closed')",
    )
    .bind(old_block)
    .bind(successor)
    .execute(connection)
    .await?;
    Ok(())
}

/// A claimed triage job.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub case_id: CaseId,
    pub purpose: JobPurpose,
    /// The job's revision when claimed; a newer request makes the claim stale.
    pub revision: i64,
    pub instructions: Instructions,
    pub requested_by: Actor,
    pub generation: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
    /// Trace context of the request that queued the job.
    pub trace_headers: Vec<(String, String)>,
}

/// Claims up to `limit` due jobs for `lease`: other replicas skip them until the lease
/// ends (a worker that died is replaced then).
pub async fn claim_jobs(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    let rows = sqlx::query(
        "update triage_jobs set lease_until = $2, attempts = attempts + 1
         where case_id in (
             select case_id from triage_jobs
             where run_after <= $1 and (lease_until is null or lease_until < $1)
             order by run_after
             limit $3
             for update skip locked)
         returning case_id, purpose, revision, matter_code, block_code, tier, reason, requested_by,
             generation, attempts, trace_headers",
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            let purpose: String = row.try_get("purpose")?;
            let requested_by: serde_json::Value = row.try_get("requested_by")?;
            Ok(ClaimedJob {
                case_id: CaseId::from_uuid(row.try_get("case_id")?),
                purpose: if purpose == "rehome" {
                    JobPurpose::Rehome
                } else {
                    JobPurpose::Triage
                },
                revision: row.try_get("revision")?,
                instructions: Instructions {
                    matter_code: row.try_get("matter_code")?,
                    block_code: row.try_get("block_code")?,
                    tier: row.try_get("tier")?,
                    reason: row.try_get("reason")?,
                },
                requested_by: serde_json::from_value(requested_by)
                    .map_err(|error| decode_error("job requester", error))?,
                generation: row.try_get("generation")?,
                attempts: row.try_get("attempts")?,
                trace_headers: row
                    .try_get::<serde_json::Value, _>("trace_headers")?
                    .as_object()
                    .map(|headers| {
                        headers
                            .iter()
                            .filter_map(|(name, value)| {
                                Some((name.clone(), value.as_str()?.to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Extends the lease of jobs a live worker still holds (claimed and neither
/// finished, retried nor released: those clear or delete the lease).
pub async fn renew_leases(
    connection: &mut PgConnection,
    case_ids: &[uuid::Uuid],
    lease_until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update triage_jobs set lease_until = $2
         where case_id = any($1) and lease_until is not null and lease_until < $2",
    )
    .bind(case_ids)
    .bind(lease_until)
    .execute(connection)
    .await?;
    Ok(())
}

/// Removes a finished job, if the claim is still current; false when a newer request
/// replaced it (the caller then discards its result).
pub async fn finish_job(
    connection: &mut PgConnection,
    job: &ClaimedJob,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from triage_jobs where case_id = $1 and revision = $2")
        .bind(job.case_id.as_uuid())
        .bind(job.revision)
        .execute(connection)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// Schedules the next attempt of a job that could not finish, and says why on the case.
pub async fn retry_job(
    connection: &mut PgConnection,
    job: &ClaimedJob,
    run_after: DateTime<Utc>,
    error: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update triage_jobs set run_after = $3, lease_until = null, last_error = $4
         where case_id = $1 and revision = $2",
    )
    .bind(job.case_id.as_uuid())
    .bind(job.revision)
    .bind(run_after)
    .bind(error)
    .execute(&mut *connection)
    .await?;
    sqlx::query("update cases set triage_note = $2 where id = $1 and triage_status = 'pending'")
        .bind(job.case_id.as_uuid())
        .bind(note)
        .execute(connection)
        .await?;
    Ok(())
}

/// Releases a claim at once (the case changed under the worker): the job runs again now.
pub async fn release_job(
    connection: &mut PgConnection,
    job: &ClaimedJob,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update triage_jobs set run_after = $3, lease_until = null, attempts = greatest(attempts - 1, 0)
         where case_id = $1 and revision = $2",
    )
    .bind(job.case_id.as_uuid())
    .bind(job.revision)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// Whether a triage job waits for the case.
pub async fn has_job(connection: &mut PgConnection, id: CaseId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from triage_jobs where case_id = $1)")
        .bind(id.as_uuid())
        .fetch_one(connection)
        .await
}
