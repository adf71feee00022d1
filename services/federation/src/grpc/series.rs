//! Series of activities: a public directory.

use flatgov_auth::policy::Access;
use flatgov_grpc::error::Violations;
use flatgov_grpc::paging::ListQuery;
use flatgov_grpc::time::timestamp;
use flatgov_proto::federation::v1 as proto;

use super::FederationService;
use super::parse::{self, Listing, finish};
use crate::application::series::{self as app, ListSeries, NewSeries};
use crate::domain::codes::{SeriesCode, organisation_name, parse_series_name, series_name};
use crate::domain::text;
use crate::error::{Error, Result};
use crate::store::activities::SeriesRow;

fn render(row: SeriesRow) -> proto::Series {
    proto::Series {
        name: series_name(&row.code),
        code: row.code,
        display_name: row.display_name,
        display_name_en: row.display_name_en,
        organisation: organisation_name(&row.organisation),
        description: row.description,
        create_time: Some(timestamp(row.created_at)),
    }
}

impl TryFrom<proto::CreateSeriesRequest> for NewSeries {
    type Error = Error;

    fn try_from(request: proto::CreateSeriesRequest) -> Result<Self> {
        let mut violations = Violations::new();
        let code = violations.check("code", SeriesCode::parse(request.code.trim()));
        let display_name =
            violations.check("display_name", text::required(&request.display_name, 100));
        let display_name_en = violations.check(
            "display_name_en",
            text::optional(&request.display_name_en, 200),
        );
        let description =
            violations.check("description", text::optional(&request.description, 2000));
        finish(violations, || {
            Some(NewSeries {
                code: code?,
                display_name: display_name?,
                display_name_en: display_name_en?,
                description: description?,
            })
        })
    }
}

impl TryFrom<proto::ListSeriesRequest> for Listing<ListSeries> {
    type Error = Error;

    fn try_from(mut request: proto::ListSeriesRequest) -> Result<Self> {
        let page_size = std::mem::take(&mut request.page_size);
        let page_token = std::mem::take(&mut request.page_token);
        let mut violations = Violations::new();
        let paged = parse::page(
            &mut violations,
            ListQuery::of_request("series", &request),
            page_size,
            &page_token,
        );
        let organisation = violations.check(
            "organisation",
            parse::optional_organisation(&request.organisation),
        );
        finish(violations, || {
            let (paging, page) = paged?;
            Some(Listing {
                query: ListSeries {
                    organisation: organisation?,
                    page,
                },
                paging,
            })
        })
    }
}

pub async fn create_series(
    service: &FederationService,
    access: &Access,
    request: proto::CreateSeriesRequest,
) -> Result<proto::Series> {
    let series = NewSeries::try_from(request)?;
    Ok(render(app::create(&service.app, access, series).await?))
}

pub async fn get_series(
    service: &FederationService,
    _access: &Access,
    request: proto::GetSeriesRequest,
) -> Result<proto::Series> {
    let mut violations = Violations::new();
    let code = violations.check("name", parse_series_name(&request.name));
    let code = finish(violations, || code)?;
    Ok(render(app::get(&service.app, &code).await?))
}

pub async fn list_series(
    service: &FederationService,
    _access: &Access,
    request: proto::ListSeriesRequest,
) -> Result<proto::ListSeriesResponse> {
    let listing = Listing::<ListSeries>::try_from(request)?;
    let mut rows = app::list(&service.app, &listing.query).await?;
    let next_page_token = listing
        .paging
        .next_page_token(&mut rows, |row| row.code.clone());
    Ok(proto::ListSeriesResponse {
        series: rows.into_iter().map(render).collect(),
        next_page_token,
    })
}
