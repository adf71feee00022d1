//! Joint support for people in difficulty (the second mechanism): the
//! register of people, needs assessments, support plans with measures from
//! several organisations, deliveries and visits.
//!
//! Everything here is personal data or points at it: every call needs the
//! register permission (see `access`), a person (and everything about them)
//! reaches only the organisations the record belongs to, and nothing
//! personal is logged or published.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, Retry, claim, commit, optional_time, optional_word,
    past_time, recall, required_word, stored_words, word_list,
};
use crate::access::{self, RegisterAccess, person_not_found};
use crate::domain::codes::{
    BlockCode, Code, Collection, DivisionCode, organisation_name, parse_organisation_reference,
    parse_request_id,
};
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::{
    ConsentMethod, DifficultyCategory, Gender, MeasureKind, MeasureState, NeedArea, Severity,
    SupportPlanState, VisitKind, require_state,
};
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::events::publish;
use crate::store::support::{
    self as store, AssessmentRow, DeliveryRow, MeasureRow, NewAssessment, NewDelivery, NewMeasure,
    NewPerson, NewPersonRegistration, NewPlan, NewVisit, PeopleFilter, PersonChanges,
    PersonRegistrationRow, PersonRow, PlanFilter, PlanRow, VisitRow,
};

/// The most measures one plan is created with.
const MAX_MEASURES: usize = 50;

// ------------------------------------------------------------------ people

