//! The register of people in difficulty: people, their registrations by
//! organisations, and needs assessments.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use uuid::Uuid;

use super::{Context as _, Result};

/// SQL that is true when the person whose id is `person_column` is visible
/// to the organisation bound at `$parameter`.
pub fn person_visible(person_column: &str, parameter: usize) -> String {
    format!(
        "(exists (select 1 from person_registrations pr
                  where pr.person = {person_column} and pr.organisation = ${parameter})
          or exists (select 1 from support_plans sp
                     where sp.person = {person_column}
                       and (sp.lead_organisation = ${parameter}
                            or exists (select 1 from support_measures sm
                                       where sm.plan = sp.id and sm.organisation = ${parameter}))))"
    )
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub id: Uuid,
    pub full_name: String,
    pub id_number_masked: String,
    /// `None` once the record is erased.
    pub gender: Option<String>,
    /// `None` once the record is erased.
    pub birth_date: Option<NaiveDate>,
    pub phone: String,
    pub address: String,
    pub block_code: Option<String>,
    pub categories: Vec<String>,
    pub circumstances: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the person withdrew their consent to the register.
    pub consent_withdrawn_at: Option<DateTime<Utc>>,
    /// When the record was anonymised, and why (`consent_withdrawn`,
    /// `retention_expired`).
    pub erased_at: Option<DateTime<Utc>>,
    pub erasure_reason: Option<String>,
}

pub(super) const PERSON_COLUMNS: &str =
    "p.id, p.full_name, p.id_number_masked, p.gender, p.birth_date, p.phone, p.address,
     p.block_code, p.categories, p.circumstances, p.created_at, p.updated_at,
     p.consent_withdrawn_at, p.erased_at, p.erasure_reason";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRegistrationRow {
    pub person: Uuid,
    pub organisation: String,
    pub registered_by: String,
    pub registered_at: DateTime<Utc>,
    pub consent_method: String,
    pub consent_given_at: DateTime<Utc>,
    pub consent_document_reference: String,
    pub consent_guardian_name: String,
}

pub async fn get_person(connection: &mut PgConnection, id: Uuid) -> Result<Option<PersonRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people p where p.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a person")
}

pub async fn person_registrations(
    connection: &mut PgConnection,
    people: &[Uuid],
) -> Result<Vec<PersonRegistrationRow>> {
    sqlx::query_as(
        "select person, organisation, registered_by, registered_at, consent_method, consent_given_at,
                consent_document_reference, consent_guardian_name
         from person_registrations where person = any($1) order by registered_at, organisation",
    )
    .bind(people)
    .fetch_all(connection)
    .await
    .context("reading registrations of people")
}

/// The organisations a person's record belongs to: those that registered
/// the person, lead a plan for them or commit a measure to one. Empty when
/// the person does not exist.
pub async fn person_organisations(
    connection: &mut PgConnection,
    person: Uuid,
) -> Result<Vec<String>> {
    sqlx::query_scalar(
        "select organisation from person_registrations where person = $1
         union
         select lead_organisation from support_plans where person = $1
         union
         select m.organisation from support_measures m join support_plans s on s.id = m.plan
          where s.person = $1",
    )
    .bind(person)
    .fetch_all(connection)
    .await
    .context("reading whom a person's record belongs to")
}

/// The person with this identity key, locked for the rest of the
/// transaction, if anyone registered them.
pub async fn person_by_identity(
    connection: &mut PgConnection,
    identity_key: &[u8],
) -> Result<Option<Uuid>> {
    sqlx::query_scalar("select id from people where identity_key = $1 for update")
        .bind(identity_key)
        .fetch_optional(connection)
        .await
        .context("recognising a person")
}

/// The organisations that registered the person (who decide on sharing
/// their record).
pub async fn registering_organisations(
    connection: &mut PgConnection,
    person: Uuid,
) -> Result<Vec<String>> {
    sqlx::query_scalar("select organisation from person_registrations where person = $1")
        .bind(person)
        .fetch_all(connection)
        .await
        .context("reading who registered a person")
}

pub struct NewPerson<'a> {
    pub id: Uuid,
    pub identity_key: &'a [u8],
    pub full_name: &'a str,
    pub id_number_masked: &'a str,
    pub gender: &'a str,
    pub birth_date: NaiveDate,
    pub phone: &'a str,
    pub address: &'a str,
    pub block_code: Option<&'a str>,
    pub categories: &'a [String],
    pub circumstances: &'a str,
}

/// The person with this identity: the new row, or the one that was there.
/// The second element is true when the person is new.
pub async fn insert_or_find_person(
    connection: &mut PgConnection,
    person: &NewPerson<'_>,
) -> Result<(Uuid, bool)> {
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into people (id, identity_key, full_name, id_number_masked, gender, birth_date, phone, address,
                             block_code, categories, circumstances)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (identity_key) do nothing
         returning id",
    )
    .bind(person.id)
    .bind(person.identity_key)
    .bind(person.full_name)
    .bind(person.id_number_masked)
    .bind(person.gender)
    .bind(person.birth_date)
    .bind(person.phone)
    .bind(person.address)
    .bind(person.block_code)
    .bind(person.categories)
    .bind(person.circumstances)
    .fetch_optional(&mut *connection)
    .await.context("registering a person")?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let existing: Uuid =
        sqlx::query_scalar("select id from people where identity_key = $1 for update")
            .bind(person.identity_key)
            .fetch_one(connection)
            .await
            .context("registering a person")?;
    Ok((existing, false))
}

