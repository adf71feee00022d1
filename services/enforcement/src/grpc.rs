//! `flatgov.enforcement.v1.JointEnforcement`: auth checks, request
//! validation (every problem reported at once, nothing written on bad
//! input), transactions, and responses shaped by what the caller may see.

use flatgov_grpc::request_id::RequestId;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use flatgov_auth::{Caller, Role};
use flatgov_grpc::error::{Violations, is_unique_violation};
use flatgov_grpc::paging::{self, ListQuery, PageRequest, PageSize};
use flatgov_grpc::time::{self, timestamp};
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::enforcement::v1::joint_enforcement_server::JointEnforcement;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::Settings;
use crate::convert;
use crate::domain::action::{self, ActionDetails, Attachment};
use crate::domain::indicators;
use crate::domain::operation::{self as rules, ConclusionKind, OrderFacts};
use crate::domain::selection::{self, SelectionError};
use crate::domain::{
    ActionKind, ActionName, AgencyCode, BlockCode, CaseName, InvalidValue, MatterCode, OfficerName,
    OperationName, OperationState, SubdistrictCode, SummonsFacts, Text, UnitName, Viewer,
    WhistleSource,
};
use crate::duties::DutiesClient;
use crate::error::Error;
use crate::store::{self, OperationRecord};
use crate::whistle::{self, Agencies, Answer, Decision, OperationFacts, Whistle};

/// The service behind the generated server.
pub struct EnforcementService {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub duties: DutiesClient,
}

/// Roles that open and cancel operations.
const WHISTLERS: [Role; 3] = [
    Role::SubdistrictDispatcher,
    Role::DistrictAdmin,
    Role::Service,
];

/// The viewpoint of a caller, from the strongest of its roles.
fn viewer(caller: &Caller) -> Result<Viewer, Status> {
    if caller.has_role(Role::DistrictAdmin) {
        return Ok(Viewer::DistrictAdmin);
    }
    if caller.has_role(Role::Service) {
        return Ok(Viewer::Service);
    }
    if caller.has_role(Role::SubdistrictDispatcher) {
        return Ok(Viewer::Dispatcher {
            jurisdictions: caller
                .jurisdictions
                .iter()
                .map(|jurisdiction| jurisdiction.code().to_owned())
                .collect(),
        });
    }
    if caller.has_role(Role::DepartmentOfficer) {
        return own_agency(caller).map(Viewer::Agency);
    }
    if caller.has_role(Role::Integrator) {
        return Ok(Viewer::Integrator);
    }
    Err(Status::permission_denied(
        "joint operations are visible to district administrators, subdistrict dispatchers, enforcement officers, flatgov services and integrators",
    ))
}

/// The agency an officer acts for: the token's organisation claim.
fn own_agency(caller: &Caller) -> Result<AgencyCode, Status> {
    let organisation = caller.require_organisation()?;
    AgencyCode::parse(organisation).map_err(|error| {
        Status::permission_denied(format!(
            "the caller's organisation is not an agency code: {error}"
        ))
    })
}

/// The agency an officer acts for in a request: its organisation; the
/// request may name it (code or `agencies/{code}`) but not another one.
fn acting_agency(caller: &Caller, named: &str) -> Result<AgencyCode, Error> {
    caller.require_any_role(&[Role::DepartmentOfficer])?;
    let own = own_agency(caller)?;
    if !named.is_empty() {
        let named = AgencyCode::parse_code_or_name(named)
            .map_err(|error| Error::invalid("agency", error))?;
        if named != own {
            return Err(Error::PermissionDenied(format!(
                "the caller acts for agency {own}, not for {named}"
            )));
        }
    }
    Ok(own)
}

/// District administrators manage every agency's units and officers; an
/// agency's own officers manage their agency's.
fn require_manager(caller: &Caller, agency: &AgencyCode) -> Result<(), Error> {
    if caller.has_role(Role::DistrictAdmin) {
        return Ok(());
    }
    if caller.has_role(Role::DepartmentOfficer) && own_agency(caller)? == *agency {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "managing agency {agency} needs the district_admin role or an officer of {agency}"
    )))
}

fn optional<T>(
    violations: &mut Violations,
    field: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Option<T> {
    if value.is_empty() {
        None
    } else {
        violations.check(field, parse(value))
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::invalid(field, "is required"))
}

fn location(
    violations: &mut Violations,
    point: Option<&flatgov_proto::flatgov::r#type::v1::GeoPoint>,
) -> Option<(f64, f64)> {
    let point = point?;
    let mut valid = true;
    if !(point.longitude.is_finite() && (-180.0..=180.0).contains(&point.longitude)) {
        violations.add("location.longitude", "must be between -180 and 180 degrees");
        valid = false;
    }
    if !(point.latitude.is_finite() && (-90.0..=90.0).contains(&point.latitude)) {
        violations.add("location.latitude", "must be between -90 and 90 degrees");
        valid = false;
    }
    valid.then_some((point.longitude, point.latitude))
}

fn phone(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let allowed = value
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    if !allowed || !(5..=20).contains(&digits) || value.len() > 32 {
        return Err(format!(
            "phone {value:?} is not a phone number (5 to 20 digits, optionally with + - ( ) and spaces)"
        ));
    }
    Ok(value.to_owned())
}

fn badge_number(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("badge number must not be empty".into());
    }
    if value.len() > 32 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "badge number {value:?} must be at most 32 letters, digits or hyphens"
        ));
    }
    Ok(value.to_owned())
}

fn summons_facts(summonses: &[store::SummonsRow]) -> Vec<SummonsFacts> {
    summonses
        .iter()
        .filter_map(|row| {
            AgencyCode::parse(&row.agency_code)
                .ok()
                .map(|agency| SummonsFacts {
                    agency,
                    reported_in: row.reported_at.is_some(),
                    actions_recorded: u32::try_from(row.actions_recorded).unwrap_or(u32::MAX),
                })
        })
        .collect()
}

fn state_of(row: &store::OperationRow) -> Result<OperationState, Error> {
    OperationState::parse(&row.state).ok_or_else(|| Error::Database {
        context: "reading an operation",
        source: sqlx::Error::Protocol(format!("unknown operation state {}", row.state)),
    })
}

type Tx = Transaction<'static, Postgres>;

impl EnforcementService {
    async fn begin(&self, context: &'static str) -> Result<Tx, Error> {
        self.pool.begin().await.map_err(Error::database(context))
    }

    async fn connection(
        &self,
        context: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<Postgres>, Error> {
        self.pool.acquire().await.map_err(Error::database(context))
    }

    /// The operation as `viewer` may see it, or PERMISSION_DENIED.
    async fn view(
        &self,
        connection: &mut PgConnection,
        operation: Uuid,
        viewer: &Viewer,
    ) -> Result<api::Operation, Error> {
        let record = store::load_operation(connection, operation)
            .await
            .map_err(Error::database("reading the operation"))?
            .ok_or_else(|| Error::NotFound(format!("operations/{operation} does not exist")))?;
        check_visible(&record, viewer)?;
        Ok(convert::operation(&record, viewer, Utc::now()))
    }

    async fn locked_operation(
        &self,
        transaction: &mut Tx,
        name: &OperationName,
    ) -> Result<store::OperationRow, Error> {
        store::lock_operation(transaction, name.0)
            .await
            .map_err(Error::database("reading the operation"))?
            .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))
    }

    async fn commit_and_view(
        &self,
        transaction: Tx,
        operation: Uuid,
        viewer: &Viewer,
        context: &'static str,
    ) -> Result<api::Operation, Error> {
        transaction
            .commit()
            .await
            .map_err(Error::database(context))?;
        let mut connection = self.connection(context).await?;
        self.view(&mut connection, operation, viewer).await
    }

    async fn registered_agency(
        &self,
        connection: &mut PgConnection,
        agency: &AgencyCode,
        field: &str,
    ) -> Result<store::AgencyRow, Error> {
        let row = store::get_agency(connection, agency.as_str())
            .await
            .map_err(Error::database("reading the agency"))?
            .ok_or_else(|| Error::invalid(field, format!("agency {agency} is not registered")))?;
        if !row.active {
            return Err(Error::FailedPrecondition(format!(
                "agency {agency} is inactive and cannot be summoned"
            )));
        }
        Ok(row)
    }
}

