//! Cases as reported and read: ReportCase, GetCase, ListCases, GetCaseHistory and
//! ClassifyCase (a dispatcher placing or classifying a report).

use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::error::Violations;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::{ListQuery, PageRequest, PagingError};
use flatgov_grpc::request_id::RequestId;
use flatgov_proto::cases::v1 as proto;
use flatgov_vocabulary::PhoneNumber;
use uuid::Uuid;

use super::CaseService;
use super::parse;
use crate::access::{self, Visibility};
use crate::application::intake::{self, MAX_ATTACHMENTS, Report};
use crate::application::ops;
use crate::convert;
use crate::domain::geo::GeoPoint;
use crate::domain::lifecycle::Channel;
use crate::domain::lifecycle::{CaseState, Tier};
use crate::domain::units::{BlockCode, SubdistrictCode, assignee_name, parse_assignee};
use crate::domain::values::{CaseId, MatterCode, Reason};
use crate::domain::values::{Description, Matter};
use crate::error::Error;
use crate::events::EventContext;
use crate::policy::POLICY;
use crate::render;
use crate::store::Contact;
use crate::store::{self, Instructions, ListFilter, TriageStatus};

#[tracing::instrument(skip_all, err(level = "info"))]
pub(super) async fn report_case(
    service: &CaseService,
    access: &Access,
    request: proto::ReportCaseRequest,
) -> Result<proto::ReportCaseResponse, Error> {
    let report = intake::Report::try_from(&request)?;
    intake::check_channel(access, report.channel)?;
    intake::check_block(access, &report)?;
    let received = intake::receive(&service.shared, access, report).await?;
    Ok(response(access, &received, service.shared.clock.now()))
}

pub(super) async fn get_case(
    service: &CaseService,
    access: &Access,
    request: proto::GetCaseRequest,
) -> Result<proto::Case, Error> {
    let mut violations = Violations::new();
    let id = violations.check("name", parse::case_id(&request.name));
    violations.finish()?;
    let id = id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))?;
    let (stored, visibility) = service.read(access, id).await?;
    let contact = if visibility == Visibility::Full {
        let mut connection = service.shared.pool.acquire().await?;
        store::load_contact(&mut connection, id).await?
    } else {
        None
    };
    Ok(render::case(
        &stored,
        visibility,
        contact.as_ref(),
        service.shared.clock.now(),
    ))
}

pub(super) async fn get_case_history(
    service: &CaseService,
    access: &Access,
    request: proto::GetCaseHistoryRequest,
) -> Result<proto::GetCaseHistoryResponse, Error> {
    let mut violations = Violations::new();
    let id = violations.check("name", parse::case_id(&request.name));
    violations.finish()?;
    let id = id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))?;
    service.read(access, id).await?;
    let mut connection = service.shared.pool.acquire().await?;
    let records = store::load_records(&mut connection, id).await?;
    Ok(proto::GetCaseHistoryResponse {
        records: records.iter().map(render::record).collect(),
    })
}

/// A list request's filters and page, read.
struct CaseListing {
    filter: ListFilter,
    page: PageRequest,
    query: ListQuery,
    overdue_only: bool,
}

impl TryFrom<proto::ListCasesRequest> for CaseListing {
    type Error = Error;

