//! Innovation and entrepreneurship: programmes, mentors, applications.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Context as _, Result};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgrammeRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub kind: String,
    pub lead_organisation: String,
    pub co_organisers: Vec<String>,
    pub audiences: Vec<String>,
    pub applications_open: DateTime<Utc>,
    pub applications_close: DateTime<Utc>,
    pub places: i32,
    pub state: String,
    pub applications: i64,
    pub accepted: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl ProgrammeRow {
    pub fn organisers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.lead_organisation.as_str())
            .chain(self.co_organisers.iter().map(String::as_str))
    }
}

const PROGRAMME_SELECT: &str = "
    select p.id, p.title, p.description, p.kind, p.lead_organisation,
           coalesce((select array_agg(c.organisation order by c.organisation)
                     from programme_co_organisers c where c.programme = p.id), '{}') as co_organisers,
           p.audiences, p.applications_open, p.applications_close, p.places, p.state,
           (select count(*) from applications a where a.programme = p.id) as applications,
           (select count(*) from applications a
            where a.programme = p.id and a.state in ('accepted', 'completed')) as accepted,
           p.created_by, p.created_at
    from programmes p";

pub async fn get_programme(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ProgrammeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROGRAMME_SELECT} where p.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a programme")
}

pub async fn lock_programme(connection: &mut PgConnection, id: Uuid) -> Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from programmes where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await
            .context("locking a programme")?;
    Ok(locked.is_some())
}

pub struct NewProgramme<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub kind: &'a str,
    pub lead_organisation: &'a str,
    pub audiences: &'a [String],
    pub applications_open: DateTime<Utc>,
    pub applications_close: DateTime<Utc>,
    pub places: i32,
    pub created_by: &'a str,
}

pub async fn insert_programme(
    connection: &mut PgConnection,
    programme: &NewProgramme<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into programmes (id, title, description, kind, lead_organisation, audiences, applications_open, applications_close, places, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(programme.id)
    .bind(programme.title)
    .bind(programme.description)
    .bind(programme.kind)
    .bind(programme.lead_organisation)
    .bind(programme.audiences)
    .bind(programme.applications_open)
    .bind(programme.applications_close)
    .bind(programme.places)
    .bind(programme.created_by)
    .execute(connection)
    .await.context("creating a programme")?;
    Ok(())
}

pub async fn insert_programme_co_organisers(
    connection: &mut PgConnection,
    programme: Uuid,
    organisations: &[String],
) -> Result<()> {
    sqlx::query("insert into programme_co_organisers (programme, organisation) select $1, unnest($2::text[])")
        .bind(programme)
        .bind(organisations)
        .execute(connection)
        .await.context("recording co-organisers")?;
    Ok(())
}

pub async fn close_programme(connection: &mut PgConnection, id: Uuid) -> Result<()> {
    sqlx::query("update programmes set state = 'closed' where id = $1")
        .bind(id)
        .execute(connection)
        .await
        .context("closing a programme")?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct ProgrammeFilter {
    pub organisation: Option<String>,
    pub state: Option<String>,
    pub kind: Option<String>,
    pub after: Option<Uuid>,
}

pub async fn list_programmes(
    connection: &mut PgConnection,
    filter: &ProgrammeFilter,
    limit: i64,
) -> Result<Vec<ProgrammeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROGRAMME_SELECT}
         where ($1::text is null or p.lead_organisation = $1
                or exists (select 1 from programme_co_organisers c where c.programme = p.id and c.organisation = $1))
           and ($2::text is null or p.state = $2)
           and ($3::text is null or p.kind = $3)
           and ($4::uuid is null or p.id < $4)
         order by p.id desc limit $5"
    )))
    .bind(&filter.organisation)
    .bind(&filter.state)
    .bind(&filter.kind)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing programmes")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MentorRow {
    pub id: Uuid,
    pub display_name: String,
    pub expertise: Vec<String>,
    pub organisation: String,
    pub phone: String,
    pub biography: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const MENTOR_COLUMNS: &str =
    "id, display_name, expertise, organisation, phone, biography, active, created_at";

pub async fn get_mentor(connection: &mut PgConnection, id: Uuid) -> Result<Option<MentorRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MENTOR_COLUMNS} from mentors where id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading a mentor")
}

pub struct NewMentor<'a> {
    pub id: Uuid,
    pub display_name: &'a str,
    pub expertise: &'a [String],
    pub organisation: &'a str,
    pub phone: &'a str,
    pub biography: &'a str,
}

pub async fn insert_mentor(
    connection: &mut PgConnection,
    mentor: &NewMentor<'_>,
) -> Result<MentorRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into mentors (id, display_name, expertise, organisation, phone, biography)
         values ($1, $2, $3, $4, $5, $6)
         returning {MENTOR_COLUMNS}"
    )))
    .bind(mentor.id)
    .bind(mentor.display_name)
    .bind(mentor.expertise)
    .bind(mentor.organisation)
    .bind(mentor.phone)
    .bind(mentor.biography)
    .fetch_one(connection)
    .await
    .context("adding a mentor")
}

