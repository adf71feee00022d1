//! The registry's use cases, one module per resource: each takes a command
//! (a request already parsed into domain values, every field checked), what
//! the policy layer granted the caller ([`Access`]), and the registry's
//! state, and answers in domain values. Nothing here knows protobuf: the
//! gRPC layer ([`crate::grpc`]) parses and renders around these.
//!
//! Every use case of an RPC the policy table marks as a write or a read of
//! personal data names the resources it touched on the call's audit note;
//! a write records the call inside its own transaction ([`finish`]).

pub mod activation;
pub mod blocks;
pub mod communities;
pub mod districts;
pub mod export;
pub mod generations;
pub mod staff;
pub mod subdistricts;
pub mod teams;

use std::sync::Arc;

use flatgov_auth::policy::Access;
use flatgov_grpc::clock::Clock;
use flatgov_grpc::paging::{ListQuery, PageRequest};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::names::PlaceName;
use crate::domain::validation::ValidationSettings;
use crate::error::Error;
use crate::resources::generation_name;
use crate::snapshot::Registry;
use crate::store;

/// What every use case works with.
#[derive(Debug, Clone)]
pub struct Blocks {
    /// The registry's database.
    pub pool: PgPool,
    /// The in-memory snapshot lookups are served from.
    pub snapshot: Arc<Registry>,
    /// The validation policy activation enforces.
    pub validation: ValidationSettings,
    /// Where the time of every change comes from.
    pub clock: Clock,
}

/// Records the call on the audit trail in `transaction` and commits both:
/// the record of a write commits with the write.
pub(crate) async fn finish(
    mut transaction: Transaction<'static, Postgres>,
    access: &Access,
    context: &'static str,
) -> Result<(), Error> {
    store::calls::record(&mut transaction, access).await?;
    store::commit(transaction, context).await?;
    Ok(())
}

/// GeoJSON text of a geometry.
pub(crate) fn geometry_json(geometry: &geo::MultiPolygon<f64>) -> Result<String, Error> {
    serde_json::to_string(&crate::domain::geometry::to_geojson(geometry))
        .map_err(|error| Error::internal("writing GeoJSON", error))
}

/// GeoJSON text of a geometry as stored.
pub(crate) fn stored_geometry_json(bytes: &[u8]) -> Result<String, Error> {
    let geometry = crate::domain::codec::decode(bytes)
        .map_err(|error| Error::internal("decoding a stored geometry", error))?;
    geometry_json(&geometry)
}

/// NOT_FOUND for a generation: the same words whether it does not exist or
/// the caller may not see it.
pub(crate) fn no_such_generation(id: Uuid) -> Error {
    Error::NotFound(format!("{} does not exist", generation_name(id)))
}

/// FAILED_PRECONDITION while nothing is in force.
pub(crate) fn nothing_in_force() -> Error {
    Error::FailedPrecondition(
        "no boundary generation is in force yet: import blocks and activate a generation first"
            .into(),
    )
}

/// A page of a list: the rows and the next page's token (empty on the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Where the next page starts; empty when this is the last.
    pub next_page_token: String,
}

/// Where a list starts and what its tokens are bound to.
#[derive(Debug, Clone)]
pub struct Paging {
    /// The page size and the key to start after.
    pub page: PageRequest,
    /// The list and its filters, which every token is bound to.
    pub query: ListQuery,
}

impl Paging {
    /// The page of rows fetched with `page.size.fetch_limit()`, cut to size.
    pub fn page_of<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let next_page_token = self.page.size.next_page_token(&mut rows, &self.query, key);
        Page {
            items: rows,
            next_page_token,
        }
    }
}

/// The names an update of a district or community changes: only the fields
/// its mask named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameChanges {
    /// The new name, when the mask names it.
    pub display_name: Option<PlaceName>,
    /// The new English name (`Some(None)` clears it), when the mask names it.
    pub display_name_en: Option<Option<PlaceName>>,
}

impl NameChanges {
    /// The names after the change, from the stored ones.
    pub fn apply(
        &self,
        display_name: &str,
        display_name_en: Option<&str>,
    ) -> (String, Option<String>) {
        (
            self.display_name
                .as_ref()
                .map_or_else(|| display_name.to_owned(), |name| name.as_str().to_owned()),
            match &self.display_name_en {
                Some(name) => name.as_ref().map(|name| name.as_str().to_owned()),
                None => display_name_en.map(str::to_owned),
            },
        )
    }
}
