//! `ReportCase`: a report from any channel becomes a case (or a "me too" on an open one)
//! in one database commit, with its record, its `CaseReported` event and its triage job.
//! Nothing here calls another service, so intake works whenever this database does.

use chrono::{DateTime, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::{self, Fingerprint, IdempotencyError};
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::cases::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::{self, Visibility};
use crate::convert;
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::{Actor, Case, CaseKind, Channel, Command, NewCase, Place};
use crate::domain::me_too::{Candidate, IncomingReport, find_me_too};
use crate::domain::units::BlockCode;
use crate::domain::values::{BlockName, CaseId, Description, Matter, MatterCode};
use crate::error::Error;
use crate::events::{self, EventContext};
use crate::ops::{self, Shared};
use crate::store::{self, CaseExtras, Contact, Instructions, StoredCase, TriageStatus};
use flatgov_vocabulary::PhoneNumber;

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

/// A contact's name: 1–64 characters, no control characters.
fn contact_name(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > 64 {
        return Err(format!(
            "is {} characters long; at most 64 are allowed",
            trimmed.chars().count()
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A report parsed from the request: every field checked, every problem named at once
/// (the same shape as every other handler's request conversion).
impl TryFrom<&proto::ReportCaseRequest> for Report {
    type Error = Violations;

    fn try_from(request: &proto::ReportCaseRequest) -> Result<Self, Violations> {
        parse_report(request)
    }
}

fn parse_report(request: &proto::ReportCaseRequest) -> Result<Report, Violations> {
    let mut violations = Violations::new();
    let mut violation = |field: &str, description: String| violations.add(field, description);

    let request_id = match RequestId::parse_optional(&request.request_id) {
        Ok(request_id) => request_id,
        Err(error) => {
            violation("request_id", error.to_string());
            None
        }
    };
    let kind = proto::CaseKind::try_from(request.kind)
        .ok()
        .and_then(convert::kind_from_proto);
    if kind.is_none() {
        violation(
            "kind",
            "must be one of the case kinds (problem, hazard, dispute, errand, needy support)"
                .into(),
        );
    }
    let channel = proto::Channel::try_from(request.channel)
        .ok()
        .and_then(convert::channel_from_proto);
    if channel.is_none() {
        violation("channel", "must be one of the channels (resident app, 12345 hotline, patrol, video alert, walk-in, referral)".into());
    }
    // A point from WeChat (GCJ-02) or Baidu (BD-09) is converted to WGS84
    // here, so the case is stored, located and answered in the platform's system.
    let location = match &request.location {
        Some(point) => {
            let mut point_violations = flatgov_grpc::error::Violations::new();
            match flatgov_grpc::geo::point_in_wgs84(&mut point_violations, "location", point) {
                Some((longitude, latitude)) => match GeoPoint::new(latitude, longitude) {
                    Ok(point) => Some(point),
                    Err(error) => {
                        violation("location", error.to_string());
                        None
                    }
                },
                None => {
                    for problem in point_violations.into_vec() {
                        violation(&problem.field, problem.description);
                    }
                    None
                }
            }
        }
        None => None,
    };
    let block = if request.block.trim().is_empty() {
        None
    } else {
        match BlockCode::parse_name(request.block.trim()) {
            Ok(block) => Some(block),
            Err(error) => {
                violation("block", error.to_string());
                None
            }
        }
    };
    if request.location.is_none() && request.block.trim().is_empty() {
        violation("location", "a point or a block is required".into());
    }
    let matter = if request.matter_code.trim().is_empty() {
        Matter::Unclassified
    } else {
        match MatterCode::parse(request.matter_code.trim()) {
            Ok(code) => Matter::Classified(code),
            Err(error) => {
                violation("matter_code", error.to_string());
                Matter::Unclassified
            }
        }
    };
    let description = match Description::parse(&request.description) {
        Ok(description) => Some(description),
        Err(error) => {
            violation("description", error.to_string());
            None
        }
    };
    if request.attachments.len() > MAX_ATTACHMENTS {
        violation(
            "attachments",
            format!(
                "at most {MAX_ATTACHMENTS} are allowed; {} were given",
                request.attachments.len()
            ),
        );
    }
    let mut attachments = Vec::new();
    for (index, reference) in request.attachments.iter().enumerate().take(MAX_ATTACHMENTS) {
        match flatgov_vocabulary::attachment_reference(reference) {
            Ok(reference) => attachments.push(reference),
            Err(problem) => violation(&format!("attachments[{index}]"), problem),
        }
    }
    let contact = match (&request.reporter, request.anonymous) {
        (Some(_), true) => {
            violation("reporter", "must be empty for an anonymous report".into());
            None
        }
        (Some(reporter), false) => {
            let name =
                contact_name(&reporter.name).map_err(|problem| violation("reporter.name", problem));
            let number = PhoneNumber::parse(&reporter.phone)
                .map_err(|problem| violation("reporter.phone", problem.to_string()));
            match (name, number) {
                (Ok(name), Ok(phone)) => Some(Contact {
                    name,
                    phone: phone.as_str().to_owned(),
                }),
                _ => None,
            }
        }
        (None, _) => None,
    };
    let needs_contact = matches!(channel, Some(Channel::Hotline12345 | Channel::WalkIn));
    if needs_contact && request.reporter.is_none() && !request.anonymous {
        violation(
            "reporter",
            "is required for a hotline or walk-in report unless it is anonymous".into(),
        );
    }
    match (violations.is_empty(), kind, channel, description) {
        (true, Some(kind), Some(channel), Some(description)) => Ok(Report {
            request_id,
            fingerprint: Fingerprint::of(request),
            kind,
            channel,
            location,
            block,
            matter,
            description,
            attachments,
            contact,
            anonymous: request.anonymous,
            urgent: request.urgent,
        }),
        _ => Err(violations),
    }
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

/// The response to a report, as the caller may see it. A report linked to someone
/// else's open case ("me too") shows that case's codes, states and times only: never
/// another resident's words, attachments or contact.
pub fn response(access: &Access, intake: &Intake, now: DateTime<Utc>) -> proto::ReportCaseResponse {
    let visibility = match access::visibility(access, &intake.stored) {
        Visibility::None => Visibility::Summary,
        level => level,
    };
    let contact = if intake.report.is_none() {
        intake.contact.as_ref()
    } else {
        None
    };
    proto::ReportCaseResponse {
        case: Some(crate::render::case(
            &intake.stored,
            visibility,
            contact,
            now,
        )),
        me_too: intake.report.is_some(),
        report: intake
            .report
            .map(|report| format!("{}/reports/{report}", intake.stored.name()))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flatgov_grpc::error::FieldViolation;

    fn request() -> proto::ReportCaseRequest {
        proto::ReportCaseRequest {
            request_id: "r-1".into(),
            kind: proto::CaseKind::Problem as i32,
            channel: proto::Channel::ResidentApp as i32,
            location: Some(flatgov_proto::flatgov::r#type::v1::GeoPoint {
                longitude: 112.94,
                latitude: 27.83,
                ..Default::default()
            }),
            block: String::new(),
            matter_code: "street_light".into(),
            description: "路灯不亮".into(),
            attachments: vec!["https://files.example/1.jpg".into()],
            reporter: Some(proto::Contact {
                name: "张三".into(),
                phone: "+86 138-0000-0000".into(),
            }),
            anonymous: false,
            urgent: false,
        }
    }

    /// The parsed report, or every violation.
    fn validate(request: &proto::ReportCaseRequest) -> Result<Report, Vec<FieldViolation>> {
        Report::try_from(request).map_err(Violations::into_vec)
    }

    fn fields(violations: Vec<FieldViolation>) -> Vec<String> {
        violations
            .into_iter()
            .map(|violation| violation.field)
            .collect()
    }

    #[test]
    fn a_complete_report_is_accepted() {
        let report = validate(&request()).unwrap();
        assert_eq!(report.kind, CaseKind::Problem);
        assert_eq!(report.contact.unwrap().phone, "+86 138-0000-0000");
        assert_eq!(
            report.request_id.as_ref().map(|id| id.as_str()),
            Some("r-1")
        );
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut bad = request();
        bad.kind = 0;
        bad.description = "x".repeat(Description::MAX_CHARS + 1);
        bad.block = "blocks/17".into();
        bad.matter_code = "M/1".into();
        bad.attachments = vec!["ftp://x".into()];
        bad.reporter = Some(proto::Contact {
            name: String::new(),
            phone: "call me".into(),
        });
        assert_eq!(
            fields(validate(&bad).unwrap_err()),
            [
                "kind",
                "block",
                "matter_code",
                "description",
                "attachments[0]",
                "reporter.name",
                "reporter.phone"
            ]
        );
    }

    #[test]
    fn a_report_needs_a_point_or_a_block() {
        let mut nowhere = request();
        nowhere.location = None;
        assert_eq!(fields(validate(&nowhere).unwrap_err()), ["location"]);
        nowhere.block = "blocks/430302001004017".into();
        assert!(validate(&nowhere).is_ok());
    }

    #[test]
    fn an_anonymous_report_carries_no_contact_and_a_hotline_call_needs_one_otherwise() {
        let mut anonymous = request();
        anonymous.anonymous = true;
        assert_eq!(fields(validate(&anonymous).unwrap_err()), ["reporter"]);
        anonymous.reporter = None;
        assert!(validate(&anonymous).is_ok());
        let mut hotline = request();
        hotline.channel = proto::Channel::Hotline12345 as i32;
        hotline.reporter = None;
        assert_eq!(fields(validate(&hotline).unwrap_err()), ["reporter"]);
    }

    #[test]
    fn too_many_attachments_are_refused() {
        let mut many = request();
        many.attachments = vec!["https://files.example/x.jpg".into(); MAX_ATTACHMENTS + 1];
        assert_eq!(fields(validate(&many).unwrap_err()), ["attachments"]);
    }

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
