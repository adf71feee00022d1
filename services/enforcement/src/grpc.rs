//! `flatgov.enforcement.v1.JointEnforcement`: request validation (every
//! problem reported at once, nothing written on bad input), the scope
//! checks that need data, transactions with their audit records, and
//! responses shaped by what the caller may see.
//!
//! Roles are decided by the policy table (`crate::policy`) before a handler
//! runs; a handler checks that the caller reaches the resource it loaded
//! (`Access::reaches`) and answers a resource out of reach exactly as one
//! that does not exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};
use flatgov_grpc::error::{Violations, is_unique_violation};
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::paging::{self, ListQuery, PageRequest, PageSize};
use flatgov_grpc::request_id::RequestId;
use flatgov_grpc::time::{self, timestamp};
use flatgov_proto::enforcement::v1 as api;
use flatgov_proto::enforcement::v1::joint_enforcement_server::JointEnforcement;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::Settings;
use crate::convert;
use crate::domain::action::{self, ActionDetails, Attachment};
use crate::domain::indicators;
use crate::domain::operation::{self as rules, ConclusionKind, OrderFacts, Refusal};
use crate::domain::selection::{self, SelectionError};
use crate::domain::{
    ActionKind, ActionName, AgencyCode, BlockCode, CaseName, InvalidValue, MatterCode, OfficerName,
    OperationName, OperationState, SubdistrictCode, SummonsFacts, Text, UnitName, Viewer,
    WhistleSource,
};
use crate::duties::DutiesClient;
use crate::error::Error;
use crate::policy::POLICY;
use crate::store::{self, OperationRecord};
use crate::whistle::{self, Agencies, Answer, Decision, OperationFacts, Whistle};

/// The service behind the generated server.
pub struct EnforcementService {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub duties: DutiesClient,
}

/// The roles the policy granted the caller on this call: those it holds
/// among the grants whose scope it earned.
fn granted_roles(access: &Access) -> BTreeSet<Role> {
    let (Some(caller), Some(rule)) = (access.caller(), POLICY.rule(access.method())) else {
        return BTreeSet::new();
    };
    rule.grants
        .iter()
        .filter(|grant| access.has_scope(grant.scope))
        .flat_map(|grant| grant.roles.iter().copied())
        .filter(|role| caller.has_role(*role))
        .collect()
}

/// What the caller is shown of what it reaches.
fn viewer(access: &Access) -> Viewer {
    Viewer::of(
        &granted_roles(access),
        access
            .caller()
            .and_then(|caller| caller.organisation.as_deref()),
    )
}

