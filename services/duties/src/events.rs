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

use flatgov_vocabulary::{DepartmentCode, MatterCode, SubdistrictCode};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flatgov_grpc::clock::Clock;
use flatgov_grpc::time::timestamp;
use flatgov_messaging::{ConsumerSpec, Envelope, EventHandler, HandlerError};
use flatgov_proto::duties::v1 as proto;
use flatgov_proto::enforcement::v1::AgencyRated;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::contract::{optional_tier_to_proto, unit_from_text};
use crate::domain::names::{assessment_name, list_name, opinion_name, refusal_name, version_name};
use crate::domain::{ItemStatus, ListDiff, ListKind, Responsible, VersionNumber};
use crate::rules::{Rules, RulesCache};
use crate::store::assessments::{AssessmentSource, NewAssessment};
use crate::store::opinions::OpinionRow;
use crate::store::refusals::RefusalRow;
use crate::store::{self, DatabaseContext as _, StoreError};

/// The resource events about the catalogue are ordered under.
pub const CATALOGUE_RESOURCE: &str = "matters";

/// Records, in the caller's transaction, that `number` of `kind` was
/// published to take effect at `effective_from`, with what changed.
pub async fn list_version_published(
    connection: &mut PgConnection,
    kind: ListKind,
    number: VersionNumber,
    effective_from: DateTime<Utc>,
    diff: &ListDiff,
) -> Result<(), StoreError> {
    let event = proto::ListVersionPublished {
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
    };
    flatgov_messaging::outbox::enqueue(connection, &list_name(kind), &event)
        .await
        .context("publishing a list version")?;
    Ok(())
}

/// Records a refused assignment in the caller's transaction.
pub async fn assignment_refused(
    connection: &mut PgConnection,
    row: &RefusalRow,
) -> Result<(), StoreError> {
    let name = refusal_name(row.id);
    let event = proto::AssignmentRefused {
        refusal: name.clone(),
        matter_code: row.matter_code.clone(),
        from: Some(unit_from_text(&row.from_kind, &row.from_code)),
        to: Some(unit_from_text(&row.to_kind, &row.to_code)),
        reason_code: row.reason_code.clone(),
        responsible_instead: Some(unit_from_text(&row.responsible_kind, &row.responsible_code)),
        case: row.case_name.clone().unwrap_or_default(),
        refused_at: Some(timestamp(row.refuse_time)),
        list_item_code: row.item_code.clone(),
    };
    flatgov_messaging::outbox::enqueue(connection, &name, &event)
        .await
        .context("recording a refusal")?;
    Ok(())
}

/// Records a new assessment in the caller's transaction.
pub async fn assessment_recorded(
    connection: &mut PgConnection,
    assessment: &NewAssessment,
) -> Result<(), StoreError> {
    let name = assessment_name(assessment.id);
    let event = proto::AssessmentRecorded {
        assessment: name.clone(),
        subdistrict_code: assessment.subdistrict_code.clone(),
        department: assessment.department.clone(),
        matter_code: assessment.matter_code.clone().unwrap_or_default(),
        case: assessment.case_name.clone().unwrap_or_default(),
        score: u32::try_from(assessment.score).unwrap_or(0),
        assessed_at: Some(timestamp(assessment.assess_time)),
        operation: assessment.operation.clone().unwrap_or_default(),
    };
    flatgov_messaging::outbox::enqueue(connection, &name, &event)
        .await
        .context("recording an assessment")?;
    Ok(())
}

/// Records a new opinion in the caller's transaction.
pub async fn opinion_recorded(
    connection: &mut PgConnection,
    opinion: &OpinionRow,
) -> Result<(), StoreError> {
    let name = opinion_name(opinion.id);
    let event = proto::OpinionRecorded {
        opinion: name.clone(),
        subdistrict_code: opinion.subdistrict_code.clone(),
        department: opinion.department.clone(),
        subject: opinion.subject.clone(),
        stance: opinion.stance.clone(),
        given_at: Some(timestamp(opinion.give_time)),
    };
    flatgov_messaging::outbox::enqueue(connection, &name, &event)
        .await
        .context("recording an opinion")?;
    Ok(())
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
) -> Result<(), StoreError> {
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
    clock: Clock,
    shutdown: CancellationToken,
) {
    loop {
        let sleep_for = match announce_due(&pool, &rules).await {
            Ok(next_due) => next_due
                .map(|due| {
                    (due - clock.now())
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
async fn announce_due(
    pool: &PgPool,
    rules: &RulesCache,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut transaction = store::begin(pool, "announcing the catalogue").await?;
    let due = store::announcements::claim_due(&mut transaction).await?;
    if let Some(latest) = due.iter().map(|(_, due_at)| *due_at).max() {
        let current = rules.current(pool).await?;
        if !current.catalogue.is_empty() {
            announce_catalogue(&mut transaction, &current, latest).await?;
        }
        let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
        store::announcements::mark_made(&mut transaction, &ids).await?;
        tracing::info!(effective_from = %latest, "matter catalogue announced as a list version took effect");
    }
    let next = store::announcements::next_due(&mut transaction).await?;
    store::commit(transaction, "announcing the catalogue").await?;
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
        let assessment = NewAssessment {
            id: uuid::Uuid::now_v7(),
            source: AssessmentSource::JointEnforcement,
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
        let inserted = store::assessments::insert(&mut *connection, &assessment).await?;
        if inserted {
            assessment_recorded(connection, &assessment).await?;
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
