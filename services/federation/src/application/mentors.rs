//! The federation's pool of mentors (创业导师), recruited by member
//! organisations and assigned to any member's programmes. A mentor's phone
//! is personal data: every read is audited.

use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access;
use crate::domain::codes::{Collection, OrganisationCode};
use crate::error::{Error, Result};
use crate::store::innovation::{self as store, MentorRow};

/// A mentor recruited by the caller's organisation.
#[derive(Debug)]
pub struct NewMentor {
    pub display_name: String,
    pub expertise: Vec<String>,
    pub phone: String,
    pub biography: String,
    pub retry: Option<Retry>,
}

/// A page of the pool, filtered.
#[derive(Debug)]
pub struct ListMentors {
    pub organisation: Option<OrganisationCode>,
    pub expertise: Option<String>,
    pub page: Page<Uuid>,
}

/// A mentor of the pool; noted in the audit trail.
pub async fn get(app: &App, access: &Access, id: Uuid) -> Result<MentorRow> {
    let mut connection = app.connection("reading a mentor").await?;
    let row = store::get_mentor(&mut connection, id)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!("{} does not exist", Collection::Mentors.name(id)))
        })?;
    access.audit().resource(Collection::Mentors.name(id));
    Ok(row)
}

async fn replay(app: &App, access: &Access, remembered: &str) -> Result<MentorRow> {
    let id = Collection::Mentors
        .parse(remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered mentor: {invalid}")))?;
    get(app, access, id).await
}

pub async fn create(app: &App, access: &Access, mentor: NewMentor) -> Result<MentorRow> {
    if let Some(remembered) = recall(app, access, mentor.retry.as_ref()).await? {
        return replay(app, access, &remembered).await;
    }
    let mut transaction = app.begin("adding a mentor").await?;
    let actor = access::actor(&mut transaction, access).await?;
    let id = Uuid::now_v7();
    let name = Collection::Mentors.name(id);
    if let Some(winner) = claim(app, &mut transaction, access, mentor.retry.as_ref(), &name).await?
    {
        drop(transaction);
        return replay(app, access, &winner).await;
    }
    let row = store::insert_mentor(
        &mut transaction,
        &store::NewMentor {
            id,
            display_name: &mentor.display_name,
            expertise: &mentor.expertise,
            organisation: actor.organisation.as_str(),
            phone: &mentor.phone,
            biography: &mentor.biography,
        },
    )
    .await?;
    access.audit().resource(name);
    commit(transaction, access, "adding a mentor").await?;
    Ok(row)
}

pub async fn list(app: &App, access: &Access, query: &ListMentors) -> Result<Vec<MentorRow>> {
    let mut connection = app.connection("listing mentors").await?;
    let rows = store::list_mentors(
        &mut connection,
        query.organisation.as_ref().map(OrganisationCode::as_str),
        query.expertise.as_deref(),
        query.page.after,
        query.page.limit,
    )
    .await?;
    for row in &rows {
        access.audit().resource(Collection::Mentors.name(row.id));
    }
    Ok(rows)
}
