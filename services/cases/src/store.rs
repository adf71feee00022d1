//! SQL. Every function takes a connection (usually a transaction's), so callers decide
//! what commits together: a state change, its records and its outbox events always do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{Actor, Case, CaseSnapshot, CaseState, TransitionRecord};
use crate::domain::sla;
use crate::domain::units::{BlockCode, DepartmentCode, DutyUnit, assignee_name};
use crate::domain::values::{BlockName, CaseId, code_enum};

code_enum! {
    /// Where triage stands, beside the lifecycle state (a reported case may wait for the
    /// block registry, for classification by hand, …).
    pub enum TriageStatus ("triage status") {
        /// Waiting for the block registry or the duty lists.
        Pending = "pending",
        /// Placed and dispatched.
        Complete = "complete",
        /// Located, matter unclassified: the subdistrict classifies it.
        AwaitingClassification = "awaiting_classification",
        /// The duty lists do not know the matter: the subdistrict classifies it.
        UnknownMatter = "unknown_matter",
        /// Outside every block: placed by hand.
        OutsideBlocks = "outside_blocks",
        /// The duty-list gate refused the dispatch.
        DispatchRefused = "dispatch_refused",
    }
}

code_enum! {
    /// Where a needy-person case's referral to the federation stands.
    pub enum ReferralState ("referral state") {
        /// Published; no answer yet.
        Pending = "pending",
        /// An organisation accepted it.
        Accepted = "accepted",
        /// Declined.
        Declined = "declined",
    }
}

/// Who the duty lists say is responsible for the case's matter where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responsibility {
    /// The unit that leads.
    pub lead: DutyUnit,
    /// Departments that cooperate.
    pub cooperating: Vec<DepartmentCode>,
    /// The list item that says so.
    pub list_item_code: String,
}

/// The block's 1+N+1 team as the block registry gave it when the case was placed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Team {
    /// Staff id of the governor.
    pub governor: Option<String>,
    /// Staff id of the supervisor.
    pub supervisor: Option<String>,
}

/// The duty-list gate's refusal, with what the gate said beside the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalDetails {
    pub reason: String,
    pub reason_code: String,
    pub responsible_instead: Option<DutyUnit>,
    /// `refusals/{id}` in the duty lists service.
    pub refusal: String,
    pub attempted_assignee: String,
}

/// The federation referral of a needy-person case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub state: ReferralState,
    pub referral: Option<String>,
    pub organisation: Option<String>,
    pub support_plan: Option<String>,
    pub note: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Non-personal facts kept beside the aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseExtras {
    pub responsibility: Option<Responsibility>,
    pub team: Option<Team>,
    pub refusal: Option<RefusalDetails>,
    pub referral: Option<Referral>,
    /// Departments named for the whistle (manual escalation's, or the responsibility's).
    #[serde(default)]
    pub escalation_agencies: Vec<DepartmentCode>,
    /// The last dispatch went to the subdistrict because nothing else fitted (兜底).
    #[serde(default)]
    pub dispatch_fallback: bool,
}

/// A case as stored: the aggregate plus what the service keeps beside it.
#[derive(Debug, Clone)]
pub struct StoredCase {
    pub case: Case,
    /// The block found by triage before the case was triaged (an unclassified case is
    /// located first); the aggregate's own block wins once it has one.
    pub located_block: Option<BlockCode>,
    pub extras: CaseExtras,
    pub description: String,
    pub attachments: Vec<String>,
    pub urgent: bool,
    pub anonymous: bool,
    pub submitted_by: String,
    pub reporter_subject: Option<String>,
    pub triage_status: TriageStatus,
    pub triage_note: Option<String>,
    pub rating_comment: Option<String>,
    pub resolution_note: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl StoredCase {
    /// The case's block: the aggregate's, else the one triage located.
    pub fn block(&self) -> Option<BlockCode> {
        self.case
            .block()
            .and_then(BlockName::code)
            .or(self.located_block)
    }

    /// The resource name `cases/{id}`.
    pub fn name(&self) -> String {
        self.case.id().resource_name()
    }

    /// The most specific division code known, '' before the case is located.
    pub fn division_code(&self) -> String {
        self.block()
            .map(|block| block.as_str().to_owned())
            .unwrap_or_default()
    }

    /// Whether a resident can rate the result: someone reported it and can be reached.
    pub fn has_rater(&self, has_contact: bool) -> bool {
        !self.anonymous && (has_contact || self.reporter_subject.is_some())
    }
}

/// A reporter's contact (personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub phone: String,
}