fn person_to_proto(
    row: PersonRow,
    registrations: &[PersonRegistrationRow],
) -> Result<proto::Person> {
    let categories = stored_words(&row.categories, DifficultyCategory::from_stored)?;
    let registrations = registrations
        .iter()
        .filter(|registration| registration.person == row.id)
        .map(|registration| {
            Ok(proto::PersonRegistration {
                organisation: organisation_name(&registration.organisation),
                registered_by: registration.registered_by.clone(),
                register_time: Some(timestamp(registration.registered_at)),
                consent: Some(proto::Consent {
                    method: ConsentMethod::from_stored(&registration.consent_method)?.to_proto(),
                    give_time: Some(timestamp(registration.consent_given_at)),
                    document_reference: registration.consent_document_reference.clone(),
                    guardian_name: registration.consent_guardian_name.clone(),
                }),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(proto::Person {
        name: Collection::People.name(row.id),
        full_name: row.full_name,
        id_number_masked: row.id_number_masked,
        gender: Gender::from_stored(&row.gender)?.to_proto(),
        birth_date: row.birth_date.format("%Y-%m-%d").to_string(),
        phone: row.phone,
        address: row.address,
        block_code: row.block_code.unwrap_or_default(),
        categories: categories.into_iter().map(ProtoWord::to_proto).collect(),
        circumstances: row.circumstances,
        registrations,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    })
}

async fn load_person(connection: &mut PgConnection, id: Uuid) -> Result<proto::Person> {
    let row = store::get_person(connection, id)
        .await
        .map_err(Error::database("reading a person"))?
        .ok_or_else(|| person_not_found(id))?;
    let registrations = store::person_registrations(connection, &[id])
        .await
        .map_err(Error::database("reading a person"))?;
    person_to_proto(row, &registrations)
}

/// The person, NOT_FOUND unless the caller reaches them; noted in the
/// audit trail.
async fn reachable_person(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
) -> Result<proto::Person> {
    // Noted before the check: a refused read of the register is recorded
    // with what was asked for.
    access.audit().resource(Collection::People.name(id));
    register.require_person(connection, id).await?;
    load_person(connection, id).await
}

fn parse_categories(values: &[i32]) -> std::result::Result<Vec<String>, Invalid> {
    let categories: Vec<DifficultyCategory> = word_list(values)?;
    Ok(categories
        .iter()
        .map(|category| category.as_str().to_owned())
        .collect())
}

fn optional_block(checks: &mut Checks, field: &str, value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    checks
        .check(field, BlockCode::parse(value).map(Some))
        .map(|block| block.as_str().to_owned())
}

/// A person's consent, checked: how and when it was given, and the form
/// or guardian that show it.
pub(super) struct ConsentInput {
    pub method: ConsentMethod,
    pub given_at: DateTime<Utc>,
    pub document_reference: String,
    pub guardian_name: String,
}

/// Checks the consent under `field` (required: the register holds people
/// only with their consent).
pub(super) fn check_consent(
    checks: &mut Checks,
    field: &str,
    consent: Option<&proto::Consent>,
    now: DateTime<Utc>,
) -> Option<ConsentInput> {
    let Some(consent) = consent else {
        checks.fail(
            field,
            "must be recorded: a person's data is held only with their consent",
        );
        return None;
    };
    let method: Option<ConsentMethod> =
        checks.check(&format!("{field}.method"), required_word(consent.method));
    let given_at = checks.check(
        &format!("{field}.give_time"),
        past_time(consent.give_time.as_ref(), now),
    );
    let document_reference = checks.check(
        &format!("{field}.document_reference"),
        text::optional(&consent.document_reference, 200),
    );
    let guardian_name = checks.check(
        &format!("{field}.guardian_name"),
        text::optional(&consent.guardian_name, 100),
    );
    if method == Some(ConsentMethod::Written) && document_reference.is_empty() {
        checks.fail(
            format!("{field}.document_reference"),
            "must name the signed consent form",
        );
    }
    if method == Some(ConsentMethod::Guardian) && guardian_name.is_empty() {
        checks.fail(
            format!("{field}.guardian_name"),
            "must name the guardian who consented",
        );
    }
    Some(ConsentInput {
        method: method?,
        given_at,
        document_reference,
        guardian_name,
    })
}

/// A retried registration answered again, through the caller's current
/// access.
async fn replay_person(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    name: &str,
) -> Result<proto::Person> {
    let id = Collection::People
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered person: {invalid}")))?;
    reachable_person(connection, access, register, id).await
}

pub async fn register_person(
    service: &FederationService,
    access: &Access,
    request: proto::RegisterPersonRequest,
) -> Result<proto::Person> {
    let fingerprint = Fingerprint::of(&request);
    let now = Utc::now();
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let full_name = checks.check("full_name", text::required(&request.full_name, 100));
    // A birth today in China is tomorrow in UTC for part of the day.
    let id_number = checks.check(
        "id_number",
        ResidentIdNumber::parse(&request.id_number, (now + Duration::days(1)).date_naive())
            .map(Some),
    );
    let phone = checks.check("phone", text::phone(&request.phone));
    let address = checks.check("address", text::optional(&request.address, 300));
    let block_code = optional_block(&mut checks, "block_code", &request.block_code);
    let categories = checks.check("categories", parse_categories(&request.categories));
    let circumstances = checks.check(
        "circumstances",
        text::optional(&request.circumstances, 4000),
    );
    let consent = check_consent(&mut checks, "consent", request.consent.as_ref(), now);
    checks.finish()?;
    let (Some(id_number), Some(consent)) = (id_number, consent) else {
        return Err(Error::invalid("id_number", "must be set"));
    };

    let mut connection = service.connection("registering a person").await?;
    let register = access::register_access(&mut connection, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        return replay_person(&mut connection, access, &register, &name).await;
    }
    drop(connection);
    let actor = register.actor().clone();
    let mut transaction = service.begin("registering a person").await?;
    let identity_key = service.identity.identity_key(&id_number);
    let (person, is_new) = store::insert_or_find_person(
        &mut transaction,
        &NewPerson {
            id: Uuid::now_v7(),
            identity_key: &identity_key,
            full_name: &full_name,
            id_number_masked: &id_number.masked(),
            gender: id_number.gender().as_str(),
            birth_date: id_number.birth_date(),
            phone: &phone,
            address: &address,
            block_code: block_code.as_deref(),
            categories: &categories,
            circumstances: &circumstances,
        },
    )
    .await
    .map_err(Error::database("registering a person"))?;
    let name = Collection::People.name(person);
    access.audit().resource(name.clone());
    if !is_new {
        if let Some(since) =
            store::registered_at(&mut transaction, person, actor.organisation.as_str())
                .await
                .map_err(Error::database("registering a person"))?
        {
            return Err(Error::AlreadyExists {
                message: format!(
                    "this person is already on the register for {} as {name} (registered {}); \
                     update that record instead",
                    actor.organisation,
                    since.format("%Y-%m-%d")
                ),
                resource: Some(name),
            });
        }
        // The record belongs to other organisations: nothing of it (not
        // even who holds it) is told; the person's consent opens it.
        if !register.reaches_person(&mut transaction, person).await? {
            return Err(Error::Precondition {
                kind: "PERSON_HELD_BY_ANOTHER_ORGANISATION",
                subject: "id_number",
                message: "a person with this ID number is already on the register of another \
                          member organisation; their record is shared with yours only with the \
                          person's consent: ask for it with CreateSharingRequest"
                    .into(),
            });
        }
    }
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        let mut connection = service.connection("registering a person").await?;
        return replay_person(&mut connection, access, &register, &winner).await;
    }
    let registered = store::insert_person_registration(
        &mut transaction,
        &NewPersonRegistration {
            person,
            organisation: actor.organisation.as_str(),
            registered_by: &actor.subject,
            consent_method: consent.method.as_str(),
            consent_given_at: consent.given_at,
            consent_document_reference: &consent.document_reference,
            consent_guardian_name: &consent.guardian_name,
        },
    )
    .await
    .map_err(Error::database("registering a person"))?;
    if !registered {
        return Err(Error::AlreadyExists {
            message: format!(
                "this person was just registered for {} as {name}",
                actor.organisation
            ),
            resource: Some(name),
        });
    }
    if !is_new {
        store::add_categories(&mut transaction, person, &categories)
            .await
            .map_err(Error::database("registering a person"))?;
    }
    let answer = load_person(&mut transaction, person).await?;
    commit(transaction, access, "registering a person").await?;
    tracing::info!(
        person = %person,
        organisation = %actor.organisation,
        joined_existing = !is_new,
        "person registered"
    );
    Ok(answer)
}

pub async fn update_person(
    service: &FederationService,
    access: &Access,
    request: proto::UpdatePersonRequest,
) -> Result<proto::Person> {
    let mut checks = Checks::new();
    let person = checks.check("name", Collection::People.parse(&request.name).map(Some));
    let mut changes = PersonChanges::default();
    if let Some(value) = &request.full_name {
        changes.full_name = Some(checks.check("full_name", text::required(value, 100)));
    }
    if let Some(value) = &request.phone {
        changes.phone = Some(checks.check("phone", text::phone(value)));
    }
    if let Some(value) = &request.address {
        changes.address = Some(checks.check("address", text::optional(value, 300)));
    }
    if let Some(value) = &request.block_code {
        changes.block_code = Some(optional_block(&mut checks, "block_code", value));
    }
    if !request.categories.is_empty() {
        changes.categories =
            Some(checks.check("categories", parse_categories(&request.categories)));
    }
    if let Some(value) = &request.circumstances {
        changes.circumstances = Some(checks.check("circumstances", text::optional(value, 4000)));
    }
    checks.finish()?;
    let Some(person) = person else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("updating a person").await?;
    let register = access::register_access(&mut transaction, access).await?;
    register.require_person(&mut transaction, person).await?;
    access.audit().resource(Collection::People.name(person));
    store::update_person(&mut transaction, person, &changes)
        .await
        .map_err(Error::database("updating a person"))?;
    let answer = load_person(&mut transaction, person).await?;
    commit(transaction, access, "updating a person").await?;
    tracing::info!(person = %person, organisation = %register.organisation(), "person updated");
    Ok(answer)
}

pub async fn get_person(
    service: &FederationService,
    access: &Access,
    request: proto::GetPersonRequest,
) -> Result<proto::Person> {
    let person = Collection::People
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a person").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable_person(&mut connection, access, &register, person).await
}

pub async fn list_people(
    service: &FederationService,
    access: &Access,
    request: proto::ListPeopleRequest,
) -> Result<proto::ListPeopleResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("people", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let registered_by = if request.registered_by.trim().is_empty() {
        None
    } else {
        checks.check(
            "registered_by",
            parse_organisation_reference(&request.registered_by).map(Some),
        )
    };
    let category: Option<DifficultyCategory> =
        checks.check("category", optional_word(request.category));
    let division = if request.division_code.trim().is_empty() {
        None
    } else {
        checks.check(
            "division_code",
            DivisionCode::parse(&request.division_code).map(Some),
        )
    };
    checks.finish()?;
    let mut connection = service.connection("listing people").await?;
    let register = access::register_access(&mut connection, access).await?;
    let filter = PeopleFilter {
        visible_to: register.organisation().to_owned(),
        registered_by: registered_by.map(|code| code.as_str().to_owned()),
        category: category.map(|category| category.as_str().to_owned()),
        division_prefix: division.map(|division| division.as_str().to_owned()),
        after,
    };
    let mut rows = store::list_people(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing people"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    for id in &ids {
        access.audit().resource(Collection::People.name(*id));
    }
    let registrations = store::person_registrations(&mut connection, &ids)
        .await
        .map_err(Error::database("listing people"))?;
    Ok(proto::ListPeopleResponse {
        people: rows
            .into_iter()
            .map(|row| person_to_proto(row, &registrations))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

// ------------------------------------------------------------- assessments

/// A need as stored in `assessments.needs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredNeed {
    area: String,
    severity: String,
    description: String,
}

fn assessment_to_proto(row: AssessmentRow) -> Result<proto::Assessment> {
    let needs: Vec<StoredNeed> = serde_json::from_value(row.needs)
        .map_err(|error| Error::Corrupt(format!("assessment needs: {error}")))?;
    let needs = needs
        .into_iter()
        .map(|need| {
            Ok(proto::Need {
                area: NeedArea::from_stored(&need.area)?.to_proto(),
                severity: Severity::from_stored(&need.severity)?.to_proto(),
                description: need.description,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(proto::Assessment {
        name: Collection::People.child_name(row.person, Collection::Assessments, row.id),
        person: Collection::People.name(row.person),
        organisation: organisation_name(&row.organisation),
        assessed_by: row.assessed_by,
        assess_time: Some(timestamp(row.assessed_at)),
        needs,
        summary: row.summary,
    })
}

fn assessment_name(person: Uuid, id: Uuid) -> String {
    Collection::People.child_name(person, Collection::Assessments, id)
}

/// The assessment, NOT_FOUND unless the caller reaches its person; noted
/// in the audit trail.
async fn reachable_assessment(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    person: Uuid,
    id: Uuid,
) -> Result<proto::Assessment> {
    register.require_person(connection, person).await?;
    let name = assessment_name(person, id);
    let row = store::get_assessment(connection, id)
        .await
        .map_err(Error::database("reading an assessment"))?
        .filter(|row| row.person == person)
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))?;
    access.audit().resource(name);
    assessment_to_proto(row)
}

async fn replay_assessment(
    service: &FederationService,
    access: &Access,
    register: &RegisterAccess,
    name: &str,
) -> Result<proto::Assessment> {
    let (person, id) = Collection::People
        .parse_child(Collection::Assessments, name)
        .map_err(|invalid| Error::Corrupt(format!("remembered assessment: {invalid}")))?;
    let mut connection = service.connection("reading an assessment").await?;
    reachable_assessment(&mut connection, access, register, person, id).await
}

pub async fn create_assessment(
    service: &FederationService,
    access: &Access,
    request: proto::CreateAssessmentRequest,
) -> Result<proto::Assessment> {
    let fingerprint = Fingerprint::of(&request);
    let now = Utc::now();
    let mut checks = Checks::new();
    let person = checks.check(
        "parent",
        Collection::People.parse(&request.parent).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    if request.needs.is_empty() {
        checks.fail("needs", "an assessment records at least one need");
    }
    let mut needs = Vec::new();
    for (index, need) in request.needs.iter().enumerate() {
        let area: Option<NeedArea> =
            checks.check(&format!("needs[{index}].area"), required_word(need.area));
        let severity: Option<Severity> = checks.check(
            &format!("needs[{index}].severity"),
            required_word(need.severity),
        );
        let description = checks.check(
            &format!("needs[{index}].description"),
            text::optional(&need.description, 1000),
        );
        if let (Some(area), Some(severity)) = (area, severity) {
            needs.push(StoredNeed {
                area: area.as_str().to_owned(),
                severity: severity.as_str().to_owned(),
                description,
            });
        }
    }
    let summary = checks.check("summary", text::optional(&request.summary, 4000));
    let assessed_at = checks.check("assess_time", past_time(request.assess_time.as_ref(), now));
    checks.finish()?;
    let Some(person) = person else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let needs = serde_json::to_value(&needs).map_err(|error| Error::Corrupt(error.to_string()))?;

    let mut transaction = service.begin("recording an assessment").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay_assessment(service, access, &register, &name).await;
    }
    register.require_person(&mut transaction, person).await?;
    let id = Uuid::now_v7();
    let name = assessment_name(person, id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_assessment(service, access, &register, &winner).await;
    }
    store::insert_assessment(
        &mut transaction,
        &NewAssessment {
            id,
            person,
            organisation: register.organisation(),
            assessed_by: &register.actor().subject,
            assessed_at,
            needs,
            summary: &summary,
        },
    )
    .await
    .map_err(Error::database("recording an assessment"))?;
    let row = store::get_assessment(&mut transaction, id)
        .await
        .map_err(Error::database("recording an assessment"))?
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))?;
    access.audit().resource(Collection::People.name(person));
    access.audit().resource(name);
    commit(transaction, access, "recording an assessment").await?;
    assessment_to_proto(row)
}

pub async fn get_assessment(
    service: &FederationService,
    access: &Access,
    request: proto::GetAssessmentRequest,
) -> Result<proto::Assessment> {
    let (person, id) = Collection::People
        .parse_child(Collection::Assessments, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an assessment").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable_assessment(&mut connection, access, &register, person, id).await
}

pub async fn list_assessments(
    service: &FederationService,
    access: &Access,
    request: proto::ListAssessmentsRequest,
) -> Result<proto::ListAssessmentsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("assessments", &request);
    let mut checks = Checks::new();
    let person = checks.check(
        "parent",
        Collection::People.parse(&request.parent).map(Some),
    );
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    checks.finish()?;
    let Some(person) = person else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut connection = service.connection("listing assessments").await?;
    let register = access::register_access(&mut connection, access).await?;
    register.require_person(&mut connection, person).await?;
    let mut rows = store::list_assessments(&mut connection, person, after, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing assessments"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    for row in &rows {
        access.audit().resource(assessment_name(row.person, row.id));
    }
    Ok(proto::ListAssessmentsResponse {
        assessments: rows
            .into_iter()
            .map(assessment_to_proto)
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

// ----------------------------------------------------------- support plans

fn measure_to_proto(row: &MeasureRow, deliveries: &[DeliveryRow]) -> Result<proto::SupportMeasure> {
    Ok(proto::SupportMeasure {
        name: Collection::SupportPlans.child_name(row.plan, Collection::Measures, row.id),
        organisation: organisation_name(&row.organisation),
        kind: MeasureKind::from_stored(&row.kind)?.to_proto(),
        description: row.description.clone(),
        due_time: optional_timestamp(row.due_at),
        state: MeasureState::from_stored(&row.state)?.to_proto(),
        committed_by: row.committed_by.clone(),
        commit_time: Some(timestamp(row.committed_at)),
        complete_time: optional_timestamp(row.completed_at),
        deliveries: deliveries
            .iter()
            .filter(|delivery| delivery.measure == row.id)
            .map(|delivery| proto::Delivery {
                delivered_by: delivery.delivered_by.clone(),
                deliver_time: Some(timestamp(delivery.delivered_at)),
                description: delivery.description.clone(),
                amount_fen: delivery.amount_fen,
                completes_measure: delivery.completes_measure,
            })
            .collect(),
    })
}

/// Plans with their measures and deliveries, in the order given.
async fn plans_to_proto(
    connection: &mut PgConnection,
    rows: Vec<PlanRow>,
) -> Result<Vec<proto::SupportPlan>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let measures = store::measures(connection, &ids)
        .await
        .map_err(Error::database("reading measures"))?;
    let measure_ids: Vec<Uuid> = measures.iter().map(|measure| measure.id).collect();
    let deliveries = store::deliveries(connection, &measure_ids)
        .await
        .map_err(Error::database("reading deliveries"))?;
    let mut by_plan: HashMap<Uuid, Vec<proto::SupportMeasure>> = HashMap::new();
    for measure in &measures {
        by_plan
            .entry(measure.plan)
            .or_default()
            .push(measure_to_proto(measure, &deliveries)?);
    }
    rows.into_iter()
        .map(|row| {
            Ok(proto::SupportPlan {
                name: Collection::SupportPlans.name(row.id),
                person: Collection::People.name(row.person),
                lead_organisation: organisation_name(&row.lead_organisation),
                referral: row
                    .referral
                    .map(|id| Collection::Referrals.name(id))
                    .unwrap_or_default(),
                case: row.case_name.unwrap_or_default(),
                assessment: row
                    .assessment
                    .map(|id| {
                        Collection::People.child_name(row.person, Collection::Assessments, id)
                    })
                    .unwrap_or_default(),
                goal: row.goal,
                state: SupportPlanState::from_stored(&row.state)?.to_proto(),
                measures: by_plan.remove(&row.id).unwrap_or_default(),
                review_time: optional_timestamp(row.review_at),
                created_by: row.created_by,
                create_time: Some(timestamp(row.created_at)),
                close_time: optional_timestamp(row.closed_at),
                close_note: row.close_note,
            })
        })
        .collect()
}

fn plan_name(id: Uuid) -> String {
    Collection::SupportPlans.name(id)
}

fn measure_name(plan: Uuid, id: Uuid) -> String {
    Collection::SupportPlans.child_name(plan, Collection::Measures, id)
}

/// The one answer for a plan that does not exist or is out of reach.
fn plan_not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", plan_name(id)))
}

/// The plan, NOT_FOUND unless the caller reaches its person (a plan is
/// seen by whoever sees the person it supports); noted in the audit trail.
async fn reachable_plan(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
) -> Result<PlanRow> {
    let row = store::get_plan(connection, id)
        .await
        .map_err(Error::database("reading a support plan"))?
        .ok_or_else(|| plan_not_found(id))?;
    if !register.reaches_person(connection, row.person).await? {
        return Err(plan_not_found(id));
    }
    access.audit().resource(plan_name(id));
    Ok(row)
}

pub(super) async fn load_plan(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<proto::SupportPlan> {
    let row = store::get_plan(connection, id)
        .await
        .map_err(Error::database("reading a support plan"))?
        .ok_or_else(|| plan_not_found(id))?;
    plans_to_proto(connection, vec![row])
        .await?
        .pop()
        .ok_or_else(|| plan_not_found(id))
}

async fn replay_plan(
    service: &FederationService,
    access: &Access,
    register: &RegisterAccess,
    name: &str,
) -> Result<proto::SupportPlan> {
    let id = Collection::SupportPlans
        .parse(name)
        .map_err(|invalid| Error::Corrupt(format!("remembered support plan: {invalid}")))?;
    let mut connection = service.connection("reading a support plan").await?;
    reachable_plan(&mut connection, access, register, id).await?;
    load_plan(&mut connection, id).await
}

/// A measure of a request, checked.
struct MeasureInput {
    field: String,
    organisation: Code,
    kind: MeasureKind,
    description: String,
    due_at: Option<DateTime<Utc>>,
}

fn check_measure(
    checks: &mut Checks,
    prefix: &str,
    input: &proto::MeasureInput,
) -> Option<MeasureInput> {
    let organisation = checks.check(
        &format!("{prefix}.organisation"),
        parse_organisation_reference(&input.organisation).map(Some),
    );
    let kind: Option<MeasureKind> =
        checks.check(&format!("{prefix}.kind"), required_word(input.kind));
    let description = checks.check(
        &format!("{prefix}.description"),
        text::required(&input.description, 1000),
    );
    let due_at = checks.check(
        &format!("{prefix}.due_time"),
        optional_time(input.due_time.as_ref()),
    );
    Some(MeasureInput {
        field: format!("{prefix}.organisation"),
        organisation: organisation?,
        kind: kind?,
        description,
        due_at,
    })
}

/// A support plan of a request, checked.
pub(super) struct PlanInput {
    person: Uuid,
    assessment: Option<Uuid>,
    goal: String,
    review_at: Option<DateTime<Utc>>,
    measures: Vec<MeasureInput>,
}

/// Checks a plan under the field `prefix` (`plan`, `support_plan`). A plan
/// with no measures is refused: joint support means organisations commit.
pub(super) fn check_plan(
    checks: &mut Checks,
    prefix: &str,
    input: &proto::SupportPlanInput,
) -> Option<PlanInput> {
    let person = checks.check(
        &format!("{prefix}.person"),
        Collection::People.parse(&input.person).map(Some),
    );
    let assessment = if input.assessment.trim().is_empty() {
        None
    } else {
        checks
            .check(
                &format!("{prefix}.assessment"),
                Collection::People
                    .parse_child(Collection::Assessments, &input.assessment)
                    .map(Some),
            )
            .map(|(assessed_person, assessment)| {
                if person.is_some_and(|person| person != assessed_person) {
                    checks.fail(
                        format!("{prefix}.assessment"),
                        "is an assessment of another person",
                    );
                }
                assessment
            })
    };
    let goal = checks.check(&format!("{prefix}.goal"), text::optional(&input.goal, 2000));
    let review_at = checks.check(
        &format!("{prefix}.review_time"),
        optional_time(input.review_time.as_ref()),
    );
    if input.measures.is_empty() {
        checks.fail(
            format!("{prefix}.measures"),
            "a support plan needs at least one measure: each organisation commits what it will deliver",
        );
    }
    if input.measures.len() > MAX_MEASURES {
        checks.fail(
            format!("{prefix}.measures"),
            format!(
                "has {} measures; a plan starts with at most {MAX_MEASURES}",
                input.measures.len()
            ),
        );
    }
    let measures: Vec<Option<MeasureInput>> = input
        .measures
        .iter()
        .enumerate()
        .map(|(index, measure)| {
            check_measure(checks, &format!("{prefix}.measures[{index}]"), measure)
        })
        .collect();
    Some(PlanInput {
        person: person?,
        assessment,
        goal,
        review_at,
        measures: measures.into_iter().collect::<Option<Vec<_>>>()?,
    })
}

/// Creates a checked plan with the id `id` (with its measures and its
/// SupportPlanCreated event) inside `transaction`, for the caller's
/// organisation as lead. `checks` carries the request's earlier findings:
/// the checks that need the database are added before anything is written.
#[allow(clippy::too_many_arguments)]
pub(super) async fn create_plan(
    transaction: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
    plan: &PlanInput,
    referral: Option<(Uuid, String)>,
    mut checks: Checks,
    prefix: &str,
) -> Result<()> {
    let actor = register.actor();
    register.require_person(transaction, plan.person).await?;
    if let Some(assessment) = plan.assessment
        && store::get_assessment(transaction, assessment)
            .await
            .map_err(Error::database("reading an assessment"))?
            .is_none_or(|row| row.person != plan.person)
    {
        checks.fail(format!("{prefix}.assessment"), "does not exist");
    }
    let organisations: Vec<(String, Code)> = plan
        .measures
        .iter()
        .map(|measure| (measure.field.clone(), measure.organisation.clone()))
        .collect();
    for (field, problem) in access::inactive_or_unknown(transaction, &organisations).await? {
        checks.fail(field, problem);
    }
    checks.finish()?;
    store::insert_plan(
        transaction,
        &NewPlan {
            id,
            person: plan.person,
            lead_organisation: actor.organisation.as_str(),
            referral: referral.as_ref().map(|(referral, _)| *referral),
            assessment: plan.assessment,
            goal: &plan.goal,
            review_at: plan.review_at,
            created_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("creating a support plan"))?;
    for measure in &plan.measures {
        store::insert_measure(
            transaction,
            &NewMeasure {
                id: Uuid::now_v7(),
                plan: id,
                organisation: measure.organisation.as_str(),
                kind: measure.kind.as_str(),
                description: &measure.description,
                due_at: measure.due_at,
                committed_by: &actor.subject,
            },
        )
        .await
        .map_err(Error::database("creating a support plan"))?;
    }
    let name = plan_name(id);
    publish(
        transaction,
        &name,
        &proto::SupportPlanCreated {
            support_plan: name.clone(),
            person: Collection::People.name(plan.person),
            lead_organisation: actor.organisation.as_str().to_owned(),
            referral: referral
                .as_ref()
                .map(|(referral, _)| Collection::Referrals.name(*referral))
                .unwrap_or_default(),
            case: referral.map(|(_, case)| case).unwrap_or_default(),
            measure_organisations: plan
                .measures
                .iter()
                .map(|measure| measure.organisation.as_str().to_owned())
                .collect(),
            measure_kinds: plan
                .measures
                .iter()
                .map(|measure| measure.kind.as_str().to_owned())
                .collect(),
            created_at: Some(timestamp(Utc::now())),
        },
    )
    .await?;
    access
        .audit()
        .resource(Collection::People.name(plan.person));
    access.audit().resource(name);
    tracing::info!(
        support_plan = %id,
        organisation = %actor.organisation,
        measures = plan.measures.len(),
        "support plan created"
    );
    Ok(())
}

pub async fn create_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let referral = if request.referral.trim().is_empty() {
        None
    } else {
        checks.check(
            "referral",
            Collection::Referrals.parse(&request.referral).map(Some),
        )
    };
    let plan = match &request.plan {
        Some(plan) => check_plan(&mut checks, "plan", plan),
        None => {
            checks.fail("plan", "must be set");
            None
        }
    };
    checks.stop_if_failed()?;
    let Some(plan) = plan else {
        return Err(Error::invalid("plan", "must be set"));
    };
    let mut transaction = service.begin("creating a support plan").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay_plan(service, access, &register, &name).await;
    }
    let referral = match referral {
        None => None,
        Some(referral) => Some(
            super::referrals::plan_referral(&mut transaction, referral, register.organisation())
                .await?,
        ),
    };
    let id = Uuid::now_v7();
    if let Some(winner) = claim(
        service,
        &mut transaction,
        access,
        retry.as_ref(),
        &plan_name(id),
    )
    .await?
    {
        drop(transaction);
        return replay_plan(service, access, &register, &winner).await;
    }
    create_plan(
        &mut transaction,
        access,
        &register,
        id,
        &plan,
        referral,
        checks,
        "plan",
    )
    .await?;
    let answer = load_plan(&mut transaction, id).await?;
    commit(transaction, access, "creating a support plan").await?;
    Ok(answer)
}

/// Locks an active plan the caller reaches (NOT_FOUND otherwise;
/// FAILED_PRECONDITION when it is closed).
async fn active_plan(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    plan: Uuid,
    action: &str,
) -> Result<PlanRow> {
    if !store::lock_plan(connection, plan)
        .await
        .map_err(Error::database("reading a support plan"))?
    {
        return Err(plan_not_found(plan));
    }
    let row = reachable_plan(connection, access, register, plan).await?;
    require_state(
        "support plan",
        SupportPlanState::from_stored(&row.state)?,
        &[SupportPlanState::Active],
        action,
    )
    .map_err(Error::FailedPrecondition)?;
    Ok(row)
}

async fn load_measure(
    connection: &mut PgConnection,
    plan: Uuid,
    measure: Uuid,
) -> Result<proto::SupportMeasure> {
    let row = store::get_measure(connection, measure)
        .await
        .map_err(Error::database("reading a measure"))?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", measure_name(plan, measure)))
        })?;
    let deliveries = store::deliveries(connection, &[measure])
        .await
        .map_err(Error::database("reading deliveries"))?;
    measure_to_proto(&row, &deliveries)
}

/// A retried measure or delivery answered again (the measure as it is
/// now), through the caller's current access.
async fn replay_measure(
    service: &FederationService,
    access: &Access,
    register: &RegisterAccess,
    name: &str,
) -> Result<proto::SupportMeasure> {
    let (plan, measure) = Collection::SupportPlans
        .parse_child(Collection::Measures, name)
        .map_err(|invalid| Error::Corrupt(format!("remembered measure: {invalid}")))?;
    let mut connection = service.connection("reading a measure").await?;
    reachable_plan(&mut connection, access, register, plan).await?;
    access.audit().resource(name);
    load_measure(&mut connection, plan, measure).await
}

pub async fn add_support_measure(
    service: &FederationService,
    access: &Access,
    request: proto::AddSupportMeasureRequest,
) -> Result<proto::SupportMeasure> {
    let fingerprint = Fingerprint::of(&request);
    let mut checks = Checks::new();
    let plan = checks.check(
        "parent",
        Collection::SupportPlans.parse(&request.parent).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let measure = match &request.measure {
        Some(measure) => check_measure(&mut checks, "measure", measure),
        None => {
            checks.fail("measure", "must be set");
            None
        }
    };
    checks.finish()?;
    let (Some(plan), Some(measure)) = (plan, measure) else {
        return Err(Error::invalid("measure", "must be set"));
    };
    let mut transaction = service.begin("adding a measure").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay_measure(service, access, &register, &name).await;
    }
    let actor = register.actor().clone();
    let row = active_plan(
        &mut transaction,
        access,
        &register,
        plan,
        "given more measures",
    )
    .await?;
    if measure.organisation != actor.organisation
        && row.lead_organisation != actor.organisation.as_str()
    {
        return Err(Error::PermissionDenied(
            "an organisation commits measures for itself; only the plan's lead commits on \
             behalf of another"
                .into(),
        ));
    }
    let mut membership_checks = Checks::new();
    for (field, problem) in access::inactive_or_unknown(
        &mut transaction,
        &[(measure.field.clone(), measure.organisation.clone())],
    )
    .await?
    {
        membership_checks.fail(field, problem);
    }
    membership_checks.finish()?;
    let id = Uuid::now_v7();
    let name = measure_name(plan, id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_measure(service, access, &register, &winner).await;
    }
    store::insert_measure(
        &mut transaction,
        &NewMeasure {
            id,
            plan,
            organisation: measure.organisation.as_str(),
            kind: measure.kind.as_str(),
            description: &measure.description,
            due_at: measure.due_at,
            committed_by: &actor.subject,
        },
    )
    .await
    .map_err(Error::database("adding a measure"))?;
    let answer = load_measure(&mut transaction, plan, id).await?;
    access.audit().resource(name);
    commit(transaction, access, "adding a measure").await?;
    tracing::info!(support_plan = %plan, measure = %id, organisation = %measure.organisation, "measure committed");
    Ok(answer)
}

pub async fn record_delivery(
    service: &FederationService,
    access: &Access,
    request: proto::RecordDeliveryRequest,
) -> Result<proto::SupportMeasure> {
    let fingerprint = Fingerprint::of(&request);
    let now = Utc::now();
    let mut checks = Checks::new();
    let ids = checks.check(
        "measure",
        Collection::SupportPlans
            .parse_child(Collection::Measures, &request.measure)
            .map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let description = checks.check("description", text::required(&request.description, 1000));
    if request.amount_fen < 0 {
        checks.fail("amount_fen", "must not be negative");
    }
    let delivered_at = checks.check(
        "deliver_time",
        past_time(request.deliver_time.as_ref(), now),
    );
    checks.finish()?;
    let Some((plan, measure_id)) = ids else {
        return Err(Error::invalid("measure", "must be set"));
    };
    let mut transaction = service.begin("recording a delivery").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay_measure(service, access, &register, &name).await;
    }
    let actor = register.actor().clone();
    let plan_row = active_plan(&mut transaction, access, &register, plan, "delivered on").await?;
    let name = measure_name(plan, measure_id);
    let measure = store::get_measure(&mut transaction, measure_id)
        .await
        .map_err(Error::database("recording a delivery"))?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))?;
    access.audit().resource(name.clone());
    if measure.organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(
            "only the organisation that committed a measure records its deliveries".into(),
        ));
    }
    require_state(
        "measure",
        MeasureState::from_stored(&measure.state)?,
        &[MeasureState::Committed],
        "delivered on",
    )
    .map_err(Error::FailedPrecondition)?;
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_measure(service, access, &register, &winner).await;
    }
    store::insert_delivery(
        &mut transaction,
        &NewDelivery {
            measure: measure_id,
            organisation: actor.organisation.as_str(),
            delivered_by: &actor.subject,
            delivered_at,
            description: &description,
            amount_fen: request.amount_fen,
            completes_measure: request.completes_measure,
        },
    )
    .await
    .map_err(Error::database("recording a delivery"))?;
    if request.completes_measure {
        store::complete_measure(&mut transaction, measure_id, delivered_at)
            .await
            .map_err(Error::database("recording a delivery"))?;
    }
    publish(
        &mut transaction,
        &name,
        &proto::MeasureDelivered {
            measure: name.clone(),
            support_plan: plan_name(plan_row.id),
            organisation: measure.organisation.clone(),
            kind: measure.kind.clone(),
            measure_completed: request.completes_measure,
            delivered_at: Some(timestamp(delivered_at)),
        },
    )
    .await?;
    let answer = load_measure(&mut transaction, plan, measure_id).await?;
    commit(transaction, access, "recording a delivery").await?;
    tracing::info!(measure = %measure_id, organisation = %actor.organisation, completed = request.completes_measure, "delivery recorded");
    Ok(answer)
}

