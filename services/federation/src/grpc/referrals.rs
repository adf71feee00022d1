//! Referrals from the cases service: accepted (optionally with a support
//! plan) or declined, and the answer published back.

use chrono::Utc;
use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use sqlx::PgConnection;
use uuid::Uuid;

use super::support::{check_plan, create_plan};
use super::{Checks, FederationService, ProtoWord, commit, optional_word};
use crate::access;
use crate::domain::codes::{
    CaseName, Collection, DivisionCode, DivisionLevel, organisation_name,
    parse_organisation_reference,
};
use crate::domain::kinds::{ReferralState, require_state};
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::events::publish;
use crate::store::referrals::{self as store, ReferralFilter, ReferralRow};

fn to_proto(row: ReferralRow) -> Result<proto::Referral> {
    Ok(proto::Referral {
        name: Collection::Referrals.name(row.id),
        case: row.case_name,
        case_kind: row.case_kind,
        matter_code: row.matter_code,
        block_code: row.block_code,
        subdistrict_code: row.subdistrict_code,
        state: ReferralState::from_stored(&row.state)?.to_proto(),
        refer_time: Some(timestamp(row.referred_at)),
        receive_time: Some(timestamp(row.received_at)),
        organisation: row
            .organisation
            .as_deref()
            .map(organisation_name)
            .unwrap_or_default(),
        decided_by: row.decided_by.unwrap_or_default(),
        decide_time: optional_timestamp(row.decided_at),
        decline_reason: row.decline_reason,
        support_plan: row
            .support_plan
            .map(|id| Collection::SupportPlans.name(id))
            .unwrap_or_default(),
        note: row.note,
    })
}

/// The referral as the caller may see it: who decided is named to staff
/// and administrators only.
fn render(access: &Access, row: ReferralRow) -> Result<proto::Referral> {
    let mut referral = to_proto(row)?;
    if !access::shows_staff_ids(access) {
        referral.decided_by.clear();
    }
    Ok(referral)
}

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", Collection::Referrals.name(id)))
}

/// Where a referral lies: its block, or its subdistrict when the block is
/// not known.
fn place(row: &ReferralRow) -> &str {
    if row.block_code.is_empty() {
        &row.subdistrict_code
    } else {
        &row.block_code
    }
}

async fn load(connection: &mut PgConnection, id: Uuid) -> Result<ReferralRow> {
    store::get(connection, id)
        .await
        .map_err(Error::database("reading a referral"))?
        .ok_or_else(|| not_found(id))
}

/// Locks a pending referral.
async fn pending(connection: &mut PgConnection, id: Uuid, action: &str) -> Result<ReferralRow> {
    if !store::lock(connection, id)
        .await
        .map_err(Error::database("reading a referral"))?
    {
        return Err(not_found(id));
    }
    let row = load(connection, id).await?;
    let state = ReferralState::from_stored(&row.state)?;
    require_state("referral", state, &[ReferralState::Pending], action)
        .map_err(Error::FailedPrecondition)?;
    Ok(row)
}

/// The referral a new support plan answers: accepted by the caller's
/// organisation and without a plan yet. Returns its id and case.
pub(super) async fn plan_referral(
    connection: &mut PgConnection,
    id: Uuid,
    organisation: &str,
) -> Result<(Uuid, String)> {
    if !store::lock(connection, id)
        .await
        .map_err(Error::database("reading a referral"))?
    {
        return Err(not_found(id));
    }
    let row = load(connection, id).await?;
    if row.state != ReferralState::Accepted.as_str()
        || row.organisation.as_deref() != Some(organisation)
    {
        return Err(Error::FailedPrecondition(format!(
            "{} is {} and not accepted by {organisation}; accept it first",
            Collection::Referrals.name(id),
            row.state
        )));
    }
    if let Some(plan) = row.support_plan {
        return Err(Error::AlreadyExists {
            message: format!(
                "{} already has a support plan ({})",
                Collection::Referrals.name(id),
                Collection::SupportPlans.name(plan)
            ),
            resource: Some(Collection::SupportPlans.name(plan)),
        });
    }
    Ok((row.id, row.case_name))
}

pub async fn get_referral(
    service: &FederationService,
    access: &Access,
    request: proto::GetReferralRequest,
) -> Result<proto::Referral> {
    let id = Collection::Referrals
        .parse(&request.name)
        .map_err(|invalid| Error::invalid("name", invalid.0))?;
    let mut connection = service.connection("reading a referral").await?;
    let row = load(&mut connection, id).await?;
    // Integrators read the referrals in their jurisdiction.
    if !access.reaches(&Resource::in_division(place(&row))) {
        return Err(not_found(id));
    }
    render(access, row)
}

fn subdistrict(value: &str) -> std::result::Result<Option<String>, Invalid> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let division = DivisionCode::parse(value)?;
    if division.level() != DivisionLevel::Subdistrict {
        return Err(Invalid::new("must be a 9-digit subdistrict code"));
    }
    Ok(Some(division.as_str().to_owned()))
}