fn check_visible(record: &OperationRecord, viewer: &Viewer) -> Result<(), Error> {
    let summoned: Vec<AgencyCode> = record
        .summonses
        .iter()
        .filter_map(|summons| AgencyCode::parse(&summons.agency_code).ok())
        .collect();
    if viewer.may_see_operation(&record.operation.subdistrict_code, &summoned) {
        return Ok(());
    }
    Err(Error::PermissionDenied(match viewer {
        Viewer::Agency(agency) => format!(
            "operations/{} is not visible to agency {agency}: it is not summoned to it",
            record.operation.id
        ),
        _ => format!(
            "operations/{} in subdistrict {} is outside the caller's jurisdiction",
            record.operation.id, record.operation.subdistrict_code
        ),
    }))
}

// ------------------------------------------------------------- operations

impl EnforcementService {
    async fn blow(
        &self,
        caller: &Caller,
        request: api::BlowWhistleRequest,
    ) -> Result<api::Operation, Error> {
        let now = Utc::now();
        let mut violations = Violations::default();
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        let case = optional(&mut violations, "case", &request.case, CaseName::parse);
        let subdistrict = violations.check(
            "subdistrict_code",
            SubdistrictCode::parse(&request.subdistrict_code),
        );
        let block = optional(
            &mut violations,
            "block_code",
            &request.block_code,
            BlockCode::parse,
        );
        if let (Some(subdistrict), Some(block)) = (&subdistrict, &block)
            && block.subdistrict() != *subdistrict
        {
            violations.add(
                "block_code",
                format!("block {block} is not in subdistrict {subdistrict}"),
            );
        }
        let location = location(&mut violations, request.location.as_ref());
        let matter = optional(
            &mut violations,
            "matter_code",
            &request.matter_code,
            MatterCode::parse,
        );
        let description = violations.check(
            "description",
            Text::optional("description", &request.description, 2000),
        );
        let named: Vec<AgencyCode> = request
            .agencies
            .iter()
            .enumerate()
            .filter_map(|(index, code)| {
                violations.check(
                    format!("agencies[{index}]"),
                    AgencyCode::parse_code_or_name(code),
                )
            })
            .collect();
        let lead = optional(
            &mut violations,
            "lead_agency",
            &request.lead_agency,
            AgencyCode::parse_code_or_name,
        );
        violations.finish()?;
        let subdistrict = required(subdistrict, "subdistrict_code")?;
        let description = required(description, "description")?;
        caller.require_jurisdiction(subdistrict.as_str())?;
        let viewer = viewer(caller)?;

        let mut connection = self.connection("blowing the whistle").await?;
        let existing = store::find_existing(
            &mut connection,
            request_id.as_ref().map(RequestId::as_str),
            case.as_ref().map(CaseName::as_str),
        )
        .await
        .map_err(Error::database("looking for an earlier whistle"))?;
        if let Some(existing) = existing {
            return self.view(&mut connection, existing, &viewer).await;
        }

        // Named agencies must be registered and active.
        let mut unknown = Violations::default();
        let mut to_check: Vec<String> = named.iter().map(ToString::to_string).collect();
        to_check.extend(lead.iter().map(ToString::to_string));
        let status = store::agencies_status(&mut connection, &to_check)
            .await
            .map_err(Error::database("reading agencies"))?;
        let fields = named
            .iter()
            .enumerate()
            .map(|(index, agency)| (format!("agencies[{index}]"), agency))
            .chain(lead.iter().map(|agency| ("lead_agency".to_owned(), agency)));
        let mut inactive = Vec::new();
        for (field, agency) in fields {
            match status.iter().find(|(code, _)| code == agency.as_str()) {
                None => unknown.add(field, format!("agency {agency} is not registered")),
                Some((_, false)) => inactive.push(agency.to_string()),
                Some((_, true)) => {}
            }
        }
        unknown.finish()?;
        if !inactive.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "agencies {} are inactive and cannot be summoned",
                inactive.join(", ")
            )));
        }
        let requested = selection::requested(named, lead.clone(), "named by the caller".into())
            .map_err(|error| match error {
                SelectionError::LeadNotSummoned { .. } => Error::invalid("lead_agency", error),
                SelectionError::TooMany(_) => Error::invalid("agencies", error),
            })?;
        let agencies = match requested {
            Some(selection) => Agencies::Chosen(selection),
            None => {
                let active = whistle::agency_codes(
                    &store::active_agency_codes(&mut connection)
                        .await
                        .map_err(Error::database("reading agencies"))?,
                );
                // Ask the duty lists outside any transaction: a slow answer
                // holds no lock.
                drop(connection);
                let answer = match (&matter, self.duties.is_configured()) {
                    (None, _) => Answer::NotAsked("no matter was given"),
                    (Some(_), false) => Answer::NotAsked("no duty lists service is configured"),
                    (Some(matter), true) => Answer::Asked(
                        self.duties
                            .resolve(matter, &subdistrict, block.as_ref())
                            .await,
                    ),
                };
                match whistle::decide(
                    answer,
                    matter.as_ref(),
                    &active,
                    &self.settings,
                    lead.as_ref(),
                    false,
                ) {
                    Decision::Summon(selection) => Agencies::Chosen(selection),
                    Decision::Retry(reason) => {
                        tracing::warn!(%reason, "agencies not resolved at the whistle; resolving in the background");
                        Agencies::Resolve {
                            retry_at: now + whistle::retry_delay(0),
                            note: String::new(),
                        }
                    }
                }
            }
        };
        let whistle = Whistle {
            source: if case.is_some() {
                WhistleSource::CaseEscalation
            } else {
                WhistleSource::Direct
            },
            case,
            request_id,
            subdistrict,
            block,
            location,
            matter,
            description: description.into_string(),
            urgent: request.urgent,
            requested_lead: lead,
            blown_by: caller.subject.clone(),
            blown_at: now,
        };
        let mut transaction = self.begin("blowing the whistle").await?;
        let recorded = whistle::record(&mut transaction, &whistle, &agencies, &self.settings, now)
            .await
            .map_err(Error::database("blowing the whistle"))?;
        let id = match recorded {
            store::Recorded::Created(id) | store::Recorded::Existing(id) => id,
        };
        self.commit_and_view(transaction, id, &viewer, "blowing the whistle")
            .await
    }

    async fn summon(
        &self,
        caller: &Caller,
        request: api::SummonAgencyRequest,
    ) -> Result<api::Operation, Error> {
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let agency = violations.check("agency", AgencyCode::parse_code_or_name(&request.agency));
        violations.finish()?;
        let (name, agency) = (required(name, "operation")?, required(agency, "agency")?);
        let viewer = viewer(caller)?;
        let mut transaction = self.begin("summoning an agency").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        let may_summon = caller.has_any_role(&[Role::DistrictAdmin, Role::Service])
            || (caller.has_role(Role::SubdistrictDispatcher)
                && caller.covers(&row.subdistrict_code))
            || (caller.has_role(Role::DepartmentOfficer)
                && row
                    .lead_agency
                    .as_deref()
                    .is_some_and(|lead| own_agency(caller).is_ok_and(|own| own.as_str() == lead)));
        if !may_summon {
            return Err(Error::PermissionDenied(
                "summoning another agency needs the operation's lead agency, a dispatcher of its subdistrict, or a district administrator".into(),
            ));
        }
        let summonses = store::summonses(&mut transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        rules::check_summon(state_of(&row)?, &summons_facts(&summonses), &agency)?;
        self.registered_agency(&mut transaction, &agency, "agency")
            .await?;
        let position = summonses
            .iter()
            .map(|summons| summons.position)
            .max()
            .unwrap_or(-1)
            + 1;
        whistle::summon_one(
            &mut transaction,
            &OperationFacts::from_row(&row),
            &agency,
            position,
            false,
            &self.settings,
            Utc::now(),
        )
        .await
        .map_err(Error::database("summoning an agency"))?;
        store::notify_deadline_workers(&mut transaction)
            .await
            .map_err(Error::database("summoning an agency"))?;
        self.commit_and_view(transaction, row.id, &viewer, "summoning an agency")
            .await
    }

    async fn report_in_inner(
        &self,
        caller: &Caller,
        request: api::ReportInRequest,
    ) -> Result<api::Operation, Error> {
        let agency = acting_agency(caller, &request.agency)?;
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        if request.officers.is_empty() {
            violations.add("officers", "name at least one officer the agency sends");
        }
        if request.officers.len() > 50 {
            violations.add("officers", "at most 50 officers per report");
        }
        let mut officers: Vec<OfficerName> = Vec::new();
        for (index, text) in request.officers.iter().enumerate() {
            let field = format!("officers[{index}]");
            if let Some(officer) = violations.check(&field, OfficerName::parse(text)) {
                if officer.agency() != &agency {
                    violations.add(
                        &field,
                        format!(
                            "officer {officer} belongs to {}, not to {agency}",
                            officer.agency()
                        ),
                    );
                } else if !officers.contains(&officer) {
                    officers.push(officer);
                }
            }
        }
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        if let Some(unit) = &unit
            && unit.agency() != &agency
        {
            violations.add(
                "unit",
                format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
            );
        }
        let note = violations.check("note", Text::optional("note", &request.note, 1000));
        violations.finish()?;
        let name = required(name, "operation")?;
        let note = required(note, "note")?;
        let viewer = Viewer::Agency(agency.clone());
        let now = Utc::now();

        let mut transaction = self.begin("reporting in").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        let summonses = store::summonses(&mut transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        let already = rules::check_report_in(state_of(&row)?, &summons_facts(&summonses), &agency)?;

        let mut officer_ids: Vec<Uuid> = officers.iter().map(OfficerName::id).collect();
        officer_ids.sort();
        let rows = store::officers_by_id(&mut transaction, &officer_ids)
            .await
            .map_err(Error::database("reading officers"))?;
        let mut unusable = Violations::default();
        for (index, text) in request.officers.iter().enumerate() {
            let Ok(officer) = OfficerName::parse(text) else {
                continue;
            };
            match rows
                .iter()
                .find(|row| row.id == officer.id() && row.agency_code == agency.as_str())
            {
                None => unusable.add(
                    format!("officers[{index}]"),
                    format!("officer {officer} does not exist"),
                ),
                Some(row) if !row.active => unusable.add(
                    format!("officers[{index}]"),
                    format!("officer {officer} is inactive"),
                ),
                Some(_) => {}
            }
        }
        if let Some(unit) = &unit {
            let found = store::get_unit(&mut transaction, agency.as_str(), unit.id())
                .await
                .map_err(Error::database("reading the unit"))?;
            match found {
                None => unusable.add("unit", format!("unit {unit} does not exist")),
                Some(row) if !row.active => {
                    unusable.add("unit", format!("unit {unit} is inactive"))
                }
                Some(_) => {}
            }
        }
        unusable.finish()?;

        if already {
            let sent = store::dispatched_officer_ids(&mut transaction, row.id, agency.as_str())
                .await
                .map_err(Error::database("reading the report"))?;
            if sent == officer_ids {
                // A retried report: the first one stands, nothing changes.
                return self
                    .commit_and_view(transaction, row.id, &viewer, "reporting in")
                    .await;
            }
            return Err(rules::Refusal::AlreadyReportedIn { agency }.into());
        }
        let Some(summons) = summonses
            .iter()
            .find(|summons| summons.agency_code == agency.as_str())
        else {
            return Err(Error::NotFound(format!("agency {agency} has no summons")));
        };
        store::record_report_in(
            &mut transaction,
            &store::Report {
                operation: row.id,
                agency: agency.as_str(),
                reported_at: now,
                reported_by: &caller.subject,
                unit: unit.as_ref().map(UnitName::id),
                note: note.as_str(),
                officers: &officer_ids,
            },
        )
        .await
        .map_err(Error::database("reporting in"))?;
        let resource = format!("operations/{}", row.id);
        flatgov_messaging::outbox::enqueue(
            &mut transaction,
            &resource,
            &api::AgencyReportedIn {
                operation: resource.clone(),
                case: row.case_name.clone().unwrap_or_default(),
                agency: agency.to_string(),
                subdistrict_code: row.subdistrict_code.clone(),
                officers: u32::try_from(officer_ids.len()).unwrap_or(u32::MAX),
                on_time: now <= summons.report_in_due,
                reported_at: Some(timestamp(now)),
                report_in_deadline: Some(timestamp(summons.report_in_due)),
            },
        )
        .await
        .map_err(Error::database("reporting in"))?;
        tracing::info!(operation = %resource, %agency, on_time = now <= summons.report_in_due, "agency reported in");
        self.commit_and_view(transaction, row.id, &viewer, "reporting in")
            .await
    }

    async fn record_action_inner(
        &self,
        caller: &Caller,
        request: api::RecordActionRequest,
    ) -> Result<api::Action, Error> {
        use api::record_action_request::Details;
        let agency = acting_agency(caller, &request.agency)?;
        let now = Utc::now();
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        let summary =
            violations.check("summary", Text::required("summary", &request.summary, 2000));
        let notes = violations.check("notes", Text::optional("notes", &request.notes, 4000));
        if request.attachments.len() > Attachment::MAX_PER_ACTION {
            violations.add(
                "attachments",
                format!(
                    "at most {} attachments per action",
                    Attachment::MAX_PER_ACTION
                ),
            );
        }
        let attachments: Vec<Attachment> = request
            .attachments
            .iter()
            .enumerate()
            .filter_map(|(index, attachment)| {
                Attachment::parse(
                    &attachment.uri,
                    &attachment.media_type,
                    &attachment.description,
                    &attachment.sha256,
                )
                .map_err(|error| {
                    violations.add(format!("attachments[{index}].{}", error.field()), &error)
                })
                .ok()
            })
            .collect();
        let mut checked_order: Option<ActionName> = None;
        let details = match &request.details {
            None => {
                violations.add(
                    "details",
                    "exactly one of inspection, rectification_order, penalty_decision, seizure, referral or rectification_check is required",
                );
                None
            }
            Some(Details::Inspection(inspection)) => violations
                .check(
                    "inspection.findings",
                    Text::optional("findings", &inspection.findings, 2000),
                )
                .map(|findings| ActionDetails::Inspection {
                    findings: findings.into_string(),
                    violation_found: inspection.violation_found,
                }),
            Some(Details::RectificationOrder(order)) => {
                let requirement = violations.check(
                    "rectification_order.requirement",
                    Text::required("requirement", &order.requirement, 2000),
                );
                let deadline = violations.check(
                    "rectification_order.deadline",
                    action::rectification_deadline(
                        order
                            .deadline
                            .as_ref()
                            .and_then(|deadline| time::instant(deadline).ok()),
                        now,
                    ),
                );
                let document = violations.check(
                    "rectification_order.document_number",
                    Text::optional("document number", &order.document_number, 64),
                );
                match (requirement, deadline, document) {
                    (Some(requirement), Some(deadline), Some(document)) => {
                        Some(ActionDetails::RectificationOrder {
                            requirement: requirement.into_string(),
                            deadline,
                            document_number: document.into_string(),
                        })
                    }
                    _ => None,
                }
            }
            Some(Details::PenaltyDecision(decision)) => {
                let legal_basis = violations.check(
                    "penalty_decision.legal_basis",
                    Text::required("legal basis", &decision.legal_basis, 500),
                );
                let penalty = violations.check(
                    "penalty_decision.penalty",
                    Text::optional("penalty", &decision.penalty, 200),
                );
                let fine = violations.check(
                    "penalty_decision.fine_fen",
                    action::fine_fen(decision.fine_fen),
                );
                let number = violations.check(
                    "penalty_decision.decision_number",
                    Text::optional("decision number", &decision.decision_number, 64),
                );
                match (legal_basis, penalty, fine, number) {
                    (Some(legal_basis), Some(penalty), Some(fine_fen), Some(number)) => {
                        Some(ActionDetails::PenaltyDecision {
                            legal_basis: legal_basis.into_string(),
                            penalty: penalty.into_string(),
                            fine_fen,
                            decision_number: number.into_string(),
                        })
                    }
                    _ => None,
                }
            }
            Some(Details::Seizure(seizure)) => {
                let items = violations.check(
                    "seizure.items",
                    Text::required("items", &seizure.items, 2000),
                );
                let legal_basis = violations.check(
                    "seizure.legal_basis",
                    Text::required("legal basis", &seizure.legal_basis, 500),
                );
                let document = violations.check(
                    "seizure.document_number",
                    Text::optional("document number", &seizure.document_number, 64),
                );
                match (items, legal_basis, document) {
                    (Some(items), Some(legal_basis), Some(document)) => {
                        Some(ActionDetails::Seizure {
                            items: items.into_string(),
                            legal_basis: legal_basis.into_string(),
                            document_number: document.into_string(),
                        })
                    }
                    _ => None,
                }
            }
            Some(Details::Referral(referral)) => {
                let to = violations.check(
                    "referral.referred_to",
                    Text::required("referred to", &referral.referred_to, 200),
                );
                let reason = violations.check(
                    "referral.reason",
                    Text::optional("reason", &referral.reason, 1000),
                );
                match (to, reason) {
                    (Some(to), Some(reason)) => Some(ActionDetails::Referral {
                        referred_to: to.into_string(),
                        reason: reason.into_string(),
                    }),
                    _ => None,
                }
            }
            Some(Details::RectificationCheck(check)) => {
                let order = violations.check(
                    "rectification_check.rectification_order",
                    ActionName::parse(&check.rectification_order),
                );
                if let (Some(order), Some(name)) = (&order, &name)
                    && order.operation != *name
                {
                    violations.add(
                        "rectification_check.rectification_order",
                        format!("{order} is an action of another operation"),
                    );
                }
                let findings = violations.check(
                    "rectification_check.findings",
                    Text::optional("findings", &check.findings, 2000),
                );
                checked_order = order;
                match (checked_order, findings) {
                    (Some(order), Some(findings)) => Some(ActionDetails::RectificationCheck {
                        rectification_order: order.id,
                        complied: check.complied,
                        findings: findings.into_string(),
                    }),
                    _ => None,
                }
            }
        };
        violations.finish()?;
        let name = required(name, "operation")?;
        let summary = required(summary, "summary")?;
        let notes = required(notes, "notes")?;
        let details = required(details, "details")?;
        let viewer = Viewer::Agency(agency.clone());

        let mut transaction = self.begin("recording an action").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        if let Some(request_id) = &request_id {
            let earlier = store::action_by_request_id(
                &mut transaction,
                row.id,
                agency.as_str(),
                request_id.as_str(),
            )
            .await
            .map_err(Error::database("recording an action"))?;
            if let Some(earlier) = earlier {
                return Ok(convert::action(&earlier, &viewer));
            }
        }
        let summonses = store::summonses(&mut transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        rules::check_action(state_of(&row)?, &summons_facts(&summonses), &agency)?;
        if let Some(order) = &checked_order {
            let found = store::get_action(&mut transaction, row.id, order.id)
                .await
                .map_err(Error::database("reading the rectification order"))?;
            let facts = found.map(|found| OrderFacts {
                name: order.to_string(),
                agency: AgencyCode::parse(&found.agency_code).unwrap_or_else(|_| agency.clone()),
                is_rectification_order: found.kind == ActionKind::RectificationOrder.as_str(),
                already_checked: found.rectification_checked_at.is_some(),
            });
            rules::check_rectification_check(facts.as_ref(), &order.to_string(), &agency)?;
        }
        let inserted = store::insert_action(
            &mut transaction,
            &store::NewAction {
                id: Uuid::now_v7(),
                operation: row.id,
                agency: agency.as_str(),
                request_id: request_id.as_ref().map(RequestId::as_str),
                recorded_by: &caller.subject,
                recorded_at: now,
                summary: summary.as_str(),
                notes: notes.as_str(),
                notes_sensitive: request.notes_sensitive,
                details: &details,
                attachments: &attachments,
            },
        )
        .await
        .map_err(Error::database("recording an action"))?;
        let complied = match &details {
            ActionDetails::RectificationCheck {
                rectification_order,
                complied,
                ..
            } => {
                store::check_rectification_order(
                    &mut transaction,
                    *rectification_order,
                    *complied,
                    now,
                )
                .await
                .map_err(Error::database("recording the check"))?;
                *complied
            }
            _ => false,
        };
        if details.rectification_deadline().is_some() {
            store::notify_deadline_workers(&mut transaction)
                .await
                .map_err(Error::database("recording an action"))?;
        }
        let resource = format!("operations/{}", row.id);
        flatgov_messaging::outbox::enqueue(
            &mut transaction,
            &resource,
            &api::ActionRecorded {
                action: format!("{resource}/actions/{}", inserted.id),
                operation: resource.clone(),
                case: row.case_name.clone().unwrap_or_default(),
                agency: agency.to_string(),
                subdistrict_code: row.subdistrict_code.clone(),
                kind: details.kind().as_str().to_owned(),
                rectification_deadline: details.rectification_deadline().map(timestamp),
                complied,
                recorded_at: Some(timestamp(now)),
            },
        )
        .await
        .map_err(Error::database("recording an action"))?;
        transaction
            .commit()
            .await
            .map_err(Error::database("recording an action"))?;
        Ok(convert::action(&inserted, &viewer))
    }

    async fn conclude(
        &self,
        caller: &Caller,
        request: api::ConcludeOperationRequest,
    ) -> Result<api::Operation, Error> {
        let agency = acting_agency(caller, "")?;
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let outcome = api::OperationOutcome::try_from(request.outcome)
            .ok()
            .and_then(convert::outcome_from_api);
        if outcome.is_none() {
            violations.add(
                "outcome",
                "must be one of RESOLVED, PARTIALLY_RESOLVED, REFERRED, NO_VIOLATION",
            );
        }
        let summary =
            violations.check("summary", Text::required("summary", &request.summary, 2000));
        violations.finish()?;
        let (name, outcome, summary) = (
            required(name, "operation")?,
            required(outcome, "outcome")?,
            required(summary, "summary")?,
        );
        let now = Utc::now();

        let mut transaction = self.begin("concluding").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        let summonses = store::summonses(&mut transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        let facts = summons_facts(&summonses);
        if !facts.iter().any(|summons| summons.agency == agency) {
            return Err(Error::PermissionDenied(format!(
                "{name} is not visible to agency {agency}: it is not summoned to it"
            )));
        }
        let overdue: Vec<String> = store::overdue_unchecked_orders(&mut transaction, row.id, now)
            .await
            .map_err(Error::database("reading rectification orders"))?
            .into_iter()
            .map(|id| format!("{name}/actions/{id}"))
            .collect();
        let lead = row
            .lead_agency
            .as_deref()
            .and_then(|lead| AgencyCode::parse(lead).ok())
            .ok_or_else(|| Error::FailedPrecondition(format!("{name} has no lead agency yet")))?;
        let kind = rules::check_conclusion(state_of(&row)?, &lead, &agency, &facts, &overdue)?;
        store::conclude_operation(
            &mut transaction,
            row.id,
            outcome.as_str(),
            summary.as_str(),
            &caller.subject,
            now,
        )
        .await
        .map_err(Error::database("concluding"))?;
        let resource = name.to_string();
        let case = row.case_name.clone().unwrap_or_default();
        let enqueued = match kind {
            ConclusionKind::First => {
                flatgov_messaging::outbox::enqueue(
                    &mut transaction,
                    &resource,
                    &api::OperationConcluded {
                        operation: resource.clone(),
                        case,
                        outcome: convert::outcome_to_api(outcome) as i32,
                        concluded_at: Some(timestamp(now)),
                    },
                )
                .await
            }
            ConclusionKind::FollowUpClosed => {
                flatgov_messaging::outbox::enqueue(
                    &mut transaction,
                    &resource,
                    &api::FollowUpClosed {
                        operation: resource.clone(),
                        case,
                        subdistrict_code: row.subdistrict_code.clone(),
                        outcome: convert::outcome_to_api(outcome) as i32,
                        closed_at: Some(timestamp(now)),
                    },
                )
                .await
            }
        };
        enqueued.map_err(Error::database("concluding"))?;
        tracing::info!(operation = %resource, outcome = outcome.as_str(), ?kind, "operation concluded");
        self.commit_and_view(transaction, row.id, &Viewer::Agency(agency), "concluding")
            .await
    }

    async fn cancel(
        &self,
        caller: &Caller,
        request: api::CancelOperationRequest,
    ) -> Result<api::Operation, Error> {
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let reason = violations.check("reason", Text::required("reason", &request.reason, 1000));
        violations.finish()?;
        let (name, reason) = (required(name, "operation")?, required(reason, "reason")?);
        let viewer = viewer(caller)?;
        let now = Utc::now();
        let mut transaction = self.begin("cancelling").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        caller.require_jurisdiction(&row.subdistrict_code)?;
        rules::check_cancel(state_of(&row)?)?;
        store::cancel_operation(
            &mut transaction,
            row.id,
            reason.as_str(),
            &caller.subject,
            now,
        )
        .await
        .map_err(Error::database("cancelling"))?;
        let resource = name.to_string();
        flatgov_messaging::outbox::enqueue(
            &mut transaction,
            &resource,
            &api::OperationCancelled {
                operation: resource.clone(),
                case: row.case_name.clone().unwrap_or_default(),
                reason: reason.into_string(),
                cancelled_at: Some(timestamp(now)),
            },
        )
        .await
        .map_err(Error::database("cancelling"))?;
        self.commit_and_view(transaction, row.id, &viewer, "cancelling")
            .await
    }

    async fn rate(
        &self,
        caller: &Caller,
        request: api::RateAgencyRequest,
    ) -> Result<api::Operation, Error> {
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let agency = violations.check("agency", AgencyCode::parse_code_or_name(&request.agency));
        if !(1..=5).contains(&request.score) {
            violations.add(
                "score",
                format!(
                    "score {} is not between 1 (poor) and 5 (excellent)",
                    request.score
                ),
            );
        }
        let comment =
            violations.check("comment", Text::optional("comment", &request.comment, 1000));
        violations.finish()?;
        let (name, agency, comment) = (
            required(name, "operation")?,
            required(agency, "agency")?,
            required(comment, "comment")?,
        );
        let score =
            i16::try_from(request.score).map_err(|_| Error::invalid("score", "out of range"))?;
        let viewer = viewer(caller)?;
        let now = Utc::now();
        let mut transaction = self.begin("rating an agency").await?;
        let row = self.locked_operation(&mut transaction, &name).await?;
        caller.require_jurisdiction(&row.subdistrict_code)?;
        let summonses = store::summonses(&mut transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        let already = store::is_rated(&mut transaction, row.id, agency.as_str())
            .await
            .map_err(Error::database("reading ratings"))?;
        rules::check_rating(
            state_of(&row)?,
            &summons_facts(&summonses),
            &agency,
            already,
        )?;
        store::insert_rating(
            &mut transaction,
            row.id,
            agency.as_str(),
            score,
            comment.as_str(),
            &caller.subject,
            now,
        )
        .await
        .map_err(Error::database("rating an agency"))?;
        let resource = name.to_string();
        flatgov_messaging::outbox::enqueue(
            &mut transaction,
            &resource,
            &api::AgencyRated {
                operation: resource.clone(),
                agency: agency.to_string(),
                subdistrict_code: row.subdistrict_code.clone(),
                score: request.score,
                matter_code: row.matter_code.clone().unwrap_or_default(),
                case: row.case_name.clone().unwrap_or_default(),
                rated_at: Some(timestamp(now)),
            },
        )
        .await
        .map_err(Error::database("rating an agency"))?;
        self.commit_and_view(transaction, row.id, &viewer, "rating an agency")
            .await
    }

    async fn get(
        &self,
        caller: &Caller,
        request: api::GetOperationRequest,
    ) -> Result<api::Operation, Error> {
        let name =
            OperationName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        let viewer = viewer(caller)?;
        let mut connection = self.connection("reading the operation").await?;
        self.view(&mut connection, name.0, &viewer).await
    }

    async fn list(
        &self,
        caller: &Caller,
        request: api::ListOperationsRequest,
    ) -> Result<api::ListOperationsResponse, Error> {
        let viewer = viewer(caller)?;
        let mut violations = Violations::default();
        let agency = optional(
            &mut violations,
            "agency",
            &request.agency,
            AgencyCode::parse_code_or_name,
        );
        let subdistrict = optional(
            &mut violations,
            "subdistrict_code",
            &request.subdistrict_code,
            SubdistrictCode::parse,
        );
        let case = optional(&mut violations, "case", &request.case, CaseName::parse);
        let mut states: Vec<&str> = Vec::new();
        for (index, state) in request.states.iter().enumerate() {
            match api::OperationState::try_from(*state)
                .ok()
                .and_then(convert::state_code)
            {
                Some(code) => states.push(code),
                None => violations.add(
                    format!("states[{index}]"),
                    format!("{state} is not an operation state"),
                ),
            }
        }
        let query = ListQuery::new(&format!(
            "operations agency={} subdistrict_code={} states={:?} overdue_only={} case={}",
            request.agency,
            request.subdistrict_code,
            request.states,
            request.overdue_only,
            request.case
        ));
        let size = violations.check("page_size", PageSize::parse(request.page_size));
        let before = violations
            .check(
                "page_token",
                query
                    .key_in(&request.page_token)
                    .and_then(|key| paging::parse_key::<Uuid>(key.as_deref())),
            )
            .flatten();
        violations.finish()?;
        let size = required(size, "page_size")?;
        let agency = match (&viewer, agency) {
            (Viewer::Agency(own), Some(asked)) if *own != asked => {
                return Err(Error::PermissionDenied(format!(
                    "officers of {own} see only operations {own} is summoned to"
                )));
            }
            (Viewer::Agency(own), _) => Some(own.clone()),
            (_, asked) => asked,
        };
        let jurisdictions = match &viewer {
            Viewer::Dispatcher { jurisdictions } => Some(jurisdictions.clone()),
            _ => None,
        };
        let now = Utc::now();
        let mut connection = self.connection("listing operations").await?;
        let mut records = store::list_operations(
            &mut connection,
            &store::OperationFilter {
                agency: agency.as_ref().map(AgencyCode::as_str),
                subdistrict_code: subdistrict.as_ref().map(SubdistrictCode::as_str),
                jurisdictions: jurisdictions.as_deref(),
                states: &states,
                overdue_only: request.overdue_only,
                case_name: case.as_ref().map(CaseName::as_str),
                before,
                limit: size.fetch_limit(),
                now,
            },
        )
        .await
        .map_err(Error::database("listing operations"))?;
        let next_page_token = size.next_page_token(&mut records, &query, |record| {
            record.operation.id.to_string()
        });
        Ok(api::ListOperationsResponse {
            operations: records
                .iter()
                .filter(|record| check_visible(record, &viewer).is_ok())
                .map(|record| convert::operation(record, &viewer, now))
                .collect(),
            next_page_token,
        })
    }

    async fn indicators(
        &self,
        caller: &Caller,
        request: api::GetIndicatorsRequest,
    ) -> Result<api::GetIndicatorsResponse, Error> {
        let viewer = viewer(caller)?;
        let mut violations = Violations::default();
        // An unset or invalid period bound is reported as required below.
        let start = request
            .period_start
            .as_ref()
            .and_then(|start| time::instant(start).ok());
        let end = request
            .period_end
            .as_ref()
            .and_then(|end| time::instant(end).ok());
        if start.is_none() {
            violations.add("period_start", "is required");
        }
        if end.is_none() {
            violations.add("period_end", "is required");
        }
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                violations.add("period_end", "must be after period_start");
            } else if end - start > TimeDelta::days(3 * 366) {
                violations.add("period_end", "a period spans at most three years");
            }
        }
        let subdistrict = optional(
            &mut violations,
            "subdistrict_code",
            &request.subdistrict_code,
            SubdistrictCode::parse,
        );
        let agency = optional(
            &mut violations,
            "agency",
            &request.agency,
            AgencyCode::parse_code_or_name,
        );
        violations.finish()?;
        let (start, end) = (
            required(start, "period_start")?,
            required(end, "period_end")?,
        );
        if let Some(subdistrict) = &subdistrict
            && !viewer.covers_subdistrict(subdistrict.as_str())
        {
            return Err(Error::PermissionDenied(format!(
                "subdistrict {subdistrict} is outside the caller's jurisdiction"
            )));
        }
        let agency = match (&viewer, agency) {
            (Viewer::Agency(own), Some(asked)) if *own != asked => {
                return Err(Error::PermissionDenied(format!(
                    "officers of {own} see only {own}'s figures"
                )));
            }
            (Viewer::Agency(own), _) => Some(own.clone()),
            (_, asked) => asked,
        };
        let now = Utc::now();
        let mut connection = self.connection("computing indicators").await?;
        let (summonses, action_counts) = store::summons_facts(
            &mut connection,
            start,
            end,
            agency.as_ref().map(AgencyCode::as_str),
            subdistrict.as_ref().map(SubdistrictCode::as_str),
        )
        .await
        .map_err(Error::database("computing indicators"))?;
        let whistles = store::whistle_facts(&mut connection, start, end)
            .await
            .map_err(Error::database("computing indicators"))?;
        let stationed = store::stationed_subdistricts(&mut connection)
            .await
            .map_err(Error::database("computing indicators"))?;

        let records: Vec<indicators::SummonsRecord> = summonses
            .iter()
            .filter(|row| viewer.covers_subdistrict(&row.subdistrict_code))
            .filter_map(|row| {
                Some(indicators::SummonsRecord {
                    agency: AgencyCode::parse(&row.agency_code).ok()?,
                    subdistrict: SubdistrictCode::parse(&row.subdistrict_code).ok()?,
                    blown_at: row.blown_at,
                    summoned_at: row.summoned_at,
                    deadline: row.report_in_due,
                    reported_at: row.reported_at,
                    state: OperationState::parse(&row.state)?,
                    first_concluded_at: row.first_concluded_at,
                    cancelled_at: row.cancelled_at,
                    actions: action_counts
                        .iter()
                        .filter(|count| {
                            count.operation_id == row.operation_id
                                && count.agency_code == row.agency_code
                        })
                        .filter_map(|count| {
                            Some((
                                ActionKind::parse(&count.kind)?,
                                u32::try_from(count.count).unwrap_or(u32::MAX),
                            ))
                        })
                        .collect(),
                    rating: row.rating.and_then(|score| u32::try_from(score).ok()),
                })
            })
            .collect();
        let (overall, per_subdistrict) = indicators::agencies(&records, now);
        let operation_records: Vec<indicators::OperationRecord> = whistles
            .iter()
            .filter_map(|row| {
                Some(indicators::OperationRecord {
                    subdistrict: SubdistrictCode::parse(&row.subdistrict_code).ok()?,
                    source: WhistleSource::parse(&row.source)?,
                    urgent: row.urgent,
                    blown_at: row.blown_at,
                    state: OperationState::parse(&row.state)?,
                    first_concluded_at: row.first_concluded_at,
                })
            })
            .collect();
        let compared: BTreeSet<SubdistrictCode> = stationed
            .iter()
            .filter_map(|code| SubdistrictCode::parse(code).ok())
            .collect();
        let subdistricts = indicators::subdistricts(&operation_records, &compared, start, end)
            .into_iter()
            .filter(|figures| viewer.covers_subdistrict(figures.subdistrict.as_str()))
            .filter(|figures| {
                subdistrict
                    .as_ref()
                    .is_none_or(|wanted| *wanted == figures.subdistrict)
            })
            .map(|figures| subdistrict_indicators(&figures))
            .collect();
        Ok(api::GetIndicatorsResponse {
            period_start: Some(timestamp(start)),
            period_end: Some(timestamp(end)),
            agencies: overall.iter().map(agency_indicators).collect(),
            agencies_by_subdistrict: per_subdistrict.iter().map(agency_indicators).collect(),
            subdistricts,
        })
    }
}

fn duration(delta: Option<TimeDelta>) -> Option<prost_types::Duration> {
    delta.map(|delta| prost_types::Duration {
        seconds: delta.num_seconds(),
        nanos: delta.subsec_nanos(),
    })
}

fn agency_indicators(figures: &indicators::AgencyFigures) -> api::AgencyIndicators {
    api::AgencyIndicators {
        agency: format!("agencies/{}", figures.agency),
        subdistrict_code: figures
            .subdistrict
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        whistles_received: figures.whistles_received,
        reported_in: figures.reported_in,
        reported_in_on_time: figures.reported_in_on_time,
        report_in_rate: figures.report_in_rate,
        on_time_report_in_rate: figures.on_time_report_in_rate,
        mean_time_to_report_in: duration(figures.mean_time_to_report_in),
        late: figures.late,
        no_shows: figures.no_shows,
        operations_concluded: figures.operations_concluded,
        mean_time_to_conclude: duration(figures.mean_time_to_conclude),
        actions_by_kind: figures
            .actions_by_kind
            .iter()
            .map(|(kind, count)| api::ActionCount {
                kind: convert::action_kind(*kind) as i32,
                count: *count,
            })
            .collect(),
        ratings: figures.ratings,
        mean_rating: figures.mean_rating,
    }
}

fn subdistrict_indicators(figures: &indicators::SubdistrictFigures) -> api::SubdistrictIndicators {
    api::SubdistrictIndicators {
        subdistrict_code: figures.subdistrict.to_string(),
        whistles: figures.whistles,
        whistles_from_cases: figures.whistles_from_cases,
        direct_whistles: figures.direct_whistles,
        urgent_whistles: figures.urgent_whistles,
        concluded: figures.concluded,
        cancelled: figures.cancelled,
        mean_time_to_conclude: duration(figures.mean_time_to_conclude),
        whistles_per_30_days: figures.whistles_per_30_days,
        relative_to_mean: figures.relative_to_mean,
        assessment: match figures.assessment {
            indicators::WhistleRateAssessment::Unused => api::WhistleRateAssessment::Unused,
            indicators::WhistleRateAssessment::Normal => api::WhistleRateAssessment::Normal,
            indicators::WhistleRateAssessment::High => api::WhistleRateAssessment::High,
        } as i32,
    }
}

// ------------------------------------------------- agencies, units, officers

impl EnforcementService {
    async fn create_agency_inner(
        &self,
        request: api::CreateAgencyRequest,
    ) -> Result<api::Agency, Error> {
        let mut violations = Violations::default();
        let code = violations.check("code", AgencyCode::parse(&request.code));
        let name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 100),
        );
        let name_en = violations.check(
            "display_name_en",
            Text::optional("English name", &request.display_name_en, 200),
        );
        violations.finish()?;
        let (code, name, name_en) = (
            required(code, "code")?,
            required(name, "display_name")?,
            required(name_en, "display_name_en")?,
        );
        // Agencies are named by the duty lists' department codes. When the
        // duty lists can be asked, a code they do not know is refused; when
        // they are down, registration (an administrator's act) goes ahead.
        match self.duties.department_exists(&code).await {
            Ok(Some(false)) => {
                return Err(Error::invalid(
                    "code",
                    format!(
                        "{code} is not a department in the duty lists; register the department there first"
                    ),
                ));
            }
            Ok(_) => {}
            Err(unavailable) => {
                tracing::warn!(agency = %code, %unavailable, "agency registered without checking the duty lists");
            }
        }
        let mut connection = self.connection("creating an agency").await?;
        match store::insert_agency(
            &mut connection,
            code.as_str(),
            name.as_str(),
            name_en.as_str(),
            Utc::now(),
        )
        .await
        {
            Ok(row) => {
                tracing::info!(agency = %code, "agency registered");
                Ok(convert::agency(&row))
            }
            Err(error) if is_unique_violation(&error) => Err(Error::AlreadyExists(format!(
                "agency {code} already exists"
            ))),
            Err(error) => Err(Error::database("creating an agency")(error)),
        }
    }

    async fn update_agency_inner(
        &self,
        request: api::UpdateAgencyRequest,
    ) -> Result<api::Agency, Error> {
        let mut violations = Violations::default();
        let code = violations.check(
            "name",
            AgencyCode::parse(request.name.strip_prefix("agencies/").unwrap_or("")),
        );
        let name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 100))
        });
        let name_en = request.display_name_en.as_deref().and_then(|value| {
            violations.check(
                "display_name_en",
                Text::optional("English name", value, 200),
            )
        });
        violations.finish()?;
        let code = required(code, "name")?;
        let mut connection = self.connection("updating an agency").await?;
        store::update_agency(
            &mut connection,
            code.as_str(),
            name.as_ref().map(Text::as_str),
            name_en.as_ref().map(Text::as_str),
            request.active,
            Utc::now(),
        )
        .await
        .map_err(Error::database("updating an agency"))?
        .map(|row| convert::agency(&row))
        .ok_or_else(|| Error::NotFound(format!("agencies/{code} does not exist")))
    }

    async fn agency_named(&self, name: &str) -> Result<store::AgencyRow, Error> {
        let code =
            AgencyCode::parse(name.strip_prefix("agencies/").unwrap_or("")).map_err(|error| {
                Error::invalid("name", format!("{error}; expected agencies/{{code}}"))
            })?;
        let mut connection = self.connection("reading an agency").await?;
        store::get_agency(&mut connection, code.as_str())
            .await
            .map_err(Error::database("reading an agency"))?
            .ok_or_else(|| Error::NotFound(format!("agencies/{code} does not exist")))
    }

    /// The agency of a `parent` field, which must exist.
    async fn parent_agency(
        &self,
        connection: &mut PgConnection,
        parent: &str,
    ) -> Result<AgencyCode, Error> {
        let code =
            AgencyCode::parse(parent.strip_prefix("agencies/").unwrap_or("")).map_err(|error| {
                Error::invalid("parent", format!("{error}; expected agencies/{{code}}"))
            })?;
        store::get_agency(connection, code.as_str())
            .await
            .map_err(Error::database("reading an agency"))?
            .ok_or_else(|| Error::NotFound(format!("agencies/{code} does not exist")))?;
        Ok(code)
    }

    async fn list_agencies_inner(
        &self,
        request: api::ListAgenciesRequest,
    ) -> Result<api::ListAgenciesResponse, Error> {
        let query = ListQuery::new(&format!(
            "agencies include_inactive={}",
            request.include_inactive
        ));
        let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
        let mut connection = self.connection("listing agencies").await?;
        let mut rows = store::list_agencies(
            &mut connection,
            request.include_inactive,
            page.after.as_deref(),
            page.size.fetch_limit(),
        )
        .await
        .map_err(Error::database("listing agencies"))?;
        let next_page_token = page
            .size
            .next_page_token(&mut rows, &query, |row| row.code.clone());
        Ok(api::ListAgenciesResponse {
            agencies: rows.iter().map(convert::agency).collect(),
            next_page_token,
        })
    }

    async fn create_unit_inner(
        &self,
        caller: &Caller,
        request: api::CreateUnitRequest,
    ) -> Result<api::EnforcementUnit, Error> {
        let mut violations = Violations::default();
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        let name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 100),
        );
        let station = optional(
            &mut violations,
            "stationed_subdistrict_code",
            &request.stationed_subdistrict_code,
            SubdistrictCode::parse,
        );
        violations.finish()?;
        let name = required(name, "display_name")?;
        let mut connection = self.connection("creating a unit").await?;
        let agency = self.parent_agency(&mut connection, &request.parent).await?;
        require_manager(caller, &agency)?;
        let row = store::insert_unit(
            &mut connection,
            &store::NewUnit {
                id: Uuid::now_v7(),
                agency: agency.as_str(),
                request_id: request_id.as_ref().map(RequestId::as_str),
                display_name: name.as_str(),
                stationed_subdistrict_code: station.as_ref().map(SubdistrictCode::as_str),
                on_duty: request.on_duty,
                now: Utc::now(),
            },
        )
        .await
        .map_err(Error::database("creating a unit"))?;
        Ok(convert::unit(&row))
    }

    async fn update_unit_inner(
        &self,
        caller: &Caller,
        request: api::UpdateUnitRequest,
    ) -> Result<api::EnforcementUnit, Error> {
        let mut violations = Violations::default();
        let unit = violations.check("name", UnitName::parse(&request.name));
        let name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 100))
        });
        let station: Option<Option<SubdistrictCode>> =
            match request.stationed_subdistrict_code.as_deref() {
                None => None,
                Some("") => Some(None),
                Some(code) => violations
                    .check("stationed_subdistrict_code", SubdistrictCode::parse(code))
                    .map(Some),
            };
        violations.finish()?;
        let unit = required(unit, "name")?;
        require_manager(caller, unit.agency())?;
        let mut connection = self.connection("updating a unit").await?;
        store::update_unit(
            &mut connection,
            unit.agency().as_str(),
            unit.id(),
            &store::UnitChanges {
                display_name: name.as_ref().map(Text::as_str),
                stationed_subdistrict_code: station
                    .as_ref()
                    .map(|station| station.as_ref().map(SubdistrictCode::as_str)),
                on_duty: request.on_duty,
                active: request.active,
            },
            Utc::now(),
        )
        .await
        .map_err(Error::database("updating a unit"))?
        .map(|row| convert::unit(&row))
        .ok_or_else(|| Error::NotFound(format!("{unit} does not exist")))
    }

    async fn get_unit_inner(
        &self,
        request: api::GetUnitRequest,
    ) -> Result<api::EnforcementUnit, Error> {
        let unit = UnitName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        let mut connection = self.connection("reading a unit").await?;
        store::get_unit(&mut connection, unit.agency().as_str(), unit.id())
            .await
            .map_err(Error::database("reading a unit"))?
            .map(|row| convert::unit(&row))
            .ok_or_else(|| Error::NotFound(format!("{unit} does not exist")))
    }

    async fn list_units_inner(
        &self,
        request: api::ListUnitsRequest,
    ) -> Result<api::ListUnitsResponse, Error> {
        let mut violations = Violations::default();
        let agency = optional(
            &mut violations,
            "parent",
            request
                .parent
                .strip_prefix("agencies/")
                .unwrap_or(&request.parent),
            AgencyCode::parse,
        );
        let station = optional(
            &mut violations,
            "stationed_subdistrict_code",
            &request.stationed_subdistrict_code,
            SubdistrictCode::parse,
        );
        violations.finish()?;
        let query = ListQuery::new(&format!(
            "units agency={} stationed_subdistrict_code={} on_duty_only={} include_inactive={}",
            agency.as_ref().map(AgencyCode::as_str).unwrap_or_default(),
            station
                .as_ref()
                .map(SubdistrictCode::as_str)
                .unwrap_or_default(),
            request.on_duty_only,
            request.include_inactive
        ));
        let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
        let after = page.after_as::<Uuid>()?;
        let mut connection = self.connection("listing units").await?;
        let mut rows = store::list_units(
            &mut connection,
            &store::UnitFilter {
                agency: agency.as_ref().map(AgencyCode::as_str),
                stationed_subdistrict_code: station.as_ref().map(SubdistrictCode::as_str),
                on_duty_only: request.on_duty_only,
                include_inactive: request.include_inactive,
                after,
                limit: page.size.fetch_limit(),
            },
        )
        .await
        .map_err(Error::database("listing units"))?;
        let next_page_token = page
            .size
            .next_page_token(&mut rows, &query, |row| row.id.to_string());
        Ok(api::ListUnitsResponse {
            units: rows.iter().map(convert::unit).collect(),
            next_page_token,
        })
    }

    async fn unit_of_agency(
        &self,
        connection: &mut PgConnection,
        agency: &AgencyCode,
        unit: &UnitName,
        field: &str,
    ) -> Result<(), Error> {
        if unit.agency() != agency {
            return Err(Error::invalid(
                field,
                format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
            ));
        }
        store::get_unit(connection, agency.as_str(), unit.id())
            .await
            .map_err(Error::database("reading a unit"))?
            .ok_or_else(|| Error::invalid(field, format!("unit {unit} does not exist")))?;
        Ok(())
    }

    async fn create_officer_inner(
        &self,
        caller: &Caller,
        request: api::CreateOfficerRequest,
    ) -> Result<api::Officer, Error> {
        let mut violations = Violations::default();
        let request_id = violations
            .check("request_id", RequestId::parse_optional(&request.request_id))
            .flatten();
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        let name = violations.check(
            "display_name",
            Text::required("display name", &request.display_name, 50),
        );
        let badge = violations.check("badge_number", badge_number(&request.badge_number));
        let phone = violations.check("phone", phone(&request.phone));
        violations.finish()?;
        let (name, badge, phone) = (
            required(name, "display_name")?,
            required(badge, "badge_number")?,
            required(phone, "phone")?,
        );
        let mut connection = self.connection("creating an officer").await?;
        let agency = self.parent_agency(&mut connection, &request.parent).await?;
        require_manager(caller, &agency)?;
        if let Some(unit) = &unit {
            self.unit_of_agency(&mut connection, &agency, unit, "unit")
                .await?;
        }
        let inserted = store::insert_officer(
            &mut connection,
            &store::NewOfficer {
                id: Uuid::now_v7(),
                agency: agency.as_str(),
                request_id: request_id.as_ref().map(RequestId::as_str),
                unit_id: unit.as_ref().map(UnitName::id),
                display_name: name.as_str(),
                badge_number: &badge,
                phone: &phone,
                now: Utc::now(),
            },
        )
        .await;
        match inserted {
            Ok(row) => Ok(convert::officer(&row, &viewer(caller)?)),
            Err(error) if is_unique_violation(&error) => Err(Error::AlreadyExists(format!(
                "agency {agency} already has an officer with badge number {badge}"
            ))),
            Err(error) => Err(Error::database("creating an officer")(error)),
        }
    }

    async fn update_officer_inner(
        &self,
        caller: &Caller,
        request: api::UpdateOfficerRequest,
    ) -> Result<api::Officer, Error> {
        let mut violations = Violations::default();
        let officer = violations.check("name", OfficerName::parse(&request.name));
        let unit: Option<Option<UnitName>> = match request.unit.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(text) => violations.check("unit", UnitName::parse(text)).map(Some),
        };
        let name = request.display_name.as_deref().and_then(|value| {
            violations.check("display_name", Text::required("display name", value, 50))
        });
        let phone_number = request
            .phone
            .as_deref()
            .and_then(|value| violations.check("phone", phone(value)));
        violations.finish()?;
        let officer = required(officer, "name")?;
        require_manager(caller, officer.agency())?;
        let mut connection = self.connection("updating an officer").await?;
        if let Some(Some(unit)) = &unit {
            self.unit_of_agency(&mut connection, officer.agency(), unit, "unit")
                .await?;
        }
        let row = store::update_officer(
            &mut connection,
            officer.agency().as_str(),
            officer.id(),
            &store::OfficerChanges {
                unit_id: unit.as_ref().map(|unit| unit.as_ref().map(UnitName::id)),
                display_name: name.as_ref().map(Text::as_str),
                phone: phone_number.as_deref(),
                active: request.active,
            },
            Utc::now(),
        )
        .await
        .map_err(Error::database("updating an officer"))?
        .ok_or_else(|| Error::NotFound(format!("{officer} does not exist")))?;
        Ok(convert::officer(&row, &viewer(caller)?))
    }

    /// Officers are seen by their own agency, district administrators and
    /// subdistrict dispatchers (without phones).
    fn require_officer_reader(caller: &Caller, agency: &AgencyCode) -> Result<Viewer, Error> {
        let viewer = viewer(caller)?;
        match &viewer {
            Viewer::DistrictAdmin | Viewer::Dispatcher { .. } => Ok(viewer),
            Viewer::Agency(own) if own == agency => Ok(viewer),
            _ => Err(Error::PermissionDenied(format!(
                "officers of {agency} are visible to {agency}, district administrators and subdistrict dispatchers"
            ))),
        }
    }

    async fn get_officer_inner(
        &self,
        caller: &Caller,
        request: api::GetOfficerRequest,
    ) -> Result<api::Officer, Error> {
        let officer =
            OfficerName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        let viewer = Self::require_officer_reader(caller, officer.agency())?;
        let mut connection = self.connection("reading an officer").await?;
        store::get_officer(&mut connection, officer.agency().as_str(), officer.id())
            .await
            .map_err(Error::database("reading an officer"))?
            .map(|row| convert::officer(&row, &viewer))
            .ok_or_else(|| Error::NotFound(format!("{officer} does not exist")))
    }

    async fn list_officers_inner(
        &self,
        caller: &Caller,
        request: api::ListOfficersRequest,
    ) -> Result<api::ListOfficersResponse, Error> {
        let mut violations = Violations::default();
        let unit = optional(&mut violations, "unit", &request.unit, UnitName::parse);
        violations.finish()?;
        let query = ListQuery::new(&format!(
            "officers parent={} unit={} include_inactive={}",
            request.parent,
            unit.as_ref().map(ToString::to_string).unwrap_or_default(),
            request.include_inactive
        ));
        let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
        let after = page.after_as::<Uuid>()?;
        let mut connection = self.connection("listing officers").await?;
        let agency = self.parent_agency(&mut connection, &request.parent).await?;
        let viewer = Self::require_officer_reader(caller, &agency)?;
        if let Some(unit) = &unit
            && unit.agency() != &agency
        {
            return Err(Error::invalid(
                "unit",
                format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
            ));
        }
        let mut rows = store::list_officers(
            &mut connection,
            &store::OfficerFilter {
                agency: agency.as_str(),
                unit_id: unit.as_ref().map(UnitName::id),
                include_inactive: request.include_inactive,
                after,
                limit: page.size.fetch_limit(),
            },
        )
        .await
        .map_err(Error::database("listing officers"))?;
        let next_page_token = page
            .size
            .next_page_token(&mut rows, &query, |row| row.id.to_string());
        Ok(api::ListOfficersResponse {
            officers: rows
                .iter()
                .map(|row| convert::officer(row, &viewer))
                .collect(),
            next_page_token,
        })
    }
}

