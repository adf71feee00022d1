//! Reading every rule at once, for the in-memory snapshot
//! ([`crate::rules::Rules`]): departments, list versions with their items,
//! the matter catalogue and the place exceptions, as the domain's types.

use flatgov_vocabulary::{DepartmentCode, MatterCode};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::exceptions::{EXCEPTION_COLUMNS, ExceptionRow};
use super::matters::MatterRow;
use super::{DatabaseContext as _, StoreError};
use crate::domain::{
    Department, Departments, DraftList, DutyLists, ItemCode, ItemFields, ListContent, ListItem,
    ListKind, Matter, MatterCatalogue, PlaceExceptions, Tier, VersionNumber, WorkingDuration,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::corrupt(what)
}

/// Whether a list version is being edited or in the published history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    Draft,
    Published,
}

/// What the domain's versions do not carry: who published, and when each
/// row was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub state: VersionState,
    pub effective_from: Option<DateTime<Utc>>,
    pub publish_time: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn load_departments(connection: &mut PgConnection) -> Result<Departments, StoreError> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("select code, name, name_en from departments order by code")
            .fetch_all(connection)
            .await
            .context("reading departments")?;
    let mut departments = Vec::with_capacity(rows.len());
    for (code, name, name_en) in rows {
        let code = DepartmentCode::parse(&code).map_err(corrupt)?;
        departments.push(Department::new(code, &name, name_en.as_deref()).map_err(corrupt)?);
    }
    Departments::new(departments).map_err(|errors| corrupt(format!("{errors:?}")))
}

/// A `list_items` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    pub list_kind: String,
    pub version_number: i32,
    pub code: String,
    pub category: String,
    pub category_en: Option<String>,
    pub name: String,
    pub name_en: Option<String>,
    pub description: String,
    pub legal_basis: String,
    pub handling_level: String,
    pub lead_department: Option<String>,
    pub cooperating_departments: Vec<String>,
    pub default_tier: String,
    pub response_limit: String,
    pub resolution_limit: String,
}

impl ItemRow {
    fn into_item(self) -> Result<ListItem, StoreError> {
        let cooperating_departments = self
            .cooperating_departments
            .iter()
            .map(|code| DepartmentCode::parse(code).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        let fields = ItemFields {
            code: ItemCode::parse(&self.code).map_err(corrupt)?,
            category: self.category,
            category_en: self.category_en,
            name: self.name,
            name_en: self.name_en,
            description: self.description,
            legal_basis: self.legal_basis,
            handling_level: self.handling_level.parse().map_err(corrupt)?,
            lead_department: self
                .lead_department
                .as_deref()
                .map(DepartmentCode::parse)
                .transpose()
                .map_err(corrupt)?,
            cooperating_departments,
            default_tier: Tier::parse(&self.default_tier).map_err(corrupt)?,
            response_limit: WorkingDuration::parse(&self.response_limit).map_err(corrupt)?,
            resolution_limit: WorkingDuration::parse(&self.resolution_limit).map_err(corrupt)?,
        };
        ListItem::new(fields).map_err(corrupt)
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    list_kind: String,
    number: i32,
    state: String,
    effective_from: Option<DateTime<Utc>>,
    publish_time: Option<DateTime<Utc>>,
    published_by: Option<String>,
    create_time: DateTime<Utc>,
    update_time: DateTime<Utc>,
}

pub type LoadedLists = (
    DutyLists,
    BTreeMap<ListKind, DraftList>,
    BTreeMap<(ListKind, VersionNumber), VersionRecord>,
);

pub async fn load_lists(
    connection: &mut PgConnection,
    departments: &Departments,
) -> Result<LoadedLists, StoreError> {
    let version_rows: Vec<VersionRow> = sqlx::query_as(
        "select list_kind, number, state, effective_from, publish_time, published_by,
                create_time, update_time
         from list_versions order by list_kind, number",
    )
    .fetch_all(&mut *connection)
    .await
    .context("reading list versions")?;
    let item_rows: Vec<ItemRow> = sqlx::query_as(
        "select list_kind, version_number, code, category, category_en, name, name_en,
                description, legal_basis, handling_level, lead_department,
                cooperating_departments, default_tier, response_limit, resolution_limit
         from list_items order by list_kind, version_number, code",
    )
    .fetch_all(&mut *connection)
    .await
    .context("reading list items")?;
    let mut items_by_version: BTreeMap<(String, i32), Vec<ListItem>> = BTreeMap::new();
    for row in item_rows {
        let key = (row.list_kind.clone(), row.version_number);
        items_by_version
            .entry(key)
            .or_default()
            .push(row.into_item()?);
    }
    let mut lists = DutyLists::new();
    let mut drafts = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for row in version_rows {
        let kind = ListKind::parse(&row.list_kind).map_err(corrupt)?;
        let number = u32::try_from(row.number)
            .ok()
            .and_then(VersionNumber::new)
            .ok_or_else(|| corrupt(format!("version number {}", row.number)))?;
        let items = items_by_version
            .remove(&(row.list_kind.clone(), row.number))
            .unwrap_or_default();
        let content = ListContent::new(kind, items, departments).map_err(corrupt)?;
        let draft = DraftList::with_content(number, content);
        let state = match (row.state.as_str(), row.effective_from, row.publish_time) {
            ("draft", _, _) => {
                drafts.insert(kind, draft);
                VersionState::Draft
            }
            ("published", Some(effective_from), Some(publish_time)) => {
                lists
                    .publish(&draft, effective_from, publish_time)
                    .map_err(corrupt)?;
                VersionState::Published
            }
            (state, _, _) => return Err(corrupt(format!("version state {state:?}"))),
        };
        versions.insert(
            (kind, number),
            VersionRecord {
                state,
                effective_from: row.effective_from,
                publish_time: row.publish_time,
                published_by: row.published_by,
                create_time: row.create_time,
                update_time: row.update_time,
            },
        );
    }
    Ok((lists, drafts, versions))
}

pub async fn load_catalogue(
    connection: &mut PgConnection,
    known_items: &BTreeSet<ItemCode>,
) -> Result<MatterCatalogue, StoreError> {
    let rows: Vec<MatterRow> = sqlx::query_as(
        "select code, name, name_en, item_code, tier, create_time, update_time
         from matters order by code",
    )
    .fetch_all(connection)
    .await
    .context("reading the matter catalogue")?;
    let mut matters = Vec::with_capacity(rows.len());
    for row in rows {
        matters.push(
            Matter::new(
                MatterCode::parse(&row.code).map_err(corrupt)?,
                &row.name,
                row.name_en.as_deref(),
                ItemCode::parse(&row.item_code).map_err(corrupt)?,
                row.tier
                    .as_deref()
                    .map(Tier::parse)
                    .transpose()
                    .map_err(corrupt)?,
            )
            .map_err(corrupt)?,
        );
    }
    MatterCatalogue::new(matters, known_items).map_err(corrupt)
}

pub async fn load_exceptions(
    connection: &mut PgConnection,
    departments: &Departments,
) -> Result<PlaceExceptions, StoreError> {
    let rows: Vec<ExceptionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {EXCEPTION_COLUMNS} from place_exceptions order by create_time, id"
    )))
    .fetch_all(connection)
    .await
    .context("reading place exceptions")?;
    let exceptions = rows
        .iter()
        .map(ExceptionRow::to_exception)
        .collect::<Result<Vec<_>, _>>()?;
    PlaceExceptions::new(exceptions, departments).map_err(corrupt)
}
