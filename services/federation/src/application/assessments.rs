//! Needs assessments of people on the register: reached by whoever
//! reaches the person.

use chrono::{DateTime, Utc};
use flatgov_auth::policy::Access;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{App, Page, Retry, claim, commit, recall};
use crate::access::{self, RegisterAccess};
use crate::domain::codes::Collection;
use crate::domain::kinds::{NeedArea, Severity};
use crate::error::{Error, Result};
use crate::store::people::{self as store, AssessmentRow};

/// One need found: its area, how severe, and in the assessor's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub area: NeedArea,
    pub severity: Severity,
    pub description: String,
}

/// A need as stored in `assessments.needs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredNeed {
    area: String,
    severity: String,
    description: String,
}

/// An assessment of a person by the caller's organisation.
#[derive(Debug)]
pub struct NewAssessment {
    pub person: Uuid,
    pub needs: Vec<Need>,
    pub summary: String,
    pub assessed_at: DateTime<Utc>,
    pub retry: Option<Retry>,
}

/// An assessment by its person and id.
#[derive(Debug, Clone, Copy)]
pub struct AssessmentId {
    pub person: Uuid,
    pub id: Uuid,
}

/// A page of one person's assessments.
#[derive(Debug)]
pub struct ListAssessments {
    pub person: Uuid,
    pub page: Page<Uuid>,
}

pub fn name(person: Uuid, id: Uuid) -> String {
    Collection::People.child_name(person, Collection::Assessments, id)
}

/// The needs an assessment recorded.
pub fn needs(row: &AssessmentRow) -> Result<Vec<Need>> {
    let stored: Vec<StoredNeed> = serde_json::from_value(row.needs.clone())
        .map_err(|error| Error::Corrupt(format!("assessment needs: {error}")))?;
    stored
        .into_iter()
        .map(|need| {
            Ok(Need {
                area: NeedArea::from_stored(&need.area)?,
                severity: Severity::from_stored(&need.severity)?,
                description: need.description,
            })
        })
        .collect()
}

/// The assessment, NOT_FOUND unless the caller reaches its person; noted
/// in the audit trail.
async fn reachable(
    connection: &mut PgConnection,
    access: &Access,
    register: &RegisterAccess,
    assessment: AssessmentId,
) -> Result<AssessmentRow> {
    register
        .require_person(connection, assessment.person)
        .await?;
    let assessment_name = name(assessment.person, assessment.id);
    let row = store::get_assessment(connection, assessment.id)
        .await?
        .filter(|row| row.person == assessment.person)
        .ok_or_else(|| Error::NotFound(format!("{assessment_name} does not exist")))?;
    access.audit().resource(assessment_name);
    Ok(row)
}

async fn replay(
    app: &App,
    access: &Access,
    register: &RegisterAccess,
    remembered: &str,
) -> Result<AssessmentRow> {
    let (person, id) = Collection::People
        .parse_child(Collection::Assessments, remembered)
        .map_err(|invalid| Error::Corrupt(format!("remembered assessment: {invalid}")))?;
    let mut connection = app.connection("reading an assessment").await?;
    reachable(
        &mut connection,
        access,
        register,
        AssessmentId { person, id },
    )
    .await
}

pub async fn create(
    app: &App,
    access: &Access,
    assessment: NewAssessment,
) -> Result<AssessmentRow> {
    let stored: Vec<StoredNeed> = assessment
        .needs
        .iter()
        .map(|need| StoredNeed {
            area: need.area.as_str().to_owned(),
            severity: need.severity.as_str().to_owned(),
            description: need.description.clone(),
        })
        .collect();
    let needs = serde_json::to_value(&stored).map_err(|error| Error::Corrupt(error.to_string()))?;
    let mut transaction = app.begin("recording an assessment").await?;
    let register = access::register_access(&mut transaction, access).await?;
    if let Some(remembered) = recall(app, access, assessment.retry.as_ref()).await? {
        drop(transaction);
        return replay(app, access, &register, &remembered).await;
    }
    register
        .require_processable(&mut transaction, assessment.person)
        .await?;
    let id = Uuid::now_v7();
    let assessment_name = name(assessment.person, id);
    if let Some(winner) = claim(
        app,
        &mut transaction,
        access,
        assessment.retry.as_ref(),
        &assessment_name,
    )
    .await?
    {
        drop(transaction);
        return replay(app, access, &register, &winner).await;
    }
    store::insert_assessment(
        &mut transaction,
        &store::NewAssessment {
            id,
            person: assessment.person,
            organisation: register.organisation(),
            assessed_by: &register.actor().subject,
            assessed_at: assessment.assessed_at,
            needs,
            summary: &assessment.summary,
        },
    )
    .await?;
    let row = store::get_assessment(&mut transaction, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{assessment_name} does not exist")))?;
    access
        .audit()
        .resource(Collection::People.name(assessment.person));
    access.audit().resource(assessment_name);
    commit(transaction, access, "recording an assessment").await?;
    Ok(row)
}

pub async fn get(app: &App, access: &Access, assessment: AssessmentId) -> Result<AssessmentRow> {
    let mut connection = app.connection("reading an assessment").await?;
    let register = access::register_access(&mut connection, access).await?;
    reachable(&mut connection, access, &register, assessment).await
}

pub async fn list(
    app: &App,
    access: &Access,
    query: &ListAssessments,
) -> Result<Vec<AssessmentRow>> {
    let mut connection = app.connection("listing assessments").await?;
    let register = access::register_access(&mut connection, access).await?;
    register
        .require_person(&mut connection, query.person)
        .await?;
    let rows = store::list_assessments(
        &mut connection,
        query.person,
        query.page.after,
        query.page.limit,
    )
    .await?;
    for row in &rows {
        access.audit().resource(name(row.person, row.id));
    }
    Ok(rows)
}