fn visit_to_proto(row: VisitRow) -> Result<proto::Visit> {
    Ok(proto::Visit {
        name: Collection::SupportPlans.child_name(row.plan, Collection::Visits, row.id),
        support_plan: plan_name(row.plan),
        organisation: organisation_name(&row.organisation),
        visited_by: row.visited_by,
        kind: VisitKind::from_stored(&row.kind)?.to_proto(),
        visit_time: Some(timestamp(row.visited_at)),
        notes: row.notes,
    })
}

async fn replay_visit(
    service: &FederationService,
    access: &Access,
    register: &RegisterAccess,
    name: &str,
) -> Result<proto::Visit> {
    let (plan, visit) = Collection::SupportPlans
        .parse_child(Collection::Visits, name)
        .map_err(|invalid| Error::Corrupt(format!("remembered visit: {invalid}")))?;
    let mut connection = service.connection("reading a visit").await?;
    reachable_plan(&mut connection, access, register, plan).await?;
    let row = store::get_visit(&mut connection, visit)
        .await
        .map_err(Error::database("reading a visit"))?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| Error::NotFound(format!("{name} does not exist")))?;
    access.audit().resource(name);
    visit_to_proto(row)
}

pub async fn log_visit(
    service: &FederationService,
    access: &Access,
    request: proto::LogVisitRequest,
) -> Result<proto::Visit> {
    let fingerprint = Fingerprint::of(&request);
    let now = Utc::now();
    let mut checks = Checks::new();
    let plan = checks.check(
        "parent",
        Collection::SupportPlans.parse(&request.parent).map(Some),
    );
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let kind: Option<VisitKind> = checks.check("kind", required_word(request.kind));
    let visited_at = checks.check("visit_time", past_time(request.visit_time.as_ref(), now));
    let notes = checks.check("notes", text::optional(&request.notes, 4000));
    checks.finish()?;
    let (Some(plan), Some(kind)) = (plan, kind) else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut transaction = service.begin("logging a visit").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(name) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay_visit(service, access, &register, &name).await;
    }
    active_plan(&mut transaction, access, &register, plan, "visited under").await?;
    let id = Uuid::now_v7();
    let name = Collection::SupportPlans.child_name(plan, Collection::Visits, id);
    if let Some(winner) = claim(service, &mut transaction, access, retry.as_ref(), &name).await? {
        drop(transaction);
        return replay_visit(service, access, &register, &winner).await;
    }
    let row = store::insert_visit(
        &mut transaction,
        &NewVisit {
            id,
            plan,
            organisation: register.organisation(),
            visited_by: &register.actor().subject,
            kind: kind.as_str(),
            visited_at,
            notes: &notes,
        },
    )
    .await
    .map_err(Error::database("logging a visit"))?;
    access.audit().resource(name);
    commit(transaction, access, "logging a visit").await?;
    visit_to_proto(row)
}