macro_rules! rpc {
    ($request:ident, |$caller:ident, $body:ident| $call:expr) => {{
        let $caller = flatgov_auth::caller(&$request)?.clone();
        let $body = $request.into_inner();
        let result: Result<_, Error> = $call.await;
        result.map(Response::new).map_err(Status::from)
    }};
}

#[tonic::async_trait]
impl JointEnforcement for EnforcementService {
    async fn create_agency(
        &self,
        request: Request<api::CreateAgencyRequest>,
    ) -> Result<Response<api::Agency>, Status> {
        flatgov_auth::caller(&request)?.require_any_role(&[Role::DistrictAdmin])?;
        rpc!(request, |_caller, body| self.create_agency_inner(body))
    }

    async fn update_agency(
        &self,
        request: Request<api::UpdateAgencyRequest>,
    ) -> Result<Response<api::Agency>, Status> {
        flatgov_auth::caller(&request)?.require_any_role(&[Role::DistrictAdmin])?;
        rpc!(request, |_caller, body| self.update_agency_inner(body))
    }

    async fn get_agency(
        &self,
        request: Request<api::GetAgencyRequest>,
    ) -> Result<Response<api::Agency>, Status> {
        rpc!(request, |_caller, body| async {
            self.agency_named(&body.name)
                .await
                .map(|row| convert::agency(&row))
        })
    }