    fn try_from(mut request: proto::ListCasesRequest) -> Result<Self, Error> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        // A token is bound to the filters it was issued with.
        let query = ListQuery::of_request("cases", &request);
        let mut violations = Violations::new();
        let mut filter = ListFilter::default();
        let page = match PageRequest::parse(page_size, &page_token, &query) {
            Ok(page) => {
                if let Some(after) = &page.after {
                    match Uuid::try_parse(after) {
                        Ok(before) => filter.before = Some(before),
                        Err(_) => violations.extend([PagingError::ForeignToken.into()]),
                    }
                }
                Some(page)
            }
            Err(paging) => {
                violations.extend(paging);
                None
            }
        };
        match proto::CaseState::try_from(request.state) {
            Ok(proto::CaseState::Unspecified) => {}
            Ok(state) => {
                filter.state = convert::case_state_from_proto(state).map(|state| state.to_string())
            }
            Err(_) => violations.add("state", "is not a case state"),
        }
        filter.tier = violations
            .check("tier", parse::optional_tier(request.tier))
            .flatten()
            .map(|tier| tier.to_string());
        if !request.block.trim().is_empty() {
            filter.block_code = violations
                .check(
                    "block",
                    BlockCode::parse_name(request.block.trim()).map_err(|error| error.to_string()),
                )
                .map(|block| block.to_string());
        }
        if !request.subdistrict_code.trim().is_empty() {
            filter.subdistrict_code = violations
                .check(
                    "subdistrict_code",
                    SubdistrictCode::parse(request.subdistrict_code.trim())
                        .map_err(|error| error.to_string()),
                )
                .map(|code| code.to_string());
        }
        if !request.assignee.trim().is_empty() {
            filter.assignee = violations
                .check(
                    "assignee",
                    parse_assignee(&request.assignee).map_err(|error| error.to_string()),
                )
                .map(|assignee| assignee_name(&assignee));
        }
        match proto::CaseKind::try_from(request.kind) {
            Ok(proto::CaseKind::Unspecified) => {}
            Ok(kind) => filter.kind = convert::kind_from_proto(kind).map(|kind| kind.to_string()),
            Err(_) => violations.add("kind", "is not a case kind"),
        }
        match proto::TriageStatus::try_from(request.triage_status) {
            Ok(proto::TriageStatus::Unspecified) => {}
            Ok(status) => {
                filter.triage_status =
                    render::triage_status_from_proto(status).map(|status| status.to_string())
            }
            Err(_) => violations.add("triage_status", "is not a triage status"),
        }
        violations.finish()?;
        let page = page.ok_or_else(|| Error::Internal("a parsed page went missing".into()))?;
        Ok(Self {
            filter,
            page,
            query,
            overdue_only: request.overdue_only,
        })
    }
}

pub(super) async fn list_cases(
    service: &CaseService,
    access: &Access,
    request: proto::ListCasesRequest,
) -> Result<proto::ListCasesResponse, Error> {
    let CaseListing {
        mut filter,
        page,
        query,
        overdue_only,
    } = CaseListing::try_from(request)?;
    let now = service.shared.clock.now();
    if overdue_only {
        filter.overdue_at = Some(now);
    }
    let scope = access::list_scope(access);
    let mut connection = service.shared.pool.acquire().await?;
    let mut cases =
        store::list_cases(&mut connection, &scope, &filter, page.size.fetch_limit()).await?;
    let next_page_token = page.size.next_page_token(&mut cases, &query, |stored| {
        stored.case.id().as_uuid().to_string()
    });
    for stored in &cases {
        access.audit().resource(stored.name());
    }
    Ok(proto::ListCasesResponse {
        cases: cases
            .iter()
            .map(|stored| {
                // The query returned only what the caller reaches; how much of each they
                // see still depends on the role that reaches it. A list never carries a
                // contact.
                let visibility = access::visibility(access, stored).max(Visibility::Summary);
                render::case(stored, visibility, None, now)
            })
            .collect(),
        next_page_token,
    })
}

pub(super) async fn count_open_cases(
    service: &CaseService,
    access: &Access,
    request: proto::CountOpenCasesRequest,
) -> Result<proto::CountOpenCasesResponse, Error> {
    let code = request.subdistrict_code.trim();
    let subdistrict = if code.is_empty() {
        None
    } else {
        let mut violations = Violations::new();
        let parsed = violations.check(
            "subdistrict_code",
            SubdistrictCode::parse(code).map_err(|error| error.to_string()),
        );
        violations.finish()?;
        parsed
    };
    let now = service.shared.clock.now();
    let scope = access::list_scope(access);
    let mut connection = service.shared.pool.acquire().await?;
    let counts = store::count_open_by_block(
        &mut connection,
        &scope,
        subdistrict.as_ref().map(SubdistrictCode::as_str),
        now,
    )
    .await?;
    let count = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    Ok(proto::CountOpenCasesResponse {
        blocks: counts
            .into_iter()
            .map(|(block_code, open, overdue)| proto::BlockCaseCount {
                block_code,
                open: count(open),
                overdue: count(overdue),
            })
            .collect(),
        as_of: Some(convert::timestamp(now)),
    })
}

/// A classification: a matter, a block, or both, with a tier and the reason a
/// recategorisation needs.
struct Classification {
    id: CaseId,
    block: Option<BlockCode>,
    matter: Option<MatterCode>,
    tier: Option<Tier>,
    reason: Option<Reason>,
}

impl TryFrom<proto::ClassifyCaseRequest> for Classification {
    type Error = Error;

