//! Sharing a person's record with another member organisation, with the
//! person's consent.
//!
//! An organisation that meets a person already on another organisation's
//! register (`RegisterPerson` says so, and nothing more) asks for the
//! record to be shared: it names the person by their ID number, records
//! the person's consent and says why. The organisations that registered
//! the person see the request and approve or decline it; on approval the
//! requesting organisation is added to the person's registrations with
//! that consent, and reaches the record from then on. Until then the
//! requester learns nothing of the record, not even who holds it.

use flatgov_auth::policy::Access;
use sqlx::PgConnection;
use uuid::Uuid;

use super::people::Consent;
use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, RegisterAccess};
use crate::domain::codes::Collection;
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::{SharingRequestState, require_state};
use crate::error::{Error, Result};
use crate::store::people::{
    NewPersonRegistration, insert_person_registration, person_by_identity,
    registering_organisations,
};
use crate::store::sharing::{self as store, Decision, SharingRequestRow};

/// A request for the record of the person with `id_number`.
#[derive(Debug)]
pub struct NewSharingRequest {
    pub id_number: ResidentIdNumber,
    pub consent: Consent,
    pub reason: String,
    pub retry: Option<Retry>,
}

/// A page of the requests the caller's organisation made or decides on.
#[derive(Debug)]
pub struct ListSharingRequests {
    pub state: Option<SharingRequestState>,
    pub page: Page<Uuid>,
}

/// A request as the caller's organisation stands to it.
#[derive(Debug)]
pub struct Shared {
    pub request: SharingRequestRow,
    /// The caller's organisation registered the person (so it decides on
    /// sharing, and may be told who the person is).
    pub holds_record: bool,
}

pub fn name(id: Uuid) -> String {
    Collection::SharingRequests.name(id)
}

/// The one answer for a request that does not exist or is out of reach.
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", name(id)))
}

/// The request and the caller's standing, NOT_FOUND unless the caller's
/// organisation made it or holds the person's record. Noted in the audit
/// trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    row: Option<SharingRequestRow>,
    id: Uuid,
) -> Result<Shared> {
    let row = row.ok_or_else(|| not_found(id))?;
    let holders = registering_organisations(connection, row.person).await?;
    let holds_record = holders
        .iter()
        .any(|holder| holder == register.organisation());
    let mut parties: Vec<&str> = holders.iter().map(String::as_str).collect();
    parties.push(row.requesting_organisation.as_str());
    if !access::reaches_organisations(access, &parties) {
        return Err(not_found(id));
    }
    access.audit().resource(name(id));
    Ok(Shared {
        request: row,
        holds_record,
    })
}

async fn replay(
    app: &App,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<Shared> {
    let id = Collection::SharingRequests
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered sharing request: {invalid}")))?;
    let mut connection = app.connection("reading a sharing request").await?;
    let row = store::get(&mut connection, id).await?;
    reachable(&mut connection, access, register, row, id).await
}

pub async fn create(app: &App, access: &Access, new: NewSharingRequest) -> Result<Shared> {
    let mut transaction = app.begin("asking for a record to be shared").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, new.retry.as_ref()).await? {
        drop(transaction);
        return replay(app, access, &register, &remembered).await;
    }
    let identity_key = app.identity.identity_key(&new.id_number);
    let Some(person) = person_by_identity(&mut transaction, &identity_key).await? else {
        return Err(Error::Precondition {
            kind: "PERSON_NOT_ON_REGISTER",
            subject: "id_number",
            message: "no one with this ID number is on the register; register the person \
                      with RegisterPerson"
                .into(),
        });
    };
    if register.reaches_person(&mut transaction, person).await? {
        let person_name = Collection::People.name(person);
        return Err(Error::AlreadyExists {
            message: format!("your organisation already reaches this person as {person_name}"),
            resource: Some(person_name),
        });
    }
    if let Some(pending) =
        store::pending_for(&mut transaction, person, register.organisation()).await?
    {
        return Err(Error::AlreadyExists {
            message: format!(
                "your organisation's request {} for this person is pending",
                name(pending)
            ),
            resource: Some(name(pending)),
        });
    }
    let id = Uuid::now_v7();
    if let Some(winner) =
        claim(app, &mut transaction, access, new.retry.as_ref(), &name(id)).await?
    {
        drop(transaction);
        return replay(app, access, &register, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &store::NewSharingRequest {
            id,
            person,
            requesting_organisation: register.organisation(),
            requested_by: &register.actor().subject,
            reason: &new.reason,
            consent_method: new.consent.method.as_str(),
            consent_given_at: new.consent.given_at,
            consent_document_reference: &new.consent.document_reference,
            consent_guardian_name: &new.consent.guardian_name,
        },
    )
    .await?;
    access.audit().resource(name(id));
    access.audit().resource(Collection::People.name(person));
    commit(transaction, access, "asking for a record to be shared").await?;
    tracing::info!(sharing_request = %id, organisation = %register.organisation(), "record sharing requested");
    Ok(Shared {
        request: row,
        holds_record: false,
    })
}

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<Shared> {
    let mut connection = app.connection("reading a sharing request").await?;
    let register = access::register_access(&mut connection, access).await?;
    let row = store::get(&mut connection, id).await?;
    reachable(&mut connection, access, &register, row, id).await
}

pub async fn list(app: &App, access: &Access, query: &ListSharingRequests) -> Result<Vec<Shared>> {
    let mut connection = app.connection("listing sharing requests").await?;
    let register = access::register_access(&mut connection, access).await?;
    let rows = store::list(
        &mut connection,
        register.organisation(),
        query.state.map(SharingRequestState::as_str),
        query.page.after,
        query.page.limit,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|listed| {
            access.audit().resource(name(listed.request.id));
            Shared {
                request: listed.request,
                holds_record: listed.caller_holds_record,
            }
        })
        .collect())
}