/// The agency an officer acts for: the token's organisation claim. A
/// request may name it (code or `agencies/{code}`) but no other.
fn acting_agency(access: &Access, named: &str) -> Result<AgencyCode, Error> {
    let own = access
        .caller()
        .and_then(|caller| caller.organisation.as_deref())
        .and_then(|organisation| AgencyCode::parse(organisation).ok())
        .ok_or_else(|| {
            Error::PermissionDenied(
                "the caller's token names no agency (its org claim) to act for".into(),
            )
        })?;
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

/// The division an operation is placed in: its block, or its subdistrict
/// when the block is not known.
fn place_of(operation: &store::OperationRow) -> &str {
    operation
        .block_code
        .as_deref()
        .unwrap_or(&operation.subdistrict_code)
}

/// Whether the caller reaches an operation: by its place, or through an
/// agency it summoned.
fn reaches_operation(
    access: &Access,
    operation: &store::OperationRow,
    summonses: &[store::SummonsRow],
) -> bool {
    let summoned: Vec<&str> = summonses
        .iter()
        .map(|summons| summons.agency_code.as_str())
        .collect();
    access.reaches(&Resource::in_division(place_of(operation)).involving(&summoned))
}

/// Whether the caller reaches the units and officers of `agency`.
fn reaches_agency_staff(access: &Access, agency: &AgencyCode) -> bool {
    access.reaches(&Resource::default().held_by(&[agency.as_str()]))
}

/// The operations a list may show the caller, for the query to narrow to.
fn reach(access: &Access) -> store::Reach {
    store::Reach {
        everything: access.unlimited(),
        division_prefixes: access.division_prefixes(),
        agency: access
            .has_scope(Scope::Agency)
            .then(|| {
                access
                    .caller()
                    .and_then(|caller| caller.organisation.clone())
            })
            .flatten(),
    }
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

/// An operation locked for a change the caller reaches, with its summonses.
struct Locked {
    row: store::OperationRow,
    summonses: Vec<store::SummonsRow>,
}

/// What a call that lost a race on its request id tells the caller.
fn lost_race() -> Error {
    Error::Aborted(
        "another call with the same request_id was being made at the same time; retry".into(),
    )
}

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

    /// The resource this caller's earlier call created under `request_id`,
    /// if any; INVALID_ARGUMENT naming `request_id` when that call's
    /// content differed.
    async fn recall(
        &self,
        access: &Access,
        request_id: Option<&RequestId>,
        fingerprint: Fingerprint,
    ) -> Result<Option<String>, Error> {
        let Some(request_id) = request_id else {
            return Ok(None);
        };
        let mut connection = self.connection("recalling a request id").await?;
        Ok(idempotency::recall(&mut connection, access, request_id, fingerprint).await?)
    }

    /// Appends the call's audit record and commits: the record and the
    /// change commit together.
    async fn commit(
        &self,
        mut transaction: Tx,
        access: &Access,
        context: &'static str,
    ) -> Result<(), Error> {
        flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
            .await
            .map_err(Error::database("recording the audit trail"))?;
        transaction.commit().await.map_err(Error::database(context))
    }

    /// The operation as the caller may see it; NOT_FOUND when it does not
    /// exist or the caller does not reach it.
    async fn view(
        &self,
        connection: &mut PgConnection,
        operation: Uuid,
        access: &Access,
    ) -> Result<api::Operation, Error> {
        let record = store::load_operation(connection, operation)
            .await
            .map_err(Error::database("reading the operation"))?
            .filter(|record| reaches_operation(access, &record.operation, &record.summonses))
            .ok_or_else(|| Error::not_found(format!("operations/{operation}")))?;
        Ok(convert::operation(&record, &viewer(access), Utc::now()))
    }

    /// The operation a remembered resource name names, as the caller may
    /// see it now.
    async fn view_named(&self, resource: &str, access: &Access) -> Result<api::Operation, Error> {
        let name = OperationName::parse(resource).map_err(|_| lost_race())?;
        let mut connection = self.connection("reading the operation").await?;
        self.view(&mut connection, name.0, access).await
    }

    /// Locks the operation for a change; NOT_FOUND when it does not exist
    /// or the caller does not reach it.
    async fn locked_operation(
        &self,
        transaction: &mut Tx,
        name: &OperationName,
        access: &Access,
    ) -> Result<Locked, Error> {
        let not_found = || Error::not_found(name);
        let row = store::lock_operation(transaction, name.0)
            .await
            .map_err(Error::database("reading the operation"))?
            .ok_or_else(not_found)?;
        let summonses = store::summonses(transaction, row.id)
            .await
            .map_err(Error::database("reading summonses"))?;
        if !reaches_operation(access, &row, &summonses) {
            return Err(not_found());
        }
        Ok(Locked { row, summonses })
    }

    async fn commit_and_view(
        &self,
        transaction: Tx,
        operation: Uuid,
        access: &Access,
        context: &'static str,
    ) -> Result<api::Operation, Error> {
        self.commit(transaction, access, context).await?;
        let mut connection = self.connection(context).await?;
        self.view(&mut connection, operation, access).await
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

/// Remembers, in the transaction that created `resource`, that this
/// caller's `request_id` made it; false when a concurrent call with the
/// same id won (the transaction is then spoiled: drop it and recall).
async fn remember(
    transaction: &mut Tx,
    access: &Access,
    request_id: Option<&RequestId>,
    fingerprint: Fingerprint,
    resource: &str,
) -> Result<bool, Error> {
    let Some(request_id) = request_id else {
        return Ok(true);
    };
    match idempotency::remember(transaction, access, request_id, fingerprint, resource).await {
        Ok(()) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(Error::database("remembering the request id")(error)),
    }
}

// ------------------------------------------------------------- operations

impl EnforcementService {
    async fn blow(
        &self,
        access: &Access,
        request: api::BlowWhistleRequest,
    ) -> Result<api::Operation, Error> {
        let now = Utc::now();
        let fingerprint = Fingerprint::of(&request);
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
        let place = block
            .as_ref()
            .map(BlockCode::as_str)
            .unwrap_or(subdistrict.as_str());
        if !access.reaches(&Resource::in_division(place)) {
            return Err(Error::PermissionDenied(format!(
                "{} {place} is outside the caller's jurisdiction",
                if block.is_some() {
                    "block"
                } else {
                    "subdistrict"
                }
            )));
        }

        if let Some(earlier) = self
            .recall(access, request_id.as_ref(), fingerprint)
            .await?
        {
            return self.view_named(&earlier, access).await;
        }
        let mut connection = self.connection("blowing the whistle").await?;
        if let Some(case) = &case {
            let live = store::live_operation_of_case(&mut connection, case.as_str())
                .await
                .map_err(Error::database("looking for the case's operation"))?;
            if let Some(live) = live {
                // One live operation per case: a repeated whistle gets it
                // back, if the caller may see it.
                return match self.view(&mut connection, live, access).await {
                    Err(Error::NotFound(_)) => Err(Error::AlreadyExists(format!(
                        "{case} already has a live joint operation"
                    ))),
                    seen => seen,
                };
            }
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
            subdistrict,
            block,
            location,
            matter,
            description: description.into_string(),
            urgent: request.urgent,
            requested_lead: lead,
            blown_by: access
                .caller()
                .map(|caller| caller.subject.clone())
                .unwrap_or_default(),
            blown_at: now,
        };
        let mut transaction = self.begin("blowing the whistle").await?;
        let recorded = whistle::record(&mut transaction, &whistle, &agencies, &self.settings, now)
            .await
            .map_err(Error::database("blowing the whistle"))?;
        let id = match recorded {
            store::Recorded::Created(id) | store::Recorded::Existing(id) => id,
        };
        let resource = format!("operations/{id}");
        if !remember(
            &mut transaction,
            access,
            request_id.as_ref(),
            fingerprint,
            &resource,
        )
        .await?
        {
            drop(transaction);
            let earlier = self
                .recall(access, request_id.as_ref(), fingerprint)
                .await?
                .ok_or_else(lost_race)?;
            return self.view_named(&earlier, access).await;
        }
        access.audit().resource(&resource);
        self.commit_and_view(transaction, id, access, "blowing the whistle")
            .await
    }

    async fn summon(
        &self,
        access: &Access,
        request: api::SummonAgencyRequest,
    ) -> Result<api::Operation, Error> {
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let agency = violations.check("agency", AgencyCode::parse_code_or_name(&request.agency));
        violations.finish()?;
        let (name, agency) = (required(name, "operation")?, required(agency, "agency")?);
        access.audit().resource(name.to_string());
        let mut transaction = self.begin("summoning an agency").await?;
        let Locked { row, summonses } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
        // Coordinators of the operation's place summon; of the summoned
        // agencies, only the lead.
        let coordinates_the_place = access.reaches(&Resource::in_division(place_of(&row)));
        let leads = row
            .lead_agency
            .as_deref()
            .is_some_and(|lead| access.reaches(&Resource::default().involving(&[lead])));
        if !coordinates_the_place && !leads {
            return Err(match viewer(access).agency {
                Some(caller) => Refusal::NotLead {
                    step: "summon another agency",
                    caller,
                }
                .into(),
                None => Error::PermissionDenied(
                    "only the operation's lead agency or its coordinators may summon another agency"
                        .into(),
                ),
            });
        }
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
        self.commit_and_view(transaction, row.id, access, "summoning an agency")
            .await
    }

    async fn report_in(
        &self,
        access: &Access,
        request: api::ReportInRequest,
    ) -> Result<api::Operation, Error> {
        let agency = acting_agency(access, &request.agency)?;
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
        access.audit().resource(name.to_string());
        let now = Utc::now();

        let mut transaction = self.begin("reporting in").await?;
        // An operation that did not summon the caller's agency does not
        // exist for its officers.
        let Locked { row, summonses } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
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
                    .commit_and_view(transaction, row.id, access, "reporting in")
                    .await;
            }
            return Err(Refusal::AlreadyReportedIn { agency }.into());
        }
        let Some(summons) = summonses
            .iter()
            .find(|summons| summons.agency_code == agency.as_str())
        else {
            return Err(Refusal::NotSummoned { agency }.into());
        };
        let reported_by = access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default();
        store::record_report_in(
            &mut transaction,
            &store::Report {
                operation: row.id,
                agency: agency.as_str(),
                reported_at: now,
                reported_by,
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
        self.commit_and_view(transaction, row.id, access, "reporting in")
            .await
    }

    async fn record_action(
        &self,
        access: &Access,
        request: api::RecordActionRequest,
    ) -> Result<api::Action, Error> {
        use api::record_action_request::Details;
        let agency = acting_agency(access, &request.agency)?;
        let fingerprint = Fingerprint::of(&request);
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
        access.audit().resource(name.to_string());
        if let Some(earlier) = self
            .recall(access, request_id.as_ref(), fingerprint)
            .await?
        {
            return self.action_named(&earlier, access).await;
        }

        let mut transaction = self.begin("recording an action").await?;
        let Locked { row, summonses } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
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
        let id = Uuid::now_v7();
        let action_name = format!("{name}/actions/{id}");
        if !remember(
            &mut transaction,
            access,
            request_id.as_ref(),
            fingerprint,
            &action_name,
        )
        .await?
        {
            drop(transaction);
            let earlier = self
                .recall(access, request_id.as_ref(), fingerprint)
                .await?
                .ok_or_else(lost_race)?;
            return self.action_named(&earlier, access).await;
        }
        let recorded_by = access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default();
        let inserted = store::insert_action(
            &mut transaction,
            &store::NewAction {
                id,
                operation: row.id,
                agency: agency.as_str(),
                recorded_by,
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
        let resource = name.to_string();
        flatgov_messaging::outbox::enqueue(
            &mut transaction,
            &resource,
            &api::ActionRecorded {
                action: action_name.clone(),
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
        access.audit().resource(&action_name);
        self.commit(transaction, access, "recording an action")
            .await?;
        Ok(convert::action(&inserted, &viewer(access)))
    }

    /// The action a remembered resource name names, as the caller may see
    /// it now; NOT_FOUND when the caller no longer reaches its operation.
    async fn action_named(&self, resource: &str, access: &Access) -> Result<api::Action, Error> {
        let name = ActionName::parse(resource).map_err(|_| lost_race())?;
        let mut connection = self.connection("reading the action").await?;
        let record = store::load_operation(&mut connection, name.operation.0)
            .await
            .map_err(Error::database("reading the operation"))?
            .filter(|record| reaches_operation(access, &record.operation, &record.summonses))
            .ok_or_else(|| Error::not_found(name))?;
        let action = record
            .actions
            .iter()
            .find(|action| action.id == name.id)
            .ok_or_else(|| Error::not_found(name))?;
        Ok(convert::action(action, &viewer(access)))
    }

    async fn conclude(
        &self,
        access: &Access,
        request: api::ConcludeOperationRequest,
    ) -> Result<api::Operation, Error> {
        let agency = acting_agency(access, "")?;
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
        access.audit().resource(name.to_string());
        let now = Utc::now();

        let mut transaction = self.begin("concluding").await?;
        let Locked { row, summonses } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
        let facts = summons_facts(&summonses);
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
        let concluded_by = access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default();
        store::conclude_operation(
            &mut transaction,
            row.id,
            outcome.as_str(),
            summary.as_str(),
            concluded_by,
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
        self.commit_and_view(transaction, row.id, access, "concluding")
            .await
    }

    async fn cancel(
        &self,
        access: &Access,
        request: api::CancelOperationRequest,
    ) -> Result<api::Operation, Error> {
        let mut violations = Violations::default();
        let name = violations.check("operation", OperationName::parse(&request.operation));
        let reason = violations.check("reason", Text::required("reason", &request.reason, 1000));
        violations.finish()?;
        let (name, reason) = (required(name, "operation")?, required(reason, "reason")?);
        access.audit().resource(name.to_string());
        let now = Utc::now();
        let mut transaction = self.begin("cancelling").await?;
        let Locked { row, .. } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
        rules::check_cancel(state_of(&row)?)?;
        let cancelled_by = access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default();
        store::cancel_operation(&mut transaction, row.id, reason.as_str(), cancelled_by, now)
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
        self.commit_and_view(transaction, row.id, access, "cancelling")
            .await
    }

    async fn rate(
        &self,
        access: &Access,
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
        access.audit().resource(name.to_string());
        let now = Utc::now();
        let mut transaction = self.begin("rating an agency").await?;
        let Locked { row, summonses } = self
            .locked_operation(&mut transaction, &name, access)
            .await?;
        let already = store::is_rated(&mut transaction, row.id, agency.as_str())
            .await
            .map_err(Error::database("reading ratings"))?;
        rules::check_rating(
            state_of(&row)?,
            &summons_facts(&summonses),
            &agency,
            already,
        )?;
        let rated_by = access
            .caller()
            .map(|caller| caller.subject.as_str())
            .unwrap_or_default();
        store::insert_rating(
            &mut transaction,
            row.id,
            agency.as_str(),
            score,
            comment.as_str(),
            rated_by,
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
        self.commit_and_view(transaction, row.id, access, "rating an agency")
            .await
    }

    async fn get(
        &self,
        access: &Access,
        request: api::GetOperationRequest,
    ) -> Result<api::Operation, Error> {
        let name =
            OperationName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        access.audit().resource(name.to_string());
        let mut connection = self.connection("reading the operation").await?;
        self.view(&mut connection, name.0, access).await
    }

    async fn list(
        &self,
        access: &Access,
        request: api::ListOperationsRequest,
    ) -> Result<api::ListOperationsResponse, Error> {
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
        let now = Utc::now();
        // The filters narrow what the caller reaches; they never widen it.
        let reach = reach(access);
        let mut connection = self.connection("listing operations").await?;
        let mut records = store::list_operations(
            &mut connection,
            &store::OperationFilter {
                agency: agency.as_ref().map(AgencyCode::as_str),
                subdistrict_code: subdistrict.as_ref().map(SubdistrictCode::as_str),
                reach: &reach,
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
        let shown: Vec<&OperationRecord> = records
            .iter()
            .filter(|record| reaches_operation(access, &record.operation, &record.summonses))
            .collect();
        for record in &shown {
            access
                .audit()
                .resource(format!("operations/{}", record.operation.id));
        }
        let viewer = viewer(access);
        Ok(api::ListOperationsResponse {
            operations: shown
                .into_iter()
                .map(|record| convert::operation(record, &viewer, now))
                .collect(),
            next_page_token,
        })
    }

    async fn indicators(
        &self,
        access: &Access,
        request: api::GetIndicatorsRequest,
    ) -> Result<api::GetIndicatorsResponse, Error> {
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
        // A filter the caller's grant can never reach is refused rather
        // than answered with figures that look like zeros.
        let reach = reach(access);
        let by_place = reach.everything || !reach.division_prefixes.is_empty();
        if let Some(subdistrict) = &subdistrict
            && reach.agency.is_none()
            && !reach.everything
            && !reach.division_prefixes.iter().any(|prefix| {
                prefix.starts_with(subdistrict.as_str()) || subdistrict.as_str().starts_with(prefix)
            })
        {
            return Err(Error::PermissionDenied(format!(
                "subdistrict {subdistrict} is outside the caller's jurisdiction"
            )));
        }
        if let Some(asked) = &agency
            && !by_place
            && reach.agency.as_deref() != Some(asked.as_str())
        {
            return Err(Error::PermissionDenied(format!(
                "officers see only their own agency's figures, not {asked}'s"
            )));
        }
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
            .filter(|row| {
                let place = row.block_code.as_deref().unwrap_or(&row.subdistrict_code);
                access.reaches(&Resource::in_division(place).involving(&[row.agency_code.as_str()]))
            })
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
            .filter(|figures| access.reaches(&Resource::in_division(figures.subdistrict.as_str())))
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
    async fn create_agency(
        &self,
        access: &Access,
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
        access.audit().resource(code.resource_name());
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
        let mut transaction = self.begin("creating an agency").await?;
        let inserted = store::insert_agency(
            &mut transaction,
            code.as_str(),
            name.as_str(),
            name_en.as_str(),
            Utc::now(),
        )
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::AlreadyExists(format!(
                    "agency {code} already exists"
                )));
            }
            Err(error) => return Err(Error::database("creating an agency")(error)),
        };
        self.commit(transaction, access, "creating an agency")
            .await?;
        tracing::info!(agency = %code, "agency registered");
        Ok(convert::agency(&row))
    }

    async fn update_agency(
        &self,
        access: &Access,
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
        access.audit().resource(code.resource_name());
        let mut transaction = self.begin("updating an agency").await?;
        let row = store::update_agency(
            &mut transaction,
            code.as_str(),
            name.as_ref().map(Text::as_str),
            name_en.as_ref().map(Text::as_str),
            request.active,
            Utc::now(),
        )
        .await
        .map_err(Error::database("updating an agency"))?
        .ok_or_else(|| Error::not_found(code.resource_name()))?;
        self.commit(transaction, access, "updating an agency")
            .await?;
        Ok(convert::agency(&row))
    }

    async fn get_agency(
        &self,
        _access: &Access,
        request: api::GetAgencyRequest,
    ) -> Result<api::Agency, Error> {
        let code = AgencyCode::parse(request.name.strip_prefix("agencies/").unwrap_or(""))
            .map_err(|error| {
                Error::invalid("name", format!("{error}; expected agencies/{{code}}"))
            })?;
        let mut connection = self.connection("reading an agency").await?;
        store::get_agency(&mut connection, code.as_str())
            .await
            .map_err(Error::database("reading an agency"))?
            .map(|row| convert::agency(&row))
            .ok_or_else(|| Error::not_found(code.resource_name()))
    }

    /// The agency of a `parent` field, which must exist (agencies are a
    /// public directory: NOT_FOUND reveals nothing).
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
            .ok_or_else(|| Error::not_found(code.resource_name()))?;
        Ok(code)
    }

    async fn list_agencies(
        &self,
        _access: &Access,
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

    /// PERMISSION_DENIED unless the caller manages `agency`'s units and
    /// officers (the agency itself is public, so naming it reveals nothing).
    fn require_manager(access: &Access, agency: &AgencyCode) -> Result<(), Error> {
        if reaches_agency_staff(access, agency) {
            return Ok(());
        }
        Err(Error::PermissionDenied(format!(
            "{} is managed by its own officers and district administrators",
            agency.resource_name()
        )))
    }

    async fn create_unit(
        &self,
        access: &Access,
        request: api::CreateUnitRequest,
    ) -> Result<api::EnforcementUnit, Error> {
        let fingerprint = Fingerprint::of(&request);
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
        let mut transaction = self.begin("creating a unit").await?;
        let agency = self
            .parent_agency(&mut transaction, &request.parent)
            .await?;
        access.audit().resource(agency.resource_name());
        Self::require_manager(access, &agency)?;
        if let Some(earlier) = self
            .recall(access, request_id.as_ref(), fingerprint)
            .await?
        {
            return self.unit_named(&earlier).await;
        }
        let id = Uuid::now_v7();
        let unit_name = UnitName::new(agency.clone(), id).to_string();
        if !remember(
            &mut transaction,
            access,
            request_id.as_ref(),
            fingerprint,
            &unit_name,
        )
        .await?
        {
            drop(transaction);
            let earlier = self
                .recall(access, request_id.as_ref(), fingerprint)
                .await?
                .ok_or_else(lost_race)?;
            return self.unit_named(&earlier).await;
        }
        let row = store::insert_unit(
            &mut transaction,
            &store::NewUnit {
                id,
                agency: agency.as_str(),
                display_name: name.as_str(),
                stationed_subdistrict_code: station.as_ref().map(SubdistrictCode::as_str),
                on_duty: request.on_duty,
                now: Utc::now(),
            },
        )
        .await
        .map_err(Error::database("creating a unit"))?;
        access.audit().resource(&unit_name);
        self.commit(transaction, access, "creating a unit").await?;
        Ok(convert::unit(&row))
    }

    /// The unit a remembered resource name names (units are public).
    async fn unit_named(&self, resource: &str) -> Result<api::EnforcementUnit, Error> {
        let unit = UnitName::parse(resource).map_err(|_| lost_race())?;
        let mut connection = self.connection("reading a unit").await?;
        store::get_unit(&mut connection, unit.agency().as_str(), unit.id())
            .await
            .map_err(Error::database("reading a unit"))?
            .map(|row| convert::unit(&row))
            .ok_or_else(|| Error::not_found(&unit))
    }

    async fn update_unit(
        &self,
        access: &Access,
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
        access.audit().resource(unit.to_string());
        Self::require_manager(access, unit.agency())?;
        let mut transaction = self.begin("updating a unit").await?;
        let row = store::update_unit(
            &mut transaction,
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
        .ok_or_else(|| Error::not_found(&unit))?;
        self.commit(transaction, access, "updating a unit").await?;
        Ok(convert::unit(&row))
    }

    async fn get_unit(
        &self,
        _access: &Access,
        request: api::GetUnitRequest,
    ) -> Result<api::EnforcementUnit, Error> {
        let unit = UnitName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        let mut connection = self.connection("reading a unit").await?;
        store::get_unit(&mut connection, unit.agency().as_str(), unit.id())
            .await
            .map_err(Error::database("reading a unit"))?
            .map(|row| convert::unit(&row))
            .ok_or_else(|| Error::not_found(&unit))
    }

    async fn list_units(
        &self,
        _access: &Access,
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

    async fn create_officer(
        &self,
        access: &Access,
        request: api::CreateOfficerRequest,
    ) -> Result<api::Officer, Error> {
        let fingerprint = Fingerprint::of(&request);
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
        let mut transaction = self.begin("creating an officer").await?;
        let agency = self
            .parent_agency(&mut transaction, &request.parent)
            .await?;
        access.audit().resource(agency.resource_name());
        Self::require_manager(access, &agency)?;
        if let Some(earlier) = self
            .recall(access, request_id.as_ref(), fingerprint)
            .await?
        {
            return self.officer_named(&earlier, access).await;
        }
        if let Some(unit) = &unit {
            self.unit_of_agency(&mut transaction, &agency, unit, "unit")
                .await?;
        }
        let id = Uuid::now_v7();
        let officer_name = OfficerName::new(agency.clone(), id).to_string();
        if !remember(
            &mut transaction,
            access,
            request_id.as_ref(),
            fingerprint,
            &officer_name,
        )
        .await?
        {
            drop(transaction);
            let earlier = self
                .recall(access, request_id.as_ref(), fingerprint)
                .await?
                .ok_or_else(lost_race)?;
            return self.officer_named(&earlier, access).await;
        }
        let inserted = store::insert_officer(
            &mut transaction,
            &store::NewOfficer {
                id,
                agency: agency.as_str(),
                unit_id: unit.as_ref().map(UnitName::id),
                display_name: name.as_str(),
                badge_number: &badge,
                phone: &phone,
                now: Utc::now(),
            },
        )
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(error) if is_unique_violation(&error) => {
                return Err(Error::AlreadyExists(format!(
                    "agency {agency} already has an officer with badge number {badge}"
                )));
            }
            Err(error) => return Err(Error::database("creating an officer")(error)),
        };
        access.audit().resource(&officer_name);
        self.commit(transaction, access, "creating an officer")
            .await?;
        Ok(convert::officer(&row, &viewer(access)))
    }

    /// The officer a remembered resource name names, as the caller may see
    /// it now.
    async fn officer_named(&self, resource: &str, access: &Access) -> Result<api::Officer, Error> {
        let officer = OfficerName::parse(resource).map_err(|_| lost_race())?;
        self.officer(&officer, access).await
    }

    /// The officer as the caller may see it; NOT_FOUND when it does not
    /// exist or the caller may not see its agency's officers.
    async fn officer(&self, officer: &OfficerName, access: &Access) -> Result<api::Officer, Error> {
        if !reaches_agency_staff(access, officer.agency()) {
            return Err(Error::not_found(officer));
        }
        let mut connection = self.connection("reading an officer").await?;
        store::get_officer(&mut connection, officer.agency().as_str(), officer.id())
            .await
            .map_err(Error::database("reading an officer"))?
            .map(|row| convert::officer(&row, &viewer(access)))
            .ok_or_else(|| Error::not_found(officer))
    }

    async fn update_officer(
        &self,
        access: &Access,
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
        access.audit().resource(officer.to_string());
        // Another agency's officers are personal data the caller does not
        // see: they do not exist for it.
        if !reaches_agency_staff(access, officer.agency()) {
            return Err(Error::not_found(&officer));
        }
        let mut transaction = self.begin("updating an officer").await?;
        if let Some(Some(unit)) = &unit {
            self.unit_of_agency(&mut transaction, officer.agency(), unit, "unit")
                .await?;
        }
        let row = store::update_officer(
            &mut transaction,
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
        .ok_or_else(|| Error::not_found(&officer))?;
        self.commit(transaction, access, "updating an officer")
            .await?;
        Ok(convert::officer(&row, &viewer(access)))
    }

    async fn get_officer(
        &self,
        access: &Access,
        request: api::GetOfficerRequest,
    ) -> Result<api::Officer, Error> {
        let officer =
            OfficerName::parse(&request.name).map_err(|error| Error::invalid("name", error))?;
        access.audit().resource(officer.to_string());
        self.officer(&officer, access).await
    }

    async fn list_officers(
        &self,
        access: &Access,
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
        access.audit().resource(agency.resource_name());
        if !reaches_agency_staff(access, &agency) {
            return Err(Error::PermissionDenied(format!(
                "officers of {} are listed for its own officers, subdistrict dispatchers and district administrators",
                agency.resource_name()
            )));
        }
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
        let viewer = viewer(access);
        for row in &rows {
            access
                .audit()
                .resource(OfficerName::new(agency.clone(), row.id).to_string());
        }
        Ok(api::ListOfficersResponse {
            officers: rows
                .iter()
                .map(|row| convert::officer(row, &viewer))
                .collect(),
            next_page_token,
        })
    }
}

flatgov_grpc::dispatch! {
    impl JointEnforcement for EnforcementService {
        fn create_agency(api::CreateAgencyRequest) -> api::Agency => EnforcementService::create_agency;
        fn update_agency(api::UpdateAgencyRequest) -> api::Agency => EnforcementService::update_agency;
        fn get_agency(api::GetAgencyRequest) -> api::Agency => EnforcementService::get_agency;
        fn list_agencies(api::ListAgenciesRequest) -> api::ListAgenciesResponse => EnforcementService::list_agencies;
        fn create_unit(api::CreateUnitRequest) -> api::EnforcementUnit => EnforcementService::create_unit;
        fn update_unit(api::UpdateUnitRequest) -> api::EnforcementUnit => EnforcementService::update_unit;
        fn get_unit(api::GetUnitRequest) -> api::EnforcementUnit => EnforcementService::get_unit;
        fn list_units(api::ListUnitsRequest) -> api::ListUnitsResponse => EnforcementService::list_units;
        fn create_officer(api::CreateOfficerRequest) -> api::Officer => EnforcementService::create_officer;
        fn update_officer(api::UpdateOfficerRequest) -> api::Officer => EnforcementService::update_officer;
        fn get_officer(api::GetOfficerRequest) -> api::Officer => EnforcementService::get_officer;
        fn list_officers(api::ListOfficersRequest) -> api::ListOfficersResponse => EnforcementService::list_officers;
        fn blow_whistle(api::BlowWhistleRequest) -> api::Operation => EnforcementService::blow;
        fn summon_agency(api::SummonAgencyRequest) -> api::Operation => EnforcementService::summon;
        fn report_in(api::ReportInRequest) -> api::Operation => EnforcementService::report_in;
        fn record_action(api::RecordActionRequest) -> api::Action => EnforcementService::record_action;
        fn conclude_operation(api::ConcludeOperationRequest) -> api::Operation => EnforcementService::conclude;
        fn cancel_operation(api::CancelOperationRequest) -> api::Operation => EnforcementService::cancel;
        fn rate_agency(api::RateAgencyRequest) -> api::Operation => EnforcementService::rate;
        fn get_operation(api::GetOperationRequest) -> api::Operation => EnforcementService::get;
        fn list_operations(api::ListOperationsRequest) -> api::ListOperationsResponse => EnforcementService::list;
        fn get_indicators(api::GetIndicatorsRequest) -> api::GetIndicatorsResponse => EnforcementService::indicators;
    }
}
