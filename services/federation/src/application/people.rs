//! The register of people in difficulty (the second mechanism): people
//! registered with their consent, each one person however many
//! organisations work with them.
//!
//! Everything here is personal data: every call needs the register
//! permission (`crate::access`), a person reaches only the organisations
//! their record belongs to (who registered them, lead a plan for them or
//! commit a measure to one), and nothing personal is logged or published.
//! An organisation meeting a person only others hold learns nothing of the
//! record and asks for it to be shared (`super::sharing`).

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, RegisterAccess, person_not_found};
use crate::domain::codes::{BlockCode, Collection, DivisionCode, OrganisationCode};
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::{ConsentMethod, DifficultyCategory};
use crate::error::{Error, Result};
use crate::store::people::{
    self as store, PeopleFilter, PersonChanges, PersonRegistrationRow, PersonRow,
};

/// A person's consent: how and when it was given, and the form or
/// guardian that show it.
#[derive(Debug, Clone)]
pub struct Consent {
    pub method: ConsentMethod,
    pub given_at: DateTime<Utc>,
    pub document_reference: String,
    pub guardian_name: String,
}

/// A person put on the register by the caller's organisation.
#[derive(Debug)]
pub struct NewPerson {
    pub full_name: String,
    pub id_number: ResidentIdNumber,
    pub phone: String,
    pub address: String,
    pub block_code: Option<BlockCode>,
    pub categories: Vec<DifficultyCategory>,
    pub circumstances: String,
    pub consent: Consent,
    pub retry: Option<Retry>,
}

/// Corrections to a person's record.
#[derive(Debug)]
pub struct UpdatePerson {
    pub person: Uuid,
    pub changes: PersonChanges,
}

/// A page of the people the caller's organisation works with.
#[derive(Debug)]
pub struct ListPeople {
    pub registered_by: Option<OrganisationCode>,
    pub category: Option<DifficultyCategory>,
    pub division: Option<DivisionCode>,
    pub page: Page<Uuid>,
}

/// People with every organisation's registration of them.
#[derive(Debug)]
pub struct People {
    pub rows: Vec<PersonRow>,
    pub registrations: Vec<PersonRegistrationRow>,
}

/// One person and their registrations.
pub type Person = (PersonRow, Vec<PersonRegistrationRow>);

pub(super) async fn load(connection: &mut PgConnection, id: Uuid) -> Result<Person> {
    let row = store::get_person(connection, id)
        .await?
        .ok_or_else(|| person_not_found(id))?;
    let registrations = store::person_registrations(connection, &[id]).await?;
    Ok((row, registrations))
}

/// The person, NOT_FOUND unless the caller reaches them. Noted in the
/// audit trail before the check: a refused read of the register is
/// recorded with what was asked for.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
) -> Result<Person> {
    access.audit().resource(Collection::People.name(id));
    register.require_person(connection, id).await?;
    load(connection, id).await
}

async fn replay(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<Person> {
    let id = Collection::People
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered person: {invalid}")))?;
    reachable(connection, access, register, id).await
}

pub async fn register(app: &App, access: &Access, person: NewPerson) -> Result<Person> {
    let mut connection = app.connection("registering a person").await?;
    let register = access::register_access(&mut connection, access).await?;
    if let Some(remembered) = recall(app, access, person.retry.as_ref()).await? {
        return replay(&mut connection, access, &register, &remembered).await;
    }
    drop(connection);
    let actor = register.actor().clone();
    let categories: Vec<String> = person
        .categories
        .iter()
        .map(|category| category.as_str().to_owned())
        .collect();
    let mut transaction = app.begin("registering a person").await?;
    let identity_key = app.identity.identity_key(&person.id_number);
    let (id, is_new) = store::insert_or_find_person(
        &mut transaction,
        &store::NewPerson {
            id: Uuid::now_v7(),
            identity_key: &identity_key,
            full_name: &person.full_name,
            id_number_masked: &person.id_number.masked(),
            gender: person.id_number.gender().as_str(),
            birth_date: person.id_number.birth_date(),
            phone: &person.phone,
            address: &person.address,
            block_code: person.block_code.as_ref().map(BlockCode::as_str),
            categories: &categories,
            circumstances: &person.circumstances,
        },
    )
    .await?;
    let name = Collection::People.name(id);
    access.audit().resource(name.clone());
    if !is_new {
        if let Some(since) =
            store::registered_at(&mut transaction, id, actor.organisation.as_str()).await?
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
        if !register.reaches_person(&mut transaction, id).await? {
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
    if let Some(winner) = claim(app, &mut transaction, access, person.retry.as_ref(), &name).await?
    {
        drop(transaction);
        let mut connection = app.connection("registering a person").await?;
        return replay(&mut connection, access, &register, &winner).await;
    }
    let registered = store::insert_person_registration(
        &mut transaction,
        &store::NewPersonRegistration {
            person: id,
            organisation: actor.organisation.as_str(),
            registered_by: &actor.subject,
            consent_method: person.consent.method.as_str(),
            consent_given_at: person.consent.given_at,
            consent_document_reference: &person.consent.document_reference,
            consent_guardian_name: &person.consent.guardian_name,
        },
    )
    .await?;
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
        store::add_categories(&mut transaction, id, &categories).await?;
    }
    let answer = load(&mut transaction, id).await?;
    commit(transaction, access, "registering a person").await?;
    tracing::info!(
        person = %id,
        organisation = %actor.organisation,
        joined_existing = !is_new,
        "person registered"
    );
    Ok(answer)
}

pub async fn update(app: &App, access: &Access, update: UpdatePerson) -> Result<Person> {
    let mut transaction = app.begin("updating a person").await?;
    let register = access::register_access(&mut transaction, access).await?;
    access
        .audit()
        .resource(Collection::People.name(update.person));
    register
        .require_processable(&mut transaction, update.person)
        .await?;
    store::update_person(&mut transaction, update.person, &update.changes).await?;
    let answer = load(&mut transaction, update.person).await?;
    commit(transaction, access, "updating a person").await?;
    tracing::info!(person = %update.person, organisation = %register.organisation(), "person updated");
    Ok(answer)
}

pub async fn get(app: &App, access: &Access, person: Uuid) -> Result<Person> {
    let mut connection = app.connection("reading a person").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable(&mut connection, access, &register, person).await
}

pub async fn list(app: &App, access: &Access, query: &ListPeople) -> Result<People> {
    let mut connection = app.connection("listing people").await?;
    let register = access::register_access(&mut connection, access).await?;
    let filter = PeopleFilter {
        visible_to: register.organisation().to_owned(),
        registered_by: query
            .registered_by
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        category: query.category.map(|category| category.as_str().to_owned()),
        division_prefix: query
            .division
            .as_ref()
            .map(|division| division.as_str().to_owned()),
        after: query.page.after,
    };
    let rows = store::list_people(&mut connection, &filter, query.page.limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    for id in &ids {
        access.audit().resource(Collection::People.name(*id));
    }
    let registrations = store::person_registrations(&mut connection, &ids).await?;
    Ok(People {
        rows,
        registrations,
    })
}
