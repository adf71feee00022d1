//! The catalogue of convenience matters: published whole, as a new version;
//! read by anyone.

use flatgov_auth::policy::Access;
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;

use super::{Errands, record_audit, subject};
use crate::domain::{CatalogueMatter, catalogue_name};
use crate::error::Error;
use crate::events;
use crate::store::{self, CatalogueRow, DatabaseContext as _};

/// A catalogue version with its matters.
#[derive(Debug, Clone)]
pub struct StoredCatalogue {
    pub catalogue: CatalogueRow,
    pub matters: Vec<CatalogueMatter>,
}

pub struct PublishCatalogue {
    pub matters: Vec<CatalogueMatter>,
    pub retry: Option<(RequestId, Fingerprint)>,
}

fn version_of(name: &str) -> Result<i32, Error> {
    name.strip_prefix("catalogue/versions/")
        .and_then(|number| number.parse().ok())
        .ok_or_else(|| Error::corrupt(format!("a remembered catalogue name {name:?}")))
}

pub async fn publish(
    errands: &Errands,
    access: &Access,
    command: PublishCatalogue,
) -> Result<StoredCatalogue, Error> {
    const CONTEXT: &str = "publishing a catalogue";
    if let Some((request_id, fingerprint)) = &command.retry {
        let mut connection = errands.pool.acquire().await.context(CONTEXT)?;
        if let Some(first) =
            idempotency::recall(&mut connection, access, request_id, *fingerprint).await?
        {
            drop(connection);
            return get(errands, Some(version_of(&first)?)).await;
        }
    }
    let now = errands.clock.now();
    let mut transaction = errands.pool.begin().await.context(CONTEXT)?;
    let version =
        store::insert_catalogue(&mut transaction, &command.matters, now, &subject(access)).await?;
    let name = catalogue_name(u32::try_from(version).unwrap_or_default());
    if let Some((request_id, fingerprint)) = &command.retry {
        // A concurrent retry with the same id loses here and its whole
        // transaction (the version it would have published) rolls back.
        idempotency::remember(&mut transaction, access, request_id, *fingerprint, &name)
            .await
            .map_err(|source| Error::database("remembering a request id", source))?;
    }
    events::catalogue_published(&mut transaction, version, command.matters.len(), now).await?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, CONTEXT).await?;
    transaction.commit().await.context(CONTEXT)?;
    tracing::info!(
        version,
        matters = command.matters.len(),
        "catalogue published"
    );
    get(errands, Some(version)).await
}

/// The catalogue version `version`, or the current one; NOT_FOUND when
/// there is none.
pub async fn get(errands: &Errands, version: Option<i32>) -> Result<StoredCatalogue, Error> {
    let mut connection = errands
        .pool
        .acquire()
        .await
        .context("reading the catalogue")?;
    let version = match version {
        Some(version) => version,
        None => store::current_version(&mut connection)
            .await?
            .ok_or_else(|| Error::NotFound("no catalogue has been published".into()))?,
    };
    let (catalogue, matters) = store::load_catalogue(&mut connection, version, None)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{} does not exist",
                catalogue_name(version.max(0) as u32)
            ))
        })?;
    Ok(StoredCatalogue { catalogue, matters })
}