/// Adds categories a second organisation recorded, keeping the first's.
pub async fn add_categories(
    connection: &mut PgConnection,
    person: Uuid,
    categories: &[String],
) -> Result<()> {
    sqlx::query(
        "update people set categories = array(select distinct unnest(categories || $2::text[]) order by 1),
                           updated_at = now()
         where id = $1",
    )
    .bind(person)
    .bind(categories)
    .execute(connection)
    .await.context("adding categories")?;
    Ok(())
}

pub struct NewPersonRegistration<'a> {
    pub person: Uuid,
    pub organisation: &'a str,
    pub registered_by: &'a str,
    pub consent_method: &'a str,
    pub consent_given_at: DateTime<Utc>,
    pub consent_document_reference: &'a str,
    pub consent_guardian_name: &'a str,
}

/// `false` when the organisation registered the person already.
pub async fn insert_person_registration(
    connection: &mut PgConnection,
    registration: &NewPersonRegistration<'_>,
) -> Result<bool> {
    let inserted = sqlx::query(
        "insert into person_registrations (person, organisation, registered_by, consent_method, consent_given_at, consent_document_reference, consent_guardian_name)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict do nothing",
    )
    .bind(registration.person)
    .bind(registration.organisation)
    .bind(registration.registered_by)
    .bind(registration.consent_method)
    .bind(registration.consent_given_at)
    .bind(registration.consent_document_reference)
    .bind(registration.consent_guardian_name)
    .execute(connection)
    .await.context("registering a person")?
    .rows_affected();
    Ok(inserted == 1)
}

/// When `organisation` registered the person, if it did.
pub async fn registered_at(
    connection: &mut PgConnection,
    person: Uuid,
    organisation: &str,
) -> Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "select registered_at from person_registrations where person = $1 and organisation = $2",
    )
    .bind(person)
    .bind(organisation)
    .fetch_optional(connection)
    .await
    .context("reading a registration date")
}

#[derive(Debug, Default)]
pub struct PersonChanges {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// `Some(None)` clears the block.
    pub block_code: Option<Option<String>>,
    pub categories: Option<Vec<String>>,
    pub circumstances: Option<String>,
}

pub async fn update_person(
    connection: &mut PgConnection,
    id: Uuid,
    changes: &PersonChanges,
) -> Result<()> {
    sqlx::query(
        "update people set
            full_name = coalesce($2, full_name),
            phone = coalesce($3, phone),
            address = coalesce($4, address),
            block_code = case when $5 then $6 else block_code end,
            categories = coalesce($7, categories),
            circumstances = coalesce($8, circumstances),
            updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&changes.full_name)
    .bind(&changes.phone)
    .bind(&changes.address)
    .bind(changes.block_code.is_some())
    .bind(changes.block_code.clone().flatten())
    .bind(&changes.categories)
    .bind(&changes.circumstances)
    .execute(connection)
    .await
    .context("updating a person")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct PeopleFilter {
    /// Organisation whose involvement limits the result.
    pub visible_to: String,
    pub registered_by: Option<String>,
    pub category: Option<String>,
    pub division_prefix: Option<String>,
    pub after: Option<Uuid>,
}

pub async fn list_people(
    connection: &mut PgConnection,
    filter: &PeopleFilter,
    limit: i64,
) -> Result<Vec<PersonRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people p
         where {visible}
           and ($2::text is null or exists (select 1 from person_registrations r
                                            where r.person = p.id and r.organisation = $2))
           and ($3::text is null or $3 = any(p.categories))
           and ($4::text is null or p.block_code like $4 || '%')
           and ($5::uuid is null or p.id > $5)
         order by p.id limit $6",
        visible = person_visible("p.id", 1)
    )))
    .bind(&filter.visible_to)
    .bind(&filter.registered_by)
    .bind(&filter.category)
    .bind(&filter.division_prefix)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing people")
}

// ------------------------------------------------------------ assessments

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssessmentRow {
    pub id: Uuid,
    pub person: Uuid,
    pub organisation: String,
    pub assessed_by: String,
    pub assessed_at: DateTime<Utc>,
    pub needs: serde_json::Value,
    pub summary: String,
}

pub(super) const ASSESSMENT_COLUMNS: &str =
    "id, person, organisation, assessed_by, assessed_at, needs, summary";

pub async fn get_assessment(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<AssessmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an assessment")
}

pub struct NewAssessment<'a> {
    pub id: Uuid,
    pub person: Uuid,
    pub organisation: &'a str,
    pub assessed_by: &'a str,
    pub assessed_at: DateTime<Utc>,
    pub needs: serde_json::Value,
    pub summary: &'a str,
}

pub async fn insert_assessment(
    connection: &mut PgConnection,
    assessment: &NewAssessment<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into assessments (id, person, organisation, assessed_by, assessed_at, needs, summary)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(assessment.id)
    .bind(assessment.person)
    .bind(assessment.organisation)
    .bind(assessment.assessed_by)
    .bind(assessment.assessed_at)
    .bind(&assessment.needs)
    .bind(assessment.summary)
    .execute(connection)
    .await.context("recording an assessment")?;
    Ok(())
}

pub async fn list_assessments(
    connection: &mut PgConnection,
    person: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AssessmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments
         where person = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    )))
    .bind(person)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing assessments")
}
