//! The matter catalogue: public to read; changed by district-wide
//! administrators, every change announced with the whole catalogue
//! (MatterCataloguePublished) in the transaction that makes it.

use flatgov_vocabulary::MatterCode;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use sqlx::PgConnection;

use super::{DataFormat, Duties, Page, import_violations, record_audit};
use crate::domain::names::matter_name;
use crate::domain::{ItemCode, Matter, Tier, import};
use crate::error::Error;
use crate::events;
use crate::rules::Rules;
use crate::store::matters::MatterRow;
use crate::store::{self, DatabaseContext as _, StoreError, bump_revision, lock_rules};

/// A matter with when it was written.
#[derive(Debug, Clone)]
pub struct MatterRecord {
    pub matter: Matter,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl TryFrom<MatterRow> for MatterRecord {
    type Error = StoreError;

    fn try_from(row: MatterRow) -> Result<Self, StoreError> {
        let matter = Matter::new(
            MatterCode::parse(&row.code).map_err(StoreError::corrupt)?,
            &row.name,
            row.name_en.as_deref(),
            ItemCode::parse(&row.item_code).map_err(StoreError::corrupt)?,
            row.tier
                .as_deref()
                .map(Tier::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
        )
        .map_err(StoreError::corrupt)?;
        Ok(Self {
            matter,
            create_time: row.create_time,
            update_time: row.update_time,
        })
    }
}

/// Records the change and announces the catalogue as it now stands.
async fn commit_catalogue_change(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    bump_revision(&mut *connection).await?;
    let after = Rules::read_uncommitted(&mut *connection).await?;
    events::announce_catalogue(connection, &after, now).await
}

/// Exceptions scoped to matters about to disappear would never apply again.
async fn refuse_removing_matters_with_exceptions(
    connection: &mut PgConnection,
    matters: &[String],
) -> Result<(), Error> {
    if matters.is_empty() {
        return Ok(());
    }
    let exceptions = store::exceptions::for_matters(connection, matters).await?;
    if exceptions.is_empty() {
        return Ok(());
    }
    Err(Error::FailedPrecondition(format!(
        "matters {} are named by exceptions {}; end or delete those first",
        matters.join(", "),
        exceptions.join(", ")
    )))
}

pub async fn get(duties: &Duties, code: &MatterCode) -> Result<MatterRecord, Error> {
    let mut connection = duties.pool.acquire().await.context("reading a matter")?;
    let row = store::matters::get(&mut connection, code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", matter_name(code.as_str()))))?;
    Ok(MatterRecord::try_from(row)?)
}

/// Matters in code order, optionally of one item.
#[derive(Debug, Clone)]
pub struct ListMatters {
    pub item: Option<ItemCode>,
    pub page: Page<String>,
}

pub async fn list(duties: &Duties, command: &ListMatters) -> Result<Vec<MatterRecord>, Error> {
    let mut connection = duties.pool.acquire().await.context("listing matters")?;
    let item = command.item.map(|item| item.to_string());
    let rows = store::matters::list(
        &mut connection,
        item.as_deref(),
        command.page.after.as_deref(),
        command.page.fetch_limit(),
    )
    .await?;
    rows.into_iter()
        .map(|row| Ok(MatterRecord::try_from(row)?))
        .collect()
}

/// Creates or replaces one matter, whose item must be in a published
/// version or a draft.
pub async fn put(duties: &Duties, access: &Access, matter: Matter) -> Result<MatterRecord, Error> {
    access.audit().resource(matter_name(matter.code().as_str()));
    let mut transaction = store::begin(&duties.pool, "writing a matter").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
    if !rules.known_items().contains(&matter.item()) {
        return Err(Error::invalid(
            "matter.list_item_code",
            format!(
                "matter {} maps to item {}, which is in no published version or draft of lists/{}",
                matter.code(),
                matter.item(),
                matter.item().list()
            ),
        ));
    }
    if rules.catalogue.get(matter.code()) != Some(&matter) {
        store::matters::upsert(&mut transaction, &matter).await?;
        commit_catalogue_change(&mut transaction, duties.clock.now()).await?;
    }
    let row = store::matters::get(&mut transaction, matter.code())
        .await?
        .ok_or_else(|| Error::corrupt("a matter vanished"))?;
    record_audit(&mut transaction, access, "writing a matter").await?;
    store::commit(transaction, "writing a matter").await?;
    Ok(MatterRecord::try_from(row)?)
}

pub async fn delete(duties: &Duties, access: &Access, code: &MatterCode) -> Result<(), Error> {
    let name = matter_name(code.as_str());
    access.audit().resource(name.clone());
    let mut transaction = store::begin(&duties.pool, "deleting a matter").await?;
    lock_rules(&mut transaction).await?;
    refuse_removing_matters_with_exceptions(&mut transaction, &[code.to_string()]).await?;
    if !store::matters::delete(&mut transaction, code).await? {
        return Err(Error::NotFound(format!("{name} does not exist")));
    }
    commit_catalogue_change(&mut transaction, duties.clock.now()).await?;
    record_audit(&mut transaction, access, "deleting a matter").await?;
    store::commit(transaction, "deleting a matter").await?;
    Ok(())
}

/// Replaces the whole catalogue with a file, all or nothing.
#[derive(Debug, Clone)]
pub struct ImportCatalogue {
    pub format: DataFormat,
    pub content: String,
}

/// What an import changed, matter by matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportedCatalogue {
    pub unchanged: bool,
    pub matter_count: usize,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

pub async fn import(
    duties: &Duties,
    access: &Access,
    command: ImportCatalogue,
) -> Result<ImportedCatalogue, Error> {
    let mut transaction = store::begin(&duties.pool, "importing the catalogue").await?;
    lock_rules(&mut transaction).await?;
    let rules = duties.rules.locked(&mut transaction).await?;
    let known_items = rules.known_items();
    let parsed = match command.format {
        DataFormat::Json => import::catalogue_from_json(&command.content, &known_items),
        DataFormat::Csv => import::catalogue_from_csv(&command.content, &known_items),
    };
    let catalogue = parsed.map_err(import_violations)?;
    let current: BTreeMap<&MatterCode, &Matter> = rules
        .catalogue
        .iter()
        .map(|matter| (matter.code(), matter))
        .collect();
    let mut imported = ImportedCatalogue {
        matter_count: catalogue.len(),
        ..Default::default()
    };
    for matter in catalogue.iter() {
        match current.get(matter.code()) {
            None => imported.added.push(matter.code().to_string()),
            Some(existing) if *existing != matter => {
                imported.changed.push(matter.code().to_string());
            }
            Some(_) => {}
        }
    }
    imported.removed = rules
        .catalogue
        .iter()
        .filter(|matter| catalogue.get(matter.code()).is_none())
        .map(|matter| matter.code().to_string())
        .collect();
    if imported.added.is_empty() && imported.changed.is_empty() && imported.removed.is_empty() {
        store::roll_back(transaction, "importing the catalogue").await?;
        imported.unchanged = true;
        return Ok(imported);
    }
    refuse_removing_matters_with_exceptions(&mut transaction, &imported.removed).await?;
    for code in &imported.removed {
        let code = MatterCode::parse(code).map_err(|error| Error::corrupt(error.to_string()))?;
        store::matters::delete(&mut transaction, &code).await?;
    }
    for matter in catalogue.iter() {
        if current.get(matter.code()) != Some(&matter) {
            store::matters::upsert(&mut transaction, matter).await?;
        }
    }
    commit_catalogue_change(&mut transaction, duties.clock.now()).await?;
    for code in imported
        .added
        .iter()
        .chain(&imported.changed)
        .chain(&imported.removed)
    {
        access.audit().resource(matter_name(code));
    }
    record_audit(&mut transaction, access, "importing the catalogue").await?;
    store::commit(transaction, "importing the catalogue").await?;
    tracing::info!(
        matters = imported.matter_count,
        added = imported.added.len(),
        changed = imported.changed.len(),
        removed = imported.removed.len(),
        "matter catalogue imported"
    );
    Ok(imported)
}
