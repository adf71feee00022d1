//! Referrals from the cases service: read by the federation's staff (any
//! member may take one on) and by integrators within their jurisdiction;
//! accepted (optionally with a support plan) or declined, and the answer
//! published back.

use flatgov_auth::policy::{Access, Resource};
use sqlx::PgConnection;
use uuid::Uuid;

use super::support_plans::{PlanInput, create_plan};
use super::{App, Page, commit};
use crate::access;
use crate::domain::codes::{CaseName, Collection, OrganisationCode};
use crate::domain::kinds::{ReferralState, require_state};
use crate::error::{Error, Result};
use crate::events;
use crate::store::referrals::{self as store, ReferralFilter, ReferralRow};

/// A page of referrals, filtered.
#[derive(Debug)]
pub struct ListReferrals {
    pub state: Option<ReferralState>,
    pub organisation: Option<OrganisationCode>,
    pub subdistrict_code: Option<String>,
    pub case: Option<CaseName>,
    pub page: Page<Uuid>,
}

/// What the caller's organisation decides on a pending referral.
#[derive(Debug)]
pub enum Decision {
    /// Take it on, optionally with a support plan created in the same step.
    Accept {
        note: String,
        plan: Option<PlanInput>,
    },
    /// Decline it for the federation, with a reason the cases service shows.
    Decline { reason: String },
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
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<ReferralRow> {
    let mut connection = app.connection("reading a referral").await?;
    let row = load(&mut connection, id).await?;
    // Integrators read the referrals in their jurisdiction.
    if !access.reaches(&Resource::in_division(place(&row))) {
        return Err(not_found(id));
    }
    Ok(row)
}

pub async fn list(app: &App, access: &Access, query: &ListReferrals) -> Result<Vec<ReferralRow>> {
    let filter = ReferralFilter {
        state: query.state.map(|state| state.as_str().to_owned()),
        organisation: query
            .organisation
            .as_ref()
            .map(|code| code.as_str().to_owned()),
        subdistrict_code: query.subdistrict_code.clone(),
        case_name: query.case.as_ref().map(|case| case.as_str().to_owned()),
        division_prefixes: (!access.unlimited()).then(|| access.division_prefixes()),
        after: query.page.after,
    };
    let mut connection = app.connection("listing referrals").await?;
    Ok(store::list(&mut connection, &filter, query.page.limit).await?)
}

/// Accepts or declines a pending referral for the caller's organisation
/// (FAILED_PRECONDITION once decided) and publishes the answer.
pub async fn decide(
    app: &App,
    access: &Access,
    id: Uuid,
    decision: Decision,
) -> Result<ReferralRow> {
    let context = match decision {
        Decision::Accept { .. } => "accepting a referral",
        Decision::Decline { .. } => "declining a referral",
    };
    let mut transaction = app.begin(context).await?;
    let actor = access::actor(&mut transaction, access).await?;
    access.audit().resource(Collection::Referrals.name(id));
    if !store::lock(&mut transaction, id).await? {
        return Err(not_found(id));
    }
    let referral = load(&mut transaction, id).await?;
    let action = match decision {
        Decision::Accept { .. } => "accepted",
        Decision::Decline { .. } => "declined",
    };
    require_state(
        "referral",
        ReferralState::from_stored(&referral.state)?,
        &[ReferralState::Pending],
        action,
    )
    .map_err(Error::FailedPrecondition)?;
    let now = app.clock.now();
    match decision {
        Decision::Accept { note, plan } => {
            store::accept(
                &mut transaction,
                id,
                actor.organisation.as_str(),
                &actor.subject,
                now,
                &note,
            )
            .await?;
            let support_plan = match plan {
                None => None,
                Some(plan) => {
                    let register = access::register_access(&mut transaction, access).await?;
                    let plan_id = Uuid::now_v7();
                    create_plan(
                        &mut transaction,
                        access,
                        &register,
                        plan_id,
                        &plan,
                        Some((id, referral.case_name.as_str())),
                        now,
                    )
                    .await?;
                    Some(plan_id)
                }
            };
            events::referral_accepted(
                &mut transaction,
                id,
                &referral.case_name,
                actor.organisation.as_str(),
                support_plan,
                now,
            )
            .await?;
        }
        Decision::Decline { reason } => {
            store::decline(
                &mut transaction,
                id,
                actor.organisation.as_str(),
                &actor.subject,
                now,
                &reason,
            )
            .await?;
            events::referral_declined(
                &mut transaction,
                id,
                &referral.case_name,
                actor.organisation.as_str(),
                &reason,
                now,
            )
            .await?;
        }
    }
    let row = load(&mut transaction, id).await?;
    commit(transaction, access, context).await?;
    tracing::info!(referral = %id, case = %referral.case_name, organisation = %actor.organisation, state = %row.state, "referral decided");
    Ok(row)
}