/// How a holder decides on a request.
#[derive(Debug)]
pub enum Decide {
    Approve,
    Decline { reason: String },
}

/// Approves or declines a pending request the caller's organisation holds
/// the record of: NOT_FOUND unless it made the request or holds the
/// record; PERMISSION_DENIED for the requesting organisation (it does not
/// decide on its own request); FAILED_PRECONDITION once decided. On
/// approval the requester is added to the person's registrations with the
/// consent the request recorded.
pub async fn decide(app: &App, access: &Access, id: Uuid, decision: Decide) -> Result<Shared> {
    let context = match decision {
        Decide::Approve => "approving a sharing request",
        Decide::Decline { .. } => "declining a sharing request",
    };
    let mut transaction = app.begin(context).await?;
    let register = access::register_access(&mut transaction, access).await?;
    let row = store::lock(&mut transaction, id).await?;
    let shared = reachable(&mut transaction, access, &register, row, id).await?;
    if !shared.holds_record {
        return Err(Error::PermissionDenied(
            "only an organisation that registered the person decides on sharing their record"
                .into(),
        ));
    }
    let action = match decision {
        Decide::Approve => "approved",
        Decide::Decline { .. } => "declined",
    };
    require_state(
        "sharing request",
        SharingRequestState::from_stored(&shared.request.state)?,
        &[SharingRequestState::Pending],
        action,
    )
    .map_err(Error::FailedPrecondition)?;
    let row = shared.request;
    let (state, decline_reason) = match &decision {
        Decide::Approve => {
            access::require_processable(&mut transaction, row.person).await?;
            // The requester holds the record from now on, with the consent
            // the person gave for it.
            insert_person_registration(
                &mut transaction,
                &NewPersonRegistration {
                    person: row.person,
                    organisation: &row.requesting_organisation,
                    registered_by: &row.requested_by,
                    consent_method: &row.consent_method,
                    consent_given_at: row.consent_given_at,
                    consent_document_reference: &row.consent_document_reference,
                    consent_guardian_name: &row.consent_guardian_name,
                },
            )
            .await?;
            access.audit().resource(Collection::People.name(row.person));
            (SharingRequestState::Approved, "")
        }
        Decide::Decline { reason } => (SharingRequestState::Declined, reason.as_str()),
    };
    let decided = store::decide(
        &mut transaction,
        id,
        &Decision {
            state: state.as_str(),
            organisation: register.organisation(),
            decided_by: &register.actor().subject,
            at: app.clock.now(),
            decline_reason,
        },
    )
    .await?;
    commit(transaction, access, context).await?;
    tracing::info!(sharing_request = %id, organisation = %register.organisation(), state = %state, "sharing request decided");
    Ok(Shared {
        request: decided,
        holds_record: true,
    })
}
