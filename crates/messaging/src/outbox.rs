//! Writing events in the caller's transaction.

use flatgov_proto::Event;
use sqlx::PgConnection;
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

/// Events committed but not yet acknowledged by JetStream.
pub async fn backlog(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from flatgov_outbox where published_at is null")
        .fetch_one(pool)
        .await
}
