//! The register of people in difficulty: people, their registrations by
//! organisations, needs assessments, support plans, measures, deliveries
//! and visits.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::person_visible;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub id: Uuid,
    pub full_name: String,
    pub id_number_masked: String,
    pub gender: String,
    pub birth_date: NaiveDate,
    pub phone: String,
    pub address: String,
    pub block_code: Option<String>,
    pub categories: Vec<String>,
    pub circumstances: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const PERSON_COLUMNS: &str =
    "p.id, p.full_name, p.id_number_masked, p.gender, p.birth_date, p.phone, p.address,
     p.block_code, p.categories, p.circumstances, p.created_at, p.updated_at";

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

pub async fn get_person(
    connection: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<PersonRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {PERSON_COLUMNS} from people p where p.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub async fn person_registrations(
    connection: &mut PgConnection,
    people: &[Uuid],
) -> sqlx::Result<Vec<PersonRegistrationRow>> {
    sqlx::query_as(
        "select person, organisation, registered_by, registered_at, consent_method, consent_given_at,
                consent_document_reference, consent_guardian_name
         from person_registrations where person = any($1) order by registered_at, organisation",
    )
    .bind(people)
    .fetch_all(connection)
    .await
}

/// The organisations a person's record belongs to: those that registered
/// the person, lead a plan for them or commit a measure to one. Empty when
/// the person does not exist.
pub async fn person_organisations(
    connection: &mut PgConnection,
    person: Uuid,
) -> sqlx::Result<Vec<String>> {
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
}

/// The person with this identity key, locked for the rest of the
/// transaction, if anyone registered them.
pub async fn person_by_identity(
    connection: &mut PgConnection,
    identity_key: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("select id from people where identity_key = $1 for update")
        .bind(identity_key)
        .fetch_optional(connection)
        .await
}

/// The organisations that registered the person (who decide on sharing
/// their record).
pub async fn registering_organisations(
    connection: &mut PgConnection,
    person: Uuid,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select organisation from person_registrations where person = $1")
        .bind(person)
        .fetch_all(connection)
        .await
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
) -> sqlx::Result<(Uuid, bool)> {
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
    .await?;
    if let Some(id) = inserted {
        return Ok((id, true));
    }
    let existing: Uuid =
        sqlx::query_scalar("select id from people where identity_key = $1 for update")
            .bind(person.identity_key)
            .fetch_one(connection)
            .await?;
    Ok((existing, false))
}

/// Adds categories a second organisation recorded, keeping the first's.
pub async fn add_categories(
    connection: &mut PgConnection,
    person: Uuid,
    categories: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "update people set categories = array(select distinct unnest(categories || $2::text[]) order by 1),
                           updated_at = now()
         where id = $1",
    )
    .bind(person)
    .bind(categories)
    .execute(connection)
    .await?;
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
) -> sqlx::Result<bool> {
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
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// When `organisation` registered the person, if it did.
pub async fn registered_at(
    connection: &mut PgConnection,
    person: Uuid,
    organisation: &str,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "select registered_at from person_registrations where person = $1 and organisation = $2",
    )
    .bind(person)
    .bind(organisation)
    .fetch_optional(connection)
    .await
}

#[derive(Default)]
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
) -> sqlx::Result<()> {
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
    .await?;
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
) -> sqlx::Result<Vec<PersonRow>> {
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

const ASSESSMENT_COLUMNS: &str =
    "id, person, organisation, assessed_by, assessed_at, needs, summary";

pub async fn get_assessment(
    connection: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<AssessmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
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
) -> sqlx::Result<()> {
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
    .await?;
    Ok(())
}

pub async fn list_assessments(
    connection: &mut PgConnection,
    person: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<AssessmentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {ASSESSMENT_COLUMNS} from assessments
         where person = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    )))
    .bind(person)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
}

// ---------------------------------------------------------- support plans

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub person: Uuid,
    pub lead_organisation: String,
    pub referral: Option<Uuid>,
    pub case_name: Option<String>,
    pub assessment: Option<Uuid>,
    pub goal: String,
    pub state: String,
    pub review_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: String,
}

const PLAN_SELECT: &str = "
    select s.id, s.person, s.lead_organisation, s.referral, f.case_name, s.assessment, s.goal, s.state,
           s.review_at, s.created_by, s.created_at, s.closed_at, s.close_note
    from support_plans s left join referrals f on f.id = s.referral";

pub async fn get_plan(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PLAN_SELECT} where s.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

/// Locks the plan for the rest of the transaction.
pub async fn lock_plan(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from support_plans where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await?;
    Ok(locked.is_some())
}

pub struct NewPlan<'a> {
    pub id: Uuid,
    pub person: Uuid,
    pub lead_organisation: &'a str,
    pub referral: Option<Uuid>,
    pub assessment: Option<Uuid>,
    pub goal: &'a str,
    pub review_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
}

