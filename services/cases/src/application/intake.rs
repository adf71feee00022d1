//! `ReportCase`: a report from any channel becomes a case (or a "me too" on an open one)
//! in one database commit, with its record, its `CaseReported` event and its triage job.
//! Nothing here calls another service, so intake works whenever this database does.

use chrono::{DateTime, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access;
use crate::application::ops::{self, Shared};
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{Actor, Case, CaseKind, Channel, Command, NewCase, Place};
use crate::domain::me_too::{Candidate, IncomingReport, find_me_too};
use crate::domain::units::BlockCode;
use crate::domain::values::{BlockName, CaseId, Description, Matter, MatterCode};
use crate::error::Error;
use crate::events::{self, EventContext};
use crate::store::{self, CaseExtras, Contact, Instructions, StoredCase, TriageStatus};

/// The most attachments a report may reference.
pub const MAX_ATTACHMENTS: usize = 20;
/// Grid cell size of the intake locks, in degrees (about 5.5 km of latitude).
const LOCK_CELL_DEGREES: f64 = 0.05;

/// A report that passed validation.
#[derive(Debug, Clone)]
pub struct Report {
    pub request_id: Option<RequestId>,
    /// The request's content, to tell a retry from another report under the same id.
    pub fingerprint: Fingerprint,
    pub kind: CaseKind,
    pub channel: Channel,
    pub location: Option<GeoPoint>,
    pub block: Option<BlockCode>,
    pub matter: Matter,
    pub description: Description,
    pub attachments: Vec<String>,
    pub contact: Option<Contact>,
    pub anonymous: bool,
    pub urgent: bool,
}

/// Which channels each role may report through.
pub fn check_channel(access: &Access, channel: Channel) -> Result<(), Error> {
    let Some(caller) = access.caller() else {
        return Err(Error::PermissionDenied(
            "a report needs a verified caller".into(),
        ));
    };
    let any_channel = access.is_named_service()
        || caller.has_any_role(&[
            Role::DistrictAdmin,
            Role::SubdistrictDispatcher,
            Role::DepartmentOfficer,
        ]);
    if any_channel {
        return Ok(());
    }
    let staff_channels = [Channel::Patrol, Channel::WalkIn, Channel::VideoAlert];
    let block_staff = caller.has_any_role(&[Role::Governor, Role::Assistant, Role::Supervisor]);
    if block_staff && staff_channels.contains(&channel) {
        return Ok(());
    }
    if caller.has_role(Role::Resident) && channel == Channel::ResidentApp {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "the caller's roles may not report through the {channel} channel"
    )))
}

/// A block named in a report must lie in the reach of a caller whose report is limited
/// by place (the block team, the platforms); residents report anywhere, as themselves.
pub fn check_block(access: &Access, report: &Report) -> Result<(), Error> {
    let Some(block) = &report.block else {
        return Ok(());
    };
    let as_self = access.unlimited() || access.has_scope(Scope::Own);
    if as_self || access.reaches(&Resource::in_division(block.as_str())) {
        return Ok(());
    }
    Err(Error::PermissionDenied(
        "the named block lies outside the caller's jurisdiction".into(),
    ))
}