    async fn list_agencies(
        &self,
        request: Request<api::ListAgenciesRequest>,
    ) -> Result<Response<api::ListAgenciesResponse>, Status> {
        rpc!(request, |_caller, body| self.list_agencies_inner(body))
    }

    async fn create_unit(
        &self,
        request: Request<api::CreateUnitRequest>,
    ) -> Result<Response<api::EnforcementUnit>, Status> {
        rpc!(request, |caller, body| self
            .create_unit_inner(&caller, body))
    }

    async fn update_unit(
        &self,
        request: Request<api::UpdateUnitRequest>,
    ) -> Result<Response<api::EnforcementUnit>, Status> {
        rpc!(request, |caller, body| self
            .update_unit_inner(&caller, body))
    }

    async fn get_unit(
        &self,
        request: Request<api::GetUnitRequest>,
    ) -> Result<Response<api::EnforcementUnit>, Status> {
        rpc!(request, |_caller, body| self.get_unit_inner(body))
    }

    async fn list_units(
        &self,
        request: Request<api::ListUnitsRequest>,
    ) -> Result<Response<api::ListUnitsResponse>, Status> {
        rpc!(request, |_caller, body| self.list_units_inner(body))
    }

    async fn create_officer(
        &self,
        request: Request<api::CreateOfficerRequest>,
    ) -> Result<Response<api::Officer>, Status> {
        rpc!(request, |caller, body| self
            .create_officer_inner(&caller, body))
    }

