//! Per-place exceptions as stored. Responsible units are stored as
//! `block_team`, `community`, `subdistrict_platform` or `department:<code>`.

use chrono::{DateTime, Utc};
use flatgov_vocabulary::{DepartmentCode, MatterCode};
use sqlx::PgConnection;

use super::{DatabaseContext as _, StoreError};
use crate::domain::{
    ExceptionId, ExceptionScope, ItemCode, PlaceException, PlaceRef, Responsible, Tier,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(what)
}

/// How a responsible unit is stored: `block_team`, `community`,
/// `subdistrict_platform` or `department:<code>`.
pub fn responsible_to_text(responsible: &Responsible) -> String {
    match responsible {
        Responsible::BlockTeam => "block_team".to_owned(),
        Responsible::Community => "community".to_owned(),
        Responsible::SubdistrictPlatform => "subdistrict_platform".to_owned(),
        Responsible::Department(code) => format!("department:{code}"),
    }
}

pub fn responsible_from_text(text: &str) -> Result<Responsible, StoreError> {
    match text {
        "block_team" => Ok(Responsible::BlockTeam),
        "community" => Ok(Responsible::Community),
        "subdistrict_platform" => Ok(Responsible::SubdistrictPlatform),
        _ => match text.strip_prefix("department:") {
            Some(code) => Ok(Responsible::Department(
                DepartmentCode::parse(code).map_err(corrupt)?,
            )),
            None => Err(corrupt(format!("responsible unit {text:?}"))),
        },
    }
}

/// A `place_exceptions` row.
#[derive(sqlx::FromRow)]
pub struct ExceptionRow {
    pub id: String,
    pub place_kind: String,
    pub place_code: String,
    pub scope_kind: String,
    pub scope_code: String,
    pub lead: String,
    pub cooperating: Vec<String>,
    pub tier: Option<String>,
    pub effective_from: DateTime<Utc>,
    pub effective_until: Option<DateTime<Utc>>,
    pub reason: String,
    pub created_by: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl ExceptionRow {
    pub fn to_exception(&self) -> Result<PlaceException, StoreError> {
        use crate::domain::AreaId;
        use flatgov_vocabulary::{BlockCode, CommunityCode, SubdistrictCode};
        let place = match self.place_kind.as_str() {
            "subdistrict" => {
                PlaceRef::Subdistrict(SubdistrictCode::parse(&self.place_code).map_err(corrupt)?)
            }
            "community" => {
                PlaceRef::Community(CommunityCode::parse(&self.place_code).map_err(corrupt)?)
            }
            "block" => PlaceRef::Block(BlockCode::parse(&self.place_code).map_err(corrupt)?),
            "area" => PlaceRef::Area(AreaId::parse(&self.place_code).map_err(corrupt)?),
            other => return Err(corrupt(format!("place kind {other:?}"))),
        };
        let scope = match self.scope_kind.as_str() {
            "item" => ExceptionScope::Item(ItemCode::parse(&self.scope_code).map_err(corrupt)?),
            "matter" => {
                ExceptionScope::Matter(MatterCode::parse(&self.scope_code).map_err(corrupt)?)
            }
            other => return Err(corrupt(format!("scope kind {other:?}"))),
        };
        Ok(PlaceException {
            id: ExceptionId::parse(&self.id).map_err(corrupt)?,
            place,
            scope,
            lead: responsible_from_text(&self.lead)?,
            cooperating: self
                .cooperating
                .iter()
                .map(|text| responsible_from_text(text))
                .collect::<Result<_, _>>()?,
            tier: self
                .tier
                .as_deref()
                .map(Tier::parse)
                .transpose()
                .map_err(corrupt)?,
            effective_from: self.effective_from,
            effective_until: self.effective_until,
            reason: self.reason.clone(),
        })
    }
}

pub const EXCEPTION_COLUMNS: &str =
    "id, place_kind, place_code, scope_kind, scope_code, lead, cooperating, tier,
     effective_from, effective_until, reason, created_by, create_time, update_time";

fn place_columns(place: &PlaceRef) -> (&'static str, String) {
    match place {
        PlaceRef::Subdistrict(code) => ("subdistrict", code.to_string()),
        PlaceRef::Community(code) => ("community", code.to_string()),
        PlaceRef::Block(code) => ("block", code.to_string()),
        PlaceRef::Area(id) => ("area", id.to_string()),
    }
}

fn scope_columns(scope: &ExceptionScope) -> (&'static str, String) {
    match scope {
        ExceptionScope::Item(code) => ("item", code.to_string()),
        ExceptionScope::Matter(code) => ("matter", code.to_string()),
    }
}

pub async fn insert(
    connection: &mut PgConnection,
    exception: &PlaceException,
    created_by: &str,
) -> Result<(), StoreError> {
    let (place_kind, place_code) = place_columns(&exception.place);
    let (scope_kind, scope_code) = scope_columns(&exception.scope);
    let cooperating: Vec<String> = exception
        .cooperating
        .iter()
        .map(responsible_to_text)
        .collect();
    sqlx::query(
        "insert into place_exceptions (id, place_kind, place_code, scope_kind, scope_code, lead,
             cooperating, tier, effective_from, effective_until, reason, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(exception.id.as_str())
    .bind(place_kind)
    .bind(place_code)
    .bind(scope_kind)
    .bind(scope_code)
    .bind(responsible_to_text(&exception.lead))
    .bind(cooperating)
    .bind(exception.tier.map(|tier| tier.as_str()))
    .bind(exception.effective_from)
    .bind(exception.effective_until)
    .bind(&exception.reason)
    .bind(created_by)
    .execute(connection)
    .await
    .context("creating an exception")?;
    Ok(())
}

pub async fn get(
    connection: &mut PgConnection,
    id: &str,
) -> Result<Option<ExceptionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EXCEPTION_COLUMNS} from place_exceptions where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an exception")
}

pub async fn list(connection: &mut PgConnection) -> Result<Vec<ExceptionRow>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EXCEPTION_COLUMNS} from place_exceptions order by id"
    )))
    .fetch_all(connection)
    .await
    .context("listing exceptions")
}

pub async fn end(
    connection: &mut PgConnection,
    id: &str,
    until: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update place_exceptions set effective_until = $2, update_time = now() where id = $1",
    )
    .bind(id)
    .bind(until)
    .execute(connection)
    .await
    .context("ending an exception")?;
    Ok(())
}

pub async fn delete(connection: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("delete from place_exceptions where id = $1")
        .bind(id)
        .execute(connection)
        .await
        .context("deleting an exception")?;
    Ok(())
}

/// Exceptions scoped to any of `matters`.
pub async fn for_matters(
    connection: &mut PgConnection,
    matters: &[String],
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "select id from place_exceptions where scope_kind = 'matter' and scope_code = any($1)
         order by id",
    )
    .bind(matters)
    .fetch_all(connection)
    .await
    .context("checking exceptions of matters")
}
