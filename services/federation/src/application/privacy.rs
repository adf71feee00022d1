//! People's data over time, under the Personal Information Protection Law:
//! a person withdraws their consent to the register (processing stops and
//! the record is anonymised), the retention worker anonymises records
//! whose support ended longer ago than the retention period
//! (`crate::retention`), and an access request exports everything held
//! about one person. What anonymising keeps and erases, and why, is in
//! migration `0004_personal_data.sql` and `docs/federation.md`.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::people::{Person, load};
use super::{App, commit, subject};
use crate::access;
use crate::domain::codes::Collection;
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::ConsentMethod;
use crate::error::{Error, Result};
use crate::store::people as people_store;
use crate::store::people::{AssessmentRow, PersonRegistrationRow, PersonRow};
use crate::store::plans::{self as plans, DeliveryRow, MeasureRow, PlanRow, VisitRow};
use crate::store::privacy::{self as store, ErasureReason, Withdrawal};

/// A person's withdrawal of consent, as the caller's organisation records it.
#[derive(Debug)]
pub struct WithdrawConsent {
    pub person: Uuid,
    pub method: ConsentMethod,
    /// When the person withdrew it; the time of the call when not given.
    pub withdrawn_at: DateTime<Utc>,
    pub document_reference: String,
}

/// Records the withdrawal, ends the person's active plans and anonymises
/// the record, in one transaction with its audit record.
pub async fn withdraw_consent(
    app: &App,
    access: &Access,
    withdrawal: WithdrawConsent,
) -> Result<Person> {
    let mut transaction = app.begin("withdrawing consent").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let person = withdrawal.person;
    access.audit().resource(Collection::People.name(person));
    register.require_person(&mut transaction, person).await?;
    match store::lock_stopped(&mut transaction, person).await? {
        None => return Err(access::person_not_found(person)),
        Some(true) => {
            return Err(Error::Precondition {
                kind: "PERSON_CONSENT_WITHDRAWN",
                subject: "people",
                message: format!(
                    "people/{person} withdrew their consent already or their record was erased"
                ),
            });
        }
        Some(false) => {}
    }
    let now = app.clock.now();
    let actor = register.actor().clone();
    let ended = super::support_plans::end_for_withdrawal(
        &mut transaction,
        access,
        person,
        &actor.subject,
        now,
    )
    .await?;
    store::record_withdrawal(
        &mut transaction,
        &Withdrawal {
            person,
            organisation: actor.organisation.as_str(),
            recorded_by: &actor.subject,
            method: withdrawal.method.as_str(),
            withdrawn_at: withdrawal.withdrawn_at,
            document_reference: &withdrawal.document_reference,
            recorded_at: now,
        },
    )
    .await?;
    store::erase_person(
        &mut transaction,
        person,
        ErasureReason::ConsentWithdrawn,
        now,
    )
    .await?;
    let answer = load(&mut transaction, person).await?;
    commit(transaction, access, "withdrawing consent").await?;
    tracing::info!(
        person = %person,
        organisation = %actor.organisation,
        plans_ended = ended,
        "consent withdrawn; record anonymised"
    );
    Ok(answer)
}

/// Whom an access request is about: their ID number, their phone, or both.
#[derive(Debug)]
pub struct ExportQuery {
    pub id_number: Option<ResidentIdNumber>,
    /// Digits only.
    pub phone: Option<String>,
}

/// Everything the register holds about the people an export found.
#[derive(Debug, Default)]
pub struct Export {
    pub people: Vec<PersonRow>,
    pub registrations: Vec<PersonRegistrationRow>,
    pub assessments: Vec<AssessmentRow>,
    pub plans: Vec<PlanRow>,
    pub measures: Vec<MeasureRow>,
    pub deliveries: Vec<DeliveryRow>,
    pub visits: Vec<VisitRow>,
}

/// Everything held about one person. The audit record names every record
/// returned (never the ID number or phone asked with).
pub async fn export(app: &App, access: &Access, query: &ExportQuery) -> Result<Export> {
    let mut connection = app.connection("exporting personal data").await?;
    let identity_key = query
        .id_number
        .as_ref()
        .map(|number| app.identity.identity_key(number));
    let people = store::people_found(
        &mut connection,
        identity_key.as_deref(),
        query.phone.as_deref(),
    )
    .await?;
    let ids: Vec<Uuid> = people.iter().map(|person| person.id).collect();
    let registrations = people_store::person_registrations(&mut connection, &ids).await?;
    let assessments = store::assessments_of(&mut connection, &ids).await?;
    let plan_rows = store::plans_of(&mut connection, &ids).await?;
    let plan_ids: Vec<Uuid> = plan_rows.iter().map(|plan| plan.id).collect();
    let measures = plans::measures(&mut connection, &plan_ids).await?;
    let measure_ids: Vec<Uuid> = measures.iter().map(|measure| measure.id).collect();
    let deliveries = plans::deliveries(&mut connection, &measure_ids).await?;
    let visits = store::visits_of(&mut connection, &plan_ids).await?;
    for id in &ids {
        access.audit().resource(Collection::People.name(*id));
    }
    for plan in &plan_ids {
        access
            .audit()
            .resource(super::support_plans::plan_name(*plan));
    }
    tracing::info!(
        records = ids.len(),
        caller = %subject(access),
        "personal data exported for an access request"
    );
    Ok(Export {
        people,
        registrations,
        assessments,
        plans: plan_rows,
        measures,
        deliveries,
        visits,
    })
}