    async fn update_officer(
        &self,
        request: Request<api::UpdateOfficerRequest>,
    ) -> Result<Response<api::Officer>, Status> {
        rpc!(request, |caller, body| self
            .update_officer_inner(&caller, body))
    }

    async fn get_officer(
        &self,
        request: Request<api::GetOfficerRequest>,
    ) -> Result<Response<api::Officer>, Status> {
        rpc!(request, |caller, body| self
            .get_officer_inner(&caller, body))
    }

    async fn list_officers(
        &self,
        request: Request<api::ListOfficersRequest>,
    ) -> Result<Response<api::ListOfficersResponse>, Status> {
        rpc!(request, |caller, body| self
            .list_officers_inner(&caller, body))
    }

    async fn blow_whistle(
        &self,
        request: Request<api::BlowWhistleRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        flatgov_auth::caller(&request)?.require_any_role(&WHISTLERS)?;
        rpc!(request, |caller, body| self.blow(&caller, body))
    }

    async fn summon_agency(
        &self,
        request: Request<api::SummonAgencyRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        rpc!(request, |caller, body| self.summon(&caller, body))
    }

    async fn report_in(
        &self,
        request: Request<api::ReportInRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        rpc!(request, |caller, body| self.report_in_inner(&caller, body))
    }

    async fn record_action(
        &self,
        request: Request<api::RecordActionRequest>,
    ) -> Result<Response<api::Action>, Status> {
        rpc!(request, |caller, body| self
            .record_action_inner(&caller, body))
    }