/// Columns selected for a [`StoredCase`].
const CASE_COLUMNS: &str = "id, snapshot, extras, block_code, description, attachments, urgent, anonymous, \
     submitted_by, reporter_subject, triage_status, triage_note, rating_comment, resolution_note, updated_at";

fn decode_error(what: &str, error: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what}: {error}").into())
}

fn case_from_row(row: &PgRow) -> Result<StoredCase, sqlx::Error> {
    let snapshot: serde_json::Value = row.try_get("snapshot")?;
    let snapshot: CaseSnapshot =
        serde_json::from_value(snapshot).map_err(|error| decode_error("case snapshot", error))?;
    let case = Case::restore(snapshot).map_err(|error| decode_error("case snapshot", error))?;
    let extras: serde_json::Value = row.try_get("extras")?;
    let extras: CaseExtras =
        serde_json::from_value(extras).map_err(|error| decode_error("case extras", error))?;
    let block_code: Option<String> = row.try_get("block_code")?;
    let triage_status: String = row.try_get("triage_status")?;
    Ok(StoredCase {
        case,
        located_block: block_code.and_then(|code| BlockCode::parse(&code).ok()),
        extras,
        description: row.try_get("description")?,
        attachments: row.try_get("attachments")?,
        urgent: row.try_get("urgent")?,
        anonymous: row.try_get("anonymous")?,
        submitted_by: row.try_get("submitted_by")?,
        reporter_subject: row.try_get("reporter_subject")?,
        triage_status: triage_status
            .parse()
            .map_err(|error| decode_error("triage status", error))?,
        triage_note: row.try_get("triage_note")?,
        rating_comment: row.try_get("rating_comment")?,
        resolution_note: row.try_get("resolution_note")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The deadline columns: the next one to fire, and the earliest running one.
fn deadline_columns(case: &Case) -> (Option<DateTime<Utc>>, Option<String>, Option<DateTime<Utc>>) {
    let next = sla::next_deadline(case);
    let earliest_running = case.assignment().and_then(|assignment| match case.state() {
        CaseState::Dispatched => Some(assignment.acceptance_due.min(assignment.resolution_due)),
        CaseState::Accepted | CaseState::InProgress => Some(assignment.resolution_due),
        _ => None,
    });
    (
        next.map(|pending| pending.due),
        next.map(|pending| pending.deadline.to_string()),
        earliest_running,
    )
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::to_value(value).map_err(|error| sqlx::Error::Encode(Box::new(error)))
}

/// Inserts a new case (and its contact).
pub async fn insert_case(
    connection: &mut PgConnection,
    stored: &StoredCase,
    contact: Option<&Contact>,
) -> Result<(), sqlx::Error> {
    let case = &stored.case;
    let location = case.location();
    sqlx::query(
        "insert into cases (id, version, state, kind, channel, matter_code, tier, latitude, longitude,
             block_code, community_code, subdistrict_code, division_code, assignee, snapshot, extras,
             description, attachments, urgent, anonymous, submitted_by, reporter_subject,
             triage_status, reported_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, null, $14, $15, $16, $17,
             $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(case.id().as_uuid())
    .bind(i32::try_from(case.version()).unwrap_or(i32::MAX))
    .bind(case.state().as_str())
    .bind(case.kind().as_str())
    .bind(case.channel().as_str())
    .bind(case.matter().code().map(|code| code.as_str().to_owned()))
    .bind(case.tier().map(|tier| tier.as_str()))
    .bind(location.map(GeoPoint::latitude))
    .bind(location.map(GeoPoint::longitude))
    .bind(stored.block().map(|block| block.as_str().to_owned()))
    .bind(stored.block().map(|block| block.community().to_string()))
    .bind(stored.block().map(|block| block.subdistrict().to_string()))
    .bind(stored.division_code())
    .bind(json(case.snapshot())?)
    .bind(json(&stored.extras)?)
    .bind(&stored.description)
    .bind(&stored.attachments)
    .bind(stored.urgent)
    .bind(stored.anonymous)
    .bind(&stored.submitted_by)
    .bind(&stored.reporter_subject)
    .bind(stored.triage_status.as_str())
    .bind(case.reported_at())
    .bind(stored.updated_at)
    .execute(&mut *connection)
    .await?;
    if let Some(contact) = contact {
        sqlx::query("insert into case_contacts (case_id, name, phone) values ($1, $2, $3)")
            .bind(case.id().as_uuid())
            .bind(&contact.name)
            .bind(&contact.phone)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Writes every column of a case back, derived from the aggregate and its extras.
pub async fn save_case(
    connection: &mut PgConnection,
    stored: &StoredCase,
) -> Result<(), sqlx::Error> {
    let case = &stored.case;
    let (next_due, next_kind, earliest_running) = deadline_columns(case);
    let block = stored.block();
    let referral = stored.extras.referral.as_ref();
    sqlx::query(
        "update cases set version = $2, state = $3, matter_code = $4, tier = $5, block_code = $6,
             community_code = $7, subdistrict_code = $8, division_code = $9, assignee = $10,
             next_deadline_at = $11, next_deadline_kind = $12, earliest_running_due = $13,
             snapshot = $14, extras = $15, triage_status = $16, triage_note = $17,
             referral_state = $18, referral_organisation = $19, rating_comment = $20,
             resolution_note = $21, updated_at = $22
         where id = $1",
    )
    .bind(case.id().as_uuid())
    .bind(i32::try_from(case.version()).unwrap_or(i32::MAX))
    .bind(case.state().as_str())
    .bind(case.matter().code().map(|code| code.as_str().to_owned()))
    .bind(case.tier().map(|tier| tier.as_str()))
    .bind(block.as_ref().map(|block| block.as_str().to_owned()))
    .bind(block.as_ref().map(|block| block.community().to_string()))
    .bind(block.as_ref().map(|block| block.subdistrict().to_string()))
    .bind(stored.division_code())
    .bind(
        case.assignment()
            .map(|assignment| assignee_name(&assignment.assignee)),
    )
    .bind(next_due)
    .bind(next_kind)
    .bind(earliest_running)
    .bind(json(case.snapshot())?)
    .bind(json(&stored.extras)?)
    .bind(stored.triage_status.as_str())
    .bind(&stored.triage_note)
    .bind(referral.map(|referral| referral.state.as_str()))
    .bind(referral.and_then(|referral| referral.organisation.clone()))
    .bind(&stored.rating_comment)
    .bind(&stored.resolution_note)
    .bind(stored.updated_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// One case, optionally locked for update until the transaction ends.
pub async fn load_case(
    connection: &mut PgConnection,
    id: CaseId,
    for_update: bool,
) -> Result<Option<StoredCase>, sqlx::Error> {
    let lock = if for_update { " for update" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CASE_COLUMNS} from cases where id = $1{lock}"
    )))
    .bind(id.as_uuid())
    .fetch_optional(connection)
    .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// The reporter's contact, if one was given.
pub async fn load_contact(
    connection: &mut PgConnection,
    id: CaseId,
) -> Result<Option<Contact>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("select name, phone from case_contacts where case_id = $1")
            .bind(id.as_uuid())
            .fetch_optional(connection)
            .await?;
    Ok(row.map(|(name, phone)| Contact { name, phone }))
}

/// Appends transition records.
pub async fn insert_records(
    connection: &mut PgConnection,
    records: &[TransitionRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut case_ids = Vec::with_capacity(records.len());
    let mut sequences = Vec::with_capacity(records.len());
    let mut bodies = Vec::with_capacity(records.len());
    let mut instants = Vec::with_capacity(records.len());
    for record in records {
        case_ids.push(record.case_id.as_uuid());
        sequences.push(i32::try_from(record.sequence).unwrap_or(i32::MAX));
        bodies.push(json(record)?);
        instants.push(record.at);
    }
    // One round trip for all of a transition's records.
    sqlx::query(
        "insert into case_records (case_id, sequence, record, at)
         select * from unnest($1::uuid[], $2::integer[], $3::jsonb[], $4::timestamptz[])",
    )
    .bind(case_ids)
    .bind(sequences)
    .bind(bodies)
    .bind(instants)
    .execute(connection)
    .await?;
    Ok(())
}

fn record_from_json(value: serde_json::Value) -> Result<TransitionRecord, sqlx::Error> {
    serde_json::from_value(value).map_err(|error| decode_error("transition record", error))
}

/// A case's records, oldest first.
pub async fn load_records(
    connection: &mut PgConnection,
    id: CaseId,
) -> Result<Vec<TransitionRecord>, sqlx::Error> {
    let rows: Vec<serde_json::Value> =
        sqlx::query_scalar("select record from case_records where case_id = $1 order by sequence")
            .bind(id.as_uuid())
            .fetch_all(connection)
            .await?;
    rows.into_iter().map(record_from_json).collect()
}

// ------------------------------------------------------------------ intake

/// Serialises intake around the same matter in the same area, so two simultaneous
/// reports of one broken lamp do not both become new work. `keys` are the grid cells the
/// "me too" search box touches; they are taken in order, so no two intakes deadlock.
pub async fn lock_intake_cells(
    connection: &mut PgConnection,
    keys: &[i64],
) -> Result<(), sqlx::Error> {
    // One round trip; `order by` takes the locks in key order.
    sqlx::query("select pg_advisory_xact_lock(key) from unnest($1::bigint[]) as key order by key")
        .bind(keys)
        .execute(connection)
        .await?;
    Ok(())
}

/// Open cases of `matter` inside the box and reported within the window of `at`.
pub async fn me_too_candidates(
    connection: &mut PgConnection,
    matter: &str,
    (south, west, north, east): (f64, f64, f64, f64),
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
) -> Result<Vec<(Uuid, String, f64, f64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "select id, state, latitude, longitude, reported_at from cases
         where matter_code = $1 and state <> 'closed' and latitude is not null
           and latitude between $2 and $3 and longitude between $4 and $5
           and reported_at between $6 and $7
         limit 200",
    )
    .bind(matter)
    .bind(south)
    .bind(north)
    .bind(west)
    .bind(east)
    .bind(earliest)
    .bind(latest)
    .fetch_all(connection)
    .await
}

/// A report linked to an open case as "me too".
pub struct MeTooReport<'a> {
    pub id: Uuid,
    pub case_id: CaseId,
    pub channel: &'a str,
    pub location: GeoPoint,
    pub description: &'a str,
    pub attachments: &'a [String],
    pub contact: Option<&'a Contact>,
    pub anonymous: bool,
    pub submitted_by: &'a str,
    pub reporter_subject: Option<&'a str>,
    pub reported_at: DateTime<Utc>,
}

pub async fn insert_me_too_report(
    connection: &mut PgConnection,
    report: &MeTooReport<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into me_too_reports (id, case_id, channel, latitude, longitude, description, attachments,
             contact_name, contact_phone, anonymous, submitted_by, reporter_subject, reported_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(report.id)
    .bind(report.case_id.as_uuid())
    .bind(report.channel)
    .bind(report.location.latitude())
    .bind(report.location.longitude())
    .bind(report.description)
    .bind(report.attachments)
    .bind(report.contact.map(|contact| contact.name.clone()))
    .bind(report.contact.map(|contact| contact.phone.clone()))
    .bind(report.anonymous)
    .bind(report.submitted_by)
    .bind(report.reporter_subject)
    .bind(report.reported_at)
    .execute(connection)
    .await?;
    Ok(())
}

// --------------------------------------------------------------- catalogue

/// Whether the local catalogue lists `code`; `None` before any catalogue arrived.
pub async fn matter_in_catalogue(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Option<bool>, sqlx::Error> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "select true, exists (select 1 from matter_catalogue where code = $1) from matter_catalogue_state",
    )
    .bind(code)
    .fetch_optional(connection)
    .await?;
    Ok(row.map(|(_, known)| known))
}

/// A matter of the catalogue.
#[derive(Debug, Clone)]
pub struct CatalogueMatter {
    pub code: String,
    pub name: String,
    pub list_item_code: String,
    pub default_tier: Option<String>,
    pub lead_department: Option<String>,
    pub cooperating_departments: Vec<String>,
}

/// Replaces the catalogue unless the stored one took effect later; true when replaced.
pub async fn replace_catalogue(
    connection: &mut PgConnection,
    matters: &[CatalogueMatter],
    effective_from: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let stored: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("select effective_from from matter_catalogue_state for update")
            .fetch_optional(&mut *connection)
            .await?;
    if let (Some(Some(stored)), Some(incoming)) = (stored, effective_from)
        && stored > incoming
    {
        return Ok(false);
    }
    sqlx::query("delete from matter_catalogue")
        .execute(&mut *connection)
        .await?;
    for matter in matters {
        sqlx::query(
            "insert into matter_catalogue (code, name, list_item_code, default_tier, lead_department, cooperating_departments)
             values ($1, $2, $3, $4, $5, $6) on conflict (code) do nothing",
        )
        .bind(&matter.code)
        .bind(&matter.name)
        .bind(&matter.list_item_code)
        .bind(&matter.default_tier)
        .bind(&matter.lead_department)
        .bind(&matter.cooperating_departments)
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query(
        "insert into matter_catalogue_state (singleton, effective_from, received_at, matters) values (true, $1, $2, $3)
         on conflict (singleton) do update set effective_from = $1, received_at = $2, matters = $3",
    )
    .bind(effective_from)
    .bind(received_at)
    .bind(i32::try_from(matters.len()).unwrap_or(i32::MAX))
    .execute(connection)
    .await?;
    Ok(true)
}

/// The catalogue's lead and cooperating departments of a matter, for a whistle when the
/// case has no responsibility from the duty lists.
pub async fn catalogue_departments(
    connection: &mut PgConnection,
    code: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let row: Option<(Option<String>, Vec<String>)> = sqlx::query_as(
        "select lead_department, cooperating_departments from matter_catalogue where code = $1",
    )
    .bind(code)
    .fetch_optional(connection)
    .await?;
    Ok(row
        .map(|(lead, cooperating)| lead.into_iter().chain(cooperating).collect())
        .unwrap_or_default())
}

// ------------------------------------------------------------- triage jobs

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

/// Queues re-homing for the open cases in `block_codes`; a case already queued keeps its
/// job (which locates the case afresh anyway). Returns how many were queued.
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
         on conflict (case_id) do nothing",
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

// --------------------------------------------------------------- deadlines

/// Cases with a deadline to fire before `now`, earliest first (not locked: the worker
/// locks each in its own transaction, skipping those another replica holds).
pub async fn due_cases(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CaseId>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select id from cases where next_deadline_at < $1 order by next_deadline_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await?;
    Ok(ids.into_iter().map(CaseId::from_uuid).collect())
}

/// Locks a case whose deadline is due, unless another replica holds it or fired it.
pub async fn lock_due_case(
    connection: &mut PgConnection,
    id: CaseId,
    now: DateTime<Utc>,
) -> Result<Option<StoredCase>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CASE_COLUMNS} from cases where id = $1 and next_deadline_at < $2 for update skip locked"
    )))
    .bind(id.as_uuid())
    .bind(now)
    .fetch_optional(connection)
    .await?;
    row.as_ref().map(case_from_row).transpose()
}

