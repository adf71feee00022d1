//! What the service publishes, and the one list of what it consumes.
//!
//! Published (through the outbox, in the transaction of the change):
//! `flatgov.duties.list_version.published` (ListVersionPublished),
//! `flatgov.duties.matter_catalogue.published` (MatterCataloguePublished),
//! `flatgov.duties.assignment.refused` (AssignmentRefused),
//! `flatgov.duties.assessment.recorded` (AssessmentRecorded),
//! `flatgov.duties.opinion.recorded` (OpinionRecorded).
//!
//! Consumed: `flatgov.enforcement.agency.rated` (AgencyRated), recorded as
//! the subdistrict's assessment of that department.
//!
//! The catalogue is announced whenever it changes and whenever a published
//! list version takes effect. A version taking effect later is announced
//! by [`run_announcer`] at its effective instant: the due instant is a row
//! in `catalogue_announcements`, claimed with `FOR UPDATE SKIP LOCKED`, so
//! it fires once across replicas and survives restarts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError};
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::enforcement::v1::AgencyRated;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::{
    DepartmentCode, ItemStatus, ListDiff, ListKind, MatterCode, Responsible, SubdistrictCode,
    VersionNumber,
};
use crate::error::{DatabaseContext as _, Error};
use crate::grpc::convert::{optional_tier_to_proto, version_name};
use crate::rules::{Rules, RulesCache};

/// The resource events about the catalogue are ordered under.
pub const CATALOGUE_RESOURCE: &str = "matters";

pub fn list_version_published(
    kind: ListKind,
    number: VersionNumber,
    effective_from: DateTime<Utc>,
    diff: &ListDiff,
) -> proto::ListVersionPublished {
    proto::ListVersionPublished {
        list_version: version_name(kind, number),
        list_kind: kind.as_str().to_owned(),
        effective_from: Some(timestamp(effective_from)),
        items_added: diff.added.iter().map(ToString::to_string).collect(),
        items_removed: diff.removed.iter().map(ToString::to_string).collect(),
        items_changed: diff
            .changed
            .iter()
            .map(|change| change.code.to_string())
            .collect(),
    }
}

/// The whole catalogue with each matter's tier and departments as the
/// lists in effect at `at` give them.
pub fn catalogue_published(rules: &Rules, at: DateTime<Utc>) -> proto::MatterCataloguePublished {
    let in_effect = rules.lists.in_effect_at(at);
    let matters = rules
        .catalogue
        .iter()
        .map(|matter| {
            let item = match in_effect.item_status(matter.item()) {
                ItemStatus::InEffect { item, .. } => Some(item),
                ItemStatus::NotInEffect(_) => None,
            };
            let tier = matter.tier().or(item.map(|item| item.default_tier()));
            let lead_department = match item.map(|item| item.lead()) {
                Some(Responsible::Department(code)) => code.to_string(),
                _ => String::new(),
            };
            let cooperating_departments = item
                .map(|item| item.cooperators())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|cooperator| match cooperator {
                    Responsible::Department(code) => Some(code.to_string()),
                    _ => None,
                })
                .collect();
            proto::CatalogueMatter {
                code: matter.code().to_string(),
                name: matter.name().to_owned(),
                list_item_code: matter.item().to_string(),
                default_tier: optional_tier_to_proto(tier),
                lead_department,
                cooperating_departments,
            }
        })
        .collect();
    proto::MatterCataloguePublished {
        matters,
        effective_from: Some(timestamp(at)),
    }
}

/// Announces the catalogue as of `at` in the caller's transaction.
pub async fn announce_catalogue(
    connection: &mut PgConnection,
    rules: &Rules,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    flatgov_messaging::outbox::enqueue(
        connection,
        CATALOGUE_RESOURCE,
        &catalogue_published(rules, at),
    )
    .await
    .context("announcing the matter catalogue")?;
    Ok(())
}

/// How the announcer waits.
#[derive(Debug, Clone, Copy)]
pub struct AnnouncerConfig {
    /// The longest it sleeps between looks at the schedule, so announcements
    /// scheduled by another replica fire at most this late.
    pub max_sleep: Duration,
}

