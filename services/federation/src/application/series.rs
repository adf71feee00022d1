//! Series of activities (Youth Home, Youth Night School): a public
//! directory, each series owned by the organisation that created it.

use flatgov_auth::policy::Access;

use super::{App, Page, commit};
use crate::access;
use crate::domain::codes::{OrganisationCode, SeriesCode, series_name};
use crate::error::{Error, Result};
use crate::store::activities::{self as store, SeriesRow};

/// A new series, owned by the caller's organisation.
#[derive(Debug)]
pub struct NewSeries {
    pub code: SeriesCode,
    pub display_name: String,
    pub display_name_en: String,
    pub description: String,
}

/// A page of series, optionally of one organisation.
#[derive(Debug)]
pub struct ListSeries {
    pub organisation: Option<OrganisationCode>,
    pub page: Page<String>,
}

pub async fn create(app: &App, access: &Access, series: NewSeries) -> Result<SeriesRow> {
    let name = series_name(series.code.as_str());
    let mut transaction = app.begin("creating a series").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let row = store::insert_series(
        &mut transaction,
        series.code.as_str(),
        &series.display_name,
        &series.display_name_en,
        actor.organisation.as_str(),
        &series.description,
    )
    .await?
    .ok_or_else(|| Error::AlreadyExists {
        message: format!("series {} exists already", series.code),
        resource: Some(name.clone()),
    })?;
    access.audit().resource(name);
    commit(transaction, access, "creating a series").await?;
    Ok(row)
}

pub async fn get(app: &App, code: &SeriesCode) -> Result<SeriesRow> {
    let mut connection = app.connection("reading a series").await?;
    store::get_series(&mut connection, code.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", series_name(code.as_str()))))
}

pub async fn list(app: &App, query: &ListSeries) -> Result<Vec<SeriesRow>> {
    let mut connection = app.connection("listing series").await?;
    Ok(store::list_series(
        &mut connection,
        query.organisation.as_ref().map(OrganisationCode::as_str),
        query.page.after.as_deref(),
        query.page.limit,
    )
    .await?)
}
