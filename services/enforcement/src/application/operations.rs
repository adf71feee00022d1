//! Joint operations: blowing the whistle, summoning, reporting in,
//! concluding, cancelling, rating, and reading them.

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::{ListQuery, PageSize};
use uuid::Uuid;

use super::duty;
use super::whistle::{self, Agencies, Answer, Decision, Whistle};
use super::{Enforcement, Retry, remember};
use crate::access;
use crate::domain::selection::{self, SelectionError};
use crate::domain::{
    AgencyCode, BlockCode, CaseName, Command, MatterCode, OfficerName, OperationName,
    OperationState, Outcome, Refusal, SubdistrictCode, Text, UnitName, WhistleSource,
};
use crate::error::Error;
use crate::store::{self, OperationFilter, OperationRecord, Recorded};

/// A whistle as asked.
#[derive(Debug, Clone)]
pub struct BlowWhistle {
    /// Makes a retry return the first operation.
    pub retry: Option<Retry>,
    /// `cases/{id}` the whistle comes from, if any.
    pub case: Option<CaseName>,
    pub subdistrict: SubdistrictCode,
    /// Inside the subdistrict.
    pub block: Option<BlockCode>,
    /// Longitude, latitude.
    pub location: Option<(f64, f64)>,
    pub matter: Option<MatterCode>,
    pub description: Text,
    /// Agencies to summon, by field position; empty lets the service decide.
    pub agencies: Vec<AgencyCode>,
    /// Must be one of `agencies` when they are named.
    pub lead: Option<AgencyCode>,
    pub urgent: bool,
}

/// One more agency for an open operation.
#[derive(Debug, Clone)]
pub struct SummonAgency {
    pub operation: OperationName,
    pub agency: AgencyCode,
}

/// A summoned agency's report-in.
#[derive(Debug, Clone)]
pub struct ReportIn {
    pub operation: OperationName,
    /// The agency the request names, if any: it must be the caller's.
    pub agency: Option<AgencyCode>,
    /// The officers sent, as named (at least one).
    pub officers: Vec<OfficerName>,
    /// The unit dispatched, if named.
    pub unit: Option<UnitName>,
    pub note: Text,
}

/// The lead agency's conclusion.
#[derive(Debug, Clone)]
pub struct Conclude {
    pub operation: OperationName,
    pub outcome: Outcome,
    pub summary: Text,
}

/// A cancellation.
#[derive(Debug, Clone)]
pub struct Cancel {
    pub operation: OperationName,
    pub reason: Text,
}

/// The subdistrict's rating of one agency.
#[derive(Debug, Clone)]
pub struct Rate {
    pub operation: OperationName,
    pub agency: AgencyCode,
    /// 1 to 5.
    pub score: i16,
    pub comment: Text,
}

/// A page of operations, filtered.
#[derive(Debug, Clone)]
pub struct OperationListing {
    /// Only operations this agency is summoned to.
    pub agency: Option<AgencyCode>,
    pub subdistrict: Option<SubdistrictCode>,
    pub case: Option<CaseName>,
    /// Empty means all.
    pub states: Vec<OperationState>,
    pub overdue_only: bool,
    /// The filters the page token is bound to.
    pub query: ListQuery,
    pub size: PageSize,
    /// Keyset: operations older than this one.
    pub before: Option<Uuid>,
}

/// A page of operations and the token of the next.
pub struct OperationPage {
    pub operations: Vec<OperationRecord>,
    pub next_page_token: String,
}

impl Enforcement {
    pub async fn blow_whistle(
        &self,
        access: &Access,
        command: BlowWhistle,
    ) -> Result<OperationRecord, Error> {
        let now = self.clock.now();
        let place = command
            .block
            .as_ref()
            .map(BlockCode::as_str)
            .unwrap_or(command.subdistrict.as_str());
        if !access::reaches_place(access, place) {
            let level = if command.block.is_some() {
                "block"
            } else {
                "subdistrict"
            };
            return Err(Error::PermissionDenied(format!(
                "{level} {place} is outside the caller's jurisdiction"
            )));
        }
        let retry = command.retry.as_ref();
        if let Some(earlier) = self.recall(access, retry).await? {
            return self.operation_named(access, &earlier).await;
        }
        if let Some(case) = &command.case {
            let mut connection = store::connection(&self.pool).await?;
            let live = store::live_operation_of_case(&mut connection, case.as_str()).await?;
            drop(connection);
            if let Some(live) = live {
                // One live operation per case: a repeated whistle gets it
                // back, if the caller may see it.
                return match self.operation(access, live).await {
                    Err(Error::NotFound(_)) => Err(Error::AlreadyExists(format!(
                        "{case} already has a live joint operation"
                    ))),
                    seen => seen,
                };
            }
        }
        let agencies = self.agencies_for(&command, now).await?;
        let whistle = Whistle {
            source: if command.case.is_some() {
                WhistleSource::CaseEscalation
            } else {
                WhistleSource::Direct
            },
            case: command.case,
            subdistrict: command.subdistrict,
            block: command.block,
            location: command.location,
            matter: command.matter,
            description: command.description.into_string(),
            urgent: command.urgent,
            requested_lead: command.lead,
            blown_by: access::subject(access).to_owned(),
            blown_at: now,
        };
        let mut transaction = store::begin(&self.pool).await?;
        let recorded =
            whistle::record(&mut transaction, &whistle, &agencies, &self.settings, now).await?;
        let (Recorded::Created(id) | Recorded::Existing(id)) = recorded;
        let resource = format!("operations/{id}");
        if !remember(&mut transaction, access, retry, &resource).await? {
            drop(transaction);
            let earlier = self.recall_winner(access, retry).await?;
            return self.operation_named(access, &earlier).await;
        }
        access.audit().resource(&resource);
        self.commit(transaction, access).await?;
        self.operation(access, id).await
    }

