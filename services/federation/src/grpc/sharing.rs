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

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::Fingerprint;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use super::support::check_consent;
use super::{Checks, FederationService, ProtoWord, Retry, claim, commit, optional_word, recall};
use crate::access::{self, RegisterAccess};
use crate::domain::codes::{Collection, organisation_name, parse_request_id};
use crate::domain::identity::ResidentIdNumber;
use crate::domain::kinds::{ConsentMethod, SharingRequestState, require_state};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::sharing::{self as store, Decision, NewSharingRequest, SharingRequestRow};
use crate::store::support::{
    self as people, NewPersonRegistration, person_by_identity, registering_organisations,
};

fn name(id: Uuid) -> String {
    Collection::SharingRequests.name(id)
}

/// The one answer for a request that does not exist or is out of reach.
fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", name(id)))
}

/// The request as the caller may see it: the person it concerns is named
/// only to organisations that hold the record (which the requester becomes
/// on approval).
fn render(row: SharingRequestRow, holds_record: bool) -> Result<proto::SharingRequest> {
    Ok(proto::SharingRequest {
        name: name(row.id),
        requesting_organisation: organisation_name(&row.requesting_organisation),
        requested_by: row.requested_by,
        reason: row.reason,
        consent: Some(proto::Consent {
            method: ConsentMethod::from_stored(&row.consent_method)?.to_proto(),
            give_time: Some(timestamp(row.consent_given_at)),
            document_reference: row.consent_document_reference,
            guardian_name: row.consent_guardian_name,
        }),
        state: SharingRequestState::from_stored(&row.state)?.to_proto(),
        person: if holds_record {
            Collection::People.name(row.person)
        } else {
            String::new()
        },
        decided_by_organisation: row
            .decided_by_organisation
            .as_deref()
            .map(organisation_name)
            .unwrap_or_default(),
        decided_by: row.decided_by.unwrap_or_default(),
        decide_time: optional_timestamp(row.decided_at),
        decline_reason: row.decline_reason,
        create_time: Some(timestamp(row.created_at)),
    })
}

/// What the caller's organisation is to a request.
struct Standing {
    /// It registered the person (and so decides on sharing).
    holds_record: bool,
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
) -> Result<(SharingRequestRow, Standing)> {
    let row = row.ok_or_else(|| not_found(id))?;
    let holders = registering_organisations(connection, row.person)
        .await
        .map_err(Error::database("reading who holds a record"))?;
    let holds_record = holders
        .iter()
        .any(|holder| holder == register.organisation());
    let mut parties: Vec<&str> = holders.iter().map(String::as_str).collect();
    parties.push(row.requesting_organisation.as_str());
    if !access::reaches_organisations(access, &parties) {
        return Err(not_found(id));
    }
    access.audit().resource(name(id));
    Ok((row, Standing { holds_record }))
}

async fn replay(
    service: &FederationService,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<proto::SharingRequest> {
    let id = Collection::SharingRequests
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered sharing request: {invalid}")))?;
    let mut connection = service.connection("reading a sharing request").await?;
    let row = store::get(&mut connection, id)
        .await
        .map_err(Error::database("reading a sharing request"))?;
    let (row, standing) = reachable(&mut connection, access, register, row, id).await?;
    render(row, standing.holds_record)
}

pub async fn create_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let fingerprint = Fingerprint::of(&request);
    let now = Utc::now();
    let mut checks = Checks::new();
    let request_id = checks.check("request_id", parse_request_id(&request.request_id));
    let id_number = checks.check(
        "id_number",
        ResidentIdNumber::parse(
            &request.id_number,
            (now + chrono::Duration::days(1)).date_naive(),
        )
        .map(Some),
    );
    let consent = check_consent(&mut checks, "consent", request.consent.as_ref(), now);
    let reason = checks.check("reason", text::required(&request.reason, 2000));
    checks.finish()?;
    let (Some(id_number), Some(consent)) = (id_number, consent) else {
        return Err(Error::invalid("id_number", "must be set"));
    };

    let mut transaction = service.begin("asking for a record to be shared").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let retry = Retry::of(request_id, fingerprint);
    if let Some(remembered) = recall(service, access, retry.as_ref()).await? {
        drop(transaction);
        return replay(service, access, &register, &remembered).await;
    }
    let identity_key = service.identity.identity_key(&id_number);
    let Some(person) = person_by_identity(&mut transaction, &identity_key)
        .await
        .map_err(Error::database("asking for a record to be shared"))?
    else {
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
    if let Some(pending) = store::pending_for(&mut transaction, person, register.organisation())
        .await
        .map_err(Error::database("asking for a record to be shared"))?
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
        claim(service, &mut transaction, access, retry.as_ref(), &name(id)).await?
    {
        drop(transaction);
        return replay(service, access, &register, &winner).await;
    }
    let row = store::insert(
        &mut transaction,
        &NewSharingRequest {
            id,
            person,
            requesting_organisation: register.organisation(),
            requested_by: &register.actor().subject,
            reason: &reason,
            consent_method: consent.method.as_str(),
            consent_given_at: consent.given_at,
            consent_document_reference: &consent.document_reference,
            consent_guardian_name: &consent.guardian_name,
        },
    )
    .await
    .map_err(Error::database("asking for a record to be shared"))?;
    access.audit().resource(name(id));
    access.audit().resource(Collection::People.name(person));
    commit(transaction, access, "asking for a record to be shared").await?;
    tracing::info!(sharing_request = %id, organisation = %register.organisation(), "record sharing requested");
    render(row, false)
}

pub async fn get_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::GetSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let id = Collection::SharingRequests
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a sharing request").await?;
    let register = access::register_access(&mut connection, access).await?;
    let row = store::get(&mut connection, id)
        .await
        .map_err(Error::database("reading a sharing request"))?;
    let (row, standing) = reachable(&mut connection, access, &register, row, id).await?;
    render(row, standing.holds_record)
}

