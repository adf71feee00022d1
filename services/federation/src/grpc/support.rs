//! Joint support for people in difficulty (the second mechanism): the
//! register of people, needs assessments, support plans with measures from
//! several organisations, deliveries and visits.
//!
//! Everything here is personal data or points at it: every call needs the
//! register permission (see `access`), and nothing personal is logged or
//! published.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tonic::Request;
use uuid::Uuid;

use super::{
    Checks, FederationService, ProtoWord, optional_time, optional_word, past_time, required_word,
    split, stored_words, word_list,
};
use crate::access::{self, RegisterAccess};
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
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::People.name(id)))
        })?;
    let registrations = store::person_registrations(connection, &[id])
        .await
        .map_err(Error::database("reading a person"))?;
    person_to_proto(row, &registrations)
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

pub async fn register_person(
    service: &FederationService,
    request: Request<proto::RegisterPersonRequest>,
) -> Result<proto::Person> {
    let (caller, request) = split(request)?;
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
    let consent = match &request.consent {
        None => {
            checks.fail(
                "consent",
                "must be recorded: a person is registered only with their consent",
            );
            proto::Consent::default()
        }
        Some(consent) => consent.clone(),
    };
    let consent_method: Option<ConsentMethod> = if request.consent.is_some() {
        checks.check("consent.method", required_word(consent.method))
    } else {
        None
    };
    let consent_given_at = checks.check(
        "consent.give_time",
        past_time(consent.give_time.as_ref(), now),
    );
    let document_reference = checks.check(
        "consent.document_reference",
        text::optional(&consent.document_reference, 200),
    );
    let guardian_name = checks.check(
        "consent.guardian_name",
        text::optional(&consent.guardian_name, 100),
    );
    if consent_method == Some(ConsentMethod::Written) && document_reference.is_empty() {
        checks.fail(
            "consent.document_reference",
            "must name the signed consent form",
        );
    }
    if consent_method == Some(ConsentMethod::Guardian) && guardian_name.is_empty() {
        checks.fail(
            "consent.guardian_name",
            "must name the guardian who consented",
        );
    }
    checks.finish()?;
    let (Some(id_number), Some(consent_method)) = (id_number, consent_method) else {
        return Err(Error::invalid("id_number", "must be set"));
    };

    let mut transaction = service.begin("registering a person").await?;
    let access = access::register_access(&mut transaction, &caller).await?;
    let actor = access.actor().clone();
    if let Some(request_id) = &request_id
        && let Some(person) = store::person_by_registration_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("registering a person"))?
    {
        return load_person(&mut transaction, person).await;
    }
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
    let registered = store::insert_person_registration(
        &mut transaction,
        &NewPersonRegistration {
            person,
            organisation: actor.organisation.as_str(),
            request_id,
            registered_by: &actor.subject,
            consent_method: consent_method.as_str(),
            consent_given_at,
            consent_document_reference: &document_reference,
            consent_guardian_name: &guardian_name,
        },
    )
    .await
    .map_err(Error::database("registering a person"))?;
    if !registered {
        let name = Collection::People.name(person);
        let since = store::registered_at(&mut transaction, person, actor.organisation.as_str())
            .await
            .map_err(Error::database("registering a person"))?;
        transaction
            .rollback()
            .await
            .map_err(Error::database("registering a person"))?;
        return match since {
            Some(since) => Err(Error::AlreadyExists {
                message: format!(
                    "this person is already on the register for {} as {name} (registered {}); \
                     update that record instead",
                    actor.organisation,
                    since.format("%Y-%m-%d")
                ),
                resource: Some(name),
            }),
            // The request id was taken by a concurrent retry: answer as it did.
            None => {
                let mut connection = service.connection("registering a person").await?;
                load_person(&mut connection, person).await
            }
        };
    }
    if !is_new {
        store::add_categories(&mut transaction, person, &categories)
            .await
            .map_err(Error::database("registering a person"))?;
    }
    let answer = load_person(&mut transaction, person).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("registering a person"))?;
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
    request: Request<proto::UpdatePersonRequest>,
) -> Result<proto::Person> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    access.require_person(&mut transaction, person).await?;
    store::update_person(&mut transaction, person, &changes)
        .await
        .map_err(Error::database("updating a person"))?;
    let answer = load_person(&mut transaction, person).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("updating a person"))?;
    tracing::info!(person = %person, organisation = %access.actor().organisation, "person updated");
    Ok(answer)
}

