//! Disputes, their parties, stages, sessions, agreements, risks and links.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ConsultationRow, DatabaseContext as _, StoreError};
use crate::domain::{DisputeState, Level, RiskKind, SAME_PARTIES, Track};
use flatgov_auth::policy::Reach;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisputeRow {
    pub id: Uuid,
    pub case_name: Option<String>,
    pub dispute_type: String,
    pub community_code: String,
    pub subdistrict_code: String,
    pub summary: String,
    pub party_count: i32,
    pub state: String,
    pub resolution: Option<String>,
    pub current_stage: i32,
    pub register_time: DateTime<Utc>,
    pub close_time: Option<DateTime<Utc>>,
    pub registered_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PartyRow {
    pub number: i32,
    pub role: String,
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StageRow {
    pub number: i32,
    pub level: String,
    pub organisation: String,
    pub mediator: Option<String>,
    pub trigger: String,
    pub hand_over_reason: Option<String>,
    pub start_time: DateTime<Utc>,
    pub due_time: DateTime<Utc>,
    pub outcome: Option<String>,
    pub conclude_time: Option<DateTime<Utc>>,
    pub overdue_time: Option<DateTime<Utc>>,
    /// The legal adviser who mediates, when the mediator is one.
    pub mediator_adviser: Option<Uuid>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub stage_number: i32,
    pub number: i32,
    pub session_time: DateTime<Utc>,
    pub attendees: Vec<String>,
    pub notes: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgreementRow {
    pub stage_number: i32,
    pub terms: String,
    pub performance_deadline: DateTime<Utc>,
    pub confirmation_window_closes: DateTime<Utc>,
    pub sign_time: DateTime<Utc>,
    pub state: String,
    pub follow_up_notes: Option<String>,
    pub follow_up_time: Option<DateTime<Utc>>,
    /// `confirmed`, `refused` or `lapsed`; `None` while the window is open.
    pub confirmation: Option<String>,
    pub confirmation_court: Option<String>,
    pub confirmation_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AcceptanceRow {
    pub stage_number: i32,
    pub party_number: i32,
    pub accept_time: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RiskRow {
    pub kind: String,
    pub flag_time: DateTime<Utc>,
}

/// A dispute with everything recorded about it.
#[derive(Debug, Clone)]
pub struct StoredDispute {
    pub dispute: DisputeRow,
    pub parties: Vec<PartyRow>,
    /// First to current.
    pub stages: Vec<StageRow>,
    pub sessions: Vec<SessionRow>,
    pub agreements: Vec<AgreementRow>,
    pub acceptances: Vec<AcceptanceRow>,
    pub risks: Vec<RiskRow>,
    /// Earlier disputes between the same parties.
    pub links: Vec<Uuid>,
    pub consultations: Vec<ConsultationRow>,
}

impl StoredDispute {
    /// The current stage (the last one).
    pub fn current(&self) -> Result<&StageRow, StoreError> {
        self.stages
            .last()
            .filter(|stage| stage.number == self.dispute.current_stage)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("dispute {} has no current stage", self.dispute.id))
            })
    }

    pub fn state(&self) -> Result<DisputeState, StoreError> {
        DisputeState::parse(&self.dispute.state)
            .ok_or_else(|| StoreError::Corrupt(format!("dispute state {:?}", self.dispute.state)))
    }

    /// What the track's guards need.
    pub fn track(&self) -> Result<Track, StoreError> {
        let current = self.current()?;
        Ok(Track {
            state: self.state()?,
            level: parse_level(&current.level)?,
        })
    }

    /// The agreement of the current stage, if one was signed.
    pub fn current_agreement(&self) -> Option<&AgreementRow> {
        self.agreements
            .iter()
            .find(|agreement| agreement.stage_number == self.dispute.current_stage)
    }
}

pub fn parse_level(text: &str) -> Result<Level, StoreError> {
    Level::parse(text).ok_or_else(|| StoreError::Corrupt(format!("stage level {text:?}")))
}

/// A dispute's columns, for the queries that read whole rows.
macro_rules! dispute_columns {
    () => {
        "d.id, d.case_name, d.dispute_type, d.community_code, d.subdistrict_code, d.summary, \
         d.party_count, d.state, d.resolution, d.current_stage, d.register_time, d.close_time, \
         d.registered_by"
    };
}

/// Loads a dispute; `lock` takes its row for update, so concurrent commands
/// on one dispute apply one after the other.
pub async fn load(
    connection: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<StoredDispute>, StoreError> {
    let sql = if lock {
        concat!(
            "select ",
            dispute_columns!(),
            " from disputes d where id = $1 for update"
        )
    } else {
        concat!(
            "select ",
            dispute_columns!(),
            " from disputes d where id = $1"
        )
    };
    let Some(dispute) = sqlx::query_as::<_, DisputeRow>(sql)
        .bind(id)
        .fetch_optional(&mut *connection)
        .await
        .context("reading a dispute")?
    else {
        return Ok(None);
    };
    let parties = sqlx::query_as(
        "select number, role, name, phone, id_number from parties where dispute_id = $1 order by number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's parties")?;
    let stages = sqlx::query_as(
        "select number, level, organisation, mediator, trigger, hand_over_reason, start_time,
                due_time, outcome, conclude_time, overdue_time, mediator_adviser
           from stages where dispute_id = $1 order by number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's stages")?;
    let sessions = sqlx::query_as(
        "select stage_number, number, session_time, attendees, notes
           from sessions where dispute_id = $1 order by stage_number, number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's sessions")?;
    let agreements = sqlx::query_as(
        "select stage_number, terms, performance_deadline, confirmation_window_closes, sign_time,
                state, follow_up_notes, follow_up_time, confirmation, confirmation_court,
                confirmation_time
           from agreements where dispute_id = $1 order by stage_number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's agreements")?;
    let acceptances = sqlx::query_as(
        "select stage_number, party_number, accept_time
           from acceptances where dispute_id = $1 order by stage_number, party_number",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's acceptances")?;
    let risks = sqlx::query_as(
        "select kind, flag_time from risks where dispute_id = $1 order by flag_time, kind",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's risks")?;
    let links = sqlx::query_scalar(
        "select earlier_id from dispute_links where dispute_id = $1 order by earlier_id",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's links")?;
    let consultations = sqlx::query_as(
        "select stage_number, adviser_id, consultation_time, notes
           from consultations where dispute_id = $1 order by stage_number, consultation_time",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .context("reading a dispute's consultations")?;
    Ok(Some(StoredDispute {
        consultations,
        dispute,
        parties,
        stages,
        sessions,
        agreements,
        acceptances,
        risks,
        links,
    }))
}

pub async fn insert_dispute(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
    parties: &[PartyRow],
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into disputes (id, case_name, dispute_type, community_code, subdistrict_code,
             summary, party_count, state, resolution, current_stage, register_time, close_time,
             registered_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(dispute.id)
    .bind(&dispute.case_name)
    .bind(&dispute.dispute_type)
    .bind(&dispute.community_code)
    .bind(&dispute.subdistrict_code)
    .bind(&dispute.summary)
    .bind(dispute.party_count)
    .bind(&dispute.state)
    .bind(&dispute.resolution)
    .bind(dispute.current_stage)
    .bind(dispute.register_time)
    .bind(dispute.close_time)
    .bind(&dispute.registered_by)
    .execute(&mut *connection)
    .await
    .context("registering a dispute")?;
    for party in parties {
        sqlx::query(
            "insert into parties (dispute_id, number, role, name, phone, id_number)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(dispute.id)
        .bind(party.number)
        .bind(&party.role)
        .bind(&party.name)
        .bind(&party.phone)
        .bind(&party.id_number)
        .execute(&mut *connection)
        .await
        .context("recording a party")?;
    }
    Ok(())
}

/// Writes a dispute's state, resolution, current stage and close time.
pub async fn update_dispute(
    connection: &mut PgConnection,
    dispute: &DisputeRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "update disputes set state = $2, resolution = $3, current_stage = $4, close_time = $5
          where id = $1",
    )
    .bind(dispute.id)
    .bind(&dispute.state)
    .bind(&dispute.resolution)
    .bind(dispute.current_stage)
    .bind(dispute.close_time)
    .execute(connection)
    .await
    .context("updating a dispute")?;
    Ok(())
}

pub async fn insert_stage(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    stage: &StageRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into stages (dispute_id, number, level, organisation, mediator, trigger,
             hand_over_reason, start_time, due_time, outcome, conclude_time, overdue_time,
             mediator_adviser)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(dispute_id)
    .bind(stage.number)
    .bind(&stage.level)
    .bind(&stage.organisation)
    .bind(&stage.mediator)
    .bind(&stage.trigger)
    .bind(&stage.hand_over_reason)
    .bind(stage.start_time)
    .bind(stage.due_time)
    .bind(&stage.outcome)
    .bind(stage.conclude_time)
    .bind(stage.overdue_time)
    .bind(stage.mediator_adviser)
    .execute(connection)
    .await
    .context("starting a stage")?;
    Ok(())
}

/// Writes a stage's mediator, outcome and overdue mark.
pub async fn update_stage(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    stage: &StageRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "update stages set mediator = $3, outcome = $4, conclude_time = $5, overdue_time = $6,
                mediator_adviser = $7
          where dispute_id = $1 and number = $2",
    )
    .bind(dispute_id)
    .bind(stage.number)
    .bind(&stage.mediator)
    .bind(&stage.outcome)
    .bind(stage.conclude_time)
    .bind(stage.overdue_time)
    .bind(stage.mediator_adviser)
    .execute(connection)
    .await
    .context("updating a stage")?;
    Ok(())
}

pub async fn insert_session(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    session: &SessionRow,
    recorded_by: &str,
    record_time: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into sessions (dispute_id, stage_number, number, session_time, attendees, notes,
             recorded_by, record_time)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(dispute_id)
    .bind(session.stage_number)
    .bind(session.number)
    .bind(session.session_time)
    .bind(&session.attendees)
    .bind(&session.notes)
    .bind(recorded_by)
    .bind(record_time)
    .execute(connection)
    .await
    .context("recording a session")?;
    Ok(())
}

pub async fn insert_agreement(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    agreement: &AgreementRow,
    acceptances: &[AcceptanceRow],
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into agreements (dispute_id, stage_number, terms, performance_deadline,
             confirmation_window_closes, sign_time, state)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(dispute_id)
    .bind(agreement.stage_number)
    .bind(&agreement.terms)
    .bind(agreement.performance_deadline)
    .bind(agreement.confirmation_window_closes)
    .bind(agreement.sign_time)
    .bind(&agreement.state)
    .execute(&mut *connection)
    .await
    .context("recording an agreement")?;
    for acceptance in acceptances {
        sqlx::query(
            "insert into acceptances (dispute_id, stage_number, party_number, accept_time)
             values ($1, $2, $3, $4)",
        )
        .bind(dispute_id)
        .bind(acceptance.stage_number)
        .bind(acceptance.party_number)
        .bind(acceptance.accept_time)
        .execute(&mut *connection)
        .await
        .context("recording an acceptance")?;
    }
    Ok(())
}

/// Writes the follow-up visit of an agreement.
pub async fn update_agreement(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    agreement: &AgreementRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "update agreements set state = $3, follow_up_notes = $4, follow_up_time = $5
          where dispute_id = $1 and stage_number = $2",
    )
    .bind(dispute_id)
    .bind(agreement.stage_number)
    .bind(&agreement.state)
    .bind(&agreement.follow_up_notes)
    .bind(agreement.follow_up_time)
    .execute(connection)
    .await
    .context("recording a follow-up visit")?;
    Ok(())
}

/// What a list of disputes is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct DisputeFilter {
    /// A subdistrict or community code the dispute's community starts with.
    pub division_prefix: Option<String>,
    pub state: Option<DisputeState>,
}

/// Disputes newest first after `after` (register time, id), of those
/// `reach` covers: in a division it covers, or at a current stage its
/// organisation mediates.
pub async fn list(
    connection: &mut PgConnection,
    filter: &DisputeFilter,
    reach: Option<&Reach>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DisputeRow>, StoreError> {
    let (prefixes, organisation) = match reach {
        None => (None, None),
        Some(reach) => (
            Some(reach.division_prefixes.clone()),
            reach.organisation.clone(),
        ),
    };
    const SQL: &str = concat!(
        "select ",
        dispute_columns!(),
        " from disputes d
          where ($1::text is null or d.community_code like $1 || '%')
            and ($2::text is null or d.state = $2)
            and ($3::text[] is null
                 or exists (select 1 from unnest($3::text[]) p where d.community_code like p || '%')
                 or exists (select 1 from stages s
                             where s.dispute_id = d.id and s.number = d.current_stage
                               and s.organisation = $4))
            and ($5::timestamptz is null or (d.register_time, d.id) < ($5, $6))
          order by d.register_time desc, d.id desc
          limit $7"
    );
    sqlx::query_as(SQL)
        .bind(&filter.division_prefix)
        .bind(filter.state.map(DisputeState::as_str))
        .bind(prefixes)
        .bind(organisation)
        .bind(after.map(|(time, _)| time))
        .bind(after.map(|(_, id)| id))
        .bind(limit)
        .fetch_all(connection)
        .await
        .context("listing disputes")
}

/// Running stages whose time limit passed before `now` and that no replica
/// marked yet: their disputes' ids.
pub async fn due_stages(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select dispute_id from stages
          where outcome is null and overdue_time is null and due_time <= $1
          order by due_time limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("finding passed time limits")
}

/// Takes the dispute of a passed limit for this replica: `None` when another
/// replica holds it (`SKIP LOCKED`) or already acted on it.
pub async fn lock_due(
    connection: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<StoredDispute>, StoreError> {
    let taken: Option<Uuid> = sqlx::query_scalar(
        "select d.id from disputes d
           join stages s on s.dispute_id = d.id and s.number = d.current_stage
          where d.id = $1 and s.outcome is null and s.overdue_time is null and s.due_time <= $2
          for update of d skip locked",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *connection)
    .await
    .context("taking a passed time limit")?;
    match taken {
        Some(id) => load(connection, id, false).await,
        None => Ok(None),
    }
}

/// Records the court's decision on the agreement of `stage_number`, if its
/// window is still open and undecided at `at`; false otherwise.
pub async fn decide_confirmation(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    stage_number: i32,
    decision: &str,
    court: &str,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "update agreements set confirmation = $3, confirmation_court = $4, confirmation_time = $5
          where dispute_id = $1 and stage_number = $2 and confirmation is null
            and confirmation_window_closes >= $5",
    )
    .bind(dispute_id)
    .bind(stage_number)
    .bind(decision)
    .bind(court)
    .bind(at)
    .execute(connection)
    .await
    .context("recording a judicial confirmation")?;
    Ok(updated.rows_affected() == 1)
}

/// An agreement whose confirmation window lapsed, with what its event needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LapsedWindow {
    pub dispute_id: Uuid,
    pub stage_number: i32,
    pub case_name: Option<String>,
    pub subdistrict_code: String,
    pub confirmation_window_closes: DateTime<Utc>,
}

/// Marks every window closed before `now` without a decision as lapsed, up
/// to `limit` of them. One statement: a window lapses once whichever replica
/// runs it.
pub async fn lapse_windows(
    connection: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<LapsedWindow>, StoreError> {
    sqlx::query_as(
        "with lapsed as (
             update agreements a set confirmation = 'lapsed', confirmation_time = $1
              where (a.dispute_id, a.stage_number) in (
                        select dispute_id, stage_number from agreements
                         where confirmation is null and confirmation_window_closes < $1
                         order by confirmation_window_closes
                         limit $2
                         for update skip locked)
              returning a.dispute_id, a.stage_number, a.confirmation_window_closes)
         select l.dispute_id, l.stage_number, d.case_name, d.subdistrict_code,
                l.confirmation_window_closes
           from lapsed l join disputes d on d.id = l.dispute_id",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(connection)
    .await
    .context("lapsing confirmation windows")
}

/// Flags `kind` on a dispute; false when it was flagged before.
pub async fn insert_risk(
    connection: &mut PgConnection,
    dispute_id: Uuid,
    kind: RiskKind,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "insert into risks (dispute_id, kind, flag_time) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(dispute_id)
    .bind(kind.as_str())
    .bind(at)
    .execute(connection)
    .await
    .context("flagging a risk")?;
    Ok(inserted.rows_affected() == 1)
}

/// Earlier disputes of `subdistrict` sharing at least `SAME_PARTIES` of
/// `phones` with dispute `id`.
pub async fn earlier_between_same_parties(
    connection: &mut PgConnection,
    id: Uuid,
    subdistrict: &str,
    phones: &[String],
) -> Result<Vec<Uuid>, StoreError> {
    sqlx::query_scalar(
        "select p.dispute_id from parties p join disputes d on d.id = p.dispute_id
          where p.phone = any($1) and d.subdistrict_code = $2 and d.id <> $3
          group by p.dispute_id having count(distinct p.phone) >= $4
          order by p.dispute_id",
    )
    .bind(phones)
    .bind(subdistrict)
    .bind(id)
    .bind(SAME_PARTIES)
    .fetch_all(connection)
    .await
    .context("finding repeat disputes")
}

pub async fn insert_links(
    connection: &mut PgConnection,
    id: Uuid,
    earlier: &[Uuid],
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into dispute_links (dispute_id, earlier_id)
         select $1, unnest($2::uuid[]) on conflict do nothing",
    )
    .bind(id)
    .bind(earlier)
    .execute(connection)
    .await
    .context("linking repeat disputes")?;
    Ok(())
}