    async fn conclude_operation(
        &self,
        request: Request<api::ConcludeOperationRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        rpc!(request, |caller, body| self.conclude(&caller, body))
    }

    async fn cancel_operation(
        &self,
        request: Request<api::CancelOperationRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        flatgov_auth::caller(&request)?.require_any_role(&WHISTLERS)?;
        rpc!(request, |caller, body| self.cancel(&caller, body))
    }

    async fn rate_agency(
        &self,
        request: Request<api::RateAgencyRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        flatgov_auth::caller(&request)?
            .require_any_role(&[Role::SubdistrictDispatcher, Role::DistrictAdmin])?;
        rpc!(request, |caller, body| self.rate(&caller, body))
    }

    async fn get_operation(
        &self,
        request: Request<api::GetOperationRequest>,
    ) -> Result<Response<api::Operation>, Status> {
        rpc!(request, |caller, body| self.get(&caller, body))
    }

    async fn list_operations(
        &self,
        request: Request<api::ListOperationsRequest>,
    ) -> Result<Response<api::ListOperationsResponse>, Status> {
        rpc!(request, |caller, body| self.list(&caller, body))
    }

    async fn get_indicators(
        &self,
        request: Request<api::GetIndicatorsRequest>,
    ) -> Result<Response<api::GetIndicatorsResponse>, Status> {
        rpc!(request, |caller, body| self.indicators(&caller, body))
    }
}