pub async fn get_person(
    service: &FederationService,
    request: Request<proto::GetPersonRequest>,
) -> Result<proto::Person> {
    let (caller, request) = split(request)?;
    let person = Collection::People
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a person").await?;
    let access = access::register_access(&mut connection, &caller).await?;
    access.require_person(&mut connection, person).await?;
    load_person(&mut connection, person).await
}

pub async fn list_people(
    service: &FederationService,
    request: Request<proto::ListPeopleRequest>,
) -> Result<proto::ListPeopleResponse> {
    let (caller, mut request) = split(request)?;
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
    let access = access::register_access(&mut connection, &caller).await?;
    let filter = PeopleFilter {
        visible_to: access.limited_to().map(str::to_owned),
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

pub async fn create_assessment(
    service: &FederationService,
    request: Request<proto::CreateAssessmentRequest>,
) -> Result<proto::Assessment> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    access.require_person(&mut transaction, person).await?;
    if let Some(request_id) = &request_id
        && let Some(existing) = store::assessment_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("recording an assessment"))?
    {
        return assessment_to_proto(existing);
    }
    let id = Uuid::now_v7();
    let inserted = store::insert_assessment(
        &mut transaction,
        &NewAssessment {
            id,
            person,
            request_id: request_id.clone(),
            organisation: access.actor().organisation.as_str(),
            assessed_by: &access.actor().subject,
            assessed_at,
            needs,
            summary: &summary,
        },
    )
    .await
    .map_err(Error::database("recording an assessment"))?;
    let lookup = if inserted {
        store::get_assessment(&mut transaction, id).await
    } else {
        store::assessment_by_request(&mut transaction, request_id.as_deref().unwrap_or_default())
            .await
    };
    let row = lookup
        .map_err(Error::database("recording an assessment"))?
        .ok_or_else(|| Error::FailedPrecondition("the assessment vanished; retry".into()))?;
    transaction
        .commit()
        .await
        .map_err(Error::database("recording an assessment"))?;
    assessment_to_proto(row)
}

pub async fn get_assessment(
    service: &FederationService,
    request: Request<proto::GetAssessmentRequest>,
) -> Result<proto::Assessment> {
    let (caller, request) = split(request)?;
    let (person, id) = Collection::People
        .parse_child(Collection::Assessments, &request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading an assessment").await?;
    let access = access::register_access(&mut connection, &caller).await?;
    access.require_person(&mut connection, person).await?;
    let row = store::get_assessment(&mut connection, id)
        .await
        .map_err(Error::database("reading an assessment"))?
        .filter(|row| row.person == person)
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name.trim())))?;
    assessment_to_proto(row)
}

pub async fn list_assessments(
    service: &FederationService,
    request: Request<proto::ListAssessmentsRequest>,
) -> Result<proto::ListAssessmentsResponse> {
    let (caller, mut request) = split(request)?;
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
    let access = access::register_access(&mut connection, &caller).await?;
    access.require_person(&mut connection, person).await?;
    let mut rows = store::list_assessments(&mut connection, person, after, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing assessments"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
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

async fn plan_row(connection: &mut PgConnection, id: Uuid) -> Result<PlanRow> {
    store::get_plan(connection, id)
        .await
        .map_err(Error::database("reading a support plan"))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::SupportPlans.name(id)
            ))
        })
}

pub(super) async fn load_plan(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<proto::SupportPlan> {
    let row = plan_row(connection, id).await?;
    plans_to_proto(connection, vec![row])
        .await?
        .pop()
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                Collection::SupportPlans.name(id)
            ))
        })
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