/// Moves a case's next check later without a transition (a deadline the worker could not
/// act on), so a broken case does not hold the worker.
pub async fn postpone_deadline(
    connection: &mut PgConnection,
    id: CaseId,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("update cases set next_deadline_at = $2 where id = $1")
        .bind(id.as_uuid())
        .bind(until)
        .execute(connection)
        .await?;
    Ok(())
}

// ------------------------------------------------------------------ lists

/// Which cases a caller may list: any of these conditions.
#[derive(Debug, Clone, Default)]
pub struct ListScope {
    /// Everything.
    pub everything: bool,
    /// Division code prefixes the caller's jurisdictions cover.
    pub division_prefixes: Vec<String>,
    /// Also cases not located yet (district-wide callers).
    pub unlocated: bool,
    /// Cases assigned to this unit (a department's).
    pub assignee: Option<String>,
    /// Cases referred to the federation: pending ones, and those accepted by this
    /// organisation.
    pub referrals_for: Option<String>,
    /// Cases this resident reported.
    pub reporter_subject: Option<String>,
}

/// Filters of a case list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<String>,
    pub tier: Option<String>,
    pub block_code: Option<String>,
    pub subdistrict_code: Option<String>,
    pub assignee: Option<String>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub triage_status: Option<String>,
    /// Only cases with ids below this (the page token).
    pub before: Option<Uuid>,
}