/// The advisory-lock keys of the grid cells the "me too" box of a report touches.
fn lock_keys(matter: &MatterCode, bounding_box: (f64, f64, f64, f64)) -> Vec<i64> {
    let (south, west, north, east) = bounding_box;
    let cell = |degrees: f64| (degrees / LOCK_CELL_DEGREES).floor() as i64;
    let mut keys = Vec::new();
    for latitude_cell in cell(south)..=cell(north) {
        for longitude_cell in cell(west)..=cell(east) {
            // FNV-1a over the matter and the cell: stable across processes and releases.
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            let text = format!("cases-intake:{matter}:{latitude_cell}:{longitude_cell}");
            for byte in text.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            keys.push(i64::from_ne_bytes(hash.to_ne_bytes()));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The result of an intake.
pub struct Intake {
    pub stored: StoredCase,
    pub contact: Option<Contact>,
    pub report: Option<Uuid>,
}

fn idempotency_error(error: IdempotencyError) -> Error {
    match error.violation() {
        Some(violation) => Error::Invalid(vec![violation]),
        None => match error {
            IdempotencyError::Database(error) => Error::Database(error),
            IdempotencyError::Reused(id) => Error::Internal(format!("request id {id} reused")),
        },
    }
}

/// What the caller did with a case reported earlier under the same request id: the case
/// (`cases/{id}`) or the "me too" report on it (`cases/{id}/reports/{report}`).
async fn earlier(
    connection: &mut PgConnection,
    access: &Access,
    report: &Report,
) -> Result<Option<Intake>, Error> {
    let Some(request_id) = &report.request_id else {
        return Ok(None);
    };
    let Some(resource) =
        idempotency::recall(&mut *connection, access, request_id, report.fingerprint)
            .await
            .map_err(idempotency_error)?
    else {
        return Ok(None);
    };
    let (case_name, report_id) = match resource.split_once("/reports/") {
        Some((case_name, report_id)) => (case_name, Uuid::try_parse(report_id).ok()),
        None => (resource.as_str(), None),
    };
    let id = CaseId::parse_resource_name(case_name)
        .map_err(|_| Error::Internal(format!("a remembered case name {resource} is malformed")))?;
    let stored = store::load_case(&mut *connection, id, false)
        .await?
        .ok_or_else(|| Error::Internal(format!("request {request_id} names a missing case")))?;
    let contact = store::load_contact(connection, id).await?;
    Ok(Some(Intake {
        stored,
        contact,
        report: report_id,
    }))
}

/// Remembers the request id of this report in its transaction; false when a concurrent
/// retry with the same id committed first (the caller then rolls back and returns that).
async fn remember(
    connection: &mut PgConnection,
    access: &Access,
    report: &Report,
    resource: &str,
) -> Result<bool, Error> {
    let Some(request_id) = &report.request_id else {
        return Ok(true);
    };
    match idempotency::remember(connection, access, request_id, report.fingerprint, resource).await
    {
        Ok(()) => Ok(true),
        Err(error) if flatgov_grpc::error::is_unique_violation(&error) => Ok(false),
        Err(error) => Err(Error::Database(error)),
    }
}

/// Receives a validated report for the caller in one transaction, with its audit record.
pub async fn receive(shared: &Shared, access: &Access, report: Report) -> Result<Intake, Error> {
    let caller = access
        .caller()
        .ok_or_else(|| Error::PermissionDenied("a report needs a verified caller".into()))?;
    let submitted_by = caller.subject.clone();
    let reports_as_resident = access.has_scope(Scope::Own) && caller.has_role(Role::Resident);
    let mut transaction = shared.pool.begin().await?;
    if let Some(first) = earlier(&mut transaction, access, &report).await? {
        return Ok(first);
    }
    if let Some(code) = report.matter.code()
        && store::matter_in_catalogue(&mut transaction, code.as_str()).await? == Some(false)
    {
        return Err(Error::invalid(
            "matter_code",
            format!("{code} is not a matter in the duty lists' catalogue"),
        ));
    }
    let now = shared.clock.now();
    let reporter_subject = reports_as_resident.then(|| submitted_by.clone());
    let actor = if reports_as_resident {
        Actor::Resident
    } else {
        access::actor_on(access, None)?
    };

    if let (Matter::Classified(matter), Some(location)) = (&report.matter, report.location) {
        let bounding_box = shared.me_too.bounding_box(&location);
        store::lock_intake_cells(&mut transaction, &lock_keys(matter, bounding_box)).await?;
        let window = shared.me_too.window();
        let rows = store::me_too_candidates(
            &mut transaction,
            matter.as_str(),
            bounding_box,
            now - window,
            now + window,
        )
        .await?;
        let candidates: Vec<Candidate> = rows
            .into_iter()
            .filter_map(|(id, state, latitude, longitude, reported_at)| {
                Some(Candidate {
                    case_id: CaseId::from_uuid(id),
                    state: state.parse().ok()?,
                    matter: report.matter.clone(),
                    location: GeoPoint::new(latitude, longitude).ok(),
                    reported_at,
                })
            })
            .collect();
        let incoming = IncomingReport {
            location,
            matter: report.matter.clone(),
            at: now,
        };
        if let Some(found) = find_me_too(&shared.me_too, &incoming, &candidates) {
            let linked = link_me_too(
                &mut transaction,
                access,
                &report,
                found.case_id,
                actor.clone(),
                location,
                reporter_subject.clone(),
                now,
            )
            .await?;
            return match linked {
                Some(linked) => {
                    record_audit(&mut transaction, access, &linked).await?;
                    transaction.commit().await?;
                    Ok(linked)
                }
                None => {
                    transaction.rollback().await?;
                    first_of_race(shared, access, &report).await
                }
            };
        }
    }

    let place = match (report.location, &report.block) {
        (Some(point), Some(block)) => Place::PointInBlock {
            point,
            block: BlockName::of_code(*block),
        },
        (Some(point), None) => Place::Point(point),
        (None, Some(block)) => Place::Block(BlockName::of_code(*block)),
        (None, None) => return Err(Error::invalid("location", "a point or a block is required")),
    };
    let id = CaseId::new_v7();
    let (case, record) = Case::report(
        NewCase {
            id,
            kind: report.kind,
            channel: report.channel,
            matter: report.matter.clone(),
            place,
        },
        actor,
        now,
    );
    let stored = StoredCase {
        case,
        located_block: report.block,
        extras: CaseExtras::default(),
        description: report.description.to_string(),
        attachments: report.attachments.clone(),
        urgent: report.urgent,
        anonymous: report.anonymous,
        submitted_by: submitted_by.clone(),
        reporter_subject,
        triage_status: TriageStatus::Pending,
        triage_note: Some("waiting for triage".to_owned()),
        rating_comment: None,
        resolution_note: None,
        updated_at: now,
    };
    store::insert_case(&mut transaction, &stored, report.contact.as_ref()).await?;
    let records = [record];
    store::insert_records(&mut transaction, &records).await?;
    events::publish_records(
        &mut transaction,
        &stored,
        &records,
        &EventContext::default(),
    )
    .await?;
    store::enqueue_triage(
        &mut transaction,
        id,
        &Instructions::default(),
        &Actor::System,
        now,
    )
    .await?;
    if !remember(&mut transaction, access, &report, &id.resource_name()).await? {
        // A concurrent retry committed first: return its result.
        transaction.rollback().await?;
        return first_of_race(shared, access, &report).await;
    }
    let intake = Intake {
        stored,
        contact: report.contact,
        report: None,
    };
    record_audit(&mut transaction, access, &intake).await?;
    transaction.commit().await?;
    Ok(intake)
}

/// The audit record of an intake, in its transaction: the case, and the report when it
/// was linked to an open case.
async fn record_audit(
    connection: &mut PgConnection,
    access: &Access,
    intake: &Intake,
) -> Result<(), Error> {
    access.audit().resource(intake.stored.name());
    if let Some(report) = intake.report {
        access
            .audit()
            .resource(format!("{}/reports/{report}", intake.stored.name()));
    }
    flatgov_grpc::authz::record_in_transaction(connection, access, crate::policy::POLICY.service)
        .await?;
    Ok(())
}

/// The result of the request that won a race of retries with the same request id.
async fn first_of_race(shared: &Shared, access: &Access, report: &Report) -> Result<Intake, Error> {
    let mut connection = shared.pool.acquire().await?;
    earlier(&mut connection, access, report)
        .await?
        .ok_or_else(|| Error::Internal("a committed request id vanished".into()))
}

/// Links the report to an open case; `None` if the request id was taken concurrently
/// (the caller then rolls back and returns the first result).
#[allow(clippy::too_many_arguments)]
async fn link_me_too(
    connection: &mut PgConnection,
    access: &Access,
    report: &Report,
    case_id: CaseId,
    actor: Actor,
    location: GeoPoint,
    reporter_subject: Option<String>,
    now: DateTime<Utc>,
) -> Result<Option<Intake>, Error> {
    let mut stored = store::load_case(&mut *connection, case_id, true)
        .await?
        .ok_or_else(|| Error::Internal(format!("the me-too candidate {case_id} vanished")))?;
    let before = stored.case.clone();
    let mut records = Vec::new();
    ops::apply(&mut stored, actor, Command::RecordMeToo, now, &mut records)?;
    let report_id = Uuid::now_v7();
    let submitted_by = access
        .caller()
        .map(|caller| caller.subject.clone())
        .unwrap_or_default();
    store::insert_me_too_report(
        &mut *connection,
        &store::MeTooReport {
            id: report_id,
            case_id,
            channel: report.channel.as_str(),
            location,
            description: report.description.as_str(),
            attachments: &report.attachments,
            contact: report.contact.as_ref(),
            anonymous: report.anonymous,
            submitted_by: &submitted_by,
            reporter_subject: reporter_subject.as_deref(),
            reported_at: now,
        },
    )
    .await?;
    let report_name = format!("{}/reports/{report_id}", case_id.resource_name());
    if !remember(&mut *connection, access, report, &report_name).await? {
        return Ok(None);
    }
    let mut context = EventContext::from_before(&before);
    context.me_too_channel = Some(report.channel);
    ops::persist(&mut *connection, &mut stored, &records, &context, now).await?;
    let contact = store::load_contact(connection, case_id).await?;
    Ok(Some(Intake {
        stored,
        contact,
        report: Some(report_id),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intake_locks_every_cell_the_search_box_touches_in_a_stable_order() {
        let matter = MatterCode::parse("m_1").unwrap();
        let across_a_corner = lock_keys(&matter, (27.049, 112.049, 27.051, 112.051));
        assert_eq!(across_a_corner.len(), 4);
        assert!(across_a_corner.windows(2).all(|pair| pair[0] < pair[1]));
        let inside_one = lock_keys(&matter, (27.01, 112.01, 27.02, 112.02));
        assert_eq!(inside_one.len(), 1);
        let other_matter = lock_keys(
            &MatterCode::parse("m_2").unwrap(),
            (27.01, 112.01, 27.02, 112.02),
        );
        assert_ne!(inside_one, other_matter);
    }
}