pub async fn list_mentors(
    connection: &mut PgConnection,
    organisation: Option<&str>,
    expertise: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MentorRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {MENTOR_COLUMNS} from mentors
         where ($1::text is null or organisation = $1) and ($2::text is null or $2 = any(expertise))
           and ($3::uuid is null or id > $3)
         order by id limit $4"
    )))
    .bind(organisation)
    .bind(expertise)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing mentors")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub programme: Uuid,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub project_title: String,
    pub project_summary: String,
    pub team_size: i32,
    pub block_code: Option<String>,
    pub state: String,
    pub decision_note: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    pub mentors: Vec<Uuid>,
}

const APPLICATION_SELECT: &str = "
    select a.id, a.programme, a.applicant_name, a.applicant_phone, a.project_title, a.project_summary,
           a.team_size, a.block_code, a.state, a.decision_note, a.decided_by, a.decided_at, a.submitted_by,
           a.submitted_at,
           coalesce((select array_agg(m.mentor order by m.assigned_at)
                     from application_mentors m where m.application = a.id), '{}') as mentors
    from applications a";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    pub application: Uuid,
    pub milestone: String,
    pub note: String,
    pub final_entry: bool,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn get_application(
    connection: &mut PgConnection,
    id: Uuid,
) -> Result<Option<ApplicationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{APPLICATION_SELECT} where a.id = $1"
    )))
    .bind(id)
    .fetch_optional(connection)
    .await
    .context("reading an application")
}

pub async fn lock_application(connection: &mut PgConnection, id: Uuid) -> Result<bool> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("select id from applications where id = $1 for update")
            .bind(id)
            .fetch_optional(connection)
            .await
            .context("locking an application")?;
    Ok(locked.is_some())
}

pub async fn progress(
    connection: &mut PgConnection,
    applications: &[Uuid],
) -> Result<Vec<ProgressRow>> {
    sqlx::query_as(
        "select application, milestone, note, final as final_entry, recorded_by, recorded_at
         from application_progress where application = any($1) order by recorded_at, id",
    )
    .bind(applications)
    .fetch_all(connection)
    .await
    .context("reading progress")
}

pub struct NewApplication<'a> {
    pub id: Uuid,
    pub programme: Uuid,
    pub applicant_name: &'a str,
    pub applicant_phone: &'a str,
    pub project_title: &'a str,
    pub project_summary: &'a str,
    pub team_size: i32,
    pub block_code: Option<&'a str>,
    pub submitted_by: &'a str,
}

pub async fn insert_application(
    connection: &mut PgConnection,
    application: &NewApplication<'_>,
) -> Result<()> {
    sqlx::query(
        "insert into applications (id, programme, applicant_name, applicant_phone, project_title, project_summary, team_size, block_code, submitted_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(application.id)
    .bind(application.programme)
    .bind(application.applicant_name)
    .bind(application.applicant_phone)
    .bind(application.project_title)
    .bind(application.project_summary)
    .bind(application.team_size)
    .bind(application.block_code)
    .bind(application.submitted_by)
    .execute(connection)
    .await.context("submitting an application")?;
    Ok(())
}

pub async fn decide(
    connection: &mut PgConnection,
    id: Uuid,
    state: &str,
    note: &str,
    decided_by: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "update applications set state = $2, decision_note = $3, decided_by = $4, decided_at = $5 where id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(note)
    .bind(decided_by)
    .bind(at)
    .execute(connection)
    .await.context("deciding an application")?;
    Ok(())
}

pub async fn places_taken(connection: &mut PgConnection, programme: Uuid) -> Result<i64> {
    sqlx::query_scalar(
        "select count(*) from applications where programme = $1 and state in ('accepted', 'completed')",
    )
    .bind(programme)
    .fetch_one(connection)
    .await
    .context("counting accepted applications")
}

pub async fn assign_mentor(
    connection: &mut PgConnection,
    application: Uuid,
    mentor: Uuid,
    assigned_by: &str,
) -> Result<()> {
    sqlx::query(
        "insert into application_mentors (application, mentor, assigned_by) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(application)
    .bind(mentor)
    .bind(assigned_by)
    .execute(connection)
    .await
    .context("assigning a mentor")?;
    Ok(())
}

pub async fn insert_progress(
    connection: &mut PgConnection,
    application: Uuid,
    milestone: &str,
    note: &str,
    final_entry: bool,
    recorded_by: &str,
) -> Result<()> {
    sqlx::query(
        "insert into application_progress (id, application, milestone, note, final, recorded_by)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(application)
    .bind(milestone)
    .bind(note)
    .bind(final_entry)
    .bind(recorded_by)
    .execute(&mut *connection)
    .await
    .context("recording progress")?;
    if final_entry {
        sqlx::query("update applications set state = 'completed' where id = $1")
            .bind(application)
            .execute(connection)
            .await
            .context("recording progress")?;
    }
    Ok(())
}

pub async fn list_applications(
    connection: &mut PgConnection,
    programme: Uuid,
    state: Option<&str>,
    mentor: Option<Uuid>,
    submitted_by: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApplicationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{APPLICATION_SELECT}
         where a.programme = $1 and ($2::text is null or a.state = $2)
           and ($3::uuid is null or exists (select 1 from application_mentors m
                                            where m.application = a.id and m.mentor = $3))
           and ($4::text is null or a.submitted_by = $4)
           and ($5::uuid is null or a.id > $5)
         order by a.id limit $6"
    )))
    .bind(programme)
    .bind(state)
    .bind(mentor)
    .bind(submitted_by)
    .bind(after)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("listing applications")
}