pub async fn list_sharing_requests(
    service: &FederationService,
    access: &Access,
    request: proto::ListSharingRequestsRequest,
) -> Result<proto::ListSharingRequestsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("sharing_requests", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let state: Option<SharingRequestState> = checks.check("state", optional_word(request.state));
    checks.finish()?;
    let mut connection = service.connection("listing sharing requests").await?;
    let register = access::register_access(&mut connection, access).await?;
    let mut rows = store::list(
        &mut connection,
        register.organisation(),
        state.map(SharingRequestState::as_str),
        after,
        page.size.fetch_limit(),
    )
    .await
    .map_err(Error::database("listing sharing requests"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |listed| listed.request.id.to_string());
    let mut sharing_requests = Vec::with_capacity(rows.len());
    for listed in rows {
        access.audit().resource(name(listed.request.id));
        sharing_requests.push(render(listed.request, listed.caller_holds_record)?);
    }
    Ok(proto::ListSharingRequestsResponse {
        sharing_requests,
        next_page_token,
    })
}

/// Locks a pending request the caller's organisation decides on: NOT_FOUND
/// unless it made it or holds the record; PERMISSION_DENIED for the
/// requesting organisation (it does not decide on its own request);
/// FAILED_PRECONDITION once decided.
async fn to_decide(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    id: Uuid,
    action: &str,
) -> Result<SharingRequestRow> {
    let row = store::lock(connection, id)
        .await
        .map_err(Error::database("reading a sharing request"))?;
    let (row, standing) = reachable(connection, access, register, row, id).await?;
    if !standing.holds_record {
        return Err(Error::PermissionDenied(
            "only an organisation that registered the person decides on sharing their record"
                .into(),
        ));
    }
    require_state(
        "sharing request",
        SharingRequestState::from_stored(&row.state)?,
        &[SharingRequestState::Pending],
        action,
    )
    .map_err(Error::FailedPrecondition)?;
    Ok(row)
}

pub async fn approve_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::ApproveSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let id = Collection::SharingRequests
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut transaction = service.begin("approving a sharing request").await?;
    let register = access::register_access(&mut transaction, access).await?;
    let row = to_decide(&mut transaction, access, &register, id, "approved").await?;
    // The requester holds the record from now on, with the consent the
    // person gave for it.
    people::insert_person_registration(
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
    .await
    .map_err(Error::database("approving a sharing request"))?;
    let decided = store::decide(
        &mut transaction,
        id,
        &Decision {
            state: SharingRequestState::Approved.as_str(),
            organisation: register.organisation(),
            decided_by: &register.actor().subject,
            at: Utc::now(),
            decline_reason: "",
        },
    )
    .await
    .map_err(Error::database("approving a sharing request"))?;
    access.audit().resource(Collection::People.name(row.person));
    commit(transaction, access, "approving a sharing request").await?;
    tracing::info!(sharing_request = %id, organisation = %register.organisation(), "record shared");
    render(decided, true)
}

pub async fn decline_sharing_request(
    service: &FederationService,
    access: &Access,
    request: proto::DeclineSharingRequestRequest,
) -> Result<proto::SharingRequest> {
    let mut checks = Checks::new();
    let id = checks.check(
        "name",
        Collection::SharingRequests.parse(&request.name).map(Some),
    );
    let reason = checks.check("reason", text::required(&request.reason, 2000));
    checks.finish()?;
    let Some(id) = id else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("declining a sharing request").await?;
    let register = access::register_access(&mut transaction, access).await?;
    to_decide(&mut transaction, access, &register, id, "declined").await?;
    let decided = store::decide(
        &mut transaction,
        id,
        &Decision {
            state: SharingRequestState::Declined.as_str(),
            organisation: register.organisation(),
            decided_by: &register.actor().subject,
            at: Utc::now(),
            decline_reason: &reason,
        },
    )
    .await
    .map_err(Error::database("declining a sharing request"))?;
    commit(transaction, access, "declining a sharing request").await?;
    tracing::info!(sharing_request = %id, organisation = %register.organisation(), "record sharing declined");
    render(decided, true)
}
