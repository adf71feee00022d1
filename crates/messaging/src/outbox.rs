//! Writing events in the caller's transaction, and the parked (poison)
//! rows operators look at and release.

use chrono::{DateTime, Utc};
use flatgov_proto::Event;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

/// Records `event` about `resource` (its resource name, e.g. `cases/01J…`,
/// also the per-entity ordering key) in the outbox, inside the caller's
/// transaction. It is published only if that transaction commits.
///
/// The current span's trace context is stored with the event, so the trace
/// continues in whichever service consumes it.
pub async fn enqueue<E: Event>(
    connection: &mut PgConnection,
    resource: &str,
    event: &E,
) -> Result<Uuid, sqlx::Error> {
    // Time-ordered ids keep the outbox and consumers' inbox indexes compact.
    let event_id = Uuid::now_v7();
    let trace_headers: serde_json::Map<String, serde_json::Value> =
        flatgov_telemetry::trace_headers(&tracing::Span::current())
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect();
    sqlx::query(
        "insert into flatgov_outbox (event_id, subject, event_type, resource, payload, trace_headers)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event_id)
    .bind(E::SUBJECT)
    .bind(E::TYPE)
    .bind(resource)
    .bind(event.encode_to_vec())
    .bind(serde_json::Value::Object(trace_headers))
    .execute(connection)
    .await?;
    Ok(event_id)
}

/// Events committed, not yet acknowledged by JetStream and not parked
/// (parked rows are counted apart, by [`parked_count`]).
pub async fn backlog(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from flatgov_outbox where published_at is null and parked_at is null",
    )
    .fetch_one(pool)
    .await
}

/// Rows the relay parked after repeated publish failures.
pub async fn parked_count(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from flatgov_outbox where parked_at is not null")
        .fetch_one(pool)
        .await
}

/// A parked outbox row, for operators.
#[derive(Debug, Clone)]
pub struct ParkedRow {
    /// The outbox row id (`parkedEvents/{id}`).
    pub id: i64,
    pub event_id: Uuid,
    /// Canonical subject, e.g. `flatgov.cases.case.dispatched`.
    pub subject: String,
    pub event_type: String,
    /// Resource name, the per-entity ordering key.
    pub resource: String,
    pub attempts: i32,
    pub last_error: String,
    pub occurred_at: DateTime<Utc>,
    pub parked_at: DateTime<Utc>,
    /// Later events of the same resource waiting behind this row.
    pub held: i64,
}

/// Parked rows in outbox order, after id `after_id`, at most `limit`.
pub async fn parked(
    pool: &sqlx::PgPool,
    after_id: Option<i64>,
    limit: i64,
) -> Result<Vec<ParkedRow>, sqlx::Error> {
    let rows = sqlx::query(
        "select p.id, p.event_id, p.subject, p.event_type, p.resource, p.attempts,
                coalesce(p.last_error, '') as last_error, p.occurred_at, p.parked_at,
                (select count(*) from flatgov_outbox h
                  where h.resource = p.resource and h.id > p.id and h.published_at is null
                    and h.parked_at is null) as held
           from flatgov_outbox p
          where p.parked_at is not null and ($1::bigint is null or p.id > $1)
          order by p.id
          limit $2",
    )
    .bind(after_id)
    .bind(limit.max(1))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok(ParkedRow {
                id: row.try_get("id")?,
                event_id: row.try_get("event_id")?,
                subject: row.try_get("subject")?,
                event_type: row.try_get("event_type")?,
                resource: row.try_get("resource")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                occurred_at: row.try_get("occurred_at")?,
                parked_at: row.try_get("parked_at")?,
                held: row.try_get("held")?,
            })
        })
        .collect()
}

/// Which parked rows to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Every parked row.
    All,
    /// These outbox row ids; each must be parked.
    Rows(Vec<i64>),
}

/// Why parked rows were not released.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("outbox row {0} is not parked")]
    NotParked(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Releases parked rows: their attempts start again from zero and the relay
/// is woken, publishing each released row before the rows of its resource
/// that waited behind it. Either every named row is parked and all are
/// released, or nothing changes. Returns the released ids in order.
pub async fn retry_parked(pool: &sqlx::PgPool, release: &Release) -> Result<Vec<i64>, RetryError> {
    let mut transaction = pool.begin().await?;
    let mut released: Vec<i64> = match release {
        Release::All => {
            sqlx::query_scalar(
                "update flatgov_outbox set parked_at = null, attempts = 0
                  where parked_at is not null returning id",
            )
            .fetch_all(&mut *transaction)
            .await?
        }
        Release::Rows(ids) => {
            let released: Vec<i64> = sqlx::query_scalar(
                "update flatgov_outbox set parked_at = null, attempts = 0
                  where parked_at is not null and id = any($1) returning id",
            )
            .bind(ids)
            .fetch_all(&mut *transaction)
            .await?;
            if let Some(missing) = ids.iter().find(|id| !released.contains(id)) {
                transaction.rollback().await?;
                return Err(RetryError::NotParked(*missing));
            }
            released
        }
    };
    sqlx::query("select pg_notify('flatgov_outbox', '')")
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    released.sort_unstable();
    Ok(released)
}