pub async fn list_visits(
    service: &FederationService,
    access: &Access,
    request: proto::ListVisitsRequest,
) -> Result<proto::ListVisitsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("visits", &request);
    let mut checks = Checks::new();
    let plan = checks.check(
        "parent",
        Collection::SupportPlans.parse(&request.parent).map(Some),
    );
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    checks.finish()?;
    let Some(plan) = plan else {
        return Err(Error::invalid("parent", "must be set"));
    };
    let mut connection = service.connection("listing visits").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable_plan(&mut connection, access, &register, plan).await?;
    let mut rows = store::list_visits(&mut connection, plan, after, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing visits"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    Ok(proto::ListVisitsResponse {
        visits: rows
            .into_iter()
            .map(visit_to_proto)
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

pub async fn close_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::CloseSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let mut checks = Checks::new();
    let plan = checks.check(
        "name",
        Collection::SupportPlans.parse(&request.name).map(Some),
    );
    let state: Option<SupportPlanState> = checks.check("state", required_word(request.state));
    if state == Some(SupportPlanState::Active) {
        checks.fail(
            "state",
            "must be SUPPORT_PLAN_STATE_COMPLETED or SUPPORT_PLAN_STATE_ENDED",
        );
    }
    let note = checks.check("note", text::required(&request.note, 2000));
    checks.finish()?;
    let (Some(plan), Some(state)) = (plan, state) else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("closing a support plan").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let row = active_plan(&mut transaction, access, &register, plan, "closed").await?;
    if row.lead_organisation != register.organisation() {
        return Err(Error::PermissionDenied(
            "only the plan's lead organisation closes it".into(),
        ));
    }
    let now = Utc::now();
    let withdrawn = store::close_plan(&mut transaction, plan, state.as_str(), &note, now)
        .await
        .map_err(Error::database("closing a support plan"))?;
    let delivered = store::measures(&mut transaction, &[plan])
        .await
        .map_err(Error::database("closing a support plan"))?
        .iter()
        .filter(|measure| measure.state == MeasureState::Delivered.as_str())
        .count();
    let name = plan_name(plan);
    publish(
        &mut transaction,
        &name,
        &proto::SupportPlanClosed {
            support_plan: name.clone(),
            lead_organisation: row.lead_organisation.clone(),
            case: row.case_name.clone().unwrap_or_default(),
            state: state.as_str().to_owned(),
            measures_delivered: u32::try_from(delivered).unwrap_or(u32::MAX),
            measures_withdrawn: u32::try_from(withdrawn).unwrap_or(u32::MAX),
            closed_at: Some(timestamp(now)),
        },
    )
    .await?;
    let answer = load_plan(&mut transaction, plan).await?;
    commit(transaction, access, "closing a support plan").await?;
    tracing::info!(support_plan = %plan, state = %state, "support plan closed");
    Ok(answer)
}

