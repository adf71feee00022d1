//! The matter catalogue. Every change is announced with the whole
//! catalogue (MatterCataloguePublished) in the transaction that makes it.

use std::collections::BTreeMap;

use chrono::Utc;
use flatgov_auth::policy::Access;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use flatgov_proto::duties::v1 as proto;
use sqlx::PgConnection;

use super::DutyListsService;
use super::convert::{
    self, matter_code_from_name, matter_from_proto, matter_name, matter_to_proto,
};
use crate::domain::{ItemCode, Matter, MatterCode, Tier, import};
use crate::error::{DatabaseContext as _, Error};
use crate::events;
use crate::policy::POLICY;
use crate::rules::Rules;
use crate::store::{self, MatterRow};
use crate::store::{bump_revision, lock_rules};

fn row_to_proto(row: &MatterRow) -> Result<proto::Matter, Error> {
    let corrupt = |error: String| Error::Corrupt(error);
    let matter = Matter::new(
        MatterCode::parse(&row.code).map_err(|error| corrupt(error.to_string()))?,
        &row.name,
        row.name_en.as_deref(),
        ItemCode::parse(&row.item_code).map_err(|error| corrupt(error.to_string()))?,
        row.tier
            .as_deref()
            .map(Tier::parse)
            .transpose()
            .map_err(|error| corrupt(error.to_string()))?,
    )
    .map_err(|error| corrupt(error.to_string()))?;
    Ok(matter_to_proto(&matter, row.create_time, row.update_time))
}

/// Records the change and announces the catalogue as it now stands.
async fn commit_catalogue_change(connection: &mut PgConnection) -> Result<(), Error> {
    bump_revision(&mut *connection).await?;
    let after = Rules::read_uncommitted(&mut *connection).await?;
    events::announce_catalogue(connection, &after, Utc::now()).await
}

/// Exceptions scoped to matters about to disappear would never apply again.
async fn refuse_removing_matters_with_exceptions(
    connection: &mut PgConnection,
    matters: &[String],
) -> Result<(), Error> {
    if matters.is_empty() {
        return Ok(());
    }
    let exceptions = store::exceptions::exceptions_for_matters(connection, matters).await?;
    if exceptions.is_empty() {
        return Ok(());
    }
    Err(Error::FailedPrecondition(format!(
        "matters {} are named by exceptions {}; end or delete those first",
        matters.join(", "),
        exceptions.join(", ")
    )))
}

pub(super) async fn get_matter(
    service: &DutyListsService,
    _access: &Access,
    request: proto::GetMatterRequest,
) -> Result<proto::Matter, Error> {
    let code = matter_code_from_name("name", &request.name)?;
    let mut connection = service.pool.acquire().await.context("reading a matter")?;
    let row = store::get_matter(&mut connection, &code)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{} does not exist", request.name)))?;
    row_to_proto(&row)
}

pub(super) async fn list_matters(
    service: &DutyListsService,
    _access: &Access,
    request: proto::ListMattersRequest,
) -> Result<proto::ListMattersResponse, Error> {
    let item = if request.list_item_code.is_empty() {
        None
    } else {
        Some(
            ItemCode::parse(&request.list_item_code)
                .map_err(|error| Error::invalid("list_item_code", error))?
                .to_string(),
        )
    };
    let query = ListQuery::new(&format!(
        "matters list_item_code={}",
        item.as_deref().unwrap_or_default()
    ));
    let page = PageRequest::parse(request.page_size, &request.page_token, &query)?;
    let mut connection = service.pool.acquire().await.context("listing matters")?;
    let mut rows = store::list_matters(
        &mut connection,
        item.as_deref(),
        page.after.as_deref(),
        page.size.fetch_limit(),
    )
    .await?;
    let next_page_token = page
        .size
        .next_page_token(&mut rows, &query, |row| row.code.clone());
    Ok(proto::ListMattersResponse {
        matters: rows.iter().map(row_to_proto).collect::<Result<_, _>>()?,
        next_page_token,
    })
}

