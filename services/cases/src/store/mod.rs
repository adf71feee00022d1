//! SQL. Every function takes a connection (usually a transaction's), so callers decide
//! what commits together: a state change, its records and its outbox events always do.
//!
//! Here: cases, their contacts and records; beside it, by what they serve: intake,
//! the matter catalogue, triage jobs, deadlines, lists and meetings.

mod catalogue;
mod deadlines;
mod intake;
mod jobs;
mod lists;
mod meetings;
pub mod retention;

pub use catalogue::{
    CatalogueMatter, catalogue_departments, matter_in_catalogue, replace_catalogue,
};
pub use deadlines::{due_cases, lock_due_case, postpone_deadline};
pub use intake::{MeTooReport, insert_me_too_report, lock_intake_cells, me_too_candidates};
pub use jobs::{
    ClaimedJob, Instructions, JobPurpose, claim_jobs, direct_rehoming, enqueue_rehoming,
    enqueue_triage, finish_job, has_job, record_generation_applied, release_job, renew_leases,
    retry_job,
};
pub use lists::{ListFilter, ListScope, count_open_by_block, list_cases, records_for_indicators};
pub use meetings::{
    DueAction, MeetingActionRow, MeetingRow, complete_action, decide_meeting, due_actions,
    insert_meeting, list_meetings, load_meeting, lock_due_action, mark_action_overdue,
    meeting_name, overdue_actions_for_indicators,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};

use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{Case, CaseSnapshot, CaseState, TransitionRecord};
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
    // A parked case has no running limit, but its review date wakes the same worker.
    if let Some(review_due) = sla::review_due(case) {
        return (Some(review_due), Some("parking_review".to_owned()), None);
    }
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

/// The sequence of the case's latest verification (its `verified` record), if
/// it has one: the verification a return visit or a rating is about.
pub async fn latest_verification(
    connection: &mut PgConnection,
    id: CaseId,
) -> Result<Option<u32>, sqlx::Error> {
    let sequence: Option<i32> = sqlx::query_scalar(
        "select max(sequence) from case_records
         where case_id = $1 and record -> 'action' ->> 'type' = 'verified'",
    )
    .bind(id.as_uuid())
    .fetch_one(connection)
    .await?;
    Ok(sequence.and_then(|sequence| u32::try_from(sequence).ok()))
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