/// Fires due catalogue announcements until `shutdown`. `wake` is notified
/// after a commit that scheduled one, so it re-reads the schedule.
pub async fn run_announcer(
    pool: PgPool,
    rules: Arc<RulesCache>,
    wake: Arc<Notify>,
    config: AnnouncerConfig,
    shutdown: CancellationToken,
) {
    loop {
        let sleep_for = match announce_due(&pool, &rules).await {
            Ok(next_due) => next_due
                .map(|due| {
                    (due - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .min(config.max_sleep)
                })
                .unwrap_or(config.max_sleep),
            Err(error) => {
                tracing::warn!(%error, "cannot announce the catalogue yet");
                Duration::from_secs(1).min(config.max_sleep)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(sleep_for) => {}
        }
    }
}

/// Announces once for every announcement due now (several due together
/// collapse into one: the catalogue as of the latest of them), and returns
/// when the next one is due.
async fn announce_due(pool: &PgPool, rules: &RulesCache) -> Result<Option<DateTime<Utc>>, Error> {
    let mut transaction = pool.begin().await.context("announcing the catalogue")?;
    let due: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "select id, due_at from catalogue_announcements
         where announced_at is null and due_at <= now()
         order by due_at for update skip locked",
    )
    .fetch_all(&mut *transaction)
    .await
    .context("claiming due announcements")?;
    if let Some(latest) = due.iter().map(|(_, due_at)| *due_at).max() {
        let current = rules.current(pool).await?;
        if !current.catalogue.is_empty() {
            announce_catalogue(&mut transaction, &current, latest).await?;
        }
        let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
        sqlx::query("update catalogue_announcements set announced_at = now() where id = any($1)")
            .bind(&ids)
            .execute(&mut *transaction)
            .await
            .context("marking announcements made")?;
        tracing::info!(effective_from = %latest, "matter catalogue announced as a list version took effect");
    }
    let next: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select min(due_at) from catalogue_announcements where announced_at is null and due_at > now()",
    )
    .fetch_one(&mut *transaction)
    .await
    .context("reading the announcement schedule")?;
    transaction
        .commit()
        .await
        .context("announcing the catalogue")?;
    Ok(next)
}

// ------------------------------------------------------------- consumed

/// The consumer of `flatgov.enforcement.agency.rated`.
pub fn agency_rated_consumer() -> ConsumerSpec {
    ConsumerSpec::new(
        "duties-on-agency-rated",
        "enforcement",
        "flatgov.enforcement.agency.rated",
        "duties",
    )
}

/// Records a subdistrict's rating of an agency in a joint operation as its
/// assessment of that department. One record per operation and agency: a
/// replay (or a second rating) changes nothing.
pub struct AgencyRatedHandler;

impl EventHandler for AgencyRatedHandler {
    async fn handle(
        &self,
        connection: &mut PgConnection,
        event: &Envelope,
    ) -> Result<(), HandlerError> {
        let rated: AgencyRated = event.decode()?;
        let department = DepartmentCode::parse(&rated.agency)
            .map_err(|error| HandlerError::Reject(format!("agency: {error}")))?;
        let subdistrict = SubdistrictCode::parse(&rated.subdistrict_code)
            .map_err(|error| HandlerError::Reject(format!("subdistrict_code: {error}")))?;
        if !(1..=5).contains(&rated.score) {
            return Err(HandlerError::Reject(format!(
                "score {} is outside 1-5",
                rated.score
            )));
        }
        if rated.operation.is_empty() {
            return Err(HandlerError::Reject("the rating names no operation".into()));
        }
        let matter = Some(rated.matter_code.as_str())
            .filter(|code| !code.is_empty())
            .map(MatterCode::parse)
            .transpose()
            .map_err(|error| HandlerError::Reject(format!("matter_code: {error}")))?;
        let assessed_at = rated
            .rated_at
            .as_ref()
            .and_then(|time| flatgov_grpc::time::instant(time).ok())
            .or(event.time)
            .unwrap_or_else(Utc::now);
        let assessment = crate::store::NewAssessment {
            id: uuid::Uuid::now_v7(),
            source: crate::store::AssessmentSource::JointEnforcement,
            operation: Some(rated.operation.clone()),
            subdistrict_code: subdistrict.to_string(),
            department: department.to_string(),
            matter_code: matter.map(|code| code.to_string()),
            case_name: Some(rated.case.clone()).filter(|case| !case.is_empty()),
            score: i16::try_from(rated.score).unwrap_or(5),
            comment: String::new(),
            assess_time: assessed_at,
            recorded_by: None,
        };
        let inserted = crate::store::insert_assessment(connection, &assessment)
            .await
            .map_err(|error| HandlerError::Retry(error.to_string()))?;
        if inserted {
            flatgov_messaging::outbox::enqueue(
                connection,
                &format!("assessments/{}", assessment.id),
                &assessment.recorded_event(),
            )
            .await?;
            tracing::info!(
                operation = %rated.operation,
                department = %department,
                subdistrict = %subdistrict,
                score = rated.score,
                "agency rating recorded as an assessment"
            );
        } else {
            tracing::debug!(operation = %rated.operation, department = %department, "agency rating already recorded");
        }
        Ok(())
    }
}