/// Creates a checked plan (with its measures and its SupportPlanCreated
/// event) inside `transaction`; `None` when the request id belongs to a
/// plan created before, which is returned instead.
pub(super) async fn create_plan(
    transaction: &mut PgConnection,
    access: &RegisterAccess,
    plan: &PlanInput,
    request_id: Option<String>,
    referral: Option<(Uuid, String)>,
    mut checks: Checks,
    prefix: &str,
) -> Result<Uuid> {
    let actor = access.actor();
    access.require_person(transaction, plan.person).await?;
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
    if let Some(request_id) = &request_id
        && let Some(existing) = store::plan_by_request(transaction, request_id)
            .await
            .map_err(Error::database("creating a support plan"))?
    {
        return Ok(existing.id);
    }
    let id = Uuid::now_v7();
    let inserted = store::insert_plan(
        transaction,
        &NewPlan {
            id,
            request_id,
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
    if !inserted {
        return Err(Error::FailedPrecondition(
            "a support plan with this request id is being created; retry".into(),
        ));
    }
    for measure in &plan.measures {
        store::insert_measure(
            transaction,
            &NewMeasure {
                id: Uuid::now_v7(),
                plan: id,
                request_id: None,
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
    let name = Collection::SupportPlans.name(id);
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
    tracing::info!(
        support_plan = %id,
        organisation = %actor.organisation,
        measures = plan.measures.len(),
        "support plan created"
    );
    Ok(id)
}

pub async fn create_support_plan(
    service: &FederationService,
    request: Request<proto::CreateSupportPlanRequest>,
) -> Result<proto::SupportPlan> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    let referral = match referral {
        None => None,
        Some(referral) => Some(
            super::referrals::plan_referral(
                &mut transaction,
                referral,
                &access.actor().organisation,
            )
            .await?,
        ),
    };
    let id = create_plan(
        &mut transaction,
        &access,
        &plan,
        request_id,
        referral,
        checks,
        "plan",
    )
    .await?;
    let answer = load_plan(&mut transaction, id).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("creating a support plan"))?;
    Ok(answer)
}

/// Locks an active plan the caller may see.
async fn active_plan(
    connection: &mut PgConnection,
    access: &RegisterAccess,
    plan: Uuid,
    action: &str,
) -> Result<PlanRow> {
    if !store::lock_plan(connection, plan)
        .await
        .map_err(Error::database("reading a support plan"))?
    {
        return Err(Error::NotFound(format!(
            "{} does not exist",
            Collection::SupportPlans.name(plan)
        )));
    }
    let row = plan_row(connection, plan).await?;
    access.require_person(connection, row.person).await?;
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
            Error::NotFound(format!(
                "{} does not exist",
                Collection::SupportPlans.child_name(plan, Collection::Measures, measure)
            ))
        })?;
    let deliveries = store::deliveries(connection, &[measure])
        .await
        .map_err(Error::database("reading deliveries"))?;
    measure_to_proto(&row, &deliveries)
}

pub async fn add_support_measure(
    service: &FederationService,
    request: Request<proto::AddSupportMeasureRequest>,
) -> Result<proto::SupportMeasure> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    let actor = access.actor().clone();
    if let Some(request_id) = &request_id
        && let Some(existing) = store::measure_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("adding a measure"))?
    {
        return load_measure(&mut transaction, existing.plan, existing.id).await;
    }
    let row = active_plan(&mut transaction, &access, plan, "given more measures").await?;
    if measure.organisation != actor.organisation
        && row.lead_organisation != actor.organisation.as_str()
    {
        return Err(Error::PermissionDenied(format!(
            "{} commits measures for itself; only the plan's lead {} commits on behalf of {}",
            actor.organisation, row.lead_organisation, measure.organisation
        )));
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
    store::insert_measure(
        &mut transaction,
        &NewMeasure {
            id,
            plan,
            request_id,
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
    transaction
        .commit()
        .await
        .map_err(Error::database("adding a measure"))?;
    tracing::info!(support_plan = %plan, measure = %id, organisation = %measure.organisation, "measure committed");
    Ok(answer)
}

pub async fn record_delivery(
    service: &FederationService,
    request: Request<proto::RecordDeliveryRequest>,
) -> Result<proto::SupportMeasure> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    let actor = access.actor().clone();
    if let Some(request_id) = &request_id
        && let Some(measure) = store::delivery_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("recording a delivery"))?
    {
        return load_measure(&mut transaction, plan, measure).await;
    }
    let plan_row = active_plan(&mut transaction, &access, plan, "delivered on").await?;
    let measure = store::get_measure(&mut transaction, measure_id)
        .await
        .map_err(Error::database("recording a delivery"))?
        .filter(|row| row.plan == plan)
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.measure.trim())))?;
    if measure.organisation != actor.organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "the measure is committed by {}; staff of {} do not deliver it",
            measure.organisation, actor.organisation
        )));
    }
    require_state(
        "measure",
        MeasureState::from_stored(&measure.state)?,
        &[MeasureState::Committed],
        "delivered on",
    )
    .map_err(Error::FailedPrecondition)?;
    store::insert_delivery(
        &mut transaction,
        &NewDelivery {
            measure: measure_id,
            request_id,
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
    let name = Collection::SupportPlans.child_name(plan, Collection::Measures, measure_id);
    publish(
        &mut transaction,
        &name,
        &proto::MeasureDelivered {
            measure: name.clone(),
            support_plan: Collection::SupportPlans.name(plan_row.id),
            organisation: measure.organisation.clone(),
            kind: measure.kind.clone(),
            measure_completed: request.completes_measure,
            delivered_at: Some(timestamp(delivered_at)),
        },
    )
    .await?;
    let answer = load_measure(&mut transaction, plan, measure_id).await?;
    transaction
        .commit()
        .await
        .map_err(Error::database("recording a delivery"))?;
    tracing::info!(measure = %measure_id, organisation = %actor.organisation, completed = request.completes_measure, "delivery recorded");
    Ok(answer)
}

fn visit_to_proto(row: VisitRow) -> Result<proto::Visit> {
    Ok(proto::Visit {
        name: Collection::SupportPlans.child_name(row.plan, Collection::Visits, row.id),
        support_plan: Collection::SupportPlans.name(row.plan),
        organisation: organisation_name(&row.organisation),
        visited_by: row.visited_by,
        kind: VisitKind::from_stored(&row.kind)?.to_proto(),
        visit_time: Some(timestamp(row.visited_at)),
        notes: row.notes,
    })
}

pub async fn log_visit(
    service: &FederationService,
    request: Request<proto::LogVisitRequest>,
) -> Result<proto::Visit> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    if let Some(request_id) = &request_id
        && let Some(existing) = store::visit_by_request(&mut transaction, request_id)
            .await
            .map_err(Error::database("logging a visit"))?
    {
        return visit_to_proto(existing);
    }
    active_plan(&mut transaction, &access, plan, "visited under").await?;
    let row = store::insert_visit(
        &mut transaction,
        &NewVisit {
            id: Uuid::now_v7(),
            plan,
            request_id,
            organisation: access.actor().organisation.as_str(),
            visited_by: &access.actor().subject,
            kind: kind.as_str(),
            visited_at,
            notes: &notes,
        },
    )
    .await
    .map_err(Error::database("logging a visit"))?
    .ok_or_else(|| {
        Error::FailedPrecondition("a visit with this request id is being logged; retry".into())
    })?;
    transaction
        .commit()
        .await
        .map_err(Error::database("logging a visit"))?;
    visit_to_proto(row)
}