pub async fn get_support_plan(
    service: &FederationService,
    access: &Access,
    request: proto::GetSupportPlanRequest,
) -> Result<proto::SupportPlan> {
    let plan = Collection::SupportPlans
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a support plan").await?;
    let register = access::register_access(&mut connection, access).await?;
    let row = reachable_plan(&mut connection, access, &register, plan).await?;
    plans_to_proto(&mut connection, vec![row])
        .await?
        .pop()
        .ok_or_else(|| plan_not_found(plan))
}

pub async fn list_support_plans(
    service: &FederationService,
    access: &Access,
    request: proto::ListSupportPlansRequest,
) -> Result<proto::ListSupportPlansResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("support_plans", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let person = if request.person.trim().is_empty() {
        None
    } else {
        checks.check(
            "person",
            Collection::People.parse(&request.person).map(Some),
        )
    };
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let state: Option<SupportPlanState> = checks.check("state", optional_word(request.state));
    checks.finish()?;
    let mut connection = service.connection("listing support plans").await?;
    let register = access::register_access(&mut connection, access).await?;
    let filter = PlanFilter {
        visible_to: register.organisation().to_owned(),
        person,
        organisation: organisation.map(|code| code.as_str().to_owned()),
        state: state.map(|state| state.as_str().to_owned()),
        after,
    };
    let mut rows = store::list_plans(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing support plans"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    for row in &rows {
        access.audit().resource(plan_name(row.id));
    }
    Ok(proto::ListSupportPlansResponse {
        support_plans: plans_to_proto(&mut connection, rows).await?,
        next_page_token,
    })
}