pub(super) async fn put_matter(
    service: &DutyListsService,
    access: &Access,
    request: proto::PutMatterRequest,
) -> Result<proto::Matter, Error> {
    let matter = request
        .matter
        .as_ref()
        .ok_or_else(|| Error::invalid("matter", "a matter is required"))?;
    let matter = matter_from_proto("matter", matter)?;
    access.audit().resource(matter_name(matter.code().as_str()));
    let mut transaction = service.pool.begin().await.context("writing a matter")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
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
        store::upsert_matter(&mut transaction, &matter).await?;
        commit_catalogue_change(&mut transaction).await?;
    }
    let row = store::get_matter(&mut transaction, matter.code())
        .await?
        .ok_or_else(|| Error::Corrupt("a matter vanished".into()))?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("writing a matter")?;
    transaction.commit().await.context("writing a matter")?;
    row_to_proto(&row)
}

pub(super) async fn delete_matter(
    service: &DutyListsService,
    access: &Access,
    request: proto::DeleteMatterRequest,
) -> Result<(), Error> {
    let code = matter_code_from_name("name", &request.name)?;
    access.audit().resource(matter_name(code.as_str()));
    let mut transaction = service.pool.begin().await.context("deleting a matter")?;
    lock_rules(&mut transaction).await?;
    refuse_removing_matters_with_exceptions(&mut transaction, &[code.to_string()]).await?;
    if !store::delete_matter(&mut transaction, &code).await? {
        return Err(Error::NotFound(format!("{} does not exist", request.name)));
    }
    commit_catalogue_change(&mut transaction).await?;
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("deleting a matter")?;
    transaction.commit().await.context("deleting a matter")?;
    Ok(())
}

pub(super) async fn import_catalogue(
    service: &DutyListsService,
    access: &Access,
    request: proto::ImportCatalogueRequest,
) -> Result<proto::ImportCatalogueResponse, Error> {
    let format = convert::data_format("format", request.format)?;
    let mut transaction = service
        .pool
        .begin()
        .await
        .context("importing the catalogue")?;
    lock_rules(&mut transaction).await?;
    let rules = service.rules.locked(&mut transaction).await?;
    let known_items = rules.known_items();
    let parsed = match format {
        proto::DataFormat::Json => import::catalogue_from_json(&request.content, &known_items),
        _ => import::catalogue_from_csv(&request.content, &known_items),
    };
    let catalogue = parsed.map_err(super::lists::import_violations)?;
    let current: BTreeMap<&MatterCode, &Matter> = rules
        .catalogue
        .iter()
        .map(|matter| (matter.code(), matter))
        .collect();
    let mut response = proto::ImportCatalogueResponse {
        matter_count: u32::try_from(catalogue.len()).unwrap_or(u32::MAX),
        ..Default::default()
    };
    for matter in catalogue.iter() {
        match current.get(matter.code()) {
            None => response.matters_added.push(matter.code().to_string()),
            Some(existing) if *existing != matter => {
                response.matters_changed.push(matter.code().to_string());
            }
            Some(_) => {}
        }
    }
    response.matters_removed = rules
        .catalogue
        .iter()
        .filter(|matter| catalogue.get(matter.code()).is_none())
        .map(|matter| matter.code().to_string())
        .collect();
    if response.matters_added.is_empty()
        && response.matters_changed.is_empty()
        && response.matters_removed.is_empty()
    {
        transaction
            .rollback()
            .await
            .context("importing the catalogue")?;
        response.unchanged = true;
        return Ok(response);
    }
    refuse_removing_matters_with_exceptions(&mut transaction, &response.matters_removed).await?;
    for code in &response.matters_removed {
        let code = MatterCode::parse(code).map_err(|error| Error::Corrupt(error.to_string()))?;
        store::delete_matter(&mut transaction, &code).await?;
    }
    for matter in catalogue.iter() {
        if current.get(matter.code()) != Some(&matter) {
            store::upsert_matter(&mut transaction, matter).await?;
        }
    }
    commit_catalogue_change(&mut transaction).await?;
    for code in response
        .matters_added
        .iter()
        .chain(&response.matters_changed)
        .chain(&response.matters_removed)
    {
        access.audit().resource(matter_name(code));
    }
    flatgov_grpc::authz::record_in_transaction(&mut transaction, access, POLICY.service)
        .await
        .context("importing the catalogue")?;
    transaction
        .commit()
        .await
        .context("importing the catalogue")?;
    tracing::info!(
        matters = response.matter_count,
        added = response.matters_added.len(),
        changed = response.matters_changed.len(),
        removed = response.matters_removed.len(),
        "matter catalogue imported"
    );
    Ok(response)
}