fn push_scope(builder: &mut sqlx::QueryBuilder<sqlx::Postgres>, scope: &ListScope) {
    if scope.everything {
        builder.push("true");
        return;
    }
    builder.push("(false");
    if !scope.division_prefixes.is_empty() {
        let patterns: Vec<String> = scope
            .division_prefixes
            .iter()
            .map(|prefix| format!("{prefix}%"))
            .collect();
        builder.push(" or (division_code <> '' and division_code like any(");
        builder.push_bind(patterns);
        builder.push("))");
    }
    if scope.unlocated {
        builder.push(" or division_code = ''");
    }
    if let Some(assignee) = &scope.assignee {
        builder.push(" or assignee = ");
        builder.push_bind(assignee.clone());
    }
    if let Some(organisation) = &scope.referrals_for {
        builder.push(" or referral_state = 'pending' or (referral_state = 'accepted' and referral_organisation = ");
        builder.push_bind(organisation.clone());
        builder.push(")");
    }
    if let Some(subject) = &scope.reporter_subject {
        builder.push(" or reporter_subject = ");
        builder.push_bind(subject.clone());
    }
    builder.push(")");
}

/// A page of cases, newest first.
pub async fn list_cases(
    connection: &mut PgConnection,
    scope: &ListScope,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<StoredCase>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(format!("select {CASE_COLUMNS} from cases where "));
    push_scope(&mut builder, scope);
    let mut equal = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            builder.push(format!(" and {column} = "));
            builder.push_bind(value.clone());
        }
    };
    equal("state", &filter.state);
    equal("tier", &filter.tier);
    equal("block_code", &filter.block_code);
    equal("subdistrict_code", &filter.subdistrict_code);
    equal("assignee", &filter.assignee);
    equal("kind", &filter.kind);
    equal("triage_status", &filter.triage_status);
    if let Some(now) = filter.overdue_at {
        builder.push(" and earliest_running_due < ");
        builder.push_bind(now);
    }
    if let Some(before) = filter.before {
        builder.push(" and id < ");
        builder.push_bind(before);
    }
    builder.push(" order by id desc limit ");
    builder.push_bind(limit);
    let rows = builder.build().fetch_all(connection).await?;
    rows.iter().map(case_from_row).collect()
}