pub async fn insert_plan(connection: &mut PgConnection, plan: &NewPlan<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into support_plans (id, person, lead_organisation, referral, assessment, goal, review_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(plan.id)
    .bind(plan.person)
    .bind(plan.lead_organisation)
    .bind(plan.referral)
    .bind(plan.assessment)
    .bind(plan.goal)
    .bind(plan.review_at)
    .bind(plan.created_by)
    .execute(connection)
    .await?;
    Ok(())
}

pub async fn close_plan(
    connection: &mut PgConnection,
    id: Uuid,
    state: &str,
    note: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<u64> {
    sqlx::query(
        "update support_plans set state = $2, close_note = $3, closed_at = $4 where id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(note)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    let withdrawn = sqlx::query(
        "update support_measures set state = 'withdrawn' where plan = $1 and state = 'committed'",
    )
    .bind(id)
    .execute(connection)
    .await?
    .rows_affected();
    Ok(withdrawn)
}

#[derive(Debug, Default)]
pub struct PlanFilter {
    /// Organisation whose involvement limits the result.
    pub visible_to: String,
    pub person: Option<Uuid>,
    pub organisation: Option<String>,
    pub state: Option<String>,
    pub after: Option<Uuid>,
}

pub async fn list_plans(
    connection: &mut PgConnection,
    filter: &PlanFilter,
    limit: i64,
) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PLAN_SELECT}
         where {visible}
           and ($2::uuid is null or s.person = $2)
           and ($3::text is null or s.lead_organisation = $3
                or exists (select 1 from support_measures m where m.plan = s.id and m.organisation = $3))
           and ($4::text is null or s.state = $4)
           and ($5::uuid is null or s.id > $5)
         order by s.id limit $6",
        visible = person_visible("s.person", 1)
    )))
    .bind(&filter.visible_to)
    .bind(filter.person)
    .bind(&filter.organisation)
    .bind(&filter.state)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
}

// --------------------------------------------------------------- measures

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MeasureRow {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: String,
    pub kind: String,
    pub description: String,
    pub due_at: Option<DateTime<Utc>>,
    pub state: String,
    pub committed_by: String,
    pub committed_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

const MEASURE_COLUMNS: &str = "id, plan, organisation, kind, description, due_at, state, committed_by, committed_at, completed_at";

pub async fn measures(
    connection: &mut PgConnection,
    plans: &[Uuid],
) -> sqlx::Result<Vec<MeasureRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEASURE_COLUMNS} from support_measures where plan = any($1) order by plan, position"
    )))
    .bind(plans)
    .fetch_all(connection)
    .await
}

pub async fn get_measure(
    connection: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<MeasureRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MEASURE_COLUMNS} from support_measures where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub struct NewMeasure<'a> {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub due_at: Option<DateTime<Utc>>,
    pub committed_by: &'a str,
}

/// Appends a measure to the plan (its position follows the last one).
pub async fn insert_measure(
    connection: &mut PgConnection,
    measure: &NewMeasure<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into support_measures (id, plan, position, organisation, kind, description, due_at, committed_by)
         values ($1, $2, (select coalesce(max(position), 0) + 1 from support_measures where plan = $2),
                 $3, $4, $5, $6, $7)",
    )
    .bind(measure.id)
    .bind(measure.plan)
    .bind(measure.organisation)
    .bind(measure.kind)
    .bind(measure.description)
    .bind(measure.due_at)
    .bind(measure.committed_by)
    .execute(connection)
    .await?;
    Ok(())
}

pub async fn complete_measure(
    connection: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("update support_measures set state = 'delivered', completed_at = $2 where id = $1")
        .bind(id)
        .bind(at)
        .execute(connection)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub measure: Uuid,
    pub delivered_by: String,
    pub delivered_at: DateTime<Utc>,
    pub description: String,
    pub amount_fen: i64,
    pub completes_measure: bool,
}

pub async fn deliveries(
    connection: &mut PgConnection,
    measures: &[Uuid],
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "select measure, delivered_by, delivered_at, description, amount_fen, completes_measure
         from deliveries where measure = any($1) order by delivered_at, id",
    )
    .bind(measures)
    .fetch_all(connection)
    .await
}

pub struct NewDelivery<'a> {
    pub measure: Uuid,
    pub organisation: &'a str,
    pub delivered_by: &'a str,
    pub delivered_at: DateTime<Utc>,
    pub description: &'a str,
    pub amount_fen: i64,
    pub completes_measure: bool,
}

pub async fn insert_delivery(
    connection: &mut PgConnection,
    delivery: &NewDelivery<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into deliveries (id, measure, organisation, delivered_by, delivered_at, description, amount_fen, completes_measure)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(delivery.measure)
    .bind(delivery.organisation)
    .bind(delivery.delivered_by)
    .bind(delivery.delivered_at)
    .bind(delivery.description)
    .bind(delivery.amount_fen)
    .bind(delivery.completes_measure)
    .execute(connection)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------- visits

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitRow {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: String,
    pub visited_by: String,
    pub kind: String,
    pub visited_at: DateTime<Utc>,
    pub notes: String,
}

const VISIT_COLUMNS: &str = "id, plan, organisation, visited_by, kind, visited_at, notes";

pub async fn get_visit(connection: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIT_COLUMNS} from visits where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
}

pub struct NewVisit<'a> {
    pub id: Uuid,
    pub plan: Uuid,
    pub organisation: &'a str,
    pub visited_by: &'a str,
    pub kind: &'a str,
    pub visited_at: DateTime<Utc>,
    pub notes: &'a str,
}

pub async fn insert_visit(
    connection: &mut PgConnection,
    visit: &NewVisit<'_>,
) -> sqlx::Result<VisitRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into visits (id, plan, organisation, visited_by, kind, visited_at, notes)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning {VISIT_COLUMNS}"
    )))
    .bind(visit.id)
    .bind(visit.plan)
    .bind(visit.organisation)
    .bind(visit.visited_by)
    .bind(visit.kind)
    .bind(visit.visited_at)
    .bind(visit.notes)
    .fetch_one(connection)
    .await
}

pub async fn list_visits(
    connection: &mut PgConnection,
    plan: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<VisitRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIT_COLUMNS} from visits where plan = $1 and ($2::uuid is null or id > $2) order by id limit $3"
    )))
    .bind(plan)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
}