    fn try_from(request: proto::ClassifyCaseRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let id = violations.check("name", parse::case_id(&request.name));
        let block = if request.block.trim().is_empty() {
            None
        } else {
            violations.check(
                "block",
                BlockCode::parse_name(request.block.trim()).map_err(|error| error.to_string()),
            )
        };
        let matter = if request.matter_code.trim().is_empty() {
            None
        } else {
            violations.check(
                "matter_code",
                MatterCode::parse(request.matter_code.trim()).map_err(|error| error.to_string()),
            )
        };
        let tier = violations
            .check("tier", parse::optional_tier(request.tier))
            .flatten();
        if request.matter_code.trim().is_empty() && request.block.trim().is_empty() {
            violations.add("matter_code", "a matter code or a block is required");
        }
        let reason = if request.reason.trim().is_empty() {
            None
        } else {
            violations.check("reason", parse::reason(request.reason.trim()))
        };
        violations.finish()?;
        let id = id.ok_or_else(|| Error::Internal("a parsed case id went missing".into()))?;
        Ok(Self {
            id,
            block,
            matter,
            tier,
            reason,
        })
    }
}

#[tracing::instrument(skip_all, err(level = "info"))]
pub(super) async fn classify_case(
    service: &CaseService,
    access: &Access,
    request: proto::ClassifyCaseRequest,
) -> Result<proto::Case, Error> {
    let classification = Classification::try_from(request)?;
    if let Some(matter) = &classification.matter {
        let mut connection = service.shared.pool.acquire().await?;
        if store::matter_in_catalogue(&mut connection, matter.as_str()).await? == Some(false) {
            return Err(Error::invalid(
                "matter_code",
                format!("{matter} is not a matter in the duty lists' catalogue"),
            ));
        }
    }
    if let Some(block) = &classification.block
        && !access.reaches(&Resource::in_division(block.as_str()))
    {
        return Err(Error::PermissionDenied(format!(
            "block {block} lies outside the caller's jurisdiction"
        )));
    }
    let id = classification.id;
    let mut transaction = service.begin().await?;
    let mut stored = store::load_case(&mut transaction, id, true)
        .await?
        .ok_or_else(|| Error::NotFound(id.resource_name()))?;
    // A dispatcher may place a case no block holds yet into a block of theirs.
    let placing_unlocated = stored.block().is_none() && classification.block.is_some();
    if !placing_unlocated {
        access::require_visible(access, &stored)?;
    }
    let state = stored.case.state();
    let recategorising = state == CaseState::Triaged || state.is_with_handler();
    let classifiable = matches!(
        state,
        CaseState::Reported | CaseState::AwaitingManualLocation
    ) || recategorising;
    if !classifiable {
        return Err(Error::Precondition(format!(
            "cannot classify a case that is {state}"
        )));
    }
    if state == CaseState::AwaitingManualLocation && classification.block.is_none() {
        return Err(Error::invalid(
            "block",
            "is required: the case's point lies outside every block",
        ));
    }
    if recategorising && classification.reason.is_none() {
        return Err(Error::invalid(
            "reason",
            "is required to recategorise a triaged or dispatched case",
        ));
    }
    let actor = access::actor_on(access, Some(&stored))?;
    let now = service.shared.clock.now();
    let instructions = Instructions {
        matter_code: classification.matter.map(|code| code.to_string()),
        block_code: classification.block.map(|block| block.to_string()),
        tier: classification.tier.map(|tier| tier.to_string()),
        reason: classification.reason.map(|reason| reason.to_string()),
    };
    store::enqueue_triage(&mut transaction, id, &instructions, &actor, now).await?;
    if matches!(
        state,
        CaseState::Reported | CaseState::AwaitingManualLocation
    ) {
        stored.triage_status = TriageStatus::Pending;
    }
    stored.triage_note = Some(format!(
        "classification by {} queued for triage",
        actor
            .staff_id()
            .map(ToString::to_string)
            .unwrap_or_else(|| "the system".into())
    ));
    ops::persist(
        &mut transaction,
        &mut stored,
        &[],
        &EventContext::default(),
        now,
    )
    .await?;
    access.audit().resource(stored.name());
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service).await?;
    transaction.commit().await?;
    Ok(render::case(
        &stored,
        access::visibility(access, &stored).max(Visibility::WithoutPersonalData),
        None,
        now,
    ))
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

/// The response to a report, as the caller may see it. A report linked to someone
/// else's open case ("me too") shows that case's codes, states and times only: never
/// another resident's words, attachments or contact.
fn response(
    access: &Access,
    intake: &intake::Intake,
    now: chrono::DateTime<chrono::Utc>,
) -> proto::ReportCaseResponse {
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
    use crate::domain::lifecycle::CaseKind;
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
}