pub async fn list_referrals(
    service: &FederationService,
    access: &Access,
    request: proto::ListReferralsRequest,
) -> Result<proto::ListReferralsResponse> {
    let mut request = request;
    let page_size = std::mem::take(&mut request.page_size);
    let page_token = std::mem::take(&mut request.page_token);
    let query = ListQuery::of_request("referrals", &request);
    let mut checks = Checks::new();
    let page = checks.page(&query, page_size, &page_token);
    let after = checks.page_after::<Uuid>(&page);
    let state: Option<ReferralState> = checks.check("state", optional_word(request.state));
    let organisation = if request.organisation.trim().is_empty() {
        None
    } else {
        checks.check(
            "organisation",
            parse_organisation_reference(&request.organisation).map(Some),
        )
    };
    let subdistrict_code = checks.check("subdistrict_code", subdistrict(&request.subdistrict_code));
    let case_name = if request.case.trim().is_empty() {
        None
    } else {
        checks.check("case", CaseName::parse(&request.case).map(Some))
    };
    checks.finish()?;
    let filter = ReferralFilter {
        state: state.map(|state| state.as_str().to_owned()),
        organisation: organisation.map(|code| code.as_str().to_owned()),
        subdistrict_code,
        case_name: case_name.map(|case| case.as_str().to_owned()),
        division_prefixes: (!access.unlimited()).then(|| access.division_prefixes()),
        after,
    };
    let mut connection = service.connection("listing referrals").await?;
    let mut rows = store::list(&mut connection, &filter, page.size.fetch_limit())
        .await
        .map_err(Error::database("listing referrals"))?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.id.to_string());
    Ok(proto::ListReferralsResponse {
        referrals: rows
            .into_iter()
            .map(|row| render(access, row))
            .collect::<Result<_>>()?,
        next_page_token,
    })
}

pub async fn accept_referral(
    service: &FederationService,
    access: &Access,
    request: proto::AcceptReferralRequest,
) -> Result<proto::Referral> {
    let mut checks = Checks::new();
    let id = checks.check("name", Collection::Referrals.parse(&request.name).map(Some));
    let note = checks.check("note", text::optional(&request.note, 2000));
    let plan = request
        .support_plan
        .as_ref()
        .map(|plan| check_plan(&mut checks, "support_plan", plan));
    checks.stop_if_failed()?;
    let Some(id) = id else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("accepting a referral").await?;
    let actor = access::actor(&mut transaction, access).await?;
    access.audit().resource(Collection::Referrals.name(id));
    let referral = pending(&mut transaction, id, "accepted").await?;
    let now = Utc::now();
    store::accept(
        &mut transaction,
        id,
        actor.organisation.as_str(),
        &actor.subject,
        now,
        &note,
    )
    .await
    .map_err(Error::database("accepting a referral"))?;
    let support_plan = match plan {
        None => None,
        Some(None) => return Err(Error::invalid("support_plan", "is incomplete")),
        Some(Some(plan)) => {
            let register = access::register_access(&mut transaction, access).await?;
            let plan_id = Uuid::now_v7();
            create_plan(
                &mut transaction,
                access,
                &register,
                plan_id,
                &plan,
                Some((id, referral.case_name.clone())),
                checks,
                "support_plan",
            )
            .await?;
            Some(plan_id)
        }
    };
    let name = Collection::Referrals.name(id);
    publish(
        &mut transaction,
        &name,
        &proto::ReferralAccepted {
            referral: name.clone(),
            case: referral.case_name.clone(),
            organisation: actor.organisation.as_str().to_owned(),
            support_plan: support_plan
                .map(|plan| Collection::SupportPlans.name(plan))
                .unwrap_or_default(),
            accepted_at: Some(timestamp(now)),
        },
    )
    .await?;
    let row = load(&mut transaction, id).await?;
    commit(transaction, access, "accepting a referral").await?;
    tracing::info!(referral = %id, case = %referral.case_name, organisation = %actor.organisation, "referral accepted");
    render(access, row)
}

pub async fn decline_referral(
    service: &FederationService,
    access: &Access,
    request: proto::DeclineReferralRequest,
) -> Result<proto::Referral> {
    let mut checks = Checks::new();
    let id = checks.check("name", Collection::Referrals.parse(&request.name).map(Some));
    let reason = checks.check("reason", text::required(&request.reason, 2000));
    checks.finish()?;
    let Some(id) = id else {
        return Err(Error::invalid("name", "must be set"));
    };
    let mut transaction = service.begin("declining a referral").await?;
    let actor = access::actor(&mut transaction, access).await?;
    access.audit().resource(Collection::Referrals.name(id));
    let referral = pending(&mut transaction, id, "declined").await?;
    let now = Utc::now();
    store::decline(
        &mut transaction,
        id,
        actor.organisation.as_str(),
        &actor.subject,
        now,
        &reason,
    )
    .await
    .map_err(Error::database("declining a referral"))?;
    let name = Collection::Referrals.name(id);
    publish(
        &mut transaction,
        &name,
        &proto::ReferralDeclined {
            referral: name.clone(),
            case: referral.case_name.clone(),
            organisation: actor.organisation.as_str().to_owned(),
            reason,
            declined_at: Some(timestamp(now)),
        },
    )
    .await?;
    let row = load(&mut transaction, id).await?;
    commit(transaction, access, "declining a referral").await?;
    tracing::info!(referral = %id, case = %referral.case_name, organisation = %actor.organisation, "referral declined");
    render(access, row)
}