/// The records of the cases reported in `[start, end)` that `scope` lets the caller see,
/// up to `as_of`.
pub async fn records_for_indicators(
    connection: &mut PgConnection,
    scope: &ListScope,
    subdistrict_code: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Vec<TransitionRecord>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(
        "select r.record from case_records r join cases on cases.id = r.case_id where ",
    );
    push_scope(&mut builder, scope);
    builder.push(" and cases.reported_at >= ");
    builder.push_bind(start);
    builder.push(" and cases.reported_at < ");
    builder.push_bind(end);
    builder.push(" and r.at <= ");
    builder.push_bind(as_of);
    if let Some(code) = subdistrict_code {
        builder.push(" and cases.subdistrict_code = ");
        builder.push_bind(code.to_owned());
    }
    let rows: Vec<serde_json::Value> = builder.build_query_scalar().fetch_all(connection).await?;
    rows.into_iter().map(record_from_json).collect()
}

// ---------------------------------------------------------------- meetings

/// A stored coordination meeting.
#[derive(Debug, Clone)]
pub struct MeetingRow {
    pub id: Uuid,
    pub case_id: CaseId,
    pub subdistrict_code: String,
    pub scheduled_for: DateTime<Utc>,
    pub location: String,
    pub participants: Vec<String>,
    pub agenda: String,
    pub state: String,
    pub decision: Option<String>,
    pub attendees: Vec<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub scheduled_by: String,
    pub created_at: DateTime<Utc>,
    /// (description, owner, due), in order.
    pub actions: Vec<(String, String, DateTime<Utc>)>,
}