    /// The agencies a whistle summons: those named (registered and
    /// active), else the duty lists' for the matter, else the default set
    /// — or, when the duty lists do not answer, resolved later.
    async fn agencies_for(
        &self,
        command: &BlowWhistle,
        now: chrono::DateTime<Utc>,
    ) -> Result<Agencies, Error> {
        let mut connection = store::connection(&self.pool).await?;
        let mut to_check: Vec<String> = command.agencies.iter().map(ToString::to_string).collect();
        to_check.extend(command.lead.iter().map(ToString::to_string));
        let status = store::agencies_status(&mut connection, &to_check).await?;
        let named = command
            .agencies
            .iter()
            .enumerate()
            .map(|(index, agency)| (format!("agencies[{index}]"), agency))
            .chain(
                command
                    .lead
                    .iter()
                    .map(|agency| ("lead_agency".to_owned(), agency)),
            );
        let mut unknown = Violations::new();
        let mut inactive = Vec::new();
        for (field, agency) in named {
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
        let requested = selection::requested(
            command.agencies.clone(),
            command.lead.clone(),
            "named by the caller".into(),
        )
        .map_err(|error| match error {
            SelectionError::LeadNotSummoned { .. } => Error::invalid("lead_agency", error),
            SelectionError::TooMany(_) => Error::invalid("agencies", error),
        })?;
        if let Some(selection) = requested {
            return Ok(Agencies::Chosen(selection));
        }
        let active = whistle::agency_codes(&store::active_agency_codes(&mut connection).await?);
        // Ask the duty lists holding no connection: a slow answer holds
        // nothing.
        drop(connection);
        let answer = match (&command.matter, self.duties.is_configured()) {
            (None, _) => Answer::NotAsked("no matter was given"),
            (Some(_), false) => Answer::NotAsked("no duty lists service is configured"),
            (Some(matter), true) => Answer::Asked(
                self.duties
                    .resolve(matter, &command.subdistrict, command.block.as_ref())
                    .await,
            ),
        };
        Ok(
            match whistle::decide(
                answer,
                command.matter.as_ref(),
                &active,
                &self.settings,
                command.lead.as_ref(),
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
            },
        )
    }

    pub async fn summon(
        &self,
        access: &Access,
        command: SummonAgency,
    ) -> Result<OperationRecord, Error> {
        let locked = self.lock(access, &command.operation).await?;
        // Coordinators of the operation's place summon; of the summoned
        // agencies, only the lead.
        let coordinates = access::reaches_place(access, locked.operation.facts().place());
        let leads = locked
            .operation
            .lead()
            .is_some_and(|lead| access::acts_for(access, lead.as_str()));
        if !coordinates && !leads {
            return Err(match access::viewer(access).agency {
                Some(caller) => Refusal::NotLead {
                    step: "summon another agency",
                    caller,
                }
                .into(),
                None => Error::PermissionDenied(
                    "only the lead agency or the operation's coordinators may summon another agency"
                        .into(),
                ),
            });
        }
        let mut locked = locked;
        match store::get_agency(&mut locked.transaction, command.agency.as_str()).await? {
            None => {
                return Err(Error::invalid(
                    "agency",
                    format!("agency {} is not registered", command.agency),
                ));
            }
            Some(row) if !row.active => {
                return Err(Error::FailedPrecondition(format!(
                    "agency {} is inactive and cannot be summoned",
                    command.agency
                )));
            }
            Some(_) => {}
        }
        let now = self.clock.now();
        let subdistrict = locked.operation.facts().subdistrict.clone();
        let assignment = duty::assignments(
            &mut locked.transaction,
            std::slice::from_ref(&command.agency),
            &subdistrict,
            now,
        )
        .await?
        .pop()
        .map(|(_, assignment)| assignment)
        .unwrap_or_default();
        let summon = Command::Summon {
            agency: command.agency,
            limits: self.settings.report_in,
            assignment,
        };
        self.change(access, locked, summon, now).await
    }

    pub async fn report_in(
        &self,
        access: &Access,
        command: ReportIn,
    ) -> Result<OperationRecord, Error> {
        let agency = access::acting_agency(access, command.agency.as_ref())?;
        // Only the caller's own officers and units may be named.
        let mut foreign = Violations::new();
        for (index, officer) in command.officers.iter().enumerate() {
            if officer.agency() != &agency {
                foreign.add(
                    format!("officers[{index}]"),
                    format!(
                        "officer {officer} belongs to {}, not to {agency}",
                        officer.agency()
                    ),
                );
            }
        }
        if let Some(unit) = &command.unit
            && unit.agency() != &agency
        {
            foreign.add(
                "unit",
                format!("unit {unit} belongs to {}, not to {agency}", unit.agency()),
            );
        }
        foreign.finish()?;
        // An operation that did not summon the caller's agency does not
        // exist for its officers.
        let mut locked = self.lock(access, &command.operation).await?;
        let officer_ids: Vec<Uuid> = command.officers.iter().map(OfficerName::id).collect();
        let rows = store::officers_by_id(&mut locked.transaction, &officer_ids).await?;
        let mut unusable = Violations::new();
        for (index, officer) in command.officers.iter().enumerate() {
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
        if let Some(unit) = &command.unit {
            match store::get_unit(
                &mut locked.transaction,
                agency.as_str(),
                unit.id(),
                self.clock.now(),
            )
            .await?
            {
                None => unusable.add("unit", format!("unit {unit} does not exist")),
                Some(row) if !row.active => {
                    unusable.add("unit", format!("unit {unit} is inactive"))
                }
                Some(_) => {}
            }
        }
        unusable.finish()?;
        let now = self.clock.now();
        // Which units the officers belong to now decides whether the report
        // comes from the summoned unit (the aggregate's guard).
        let officer_units =
            store::units_of_officers(&mut locked.transaction, &officer_ids, now).await?;
        let report = Command::ReportIn {
            agency,
            officers: officer_ids,
            unit: command.unit.as_ref().map(UnitName::id),
            note: command.note.into_string(),
            officer_units,
        };
        self.change(access, locked, report, now).await
    }

    pub async fn conclude(
        &self,
        access: &Access,
        command: Conclude,
    ) -> Result<OperationRecord, Error> {
        let agency = access::acting_agency(access, None)?;
        let locked = self.lock(access, &command.operation).await?;
        let conclude = Command::Conclude {
            agency,
            outcome: command.outcome,
            summary: command.summary.into_string(),
        };
        self.change(access, locked, conclude, self.clock.now())
            .await
    }

    pub async fn cancel(&self, access: &Access, command: Cancel) -> Result<OperationRecord, Error> {
        let locked = self.lock(access, &command.operation).await?;
        let cancel = Command::Cancel {
            reason: command.reason.into_string(),
        };
        self.change(access, locked, cancel, self.clock.now()).await
    }

    pub async fn rate(&self, access: &Access, command: Rate) -> Result<OperationRecord, Error> {
        let locked = self.lock(access, &command.operation).await?;
        let rate = Command::Rate {
            agency: command.agency,
            score: command.score,
            comment: command.comment.into_string(),
        };
        self.change(access, locked, rate, self.clock.now()).await
    }

    /// One operation, noted in the audit trail (it may carry officers'
    /// names and notes).
    pub async fn get_operation(
        &self,
        access: &Access,
        name: &OperationName,
    ) -> Result<OperationRecord, Error> {
        access.audit().resource(name.to_string());
        self.operation(access, name.0).await
    }

    pub async fn list_operations(
        &self,
        access: &Access,
        listing: OperationListing,
    ) -> Result<OperationPage, Error> {
        let states: Vec<&str> = listing.states.iter().map(|state| state.as_str()).collect();
        // The filters narrow what the caller reaches; they never widen it.
        let reach = access::reach(access);
        let mut connection = store::connection(&self.pool).await?;
        let mut records = store::list_operations(
            &mut connection,
            &OperationFilter {
                agency: listing.agency.as_ref().map(AgencyCode::as_str),
                subdistrict_code: listing.subdistrict.as_ref().map(SubdistrictCode::as_str),
                reach: &reach,
                states: &states,
                overdue_only: listing.overdue_only,
                case_name: listing.case.as_ref().map(CaseName::as_str),
                before: listing.before,
                limit: listing.size.fetch_limit(),
                now: self.clock.now(),
            },
        )
        .await?;
        let next_page_token =
            listing
                .size
                .next_page_token(&mut records, &listing.query, |record| {
                    record.operation.id.to_string()
                });
        let operations: Vec<OperationRecord> = records
            .into_iter()
            .filter(|record| access::reaches_operation(access, record.place(), &record.summoned()))
            .collect();
        for record in &operations {
            access
                .audit()
                .resource(format!("operations/{}", record.operation.id));
        }
        Ok(OperationPage {
            operations,
            next_page_token,
        })
    }
}