pub async fn list_visits(
    service: &FederationService,
    request: Request<proto::ListVisitsRequest>,
) -> Result<proto::ListVisitsResponse> {
    let (caller, mut request) = split(request)?;
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
    let access = access::register_access(&mut connection, &caller).await?;
    let row = plan_row(&mut connection, plan).await?;
    access.require_person(&mut connection, row.person).await?;
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
    request: Request<proto::CloseSupportPlanRequest>,
) -> Result<proto::SupportPlan> {
    let (caller, request) = split(request)?;
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
    let access = access::register_access(&mut transaction, &caller).await?;
    let row = active_plan(&mut transaction, &access, plan, "closed").await?;
    if row.lead_organisation != access.actor().organisation.as_str() {
        return Err(Error::PermissionDenied(format!(
            "the plan is led by {}; only its lead closes it",
            row.lead_organisation
        )));
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
    let name = Collection::SupportPlans.name(plan);
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
    transaction
        .commit()
        .await
        .map_err(Error::database("closing a support plan"))?;
    tracing::info!(support_plan = %plan, state = %state, "support plan closed");
    Ok(answer)
}

pub async fn get_support_plan(
    service: &FederationService,
    request: Request<proto::GetSupportPlanRequest>,
) -> Result<proto::SupportPlan> {
    let (caller, request) = split(request)?;
    let plan = Collection::SupportPlans
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a support plan").await?;
    let access = access::register_access(&mut connection, &caller).await?;
    let row = plan_row(&mut connection, plan).await?;
    access.require_person(&mut connection, row.person).await?;
    plans_to_proto(&mut connection, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name.trim())))
}

pub async fn list_support_plans(
    service: &FederationService,
    request: Request<proto::ListSupportPlansRequest>,
) -> Result<proto::ListSupportPlansResponse> {
    let (caller, mut request) = split(request)?;
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
    let access = access::register_access(&mut connection, &caller).await?;
    let filter = PlanFilter {
        visible_to: access.limited_to().map(str::to_owned),
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
    Ok(proto::ListSupportPlansResponse {
        support_plans: plans_to_proto(&mut connection, rows).await?,
        next_page_token,
    })
}