impl MeetingRow {
    /// `cases/{case}/meetings/{id}`.
    pub fn name(&self) -> String {
        format!("{}/meetings/{}", self.case_id.resource_name(), self.id)
    }
}

const MEETING_COLUMNS: &str = "id, case_id, subdistrict_code, scheduled_for, location, participants, agenda, state, \
     decision, attendees, decided_at, scheduled_by, created_at";

fn meeting_from_row(row: &PgRow) -> Result<MeetingRow, sqlx::Error> {
    Ok(MeetingRow {
        id: row.try_get("id")?,
        case_id: CaseId::from_uuid(row.try_get("case_id")?),
        subdistrict_code: row.try_get("subdistrict_code")?,
        scheduled_for: row.try_get("scheduled_for")?,
        location: row.try_get("location")?,
        participants: row.try_get("participants")?,
        agenda: row.try_get("agenda")?,
        state: row.try_get("state")?,
        decision: row.try_get("decision")?,
        attendees: row.try_get("attendees")?,
        decided_at: row.try_get("decided_at")?,
        scheduled_by: row.try_get("scheduled_by")?,
        created_at: row.try_get("created_at")?,
        actions: Vec::new(),
    })
}

async fn with_actions(
    connection: &mut PgConnection,
    mut meeting: MeetingRow,
) -> Result<MeetingRow, sqlx::Error> {
    meeting.actions = sqlx::query_as(
        "select description, owner, due from meeting_actions where meeting_id = $1 order by position",
    )
    .bind(meeting.id)
    .fetch_all(connection)
    .await?;
    Ok(meeting)
}

