//! The registry of legal advisers (法律顾问) hired by communities and
//! units. An adviser's phone is personal data, shown only by ListAdvisers
//! (audited).

use flatgov_auth::policy::{Access, Resource};
use flatgov_grpc::idempotency::{self, Fingerprint};
use flatgov_grpc::request_id::RequestId;
use uuid::Uuid;

use super::{Mediation, record_audit};
use crate::error::Error;
use crate::store::{self, AdviserRow, DatabaseContext as _};
use flatgov_auth::policy::Reach;

/// Whose adviser they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Employer {
    /// A community (12-digit code).
    Community(String),
    /// A unit: a department's or organisation's code.
    Unit(String),
}

#[derive(Debug, Clone)]
pub struct CreateAdviser {
    pub display_name: String,
    pub phone: String,
    pub employer: Employer,
    pub retry: Option<(RequestId, Fingerprint)>,
}

pub fn adviser_name(id: Uuid) -> String {
    format!("advisers/{id}")
}

async fn read(mediation: &Mediation, name: &str) -> Result<AdviserRow, Error> {
    let id = flatgov_vocabulary::parse_id::<Uuid>(name, "advisers")
        .map_err(|_| Error::corrupt(format!("remembered resource {name:?}")))?;
    let mut connection = mediation
        .pool
        .acquire()
        .await
        .context("reading an adviser")?;
    store::get_adviser(&mut connection, id)
        .await?
        .ok_or_else(|| Error::corrupt(format!("adviser {id} vanished")))
}

pub async fn create(
    mediation: &Mediation,
    access: &Access,
    command: CreateAdviser,
) -> Result<AdviserRow, Error> {
    let reaches = match &command.employer {
        Employer::Community(code) => access.reaches(&Resource::in_division(code)),
        // Units serve the whole district: district-wide administrators only.
        Employer::Unit(_) => access.unlimited(),
    };
    if !reaches {
        return Err(Error::NotFound(
            "the caller registers no advisers there".into(),
        ));
    }
    if let Some((request_id, fingerprint)) = &command.retry {
        let mut connection = mediation
            .pool
            .acquire()
            .await
            .context("recalling a request id")?;
        if let Some(first) =
            idempotency::recall(&mut connection, access, request_id, *fingerprint).await?
        {
            drop(connection);
            return read(mediation, &first).await;
        }
    }
    let (community_code, unit) = match command.employer {
        Employer::Community(code) => (Some(code), None),
        Employer::Unit(code) => (None, Some(code)),
    };
    let row = AdviserRow {
        id: Uuid::now_v7(),
        display_name: command.display_name,
        phone: command.phone,
        community_code,
        unit,
        create_time: mediation.clock.now(),
    };
    let name = adviser_name(row.id);
    let mut transaction = mediation
        .pool
        .begin()
        .await
        .context("registering an adviser")?;
    if let Some((request_id, fingerprint)) = &command.retry
        && let Err(error) =
            idempotency::remember(&mut transaction, access, request_id, *fingerprint, &name).await
    {
        transaction
            .rollback()
            .await
            .context("registering an adviser")?;
        if flatgov_grpc::error::is_unique_violation(&error) {
            let mut connection = mediation
                .pool
                .acquire()
                .await
                .context("recalling a request id")?;
            let first = idempotency::recall(&mut connection, access, request_id, *fingerprint)
                .await?
                .ok_or_else(|| Error::corrupt("a remembered request id vanished"))?;
            drop(connection);
            return read(mediation, &first).await;
        }
        return Err(Error::database("remembering a request id", error));
    }
    store::insert_adviser(&mut transaction, &row).await?;
    access.audit().resource(name);
    record_audit(&mut transaction, access, "registering an adviser").await?;
    transaction
        .commit()
        .await
        .context("registering an adviser")?;
    Ok(row)
}

#[derive(Debug, Clone)]
pub struct ListAdvisers {
    pub division_prefix: Option<String>,
    pub after: Option<Uuid>,
    pub fetch_limit: i64,
}

pub async fn list(
    mediation: &Mediation,
    access: &Access,
    command: &ListAdvisers,
) -> Result<Vec<AdviserRow>, Error> {
    let reach = Reach::of(access).map(|reach| reach.division_prefixes);
    let mut connection = mediation.pool.acquire().await.context("listing advisers")?;
    let rows = store::list_advisers(
        &mut connection,
        command.division_prefix.as_deref(),
        reach.as_deref(),
        command.after,
        command.fetch_limit,
    )
    .await?;
    for row in &rows {
        access.audit().resource(adviser_name(row.id));
    }
    Ok(rows)
}
