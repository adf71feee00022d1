//! GetRefusal, ListRefusals, CountRefusals: parse, read what the caller
//! reaches, render.

use std::collections::BTreeMap;

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::duties::v1 as proto;

use super::DutyListsService;
use super::fields::{
    case_reference, department_filter, division_filter, next_page_token, page, period,
};
use super::names::uuid_id;
use crate::application::refusals::{self, GetRefusal, ListRefusals, Refusal};
use crate::application::{Page, TimeKey};
use crate::contract::unit_from_text;
use crate::domain::ItemCode;
use crate::domain::VersionNumber;
use crate::domain::names::{refusal_name, version_name};
use crate::error::Error;
use crate::store::refusals::{RefusalFilter, RefusalRow};

/// The list version in effect that had the refused matter's item, if any.
pub(super) fn version_of(row: &RefusalRow) -> String {
    let kind = ItemCode::parse(&row.item_code).map(|code| code.list());
    let number = row
        .item_version
        .and_then(|number| u32::try_from(number).ok())
        .and_then(VersionNumber::new);
    match (kind, number) {
        (Ok(kind), Some(number)) => version_name(kind, number),
        _ => String::new(),
    }
}

fn render(Refusal(row): &Refusal) -> proto::Refusal {
    proto::Refusal {
        name: refusal_name(row.id),
        matter_code: row.matter_code.clone(),
        list_item_code: row.item_code.clone(),
        list_version: version_of(row),
        from: Some(unit_from_text(&row.from_kind, &row.from_code)),
        to: Some(unit_from_text(&row.to_kind, &row.to_code)),
        reason_code: row.reason_code.clone(),
        reason: row.reason.clone(),
        responsible_instead: Some(unit_from_text(&row.responsible_kind, &row.responsible_code)),
        case: row.case_name.clone().unwrap_or_default(),
        attempted_by: row.attempted_by.clone(),
        caller: row.caller.clone(),
        checked_at: Some(timestamp(row.checked_at)),
        refuse_time: Some(timestamp(row.refuse_time)),
    }
}

impl TryFrom<proto::GetRefusalRequest> for GetRefusal {
    type Error = Error;

    fn try_from(request: proto::GetRefusalRequest) -> Result<Self, Error> {
        let id =
            uuid_id(&request.name, "refusals").map_err(|error| Error::invalid("name", error))?;
        Ok(Self { id })
    }
}

pub(super) async fn get_refusal(
    service: &DutyListsService,
    access: &Access,
    request: proto::GetRefusalRequest,
) -> Result<proto::Refusal, Error> {
    let command = GetRefusal::try_from(request)?;
    let refusal = refusals::get(&service.duties, access, command).await?;
    Ok(render(&refusal))
}

impl TryFrom<proto::ListRefusalsRequest> for ListRefusals {
    type Error = Error;

    fn try_from(request: proto::ListRefusalsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let from_department = violations.check(
            "from_department",
            department_filter(&request.from_department),
        );
        let to_division = violations.check("to_division", division_filter(&request.to_division));
        let case_name = violations.check("case", case_reference(&request.case));
        let period = period(
            request.period_start.as_ref(),
            request.period_end.as_ref(),
            &mut violations,
        );
        let (Some(from_department), Some(to_division), Some(case_name), Some(period)) =
            (from_department, to_division, case_name, period)
        else {
            return Err(Error::from(violations));
        };
        let filter = RefusalFilter {
            from_department,
            to_division,
            matter_code: Some(request.matter_code.clone()).filter(|code| !code.is_empty()),
            reason_code: Some(request.reason_code.clone()).filter(|code| !code.is_empty()),
            case_name,
            period_start: period.start,
            period_end: period.end,
        };
        let query = ListQuery::new(&format!("refusals {filter:?}"));
        let page: Option<Page<TimeKey>> = page(
            request.page_size,
            &request.page_token,
            query,
            &mut violations,
        );
        let Some(page) = page else {
            return Err(Error::from(violations));
        };
        Ok(Self { filter, page })
    }
}

pub(super) async fn list_refusals(
    service: &DutyListsService,
    access: &Access,
    request: proto::ListRefusalsRequest,
) -> Result<proto::ListRefusalsResponse, Error> {
    let command = ListRefusals::try_from(request)?;
    let mut rows = refusals::list(&service.duties, access, &command).await?;
    let next_page_token = next_page_token(&command.page, &mut rows, |Refusal(row)| {
        TimeKey {
            time: row.refuse_time,
            id: row.id,
        }
        .to_string()
    });
    Ok(proto::ListRefusalsResponse {
        refusals: rows.iter().map(render).collect(),
        next_page_token,
    })
}

impl TryFrom<proto::CountRefusalsRequest> for RefusalFilter {
    type Error = Error;

    fn try_from(request: proto::CountRefusalsRequest) -> Result<Self, Error> {
        let mut violations = Violations::new();
        let from_department = violations.check(
            "from_department",
            department_filter(&request.from_department),
        );
        let to_division = violations.check("to_division", division_filter(&request.to_division));
        let period = period(
            request.period_start.as_ref(),
            request.period_end.as_ref(),
            &mut violations,
        );
        let (Some(from_department), Some(to_division), Some(period)) =
            (from_department, to_division, period)
        else {
            return Err(Error::from(violations));
        };
        Ok(Self {
            from_department,
            to_division,
            period_start: period.start,
            period_end: period.end,
            ..Self::default()
        })
    }
}

pub(super) async fn count_refusals(
    service: &DutyListsService,
    access: &Access,
    request: proto::CountRefusalsRequest,
) -> Result<proto::CountRefusalsResponse, Error> {
    let filter = RefusalFilter::try_from(request)?;
    let rows = refusals::count(&service.duties, access, &filter).await?;
    let mut counts: BTreeMap<(String, String, String), proto::RefusalCount> = BTreeMap::new();
    let mut total: u64 = 0;
    for row in rows {
        let refusals = u32::try_from(row.refusals).unwrap_or(u32::MAX);
        total += u64::from(refusals);
        let count = counts
            .entry((
                row.from_kind.clone(),
                row.from_code.clone(),
                row.month.clone(),
            ))
            .or_insert_with(|| proto::RefusalCount {
                from: Some(unit_from_text(&row.from_kind, &row.from_code)),
                month: row.month.clone(),
                refusals: 0,
                by_reason: Default::default(),
            });
        count.refusals = count.refusals.saturating_add(refusals);
        *count.by_reason.entry(row.reason_code).or_insert(0) += refusals;
    }
    Ok(proto::CountRefusalsResponse {
        counts: counts.into_values().collect(),
        total: u32::try_from(total).unwrap_or(u32::MAX),
    })
}