/// Inserts a meeting unless the request id was used for this case; returns the meeting
/// the request stands for.
pub async fn insert_meeting(
    connection: &mut PgConnection,
    meeting: &MeetingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into meetings (id, case_id, subdistrict_code, scheduled_for, location, participants, agenda,
             state, attendees, scheduled_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, '{}', $9, $10)",
    )
    .bind(meeting.id)
    .bind(meeting.case_id.as_uuid())
    .bind(&meeting.subdistrict_code)
    .bind(meeting.scheduled_for)
    .bind(&meeting.location)
    .bind(&meeting.participants)
    .bind(&meeting.agenda)
    .bind(&meeting.state)
    .bind(&meeting.scheduled_by)
    .bind(meeting.created_at)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// One meeting, optionally locked.
pub async fn load_meeting(
    connection: &mut PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<MeetingRow>, sqlx::Error> {
    let lock = if for_update { " for update" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {MEETING_COLUMNS} from meetings where id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;
    match row {
        Some(row) => Ok(Some(
            with_actions(connection, meeting_from_row(&row)?).await?,
        )),
        None => Ok(None),
    }
}

/// Records a meeting's decision and actions.
pub async fn decide_meeting(
    connection: &mut PgConnection,
    meeting: &MeetingRow,
) -> Result<(), sqlx::Error> {
    sqlx::query("update meetings set state = $2, decision = $3, attendees = $4, decided_at = $5 where id = $1")
        .bind(meeting.id)
        .bind(&meeting.state)
        .bind(&meeting.decision)
        .bind(&meeting.attendees)
        .bind(meeting.decided_at)
        .execute(&mut *connection)
        .await?;
    for (position, (description, owner, due)) in meeting.actions.iter().enumerate() {
        sqlx::query(
            "insert into meeting_actions (meeting_id, position, description, owner, due) values ($1, $2, $3, $4, $5)",
        )
        .bind(meeting.id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(description)
        .bind(owner)
        .bind(due)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// A case's meetings, oldest first.
pub async fn list_meetings(
    connection: &mut PgConnection,
    case_id: CaseId,
) -> Result<Vec<MeetingRow>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {MEETING_COLUMNS} from meetings where case_id = $1 order by created_at, id"
    )))
    .bind(case_id.as_uuid())
    .fetch_all(&mut *connection)
    .await?;
    let mut meetings = Vec::with_capacity(rows.len());
    for row in &rows {
        meetings.push(with_actions(&mut *connection, meeting_from_row(row)?).await?);
    }
    Ok(meetings)
}
