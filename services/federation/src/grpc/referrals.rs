//! Referrals from the cases service.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::{optional_timestamp, timestamp};
use flatgov_proto::federation::v1 as proto;
use uuid::Uuid;

use super::FederationService;
use super::parse::{self, Listing, finish};
use super::support_plans::parse_plan;
use super::words::{self, ProtoWord};
use crate::access;
use crate::application::referrals::{self as app, Decision, ListReferrals};
use crate::domain::codes::{CaseName, Collection, DivisionCode, DivisionLevel, organisation_name};
use crate::domain::kinds::ReferralState;
use crate::domain::{Invalid, text};
use crate::error::{Error, Result};
use crate::store::referrals::ReferralRow;

/// The referral as the caller may see it: who decided is named to staff
/// and administrators only.
fn render(access: &Access, row: ReferralRow) -> Result<proto::Referral> {
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
        decided_by: if access::shows_staff_ids(access) {
            row.decided_by.unwrap_or_default()
        } else {
            String::new()
        },
        decide_time: optional_timestamp(row.decided_at),
        decline_reason: row.decline_reason,
        support_plan: row
            .support_plan
            .map(|id| Collection::SupportPlans.name(id))
            .unwrap_or_default(),
        note: row.note,
    })
}

fn subdistrict(value: &str) -> std::result::Result<Option<String>, Invalid> {
    parse::optional(value, |value| {
        let division = DivisionCode::parse(value)?;
        if division.level() != DivisionLevel::Subdistrict {
            return Err(Invalid::new("must be a 9-digit subdistrict code"));
        }
        Ok(division.as_str().to_owned())
    })
}

fn named(value: &str) -> Result<Uuid> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Referrals.parse(value));
    finish(violations, || id)
}

impl TryFrom<proto::ListReferralsRequest> for Listing<ListReferrals> {
    type Error = Error;

    fn try_from(mut request: proto::ListReferralsRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page::<Uuid>(
            &mut violations,
            ListQuery::of_request("referrals", &request),
            page_size,
            &page_token,
        );
        let state = violations.check("state", words::optional(request.state));
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        let subdistrict_code =
            violations.check("subdistrict_code", subdistrict(&request.subdistrict_code));
        let case = violations.check("case", parse::optional(&request.case, CaseName::parse));
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListReferrals {
                    state: state?,
                    organisation: organisation?,
                    subdistrict_code: subdistrict_code?,
                    case: case?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn get_referral(
    service: &FederationService,
    access: &Access,
    request: proto::GetReferralRequest,
) -> Result<proto::Referral> {
    let id = named(&request.name)?;
    render(access, app::get(&service.app, access, id).await?)
}

pub async fn list_referrals(
    service: &FederationService,
    access: &Access,
    request: proto::ListReferralsRequest,
) -> Result<proto::ListReferralsResponse> {
    let listing = Listing::<ListReferrals>::try_from(request)?;
    let mut rows = app::list(&service.app, access, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.id.to_string());
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
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Referrals.parse(&request.name));
    let note = violations.check("note", text::optional(&request.note, 2000));
    let plan = request
        .support_plan
        .as_ref()
        .map(|plan| parse_plan(&mut violations, "support_plan", plan));
    let (id, decision) = finish(violations, || {
        let plan = match plan {
            None => None,
            Some(parsed) => Some(parsed?),
        };
        Some((id?, Decision::Accept { note: note?, plan }))
    })?;
    render(
        access,
        app::decide(&service.app, access, id, decision).await?,
    )
}

pub async fn decline_referral(
    service: &FederationService,
    access: &Access,
    request: proto::DeclineReferralRequest,
) -> Result<proto::Referral> {
    let mut violations = Violations::new();
    let id = violations.check("name", Collection::Referrals.parse(&request.name));
    let reason = violations.check("reason", text::required(&request.reason, 2000));
    let (id, reason) = finish(violations, || Some((id?, reason?)))?;
    render(
        access,
        app::decide(&service.app, access, id, Decision::Decline { reason }).await?,
    )
}
